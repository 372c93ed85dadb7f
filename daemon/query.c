// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "query.h"

#define NS_PER_S     1000000000ll
#define MAX_DURATION (30ull * 24 * 3600 * 1000000000ull)
/* The last whole second whose nanoseconds fit an int64_t (2262-04-11). */
#define MAX_UNIX_S (INT64_MAX / NS_PER_S - 1)

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* Reads an optional ".ddd" (up to 9 digits used, more ignored) as nanoseconds. */
static bool fraction(const char **p, int64_t *ns)
{
	int64_t scale = 100000000;
	const char *s = *p;

	*ns = 0;
	if (*s != '.')
		return true;
	s++;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		*ns += (*s - '0') * scale;
		scale /= 10;
	}
	*p = s;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_epoch(int y, int m, int d)
{
	static const int before[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int64_t years = y - 1970;
	/* Leap days in the years [1970, y). */
	int64_t leaps = ((int64_t)(y - 1) / 4 - 1969 / 4) - ((int64_t)(y - 1) / 100 - 1969 / 100) +
			((int64_t)(y - 1) / 400 - 1969 / 400);

	return years * 365 + leaps + before[m - 1] + (m > 2 && leap(y)) + (d - 1);
}

static int parse_rfc3339(const char *s, int64_t *unix_ns)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t frac, t;

	if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
	    !digits(&s, 2, &d))
		return -EINVAL;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return -EINVAL;
	s++;
	if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) || *s++ != ':' ||
	    !digits(&s, 2, &sec) || !fraction(&s, &frac))
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)) ||
	    h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	t = days_from_epoch(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	if (t < 0 || t > MAX_UNIX_S)
		return -EINVAL;
	*unix_ns = t * NS_PER_S + frac;
	return 0;
}

int query__parse_time(const char *s, int64_t *unix_ns)
{
	const char *p = s;
	int64_t secs = 0, frac;

	if (!s || !*s)
		return -EINVAL;
	if (strchr(s, '-') || strchr(s, ':'))
		return parse_rfc3339(s, unix_ns);
	for (; *p >= '0' && *p <= '9'; p++) {
		secs = secs * 10 + (*p - '0');
		if (secs > MAX_UNIX_S)
			return -EINVAL;
	}
	if (p == s || !fraction(&p, &frac) || *p)
		return -EINVAL;
	*unix_ns = secs * NS_PER_S + frac;
	return 0;
}

int query__parse_duration(const char *s, uint64_t *ns)
{
	uint64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		uint64_t v = 0, unit;
		const char *start = s;

		for (; *s >= '0' && *s <= '9'; s++) {
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > MAX_DURATION)
				return -ERANGE;
		}
		if (s == start)
			return -EINVAL;
		if (s[0] == 'm' && s[1] == 's') {
			unit = 1000000ull;
			s += 2;
		} else if (*s == 'h') {
			unit = 3600ull * NS_PER_S;
			s++;
		} else if (*s == 'm') {
			unit = 60ull * NS_PER_S;
			s++;
		} else if (*s == 's') {
			unit = NS_PER_S;
			s++;
		} else {
			return -EINVAL;
		}
		if (v > MAX_DURATION / unit)
			return -ERANGE;
		total += v * unit;
		if (total > MAX_DURATION)
			return -ERANGE;
	}
	if (!total)
		return -EINVAL;
	*ns = total;
	return 0;
}
