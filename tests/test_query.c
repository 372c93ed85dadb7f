// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "query.h"
#include "testutil.h"

#define S 1000000000ll

static int64_t t_of(const char *s)
{
	int64_t v = -1;

	return query__parse_time(s, &v) ? -1 : v;
}

static void test_times(void)
{
	int64_t v;

	CHECK_EQ_U64(t_of("0"), 0);
	CHECK_EQ_U64(t_of("1763798179"), 1763798179ll * S);
	CHECK_EQ_U64(t_of("1763798179.25"), 1763798179ll * S + 250000000);
	CHECK_EQ_U64(t_of("1970-01-01T00:00:00Z"), 0);
	CHECK_EQ_U64(t_of("2026-11-22T07:56:19Z"), 1795334179ll * S);
	CHECK_EQ_U64(t_of("2026-11-22t07:56:19z"), 1795334179ll * S);
	CHECK_EQ_U64(t_of("2026-11-22 07:56:19Z"), 1795334179ll * S);
	CHECK_EQ_U64(t_of("2026-11-22T08:56:19.5+01:00"), 1795334179ll * S + 500000000);
	CHECK_EQ_U64(t_of("2026-11-22T02:26:19-05:30"), 1795334179ll * S);
	CHECK_EQ_U64(t_of("2024-02-29T00:00:00Z"), 1709164800ll * S);
	CHECK_EQ_U64(t_of("2000-03-01T00:00:00Z"), 951868800ll * S);
	CHECK_EQ_U64(t_of("2100-03-01T00:00:00Z"), 4107542400ll * S);

	/* Cross-check a spread of dates against timegm(). */
	for (int64_t day = 0; day < 50000; day += 373) {
		time_t t = (time_t)(day * 86400 + 45296);
		struct tm tm;
		char buf[64];

		gmtime_r(&t, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		CHECK_EQ_U64(t_of(buf), (int64_t)t * S);
	}

	const char *bad[] = {
		"",
		"abc",
		"-5",
		"1.",
		"1.x",
		"12a",
		"999999999999999",
		"2026-13-01T00:00:00Z",
		"2026-02-30T00:00:00Z",
		"2023-02-29T00:00:00Z",
		"2026-11-22T24:00:00Z",
		"2026-11-22T07:60:00Z",
		"2026-11-22T07:56:19",
		"2026-11-22T07:56:19+1:00",
		"2026-11-22T07:56:19Zjunk",
		"2026-11-22",
		"1969-12-31T23:59:59Z",
		"2026-11-22X07:56:19Z",
		"2026-1-22T07:56:19Z",
		/* Past what int64 nanoseconds hold (found by fuzz_query). */
		"99999999991",
		"9223372036",
		"9999-12-31T23:59:59Z",
		"2262-04-12T00:00:00Z",
		"1970-01-01T00:00:00+01:00",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		if (query__parse_time(bad[i], &v) != -EINVAL || v != 12345)
			fprintf(stderr, "accepted bad time '%s'\n", bad[i]);
		CHECK(query__parse_time(bad[i], &v) == -EINVAL);
	}
	CHECK(query__parse_time(NULL, &v) == -EINVAL);
	/* The last representable second still parses, in both notations. */
	CHECK_EQ_U64(t_of("9223372035"), 9223372035ll * S);
	CHECK_EQ_U64(t_of("2262-04-11T00:00:00Z"), 9223286400ll * S);
}

static void test_durations(void)
{
	uint64_t ns = 0;

	CHECK(query__parse_duration("5m", &ns) == 0);
	CHECK_EQ_U64(ns, 300ull * S);
	CHECK(query__parse_duration("90s", &ns) == 0);
	CHECK_EQ_U64(ns, 90ull * S);
	CHECK(query__parse_duration("1h30m", &ns) == 0);
	CHECK_EQ_U64(ns, 5400ull * S);
	CHECK(query__parse_duration("250ms", &ns) == 0);
	CHECK_EQ_U64(ns, 250000000ull);
	CHECK(query__parse_duration("1m30s500ms", &ns) == 0);
	CHECK_EQ_U64(ns, 90500000000ull);
	CHECK(query__parse_duration("720h", &ns) == 0);

	CHECK(query__parse_duration("721h", &ns) == -ERANGE);
	CHECK(query__parse_duration("99999999999999999999s", &ns) == -ERANGE);
	CHECK(query__parse_duration("", &ns) == -EINVAL);
	CHECK(query__parse_duration("5", &ns) == -EINVAL);
	CHECK(query__parse_duration("m", &ns) == -EINVAL);
	CHECK(query__parse_duration("0s", &ns) == -EINVAL);
	CHECK(query__parse_duration("-5m", &ns) == -EINVAL);
	CHECK(query__parse_duration("5x", &ns) == -EINVAL);
	CHECK(query__parse_duration("5m ", &ns) == -EINVAL);
	CHECK(query__parse_duration("1.5m", &ns) == -EINVAL);
	CHECK(query__parse_duration(NULL, &ns) == -EINVAL);
}

int main(void)
{
	test_times();
	test_durations();
	return test__finish("test_query");
}
