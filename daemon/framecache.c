// SPDX-License-Identifier: GPL-2.0
/*
 * Chained hash table of entries allocated one by one, each in a single block
 * that holds its inline chain and its strings; all entries are on one LRU
 * list, most recent at head.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "framecache.h"

struct fc_entry {
	struct fc_entry *hnext;
	struct fc_entry *prev, *next; /* LRU */
	struct framecache_key key;
	size_t bytes;
	struct sym_frame f; /* names only; the mapping range is the caller's */
	struct sym_inline inl[];
	/* then the strings */
};

struct framecache {
	struct fc_entry **buckets;
	size_t mask;
	size_t max_entries, max_bytes;
	struct fc_entry *head, *tail;
	struct framecache_stats stats;
};

static size_t bucket_of(const struct framecache *c, const struct framecache_key *k)
{
	uint64_t h = k->offset * 0x9e3779b97f4a7c15ull ^ k->inode * 0xc2b2ae3d27d4eb4full ^
		     ((uint64_t)k->dev_major << 32 | k->dev_minor) * 0xbf58476d1ce4e5b9ull;

	h ^= h >> 31;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 29;
	return (size_t)h & c->mask;
}

static bool key_eq(const struct framecache_key *a, const struct framecache_key *b)
{
	return a->offset == b->offset && a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor;
}

struct framecache *framecache__new(size_t max_entries, size_t max_bytes)
{
	struct framecache *c = calloc(1, sizeof(*c));
	size_t nb = 16;

	if (!c)
		return NULL;
	c->max_entries = max_entries ? max_entries : FRAMECACHE_DEFAULT_MAX_ENTRIES;
	c->max_bytes = max_bytes ? max_bytes : FRAMECACHE_DEFAULT_MAX_BYTES;
	/* Two entries a bucket on average when full. */
	while (nb * 2 < c->max_entries)
		nb *= 2;
	c->buckets = calloc(nb, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->mask = nb - 1;
	c->stats.bytes = nb * sizeof(*c->buckets);
	return c;
}

void framecache__free(struct framecache *c)
{
	struct fc_entry *e, *next;

	if (!c)
		return;
	for (e = c->head; e; e = next) {
		next = e->next;
		free(e);
	}
	free(c->buckets);
	free(c);
}

static void lru_unlink(struct framecache *c, struct fc_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct framecache *c, struct fc_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

/* The slot that points at k's entry (or at NULL, where it would go). */
static struct fc_entry **slot_of(struct framecache *c, const struct framecache_key *k)
{
	struct fc_entry **s = &c->buckets[bucket_of(c, k)];

	while (*s && !key_eq(&(*s)->key, k))
		s = &(*s)->hnext;
	return s;
}

static void entry_drop(struct framecache *c, struct fc_entry *e)
{
	struct fc_entry **s = slot_of(c, &e->key);

	*s = e->hnext;
	lru_unlink(c, e);
	c->stats.entries--;
	c->stats.bytes -= e->bytes;
	free(e);
}

int framecache__get(struct framecache *c, const struct framecache_key *k, struct sym_frame *out)
{
	struct fc_entry *e = *slot_of(c, k);

	if (!e) {
		c->stats.misses++;
		return -ENOENT;
	}
	c->stats.hits++;
	lru_unlink(c, e);
	lru_push(c, e);
	out->name = e->f.name;
	out->sym_offset = e->f.sym_offset;
	out->map_path = e->f.map_path;
	out->build_id = e->f.build_id;
	out->file = e->f.file;
	out->line = e->f.line;
	out->inlined = e->f.n_inlined ? e->inl : NULL;
	out->n_inlined = e->f.n_inlined;
	out->kernel = false;
	return 0;
}

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copies s to *at and moves *at past it; NULL stays NULL. */
static const char *str_copy(char **at, const char *s)
{
	size_t n = str_size(s);
	char *dst = *at;

	if (!s)
		return NULL;
	memcpy(dst, s, n);
	*at += n;
	return dst;
}

int framecache__put(struct framecache *c, const struct framecache_key *k, const struct sym_frame *f)
{
	size_t n_inl = f->inlined ? f->n_inlined : 0, strings, bytes;
	struct fc_entry *e, **s;
	char *at;

	strings = str_size(f->name) + str_size(f->map_path) + str_size(f->build_id) +
		  str_size(f->file);
	for (size_t i = 0; i < n_inl; i++)
		strings += str_size(f->inlined[i].name) + str_size(f->inlined[i].call_file);
	bytes = sizeof(*e) + n_inl * sizeof(e->inl[0]) + strings;
	if (bytes > c->max_bytes / 16) {
		c->stats.too_big++;
		return -E2BIG;
	}
	s = slot_of(c, k);
	if (*s)
		entry_drop(c, *s);
	while (c->head &&
	       (c->stats.entries >= c->max_entries || c->stats.bytes + bytes > c->max_bytes)) {
		entry_drop(c, c->tail);
		c->stats.evictions++;
	}
	e = malloc(bytes);
	if (!e)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->bytes = bytes;
	at = (char *)&e->inl[n_inl];
	e->f.name = str_copy(&at, f->name);
	e->f.sym_offset = f->sym_offset;
	e->f.map_path = str_copy(&at, f->map_path);
	e->f.build_id = str_copy(&at, f->build_id);
	e->f.file = str_copy(&at, f->file);
	e->f.line = f->line;
	e->f.n_inlined = n_inl;
	for (size_t i = 0; i < n_inl; i++) {
		e->inl[i].name = str_copy(&at, f->inlined[i].name);
		e->inl[i].call_file = str_copy(&at, f->inlined[i].call_file);
		e->inl[i].call_line = f->inlined[i].call_line;
	}
	/* Evictions may have emptied the chain: find the slot again. */
	s = slot_of(c, k);
	e->hnext = *s;
	*s = e;
	lru_push(c, e);
	c->stats.entries++;
	c->stats.bytes += bytes;
	return 0;
}

void framecache__stats(const struct framecache *c, struct framecache_stats *out)
{
	*out = c->stats;
}
