/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The always-on record: one aggregation table per kind of record for every
 * fixed window (10 s by default), kept for the retention time (10 min) and
 * under a memory cap. When either limit is reached the oldest windows go
 * first, and every eviction is counted. Queries merge the windows that
 * overlap a range, filtered, into a new table.
 *
 * Times are CLOCK_MONOTONIC nanoseconds, the clock of the BPF records; each
 * window also keeps its start in unix time for the profile's time_nanos.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_HISTORY_H
#define SONDE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"

/* Tables per window, indexed by enum sonde_event_kind (index 0 unused). */
#define HISTORY_KINDS 4

struct history;

struct history_opts {
	uint64_t window_ns;    /* 0: 10 s */
	uint64_t retention_ns; /* 0: 10 min */
	size_t max_bytes;      /* 0: HISTORY_DEFAULT_MAX_BYTES */
};

#define HISTORY_DEFAULT_WINDOW_NS    (10ull * 1000000000ull)
#define HISTORY_DEFAULT_RETENTION_NS (600ull * 1000000000ull)
#define HISTORY_DEFAULT_MAX_BYTES    ((size_t)256 << 20)

struct history_stats {
	uint64_t windows;	  /* gauge: windows held */
	uint64_t bytes;		  /* gauge: memory of their tables */
	uint64_t added;		  /* windows ever added */
	uint64_t expired;	  /* windows dropped for age (retention) */
	uint64_t evicted;	  /* windows dropped early to stay under the memory cap */
	uint64_t shrunk;	  /* windows dropped early for the daemon's memory (shrink) */
	uint64_t oldest_start_ns; /* start of the oldest window held, 0 if none */
	uint64_t newest_end_ns;	  /* end of the newest window held, 0 if none */
};

/* What a query covered. */
struct history_range {
	uint64_t start_ns; /* monotonic start of the first window merged */
	uint64_t end_ns;   /* monotonic end of the last window merged */
	int64_t start_unix_ns;
	uint32_t windows; /* windows merged; 0 when none overlapped */
};

/* Keeps or drops one entry of a window's table in a query. */
typedef bool (*history_filter_fn)(const struct agg_sample *entry, void *ctx);

struct history *history__new(const struct history_opts *opts);
void history__free(struct history *h);

uint64_t history__window_ns(const struct history *h);

/*
 * Takes ownership of the tables of the finished window [start_ns, end_ns)
 * (tables[k] may be NULL), then drops windows older than the retention
 * (relative to end_ns) and, oldest first, windows over the memory cap. The
 * window just added is dropped too if it alone is over the cap. 0 or -EINVAL
 * (tables are freed in every case).
 */
int history__add(struct history *h, uint64_t start_ns, uint64_t end_ns, int64_t start_unix_ns,
		 struct agg *tables[HISTORY_KINDS]);

/*
 * Merges the tables of the kinds in `kinds` (a mask of 1 << kind) of every
 * window that overlaps [from_ns, to_ns) into a new table, keeping the entries
 * filter accepts (NULL: all). 0 with *out set (possibly empty), or -errno.
 */
int history__query(const struct history *h, uint64_t from_ns, uint64_t to_ns, uint32_t kinds,
		   history_filter_fn filter, void *filter_ctx, const struct agg_opts *opts,
		   struct agg **out, struct history_range *covered);

/*
 * Drops the oldest windows until their tables held at least `bytes`, but
 * never the newest window: the memory of the rest of the daemon has grown
 * into the history's share. Every window dropped is counted (shrunk).
 * Returns the bytes of the tables dropped.
 */
size_t history__shrink(struct history *h, size_t bytes);

void history__stats(const struct history *h, struct history_stats *out);

#endif
