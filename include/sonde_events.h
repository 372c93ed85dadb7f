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

struct sonde_sample_hdr {
	__u32 kind; /* enum sonde_event_kind */
	__u32 cpu;
	__u32 pid; /* thread group id, as userspace calls a pid */
	__u32 tid;
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cgroup_id;
	__u64 period;		   /* event period: nanoseconds for cpu-clock, events for cycles */
	__s32 kstack_sz;	   /* bytes of kernel frames, or a negative errno if unreadable */
	__s32 ustack_sz;	   /* bytes of user frames, or a negative errno */
	char comm[SONDE_COMM_LEN]; /* process (group leader) name */
	char thread_name[SONDE_COMM_LEN]; /* this thread's name */
};

/*
 * A ring-buffer record is the header followed by kstack_sz bytes of kernel
 * frames and then ustack_sz bytes of user frames (leaf first), and nothing
 * more: records are only as long as their stacks, so the BPF program writes
 * a few hundred bytes per sample instead of 2 KiB of mostly zeroes.
 */
struct sonde_sample {
	struct sonde_sample_hdr hdr;
	__u64 frames[2 * SONDE_MAX_STACK_DEPTH];
};

#define SONDE_STACK_BYTES (SONDE_MAX_STACK_DEPTH * 8)

_Static_assert(sizeof(struct sonde_sample_hdr) == 80, "sonde_sample_hdr layout changed");
_Static_assert(sizeof(struct sonde_sample) == 80 + 2 * SONDE_STACK_BYTES,
	       "sonde_sample layout changed");

#endif /* SONDE_EVENTS_H */
