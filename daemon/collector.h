/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reads samples from the BPF ring buffer and hands each one to every open
 * profile session whose interval contains it. Sessions are the unit of a
 * profile request: [start, end) in CLOCK_MONOTONIC, an optional pid filter
 * and an aggregation table of their own.
 */
#ifndef SONDE_COLLECTOR_H
#define SONDE_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "sonde_events.h"

struct collector;
struct collector_session;
struct unwinder;

/* Kinds of record a session takes, as a mask of 1 << enum sonde_event_kind. */
#define COLLECTOR_ONCPU	  (1u << SONDE_EV_ONCPU)
#define COLLECTOR_OFFCPU  (1u << SONDE_EV_OFFCPU)
#define COLLECTOR_BLOCKIO (1u << SONDE_EV_BLOCKIO)

struct collector_stats {
	uint64_t events;	     /* records read from the ring buffers */
	uint64_t offcpu_events;	     /* of which off-CPU records */
	uint64_t blockio_events;     /* of which block-I/O records (starts and completions) */
	uint64_t blockio_pending;    /* block-I/O start records waiting for their completion */
	uint64_t blockio_unmatched;  /* block-I/O completions whose start record was not there */
	uint64_t blockio_evicted;    /* block-I/O start records dropped to bound the wait */
	uint64_t blockio_nomem;	     /* block-I/O start records dropped: no memory */
	uint64_t malformed;	     /* records of unexpected size or kind */
	uint64_t read_errors;	     /* ring_buffer__consume() failures */
	uint64_t dispatched;	     /* (record, session) pairs aggregated */
	uint64_t agg_overflow;	     /* samples folded into a session's overflow entry */
	uint64_t sessions_open;	     /* gauge */
	uint64_t sessions_total;     /* sessions ever opened */
	uint64_t new_address_spaces; /* on-CPU records flagged SONDE_ONCPU_NEW_MM */
	uint64_t copies_to_top;	     /* stack copies cut at a learnt top (SONDE_UCOPY_TO_TOP) */
	uint64_t stack_tops_learnt;  /* stack tops handed to the stack-top callback */
	uint64_t stack_tops_cleared; /* learnt tops withdrawn: a copy cut there fell short */
};

/* Called for the first sample of a process in a new address space (see bpf/oncpu.bpf.c). */
typedef void (*collector_new_mm_fn)(void *ctx, uint32_t pid, uint64_t start_ns);

/*
 * Called with a thread's stack top (struct sonde_stack_top) after one of its
 * full copies unwound to the outermost frame, and with top 0 to withdraw it
 * after a copy cut at it did not.
 */
typedef void (*collector_stack_top_fn)(void *ctx, uint32_t tid, uint64_t mm_tag, uint64_t top);

/* ringbuf_fd < 0 makes a collector fed only by collector__handle_event() (tests). */
int collector__new(int ringbuf_fd, struct collector **out);
/* Reads a second ring buffer through the same epoll fd. 0 or -errno. */
int collector__add_ringbuf(struct collector *c, int ringbuf_fd);
void collector__free(struct collector *c);
/* Sets the new-address-space callback (NULL: none). */
void collector__set_new_mm_fn(struct collector *c, collector_new_mm_fn fn, void *ctx);

/*
 * Unwinds the user stack of every record that carries a stack copy with u
 * (borrowed; NULL: none) before sessions see it: the unwound stack replaces
 * the frame-pointer one, so aggregation and everything after are unchanged.
 */
void collector__set_unwinder(struct collector *c, struct unwinder *u);
/* Sets the stack-top callback (NULL: none); it only fires with an unwinder. */
void collector__set_stack_top_fn(struct collector *c, collector_stack_top_fn fn, void *ctx);

/* The fd to wait on for readability (ring-buffer epoll fd), or -1. */
int collector__fd(const struct collector *c);
/* Reads everything available now. Records read or -errno. */
int collector__drain(struct collector *c);
/* Handles one raw record, as the ring-buffer callback does. 0 or -EINVAL. */
int collector__handle_event(struct collector *c, const void *data, size_t size);

/*
 * Opens a session covering [start_ns, end_ns) of CLOCK_MONOTONIC that takes
 * the records of the kinds in the mask; pid 0 means every process.
 * Off-CPU waits count only for the part inside the interval; a block-I/O
 * request belongs to the interval in which it completed. 0 or -errno.
 */
int collector__session_open(struct collector *c, uint64_t start_ns, uint64_t end_ns, uint32_t pid,
			    uint32_t kinds, const struct agg_opts *opts,
			    struct collector_session **out);
/*
 * Makes every on-CPU sample add `value` (e.g. 1e9 / Hz nanoseconds in a wall
 * profile, where samples of the cycles event would otherwise add cycles).
 */
void collector__session_set_oncpu_value(struct collector_session *s, uint64_t value);
/* Leaves out off-CPU waits of one state (e.g. 'R', preempted) from a session. */
void collector__session_skip_state(struct collector_session *s, uint32_t state);
/* Ends a session early, e.g. when its client went away: [start, now). */
void collector__session_truncate(struct collector_session *s, uint64_t end_ns);
/* Closes a session and hands its aggregation to the caller (agg__free it). */
struct agg *collector__session_close(struct collector *c, struct collector_session *s);
/* Closes a session and drops what it gathered. Accepts NULL. */
void collector__session_cancel(struct collector *c, struct collector_session *s);

void collector__stats(const struct collector *c, struct collector_stats *out);

/* CLOCK_MONOTONIC in nanoseconds, the clock of bpf_ktime_get_ns(). */
uint64_t collector__now_ns(void);

#endif
