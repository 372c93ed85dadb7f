// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "prom.h"
#include "testutil.h"

int main(void)
{
	struct strbuf sb = STRBUF_INIT;

	CHECK(prom__metric(&sb, "x_total", "counter", "Things.", 42) == 0);
	CHECK_STR(sb.buf, "# HELP x_total Things.\n# TYPE x_total counter\nx_total 42\n");
	strbuf__release(&sb);

	CHECK(prom__family(&sb, "y_total", "counter", "By code.") == 0);
	CHECK(prom__sample(&sb, "y_total", "code=\"200\"", 18446744073709551615ull) == 0);
	CHECK_STR(sb.buf, "# HELP y_total By code.\n# TYPE y_total counter\n"
			  "y_total{code=\"200\"} 18446744073709551615\n");
	strbuf__release(&sb);

	CHECK(prom__metric_f(&sb, "z_seconds_total", "counter", "Time.", 1.5) == 0);
	CHECK(strstr(sb.buf, "\nz_seconds_total 1.500000000\n") != NULL);
	strbuf__release(&sb);

	/* prom__sample_f: nine decimals, with or without labels, appended line by line. */
	CHECK(prom__family(&sb, "b_seconds_total", "counter", "BPF time.") == 0);
	CHECK(prom__sample_f(&sb, "b_seconds_total", "program=\"oncpu\"", 0.001) == 0);
	CHECK(prom__sample_f(&sb, "b_seconds_total", "program=\"offcpu\"", 0) == 0);
	CHECK(prom__sample_f(&sb, "b_seconds_total", NULL, 2.25) == 0);
	CHECK_STR(sb.buf, "# HELP b_seconds_total BPF time.\n# TYPE b_seconds_total counter\n"
			  "b_seconds_total{program=\"oncpu\"} 0.001000000\n"
			  "b_seconds_total{program=\"offcpu\"} 0.000000000\n"
			  "b_seconds_total 2.250000000\n");
	strbuf__release(&sb);

	/* Nanoseconds survive as the ninth decimal; below that they round. */
	CHECK(prom__sample_f(&sb, "t", NULL, 1e-9) == 0);
	CHECK(prom__sample_f(&sb, "t", NULL, 4e-10) == 0);
	CHECK(prom__sample_f(&sb, "t", NULL, 1234567.000000001) == 0);
	CHECK(prom__sample_f(&sb, "t", "a=\"b\"", -0.5) == 0);
	CHECK_STR(sb.buf, "t 0.000000001\nt 0.000000000\nt 1234567.000000001\n"
			  "t{a=\"b\"} -0.500000000\n");
	strbuf__release(&sb);

	/* Large values stay plain decimals (no exponent), as the text format's parsers expect. */
	CHECK(prom__sample_f(&sb, "t", NULL, 18446744073.709551615) == 0);
	CHECK(strncmp(sb.buf, "t 18446744073.7095", 18) == 0);
	CHECK(strchr(sb.buf, 'e') == NULL);
	strbuf__release(&sb);
	return test__finish("test_prom");
}
