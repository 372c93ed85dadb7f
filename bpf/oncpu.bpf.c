// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * On-CPU sampling. Attached to one software (cpu-clock) or hardware perf
 * event per CPU; every sample becomes one ring-buffer record with the kernel
 * and user stacks, ids and names of the interrupted task.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "sonde_events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load. */
const volatile bool include_idle = false;
const volatile __u64 wakeup_bytes = 0; /* 0: wake userspace on every record */
const volatile __u32 ucopy_bytes = 0;  /* user stack copied for unwinding; 0: none */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by the loader */
} events SEC(".maps");

/* Per-CPU scratch record: cache-hot, so only the used bytes reach the ring. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_sample_uc);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_counters);
} counters SEC(".maps");

/*
 * The address space each process was last sampled in (mixed with its start
 * time), and how many of its samples were flagged (the low 3 bits). The
 * first two samples from a new one (a new process, an exec, a reused pid) are
 * flagged and wake userspace at once, so that it reads the process's maps
 * while the process still runs: one that lives 20 ms is gone by the next
 * timed drain. The second read finds the libraries that the dynamic linker
 * had not mapped yet at the first.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* processes; the least recently sampled go first */
	__type(key, __u32);
	__type(value, __u64);
} seen_mm SEC(".maps");

#include "sonde_bpf.h"
#include "sonde_ucopy.h"

/*
 * The user registers at the sample: the interrupted ones when the sample hit
 * user mode, else those the task entered the kernel with.
 */
static __always_inline void sample_uregs(struct bpf_perf_event_data *ctx, __u64 *ip, __u64 *sp,
					 __u64 *bp)
{
#if defined(__TARGET_ARCH_x86)
	/* The context allows only whole-u64 reads of regs: cs is a u16 in its own 8 bytes. */
	__u64 cs = *(volatile __u64 *)((char *)&ctx->regs + __builtin_offsetof(struct pt_regs, cs));

	if (cs & 3) {
		*ip = ctx->regs.ip;
		*sp = ctx->regs.sp;
		*bp = ctx->regs.bp;
		return;
	}
#endif
	ucopy_task_regs(ip, sp, bp);
}

SEC("perf_event")
int sonde_oncpu(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 tid = (__u32)id;
	struct sonde_counters *cnt;
	struct task_struct *task;
	struct sonde_sample_uc *u;
	struct sonde_sample *s;
	__u32 zero = 0;
	long kbytes, ubytes, cbytes, total;
	__u64 flags, ip = 0, sp = 0, bp = 0, mm, want;
	bool user, to_top;

	cnt = bpf_map_lookup_elem(&counters, &zero);
	if (!cnt)
		return 0;
	cnt->v[SONDE_CNT_SAMPLES]++;
	if (tid == 0 && !include_idle) {
		cnt->v[SONDE_CNT_IDLE_SKIPPED]++;
		return 0;
	}
	u = bpf_map_lookup_elem(&scratch, &zero);
	if (!u)
		return 0;
	s = &u->s;

	s->hdr.kind = SONDE_EV_ONCPU;
	s->hdr.cpu = bpf_get_smp_processor_id();
	s->hdr.pid = tgid;
	s->hdr.tid = tid;
	s->hdr.ts_ns = bpf_ktime_get_ns();
	s->hdr.cgroup_id = bpf_get_current_cgroup_id();
	s->hdr.value = ctx->sample_period;
	s->hdr.aux = 0;
	s->hdr.info = 0;
	s->hdr.info2 = 0;
	bpf_get_current_comm(s->hdr.thread_name, sizeof(s->hdr.thread_name));
	task = (struct task_struct *)bpf_get_current_task();
	s->hdr.start_ns = proc_start_ns(task);
	if (BPF_CORE_READ_STR_INTO(&s->hdr.comm, task, group_leader, comm) < 0)
		__builtin_memcpy(s->hdr.comm, s->hdr.thread_name, sizeof(s->hdr.comm));

	kbytes = stack_bytes(bpf_get_stack(ctx, s->frames, SONDE_STACK_BYTES, 0), &s->hdr.kstack_sz,
			     &cnt->v[SONDE_CNT_KSTACK_ERR]);
	/*
	 * User frames go right after the kernel frames. Kernel threads have
	 * none. When the stack copy will hold the whole stack (the thread's top
	 * is known), the frame-pointer walk is left out: it reads user memory
	 * once a frame, the copy once a page.
	 */
	ubytes = 0;
	s->hdr.ustack_sz = 0;
	user = !(BPF_CORE_READ(task, flags) & SONDE_PF_KTHREAD);
	want = 0;
	to_top = false;
	mm = 0;
	if (user) {
		/*
		 * The address space and the process's start time: a reused pid may
		 * get its mm_struct at the very address the exited process's had.
		 */
		mm = ucopy_mm_tag(task, s->hdr.start_ns);
		if (ucopy_bytes) {
			sample_uregs(ctx, &ip, &sp, &bp);
			want = ucopy_plan(tid, mm, sp, &to_top);
		}
		if (!to_top)
			ubytes = stack_bytes(bpf_get_stack(ctx, (void *)s->frames + kbytes,
							   SONDE_STACK_BYTES, BPF_F_USER_STACK),
					     &s->hdr.ustack_sz, &cnt->v[SONDE_CNT_USTACK_ERR]);
	}

	flags = submit_flags();
	if (ubytes || to_top) {
		__u64 *seen = bpf_map_lookup_elem(&seen_mm, &tgid);

		if (!seen || (*seen & ~7ull) != mm || (*seen & 7) < 2) {
			__u64 v = seen && (*seen & ~7ull) == mm ? *seen + 1 : mm | 1;

			bpf_map_update_elem(&seen_mm, &tgid, &v, BPF_ANY);
			s->hdr.info = SONDE_ONCPU_NEW_MM;
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	/* The stack copy for unwinding with CFI goes after the user frames. */
	cbytes = 0;
	if (want)
		cbytes = ucopy_append(u, sizeof(s->hdr) + kbytes + ubytes, ip, sp, bp, mm, want,
				      to_top ? SONDE_UCOPY_TO_TOP : 0);
	total = sizeof(s->hdr) + kbytes + ubytes + cbytes;
	if (total > (long)sizeof(*u))
		total = sizeof(*u);
	if (bpf_ringbuf_output(&events, u, total, flags))
		cnt->v[SONDE_CNT_RB_DROPS]++;
	return 0;
}
