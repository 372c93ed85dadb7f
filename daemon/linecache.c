// SPDX-License-Identifier: GPL-2.0
/*
 * Chained hash table over an array of entries that grows up to the cap;
 * entries are linked by index into their bucket's chain, into one LRU list
 * (most recent at head) and, when free, into a free list through hnext.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linecache.h"

#define NIL UINT32_MAX

struct lc_entry {
	uint64_t owner;
	uint64_t addr;
	struct linecache_lines v;
	struct sym_inline *inl; /* the copied chain, or NULL */
	uint32_t hnext;		/* next in the bucket, or in the free list */
	uint32_t prev, next;	/* LRU */
	bool used;
};

struct linecache {
	struct lc_entry *e;
	size_t n_alloc; /* entries allocated */
	size_t max;
	uint32_t *buckets;
	size_t mask;
	uint32_t free_head;
	uint32_t lru_head, lru_tail;
	size_t inl_bytes;
	struct linecache_stats stats;
};

static size_t bucket_of(const struct linecache *c, uint64_t owner, uint64_t addr)
{
	uint64_t h = addr * 0x9e3779b97f4a7c15ull ^ owner * 0xc2b2ae3d27d4eb4full;

	h ^= h >> 31;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 29;
	return (size_t)h & c->mask;
}

struct linecache *linecache__new(size_t max_entries)
{
	struct linecache *c;
	size_t nb = 16;

	if (!max_entries)
		max_entries = LINECACHE_DEFAULT_MAX_ENTRIES;
	if (max_entries >= NIL)
		max_entries = NIL - 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	while (nb < max_entries)
		nb *= 2;
	c->buckets = malloc(nb * sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	memset(c->buckets, 0xff, nb * sizeof(*c->buckets));
	c->mask = nb - 1;
	c->max = max_entries;
	c->free_head = c->lru_head = c->lru_tail = NIL;
	return c;
}

void linecache__free(struct linecache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_alloc; i++)
		free(c->e[i].inl);
	free(c->e);
	free(c->buckets);
	free(c);
}

static void lru_unlink(struct linecache *c, uint32_t i)
{
	struct lc_entry *e = &c->e[i];

	if (e->prev != NIL)
		c->e[e->prev].next = e->next;
	else
		c->lru_head = e->next;
	if (e->next != NIL)
		c->e[e->next].prev = e->prev;
	else
		c->lru_tail = e->prev;
	e->prev = e->next = NIL;
}

static void lru_push_head(struct linecache *c, uint32_t i)
{
	struct lc_entry *e = &c->e[i];

	e->prev = NIL;
	e->next = c->lru_head;
	if (c->lru_head != NIL)
		c->e[c->lru_head].prev = i;
	c->lru_head = i;
	if (c->lru_tail == NIL)
		c->lru_tail = i;
}

/* The index of (owner, addr), or NIL. */
static uint32_t find(const struct linecache *c, uint64_t owner, uint64_t addr)
{
	uint32_t i = c->buckets[bucket_of(c, owner, addr)];

	while (i != NIL && (c->e[i].owner != owner || c->e[i].addr != addr))
		i = c->e[i].hnext;
	return i;
}

/* Unlinks entry i from its bucket and the LRU, frees its chain, and puts it on the free list. */
static void remove_entry(struct linecache *c, uint32_t i)
{
	struct lc_entry *e = &c->e[i];
	uint32_t *link = &c->buckets[bucket_of(c, e->owner, e->addr)];

	while (*link != i)
		link = &c->e[*link].hnext;
	*link = e->hnext;
	lru_unlink(c, i);
	c->inl_bytes -= e->v.n_inlined * sizeof(*e->inl);
	free(e->inl);
	memset(e, 0, sizeof(*e));
	e->prev = e->next = NIL;
	e->hnext = c->free_head;
	c->free_head = i;
	c->stats.entries--;
}

const struct linecache_lines *linecache__get(struct linecache *c, uint64_t owner, uint64_t addr)
{
	uint32_t i = find(c, owner, addr);

	if (i == NIL) {
		c->stats.misses++;
		return NULL;
	}
	c->stats.hits++;
	if (c->lru_head != i) {
		lru_unlink(c, i);
		lru_push_head(c, i);
	}
	return &c->e[i].v;
}

/* A free entry: from the free list, a new one while under the cap, else the LRU's victim. */
static uint32_t take_entry(struct linecache *c)
{
	uint32_t i;

	if (c->free_head != NIL) {
		i = c->free_head;
		c->free_head = c->e[i].hnext;
		return i;
	}
	if (c->n_alloc < c->max) {
		size_t n = c->n_alloc ? c->n_alloc * 2 : 64;
		struct lc_entry *e;

		if (n > c->max)
			n = c->max;
		e = realloc(c->e, n * sizeof(*e));
		if (!e)
			return NIL;
		c->e = e;
		/* All but the first of the new entries go on the free list. */
		for (size_t j = n; j-- > c->n_alloc + 1;) {
			memset(&e[j], 0, sizeof(e[j]));
			e[j].prev = e[j].next = NIL;
			e[j].hnext = c->free_head;
			c->free_head = (uint32_t)j;
		}
		i = (uint32_t)c->n_alloc;
		memset(&e[i], 0, sizeof(e[i]));
		c->n_alloc = n;
		return i;
	}
	i = c->lru_tail;
	remove_entry(c, i);
	c->stats.evictions++;
	c->free_head = c->e[i].hnext;
	return i;
}

int linecache__put(struct linecache *c, uint64_t owner, uint64_t addr,
		   const struct linecache_lines *lines)
{
	struct sym_inline *inl = NULL;
	struct lc_entry *e;
	size_t b;
	uint32_t i;

	if (lines->n_inlined) {
		inl = malloc(lines->n_inlined * sizeof(*inl));
		if (!inl)
			return -ENOMEM;
		memcpy(inl, lines->inlined, lines->n_inlined * sizeof(*inl));
	}
	i = find(c, owner, addr);
	if (i != NIL)
		remove_entry(c, i);
	i = take_entry(c);
	if (i == NIL) {
		free(inl);
		return -ENOMEM;
	}
	e = &c->e[i];
	e->owner = owner;
	e->addr = addr;
	e->v = *lines;
	e->v.inlined = inl;
	e->inl = inl;
	e->used = true;
	c->inl_bytes += lines->n_inlined * sizeof(*inl);
	b = bucket_of(c, owner, addr);
	e->hnext = c->buckets[b];
	c->buckets[b] = i;
	lru_push_head(c, i);
	c->stats.entries++;
	return 0;
}

void linecache__drop_owner(struct linecache *c, uint64_t owner)
{
	for (size_t i = 0; c && i < c->n_alloc; i++) {
		if (c->e[i].used && c->e[i].owner == owner) {
			remove_entry(c, (uint32_t)i);
			c->stats.dropped++;
		}
	}
}

void linecache__stats(const struct linecache *c, struct linecache_stats *out)
{
	*out = c->stats;
	out->bytes = sizeof(*c) + c->n_alloc * sizeof(*c->e) + (c->mask + 1) * sizeof(*c->buckets) +
		     c->inl_bytes;
}
