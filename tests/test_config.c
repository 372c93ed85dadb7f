// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"
#include "config.h"
#include "labels.h"
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

static void test_offcpu_defaults(void)
{
	struct config cfg;
	char err[256] = "";
	char *argv[] = {"sonde", NULL};

	CHECK(parse(&cfg, err, sizeof(err), 1, argv) == CONFIG_RUN);
	CHECK(cfg.offcpu);
	CHECK_EQ_U64(cfg.offcpu_min_ns, 1000000);
	/* docs/offcpu.md and README.md: 5000 records a second per CPU. */
	CHECK_EQ_U64(cfg.offcpu_max_rate, 5000);
	CHECK(!cfg.offcpu_preempted);
	CHECK(cfg.offcpu_hook == OFFCPU_HOOK_AUTO);
	CHECK_STR(config__offcpu_hook_name(cfg.offcpu_hook), "auto");
}

static void test_offcpu_flags(void)
{
	struct config cfg;
	char err[256] = "";

	CHECK(PARSE("--no-offcpu") == CONFIG_RUN);
	CHECK(!cfg.offcpu);
	CHECK(PARSE("--offcpu-min", "500us") == CONFIG_RUN);
	CHECK_EQ_U64(cfg.offcpu_min_ns, 500000);
	CHECK(PARSE("--offcpu-min=2ms") == CONFIG_RUN);
	CHECK_EQ_U64(cfg.offcpu_min_ns, 2000000);
	CHECK(PARSE("--offcpu-min", "1s") == CONFIG_RUN);
	CHECK_EQ_U64(cfg.offcpu_min_ns, 1000000000);
	CHECK(PARSE("--offcpu-min", "1us") == CONFIG_RUN); /* the lower bound */
	CHECK_EQ_U64(cfg.offcpu_min_ns, 1000);
	CHECK(PARSE("--offcpu-min", "1000000000ns") == CONFIG_RUN); /* the upper bound */
	CHECK_EQ_U64(cfg.offcpu_min_ns, 1000000000);
	CHECK(PARSE("--offcpu-max-rate", "0") == CONFIG_RUN); /* no cap */
	CHECK_EQ_U64(cfg.offcpu_max_rate, 0);
	CHECK(PARSE("--offcpu-max-rate", "10000000") == CONFIG_RUN);
	CHECK_EQ_U64(cfg.offcpu_max_rate, 10000000);
	CHECK(PARSE("--offcpu-preempted") == CONFIG_RUN);
	CHECK(cfg.offcpu_preempted);
	CHECK(PARSE("--offcpu-hook", "tp_btf") == CONFIG_RUN);
	CHECK(cfg.offcpu_hook == OFFCPU_HOOK_TP_BTF);
	CHECK_STR(config__offcpu_hook_name(cfg.offcpu_hook), "tp_btf");
	CHECK(PARSE("--offcpu-hook", "raw_tp") == CONFIG_RUN);
	CHECK(cfg.offcpu_hook == OFFCPU_HOOK_RAW_TP);
	CHECK_STR(config__offcpu_hook_name(cfg.offcpu_hook), "raw_tp");
	CHECK(PARSE("--offcpu-hook", "raw_tp", "--offcpu-hook", "auto") == CONFIG_RUN);
	CHECK(cfg.offcpu_hook == OFFCPU_HOOK_AUTO);
	/* All together, and none of them touches the on-CPU settings. */
	CHECK(PARSE("--no-offcpu", "--offcpu-min", "250us", "--offcpu-max-rate", "100",
		    "--offcpu-preempted", "--offcpu-hook", "raw_tp") == CONFIG_RUN);
	CHECK(!cfg.offcpu);
	CHECK_EQ_U64(cfg.offcpu_min_ns, 250000);
	CHECK_EQ_U64(cfg.offcpu_max_rate, 100);
	CHECK(cfg.offcpu_preempted);
	CHECK(cfg.offcpu_hook == OFFCPU_HOOK_RAW_TP);
	CHECK_EQ_U64(cfg.frequency, 99);
	CHECK(cfg.event == SONDE_EVENT_CPU_CLOCK);
}

/* Every rejected value gives -EINVAL and one line that names the flag. */
static void check_rejected(const char *flag, const char *value)
{
	struct config cfg;
	char err[256] = "";
	char *argv[] = {"sonde", (char *)flag, (char *)value, NULL};
	int rc = parse(&cfg, err, sizeof(err), 3, argv);

	if (rc != -EINVAL)
		fprintf(stderr, "%s '%s' was accepted\n", flag, value);
	CHECK(rc == -EINVAL);
	CHECK(strstr(err, flag) != NULL);
	CHECK(strchr(err, '\n') == NULL);
}

static void test_offcpu_errors(void)
{
	/* Out of range, no unit, unknown unit, no number, sign, fraction, space, overflow. */
	const char *bad_min[] = {
		"0us",	"2s", "999ns", "1001ms", "10",	  "5m",	  "1MS",
		"1msx", "ms", "",      "-1ms",	 "1.5ms", "1 ms", "99999999999999999999s"};
	const char *bad_rate[] = {"10000001", "-1", "1k", "", "99999999999999999999999"};
	const char *bad_hook[] = {"kprobe", "", "AUTO", "tp_btf ", "raw-tp"};
	struct config cfg;
	char err[256] = "";

	for (size_t i = 0; i < sizeof(bad_min) / sizeof(bad_min[0]); i++)
		check_rejected("--offcpu-min", bad_min[i]);
	for (size_t i = 0; i < sizeof(bad_rate) / sizeof(bad_rate[0]); i++)
		check_rejected("--offcpu-max-rate", bad_rate[i]);
	for (size_t i = 0; i < sizeof(bad_hook) / sizeof(bad_hook[0]); i++)
		check_rejected("--offcpu-hook", bad_hook[i]);
	/* The message says what is expected. */
	CHECK(PARSE("--offcpu-min", "2s") == -EINVAL);
	CHECK(strstr(err, "1us") != NULL && strstr(err, "1s") != NULL);
	CHECK(PARSE("--offcpu-hook", "kprobe") == -EINVAL);
	CHECK(strstr(err, "tp_btf") != NULL && strstr(err, "raw_tp") != NULL);
	/* Flags without a value, or with one they do not take. */
	CHECK(PARSE("--offcpu-min") == -EINVAL);
	CHECK(strstr(err, "--offcpu-min") != NULL && strstr(err, "needs a value") != NULL);
	CHECK(PARSE("--offcpu-hook") == -EINVAL);
	CHECK(strstr(err, "needs a value") != NULL);
	CHECK(PARSE("--no-offcpu=1") == -EINVAL);
	CHECK(PARSE("--offcpu-preempted", "yes") == -EINVAL); /* a stray argument */
}

static void test_parse_duration(void)
{
	uint64_t v = 0;

	CHECK(config__parse_duration_ns("1ns", 0, UINT64_MAX, &v) == 0 && v == 1);
	CHECK(config__parse_duration_ns("7us", 0, UINT64_MAX, &v) == 0 && v == 7000);
	CHECK(config__parse_duration_ns("3ms", 0, UINT64_MAX, &v) == 0 && v == 3000000);
	CHECK(config__parse_duration_ns("2s", 0, UINT64_MAX, &v) == 0 && v == 2000000000);
	CHECK(config__parse_duration_ns("0ns", 0, 10, &v) == 0 && v == 0);
	CHECK(config__parse_duration_ns("007ms", 0, UINT64_MAX, &v) == 0 && v == 7000000);
	/* Bounds are inclusive and compare nanoseconds, whatever the unit. */
	CHECK(config__parse_duration_ns("1us", 1000, 1000, &v) == 0 && v == 1000);
	CHECK(config__parse_duration_ns("999ns", 1000, 2000, &v) == -ERANGE);
	CHECK(config__parse_duration_ns("3us", 1000, 2000, &v) == -ERANGE);
	/* The largest whole number of seconds that fits, and the next. */
	CHECK(config__parse_duration_ns("18446744073s", 0, UINT64_MAX, &v) == 0 &&
	      v == 18446744073000000000ull);
	CHECK(config__parse_duration_ns("99999999999999999999s", 0, UINT64_MAX, &v) == -ERANGE);
	CHECK(config__parse_duration_ns("99999999999999999999ms", 0, UINT64_MAX, &v) == -ERANGE);
	CHECK(config__parse_duration_ns("18446744074s", 0, UINT64_MAX, &v) == -ERANGE);
	/* 40 digits: too long to be a number at all. */
	CHECK(config__parse_duration_ns("1234567890123456789012345678901234567890s", 0, UINT64_MAX,
					&v) < 0);
	v = 12345;
	CHECK(config__parse_duration_ns(NULL, 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns("", 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns("ms", 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns("10", 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns("5min", 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns("-1ms", 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns("+1ms", 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns("1.5ms", 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns(" 1ms", 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns("1 ms", 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns("1ms ", 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns("1Ms", 0, UINT64_MAX, &v) == -EINVAL);
	CHECK(config__parse_duration_ns("0x10ms", 0, UINT64_MAX, &v) == -EINVAL);
	/* A failed parse leaves the output alone. */
	CHECK_EQ_U64(v, 12345);
}

/* Settings file, environment and flags: a scratch directory per test run. */
static char conf_dir[64];

/* Writes conf_dir/name and returns its path, kept in path[128]. */
static char *write_conf(char *path, const char *name, const char *text)
{
	FILE *f;

	snprintf(path, 128, "%s/%s", conf_dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

#define NO_DEFAULT "/nonexistent/sonde.conf"

static int load(struct config *cfg, char **argv, char **envp, char *err, size_t len)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	err[0] = '\0';
	return conffile__load(cfg, argc, argv, envp, NO_DEFAULT, err, len);
}

static void test_conffile_precedence(void)
{
	struct config cfg;
	char err[512], path[128], fp[128];

	write_conf(path, "p.conf",
		   "# sonde settings\n"
		   "\n"
		   "frequency = 49\n"
		   "  listen=127.0.0.1:7001  \n"
		   "include-idle = true\n"
		   "max-seconds = 60\n"
		   "log-level = warn\n"
		   "offcpu-min = \"2ms\"\n"
		   "no-offcpu = yes\n");
	char *env[] = {"SONDE_FREQUENCY=59",	   "SONDE_MAX_SECONDS=120",
		       "SONDE_INCLUDE_IDLE=false", "SONDE_NO_OFFCPU=0",
		       "SONDE_BIN=/usr/bin/x",	   "PATH=/bin",
		       "SONDE_lower=ignored",	   NULL};
	char *env_none[] = {NULL};

	/* All three: the flag beats the environment, which beats the file. */
	CHECK(load(&cfg, (char *[]){"sonde", "--config", path, "--frequency", "69", NULL}, env, err,
		   sizeof(err)) == CONFIG_RUN);
	CHECK_STR(err, "");
	CHECK_EQ_U64(cfg.frequency, 69);
	CHECK_EQ_U64(cfg.max_seconds, 120);	  /* environment over file */
	CHECK(!cfg.include_idle);		  /* a switch turned off again by the environment */
	CHECK(cfg.offcpu);			  /* SONDE_NO_OFFCPU=0 undoes no-offcpu = yes */
	CHECK_EQ_U64(cfg.listen_port, 7001);	  /* file only */
	CHECK(cfg.log_level == LOG_LVL_WARN);	  /* file only */
	CHECK_EQ_U64(cfg.offcpu_min_ns, 2000000); /* quotes removed */
	CHECK_STR(cfg.config_file, path);
	CHECK(!cfg.check_config);

	/* Without the flag the environment wins. */
	CHECK(load(&cfg, (char *[]){"sonde", "--config", path, NULL}, env, err, sizeof(err)) ==
	      CONFIG_RUN);
	CHECK_EQ_U64(cfg.frequency, 59);

	/* Without the environment the file counts, switches included. */
	CHECK(load(&cfg, (char *[]){"sonde", "--config", path, NULL}, env_none, err, sizeof(err)) ==
	      CONFIG_RUN);
	CHECK_EQ_U64(cfg.frequency, 49);
	CHECK_EQ_U64(cfg.max_seconds, 60);
	CHECK(cfg.include_idle);
	CHECK(!cfg.offcpu);

	/* SONDE_CONFIG names the file when --config does not; --config beats it. */
	char cfg_env[160];
	char *env_file[] = {cfg_env, NULL};

	snprintf(cfg_env, sizeof(cfg_env), "SONDE_CONFIG=%s", path);
	CHECK(load(&cfg, (char *[]){"sonde", NULL}, env_file, err, sizeof(err)) == CONFIG_RUN);
	CHECK_EQ_U64(cfg.frequency, 49);
	CHECK_STR(cfg.config_file, path);
	CHECK(load(&cfg,
		   (char *[]){"sonde", "--config", write_conf(fp, "q.conf", "frequency = 7\n"),
			      NULL},
		   env_file, err, sizeof(err)) == CONFIG_RUN);
	CHECK_EQ_U64(cfg.frequency, 7);

	/* No file given and the default absent: defaults, nothing read. */
	CHECK(load(&cfg, (char *[]){"sonde", NULL}, env_none, err, sizeof(err)) == CONFIG_RUN);
	CHECK_EQ_U64(cfg.frequency, CONFIG_DEFAULT_FREQUENCY);
	CHECK_STR(cfg.config_file, "");

	/* A key given twice: the later line wins. */
	CHECK(load(&cfg,
		   (char *[]){"sonde", "--config",
			      write_conf(fp, "twice.conf", "frequency = 11\nfrequency = 12\n"),
			      NULL},
		   env_none, err, sizeof(err)) == CONFIG_RUN);
	CHECK_EQ_U64(cfg.frequency, 12);

	/* The service settings, from each source. */
	char *env_sec[] = {"SONDE_AUTH_TOKEN_FILE=/run/credentials/sonde.service/token",
			   "SONDE_TLS_CERT=/etc/sonde/cert.pem", NULL};
	CHECK(load(&cfg,
		   (char *[]){"sonde", "--config",
			      write_conf(fp, "sec.conf",
					 "user = nobody\ntls-key = /etc/sonde/key.pem\n"
					 "auth-token-file = /etc/sonde/token\n"),
			      "--check-config", NULL},
		   env_sec, err, sizeof(err)) == CONFIG_RUN);
	CHECK_STR(err, "");
	CHECK_STR(cfg.user, "nobody");
	CHECK_STR(cfg.auth_token_file, "/run/credentials/sonde.service/token");
	CHECK_STR(cfg.tls_cert, "/etc/sonde/cert.pem");
	CHECK_STR(cfg.tls_key, "/etc/sonde/key.pem");
	CHECK(cfg.check_config);

	/* --help and --version need no valid file. */
	CHECK(load(&cfg,
		   (char *[]){"sonde", "--config", write_conf(fp, "bad.conf", "frequency = 0\n"),
			      "--help", NULL},
		   env_none, err, sizeof(err)) == CONFIG_HELP);
}

/* expect_error: load fails with -EINVAL and a single line that contains want. */
static void expect_error(char **argv, char **envp, const char *want)
{
	struct config cfg;
	char err[512];
	int rc = load(&cfg, argv, envp, err, sizeof(err));

	CHECK(strchr(err, '\n') == NULL);
	if (rc >= 0 || !strstr(err, want)) {
		test__failed++;
		fprintf(stderr, "%s:%d: expected an error with \"%s\", got \"%s\" (rc %d)\n",
			__FILE__, __LINE__, want, err, rc);
	} else {
		test__passed++;
	}
}

static void test_conffile_errors(void)
{
	char *none[] = {NULL};
	char want[256], path[128], fp[128];

#define WITH_FILE(name, text) ((char *[]){"sonde", "--config", write_conf(fp, name, text), NULL})

	snprintf(path, sizeof(path), "%s/e1.conf", conf_dir);
	snprintf(want, sizeof(want), "%s:2: invalid --frequency '0'", path);
	expect_error(WITH_FILE("e1.conf", "listen = 127.0.0.1:1\nfrequency = 0\n"), none, want);
	expect_error(WITH_FILE("e2.conf", "frequency 99\n"), none,
		     "e2.conf:1: expected 'key = value'");
	expect_error(WITH_FILE("e3.conf", "frequencyy = 99\n"), none,
		     "e3.conf:1: unknown key 'frequencyy'");
	/* A prefix getopt would accept is still an unknown key here. */
	expect_error(WITH_FILE("e4.conf", "freq = 99\n"), none, "unknown key 'freq'");
	expect_error(WITH_FILE("e5.conf", "config = /etc/other.conf\n"), none,
		     "e5.conf:1: 'config' is a command-line option only");
	expect_error(WITH_FILE("e6.conf", "help = true\n"), none, "command-line option only");
	expect_error(WITH_FILE("e7.conf", "frequency =\n"), none,
		     "e7.conf:1: frequency needs a value");
	expect_error(WITH_FILE("e8.conf", "include-idle = maybe\n"), none,
		     "e8.conf:1: invalid include-idle 'maybe': expected true or false");
	expect_error(WITH_FILE("e9.conf", " = 5\n"), none, "expected 'key = value'");
	expect_error(WITH_FILE("e10.conf", "tls-cert = /etc/sonde/cert.pem\n"), none,
		     "tls-cert is set without tls-key");
	expect_error(WITH_FILE("e11.conf", "user = a\x01\n"), none, "control character");
	expect_error((char *[]){"sonde", "--config", "/nonexistent/x.conf", NULL}, none,
		     "cannot read settings file /nonexistent/x.conf: No such file or directory");
	expect_error((char *[]){"sonde", NULL},
		     (char *[]){"SONDE_CONFIG=/nonexistent/y.conf", NULL},
		     "cannot read settings file /nonexistent/y.conf");
	expect_error((char *[]){"sonde", NULL}, (char *[]){"SONDE_FREQUENCY=abc", NULL},
		     "SONDE_FREQUENCY: invalid --frequency 'abc'");
	expect_error((char *[]){"sonde", NULL}, (char *[]){"SONDE_LISTEN=", NULL},
		     "SONDE_LISTEN: listen needs a value");
	expect_error((char *[]){"sonde", NULL}, (char *[]){"SONDE_NO_OFFCPU=2", NULL},
		     "SONDE_NO_OFFCPU: invalid no-offcpu '2'");
	expect_error((char *[]){"sonde", "--tls-key", "k.pem", NULL}, none,
		     "tls-key is set without tls-cert");
	expect_error((char *[]){"sonde", "--user", "", NULL}, none, "invalid --user");
	/* A bad flag is reported before a bad file is even read. */
	expect_error((char *[]){"sonde", "--config", write_conf(fp, "e12.conf", "bogus = 1\n"),
				"--frequency", "0", NULL},
		     none, "invalid --frequency '0'");
	/* An invalid value is an error even where a higher source overrides it. */
	expect_error((char *[]){"sonde", "--config", write_conf(fp, "e14.conf", "frequency = 0\n"),
				"--frequency", "5", NULL},
		     none, "e14.conf:1: invalid --frequency '0'");
	expect_error(WITH_FILE("e15.conf", "frequency = 0\n"),
		     (char *[]){"SONDE_FREQUENCY=5", NULL}, "e15.conf:1: invalid --frequency '0'");
	expect_error((char *[]){"sonde", "--frequency", "5", NULL},
		     (char *[]){"SONDE_FREQUENCY=0", NULL},
		     "SONDE_FREQUENCY: invalid --frequency '0'");
	/* A line longer than the limit is refused, not cut. */
	char long_line[5000];

	memset(long_line, 'a', sizeof(long_line));
	memcpy(long_line, "user = ", 7);
	long_line[sizeof(long_line) - 2] = '\n';
	long_line[sizeof(long_line) - 1] = '\0';
	expect_error(WITH_FILE("e13.conf", long_line), none, "e13.conf:1: line longer than");
#undef WITH_FILE
}

static void test_option_arg(void)
{
	CHECK(config__option_arg("frequency") == 1);
	CHECK(config__option_arg("include-idle") == 0);
	CHECK(config__option_arg("auth-token-file") == 1);
	CHECK(config__option_arg("check-config") == 0);
	CHECK(config__option_arg("freq") == -ENOENT);
	CHECK(config__option_arg("") == -ENOENT);
}

static void conffile_tests(void)
{
	char cmd[96];

	snprintf(conf_dir, sizeof(conf_dir), "/tmp/sonde-test-config.XXXXXX");
	CHECK(mkdtemp(conf_dir) != NULL);
	test_conffile_precedence();
	test_conffile_errors();
	test_option_arg();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", conf_dir);
	CHECK(system(cmd) == 0);
}

static void test_blockio_flags(void)
{
	struct config cfg;
	char err[256] = "";

	CHECK(PARSE("--frequency", "99") == CONFIG_RUN);
	CHECK(cfg.blockio);
	CHECK(cfg.blockio_hook == BLOCKIO_HOOK_AUTO);
	CHECK_EQ_U64(cfg.blockio_max_rate, CONFIG_DEFAULT_BLOCKIO_MAX_RATE);
	CHECK(PARSE("--no-blockio", "--blockio-hook", "raw_tp", "--blockio-max-rate", "0") ==
	      CONFIG_RUN);
	CHECK(!cfg.blockio);
	CHECK(cfg.blockio_hook == BLOCKIO_HOOK_RAW_TP);
	CHECK_EQ_U64(cfg.blockio_max_rate, 0);
	CHECK(PARSE("--blockio-hook=tp_btf", "--blockio-max-rate=250") == CONFIG_RUN);
	CHECK(cfg.blockio_hook == BLOCKIO_HOOK_TP_BTF);
	CHECK_EQ_U64(cfg.blockio_max_rate, 250);
	CHECK(PARSE("--blockio-hook", "auto") == CONFIG_RUN);
	CHECK(cfg.blockio_hook == BLOCKIO_HOOK_AUTO);
	CHECK_STR(config__blockio_hook_name(BLOCKIO_HOOK_TP_BTF), "tp_btf");
	CHECK_STR(config__blockio_hook_name(BLOCKIO_HOOK_RAW_TP), "raw_tp");
	CHECK_STR(config__blockio_hook_name(BLOCKIO_HOOK_AUTO), "auto");

	CHECK(PARSE("--blockio-hook", "fentry") == -EINVAL);
	CHECK(strstr(err, "--blockio-hook") != NULL);
	CHECK(strchr(err, '\n') == NULL);
	CHECK(PARSE("--blockio-max-rate", "-1") == -EINVAL);
	CHECK(strstr(err, "--blockio-max-rate") != NULL);
	CHECK(PARSE("--blockio-max-rate", "10000001") == -EINVAL);
	CHECK(PARSE("--blockio-max-rate", "1k") == -EINVAL);
	CHECK(PARSE("--blockio-hook") == -EINVAL);
	CHECK(strstr(err, "needs a value") != NULL);
	CHECK(config__option_arg("no-blockio") == 0);
	CHECK(config__option_arg("blockio-max-rate") == 1);
}

/* Minutes and hours, and overflow checked per unit (a big count of ns is fine). */
static void test_duration_units(void)
{
	uint64_t v = 0;

	CHECK(config__parse_duration_ns("5m", 0, UINT64_MAX, &v) == 0);
	CHECK_EQ_U64(v, 300000000000ull);
	CHECK(config__parse_duration_ns("2h", 0, UINT64_MAX, &v) == 0);
	CHECK_EQ_U64(v, 7200000000000ull);
	CHECK(config__parse_duration_ns("10000000us", 0, UINT64_MAX, &v) == 0);
	CHECK_EQ_U64(v, 10000000000ull);
	CHECK(config__parse_duration_ns("18446744073709551615ns", 0, UINT64_MAX, &v) == 0);
	CHECK(config__parse_duration_ns("5124096h", 0, UINT64_MAX, &v) == -ERANGE);
}

static int parse_args(struct config *cfg, char *err, size_t len, const char *a, const char *b,
		      const char *c)
{
	char *argv[5] = {"sonde", (char *)a, (char *)b, (char *)c, NULL};
	int argc = 1 + (a != NULL) + (b != NULL) + (c != NULL);

	config__defaults(cfg);
	return config__parse_args(cfg, argc, argv, err, len);
}

static void test_continuous_flags(void)
{
	struct config cfg;
	char err[256];

	config__defaults(&cfg);
	CHECK_EQ_U64(cfg.window_ns, 10000000000ull);
	CHECK_EQ_U64(cfg.retention_ns, 600000000000ull);
	CHECK_EQ_U64(cfg.max_memory, 256ull << 20);
	CHECK_EQ_U64(cfg.labels, LABELS_DEFAULT);
	CHECK_STR(cfg.pyroscope_url, "");
	CHECK_STR(cfg.pyroscope_app, "sonde");

	CHECK(parse_args(&cfg, err, sizeof(err), "--window", "30s", NULL) == CONFIG_RUN);
	CHECK_EQ_U64(cfg.window_ns, 30000000000ull);
	CHECK(parse_args(&cfg, err, sizeof(err), "--retention=2h", "--max-memory=64", NULL) ==
	      CONFIG_RUN);
	CHECK_EQ_U64(cfg.retention_ns, 7200000000000ull);
	CHECK_EQ_U64(cfg.max_memory, 64ull << 20);
	CHECK(parse_args(&cfg, err, sizeof(err), "--labels", "pid,unit", NULL) == CONFIG_RUN);
	CHECK_EQ_U64(cfg.labels, LABEL_PID | LABEL_UNIT | LABEL_EXPLICIT);
	CHECK(parse_args(&cfg, err, sizeof(err), "--labels", "none", NULL) == CONFIG_RUN);
	CHECK_EQ_U64(cfg.labels, LABEL_EXPLICIT);
	CHECK(parse_args(&cfg, err, sizeof(err), "--pyroscope-url", "http://p:4040",
			 "--pyroscope-tag=env=prod") == CONFIG_RUN);
	CHECK_STR(cfg.pyroscope_url, "http://p:4040");
	CHECK_STR(cfg.push_tags, "env=prod");
	{
		char *argv[] = {"sonde", "--pyroscope-tag", "a=1",	"--pyroscope-tag",
				"b=x.y", "--pyroscope-app", "shop-api", NULL};

		config__defaults(&cfg);
		CHECK(config__parse_args(&cfg, 7, argv, err, sizeof(err)) == CONFIG_RUN);
		CHECK_STR(cfg.push_tags, "a=1,b=x.y");
		CHECK_STR(cfg.pyroscope_app, "shop-api");
	}

	/* Each rejection is one line that names the flag. */
	const char *bad[][2] = {
		{"--window", "500ms"},
		{"--window", "2h"},
		{"--window", "10"},
		{"--retention", "0s"},
		{"--retention", "8d"},
		{"--max-memory", "0"},
		{"--labels", "pid,bogus"},
		{"--labels", ""},
		{"--pyroscope-url", "ftp://x"},
		{"--pyroscope-app", "a b"},
		{"--pyroscope-app", ""},
		{"--pyroscope-tag", "novalue"},
		{"--pyroscope-tag", "=v"},
		{"--pyroscope-tag", "k=v}"},
		{"--pyroscope-tag", "k{=v"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(parse_args(&cfg, err, sizeof(err), bad[i][0], bad[i][1], NULL) == -EINVAL);
		CHECK(strstr(err, bad[i][0]) != NULL);
		CHECK(strchr(err, '\n') == NULL);
	}
	/* A retention shorter than one window cannot hold anything. */
	CHECK(parse_args(&cfg, err, sizeof(err), "--window=1m", "--retention=30s", NULL) ==
	      -EINVAL);
	CHECK(strstr(err, "--retention") != NULL);
}

int main(void)
{
	test_defaults();
	test_duration_units();
	test_continuous_flags();
	test_flags();
	test_errors();
	test_parse_u64();
	test_offcpu_defaults();
	test_offcpu_flags();
	test_offcpu_errors();
	test_parse_duration();
	conffile_tests();
	test_blockio_flags();
	return test__finish("test_config");
}
