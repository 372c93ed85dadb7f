/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel code that comes and goes: BPF programs (and the kernel's other
 * dynamic text) announced by the perf side-band PERF_RECORD_KSYMBOL, as perf
 * itself learns of them. /proc/kallsyms is a snapshot: once a program is
 * unloaded and another is JIT-compiled into the same memory, the snapshot
 * names the new code after the dead program, and no look-up ever misses to
 * say so. The records say when and where each symbol appears and goes.
 *
 * One dummy software event per online CPU (side-band records reach the
 * events of the CPU where the kernel emits them), each with a small ring,
 * drained by the daemon's drain timer.
 */
#ifndef SONDE_KSYMWATCH_H
#define SONDE_KSYMWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ksymwatch;

struct ksymwatch_stats {
	uint64_t registered;   /* symbols that appeared */
	uint64_t unregistered; /* symbols that went */
	uint64_t lost;	       /* records the kernel could not write (ring full) */
	uint64_t malformed;    /* records too short or otherwise wrong, skipped */
};

/* name is NUL-terminated and valid during the call only. */
typedef void (*ksymwatch_fn)(void *ctx, uint64_t addr, uint32_t len, const char *name, bool bpf,
			     bool gone);
/* The kernel lost records: what is known may be stale until kallsyms is read again. */
typedef void (*ksymwatch_lost_fn)(void *ctx);

/* 0 with *out set, or -errno (-EACCES without CAP_PERFMON, -EINVAL on kernels before 5.1). */
int ksymwatch__new(ksymwatch_fn fn, ksymwatch_lost_fn lost_fn, void *ctx, struct ksymwatch **out);
void ksymwatch__free(struct ksymwatch *w);

/* Hands every pending record to the callbacks. */
void ksymwatch__drain(struct ksymwatch *w);

void ksymwatch__stats(const struct ksymwatch *w, struct ksymwatch_stats *out);

/* One PERF_RECORD_KSYMBOL body (after the perf_event_header), parsed. Exposed for tests. */
int ksymwatch__parse(const void *body, size_t len, uint64_t *addr, uint32_t *sym_len, bool *bpf,
		     bool *gone, const char **name, size_t *name_len);

#endif
