/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unwinds user stacks in userspace from DWARF call-frame information.
 *
 * The BPF programs append to a record the user registers (ip, sp, bp) and a
 * bounded copy of the user stack from sp up (include/sonde_events.h). For
 * each pc the unwinder finds the mapped file and its ELF address through the
 * symbolizer (the same /proc/PID/maps, files and caches that name frames),
 * looks up the CFI row for it (.eh_frame, else .debug_frame) with elfutils'
 * libdw, and evaluates its rules against the registers and the copy. Where a
 * pc has no CFI it steps with frame pointers if bp points into the copy, and
 * where the copy ends it continues with the kernel's frame-pointer walk of
 * the same stack, from the frame both walks share.
 *
 * Compiled rows are cached per (file, address) and open files per (device,
 * inode), both with a cap and LRU eviction. Nothing is kept per process: the
 * symbolizer's process table (read again on exec, kept for a while after
 * exit) answers which file a pc is in.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_UNWINDER_H
#define SONDE_UNWINDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolizer.h"

struct unwinder;

struct unwinder_opts {
	size_t max_files; /* ELF files kept open with their CFI (LRU); 0: 64 */
	size_t max_rules; /* compiled CFI rows kept (LRU); 0: 8192 */
	size_t max_bytes; /* CFI sections the open files hold in memory (LRU); 0: 16 MiB */
};

struct unwinder_stats {
	uint64_t stacks;   /* stacks unwound from a copy */
	uint64_t complete; /* of which reached the outermost frame (its return address undefined) */
	uint64_t truncated; /* of which ran off the copy (continued with the kernel's walk if it
			       could) */
	uint64_t no_cfi;    /* of which stopped at a pc with no mapping, file or CFI row */
	uint64_t bad_rule;  /* of which stopped at an unsupported rule or an implausible value */
	uint64_t no_copy;   /* stacks without a copy (BPF could not read it): frame pointers only */
	uint64_t frames_cfi; /* frames recovered with CFI */
	uint64_t frames_fp;  /* frames recovered with frame pointers, in the copy or the kernel's
				walk */
	uint64_t rule_hits;
	uint64_t rule_misses;
	uint64_t rule_evictions;
	uint64_t maps_rereads; /* maps read again for a pc in no mapping */
	uint64_t file_errors;  /* mapped files that could not be opened or had no CFI */
	uint64_t file_evictions;
	uint64_t rules_cached; /* gauge */
	uint64_t files_cached; /* gauge */
	uint64_t file_bytes;   /* gauge: their CFI sections in memory */
};

/* One user stack to unwind, as a record carries it. */
struct unwinder_input {
	uint32_t pid;
	uint64_t start_ns; /* when the process started (boot-time ns); 0: unknown */
	uint64_t ip, sp, bp;
	const uint8_t *stack; /* the copy of [sp, sp + stack_len) */
	size_t stack_len;
	const uint64_t *fp_frames; /* the kernel's frame-pointer walk, leaf first */
	size_t n_fp;
};

/*
 * How an unwinding ended. outermost: it reached the outermost frame (no
 * return address) inside the copy; top is then the end of the highest stack
 * word it read, so a copy of [sp, top) of a later sample of the thread holds
 * every word its unwinding needs (see struct sonde_stack_top).
 */
struct unwinder_result {
	bool outermost;
	uint64_t top;
};

/* sym is borrowed: it must outlive the unwinder. NULL on allocation failure. */
struct unwinder *unwinder__new(struct symbolizer *sym, const struct unwinder_opts *opts);
void unwinder__free(struct unwinder *u);

/*
 * Writes the unwound pcs of in to out (at most max, leaf first: the leaf is
 * in->ip, every other one a return address) and returns how many. Never
 * fewer useful frames than the frame-pointer walk when CFI fails at once:
 * it then returns that walk. res (may be NULL) says how it ended.
 */
size_t unwinder__unwind(struct unwinder *u, const struct unwinder_input *in, uint64_t *out,
			size_t max, struct unwinder_result *res);

void unwinder__stats(const struct unwinder *u, struct unwinder_stats *out);

#endif
