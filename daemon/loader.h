/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loads and attaches the BPF programs: open → set rodata and map sizes →
 * load → attach, one perf event per online CPU.
 */
#ifndef SONDE_LOADER_H
#define SONDE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sonde_events.h"

struct loader;

struct loader_opts {
	enum sonde_event event;
	uint32_t frequency; /* Hz per CPU */
	bool include_idle;
	uint32_t ringbuf_bytes; /* power of two; 0: sized from CPUs and frequency */
	/* User stack copied per on-CPU and off-CPU record for CFI unwinding; 0: none. */
	uint32_t unwind_stack_bytes;

	bool offcpu; /* load the scheduler hook too */
	uint64_t offcpu_min_ns;
	uint32_t offcpu_max_rate; /* records a second per CPU; 0: no cap */
	enum offcpu_hook offcpu_hook;
	bool offcpu_no_task_work; /* complete records at sys_exit even where task work exists */

	bool blockio; /* load the block-layer hooks too */
	enum blockio_hook blockio_hook;
	uint32_t blockio_max_rate;  /* request starts kept a second per CPU; 0: every one */
	uint32_t blockio_in_flight; /* pending records at most; 0: the default (4096) */
};

/* Which BPF programs loader__bpf_stats() sums. */
enum loader_prog {
	LOADER_PROG_ONCPU = 0,
	LOADER_PROG_OFFCPU,  /* the scheduler hook and its completion */
	LOADER_PROG_BLOCKIO, /* the block-layer start and completion hooks */
	LOADER_PROG__MAX,
};

struct loader_bpf_stats {
	uint64_t run_time_ns; /* needs sysctl kernel.bpf_stats_enabled=1 */
	uint64_t run_cnt;
};

/*
 * Checks what the daemon needs before it tries: capabilities and kernel BTF.
 * 0, or -EPERM / -ENOENT with a one-line reason in err.
 */
int loader__check_environment(char *err, size_t err_len);

/* 0 or -errno with a one-line reason in err. */
int loader__new(const struct loader_opts *opts, struct loader **out, char *err, size_t err_len);
void loader__free(struct loader *ld);

int loader__ringbuf_fd(const struct loader *ld);
/* The off-CPU ring buffer, or -1 when off-CPU profiling is off. */
int loader__offcpu_ringbuf_fd(const struct loader *ld);
/* How off-CPU time is collected, e.g. "hook tp_btf, storage task, completion task_work". */
const char *loader__offcpu_mode(const struct loader *ld);
/* The block-I/O ring buffer, or -1 when block-I/O profiling is off. */
int loader__blockio_ringbuf_fd(const struct loader *ld);
/* How block I/O is collected, e.g. "hook tp_btf (block_io_start, block_rq_complete)". */
const char *loader__blockio_mode(const struct loader *ld);
/*
 * Pauses (detaches) or resumes (attaches again) the block-I/O hooks loaded at
 * start-up, for a reload. 0, -ENOENT if none were loaded, or -errno with a
 * reason in err (paused then).
 */
int loader__set_blockio(struct loader *ld, bool on, char *err, size_t err_len);
/* Whether the block-I/O hooks are loaded and attached. */
bool loader__blockio_attached(const struct loader *ld);
/*
 * What the daemon learnt of a thread's stack top (struct sonde_stack_top):
 * set after a copy unwound to the outermost frame, cleared when a copy cut
 * at it did not. 0 or -errno (-ENOENT: nothing to clear).
 */
int loader__set_stack_top(struct loader *ld, uint32_t tid, uint64_t mm_tag, uint64_t top);
int loader__clear_stack_top(struct loader *ld, uint32_t tid);
uint32_t loader__ringbuf_bytes(const struct loader *ld);
uint32_t loader__n_cpus(const struct loader *ld);
/* Sampling period: nanoseconds for cpu-clock, 0 for frequency-driven events. */
uint64_t loader__period_ns(const struct loader *ld);
/* Sums the per-CPU counters. 0 or -errno. */
int loader__read_counters(const struct loader *ld, uint64_t out[SONDE_CNT__MAX]);
/* Sums the off-CPU per-CPU counters; zeroes when off-CPU profiling is off. 0 or -errno. */
int loader__read_offcpu_counters(const struct loader *ld, uint64_t out[SONDE_OFF__MAX]);
/* Sums the block-I/O per-CPU counters; zeroes when block-I/O profiling is off. 0 or -errno. */
int loader__read_blockio_counters(const struct loader *ld, uint64_t out[SONDE_BIO__MAX]);
int loader__bpf_stats(const struct loader *ld, enum loader_prog which,
		      struct loader_bpf_stats *out);

/* Parses a CPU list such as "0-3,8,10-11" into a bitmap of n bits. Count of CPUs or -EINVAL. */
int loader__parse_cpulist(const char *s, bool *cpus, size_t n);
/* The online CPUs, from /sys/devices/system/cpu/online, as loader__parse_cpulist. */
int loader__online_cpus(bool *cpus, size_t n);

#endif
