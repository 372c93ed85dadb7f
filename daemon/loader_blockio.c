// SPDX-License-Identifier: GPL-2.0
/*
 * The block-I/O programs: a start hook that records the submitting task's
 * stacks per request and a completion hook that times the request and sends
 * the record. The start is tp_btf/block_io_start (Linux 6.5+); where that
 * cannot load, block_rq_insert and block_rq_issue as raw tracepoints. See
 * bpf/blockio.bpf.c and docs/blockio.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "blockio.skel.h"
#include "loader_internal.h"
#include "log.h"

/*
 * Slots for kept requests in flight, 32 bytes each: 128 KiB. Above
 * --blockio-max-rate only one request in k is kept, so the kept ones in
 * flight stay far below the host's queue depths; the slots are many more so
 * that two requests seldom hash to the same one.
 */
#define BLOCKIO_IN_FLIGHT 4096

static bool kernel_has_tracepoint(const char *name)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	char type[128];
	bool found;

	if (!vmlinux)
		return false;
	snprintf(type, sizeof(type), "btf_trace_%s", name);
	found = btf__find_by_name_kind(vmlinux, type, BTF_KIND_TYPEDEF) > 0;
	btf__free(vmlinux);
	return found;
}

/*
 * Attaches the loaded programs, completion last, so that no completion is seen
 * without its start hook in place. 0 if they already are, or -errno with a
 * reason in err (and nothing left attached).
 */
int loader_blockio__attach(struct loader_blockio *bio, char *err, size_t err_len)
{
	int rc;

	if (bio->n_links)
		return 0;
	for (uint32_t i = 0; i < bio->n_progs; i++) {
		bio->links[i] = bpf_program__attach(bio->progs[i]);
		if (!bio->links[i]) {
			rc = -errno ?: -EINVAL;
			snprintf(err, err_len, "attaching %s: %s", bpf_program__name(bio->progs[i]),
				 strerror(-rc));
			loader_blockio__detach(bio);
			return rc;
		}
		bio->n_links = i + 1;
	}
	return 0;
}

void loader_blockio__detach(struct loader_blockio *bio)
{
	/*
	 * Start hooks first. A request started before and completed after this
	 * leaves a record in the in-flight map, which a later request on the
	 * same slot replaces (counted) or the map's destruction frees.
	 */
	for (uint32_t i = 0; i < bio->n_links; i++)
		bpf_link__destroy(bio->links[i]);
	bio->n_links = 0;
}

/* One attempt with a given hook. 0 or -errno with a reason in err. */
static int try_load(struct loader_blockio *bio, const struct loader_opts *opts,
		    uint32_t ringbuf_bytes, int stack_tops_fd, enum blockio_hook hook, char *err,
		    size_t err_len)
{
	uint32_t in_flight = opts->blockio_in_flight ? opts->blockio_in_flight : BLOCKIO_IN_FLIGHT;
	uint32_t slots = 1;
	bool btf = hook == BLOCKIO_HOOK_TP_BTF;
	struct blockio_bpf *skel;
	uint32_t n = 0;
	int rc;

	skel = blockio_bpf__open();
	if (!skel) {
		rc = -errno;
		snprintf(err, err_len, "opening the block-I/O BPF object: %s", strerror(-rc));
		return rc;
	}
	skel->rodata->wakeup_bytes = ringbuf_bytes / 4;
	skel->rodata->max_per_sec = opts->blockio_max_rate;
	skel->rodata->ucopy_bytes = opts->unwind_stack_bytes;
	/* The in-flight table's slots are found by masking a hash: a power of two. */
	while (slots < in_flight && slots < (1u << 24))
		slots <<= 1;
	skel->rodata->slot_mask = slots - 1;

	bpf_program__set_autoload(skel->progs.sonde_bio_start, btf);
	bpf_program__set_autoload(skel->progs.sonde_bio_done, btf);
	bpf_program__set_autoload(skel->progs.sonde_bio_insert, !btf);
	bpf_program__set_autoload(skel->progs.sonde_bio_issue, !btf);
	bpf_program__set_autoload(skel->progs.sonde_bio_done_raw, !btf);
	/* Only the raw_tp hook must remember what it left out (and only with sampling). */
	bpf_map__set_autocreate(skel->maps.skipped, !btf);
	rc = bpf_map__set_max_entries(skel->maps.events, ringbuf_bytes);
	rc = rc ?: bpf_map__set_max_entries(skel->maps.inflight, slots);
	rc = rc ?: bpf_map__set_max_entries(skel->maps.skipped, in_flight);
	/* The stack tops learnt from every kind of record: the on-CPU object's map. */
	if (stack_tops_fd >= 0)
		rc = rc ?: bpf_map__reuse_fd(skel->maps.stack_tops, stack_tops_fd);
	if (rc) {
		snprintf(err, err_len, "sizing the block-I/O maps: %s", strerror(-rc));
		goto err_destroy_skel;
	}
	rc = blockio_bpf__load(skel);
	if (rc) {
		snprintf(err, err_len,
			 "loading the block-I/O BPF program (%s hook): %s (run with --log-level "
			 "debug for the verifier log)",
			 config__blockio_hook_name(hook), strerror(-rc));
		goto err_destroy_skel;
	}

	if (btf) {
		bio->progs[n++] = skel->progs.sonde_bio_start;
		bio->progs[n++] = skel->progs.sonde_bio_done;
	} else {
		bio->progs[n++] = skel->progs.sonde_bio_insert;
		bio->progs[n++] = skel->progs.sonde_bio_issue;
		bio->progs[n++] = skel->progs.sonde_bio_done_raw;
	}
	bio->n_progs = n;
	rc = loader_blockio__attach(bio, err, err_len);
	if (rc)
		goto err_destroy_skel;
	bio->skel = skel;
	snprintf(bio->mode, sizeof(bio->mode), "hook %s (%s, block_rq_complete)",
		 config__blockio_hook_name(hook),
		 btf ? "block_io_start" : "block_rq_insert, block_rq_issue");
	return 0;

err_destroy_skel:
	bio->n_progs = 0;
	blockio_bpf__destroy(skel);
	return rc;
}

int loader_blockio__load(struct loader_blockio *bio, const struct loader_opts *opts,
			 uint32_t ringbuf_bytes, int stack_tops_fd, char *err, size_t err_len)
{
	int rc;

	memset(bio, 0, sizeof(*bio));
	if (opts->blockio_hook != BLOCKIO_HOOK_RAW_TP) {
		if (kernel_has_tracepoint("block_io_start")) {
			loader__libbpf_quiet(opts->blockio_hook != BLOCKIO_HOOK_TP_BTF);
			rc = try_load(bio, opts, ringbuf_bytes, stack_tops_fd, BLOCKIO_HOOK_TP_BTF,
				      err, err_len);
			loader__libbpf_quiet(false);
		} else {
			snprintf(err, err_len,
				 "the kernel has no block_io_start tracepoint (Linux 6.5+)");
			rc = -ENOENT;
		}
		if (!rc || opts->blockio_hook == BLOCKIO_HOOK_TP_BTF)
			return rc;
		log_warn("block I/O: %s; falling back to the raw block_rq tracepoints", err);
	}
	return try_load(bio, opts, ringbuf_bytes, stack_tops_fd, BLOCKIO_HOOK_RAW_TP, err, err_len);
}

void loader_blockio__unload(struct loader_blockio *bio)
{
	loader_blockio__detach(bio);
	bio->n_progs = 0;
	blockio_bpf__destroy(bio->skel);
	bio->skel = NULL;
}

int loader_blockio__ringbuf_fd(const struct loader_blockio *bio)
{
	return bio->skel ? bpf_map__fd(bio->skel->maps.events) : -1;
}

int loader_blockio__read_counters(const struct loader_blockio *bio, uint64_t out[SONDE_BIO__MAX])
{
	memset(out, 0, SONDE_BIO__MAX * sizeof(*out));
	if (!bio->skel)
		return 0;
	return loader__sum_percpu_counters(bpf_map__fd(bio->skel->maps.counters), out,
					   SONDE_BIO__MAX);
}

int loader_blockio__bpf_stats(const struct loader_blockio *bio, struct loader_bpf_stats *out)
{
	struct bpf_program *progs[5];
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!bio->skel)
		return 0;
	progs[0] = bio->skel->progs.sonde_bio_start;
	progs[1] = bio->skel->progs.sonde_bio_done;
	progs[2] = bio->skel->progs.sonde_bio_insert;
	progs[3] = bio->skel->progs.sonde_bio_issue;
	progs[4] = bio->skel->progs.sonde_bio_done_raw;
	for (size_t i = 0; !err && i < 5; i++)
		if (bpf_program__fd(progs[i]) >= 0)
			err = loader__add_prog_stats(bpf_program__fd(progs[i]), out);
	return err;
}
