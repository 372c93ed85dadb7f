// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A hot BPF program for the kernel-symbol test: on every getppid() of one
 * process (target_tgid, set before load), it spins a bounded bpf_loop() of
 * arithmetic, so that the process's on-CPU samples land in JIT-compiled BPF
 * code, which /proc/kallsyms lists as bpf_prog_<tag>_<function> [bpf].
 *
 * Userspace loads one of the two programs below, which differ only in name.
 *
 * raw_tp rather than a classic tracepoint or a kprobe: those run with
 * bpf_prog_active held, which makes the profiler's perf-event program skip
 * every sample taken inside them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 target_tgid;
const volatile __u32 target_nr;
const volatile __u32 spin_loops = 500;

/* Written so that the loop body is not optimized away. */
__u64 burner_sink;
__u64 burner_runs;

/*
 * Enough work per call that few samples fall on the callback's entry or exit, where
 * frame-pointer unwinding skips its caller.
 */
static long burner_spin_step(__u32 i, void *ctx)
{
	__u64 x = *(__u64 *)ctx;

#pragma unroll
	for (int k = 0; k < 32; k++) {
		x = x * 6364136223846793005ULL + i + 1442695040888963407ULL;
		x ^= x >> 29;
	}
	*(__u64 *)ctx = x;
	return 0;
}

static __always_inline int burn(long id)
{
	__u64 acc;

	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_tgid || id != target_nr)
		return 0;
	acc = bpf_ktime_get_ns();
	bpf_loop(spin_loops, burner_spin_step, &acc, 0);
	__sync_fetch_and_add(&burner_sink, acc);
	__sync_fetch_and_add(&burner_runs, 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(burner_sys_enter, struct pt_regs *regs, long id)
{
	return burn(id);
}

/* The same under another name (bpf_burner --alt): a second program, told apart by name. */
SEC("raw_tp/sys_enter")
int BPF_PROG(burner_alt_enter, struct pt_regs *regs, long id)
{
	return burn(id);
}
