/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The flame-graph page: one self-contained HTML document that needs no network
 * to be viewed. It carries a profile, or two for the differential view, as a
 * tree of frames merged root first:
 *
 *   all → process "comm (pid)" → thread "name (tid)" → user frames → kernel frames
 *
 * and the page's own script (daemon/flame.js, embedded at build time) draws
 * it, zooms on click, searches and shows tooltips. Frames are named as in the
 * folded format, without its escapes.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_FLAME_H
#define SONDE_FLAME_H

#include <stdbool.h>
#include <stdint.h>

#include "agg.h"
#include "folded.h"
#include "strbuf.h"
#include "symbolizer.h"

/* The default cap on distinct frames in one page (~48 bytes each while building). */
#define FLAME_MAX_NODES (1u << 20)

enum flame_frame_type {
	FLAME_ROOT = 0,
	FLAME_PROCESS,
	FLAME_THREAD,
	FLAME_USER,
	FLAME_KERNEL,
	FLAME_OTHER, /* [no stack], aggregation overflow */
};

struct flame_opts {
	const char *kind;	 /* "cpu", "offcpu", "wall", "blockio": for the title */
	const char *unit;	 /* what the values count: "samples", "nanoseconds", "bytes" */
	enum folded_value value; /* which value of an entry, as in folded_opts */
	uint64_t oncpu_period;	 /* likewise */
	int64_t time_nanos;	 /* the interval the profile covers */
	int64_t duration_nanos;
	int64_t base_time_nanos; /* the base interval, when there is a base */
	int64_t base_duration_nanos;
	uint32_t max_nodes; /* 0: FLAME_MAX_NODES */
	/* Names frames instead of the symbolizer when set (tests, synthetic pages). */
	int (*frame_name)(void *ctx, uint32_t pid, uint64_t addr, bool kernel, struct strbuf *out);
	void *frame_name_ctx;
};

struct flame_stats {
	uint64_t nodes;	    /* distinct frames in the page */
	uint64_t truncated; /* value that reached the node cap, kept as its parent's own */
};

/*
 * Appends the page for cur, compared against base when base is not NULL
 * (the differential view), to out. stats may be NULL. 0 or -ENOMEM.
 */
int flame__write(const struct agg *cur, const struct agg *base, struct symbolizer *sym,
		 const struct flame_opts *opts, struct strbuf *out, struct flame_stats *stats);

#endif
