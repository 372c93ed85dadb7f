// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
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

static void test_clock(void)
{
	uint64_t a = collector__now_ns(), b = collector__now_ns();

	CHECK(a > 0 && b >= a);
}

int main(void)
{
	test_dispatch();
	test_truncate_and_cancel();
	test_overflow_counted();
	test_variable_records();
	test_clock();
	return test__finish("test_collector");
}
