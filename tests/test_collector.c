// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "collector.h"
#include "sonde_events.h"
#include "testutil.h"

static void make_event(struct sonde_sample *ev, uint32_t pid, uint64_t ts)
{
	memset(ev, 0, sizeof(*ev));
	ev->hdr.kind = SONDE_EV_ONCPU;
	ev->hdr.pid = pid;
	ev->hdr.tid = pid + 1;
	ev->hdr.ts_ns = ts;
	ev->hdr.value = 100;
	/* Names fill all 16 bytes with no NUL: the collector must bound them. */
	memcpy(ev->hdr.comm, "0123456789abcdef", 16);
	memcpy(ev->hdr.thread_name, "t", 2);
	ev->hdr.kstack_sz = 3 * 8;
	ev->frames[0] = 0xffffffff81000000ull;
	ev->hdr.ustack_sz = -EFAULT; /* a failed user stack read: no user frames */
}

struct seen {
	uint64_t count, value;
	uint32_t n_u, n_k;
	uint64_t k0, u0, u1;
	size_t comm_len;
};

static int seen_fn(const struct agg_sample *e, void *ctx)
{
	struct seen *s = ctx;

	s->count += e->count;
	s->value += e->value;
	s->n_u = e->n_ustack;
	s->n_k = e->n_kstack;
	s->k0 = e->n_kstack ? e->kstack[0] : 0;
	s->u0 = e->n_ustack ? e->ustack[0] : 0;
	s->u1 = e->n_ustack > 1 ? e->ustack[1] : 0;
	s->comm_len = strlen(e->comm);
	return 0;
}

/* An off-CPU record: a wait of wait_ns that ended at end_ns, standing for weight_ns. */
static void make_offcpu(struct sonde_sample *ev, uint32_t pid, uint64_t end_ns, uint64_t weight_ns,
			uint64_t wait_ns, char state)
{
	make_event(ev, pid, end_ns);
	ev->hdr.kind = SONDE_EV_OFFCPU;
	ev->hdr.value = weight_ns;
	ev->hdr.aux = wait_ns;
	ev->hdr.info = (uint32_t)(unsigned char)state;
}

/* Everything a session gathered, summed, and whether its entries carry tags. */
struct off_tally {
	uint64_t entries, count, value;
	uint64_t tagged, untagged; /* entries with and without a state letter */
	uint64_t tagged_value, untagged_value;
	uint64_t s_count, s_value, d_count, d_value;
	uint64_t min_count, max_count; /* per entry */
	uint64_t entries_of_3, entries_of_4;
};

static int off_tally_fn(const struct agg_sample *e, void *ctx)
{
	struct off_tally *t = ctx;

	if (t->entries == 0 || e->count < t->min_count)
		t->min_count = e->count;
	if (e->count > t->max_count)
		t->max_count = e->count;
	t->entries++;
	t->count += e->count;
	t->value += e->value;
	if (e->tag) {
		t->tagged++;
		t->tagged_value += e->value;
	} else {
		t->untagged++;
		t->untagged_value += e->value;
	}
	if (e->tag == 'S') {
		t->s_count += e->count;
		t->s_value += e->value;
	} else if (e->tag == 'D') {
		t->d_count += e->count;
		t->d_value += e->value;
	}
	if (e->count == 3)
		t->entries_of_3++;
	if (e->count == 4)
		t->entries_of_4++;
	return 0;
}

/* Closes a session and tallies what it gathered. */
static struct off_tally close_and_tally(struct collector *c, struct collector_session *s)
{
	struct off_tally t = {0};
	struct agg *a = collector__session_close(c, s);

	agg__for_each(a, off_tally_fn, &t);
	agg__free(a);
	return t;
}

static void test_dispatch(void)
{
	struct collector_session *all, *only7;
	struct collector_stats st;
	struct sonde_sample ev;
	struct collector *c;
	struct seen s1 = {0}, s2 = {0};
	struct agg *a;

	CHECK(collector__new(-1, &c) == 0);
	CHECK(collector__fd(c) == -1);
	CHECK(collector__drain(c) == 0);

	make_event(&ev, 7, 50);
	CHECK(collector__handle_event(c, &ev, sizeof(ev)) == 0); /* no session: dropped */

	CHECK(collector__session_open(c, 100, 200, 0, COLLECTOR_ONCPU, NULL, &all) == 0);
	CHECK(collector__session_open(c, 150, 300, 7, COLLECTOR_ONCPU, NULL, &only7) == 0);
	CHECK(collector__session_open(c, 10, 10, 0, COLLECTOR_ONCPU, NULL, &all) == -EINVAL);

	for (uint64_t ts = 90; ts < 310; ts += 10) {
		make_event(&ev, 7, ts);
		collector__handle_event(c, &ev, sizeof(ev));
		make_event(&ev, 8, ts);
		collector__handle_event(c, &ev, sizeof(ev));
	}
	/* Malformed: short, wrong kind. */
	CHECK(collector__handle_event(c, &ev, 10) == -EINVAL);
	ev.hdr.kind = 99;
	CHECK(collector__handle_event(c, &ev, sizeof(ev)) == -EINVAL);

	collector__stats(c, &st);
	CHECK_EQ_U64(st.sessions_open, 2);
	CHECK_EQ_U64(st.malformed, 2);
	CHECK_EQ_U64(st.events, 1 + 44 + 2);

	a = collector__session_close(c, all);
	agg__for_each(a, seen_fn, &s1);
	agg__free(a);
	/* [100, 200): ts 100..190, 10 timestamps x 2 pids. */
	CHECK_EQ_U64(s1.count, 20);
	CHECK_EQ_U64(s1.value, 2000);
	CHECK_EQ_U64(s1.n_k, 3);
	CHECK_EQ_U64(s1.n_u, 0);
	CHECK_EQ_U64(s1.comm_len, 15);

	collector__session_truncate(only7, 200);
	a = collector__session_close(c, only7);
	agg__for_each(a, seen_fn, &s2);
	agg__free(a);
	/* [150, 300) for pid 7, all read before the truncation: 15. */
	CHECK_EQ_U64(s2.count, 15);

	collector__stats(c, &st);
	CHECK_EQ_U64(st.sessions_open, 0);
	CHECK_EQ_U64(st.sessions_total, 2);
	CHECK_EQ_U64(st.dispatched, 35);
	collector__free(c);
	collector__free(NULL);
}

static void test_truncate_and_cancel(void)
{
	struct collector_session *s;
	struct collector_stats st;
	struct sonde_sample ev;
	struct collector *c;
	struct seen seen = {0};
	struct agg *a;

	CHECK(collector__new(-1, &c) == 0);
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_ONCPU, NULL, &s) == 0);
	collector__session_truncate(s, 500);
	collector__session_truncate(s, 900); /* never extends */
	make_event(&ev, 1, 400);
	collector__handle_event(c, &ev, sizeof(ev));
	make_event(&ev, 1, 600);
	collector__handle_event(c, &ev, sizeof(ev));
	a = collector__session_close(c, s);
	agg__for_each(a, seen_fn, &seen);
	agg__free(a);
	CHECK_EQ_U64(seen.count, 1);

	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_ONCPU, NULL, &s) == 0);
	collector__session_cancel(c, s);
	collector__session_cancel(c, NULL);
	collector__stats(c, &st);
	CHECK_EQ_U64(st.sessions_open, 0);
	/* Sessions left open are released with the collector. */
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_ONCPU, NULL, &s) == 0);
	collector__free(c);
}

static void test_overflow_counted(void)
{
	struct agg_opts opts = {.max_entries = 16};
	struct collector_session *s;
	struct collector_stats st;
	struct sonde_sample ev;
	struct collector *c;

	CHECK(collector__new(-1, &c) == 0);
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_ONCPU, &opts, &s) == 0);
	for (uint32_t pid = 1; pid <= 40; pid++) {
		make_event(&ev, pid, 1);
		collector__handle_event(c, &ev, sizeof(ev));
	}
	collector__stats(c, &st);
	CHECK_EQ_U64(st.agg_overflow, 24);
	collector__free(c);
}

/* Records are only as long as their stacks: the user frames follow the kernel ones. */
static void test_variable_records(void)
{
	struct collector_session *s;
	struct collector_stats st;
	struct sonde_sample ev;
	struct collector *c;
	struct seen seen = {0};
	size_t exact;
	struct agg *a;

	CHECK(collector__new(-1, &c) == 0);
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_ONCPU, NULL, &s) == 0);
	make_event(&ev, 3, 5);
	ev.hdr.kstack_sz = 2 * 8;
	ev.hdr.ustack_sz = 2 * 8;
	ev.frames[0] = 0xffffffff81000010ull;
	ev.frames[1] = 0xffffffff81000020ull;
	ev.frames[2] = 0x401000;
	ev.frames[3] = 0x402000;
	exact = sizeof(ev.hdr) + 32;
	CHECK(collector__handle_event(c, &ev, exact) == 0);
	CHECK(collector__handle_event(c, &ev, exact - 8) == -EINVAL); /* shorter than it says */
	ev.hdr.ustack_sz = 12;					      /* not whole frames */
	CHECK(collector__handle_event(c, &ev, exact) == -EINVAL);
	ev.hdr.ustack_sz = 128 * 8; /* more than the BPF side can write */
	CHECK(collector__handle_event(c, &ev, sizeof(ev)) == -EINVAL);
	CHECK(collector__handle_event(c, &ev, sizeof(ev.hdr) - 1) == -EINVAL);
	collector__stats(c, &st);
	CHECK_EQ_U64(st.malformed, 4);
	a = collector__session_close(c, s);
	agg__for_each(a, seen_fn, &seen);
	agg__free(a);
	CHECK_EQ_U64(seen.count, 1);
	CHECK_EQ_U64(seen.n_k, 2);
	CHECK_EQ_U64(seen.n_u, 2);
	CHECK_EQ_U64(seen.k0, 0xffffffff81000010ull);
	CHECK_EQ_U64(seen.u0, 0x401000);
	CHECK_EQ_U64(seen.u1, 0x402000);
	collector__free(c);
}

/* Each session takes only the kinds it asked for; a wall session takes both. */
static void test_offcpu_kinds(void)
{
	struct collector_session *on, *off, *wall, *only9;
	struct collector_stats st;
	struct sonde_sample ev;
	struct collector *c;
	struct off_tally t;

	CHECK(collector__new(-1, &c) == 0);
	CHECK(collector__session_open(c, 0, 1000, 0, 0, NULL, &on) == -EINVAL); /* no kinds */
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_ONCPU, NULL, &on) == 0);
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_OFFCPU, NULL, &off) == 0);
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_ONCPU | COLLECTOR_OFFCPU, NULL,
				      &wall) == 0);
	CHECK(collector__session_open(c, 0, 1000, 9, COLLECTOR_OFFCPU, NULL, &only9) == 0);

	for (int i = 0; i < 3; i++) {
		make_event(&ev, 5, 500); /* on-CPU, value 100 */
		CHECK(collector__handle_event(c, &ev, sizeof(ev)) == 0);
	}
	for (int i = 0; i < 2; i++) {
		make_offcpu(&ev, 5, 600, 40, 40, 'S');
		CHECK(collector__handle_event(c, &ev, sizeof(ev)) == 0);
	}
	make_offcpu(&ev, 9, 700, 7, 7, 'D');
	CHECK(collector__handle_event(c, &ev, sizeof(ev)) == 0);

	collector__stats(c, &st);
	CHECK_EQ_U64(st.events, 6);
	CHECK_EQ_U64(st.offcpu_events, 3);
	CHECK_EQ_U64(st.malformed, 0);
	/* on: 3; off: 3; wall: 6; only9: 1. */
	CHECK_EQ_U64(st.dispatched, 13);

	t = close_and_tally(c, on);
	CHECK_EQ_U64(t.count, 3);
	CHECK_EQ_U64(t.value, 300);
	CHECK_EQ_U64(t.tagged, 0);

	t = close_and_tally(c, off);
	CHECK_EQ_U64(t.entries, 2);
	CHECK_EQ_U64(t.count, 3);
	CHECK_EQ_U64(t.value, 87);
	CHECK_EQ_U64(t.untagged, 0);
	CHECK_EQ_U64(t.s_count, 2);
	CHECK_EQ_U64(t.s_value, 80);
	CHECK_EQ_U64(t.d_count, 1);
	CHECK_EQ_U64(t.d_value, 7);

	t = close_and_tally(c, wall);
	CHECK_EQ_U64(t.entries, 3);
	CHECK_EQ_U64(t.count, 6);
	CHECK_EQ_U64(t.untagged, 1);
	CHECK_EQ_U64(t.untagged_value, 300);
	CHECK_EQ_U64(t.tagged, 2);
	CHECK_EQ_U64(t.tagged_value, 87);

	t = close_and_tally(c, only9);
	CHECK_EQ_U64(t.count, 1);
	CHECK_EQ_U64(t.d_value, 7);
	CHECK_EQ_U64(t.s_count, 0);
	collector__free(c);
}

/* A wait counts only for its part inside each session, and only in sessions its end falls in. */
static void test_offcpu_clipping(void)
{
	struct collector_session *a, *b, *late;
	struct collector_stats st;
	struct sonde_sample ev;
	struct collector *c;
	struct off_tally t;

	CHECK(collector__new(-1, &c) == 0);
	CHECK(collector__session_open(c, 100, 200, 0, COLLECTOR_OFFCPU, NULL, &a) == 0);
	CHECK(collector__session_open(c, 0, 200, 0, COLLECTOR_OFFCPU, NULL, &b) == 0);
	CHECK(collector__session_open(c, 1000100, 1000200, 0, COLLECTOR_OFFCPU, NULL, &late) == 0);

	make_offcpu(&ev, 1, 150, 100, 100, 'S'); /* [50, 150): a 50, b 100 */
	collector__handle_event(c, &ev, sizeof(ev));
	make_offcpu(&ev, 1, 180, 30, 30, 'S'); /* [150, 180): 30 in both */
	collector__handle_event(c, &ev, sizeof(ev));
	make_offcpu(&ev, 1, 250, 100, 100, 'S'); /* ends after both: neither */
	collector__handle_event(c, &ev, sizeof(ev));
	make_offcpu(&ev, 1, 200, 40, 40, 'S'); /* ends at the (exclusive) end: neither */
	collector__handle_event(c, &ev, sizeof(ev));
	make_offcpu(&ev, 1, 100, 50, 50, 'S'); /* [50, 100): nothing of a, 50 of b */
	collector__handle_event(c, &ev, sizeof(ev));
	make_offcpu(&ev, 1, 1000150, 1000000, 1000000, 'D'); /* began long before late: 50 */
	collector__handle_event(c, &ev, sizeof(ev));

	collector__stats(c, &st);
	CHECK_EQ_U64(st.offcpu_events, 6);
	/* A record clipped to nothing is not dispatched to that session. */
	CHECK_EQ_U64(st.dispatched, 2 + 2 + 1 + 1);

	t = close_and_tally(c, a);
	CHECK_EQ_U64(t.value, 80);
	CHECK_EQ_U64(t.count, 2);
	t = close_and_tally(c, b);
	CHECK_EQ_U64(t.value, 180);
	CHECK_EQ_U64(t.count, 3);
	t = close_and_tally(c, late);
	CHECK_EQ_U64(t.value, 50);
	CHECK_EQ_U64(t.count, 1);
	CHECK_EQ_U64(t.d_value, 50);
	collector__free(c);
}

/*
 * A short wait kept by sampling stands for value/aux waits and keeps its whole
 * weight: only its end decides which sessions see it.
 */
static void test_offcpu_sampled(void)
{
	const uint32_t n = 30000;
	struct collector_session *s;
	struct sonde_sample ev;
	struct collector *c;
	struct off_tally t;
	double mean;

	CHECK(collector__new(-1, &c) == 0);
	/* 1000 / 100: exactly 10 each, never clipped though [10, 110) starts before 100. */
	CHECK(collector__session_open(c, 100, 200, 0, COLLECTOR_OFFCPU, NULL, &s) == 0);
	for (uint32_t i = 0; i < 100; i++) {
		make_offcpu(&ev, 1, 110, 1000, 100, 'S');
		ev.hdr.tid = 1000 + i; /* one entry per record */
		collector__handle_event(c, &ev, sizeof(ev));
	}
	t = close_and_tally(c, s);
	CHECK_EQ_U64(t.entries, 100);
	CHECK_EQ_U64(t.min_count, 10);
	CHECK_EQ_U64(t.max_count, 10);
	CHECK_EQ_U64(t.value, 100 * 1000);

	/* 1000 / 300: 3 or 4 each, at random, 10/3 on average. */
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_OFFCPU, NULL, &s) == 0);
	for (uint32_t i = 0; i < n; i++) {
		make_offcpu(&ev, 1, 500, 1000, 300, 'D');
		ev.hdr.tid = 1000 + i;
		collector__handle_event(c, &ev, sizeof(ev));
	}
	t = close_and_tally(c, s);
	CHECK_EQ_U64(t.entries, n);
	CHECK_EQ_U64(t.entries_of_3 + t.entries_of_4, n);
	CHECK(t.entries_of_3 > 0 && t.entries_of_4 > 0);
	CHECK_EQ_U64(t.value, (uint64_t)n * 1000);
	mean = (double)t.count / n;
	if (mean < 10.0 / 3 * 0.98 || mean > 10.0 / 3 * 1.02)
		fprintf(stderr, "mean count per 1000/300 record: %f\n", mean);
	CHECK(mean >= 10.0 / 3 * 0.98 && mean <= 10.0 / 3 * 1.02);
	collector__free(c);
}

/* The state letter is the tag: S and D waits at one stack stay apart. */
static void test_offcpu_states(void)
{
	struct collector_session *s;
	struct sonde_sample ev;
	struct collector *c;
	struct off_tally t;

	CHECK(collector__new(-1, &c) == 0);
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_OFFCPU, NULL, &s) == 0);
	for (int i = 0; i < 2; i++) {
		make_offcpu(&ev, 3, 500, 30, 30, 'S');
		collector__handle_event(c, &ev, sizeof(ev));
	}
	for (int i = 0; i < 3; i++) {
		make_offcpu(&ev, 3, 500, 20, 20, 'D');
		collector__handle_event(c, &ev, sizeof(ev));
	}
	make_offcpu(&ev, 3, 500, 5, 5, 'I');
	collector__handle_event(c, &ev, sizeof(ev));
	t = close_and_tally(c, s);
	CHECK_EQ_U64(t.entries, 3);
	CHECK_EQ_U64(t.untagged, 0);
	CHECK_EQ_U64(t.s_count, 2);
	CHECK_EQ_U64(t.s_value, 60);
	CHECK_EQ_U64(t.d_count, 3);
	CHECK_EQ_U64(t.d_value, 60);
	CHECK_EQ_U64(t.value, 125);
	collector__free(c);
}

/* offcpu_events counts valid off-CPU records, with or without sessions; other kinds are bad. */
static void test_offcpu_stats_and_kinds(void)
{
	/* 0 is no kind; 32 and up would not even fit the kinds mask. */
	const uint32_t bad_kinds[] = {0, 32, 33, 1000, UINT32_MAX};
	struct collector_stats st;
	struct sonde_sample ev;
	struct collector *c;

	CHECK(collector__new(-1, &c) == 0);
	make_offcpu(&ev, 1, 10, 5, 5, 'S');
	CHECK(collector__handle_event(c, &ev, sizeof(ev)) == 0);
	CHECK(collector__handle_event(c, &ev, sizeof(ev.hdr) + 3 * 8) == 0);
	make_event(&ev, 1, 10);
	CHECK(collector__handle_event(c, &ev, sizeof(ev)) == 0);
	collector__stats(c, &st);
	CHECK_EQ_U64(st.events, 3);
	CHECK_EQ_U64(st.offcpu_events, 2);
	CHECK_EQ_U64(st.dispatched, 0);

	for (size_t i = 0; i < sizeof(bad_kinds) / sizeof(bad_kinds[0]); i++) {
		make_offcpu(&ev, 1, 10, 5, 5, 'S');
		ev.hdr.kind = bad_kinds[i];
		CHECK(collector__handle_event(c, &ev, sizeof(ev)) == -EINVAL);
	}
	/* A malformed off-CPU record is counted as malformed, not as an off-CPU one. */
	make_offcpu(&ev, 1, 10, 5, 5, 'S');
	ev.hdr.kstack_sz = 12;
	CHECK(collector__handle_event(c, &ev, sizeof(ev)) == -EINVAL);
	collector__stats(c, &st);
	CHECK_EQ_U64(st.events, 3 + 5 + 1);
	CHECK_EQ_U64(st.malformed, 6);
	CHECK_EQ_U64(st.offcpu_events, 2);
	collector__free(c);
}

static void test_clock(void)
{
	uint64_t a = collector__now_ns(), b = collector__now_ns();

	CHECK(a > 0 && b >= a);
}

/* A wall session counts on-CPU samples in nanoseconds, whatever their event's unit. */
static void test_oncpu_value_override(void)
{
	struct collector_session *wall, *cpu;
	struct agg_opts one = {.max_entries = 1};
	struct sonde_sample ev;
	struct collector *c;
	struct seen sw = {0}, sc = {0};
	struct agg *a;

	CHECK(collector__new(-1, &c) == 0);
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_ONCPU | COLLECTOR_OFFCPU, &one,
				      &wall) == 0);
	collector__session_set_oncpu_value(wall, 10101010);
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_ONCPU, NULL, &cpu) == 0);
	/* Three samples of the cycles event, each worth 25 M cycles; the table of the
	 * wall session holds one entry, so two of them land in its overflow entry. */
	for (uint64_t i = 0; i < 3; i++) {
		make_event(&ev, 7, 10 + i);
		ev.hdr.value = 25000000;
		ev.frames[0] += i;
		CHECK(collector__handle_event(c, &ev, sizeof(ev)) == 0);
	}
	a = collector__session_close(c, wall);
	agg__for_each(a, seen_fn, &sw);
	agg__free(a);
	a = collector__session_close(c, cpu);
	agg__for_each(a, seen_fn, &sc);
	agg__free(a);
	CHECK_EQ_U64(sw.count, 3);
	CHECK_EQ_U64(sw.value, 3 * 10101010ull);
	CHECK_EQ_U64(sc.value, 3 * 25000000ull);
	collector__free(c);
}

/* /offcpu leaves preempted (R) waits out unless asked; /wall keeps them. */
static void test_skip_state(void)
{
	struct collector_session *off, *wall;
	struct sonde_sample ev;
	struct collector *c;
	struct seen so = {0}, sw = {0};
	struct agg *a;

	CHECK(collector__new(-1, &c) == 0);
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_OFFCPU, NULL, &off) == 0);
	collector__session_skip_state(off, SONDE_STATE_R);
	CHECK(collector__session_open(c, 0, 1000, 0, COLLECTOR_ONCPU | COLLECTOR_OFFCPU, NULL,
				      &wall) == 0);
	make_offcpu(&ev, 7, 500, 100, 100, 'R');
	CHECK(collector__handle_event(c, &ev, sizeof(ev)) == 0);
	make_offcpu(&ev, 7, 600, 40, 40, 'S');
	CHECK(collector__handle_event(c, &ev, sizeof(ev)) == 0);
	a = collector__session_close(c, off);
	agg__for_each(a, seen_fn, &so);
	agg__free(a);
	a = collector__session_close(c, wall);
	agg__for_each(a, seen_fn, &sw);
	agg__free(a);
	CHECK_EQ_U64(so.value, 40);
	CHECK_EQ_U64(sw.value, 140);
	collector__free(c);
}

/* Block-I/O records: one per completed request, keyed by disk, op and sync. */
struct bio_seen {
	uint64_t entries, count, latency, bytes, reads, writes;
	uint64_t tags[4];
};

static int bio_seen_fn(const struct agg_sample *e, void *ctx)
{
	struct bio_seen *b = ctx;

	if (b->entries < 4)
		b->tags[b->entries] = e->tag;
	b->entries++;
	b->count += e->count;
	b->latency += e->value;
	b->bytes += e->value2;
	if ((e->tag & SONDE_BIO_OP_MASK) == SONDE_BIO_OP_READ)
		b->reads += e->count;
	if ((e->tag & SONDE_BIO_OP_MASK) == SONDE_BIO_OP_WRITE)
		b->writes += e->count;
	return 0;
}

/*
 * One block-I/O request as the BPF program reports it: its start record
 * (stacks, names, operation, disk; aux the request's address) and then its
 * completion record.
 */
static void blockio_start(struct collector *c, uint64_t rq, uint64_t start, uint32_t op,
			  uint32_t weight, uint32_t devt)
{
	struct sonde_sample ev;

	make_event(&ev, 9, start);
	ev.hdr.kind = SONDE_EV_BLOCKIO;
	ev.hdr.value = 0;
	ev.hdr.aux = rq;
	ev.hdr.info = op | SONDE_BIO_SYNC | weight << SONDE_BIO_WEIGHT_SHIFT;
	ev.hdr.info2 = devt;
	/* As long as its stacks: the collector must keep no more than it got. */
	CHECK(collector__handle_event(c, &ev, sizeof(ev.hdr) + 3 * 8) == 0);
}

static void blockio_done(struct collector *c, uint64_t rq, uint64_t start, uint64_t end,
			 uint64_t bytes)
{
	struct sonde_blockio_done d = {
		.kind = SONDE_EV_BLOCKIO_DONE,
		.rq = rq,
		.start_ns = start,
		.end_ns = end,
		.bytes = bytes,
	};

	CHECK(collector__handle_event(c, &d, sizeof(d)) == 0);
}

static void blockio_request(struct collector *c, uint64_t rq, uint64_t end, uint32_t op,
			    uint32_t weight, uint32_t devt, uint64_t latency, uint64_t bytes)
{
	blockio_start(c, rq, end - latency, op, weight, devt);
	blockio_done(c, rq, end - latency, end, bytes);
}

static void test_blockio_records(void)
{
	const uint32_t vda = 254u << 20, sdb = 8u << 20 | 16;
	const uint64_t t0 = 1000000, t1 = 2000000;
	struct collector_session *bio, *cpu, *off;
	struct bio_seen b = {0}, other = {0};
	struct collector_stats st;
	struct collector *c;
	struct agg *a;

	CHECK(collector__new(-1, &c) == 0);
	CHECK(collector__session_open(c, t0, t1, 0, COLLECTOR_BLOCKIO, NULL, &bio) == 0);
	CHECK(collector__session_open(c, t0, t1, 0, COLLECTOR_ONCPU, NULL, &cpu) == 0);
	CHECK(collector__session_open(c, t0, t1, 0, COLLECTOR_OFFCPU, NULL, &off) == 0);
	/* Three reads of 4 KiB on vda, one of them standing for 5 (kept by sampling). */
	blockio_request(c, 0xa000, t0 + 110000, SONDE_BIO_OP_READ, 1, vda, 50000, 4096);
	/* weight 0 reads as 1 */
	blockio_request(c, 0xa100, t0 + 120000, SONDE_BIO_OP_READ, 0, vda, 70000, 4096);
	blockio_request(c, 0xa200, t0 + 130000, SONDE_BIO_OP_READ, 5, vda, 60000, 4096);
	/* A write of 64 KiB on vda and one on sdb: other entries. */
	blockio_request(c, 0xa300, t0 + 140000, SONDE_BIO_OP_WRITE, 1, vda, 90000, 65536);
	blockio_request(c, 0xa400, t0 + 150000, SONDE_BIO_OP_WRITE, 1, sdb, 80000, 65536);
	/* Completed after the window: not in it, whenever it started. */
	blockio_request(c, 0xa500, t1, SONDE_BIO_OP_READ, 1, vda, 150, 4096);

	collector__stats(c, &st);
	CHECK_EQ_U64(st.blockio_events, 12);
	CHECK_EQ_U64(st.blockio_pending, 0);
	CHECK_EQ_U64(st.blockio_unmatched, 0);
	CHECK_EQ_U64(st.offcpu_events, 0);
	CHECK_EQ_U64(st.malformed, 0);
	a = collector__session_close(c, bio);
	agg__for_each(a, bio_seen_fn, &b);
	agg__free(a);
	CHECK_EQ_U64(b.entries, 3);
	CHECK_EQ_U64(b.count, 1 + 1 + 5 + 1 + 1);
	CHECK_EQ_U64(b.reads, 7);
	CHECK_EQ_U64(b.writes, 2);
	CHECK_EQ_U64(b.bytes, 7 * 4096 + 2 * 65536);
	CHECK_EQ_U64(b.latency, 50000 + 70000 + 5 * 60000 + 90000 + 80000);
	CHECK_EQ_U64(b.tags[0], (uint64_t)vda << 32 | SONDE_BIO_OP_READ | SONDE_BIO_SYNC);
	CHECK_EQ_U64(b.tags[2], (uint64_t)sdb << 32 | SONDE_BIO_OP_WRITE | SONDE_BIO_SYNC);
	/* Sessions of other kinds take none of them. */
	a = collector__session_close(c, cpu);
	agg__for_each(a, bio_seen_fn, &other);
	agg__free(a);
	a = collector__session_close(c, off);
	agg__for_each(a, bio_seen_fn, &other);
	agg__free(a);
	CHECK_EQ_U64(other.entries, 0);
	collector__free(c);
}

/*
 * The join of start and completion records: by address and start time, in
 * the window of the completion, across sessions opened in between.
 */
static void test_blockio_join(void)
{
	const uint32_t vda = 254u << 20;
	struct collector_session *first, *second;
	struct bio_seen b1 = {0}, b2 = {0};
	struct sonde_blockio_done short_done = {.kind = SONDE_EV_BLOCKIO_DONE};
	struct collector_stats st;
	struct sonde_sample big;
	struct collector *c;
	struct agg *a;

	CHECK(collector__new(-1, &c) == 0);
	/* Started while no session was open: still joined when it completes in one. */
	blockio_start(c, 0xb000, 500, SONDE_BIO_OP_READ, 1, vda);
	/* Two requests in turn at one address, the first still pending (merged away). */
	blockio_start(c, 0xb100, 600, SONDE_BIO_OP_WRITE, 1, vda);
	blockio_start(c, 0xb100, 700, SONDE_BIO_OP_READ, 3, vda);
	collector__stats(c, &st);
	CHECK_EQ_U64(st.blockio_pending, 3);

	CHECK(collector__session_open(c, 1000, 2000, 0, COLLECTOR_BLOCKIO, NULL, &first) == 0);
	CHECK(collector__session_open(c, 2000, 3000, 0, COLLECTOR_BLOCKIO, NULL, &second) == 0);
	blockio_done(c, 0xb000, 500, 1500, 4096);
	blockio_done(c, 0xb100, 700, 2500, 8192);
	/* Started in the first window, completed in the second: the second's. */
	blockio_start(c, 0xb200, 1800, SONDE_BIO_OP_READ, 1, vda);
	blockio_done(c, 0xb200, 1800, 2100, 512);
	/* A completion whose start was never seen, and one whose start is gone. */
	blockio_done(c, 0xb300, 1100, 1200, 4096);
	blockio_done(c, 0xb000, 500, 1600, 4096);
	/* Records too short for what they say they are. */
	CHECK(collector__handle_event(c, &short_done, sizeof(short_done) - 8) == -EINVAL);
	make_event(&big, 9, 1700);
	big.hdr.kind = SONDE_EV_BLOCKIO;
	big.hdr.kstack_sz = 16;
	CHECK(collector__handle_event(c, &big, sizeof(big.hdr) + 8) == -EINVAL);

	collector__stats(c, &st);
	CHECK_EQ_U64(st.blockio_pending, 1); /* the merged-away write */
	CHECK_EQ_U64(st.blockio_unmatched, 2);
	CHECK_EQ_U64(st.malformed, 2);
	a = collector__session_close(c, first);
	agg__for_each(a, bio_seen_fn, &b1);
	agg__free(a);
	CHECK_EQ_U64(b1.count, 1);
	CHECK_EQ_U64(b1.latency, 1000);
	CHECK_EQ_U64(b1.bytes, 4096);
	a = collector__session_close(c, second);
	agg__for_each(a, bio_seen_fn, &b2);
	agg__free(a);
	CHECK_EQ_U64(b2.count, 3 + 1);
	CHECK_EQ_U64(b2.reads, 4);
	CHECK_EQ_U64(b2.writes, 0);
	CHECK_EQ_U64(b2.latency, 3 * 1800 + 300);
	CHECK_EQ_U64(b2.bytes, 3 * 8192 + 512);
	collector__free(c); /* frees the pending write */
}

int main(void)
{
	test_dispatch();
	test_skip_state();
	test_oncpu_value_override();
	test_truncate_and_cancel();
	test_overflow_counted();
	test_variable_records();
	test_offcpu_kinds();
	test_offcpu_clipping();
	test_offcpu_sampled();
	test_offcpu_states();
	test_offcpu_stats_and_kinds();
	test_clock();
	test_blockio_records();
	test_blockio_join();
	return test__finish("test_collector");
}
