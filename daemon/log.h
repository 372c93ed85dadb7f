/* SPDX-License-Identifier: GPL-2.0 */
/* Logging to stderr (the journal under systemd). The level is process-wide. */
#ifndef SONDE_LOG_H
#define SONDE_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

void log__set_level(enum log_level level);
enum log_level log__level(void);
/* Parses "error", "warn", "info" or "debug"; -EINVAL otherwise. */
int log__parse_level(const char *s, enum log_level *out);
/* "error", "warn", "info" or "debug". */
const char *log__level_name(enum log_level level);
/*
 * When stderr is systemd's journal stream (JOURNAL_STREAM names its device
 * and inode), every line starts with its syslog priority ("<4>"), which the
 * journal strips and records, so `journalctl -p warning` works. Returns
 * whether it does.
 */
bool log__detect_journal(void);
void log__msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log__msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log__msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log__msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log__msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
