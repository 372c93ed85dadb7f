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
	FOLDED_VALUE,	  /* the entry's value: nanoseconds, bytes... */
};

struct folded_opts {
	enum folded_value value;
	bool with_pid; /* root frame `comm-PID` instead of `comm` */
	/* On-CPU entries (tag 0) count this many value units per sample; 0: use their value. */
	uint64_t oncpu_period;
};

/* Appends the folded text of agg to out. 0 or -errno. */
int folded__write(const struct agg *agg, struct symbolizer *sym, const struct folded_opts *opts,
		  struct strbuf *out);

#endif
