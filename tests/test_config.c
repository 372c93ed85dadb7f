// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "config.h"
#include "testutil.h"

static int parse(struct config *cfg, char *err, size_t len, int argc, char **argv)
{
	config__defaults(cfg);
	return config__parse_args(cfg, argc, argv, err, len);
}

#define ARGV(...)  ((char *[]){"sonde", __VA_ARGS__, NULL})
#define ARGC(...)  ((int)(sizeof((char *[]){"sonde", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(...) parse(&cfg, err, sizeof(err), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void test_defaults(void)
{
	struct config cfg;
	char err[256] = "";
	char *argv[] = {"sonde", NULL};

	CHECK(parse(&cfg, err, sizeof(err), 1, argv) == CONFIG_RUN);
	CHECK_STR(cfg.listen_host, "127.0.0.1");
	CHECK_EQ_U64(cfg.listen_port, 6060);
	CHECK_EQ_U64(cfg.frequency, 99);
	CHECK(cfg.event == SONDE_EVENT_CPU_CLOCK);
	CHECK(!cfg.include_idle);
	CHECK_EQ_U64(cfg.max_seconds, 3600);
}

static void test_flags(void)
{
	struct config cfg;
	char err[256] = "";

	CHECK(PARSE("--listen", "0.0.0.0:7000", "-F", "199", "--event", "cycles", "--include-idle",
		    "--ringbuf-size", "8192", "--max-seconds", "60", "--log-level",
		    "debug") == CONFIG_RUN);
	CHECK_STR(cfg.listen_host, "0.0.0.0");
	CHECK_EQ_U64(cfg.listen_port, 7000);
	CHECK_EQ_U64(cfg.frequency, 199);
	CHECK(cfg.event == SONDE_EVENT_CYCLES);
	CHECK(cfg.include_idle);
	CHECK_EQ_U64(cfg.ringbuf_kib, 8192);
	CHECK_EQ_U64(cfg.max_seconds, 60);
	CHECK(cfg.log_level == LOG_LVL_DEBUG);
	CHECK(PARSE("--listen=[::1]:6061") == CONFIG_RUN);
	CHECK_STR(cfg.listen_host, "::1");
	CHECK_EQ_U64(cfg.listen_port, 6061);
	CHECK(PARSE("--help") == CONFIG_HELP);
	CHECK(PARSE("-V") == CONFIG_VERSION);
}

static void test_errors(void)
{
	struct config cfg;
	char err[256];

	err[0] = '\0';
	CHECK(PARSE("--frequency", "0") == -EINVAL);
	CHECK(strstr(err, "--frequency") != NULL);
	CHECK(strchr(err, '\n') == NULL); /* one line */
	CHECK(PARSE("--frequency", "99x") == -EINVAL);
	CHECK(PARSE("--frequency", "-5") == -EINVAL);
	CHECK(PARSE("--frequency", "100001") == -EINVAL);
	CHECK(PARSE("--frequency", "99999999999999999999999") == -EINVAL);
	CHECK(PARSE("--listen", "localhost") == -EINVAL);
	CHECK(strstr(err, "--listen") != NULL);
	CHECK(PARSE("--listen", "127.0.0.1:0x10") == -EINVAL);
	CHECK(PARSE("--listen", "127.0.0.1:70000") == -EINVAL);
	CHECK(PARSE("--listen", "::1:80") == -EINVAL);
	CHECK(PARSE("--event", "instructions") == -EINVAL);
	CHECK(PARSE("--ringbuf-size", "1000") == -EINVAL); /* not a power of two */
	CHECK(PARSE("--log-level", "loud") == -EINVAL);
	CHECK(PARSE("--bogus") == -EINVAL);
	CHECK(strstr(err, "--bogus") != NULL);
	CHECK(PARSE("--frequency") == -EINVAL);
	CHECK(strstr(err, "needs a value") != NULL);
	CHECK(PARSE("extra") == -EINVAL);
}

static void test_parse_u64(void)
{
	uint64_t v = 0;

	CHECK(config__parse_u64("42", 1, 100, &v) == 0 && v == 42);
	CHECK(config__parse_u64("", 0, 100, &v) == -EINVAL);
	CHECK(config__parse_u64(" 1", 0, 100, &v) == -EINVAL);
	CHECK(config__parse_u64("+1", 0, 100, &v) == -EINVAL);
	CHECK(config__parse_u64("101", 0, 100, &v) == -ERANGE);
	CHECK(config__parse_u64(NULL, 0, 100, &v) == -EINVAL);
	CHECK(config__parse_u64("18446744073709551616", 0, UINT64_MAX, &v) == -ERANGE);
}

int main(void)
{
	test_defaults();
	test_flags();
	test_errors();
	test_parse_u64();
	return test__finish("test_config");
}
