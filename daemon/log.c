// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* The one piece of mutable process state besides the configuration. */
static enum log_level current_level = LOG_LVL_INFO;
static bool journal_priorities;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log__set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log__level(void)
{
	return current_level;
}

int log__parse_level(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log__level_name(enum log_level level)
{
	return level <= LOG_LVL_DEBUG ? level_names[level] : "debug";
}

bool log__detect_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	journal_priorities = env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 &&
			     fstat(STDERR_FILENO, &st) == 0 &&
			     (unsigned long long)st.st_dev == dev &&
			     (unsigned long long)st.st_ino == ino;
	return journal_priorities;
}

void log__msg(enum log_level level, const char *fmt, ...)
{
	/* sd-daemon(3): LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
	static const char *const priorities[] = {"<3>", "<4>", "<6>", "<7>"};
	char line[1024];
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line so that concurrent writers do not interleave. */
	fprintf(stderr, "%ssonde: %s: %s\n", journal_priorities ? priorities[level] : "",
		level_names[level], line);
}
