/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The two clocks the daemon reads, in nanoseconds: CLOCK_MONOTONIC (the
 * clock of bpf_ktime_get_ns(), of windows and timeouts) and CLOCK_REALTIME
 * (unix time, for profiles' time_nanos and query parameters).
 */
#ifndef SONDE_CLOCK_H
#define SONDE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock__monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int64_t clock__realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

#endif
