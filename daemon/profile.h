/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Turns an aggregation table into a pprof profile: names every frame with the
 * symbolizer and writes the Go CPU-profile shape with the pprof builder.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_PROFILE_H
#define SONDE_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "agg.h"
#include "strbuf.h"
#include "symbolizer.h"

struct profile_meta {
	int64_t time_nanos; /* start, unix ns */
	int64_t duration_nanos;
	uint64_t period; /* ns per sample for cpu-clock; events per sample for cycles */
	bool cycles;	 /* the samples come from the hardware cycles event */
};

struct profile_stats {
	uint64_t samples;	 /* pprof samples written */
	uint64_t frames;	 /* frames looked up */
	uint64_t unnamed_frames; /* frames that stayed [unknown] or [module] */
};

/* Appends the gzip-compressed profile to out. 0 or -errno. */
int profile__cpu_pprof(const struct agg *agg, struct symbolizer *sym,
		       const struct profile_meta *meta, struct strbuf *out,
		       struct profile_stats *stats);

#endif
