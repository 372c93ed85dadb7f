// SPDX-License-Identifier: GPL-2.0
/*
 * The off-CPU programs: a sched_switch hook that timestamps blocking threads,
 * and the completion of records when their thread returns to user space
 * (task work where the kernel has it, sys_exit otherwise). The hook is
 * tp_btf with per-thread task storage; where tp_btf cannot load, the raw
 * tracepoint with a bounded hash. See bpf/offcpu.bpf.c and docs/offcpu.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "loader_internal.h"
#include "log.h"
#include "offcpu.skel.h"

/* Records waiting for their thread to return to user space: only microseconds each. */
#define OFFCPU_SLOTS 256
/* Threads the raw-tracepoint fallback can follow while they are blocked. */
#define OFFCPU_HASH_ENTRIES 4096
/*
 * Off-CPU records a second per CPU that carry a user-stack copy (about 8 KiB
 * each): at most 16 MiB/s of ring buffer per CPU; and of one process, so that
 * a storm of waits in one leaves copies for the others. Waits beyond them
 * keep their frame-pointer stack (docs/unwinding.md).
 */
#define OFFCPU_UCOPY_MAX_RATE	   2000
#define OFFCPU_UCOPY_PROC_MAX_RATE 1000

enum completion {
	COMPLETE_TASK_WORK,
	COMPLETE_SYS_EXIT,
};

static bool kernel_has_func(const char *name)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool found;

	if (!vmlinux)
		return false;
	found = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	return found;
}

static struct bpf_link *attach_prog(struct bpf_program *prog, char *err, size_t err_len)
{
	struct bpf_link *link = bpf_program__attach(prog);

	if (!link)
		snprintf(err, err_len, "attaching %s: %s", bpf_program__name(prog),
			 strerror(errno));
	return link;
}

/* One attempt with a given hook and completion. 0 or -errno with a reason in err. */
static int try_load(struct loader_offcpu *off, const struct loader_opts *opts,
		    uint32_t ringbuf_bytes, int stack_tops_fd, enum offcpu_hook hook,
		    enum completion done, char *err, size_t err_len)
{
	bool btf = hook == OFFCPU_HOOK_TP_BTF;
	struct offcpu_bpf *skel;
	struct bpf_program *sysx;
	int rc;

	skel = offcpu_bpf__open();
	if (!skel) {
		rc = -errno;
		snprintf(err, err_len, "opening the off-CPU BPF object: %s", strerror(-rc));
		return rc;
	}
	skel->rodata->min_ns = opts->offcpu_min_ns;
	/* Always recorded: wall profiles need it; the collector leaves it out of /offcpu. */
	skel->rodata->include_preempted = true;
	skel->rodata->use_task_work = btf && done == COMPLETE_TASK_WORK;
	skel->rodata->slot_mask = OFFCPU_SLOTS - 1;
	skel->rodata->max_per_sec = opts->offcpu_max_rate;
	skel->rodata->wakeup_bytes = ringbuf_bytes / 4;
	skel->rodata->ucopy_bytes = opts->unwind_stack_bytes;
	skel->rodata->ucopy_max_per_sec = OFFCPU_UCOPY_MAX_RATE;
	skel->rodata->ucopy_proc_max_per_sec = OFFCPU_UCOPY_PROC_MAX_RATE;

	bpf_program__set_autoload(skel->progs.sonde_off_btf, btf);
	bpf_program__set_autoload(skel->progs.sonde_off_sysx, btf && done == COMPLETE_SYS_EXIT);
	bpf_program__set_autoload(skel->progs.sonde_off_raw, !btf);
	bpf_program__set_autoload(skel->progs.sonde_off_sysx_h, !btf);
	/* Each hook creates only the maps it uses: task storage needs Linux 5.11. */
	bpf_map__set_autocreate(skel->maps.thread_states, btf);
	bpf_map__set_autocreate(skel->maps.slots, btf);
	bpf_map__set_autocreate(skel->maps.hash_states, !btf);
	bpf_map__set_autocreate(skel->maps.hash_zero, !btf);
	rc = bpf_map__set_max_entries(skel->maps.events, ringbuf_bytes);
	/* The stack tops the daemon learns serve on-CPU and off-CPU copies alike: one map. */
	if (stack_tops_fd >= 0)
		rc = rc ?: bpf_map__reuse_fd(skel->maps.stack_tops, stack_tops_fd);
	rc = rc ?: bpf_map__set_max_entries(skel->maps.slots, OFFCPU_SLOTS);
	rc = rc ?: bpf_map__set_max_entries(skel->maps.hash_states, OFFCPU_HASH_ENTRIES);
	if (rc) {
		snprintf(err, err_len, "sizing the off-CPU maps: %s", strerror(-rc));
		goto err_destroy_skel;
	}
	rc = offcpu_bpf__load(skel);
	if (rc) {
		snprintf(err, err_len,
			 "loading the off-CPU BPF program (%s hook): %s (run with --log-level "
			 "debug for the verifier log)",
			 config__offcpu_hook_name(hook), strerror(-rc));
		goto err_destroy_skel;
	}

	/*
	 * The completion program goes first: a record that the switch program
	 * starts must always find something to finish it. The other way round,
	 * a thread that blocked between the two attachments (the bpf() call
	 * itself may wait) held its slot with no sys_exit to free it, and its
	 * next wait was merged into that stale record.
	 */
	sysx = btf ? (done == COMPLETE_SYS_EXIT ? skel->progs.sonde_off_sysx : NULL)
		   : skel->progs.sonde_off_sysx_h;
	if (sysx) {
		off->links[off->n_links] = attach_prog(sysx, err, err_len);
		if (!off->links[off->n_links]) {
			rc = -errno ?: -EINVAL;
			goto err_destroy_links;
		}
		off->n_links++;
	}
	off->links[off->n_links] = attach_prog(
		btf ? skel->progs.sonde_off_btf : skel->progs.sonde_off_raw, err, err_len);
	if (!off->links[off->n_links]) {
		rc = -errno ?: -EINVAL;
		goto err_destroy_links;
	}
	off->n_links++;
	off->skel = skel;
	snprintf(off->mode, sizeof(off->mode), "hook %s, storage %s, completion %s",
		 config__offcpu_hook_name(hook), btf ? "task" : "hash",
		 btf && done == COMPLETE_TASK_WORK ? "task_work" : "sys_exit");
	return 0;

err_destroy_links:
	while (off->n_links)
		bpf_link__destroy(off->links[--off->n_links]);
err_destroy_skel:
	offcpu_bpf__destroy(skel);
	return rc;
}

int loader_offcpu__load(struct loader_offcpu *off, const struct loader_opts *opts,
			uint32_t ringbuf_bytes, int stack_tops_fd, char *err, size_t err_len)
{
	bool task_work =
		!opts->offcpu_no_task_work && kernel_has_func("bpf_task_work_schedule_resume_impl");
	int rc = -EINVAL;

	memset(off, 0, sizeof(*off));
	if (opts->offcpu_hook != OFFCPU_HOOK_RAW_TP) {
		if (task_work) {
			/*
			 * A probe as much as an attempt: kernels that export the
			 * kfunc may still refuse it from sched_switch (6.18 wants
			 * a sleepable caller), and sys_exit completion is as exact.
			 */
			loader__libbpf_quiet(true);
			rc = try_load(off, opts, ringbuf_bytes, stack_tops_fd, OFFCPU_HOOK_TP_BTF,
				      COMPLETE_TASK_WORK, err, err_len);
			loader__libbpf_quiet(false);
			if (!rc)
				return 0;
			log_debug("off-CPU: %s; completing records at sys_exit instead", err);
		}
		loader__libbpf_quiet(opts->offcpu_hook != OFFCPU_HOOK_TP_BTF);
		rc = try_load(off, opts, ringbuf_bytes, stack_tops_fd, OFFCPU_HOOK_TP_BTF,
			      COMPLETE_SYS_EXIT, err, err_len);
		loader__libbpf_quiet(false);
		if (!rc || opts->offcpu_hook == OFFCPU_HOOK_TP_BTF)
			return rc;
		log_warn("off-CPU: %s; falling back to the raw tracepoint", err);
	}
	return try_load(off, opts, ringbuf_bytes, stack_tops_fd, OFFCPU_HOOK_RAW_TP,
			COMPLETE_SYS_EXIT, err, err_len);
}

void loader_offcpu__unload(struct loader_offcpu *off)
{
	/* The switch hook (attached last) goes first, its completion after it. */
	while (off->n_links)
		bpf_link__destroy(off->links[--off->n_links]);
	offcpu_bpf__destroy(off->skel);
	off->skel = NULL;
}

int loader_offcpu__ringbuf_fd(const struct loader_offcpu *off)
{
	return off->skel ? bpf_map__fd(off->skel->maps.events) : -1;
}

int loader_offcpu__read_counters(const struct loader_offcpu *off, uint64_t out[SONDE_OFF__MAX])
{
	memset(out, 0, SONDE_OFF__MAX * sizeof(*out));
	if (!off->skel)
		return 0;
	return loader__sum_percpu_counters(bpf_map__fd(off->skel->maps.counters), out,
					   SONDE_OFF__MAX);
}

int loader_offcpu__bpf_stats(const struct loader_offcpu *off, struct loader_bpf_stats *out)
{
	struct bpf_program *progs[4];
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!off->skel)
		return 0;
	progs[0] = off->skel->progs.sonde_off_btf;
	progs[1] = off->skel->progs.sonde_off_sysx;
	progs[2] = off->skel->progs.sonde_off_raw;
	progs[3] = off->skel->progs.sonde_off_sysx_h;
	for (size_t i = 0; !err && i < 4; i++)
		if (bpf_program__fd(progs[i]) >= 0)
			err = loader__add_prog_stats(bpf_program__fd(progs[i]), out);
	return err;
}
