/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Turns an aggregation table into a pprof profile: names every frame with the
 * symbolizer and writes the on-CPU (Go CPU-profile shape), off-CPU,
 * wall-clock or block-I/O shape with the pprof builder.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_PROFILE_H
#define SONDE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "cgroups.h"
#include "labels.h"
#include "strbuf.h"
#include "symbolizer.h"

enum profile_kind {
	PROFILE_CPU = 0, /* on-CPU samples: Go's CPU-profile shape */
	PROFILE_OFFCPU,	 /* off-CPU waits: switches/count, off_cpu/nanoseconds */
	PROFILE_WALL,	 /* both, in nanoseconds: samples/count, wall/nanoseconds */
	PROFILE_BLOCKIO, /* block-I/O requests: io/count, io_bytes/bytes, io_latency/nanoseconds */
};

/* Names a disk given as the kernel's dev_t; writes the name into buf and returns it. */
typedef const char *(*profile_device_name_fn)(void *ctx, uint32_t dev, char *buf, size_t len);

struct profile_meta {
	enum profile_kind kind;
	int64_t time_nanos; /* start, unix ns */
	int64_t duration_nanos;
	/*
	 * CPU: ns per sample for cpu-clock, events per sample for cycles.
	 * WALL: ns per on-CPU sample (1e9 / frequency). OFFCPU: unused.
	 */
	uint64_t period;
	bool cycles; /* CPU: the samples come from the hardware cycles event */
	/* BLOCKIO: names the `device` label; NULL: "MAJ:MIN". */
	profile_device_name_fn device_name;
	void *device_ctx;
	/* enum label_bit mask; 0: pid, comm and thread_name. */
	uint32_t labels;
	struct cgroups *cg; /* names cgroup ids for labels; may be NULL */
	/*
	 * Leave naming to the server (?symbolize=0): frames in files with a build
	 * ID become bare addresses in their mapping (has_functions false), for
	 * backends that symbolize by build ID. Kernel, vDSO and JIT frames, which
	 * no server can name, keep their names.
	 */
	bool addresses_only;
};

struct profile_stats {
	uint64_t samples;	      /* pprof samples written */
	uint64_t frames;	      /* frames looked up */
	uint64_t unnamed_frames;      /* frames that stayed [unknown] or [module] */
	uint64_t address_only_frames; /* left for the server to name (addresses_only) */
};

/*
 * Appends the gzip-compressed profile to out. In the off-CPU and wall shapes,
 * entries with a tag are off-CPU waits and carry a `state` label; in the
 * block-I/O shape the tag gives the `device`, `op` and `sync` labels and
 * value2 the bytes. 0 or -errno.
 */
int profile__build(const struct agg *agg, struct symbolizer *sym, const struct profile_meta *meta,
		   struct strbuf *out, struct profile_stats *stats);

/*
 * Names every frame of agg once with sym and forgets the result: the
 * symbolizer keeps what it found (the kernel's symbols, the names of each
 * file offset, the processes' maps), so that a later profile of the same
 * samples only reads its caches. Starts a symbolizer batch. 0 or -ENOMEM.
 */
int profile__warm(const struct agg *agg, struct symbolizer *sym);

#endif
