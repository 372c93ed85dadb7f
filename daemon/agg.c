// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"

struct agg_stack {
	uint64_t hash;
	uint32_t n_kstack;
	uint32_t n_ustack;
	uint64_t frames[]; /* kernel frames, then user frames */
};

struct agg_entry {
	uint64_t hash;
	uint32_t pid;
	uint32_t tid;
	uint64_t start_ns;
	uint64_t tag;
	uint64_t cgroup_id;
	const struct agg_stack *stack;
	uint64_t count;
	uint64_t value;
	uint64_t value2;
	char comm[AGG_NAME_LEN];
	char thread_name[AGG_NAME_LEN];
};

/* Open addressing tables of indices (+1; 0 marks a free slot). */
struct agg {
	struct agg_opts opts;
	struct agg_entry *entries;
	size_t n_entries, cap_entries;
	uint32_t *entry_index;
	size_t entry_index_size; /* power of two */

	struct agg_stack **stacks;
	size_t n_stacks, cap_stacks;
	uint32_t *stack_index;
	size_t stack_index_size;

	uint64_t overflow_count;
	uint64_t overflow_value;
	uint64_t overflow_value2;
	struct agg_stats stats;
};

static uint64_t mix64(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_stack(const struct agg_sample *s)
{
	uint64_t h = mix64(s->n_kstack, s->n_ustack);

	for (uint32_t i = 0; i < s->n_kstack; i++)
		h = mix64(h, s->kstack[i]);
	for (uint32_t i = 0; i < s->n_ustack; i++)
		h = mix64(h, s->ustack[i]);
	return h;
}

static bool stack_equal(const struct agg_stack *st, const struct agg_sample *s)
{
	if (st->n_kstack != s->n_kstack || st->n_ustack != s->n_ustack)
		return false;
	if (s->n_kstack && memcmp(st->frames, s->kstack, s->n_kstack * sizeof(uint64_t)))
		return false;
	if (s->n_ustack &&
	    memcmp(st->frames + s->n_kstack, s->ustack, s->n_ustack * sizeof(uint64_t)))
		return false;
	return true;
}

static void copy_name(char dst[AGG_NAME_LEN], const char *src)
{
	size_t i = 0;

	if (src)
		for (; i < AGG_NAME_LEN - 1 && src[i]; i++)
			dst[i] = src[i];
	dst[i] = '\0';
}

struct agg *agg__new(const struct agg_opts *opts)
{
	struct agg *agg = calloc(1, sizeof(*agg));

	if (!agg)
		return NULL;
	if (opts)
		agg->opts = *opts;
	if (!agg->opts.max_entries)
		agg->opts.max_entries = AGG_DEFAULT_MAX_ENTRIES;
	if (!agg->opts.max_bytes)
		agg->opts.max_bytes = AGG_DEFAULT_MAX_BYTES;
	agg->stats.bytes = sizeof(*agg);
	return agg;
}

void agg__free(struct agg *agg)
{
	if (!agg)
		return;
	for (size_t i = 0; i < agg->n_stacks; i++)
		free(agg->stacks[i]);
	free(agg->stacks);
	free(agg->stack_index);
	free(agg->entries);
	free(agg->entry_index);
	free(agg);
}

static bool within_budget(const struct agg *agg, size_t extra)
{
	return agg->stats.bytes + extra <= agg->opts.max_bytes;
}

/* Grows an index table to keep its load under 1/2; rehashes with get_hash(). */
static int index_grow(uint32_t **index, size_t *size, size_t n,
		      uint64_t (*get_hash)(void *, uint32_t), void *ctx, struct agg *agg)
{
	size_t new_size = *size ? *size * 2 : 64;
	uint32_t *t;

	if ((n + 1) * 2 <= *size)
		return 0;
	if (!within_budget(agg, new_size * sizeof(uint32_t)))
		return -ENOSPC;
	t = calloc(new_size, sizeof(uint32_t));
	if (!t)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		size_t slot = get_hash(ctx, i) & (new_size - 1);

		while (t[slot])
			slot = (slot + 1) & (new_size - 1);
		t[slot] = i + 1;
	}
	agg->stats.bytes += (new_size - *size) * sizeof(uint32_t);
	free(*index);
	*index = t;
	*size = new_size;
	return 0;
}

static uint64_t stack_hash_at(void *ctx, uint32_t i)
{
	return ((struct agg *)ctx)->stacks[i]->hash;
}

static uint64_t entry_hash_at(void *ctx, uint32_t i)
{
	return ((struct agg *)ctx)->entries[i].hash;
}

static int grow_array(void **arr, size_t *cap, size_t n, size_t elem, struct agg *agg)
{
	size_t new_cap = *cap ? *cap * 2 : 64;
	void *p;

	if (n < *cap)
		return 0;
	if (!within_budget(agg, (new_cap - *cap) * elem))
		return -ENOSPC;
	p = realloc(*arr, new_cap * elem);
	if (!p)
		return -ENOMEM;
	agg->stats.bytes += (new_cap - *cap) * elem;
	*arr = p;
	*cap = new_cap;
	return 0;
}

static const struct agg_stack *intern_stack(struct agg *agg, const struct agg_sample *s)
{
	uint64_t h = hash_stack(s);
	size_t bytes = sizeof(struct agg_stack) + (s->n_kstack + s->n_ustack) * sizeof(uint64_t);
	struct agg_stack *st;
	size_t slot;

	if (agg->stack_index_size) {
		slot = h & (agg->stack_index_size - 1);
		while (agg->stack_index[slot]) {
			st = agg->stacks[agg->stack_index[slot] - 1];
			if (st->hash == h && stack_equal(st, s))
				return st;
			slot = (slot + 1) & (agg->stack_index_size - 1);
		}
	}
	if (index_grow(&agg->stack_index, &agg->stack_index_size, agg->n_stacks, stack_hash_at, agg,
		       agg))
		return NULL;
	if (grow_array((void **)&agg->stacks, &agg->cap_stacks, agg->n_stacks, sizeof(*agg->stacks),
		       agg))
		return NULL;
	if (!within_budget(agg, bytes))
		return NULL;
	st = malloc(bytes);
	if (!st)
		return NULL;
	st->hash = h;
	st->n_kstack = s->n_kstack;
	st->n_ustack = s->n_ustack;
	if (s->n_kstack)
		memcpy(st->frames, s->kstack, s->n_kstack * sizeof(uint64_t));
	if (s->n_ustack)
		memcpy(st->frames + s->n_kstack, s->ustack, s->n_ustack * sizeof(uint64_t));
	agg->stats.bytes += bytes;
	agg->stacks[agg->n_stacks++] = st;
	slot = h & (agg->stack_index_size - 1);
	while (agg->stack_index[slot])
		slot = (slot + 1) & (agg->stack_index_size - 1);
	agg->stack_index[slot] = (uint32_t)agg->n_stacks;
	return st;
}

static int add_overflow(struct agg *agg, const struct agg_sample *s)
{
	agg->overflow_count += s->count;
	agg->overflow_value += s->value;
	agg->overflow_value2 += s->value2;
	agg->stats.overflow_samples++;
	return -ENOSPC;
}

int agg__add(struct agg *agg, const struct agg_sample *s)
{
	const struct agg_stack *st;
	struct agg_entry *e;
	uint64_t h;
	size_t slot;

	agg->stats.samples++;
	if (s->overflow) {
		/* Another table's overflow entry, being merged: it stays overflow. */
		agg->overflow_count += s->count;
		agg->overflow_value += s->value;
		agg->overflow_value2 += s->value2;
		return 0;
	}
	if (s->n_kstack > 4096 || s->n_ustack > 4096)
		return add_overflow(agg, s);
	st = intern_stack(agg, s);
	if (!st)
		return add_overflow(agg, s);
	h = mix64(mix64(mix64(mix64(st->hash, s->pid), s->tid), s->tag), s->start_ns);
	if (agg->entry_index_size) {
		slot = h & (agg->entry_index_size - 1);
		while (agg->entry_index[slot]) {
			e = &agg->entries[agg->entry_index[slot] - 1];
			if (e->hash == h && e->stack == st && e->pid == s->pid &&
			    e->tid == s->tid && e->tag == s->tag && e->start_ns == s->start_ns) {
				e->count += s->count;
				e->value += s->value;
				e->value2 += s->value2;
				/* Names change on exec and prctl; the latest wins. */
				copy_name(e->comm, s->comm);
				copy_name(e->thread_name, s->thread_name);
				return 0;
			}
			slot = (slot + 1) & (agg->entry_index_size - 1);
		}
	}
	if (agg->n_entries >= agg->opts.max_entries)
		return add_overflow(agg, s);
	if (index_grow(&agg->entry_index, &agg->entry_index_size, agg->n_entries, entry_hash_at,
		       agg, agg))
		return add_overflow(agg, s);
	if (grow_array((void **)&agg->entries, &agg->cap_entries, agg->n_entries,
		       sizeof(*agg->entries), agg))
		return add_overflow(agg, s);
	e = &agg->entries[agg->n_entries++];
	e->hash = h;
	e->pid = s->pid;
	e->tid = s->tid;
	e->start_ns = s->start_ns;
	e->tag = s->tag;
	e->cgroup_id = s->cgroup_id;
	e->stack = st;
	e->count = s->count;
	e->value = s->value;
	e->value2 = s->value2;
	copy_name(e->comm, s->comm);
	copy_name(e->thread_name, s->thread_name);
	slot = h & (agg->entry_index_size - 1);
	while (agg->entry_index[slot])
		slot = (slot + 1) & (agg->entry_index_size - 1);
	agg->entry_index[slot] = (uint32_t)agg->n_entries;
	return 0;
}

int agg__for_each(const struct agg *agg, agg_visit_fn fn, void *ctx)
{
	struct agg_sample v;
	int err;

	for (size_t i = 0; i < agg->n_entries; i++) {
		const struct agg_entry *e = &agg->entries[i];

		memset(&v, 0, sizeof(v));
		v.pid = e->pid;
		v.tid = e->tid;
		v.start_ns = e->start_ns;
		v.tag = e->tag;
		v.cgroup_id = e->cgroup_id;
		v.comm = e->comm;
		v.thread_name = e->thread_name;
		v.kstack = e->stack->frames;
		v.n_kstack = e->stack->n_kstack;
		v.ustack = e->stack->frames + e->stack->n_kstack;
		v.n_ustack = e->stack->n_ustack;
		v.count = e->count;
		v.value = e->value;
		v.value2 = e->value2;
		err = fn(&v, ctx);
		if (err)
			return err;
	}
	if (agg->overflow_count || agg->overflow_value || agg->overflow_value2) {
		memset(&v, 0, sizeof(v));
		v.comm = "[sonde]";
		v.thread_name = "[sonde]";
		v.count = agg->overflow_count;
		v.value = agg->overflow_value;
		v.value2 = agg->overflow_value2;
		v.overflow = true;
		return fn(&v, ctx);
	}
	return 0;
}

void agg__stats(const struct agg *agg, struct agg_stats *out)
{
	*out = agg->stats;
	out->entries = agg->n_entries;
	out->stacks = agg->n_stacks;
}
