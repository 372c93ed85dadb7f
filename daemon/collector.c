// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "biojoin.h"
#include "clock.h"
#include "collector.h"
#include "log.h"
#include "sonde_events.h"
#include "unwinder.h"

/*
 * Block-I/O start records waiting for their completion: as many as the BPF
 * in-flight table has slots by default, though only kept requests hold one.
 * The rest is room for requests merged away unseen, which never complete.
 */
#define COLLECTOR_BLOCKIO_PENDING 4096

struct collector_session {
	uint64_t start_ns;
	uint64_t end_ns;
	uint32_t pid;
	uint32_t kinds;
	uint64_t oncpu_value; /* what an on-CPU sample adds; 0: its period */
	uint32_t skip_tag;    /* off-CPU waits with this state letter are left out; 0: none */
	struct agg *agg;
	struct collector_session *next;
};

struct collector {
	struct ring_buffer *rb;
	struct collector_session *sessions;
	struct collector_stats stats;
	uint64_t rng; /* xorshift state for unbiased rounding of sampled counts */
	collector_new_mm_fn new_mm_fn;
	void *new_mm_ctx;
	struct unwinder *unwinder; /* NULL: user stacks as the frame pointers gave them */
	collector_stack_top_fn stack_top_fn;
	void *stack_top_ctx;
	uint64_t ustack[SONDE_MAX_STACK_DEPTH]; /* the stack the unwinder made of a record */
	struct biojoin *bio;			/* block-I/O start records by request */
	struct sonde_sample bio_rec;		/* a completed request's start record */
};

void collector__set_unwinder(struct collector *c, struct unwinder *u)
{
	c->unwinder = u;
}

void collector__set_stack_top_fn(struct collector *c, collector_stack_top_fn fn, void *ctx)
{
	c->stack_top_fn = fn;
	c->stack_top_ctx = ctx;
}

/*
 * Slack above the highest word an unwinding read: another sample of the
 * thread may evaluate its outermost frames a word or two higher.
 */
#define STACK_TOP_SLACK 64

/*
 * Tells the BPF side what a record's unwinding taught of its thread's stack
 * top: learnt when a full copy reached the outermost frame, withdrawn when a
 * copy cut at the learnt top did not (the thread's stack changed: a new
 * thread with the tid, a stack switch).
 */
static void stack_top_feedback(struct collector *c, const struct sonde_sample_hdr *hdr,
			       const struct sonde_ustack_copy *copy,
			       const struct unwinder_result *res)
{
	bool to_top = copy->flags & SONDE_UCOPY_TO_TOP;

	if (to_top)
		c->stats.copies_to_top++;
	if (!c->stack_top_fn)
		return;
	if (!to_top && res->outermost && copy->copy_sz) {
		uint64_t top = (res->top + STACK_TOP_SLACK + 15) & ~15ull;

		c->stats.stack_tops_learnt++;
		c->stack_top_fn(c->stack_top_ctx, hdr->tid, copy->mm_tag, top);
	} else if (to_top && !res->outermost) {
		c->stats.stack_tops_cleared++;
		c->stack_top_fn(c->stack_top_ctx, hdr->tid, copy->mm_tag, 0);
	}
}

void collector__set_new_mm_fn(struct collector *c, collector_new_mm_fn fn, void *ctx)
{
	c->new_mm_fn = fn;
	c->new_mm_ctx = ctx;
}

uint64_t collector__now_ns(void)
{
	return clock__monotonic_ns();
}

static int on_ringbuf_record(void *ctx, void *data, size_t size)
{
	collector__handle_event(ctx, data, size);
	return 0; /* a bad record must not stop the drain */
}

int collector__new(int ringbuf_fd, struct collector **out)
{
	struct collector *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->rng = collector__now_ns() | 1;
	c->bio = biojoin__new(COLLECTOR_BLOCKIO_PENDING);
	if (!c->bio) {
		err = -ENOMEM;
		goto err_free_collector;
	}
	if (ringbuf_fd >= 0) {
		c->rb = ring_buffer__new(ringbuf_fd, on_ringbuf_record, c, NULL);
		if (!c->rb) {
			err = -errno;
			goto err_free_biojoin;
		}
	}
	*out = c;
	return 0;

err_free_biojoin:
	biojoin__free(c->bio);
err_free_collector:
	free(c);
	return err;
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	while (c->sessions)
		collector__session_cancel(c, c->sessions);
	ring_buffer__free(c->rb);
	biojoin__free(c->bio);
	free(c);
}

int collector__add_ringbuf(struct collector *c, int ringbuf_fd)
{
	if (!c->rb)
		return -EINVAL;
	return ring_buffer__add(c->rb, ringbuf_fd, on_ringbuf_record, c);
}

int collector__fd(const struct collector *c)
{
	return c->rb ? ring_buffer__epoll_fd(c->rb) : -1;
}

int collector__drain(struct collector *c)
{
	int n;

	if (!c->rb)
		return 0;
	n = ring_buffer__consume(c->rb);
	if (n < 0)
		c->stats.read_errors++;
	return n;
}

static size_t bounded_strlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

static uint64_t next_random(struct collector *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

/*
 * How many waits an off-CPU record stands for. A short wait kept with
 * probability p = wait/min stands for 1/p waits (value/aux); fractions are
 * rounded up or down at random so that the expected count stays exact.
 */
static uint64_t offcpu_count(struct collector *c, uint64_t weight_ns, uint64_t wait_ns)
{
	uint64_t whole, rem;

	if (wait_ns == 0 || weight_ns <= wait_ns)
		return 1;
	whole = weight_ns / wait_ns;
	rem = weight_ns % wait_ns;
	return whole + (next_random(c) % wait_ns < rem ? 1 : 0);
}

/*
 * The part of an off-CPU record inside a session: a wait of `wait` that
 * ended at `end` covers [end - wait, end). Short waits kept by sampling carry
 * more weight than their length, so only their end decides.
 */
static uint64_t offcpu_overlap(const struct collector_session *ses,
			       const struct sonde_sample_hdr *h)
{
	uint64_t from, to;

	if (h->value != h->aux || h->aux > h->ts_ns)
		return h->value;
	from = h->ts_ns - h->aux;
	to = h->ts_ns;
	if (from < ses->start_ns)
		from = ses->start_ns;
	if (to > ses->end_ns)
		to = ses->end_ns;
	return to > from ? to - from : 0;
}

/* The record kinds the ring buffers carry. */
static bool known_kind(uint32_t kind)
{
	return kind == SONDE_EV_ONCPU || kind == SONDE_EV_OFFCPU || kind == SONDE_EV_BLOCKIO ||
	       kind == SONDE_EV_BLOCKIO_DONE;
}

/*
 * Unwinds a record's stack copy into c->ustack, with its frame-pointer frames
 * (fp, n_fp) as the fallback, and tells the stack-top callback what it
 * learnt. Returns the number of frames.
 */
static size_t unwind_copy(struct collector *c, const struct sonde_sample *ev, const uint64_t *fp,
			  size_t n_fp, const struct sonde_ustack_copy *copy)
{
	struct unwinder_input in = {
		.pid = ev->hdr.pid,
		.start_ns = ev->hdr.start_ns,
		.ip = copy->ip,
		.sp = copy->sp,
		.bp = copy->bp,
		.stack = (const uint8_t *)(copy + 1),
		.stack_len = copy->copy_sz,
		.fp_frames = fp,
		.n_fp = n_fp,
	};
	struct unwinder_result res;
	size_t n;

	n = unwinder__unwind(c->unwinder, &in, c->ustack, SONDE_MAX_STACK_DEPTH, &res);
	stack_top_feedback(c, &ev->hdr, copy, &res);
	return n;
}

/*
 * A block-I/O start record waits in the join as a struct sonde_sample: one
 * that carries a stack copy is unwound now, while its process runs, and
 * kept with the unwound frames in place of the frame-pointer ones (or
 * without the copy when there is no unwinder).
 */
static void blockio_start(struct collector *c, const struct sonde_sample *ev, size_t size,
			  size_t kbytes, size_t ubytes, const struct sonde_ustack_copy *copy)
{
	struct sonde_sample *rec = &c->bio_rec;
	size_t n;

	if (copy) {
		memcpy(rec, ev, sizeof(ev->hdr) + kbytes);
		n = ubytes / 8;
		if (c->unwinder) {
			n = unwind_copy(c, ev, (const uint64_t *)ev->frames + kbytes / 8, n, copy);
			memcpy(rec->frames + kbytes / 8, c->ustack, n * 8);
		} else {
			memcpy(rec->frames + kbytes / 8, ev->frames + kbytes / 8, n * 8);
		}
		rec->hdr.ustack_sz = (int32_t)(n * 8);
		ev = rec;
		size = sizeof(ev->hdr) + kbytes + n * 8;
	}
	/* Kept until its completion, whether or not a session is open now. */
	if (biojoin__add(c->bio, ev, size) == -ENOMEM)
		c->stats.blockio_nomem++;
}

/*
 * Hands a sample record, checked, to every session it belongs to. A block-I/O
 * record here is a start record completed by the join: ts_ns the completion,
 * value the latency and aux the bytes.
 */
static void dispatch(struct collector *c, const struct sonde_sample *ev, size_t kbytes,
		     size_t ubytes, const struct sonde_ustack_copy *copy)
{
	char comm[SONDE_COMM_LEN + 1], thread_name[SONDE_COMM_LEN + 1];
	struct agg_sample s = {0};
	uint32_t kind_bit, weight;
	bool offcpu = ev->hdr.kind == SONDE_EV_OFFCPU;
	size_t n;

	n = bounded_strlen(ev->hdr.comm, SONDE_COMM_LEN);
	memcpy(comm, ev->hdr.comm, n);
	comm[n] = '\0';
	n = bounded_strlen(ev->hdr.thread_name, SONDE_COMM_LEN);
	memcpy(thread_name, ev->hdr.thread_name, n);
	thread_name[n] = '\0';

	s.pid = ev->hdr.pid;
	s.tid = ev->hdr.tid;
	s.start_ns = ev->hdr.start_ns;
	s.cgroup_id = ev->hdr.cgroup_id;
	s.comm = comm;
	s.thread_name = thread_name;
	/* Ring-buffer records are 8-byte aligned, so the frames are read in place. */
	s.kstack = (const uint64_t *)ev->frames;
	s.n_kstack = (uint32_t)(kbytes / 8);
	s.ustack = s.kstack + s.n_kstack;
	s.n_ustack = (uint32_t)(ubytes / 8);
	if (copy && c->unwinder) {
		s.n_ustack = (uint32_t)unwind_copy(c, ev, s.ustack, s.n_ustack, copy);
		s.ustack = c->ustack;
	}
	s.count = 1;
	s.value = ev->hdr.value;
	kind_bit = 1u << ev->hdr.kind;
	if (offcpu) {
		/* The state letter keeps S and D waits apart; on-CPU entries have none. */
		s.tag = ev->hdr.info & 0xff;
		s.count = offcpu_count(c, ev->hdr.value, ev->hdr.aux);
	} else if (ev->hdr.kind == SONDE_EV_BLOCKIO) {
		/*
		 * The disk, the operation and the sync flag keep requests apart; a
		 * record kept by rate sampling stands for weight requests.
		 */
		weight = ev->hdr.info >> SONDE_BIO_WEIGHT_SHIFT;
		if (!weight)
			weight = 1;
		s.tag = (uint64_t)ev->hdr.info2 << 32 |
			(ev->hdr.info & (SONDE_BIO_OP_MASK | SONDE_BIO_SYNC));
		s.count = weight;
		s.value = ev->hdr.value * weight;
		s.value2 = ev->hdr.aux * weight;
	}

	for (struct collector_session *ses = c->sessions; ses; ses = ses->next) {
		if (!(ses->kinds & kind_bit))
			continue;
		if (ev->hdr.ts_ns < ses->start_ns || ev->hdr.ts_ns >= ses->end_ns)
			continue;
		if (ses->pid && ses->pid != s.pid)
			continue;
		if (offcpu) {
			if (ses->skip_tag && s.tag == ses->skip_tag)
				continue;
			s.value = offcpu_overlap(ses, &ev->hdr);
			if (!s.value)
				continue;
		} else if (ev->hdr.kind == SONDE_EV_ONCPU) {
			s.value = ses->oncpu_value ? ses->oncpu_value : ev->hdr.value;
		}
		c->stats.dispatched++;
		if (agg__add(ses->agg, &s) == -ENOSPC)
			c->stats.agg_overflow++;
	}
}

/*
 * Checks a sample record's stack sizes against its size and finds the
 * user-stack copy it may carry. 0 or -EINVAL.
 */
static int sample_layout(const struct sonde_sample *ev, size_t size, size_t *kbytes, size_t *ubytes,
			 const struct sonde_ustack_copy **copy)
{
	size_t rest;

	/* bpf_get_stack() sizes are bytes, or a negative errno: no frames then. */
	*kbytes = ev->hdr.kstack_sz > 0 ? (size_t)ev->hdr.kstack_sz : 0;
	*ubytes = ev->hdr.ustack_sz > 0 ? (size_t)ev->hdr.ustack_sz : 0;
	if (*kbytes > SONDE_STACK_BYTES || *ubytes > SONDE_STACK_BYTES || *kbytes % 8 ||
	    *ubytes % 8 || size < sizeof(ev->hdr) + *kbytes + *ubytes)
		return -EINVAL;
	/* The user-stack copy, when the record carries one, follows the user frames. */
	*copy = NULL;
	rest = size - sizeof(ev->hdr) - *kbytes - *ubytes;
	if (rest >= sizeof(**copy)) {
		*copy = (const void *)((const char *)ev + sizeof(ev->hdr) + *kbytes + *ubytes);
		if ((*copy)->copy_sz > rest - sizeof(**copy) || (*copy)->copy_sz > SONDE_UCOPY_MAX)
			return -EINVAL;
	}
	return 0;
}

/*
 * A block-I/O completion: its start record, out of the join, becomes the
 * request's sample, in the window of the completion.
 */
static void blockio_done(struct collector *c, const struct sonde_blockio_done *d)
{
	const struct sonde_ustack_copy *copy;
	struct sonde_sample *rec = &c->bio_rec;
	size_t size, kbytes, ubytes;

	if (biojoin__take(c->bio, d->rq, d->start_ns, rec, &size))
		return;
	if (!c->sessions || sample_layout(rec, size, &kbytes, &ubytes, &copy))
		return;
	rec->hdr.ts_ns = d->end_ns;
	rec->hdr.value = d->end_ns > d->start_ns ? d->end_ns - d->start_ns : 0;
	rec->hdr.aux = d->bytes;
	dispatch(c, rec, kbytes, ubytes, NULL);
}

int collector__handle_event(struct collector *c, const void *data, size_t size)
{
	const struct sonde_sample *ev = data;
	const struct sonde_ustack_copy *copy;
	size_t kbytes, ubytes;

	c->stats.events++;
	if (size < sizeof(uint32_t) || !known_kind(*(const uint32_t *)data)) {
		c->stats.malformed++;
		return -EINVAL;
	}
	if (ev->hdr.kind == SONDE_EV_BLOCKIO_DONE) {
		if (size < sizeof(struct sonde_blockio_done)) {
			c->stats.malformed++;
			return -EINVAL;
		}
		c->stats.blockio_events++;
		blockio_done(c, data);
		return 0;
	}
	if (size < sizeof(ev->hdr) || sample_layout(ev, size, &kbytes, &ubytes, &copy)) {
		c->stats.malformed++;
		return -EINVAL;
	}
	if (ev->hdr.kind == SONDE_EV_OFFCPU)
		c->stats.offcpu_events++;
	else if (ev->hdr.kind == SONDE_EV_BLOCKIO)
		c->stats.blockio_events++;
	if (ev->hdr.kind == SONDE_EV_ONCPU && (ev->hdr.info & SONDE_ONCPU_NEW_MM)) {
		c->stats.new_address_spaces++;
		if (c->new_mm_fn)
			c->new_mm_fn(c->new_mm_ctx, ev->hdr.pid, ev->hdr.start_ns);
	}
	if (ev->hdr.kind == SONDE_EV_BLOCKIO) {
		blockio_start(c, ev, size, kbytes, ubytes, copy);
		return 0;
	}
	if (c->sessions)
		dispatch(c, ev, kbytes, ubytes, copy);
	return 0;
}

int collector__session_open(struct collector *c, uint64_t start_ns, uint64_t end_ns, uint32_t pid,
			    uint32_t kinds, const struct agg_opts *opts,
			    struct collector_session **out)
{
	struct collector_session *s;

	if (end_ns <= start_ns || !kinds)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->agg = agg__new(opts);
	if (!s->agg) {
		free(s);
		return -ENOMEM;
	}
	s->start_ns = start_ns;
	s->end_ns = end_ns;
	s->pid = pid;
	s->kinds = kinds;
	s->next = c->sessions;
	c->sessions = s;
	c->stats.sessions_open++;
	c->stats.sessions_total++;
	*out = s;
	return 0;
}

void collector__session_set_oncpu_value(struct collector_session *s, uint64_t value)
{
	s->oncpu_value = value;
}

void collector__session_skip_state(struct collector_session *s, uint32_t state)
{
	s->skip_tag = state;
}

void collector__session_truncate(struct collector_session *s, uint64_t end_ns)
{
	if (end_ns < s->end_ns)
		s->end_ns = end_ns;
}

static void unlink_session(struct collector *c, struct collector_session *s)
{
	struct collector_session **pp = &c->sessions;

	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = s->next;
		c->stats.sessions_open--;
	}
}

struct agg *collector__session_close(struct collector *c, struct collector_session *s)
{
	struct agg *agg;

	unlink_session(c, s);
	agg = s->agg;
	free(s);
	return agg;
}

void collector__session_cancel(struct collector *c, struct collector_session *s)
{
	if (!s)
		return;
	agg__free(collector__session_close(c, s));
}

void collector__stats(const struct collector *c, struct collector_stats *out)
{
	struct biojoin_stats bs;

	*out = c->stats;
	biojoin__stats(c->bio, &bs);
	out->blockio_pending = bs.pending;
	out->blockio_unmatched = bs.unmatched;
	out->blockio_evicted = bs.evicted;
}
