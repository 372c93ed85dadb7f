/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Joins the two records of a block-I/O request: the start record (who
 * submitted it: stacks, names, operation, disk), sent by the BPF program when
 * the request starts, and the small completion record sent when it completes
 * (bpf/blockio.bpf.c). Start records wait here, keyed by the request's
 * address and start time, until their completion takes them.
 *
 * Bounded: when max_pending records wait, a new one evicts the oldest (a
 * request merged away before it was issued never completes, and its record
 * would otherwise stay). Evictions and completions without a start are
 * counted.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_BIOJOIN_H
#define SONDE_BIOJOIN_H

#include <stddef.h>
#include <stdint.h>

#include "sonde_events.h"

struct biojoin;

struct biojoin_stats {
	uint64_t pending;   /* start records waiting (gauge) */
	uint64_t unmatched; /* completions that found no start record */
	uint64_t evicted;   /* start records dropped, oldest first, to make room */
};

/* max_pending >= 1. NULL on allocation failure or max_pending 0. */
struct biojoin *biojoin__new(uint32_t max_pending);
/* Accepts NULL. */
void biojoin__free(struct biojoin *j);

/*
 * Keeps a copy of a start record of size bytes, at most a struct
 * sonde_sample (its hdr.aux is the request's address, hdr.ts_ns its start).
 * 0, -EINVAL for a size out of bounds, or -ENOMEM.
 */
int biojoin__add(struct biojoin *j, const struct sonde_sample *rec, size_t size);

/*
 * Moves the start record of the request at rq that started at start_ns out of
 * the table into out, and its length into *size. 0, or -ENOENT when there is
 * none (counted as unmatched).
 */
int biojoin__take(struct biojoin *j, uint64_t rq, uint64_t start_ns, struct sonde_sample *out,
		  size_t *size);

void biojoin__stats(const struct biojoin *j, struct biojoin_stats *out);

#endif
