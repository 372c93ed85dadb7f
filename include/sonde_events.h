/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Records shared by the BPF programs and the daemon. Every field has a fixed
 * size so that the layout is the same on both sides; the _Static_asserts pin it.
 */
#ifndef SONDE_EVENTS_H
#define SONDE_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SONDE_MAX_STACK_DEPTH 127
#define SONDE_COMM_LEN	      16

/* Kinds of record in the ring buffer. */
enum sonde_event_kind {
	SONDE_EV_ONCPU = 1,
	SONDE_EV_OFFCPU = 2,
	SONDE_EV_BLOCKIO = 3,	   /* a block-I/O request's start: who submitted it */
	SONDE_EV_BLOCKIO_DONE = 4, /* its completion: struct sonde_blockio_done */
};

/*
 * sonde_sample_hdr.info of SONDE_EV_ONCPU: one of the first two samples of the
 * process in this address space (new process, exec, reused pid): read its
 * maps now.
 */
#define SONDE_ONCPU_NEW_MM 1u

/* Why an off-CPU thread was not running: sonde_sample_hdr.info of SONDE_EV_OFFCPU. */
enum sonde_offcpu_state {
	SONDE_STATE_S = 'S', /* interruptible sleep */
	SONDE_STATE_D = 'D', /* uninterruptible sleep */
	SONDE_STATE_I = 'I', /* idle wait of a kernel thread (TASK_IDLE) */
	SONDE_STATE_R = 'R', /* preempted while runnable (only with --offcpu-preempted) */
	SONDE_STATE_T = 'T', /* stopped or traced */
};

/* Indices of the per-CPU counter array shared with userspace. */
enum sonde_bpf_counter {
	SONDE_CNT_SAMPLES = 0,	/* perf events seen by the program */
	SONDE_CNT_IDLE_SKIPPED, /* samples of the idle task, dropped on purpose */
	SONDE_CNT_RB_DROPS,	/* bpf_ringbuf_reserve() failed */
	SONDE_CNT_KSTACK_ERR,	/* bpf_get_stack() failed for the kernel stack */
	SONDE_CNT_USTACK_ERR,	/* bpf_get_stack() failed for the user stack */
	SONDE_CNT__MAX,
};

/* The value of the per-CPU counter map's single entry: one look-up per sample. */
struct sonde_counters {
	__u64 v[SONDE_CNT__MAX];
};

/* Indices of the off-CPU program's per-CPU counters. */
enum sonde_offcpu_counter {
	SONDE_OFF_BLOCKED = 0,	 /* switch-outs of a thread that blocked (timestamped) */
	SONDE_OFF_EMITTED,	 /* records written to the ring buffer */
	SONDE_OFF_SHORT_KEPT,	 /* blocks under the minimum kept by sampling (and weighted up) */
	SONDE_OFF_FILTERED,	 /* blocks under the minimum left out by sampling */
	SONDE_OFF_RATE_LIMITED,	 /* blocks dropped by the per-CPU rate cap */
	SONDE_OFF_SLOT_BUSY,	 /* no free slot to hold a record until the thread resumes */
	SONDE_OFF_STALE,	 /* records whose thread did not return to user space in time */
	SONDE_OFF_RB_DROPS,	 /* bpf_ringbuf_output() failed */
	SONDE_OFF_KSTACK_ERR,	 /* kernel stack unreadable */
	SONDE_OFF_USTACK_ERR,	 /* user stack unreadable */
	SONDE_OFF_TASK_WORK_ERR, /* the resume callback could not be scheduled */
	SONDE_OFF_STORAGE_ERR,	 /* no per-thread state could be stored (hash full) */
	SONDE_OFF_EARLY,	 /* stacks read at switch-out: the thread was outside a syscall */
	SONDE_OFF_UCOPY_CAPPED,	 /* records sent without a stack copy: over its per-CPU rate cap */
	SONDE_OFF__MAX,
};

struct sonde_offcpu_counters {
	__u64 v[SONDE_OFF__MAX];
};

/*
 * sonde_sample_hdr.info of SONDE_EV_BLOCKIO: the operation in bits 0-7, the
 * sync flag in bit 8, and in bits 16-31 how many requests the record stands
 * for (1, or k when one request in k was kept by rate sampling; 0 reads as 1).
 */
enum sonde_blockio_op {
	SONDE_BIO_OP_READ = 0,
	SONDE_BIO_OP_WRITE = 1,
	SONDE_BIO_OP_FLUSH = 2,
	SONDE_BIO_OP_DISCARD = 3,
	SONDE_BIO_OP_OTHER = 4,
};

#define SONDE_BIO_OP_MASK      0xffu
#define SONDE_BIO_SYNC	       0x100u
#define SONDE_BIO_WEIGHT_SHIFT 16
#define SONDE_BIO_WEIGHT_MAX   0xffffu

/* Indices of the block-I/O program's per-CPU counters. */
enum sonde_blockio_counter {
	SONDE_BIO_STARTED = 0, /* requests seen starting */
	SONDE_BIO_SAMPLED_OUT, /* requests left out by rate sampling (kept ones weigh for them) */
	SONDE_BIO_EMITTED,     /* completion records written to the ring buffer */
	SONDE_BIO_NO_RECORD,   /* completions with no pending record (sampled out, or unmatched) */
	SONDE_BIO_STALE,       /* pending entries dropped: the request struct was reused unseen */
	SONDE_BIO_TABLE_FULL,  /* no room for a pending entry in the in-flight table */
	SONDE_BIO_RB_DROPS,    /* start or completion records lost: the ring buffer was full */
	SONDE_BIO_KSTACK_ERR,  /* kernel stack unreadable */
	SONDE_BIO__MAX,
};

struct sonde_blockio_counters {
	__u64 v[SONDE_BIO__MAX];
};

_Static_assert(SONDE_BIO_WEIGHT_MAX << SONDE_BIO_WEIGHT_SHIFT >> SONDE_BIO_WEIGHT_SHIFT ==
		       SONDE_BIO_WEIGHT_MAX,
	       "the block-I/O weight fits in info");
_Static_assert((SONDE_BIO_OP_MASK | SONDE_BIO_SYNC) < 1u << SONDE_BIO_WEIGHT_SHIFT,
	       "block-I/O op and sync bits below the weight");

struct sonde_sample_hdr {
	__u32 kind; /* enum sonde_event_kind */
	__u32 cpu;
	__u32 pid; /* thread group id, as userspace calls a pid */
	__u32 tid;
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cgroup_id;
	/*
	 * When the process (its group leader) started, in boot-time ns, as
	 * /proc/PID/stat counts it: with pid, it names one process even after
	 * the pid is reused.
	 */
	__u64 start_ns;
	/*
	 * On-CPU: the event period (nanoseconds for cpu-clock, events for cycles).
	 * Off-CPU: the time the sample stands for, in nanoseconds: the block's own
	 * length, or the minimum for a short block kept by sampling.
	 * Block I/O: 0 (the latency comes with the completion record; ts_ns is
	 * the start).
	 */
	__u64 value;
	/* off-CPU: the block's measured length in ns; block I/O: the request's address */
	__u64 aux;
	__u32 info;	 /* on-CPU: SONDE_ONCPU_*; off-CPU: enum sonde_offcpu_state;
			    block I/O: op, sync, weight (above) */
	__u32 info2;	 /* block I/O: the disk as the kernel's dev_t, major << 20 | minor */
	__s32 kstack_sz; /* bytes of kernel frames, or a negative errno if unreadable */
	__s32 ustack_sz; /* bytes of user frames, or a negative errno */
	char comm[SONDE_COMM_LEN];	  /* process (group leader) name */
	char thread_name[SONDE_COMM_LEN]; /* this thread's name */
};

/*
 * The completion of a block-I/O request kept at its start. Its start record
 * (SONDE_EV_BLOCKIO, same ring buffer, always before it) has hdr.aux == rq
 * and hdr.ts_ns == start_ns: the daemon joins the two on that pair, since a
 * request's address is reused by later requests.
 */
struct sonde_blockio_done {
	__u32 kind;   /* SONDE_EV_BLOCKIO_DONE */
	__s32 status; /* the kernel's blk_status_t of the last completion: 0 is success */
	__u64 rq;     /* the address of the struct request */
	__u64 start_ns;
	__u64 end_ns; /* bpf_ktime_get_ns() at the completion: the window it counts in */
	__u64 bytes;  /* bytes the device completed */
};

_Static_assert(sizeof(struct sonde_blockio_done) == 40, "sonde_blockio_done layout changed");

/*
 * A ring-buffer record is the header followed by kstack_sz bytes of kernel
 * frames and then ustack_sz bytes of user frames (leaf first), then, when
 * the program copies user stacks, a struct sonde_ustack_copy and its
 * copy_sz bytes of stack, and nothing more: records are only as long as
 * their stacks, so the BPF program writes a few hundred bytes per sample
 * instead of 2 KiB of mostly zeroes (plus the stack copy when asked for).
 */
struct sonde_sample {
	struct sonde_sample_hdr hdr;
	__u64 frames[2 * SONDE_MAX_STACK_DEPTH];
};

#define SONDE_STACK_BYTES (SONDE_MAX_STACK_DEPTH * 8)

/*
 * A record waiting for its thread to return to user space, where the user
 * stack it blocked with can be read. tw is the kernel's task-work handle
 * (struct bpf_task_work: 8 opaque bytes) when the resume hook is task work.
 */
struct sonde_offcpu_slot {
	__u64 tw;
	__u64 busy; /* 0: free; else the tid that owns the slot */
	__u64 since_ns;
	struct sonde_sample s;
};

/*
 * What a record carries, after its user frames, for unwinding in userspace
 * with the file's call-frame information (daemon/unwinder.c): the user
 * registers the unwinding starts from and copy_sz bytes of the user stack
 * from sp up. A record without it ends with its user frames; copy_sz 0 with
 * err < 0 says why the copy is missing. The frame-pointer frames stay: they
 * are the fallback.
 */
struct sonde_ustack_copy {
	__u64 ip;
	__u64 sp;
	__u64 bp;
	__u64 mm_tag;  /* the address space, mixed with the process's start time */
	__u32 copy_sz; /* bytes of stack that follow */
	__s16 err;     /* 0, or why nothing (or less than asked) was copied: a negative errno */
	__u16 flags;   /* SONDE_UCOPY_* */
};

/*
 * The copy ends at the thread's stack top as the daemon learnt it (see
 * struct sonde_stack_top), and the program left out the frame-pointer walk:
 * the copy holds the whole stack.
 */
#define SONDE_UCOPY_TO_TOP 0x1

/*
 * The stack top of a thread (the map stack_tops, keyed by tid), written by
 * the daemon when it unwound one of the thread's copies to its outermost
 * frame: the end of the highest stack word the unwinding read, plus slack.
 * A sample whose sp lies within the copy size below it copies [sp, top)
 * only and skips the frame-pointer walk of the user stack, which costs a
 * user-memory read per frame. mm_tag must match the sampled task's, so an
 * exec or a tid reused by another process falls back to the full copy. The
 * daemon deletes an entry when a copy that ended at it did not unwind to
 * the outermost frame.
 */
struct sonde_stack_top {
	__u64 top;
	__u64 mm_tag;
};

/* The most stack a record carries (--unwind-stack-bytes), and how it is read: page by page. */
#define SONDE_UCOPY_MAX	 16384
#define SONDE_UCOPY_PAGE 4096

/*
 * A per-CPU scratch record with room for the copy. The copy goes right after
 * the user frames, wherever they end, so the tail is only bytes: the
 * registers, the stack, and a page of slack so that the BPF verifier can
 * bound each page read by its start alone.
 */
struct sonde_sample_uc {
	struct sonde_sample s;
	__u8 tail[sizeof(struct sonde_ustack_copy) + SONDE_UCOPY_MAX + SONDE_UCOPY_PAGE];
};

_Static_assert(sizeof(struct sonde_sample_hdr) == 104, "sonde_sample_hdr layout changed");
_Static_assert(sizeof(struct sonde_sample) == 104 + 2 * SONDE_STACK_BYTES,
	       "sonde_sample layout changed");

_Static_assert(sizeof(struct sonde_offcpu_slot) == 24 + sizeof(struct sonde_sample),
	       "sonde_offcpu_slot layout changed");

_Static_assert(sizeof(struct sonde_ustack_copy) == 40, "sonde_ustack_copy layout changed");
_Static_assert(sizeof(struct sonde_stack_top) == 16, "sonde_stack_top layout changed");
/* Per-CPU map values are limited to 32 KiB (PCPU_MIN_UNIT_SIZE): the scratch record must fit. */
_Static_assert(sizeof(struct sonde_sample_uc) <= 32768, "sonde_sample_uc fits a per-CPU value");

#endif /* SONDE_EVENTS_H */
