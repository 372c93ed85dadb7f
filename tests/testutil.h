/* SPDX-License-Identifier: GPL-2.0 */
/* A very small test harness: checks count, never abort, and a closing line. */
#ifndef SONDE_TESTUTIL_H
#define SONDE_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>

extern int test__passed;
extern int test__failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			test__passed++;                                                            \
		} else {                                                                           \
			test__failed++;                                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
	do {                                                                                       \
		unsigned long long _a = (unsigned long long)(a);                                   \
		unsigned long long _b = (unsigned long long)(b);                                   \
		if (_a == _b) {                                                                    \
			test__passed++;                                                            \
		} else {                                                                           \
			test__failed++;                                                            \
			fprintf(stderr, "%s:%d: %s == %s failed: %llu != %llu\n", __FILE__,        \
				__LINE__, #a, #b, _a, _b);                                         \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (_a && _b && strcmp(_a, _b) == 0) {                                             \
			test__passed++;                                                            \
		} else {                                                                           \
			test__failed++;                                                            \
			fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__,    \
				__LINE__, #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");         \
		}                                                                                  \
	} while (0)

/* Prints "N passed, N failed" and returns the exit status for main(). */
/* Address of a kernel symbol from /proc/kallsyms, 0 if absent or unreadable. */
uint64_t test__kernel_symbol(const char *name);
int test__finish(const char *name);

#endif
