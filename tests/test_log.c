// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "testutil.h"

/* Runs fn with stderr redirected to a temporary file and returns what it wrote. */
static void capture(void (*fn)(void), char *out, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, len - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
}

static void emit_all(void)
{
	log_error("e %d", 1);
	log_warn("w %s", "two");
	log_info("i");
	log_debug("d");
}

static void emit_long(void)
{
	char big[4096];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_error("%s", big);
}

/* Under the journal, lines carry their syslog priority; elsewhere they do not. */
static void test_journal_priorities(void)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char env[64], out[256] = "";
	struct stat st;
	size_t n;

	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	fstat(STDERR_FILENO, &st);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	CHECK(!log__detect_journal()); /* another stream */
	log_warn("plain");
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	CHECK(log__detect_journal());
	log_error("e");
	log_warn("w");
	log_info("i");
	unsetenv("JOURNAL_STREAM");
	CHECK(!log__detect_journal());
	log_info("after");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	CHECK_STR(out, "sonde: warn: plain\n<3>sonde: error: e\n<4>sonde: warn: w\n"
		       "<6>sonde: info: i\nsonde: info: after\n");
}

int main(void)
{
	enum log_level lvl = LOG_LVL_ERROR;
	char out[8192];

	CHECK(log__parse_level("debug", &lvl) == 0 && lvl == LOG_LVL_DEBUG);
	CHECK(log__parse_level("warn", &lvl) == 0 && lvl == LOG_LVL_WARN);
	CHECK(log__parse_level("WARN", &lvl) == -EINVAL);
	CHECK(log__parse_level("", &lvl) == -EINVAL);

	log__set_level(LOG_LVL_INFO);
	CHECK(log__level() == LOG_LVL_INFO);
	capture(emit_all, out, sizeof(out));
	CHECK_STR(out, "sonde: error: e 1\nsonde: warn: w two\nsonde: info: i\n");

	log__set_level(LOG_LVL_ERROR);
	capture(emit_all, out, sizeof(out));
	CHECK_STR(out, "sonde: error: e 1\n");

	log__set_level(LOG_LVL_DEBUG);
	capture(emit_all, out, sizeof(out));
	CHECK(strstr(out, "sonde: debug: d\n") != NULL);

	/* Over-long messages are cut, still one line. */
	capture(emit_long, out, sizeof(out));
	CHECK(strlen(out) < 1100);
	CHECK(strchr(out, '\n') == out + strlen(out) - 1);
	test_journal_priorities();
	return test__finish("test_log");
}
