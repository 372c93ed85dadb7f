// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "biojoin.h"

/*
 * A waiting start record. Entries hang in a hash chain for the look-up and in
 * a list from the oldest to the newest for eviction; the record follows,
 * 8-byte aligned like a ring-buffer record.
 */
struct biojoin_entry {
	uint64_t rq;
	uint64_t start_ns;
	struct biojoin_entry *chain;
	struct biojoin_entry *older;
	struct biojoin_entry *newer;
	size_t size;
	uint64_t rec[];
};

struct biojoin {
	struct biojoin_entry **buckets;
	uint32_t mask; /* buckets - 1, a power of two minus one */
	uint32_t max_pending;
	struct biojoin_entry *oldest;
	struct biojoin_entry *newest;
	struct biojoin_stats stats;
};

static uint32_t bucket_of(const struct biojoin *j, uint64_t rq, uint64_t start_ns)
{
	uint64_t h = (rq ^ (start_ns * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;

	return (uint32_t)(h >> 32) & j->mask;
}

struct biojoin *biojoin__new(uint32_t max_pending)
{
	struct biojoin *j;
	uint32_t n = 1;

	if (!max_pending || max_pending > (1u << 24))
		return NULL;
	while (n < max_pending)
		n <<= 1;
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->buckets = calloc(n, sizeof(*j->buckets));
	if (!j->buckets) {
		free(j);
		return NULL;
	}
	j->mask = n - 1;
	j->max_pending = max_pending;
	return j;
}

/* Takes e out of its chain and of the age list; the caller frees it. */
static void unlink_entry(struct biojoin *j, struct biojoin_entry *e)
{
	struct biojoin_entry **pp = &j->buckets[bucket_of(j, e->rq, e->start_ns)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	if (e->older)
		e->older->newer = e->newer;
	else
		j->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		j->newest = e->older;
	j->stats.pending--;
}

void biojoin__free(struct biojoin *j)
{
	struct biojoin_entry *e, *next;

	if (!j)
		return;
	for (e = j->oldest; e; e = next) {
		next = e->newer;
		free(e);
	}
	free(j->buckets);
	free(j);
}

int biojoin__add(struct biojoin *j, const struct sonde_sample *rec, size_t size)
{
	struct biojoin_entry *e, **head;

	if (size < sizeof(rec->hdr) || size > sizeof(*rec))
		return -EINVAL;
	if (j->stats.pending >= j->max_pending) {
		e = j->oldest;
		unlink_entry(j, e);
		free(e);
		j->stats.evicted++;
	}
	e = malloc(sizeof(*e) + size);
	if (!e)
		return -ENOMEM;
	e->rq = rec->hdr.aux;
	e->start_ns = rec->hdr.ts_ns;
	e->size = size;
	memcpy(e->rec, rec, size);
	head = &j->buckets[bucket_of(j, e->rq, e->start_ns)];
	e->chain = *head;
	*head = e;
	e->newer = NULL;
	e->older = j->newest;
	if (j->newest)
		j->newest->newer = e;
	else
		j->oldest = e;
	j->newest = e;
	j->stats.pending++;
	return 0;
}

int biojoin__take(struct biojoin *j, uint64_t rq, uint64_t start_ns, struct sonde_sample *out,
		  size_t *size)
{
	struct biojoin_entry *e = j->buckets[bucket_of(j, rq, start_ns)];

	while (e && (e->rq != rq || e->start_ns != start_ns))
		e = e->chain;
	if (!e) {
		j->stats.unmatched++;
		return -ENOENT;
	}
	unlink_entry(j, e);
	memcpy(out, e->rec, e->size);
	*size = e->size;
	free(e);
	return 0;
}

void biojoin__stats(const struct biojoin *j, struct biojoin_stats *out)
{
	*out = j->stats;
}
