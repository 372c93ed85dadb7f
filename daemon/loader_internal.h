/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between the loader's files; not part of its interface. */
#ifndef SONDE_LOADER_INTERNAL_H
#define SONDE_LOADER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "loader.h"

struct offcpu_bpf;
struct blockio_bpf;
struct bpf_link;

/* The off-CPU half of a loader: its skeleton, its links and how it was set up. */
struct loader_offcpu {
	struct offcpu_bpf *skel;
	struct bpf_link
		*links[2]; /* sys_exit if it completes records, then the sched_switch hook */
	uint32_t n_links;
	char mode[96];
};

/*
 * Opens, sizes, loads and attaches the off-CPU programs; they share the
 * on-CPU object's stack_tops map when stack_tops_fd >= 0. 0 or -errno with a
 * reason in err.
 */
int loader_offcpu__load(struct loader_offcpu *off, const struct loader_opts *opts,
			uint32_t ringbuf_bytes, int stack_tops_fd, char *err, size_t err_len);
/* Detaches and unloads. Accepts a zeroed struct. */
void loader_offcpu__unload(struct loader_offcpu *off);
int loader_offcpu__ringbuf_fd(const struct loader_offcpu *off);
int loader_offcpu__read_counters(const struct loader_offcpu *off, uint64_t out[SONDE_OFF__MAX]);
int loader_offcpu__bpf_stats(const struct loader_offcpu *off, struct loader_bpf_stats *out);

/* The block-I/O half: its skeleton, its links (start hooks and completion) and its mode. */
struct loader_blockio {
	struct blockio_bpf *skel;
	struct bpf_program *progs[3]; /* in attach order: start hooks, then completion */
	uint32_t n_progs;
	struct bpf_link *links[3]; /* none while paused */
	uint32_t n_links;
	char mode[96];
};

/*
 * Opens, sizes, loads and attaches the block-I/O programs; they share the
 * on-CPU object's stack_tops map when stack_tops_fd >= 0. 0 or -errno with a
 * reason in err.
 */
int loader_blockio__load(struct loader_blockio *bio, const struct loader_opts *opts,
			 uint32_t ringbuf_bytes, int stack_tops_fd, char *err, size_t err_len);
/* Detaches and unloads. Accepts a zeroed struct. */
void loader_blockio__unload(struct loader_blockio *bio);
/* Attaches the loaded programs again (a no-op if attached); 0 or -errno with a reason. */
int loader_blockio__attach(struct loader_blockio *bio, char *err, size_t err_len);
/* Detaches them, keeping them and their maps loaded. Accepts a zeroed struct. */
void loader_blockio__detach(struct loader_blockio *bio);
int loader_blockio__ringbuf_fd(const struct loader_blockio *bio);
int loader_blockio__read_counters(const struct loader_blockio *bio, uint64_t out[SONDE_BIO__MAX]);
int loader_blockio__bpf_stats(const struct loader_blockio *bio, struct loader_bpf_stats *out);

/* Adds run time and count of one program (fd) to out. 0 or -errno. */
int loader__add_prog_stats(int prog_fd, struct loader_bpf_stats *out);
/* Sums a per-CPU array's single entry of n u64 counters into out. 0 or -errno. */
int loader__sum_percpu_counters(int map_fd, uint64_t *out, size_t n);
/* Demote libbpf warnings to debug while an attempt with a fallback runs. */
void loader__libbpf_quiet(bool quiet);

#endif
