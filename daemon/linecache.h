/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The source lines of code addresses, remembered across profiles: DWARF
 * look-ups (a unit's line table, the inline scopes) cost far more than a
 * profile can afford for every frame of every build, and a file's lines do
 * not change while it is open. Entries are keyed by (owner, address), the
 * owner being one opening of a file's DWARF: the file, line and function
 * names an entry holds point into that DWARF's memory, so its owner drops
 * all of them (linecache__drop_owner) before releasing it.
 *
 * Bounded: at most max_entries entries, the least recently used evicted
 * first, every eviction counted. Addresses without a line are remembered
 * too, so that they are not looked up again either.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_LINECACHE_H
#define SONDE_LINECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolizer.h"

#define LINECACHE_DEFAULT_MAX_ENTRIES (64 * 1024)

struct linecache;

/* What one address resolved to. The strings belong to the owner, not the cache. */
struct linecache_lines {
	bool found; /* false: the address has no line (remembered as such) */
	const char *file;
	uint32_t line;
	const struct sym_inline *inlined; /* innermost first; n_inlined entries */
	size_t n_inlined;
};

struct linecache_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t evictions; /* entries dropped for room, least recently used first */
	uint64_t dropped;   /* entries dropped with their owner */
	uint64_t entries;   /* gauge */
	uint64_t bytes;	    /* gauge: memory held, table and inline chains */
};

/* max_entries 0: LINECACHE_DEFAULT_MAX_ENTRIES. NULL on allocation failure. */
struct linecache *linecache__new(size_t max_entries);
void linecache__free(struct linecache *c);

/*
 * The lines of (owner, addr), valid until the next call that changes the
 * cache; NULL when not cached (counted as a miss). A hit makes the entry the
 * most recently used.
 */
const struct linecache_lines *linecache__get(struct linecache *c, uint64_t owner, uint64_t addr);

/*
 * Remembers the lines of (owner, addr), replacing what was there; the
 * inline chain is copied. 0 or -ENOMEM (nothing is remembered then).
 */
int linecache__put(struct linecache *c, uint64_t owner, uint64_t addr,
		   const struct linecache_lines *lines);

/* Drops every entry of owner (its DWARF is being released). */
void linecache__drop_owner(struct linecache *c, uint64_t owner);

void linecache__stats(const struct linecache *c, struct linecache_stats *out);

#endif
