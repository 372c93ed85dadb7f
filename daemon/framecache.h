/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The names of code addresses of mapped files, remembered across profiles:
 * what symbolizer__user_of and symbolizer__user_line found at an offset of a
 * file (symbol, build ID, source line, inlined calls) depends on the file
 * alone, not on the process that maps it, so every process running the file
 * and every profile of every window share one look-up. Under process churn a
 * history query meets the same few files at thousands of addresses that only
 * differ by each process's load address; without this cache each of them went
 * through the process's maps, the ELF cache (files read again after LRU
 * eviction) and the line cache.
 *
 * Keys are (device, inode, file offset) of the address looked up (a return
 * address is looked up at addr - 1 by the caller, so it has its own key).
 * An entry copies every string it holds, so it outlives the ELF file and the
 * DWARF it was read from. Bounded by entries and bytes, least recently used
 * evicted first, every eviction counted.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_FRAMECACHE_H
#define SONDE_FRAMECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolizer.h"

#define FRAMECACHE_DEFAULT_MAX_ENTRIES (64 * 1024)
#define FRAMECACHE_DEFAULT_MAX_BYTES   ((size_t)16 << 20)

struct framecache;

struct framecache_key {
	uint64_t inode;
	uint64_t offset; /* file offset of the address */
	uint32_t dev_major, dev_minor;
};

struct framecache_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t evictions; /* entries dropped for room, least recently used first */
	uint64_t too_big;   /* frames not kept: one entry alone over the byte cap */
	uint64_t entries;   /* gauge */
	uint64_t bytes;	    /* gauge: entries and table */
};

/* 0 for either: the defaults. NULL on allocation failure. */
struct framecache *framecache__new(size_t max_entries, size_t max_bytes);
void framecache__free(struct framecache *c);

/*
 * Fills the names of *out (name, sym_offset, map_path, build_id, file, line,
 * inlined) from the entry of k and makes it the most recently used; the
 * mapping range is left as it was (it belongs to the process). The strings
 * stay valid until the next framecache__put or framecache__free. 0, or
 * -ENOENT when k is not cached (counted as a miss).
 */
int framecache__get(struct framecache *c, const struct framecache_key *k, struct sym_frame *out);

/* Remembers the names of f at k, replacing what was there. 0 or -ENOMEM, -E2BIG. */
int framecache__put(struct framecache *c, const struct framecache_key *k,
		    const struct sym_frame *f);

void framecache__stats(const struct framecache *c, struct framecache_stats *out);

#endif
