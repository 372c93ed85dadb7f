/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Collapsed ("folded") stacks for flamegraph.pl and speedscope: one line per
 * distinct stack, `root;...;leaf VALUE`, root first. The process name is the
 * root frame (spaces become '_'), kernel frames end in `_[k]`, a ';' inside
 * a name becomes ':', and frames that cannot be named are `[unknown]` or
 * `[module]`. Identical lines are merged and sorted.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_FOLDED_H
#define SONDE_FOLDED_H

#include <stdbool.h>

#include "agg.h"
#include "strbuf.h"
#include "symbolizer.h"

enum folded_value {
	FOLDED_COUNT = 0, /* samples, waits or I/Os */
	FOLDED_VALUE,	  /* the entry's value: nanoseconds of CPU, of waiting, of I/O */
	FOLDED_VALUE2,	  /* its second value: bytes of block I/O */
};

struct folded_opts {
	enum folded_value value;
	bool with_pid; /* root frame `comm-PID` instead of `comm` */
	/* On-CPU entries (tag 0) count this many value units per sample; 0: use their value. */
	uint64_t oncpu_period;
};

/*
 * An entry's value: its count, value or value2; on-CPU entries count
 * oncpu_period per sample for FOLDED_VALUE when oncpu_period is not 0.
 */
uint64_t folded__value(const struct agg_sample *e, enum folded_value which, uint64_t oncpu_period);

/*
 * Appends one frame's display name, unescaped: its symbol, else the basename
 * of its mapping in brackets (`[libfoo.so]`; `[vdso]` as is), else
 * `[unknown]`. Return addresses (every frame but the leaf) are looked up one
 * byte back, inside the call; user frames in the maps of the process (pid,
 * started at start_ns), as symbolizer__user_of. 0 or -ENOMEM.
 */
int folded__frame_name(struct symbolizer *sym, uint32_t pid, uint64_t start_ns, uint64_t addr,
		       bool kernel, bool leaf, struct strbuf *out);

/* Appends the folded text of agg to out. 0 or -errno. */
int folded__write(const struct agg *agg, struct symbolizer *sym, const struct folded_opts *opts,
		  struct strbuf *out);

#endif
