// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "history.h"
#include "sonde_events.h"
#include "testutil.h"

#define S 1000000000ull

/* A table with n samples of pid, each on its own one-frame stack. */
static struct agg *table(uint32_t pid, int n, uint64_t value)
{
	struct agg *a = agg__new(NULL);

	for (int i = 0; i < n; i++) {
		uint64_t frame = 0x1000 + (uint64_t)i;
		struct agg_sample s = {
			.pid = pid,
			.tid = pid,
			.comm = "c",
			.thread_name = "t",
			.ustack = &frame,
			.n_ustack = 1,
			.count = 1,
			.value = value,
		};
		agg__add(a, &s);
	}
	return a;
}

static void add_window(struct history *h, uint64_t start, uint32_t pid, int n)
{
	struct agg *tables[HISTORY_KINDS] = {0};

	tables[SONDE_EV_ONCPU] = table(pid, n, 10);
	tables[SONDE_EV_OFFCPU] = table(pid, 1, 1000);
	CHECK(history__add(h, start, start + 10 * S, (int64_t)start + 5, tables) == 0);
}

struct sum {
	uint64_t count, value, overflow;
};

static int sum_fn(const struct agg_sample *e, void *ctx)
{
	struct sum *s = ctx;

	s->count += e->count;
	s->value += e->value;
	s->overflow += e->overflow ? e->count : 0;
	return 0;
}

static struct sum query(struct history *h, uint64_t from, uint64_t to, uint32_t kinds,
			history_filter_fn f, void *fctx, struct history_range *r)
{
	struct sum s = {0};
	struct agg *a = NULL;

	CHECK(history__query(h, from, to, kinds, f, fctx, NULL, &a, r) == 0);
	if (a)
		agg__for_each(a, sum_fn, &s);
	agg__free(a);
	return s;
}

static bool only_pid(const struct agg_sample *e, void *ctx)
{
	return e->pid == *(uint32_t *)ctx;
}

static void test_windows_and_merge(void)
{
	struct history_opts o = {.window_ns = 10 * S, .retention_ns = 60 * S};
	struct history *h = history__new(&o);
	struct history_range r;
	struct history_stats st;
	struct sum s;
	uint32_t pid = 2;

	CHECK(h != NULL);
	CHECK_EQ_U64(history__window_ns(h), 10 * S);
	/* Windows [100, 110), [110, 120), [120, 130) s; pid 1, 2, 1. */
	add_window(h, 100 * S, 1, 3);
	add_window(h, 110 * S, 2, 4);
	add_window(h, 120 * S, 1, 5);
	history__stats(h, &st);
	CHECK_EQ_U64(st.windows, 3);
	CHECK(st.bytes > 0);
	CHECK_EQ_U64(st.oldest_start_ns, 100 * S);
	CHECK_EQ_U64(st.newest_end_ns, 130 * S);

	/* All on-CPU: 12 samples; covered from the first start to the last end. */
	s = query(h, 0, 1000 * S, 1u << SONDE_EV_ONCPU, NULL, NULL, &r);
	CHECK_EQ_U64(s.count, 12);
	CHECK_EQ_U64(r.windows, 3);
	CHECK_EQ_U64(r.start_ns, 100 * S);
	CHECK_EQ_U64(r.end_ns, 130 * S);
	CHECK_EQ_U64(r.start_unix_ns, 100 * S + 5);

	/* A range inside the middle window takes just that window, whole. */
	s = query(h, 112 * S, 113 * S, 1u << SONDE_EV_ONCPU, NULL, NULL, &r);
	CHECK_EQ_U64(s.count, 4);
	CHECK_EQ_U64(r.windows, 1);
	CHECK_EQ_U64(r.start_ns, 110 * S);
	/* The end is exclusive: [100, 110) does not touch the window starting at 110. */
	s = query(h, 100 * S, 110 * S, 1u << SONDE_EV_ONCPU, NULL, NULL, &r);
	CHECK_EQ_U64(s.count, 3);
	CHECK_EQ_U64(r.windows, 1);

	/* Kinds: off-CPU only, then both (wall). */
	s = query(h, 0, 1000 * S, 1u << SONDE_EV_OFFCPU, NULL, NULL, &r);
	CHECK_EQ_U64(s.count, 3);
	CHECK_EQ_U64(s.value, 3000);
	s = query(h, 0, 1000 * S, (1u << SONDE_EV_ONCPU) | (1u << SONDE_EV_OFFCPU), NULL, NULL, &r);
	CHECK_EQ_U64(s.count, 15);

	/* Filters: pid 2 only. */
	s = query(h, 0, 1000 * S, 1u << SONDE_EV_ONCPU, only_pid, &pid, &r);
	CHECK_EQ_U64(s.count, 4);

	/* Nothing overlaps: an empty table, nothing covered. */
	s = query(h, 0, 50 * S, 1u << SONDE_EV_ONCPU, NULL, NULL, &r);
	CHECK_EQ_U64(s.count, 0);
	CHECK_EQ_U64(r.windows, 0);
	{
		struct agg *a = NULL;

		CHECK(history__query(h, 5, 5, 1, NULL, NULL, NULL, &a, &r) == -EINVAL);
	}
	history__free(h);
	history__free(NULL);
}

static void test_retention(void)
{
	struct history_opts o = {.window_ns = 10 * S, .retention_ns = 30 * S};
	struct history *h = history__new(&o);
	struct agg *tables[HISTORY_KINDS] = {0};
	struct history_stats st;
	struct history_range r;

	for (int i = 0; i < 10; i++)
		add_window(h, (uint64_t)i * 10 * S, 1, 1);
	history__stats(h, &st);
	/* Windows ending more than 30 s before the newest end are gone. */
	CHECK_EQ_U64(st.windows, 3);
	CHECK_EQ_U64(st.added, 10);
	CHECK_EQ_U64(st.expired, 7);
	CHECK_EQ_U64(st.evicted, 0);
	CHECK_EQ_U64(st.oldest_start_ns, 70 * S);
	CHECK_EQ_U64(query(h, 0, 1000 * S, 1u << SONDE_EV_ONCPU, NULL, NULL, &r).count, 3);

	/* Overlapping or backwards windows are refused, and their tables freed. */
	tables[SONDE_EV_ONCPU] = table(1, 1, 1);
	CHECK(history__add(h, 95 * S, 105 * S, 0, tables) == -EINVAL);
	tables[SONDE_EV_ONCPU] = table(1, 1, 1);
	CHECK(history__add(h, 200 * S, 200 * S, 0, tables) == -EINVAL);
	history__free(h);
}

static void test_memory_cap(void)
{
	struct history_opts o = {.window_ns = 10 * S, .retention_ns = 3600 * S};
	struct history_stats st;
	struct history_range r;
	struct history *h;
	size_t one;

	/* Measure one window, then cap at a little over three of them. */
	h = history__new(&o);
	add_window(h, 0, 1, 100);
	history__stats(h, &st);
	one = st.bytes;
	history__free(h);

	o.max_bytes = one * 3 + one / 2;
	h = history__new(&o);
	for (int i = 0; i < 20; i++)
		add_window(h, (uint64_t)i * 10 * S, (uint32_t)i, 100);
	history__stats(h, &st);
	CHECK_EQ_U64(st.windows, 3);
	CHECK(st.bytes <= o.max_bytes);
	CHECK_EQ_U64(st.evicted, 17);
	CHECK_EQ_U64(st.expired, 0);
	/* The newest windows are the ones kept. */
	CHECK_EQ_U64(st.oldest_start_ns, 170 * S);
	CHECK_EQ_U64(query(h, 0, 1000 * S, 1u << SONDE_EV_ONCPU, NULL, NULL, &r).count, 300);
	history__free(h);

	/* A cap smaller than one window keeps nothing, and says so. */
	o.max_bytes = one / 2;
	h = history__new(&o);
	add_window(h, 0, 1, 100);
	history__stats(h, &st);
	CHECK_EQ_U64(st.windows, 0);
	CHECK_EQ_U64(st.bytes, 0);
	CHECK_EQ_U64(st.evicted, 1);
	history__free(h);
}

/* Shrinking drops the oldest windows for the bytes asked, never the newest, and counts them. */
static void test_shrink(void)
{
	struct history_opts o = {.window_ns = 10 * S, .retention_ns = 3600 * S};
	struct history *h = history__new(&o);
	struct history_stats st;
	struct history_range r;
	size_t one, freed;

	CHECK(h != NULL);
	if (!h)
		return;
	CHECK_EQ_U64(history__shrink(h, 1), 0);
	for (int i = 0; i < 6; i++)
		add_window(h, (uint64_t)i * 10 * S, (uint32_t)i, 100);
	history__stats(h, &st);
	one = st.bytes / 6;
	CHECK_EQ_U64(history__shrink(h, 0), 0);
	/* A little over one window's bytes takes two windows. */
	freed = history__shrink(h, one + 1);
	CHECK(freed >= one + 1);
	history__stats(h, &st);
	CHECK_EQ_U64(st.windows, 4);
	CHECK_EQ_U64(st.shrunk, 2);
	CHECK_EQ_U64(st.evicted, 0);
	CHECK_EQ_U64(st.bytes, 6 * one - freed);
	CHECK_EQ_U64(st.oldest_start_ns, 20 * S);
	/* More than it holds: only the newest window stays. */
	freed = history__shrink(h, (size_t)1 << 40);
	CHECK_EQ_U64(freed, 3 * one);
	history__stats(h, &st);
	CHECK_EQ_U64(st.windows, 1);
	CHECK_EQ_U64(st.shrunk, 5);
	CHECK_EQ_U64(st.oldest_start_ns, 50 * S);
	CHECK_EQ_U64(query(h, 0, 1000 * S, 1u << SONDE_EV_ONCPU, NULL, NULL, &r).count, 100);
	CHECK_EQ_U64(history__shrink(h, 1), 0);
	history__free(h);
}

static void test_overflow_survives_merge(void)
{
	struct agg_opts tiny = {.max_entries = 2};
	struct agg *tables[HISTORY_KINDS] = {0};
	struct history *h = history__new(NULL);
	struct history_range r;
	struct sum s = {0};
	struct agg *a = NULL;

	/* 5 distinct stacks into a 2-entry table: 3 in its overflow entry. */
	tables[SONDE_EV_ONCPU] = agg__new(&tiny);
	for (uint64_t i = 0; i < 5; i++) {
		struct agg_sample x = {.pid = 1,
				       .tid = 1,
				       .comm = "c",
				       .thread_name = "t",
				       .ustack = &i,
				       .n_ustack = 1,
				       .count = 1,
				       .value = 7};

		agg__add(tables[SONDE_EV_ONCPU], &x);
	}
	CHECK(history__add(h, 0, 10 * S, 0, tables) == 0);
	CHECK(history__query(h, 0, 10 * S, 1u << SONDE_EV_ONCPU, NULL, NULL, NULL, &a, &r) == 0);
	agg__for_each(a, sum_fn, &s);
	CHECK_EQ_U64(s.count, 5);
	CHECK_EQ_U64(s.overflow, 3);
	CHECK_EQ_U64(s.value, 35);
	agg__free(a);
	history__free(h);
}

int main(void)
{
	test_windows_and_merge();
	test_retention();
	test_memory_cap();
	test_shrink();
	test_overflow_survives_merge();
	return test__finish("test_history");
}
