/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsing of the values in profile queries that name times and durations:
 * `start=`/`end=` (unix seconds or RFC 3339) and `last=` (5m, 30s, 1h30m).
 * Pure functions, no I/O, so that every edge case is a unit test and a
 * fuzz input.
 */
#ifndef SONDE_QUERY_H
#define SONDE_QUERY_H

#include <stdint.h>

/*
 * A point in time: unix seconds with an optional fraction ("1763798179",
 * "1763798179.25") or RFC 3339 ("2026-11-22T07:56:19Z",
 * "2026-11-22T08:56:19.5+01:00"). 0 with *unix_ns set, or -EINVAL.
 */
int query__parse_time(const char *s, int64_t *unix_ns);

/*
 * A positive duration as a sequence of number+unit with units h, m, s, ms
 * ("5m", "90s", "1h30m", "250ms"), at most 30 days. 0 or -EINVAL / -ERANGE.
 */
int query__parse_duration(const char *s, uint64_t *ns);

#endif
