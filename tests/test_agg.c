// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agg.h"
#include "testutil.h"

struct tally {
	uint64_t entries, count, value, overflow_count;
	uint64_t started; /* samples of entries with start_ns 12345 */
	uint32_t last_pid;
	char last_comm[16];
	uint32_t n_k, n_u;
	uint64_t k0, u0;
};

static int tally_fn(const struct agg_sample *e, void *ctx)
{
	struct tally *t = ctx;

	t->entries++;
	t->count += e->count;
	t->value += e->value;
	if (e->overflow) {
		t->overflow_count += e->count;
		return 0;
	}
	if (e->start_ns == 12345)
		t->started += e->count;
	t->last_pid = e->pid;
	snprintf(t->last_comm, sizeof(t->last_comm), "%s", e->comm);
	t->n_k = e->n_kstack;
	t->n_u = e->n_ustack;
	t->k0 = e->n_kstack ? e->kstack[0] : 0;
	t->u0 = e->n_ustack ? e->ustack[0] : 0;
	return 0;
}

static int stop_fn(const struct agg_sample *e, void *ctx)
{
	(void)e;
	(*(int *)ctx)++;
	return 42;
}

static struct agg_sample sample(uint32_t pid, uint32_t tid, const uint64_t *k, uint32_t nk,
				const uint64_t *u, uint32_t nu)
{
	struct agg_sample s = {
		.pid = pid,
		.tid = tid,
		.comm = "proc",
		.thread_name = "thr",
		.kstack = k,
		.n_kstack = nk,
		.ustack = u,
		.n_ustack = nu,
		.count = 1,
		.value = 10,
	};
	return s;
}

static void test_dedup(void)
{
	uint64_t k[] = {0xffffffff81000010ull, 0xffffffff81000020ull};
	uint64_t u1[] = {0x401000, 0x401100, 0x401200};
	uint64_t u2[] = {0x401000, 0x401100, 0x401300};
	struct agg *agg = agg__new(NULL);
	struct agg_stats st;
	struct tally t = {0};

	CHECK(agg != NULL);
	for (int i = 0; i < 100; i++) {
		struct agg_sample a = sample(1, 1, k, 2, u1, 3);
		struct agg_sample b = sample(1, 1, k, 2, u2, 3);
		struct agg_sample c = sample(2, 2, k, 2, u1, 3); /* same stack, other process */
		struct agg_sample d = sample(1, 3, k, 2, u1, 3); /* same stack, other thread */
		/* Same pid, tid and stack, another process: the pid was reused. */
		struct agg_sample e = sample(1, 1, k, 2, u1, 3);

		e.start_ns = 12345;
		CHECK(agg__add(agg, &a) == 0);
		agg__add(agg, &b);
		agg__add(agg, &c);
		agg__add(agg, &d);
		agg__add(agg, &e);
	}
	agg__stats(agg, &st);
	CHECK_EQ_U64(st.samples, 500);
	CHECK_EQ_U64(st.entries, 5);
	CHECK_EQ_U64(st.stacks, 2);
	CHECK_EQ_U64(st.overflow_samples, 0);
	CHECK(st.bytes > 0);
	agg__for_each(agg, tally_fn, &t);
	CHECK_EQ_U64(t.entries, 5);
	CHECK_EQ_U64(t.count, 500);
	CHECK_EQ_U64(t.value, 5000);
	CHECK_EQ_U64(t.started, 100);
	CHECK_EQ_U64(t.n_k, 2);
	CHECK_EQ_U64(t.n_u, 3);
	CHECK_EQ_U64(t.k0, k[0]);
	CHECK_EQ_U64(t.u0, 0x401000);
	agg__free(agg);
}

static void test_kernel_user_split(void)
{
	/* Same frames, split differently between kernel and user, are different stacks. */
	uint64_t f[] = {1, 2, 3};
	struct agg *agg = agg__new(NULL);
	struct agg_sample a = sample(1, 1, f, 1, f + 1, 2);
	struct agg_sample b = sample(1, 1, f, 2, f + 2, 1);
	struct agg_sample empty = sample(1, 1, NULL, 0, NULL, 0);
	struct agg_stats st;

	agg__add(agg, &a);
	agg__add(agg, &b);
	CHECK(agg__add(agg, &empty) == 0);
	agg__stats(agg, &st);
	CHECK_EQ_U64(st.stacks, 3);
	CHECK_EQ_U64(st.entries, 3);
	agg__free(agg);
}

static void test_overflow_entries(void)
{
	struct agg_opts opts = {.max_entries = 16};
	struct agg *agg = agg__new(&opts);
	struct agg_stats st;
	struct tally t = {0};
	int overflowed = 0;

	for (uint64_t i = 0; i < 100; i++) {
		uint64_t u[] = {0x1000 + i};
		struct agg_sample s = sample(1, 1, NULL, 0, u, 1);

		if (agg__add(agg, &s) == -ENOSPC)
			overflowed++;
	}
	agg__stats(agg, &st);
	CHECK_EQ_U64(st.entries, 16);
	CHECK_EQ_U64(overflowed, 84);
	CHECK_EQ_U64(st.overflow_samples, 84);
	agg__for_each(agg, tally_fn, &t);
	/* Nothing lost: totals include the overflow entry. */
	CHECK_EQ_U64(t.count, 100);
	CHECK_EQ_U64(t.value, 1000);
	CHECK_EQ_U64(t.overflow_count, 84);
	CHECK_EQ_U64(t.entries, 17);
	agg__free(agg);
}

static void test_overflow_bytes(void)
{
	struct agg_opts opts = {.max_bytes = 64 * 1024};
	struct agg *agg = agg__new(&opts);
	uint64_t frames[127];
	struct agg_stats st;
	struct tally t = {0};

	for (uint64_t i = 0; i < 2000; i++) {
		for (int j = 0; j < 127; j++)
			frames[j] = i * 1000 + (uint64_t)j;
		struct agg_sample s = sample(7, 7, frames, 127, frames, 127);

		agg__add(agg, &s);
	}
	agg__stats(agg, &st);
	CHECK(st.bytes <= 64 * 1024);
	CHECK(st.overflow_samples > 0);
	CHECK(st.entries < 2000);
	agg__for_each(agg, tally_fn, &t);
	CHECK_EQ_U64(t.count, 2000);
	agg__free(agg);
}

static void test_names_and_visit_stop(void)
{
	uint64_t u[] = {0x10};
	struct agg *agg = agg__new(NULL);
	struct agg_sample s = sample(5, 5, NULL, 0, u, 1);
	struct tally t = {0};
	int calls = 0;

	s.comm = "a-very-long-process-name-indeed";
	agg__add(agg, &s);
	s.comm = "renamed";
	agg__add(agg, &s);
	agg__for_each(agg, tally_fn, &t);
	CHECK_STR(t.last_comm, "renamed");
	CHECK_EQ_U64(t.last_pid, 5);
	CHECK(agg__for_each(agg, stop_fn, &calls) == 42);
	CHECK(calls == 1);
	agg__free(agg);
	agg__free(NULL);
}

struct tag_tally {
	uint64_t entries;
	uint64_t count[256], value[256]; /* by tag */
	uint64_t overflow_tag;
};

static int tag_fn(const struct agg_sample *e, void *ctx)
{
	struct tag_tally *t = ctx;

	if (e->overflow) {
		t->overflow_tag = e->tag;
		return 0;
	}
	t->entries++;
	if (e->tag < 256) {
		t->count[e->tag] += e->count;
		t->value[e->tag] += e->value;
	}
	return 0;
}

/* The tag is part of the key: the same stack of the same thread in two states is two entries. */
static void test_tags(void)
{
	uint64_t k[] = {0xffffffff81000010ull};
	uint64_t u[] = {0x401000, 0x401100};
	struct agg_opts opts = {.max_entries = 3};
	struct agg *agg = agg__new(&opts);
	struct agg_sample s = sample(4, 4, k, 1, u, 2);
	struct tag_tally t = {0};
	struct agg_stats st;

	s.tag = 'S';
	CHECK(agg__add(agg, &s) == 0);
	CHECK(agg__add(agg, &s) == 0); /* same tag: merged */
	s.tag = 'D';
	s.value = 7;
	CHECK(agg__add(agg, &s) == 0);
	s.tag = 0;
	s.value = 100;
	CHECK(agg__add(agg, &s) == 0);
	agg__stats(agg, &st);
	CHECK_EQ_U64(st.entries, 3);
	CHECK_EQ_U64(st.stacks, 1);
	/* A fourth tag needs a fourth entry: over the cap, so it overflows. */
	s.tag = 'I';
	CHECK(agg__add(agg, &s) == -ENOSPC);
	/* Existing tags still merge at the cap. */
	s.tag = 'D';
	s.value = 3;
	CHECK(agg__add(agg, &s) == 0);

	agg__for_each(agg, tag_fn, &t);
	CHECK_EQ_U64(t.entries, 3);
	CHECK_EQ_U64(t.count['S'], 2);
	CHECK_EQ_U64(t.value['S'], 20);
	CHECK_EQ_U64(t.count['D'], 2);
	CHECK_EQ_U64(t.value['D'], 10);
	CHECK_EQ_U64(t.count[0], 1);
	CHECK_EQ_U64(t.value[0], 100);
	CHECK_EQ_U64(t.count['I'], 0);
	CHECK_EQ_U64(t.overflow_tag, 0);
	agg__free(agg);
}

static void test_many(void)
{
	struct agg *agg = agg__new(NULL);
	struct agg_stats st;

	for (uint32_t i = 0; i < 50000; i++) {
		uint64_t u[] = {i % 5000, 0x400000};
		struct agg_sample s = sample(i % 7, i % 7, NULL, 0, u, 2);

		agg__add(agg, &s);
	}
	agg__stats(agg, &st);
	CHECK_EQ_U64(st.stacks, 5000);
	/* i % 5000 and i % 7 pair up over lcm(5000, 7) = 35000 values. */
	CHECK_EQ_U64(st.entries, 35000);
	CHECK_EQ_U64(st.overflow_samples, 0);
	agg__free(agg);
}

struct sums {
	uint64_t entries, count, value, value2, overflow_value2;
};

static int sums_fn(const struct agg_sample *e, void *ctx)
{
	struct sums *t = ctx;

	t->entries++;
	t->count += e->count;
	t->value += e->value;
	t->value2 += e->value2;
	if (e->overflow)
		t->overflow_value2 += e->value2;
	return 0;
}

/* Block I/O: a second sum (bytes), and tags that differ only above bit 31 (the disk). */
static void test_value2_and_wide_tags(void)
{
	uint64_t u[] = {0x401000, 0x402000};
	struct agg_opts opts = {.max_entries = 2};
	struct agg *agg = agg__new(&opts);
	struct sums t = {0};
	struct agg_stats st;

	for (int i = 0; i < 10; i++) {
		struct agg_sample s = sample(1, 1, NULL, 0, u, 2);

		s.tag = (uint64_t)(254u << 20) << 32 | 0x101;
		s.value2 = 4096;
		CHECK(agg__add(agg, &s) == 0);
		s.tag = (uint64_t)(8u << 20) << 32 | 0x101; /* same op, other disk */
		s.value2 = 65536;
		CHECK(agg__add(agg, &s) == 0);
	}
	/* A third key does not fit: its bytes go to the overflow entry, not lost. */
	struct agg_sample o = sample(1, 1, NULL, 0, u, 2);

	o.tag = 0x100;
	o.value2 = 512;
	CHECK(agg__add(agg, &o) == -ENOSPC);
	/* Another table's overflow entry, merged: stays overflow, bytes and all. */
	o.overflow = true;
	o.value2 = 1024;
	CHECK(agg__add(agg, &o) == 0);
	agg__stats(agg, &st);
	CHECK_EQ_U64(st.entries, 2);
	agg__for_each(agg, sums_fn, &t);
	CHECK_EQ_U64(t.entries, 3);
	CHECK_EQ_U64(t.count, 22);
	CHECK_EQ_U64(t.value, 220);
	CHECK_EQ_U64(t.value2, 10 * 4096 + 10 * 65536 + 512 + 1024);
	CHECK_EQ_U64(t.overflow_value2, 512 + 1024);
	agg__free(agg);
}

int main(void)
{
	test_dedup();
	test_kernel_user_split();
	test_overflow_entries();
	test_overflow_bytes();
	test_names_and_visit_stop();
	test_tags();
	test_many();
	test_value2_and_wide_tags();
	return test__finish("test_agg");
}
