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
	return test__finish("test_prom");
}
