/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Aggregation of stack samples: stacks are interned once, and counts and
 * values are summed per (process, thread, stack, tag), a process being a pid
 * and its start time. The table has a cap on
 * entries and on bytes; samples that do not fit are summed into one overflow
 * entry and counted, so totals stay right even when detail is lost.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_AGG_H
#define SONDE_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGG_NAME_LEN 16

struct agg;

struct agg_opts {
	size_t max_entries; /* distinct (pid, tid, stack) entries; 0: default */
	size_t max_bytes;   /* memory for entries and stacks; 0: default */
};

#define AGG_DEFAULT_MAX_ENTRIES (64 * 1024)
#define AGG_DEFAULT_MAX_BYTES	(64u << 20)

/* One sample as collected, or (for agg__for_each) one aggregated entry. */
struct agg_sample {
	uint32_t pid;
	uint32_t tid;
	/*
	 * When the process started (boot-time ns; 0: unknown): part of the key,
	 * so that a reused pid's samples stay apart and are named from their
	 * own process's maps.
	 */
	uint64_t start_ns;
	uint64_t cgroup_id;
	const char *comm;	 /* process name, at most AGG_NAME_LEN - 1 bytes used */
	const char *thread_name; /* thread name, likewise */
	const uint64_t *kstack;	 /* leaf first */
	uint32_t n_kstack;
	const uint64_t *ustack; /* leaf first */
	uint32_t n_ustack;
	/*
	 * Part of the key, meaning chosen by the producer: 0 for on-CPU samples,
	 * the state letter ('S', 'D', ...) for off-CPU waits, disk << 32 | op
	 * and sync bits for block I/O.
	 */
	uint64_t tag;
	uint64_t count;
	uint64_t value;	 /* e.g. nanoseconds of CPU for on-CPU samples */
	uint64_t value2; /* a second sum where the producer has one: bytes of block I/O */
	bool overflow;	 /* the entry of samples that did not fit (for_each, or merging) */
};

struct agg_stats {
	uint64_t samples;	   /* agg__add calls */
	uint64_t entries;	   /* distinct entries held */
	uint64_t stacks;	   /* distinct stacks held */
	uint64_t overflow_samples; /* samples folded into the overflow entry */
	uint64_t bytes;		   /* memory held */
};

struct agg *agg__new(const struct agg_opts *opts);
void agg__free(struct agg *agg);

/*
 * 0 when added to its own entry, -ENOSPC when summed into the overflow entry.
 * A sample marked overflow (another table's overflow entry, when merging)
 * joins this table's overflow entry and returns 0.
 */
int agg__add(struct agg *agg, const struct agg_sample *s);

/* Calls fn for every entry (overflow last, if any); stops at and returns fn's first non-zero. */
typedef int (*agg_visit_fn)(const struct agg_sample *entry, void *ctx);
int agg__for_each(const struct agg *agg, agg_visit_fn fn, void *ctx);

void agg__stats(const struct agg *agg, struct agg_stats *out);

#endif
