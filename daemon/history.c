// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

struct hwindow {
	uint64_t start_ns;
	uint64_t end_ns;
	int64_t start_unix_ns;
	size_t bytes;
	struct agg *tables[HISTORY_KINDS];
};

/* A ring of windows, oldest at head. */
struct history {
	struct history_opts opts;
	struct hwindow *ring;
	size_t cap;
	size_t head;
	size_t n;
	struct history_stats stats;
};

struct history *history__new(const struct history_opts *opts)
{
	struct history *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	if (opts)
		h->opts = *opts;
	if (!h->opts.window_ns)
		h->opts.window_ns = HISTORY_DEFAULT_WINDOW_NS;
	if (!h->opts.retention_ns)
		h->opts.retention_ns = HISTORY_DEFAULT_RETENTION_NS;
	if (!h->opts.max_bytes)
		h->opts.max_bytes = HISTORY_DEFAULT_MAX_BYTES;
	/* Windows of the retention, plus one partly outside it. */
	h->cap = (size_t)(h->opts.retention_ns / h->opts.window_ns) + 2;
	h->ring = calloc(h->cap, sizeof(*h->ring));
	if (!h->ring) {
		free(h);
		return NULL;
	}
	return h;
}

static struct hwindow *window_at(const struct history *h, size_t i)
{
	return &h->ring[(h->head + i) % h->cap];
}

static void window_release(struct hwindow *w)
{
	for (int k = 0; k < HISTORY_KINDS; k++)
		agg__free(w->tables[k]);
	memset(w, 0, sizeof(*w));
}

static void drop_oldest(struct history *h)
{
	struct hwindow *w = window_at(h, 0);

	h->stats.bytes -= w->bytes;
	window_release(w);
	h->head = (h->head + 1) % h->cap;
	h->n--;
}

void history__free(struct history *h)
{
	if (!h)
		return;
	while (h->n)
		drop_oldest(h);
	free(h->ring);
	free(h);
}

uint64_t history__window_ns(const struct history *h)
{
	return h->opts.window_ns;
}

int history__add(struct history *h, uint64_t start_ns, uint64_t end_ns, int64_t start_unix_ns,
		 struct agg *tables[HISTORY_KINDS])
{
	struct hwindow *w;
	struct agg_stats as;

	if (end_ns <= start_ns || (h->n && start_ns < window_at(h, h->n - 1)->end_ns)) {
		for (int k = 0; k < HISTORY_KINDS; k++)
			agg__free(tables[k]);
		return -EINVAL;
	}
	if (h->n == h->cap) {
		drop_oldest(h);
		h->stats.expired++;
	}
	w = window_at(h, h->n);
	w->start_ns = start_ns;
	w->end_ns = end_ns;
	w->start_unix_ns = start_unix_ns;
	w->bytes = 0;
	for (int k = 0; k < HISTORY_KINDS; k++) {
		w->tables[k] = tables[k];
		if (tables[k]) {
			agg__stats(tables[k], &as);
			w->bytes += as.bytes;
		}
	}
	h->n++;
	h->stats.added++;
	h->stats.bytes += w->bytes;

	while (h->n && window_at(h, 0)->end_ns + h->opts.retention_ns <= end_ns) {
		drop_oldest(h);
		h->stats.expired++;
	}
	while (h->n && h->stats.bytes > h->opts.max_bytes) {
		drop_oldest(h);
		h->stats.evicted++;
	}
	return 0;
}

struct merge_ctx {
	struct agg *dst;
	history_filter_fn filter;
	void *filter_ctx;
};

static int merge_entry(const struct agg_sample *e, void *arg)
{
	struct merge_ctx *m = arg;

	if (!e->overflow && m->filter && !m->filter(e, m->filter_ctx))
		return 0;
	/* -ENOSPC only means the query's own table overflowed: the totals stay right. */
	agg__add(m->dst, e);
	return 0;
}

int history__query(const struct history *h, uint64_t from_ns, uint64_t to_ns, uint32_t kinds,
		   history_filter_fn filter, void *filter_ctx, const struct agg_opts *opts,
		   struct agg **out, struct history_range *covered)
{
	struct merge_ctx m = {.filter = filter, .filter_ctx = filter_ctx};
	int err = 0;

	memset(covered, 0, sizeof(*covered));
	if (to_ns <= from_ns)
		return -EINVAL;
	m.dst = agg__new(opts);
	if (!m.dst)
		return -ENOMEM;
	for (size_t i = 0; i < h->n && !err; i++) {
		const struct hwindow *w = window_at(h, i);

		if (w->end_ns <= from_ns || w->start_ns >= to_ns)
			continue;
		if (!covered->windows) {
			covered->start_ns = w->start_ns;
			covered->start_unix_ns = w->start_unix_ns;
		}
		covered->end_ns = w->end_ns;
		covered->windows++;
		for (int k = 0; k < HISTORY_KINDS && !err; k++)
			if ((kinds & (1u << k)) && w->tables[k])
				err = agg__for_each(w->tables[k], merge_entry, &m);
	}
	if (err) {
		agg__free(m.dst);
		return err;
	}
	*out = m.dst;
	return 0;
}

size_t history__shrink(struct history *h, size_t bytes)
{
	size_t freed = 0;

	while (h->n > 1 && freed < bytes) {
		freed += window_at(h, 0)->bytes;
		drop_oldest(h);
		h->stats.shrunk++;
	}
	return freed;
}

void history__stats(const struct history *h, struct history_stats *out)
{
	*out = h->stats;
	out->windows = h->n;
	out->oldest_start_ns = h->n ? window_at(h, 0)->start_ns : 0;
	out->newest_end_ns = h->n ? window_at(h, h->n - 1)->end_ns : 0;
}
