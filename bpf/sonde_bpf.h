/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Pieces every sonde BPF program uses. The including object defines the
 * `events` ring buffer and the `wakeup_bytes` rodata before including this.
 */
#ifndef SONDE_BPF_H
#define SONDE_BPF_H

#define SONDE_PF_KTHREAD 0x00200000

/*
 * When t's process started (its group leader's boot-time start, which
 * /proc/PID/stat shows in clock ticks): with the pid, one process across pid
 * reuse. Kernels before 5.5 have only the monotonic start_time.
 */
static __always_inline __u64 proc_start_ns(struct task_struct *t)
{
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);

	if (bpf_core_field_exists(leader->start_boottime))
		return BPF_CORE_READ(leader, start_boottime);
	return BPF_CORE_READ(leader, start_time);
}

/*
 * Userspace drains the buffer on a timer; we only wake it early when the
 * buffer fills past wakeup_bytes, so that a quiet host costs no wake-ups.
 */
static __always_inline __u64 submit_flags(void)
{
	if (!wakeup_bytes)
		return 0;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/*
 * Turns bpf_get_stack()'s result into a byte count the verifier can bound
 * (whole frames, at most SONDE_STACK_BYTES) and records it, or the error, in
 * the header.
 */
static __always_inline long stack_bytes(long ret, __s32 *hdr_sz, __u64 *err_counter)
{
	if (ret < 0) {
		(*err_counter)++;
		*hdr_sz = (__s32)ret;
		return 0;
	}
	if (ret > SONDE_STACK_BYTES)
		ret = SONDE_STACK_BYTES;
	ret &= ~7L;
	*hdr_sz = (__s32)ret;
	return ret;
}

/* A recorded stack size, bounded again for the verifier: it was read back from memory. */
static __always_inline long recorded_bytes(__s32 sz)
{
	long n = sz;

	if (n <= 0)
		return 0;
	if (n > SONDE_STACK_BYTES)
		n = SONDE_STACK_BYTES;
	return n & ~7L;
}

/*
 * How far above the user stack pointer a frame may be: the default stack limit.
 * A frame pointer outside [sp, sp + this) is not one (the chain ended in code
 * built without frame pointers, which keeps something else in the register).
 */
#define SONDE_USTACK_SPAN (8ull << 20)

/*
 * The current task's user stack by its frame pointers, as
 * bpf_get_stack(BPF_F_USER_STACK) walks it (the user ip, then a return
 * address per frame), into out, at most max_bytes; returns the bytes written.
 *
 * The difference is where it stops. bpf_get_stack reads wherever the frame
 * pointer points, and the chain of a program or library built without frame
 * pointers ends in a register holding anything: a read that faults there goes
 * through the kernel's exception fix-up, which costs microseconds in a
 * virtual machine (measured: 7 us of the 12 us a block-I/O start took). This
 * walk follows only frames that lie, 8-aligned and strictly rising, within
 * SONDE_USTACK_SPAN above the stack pointer, which is mapped stack, and reads
 * each with one 16-byte copy. Kernel threads and io_uring workers have no
 * user registers (zeroed at their creation) and give 0 bytes.
 */
static __always_inline long ustack_walk(__u64 *out, long max_bytes)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs;
	__u64 ip, sp, fp, frame[2];
	long n;

	if (task->flags & SONDE_PF_KTHREAD)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return 0;
	ip = PT_REGS_IP_CORE(regs);
	sp = PT_REGS_SP_CORE(regs);
	fp = PT_REGS_FP_CORE(regs);
	if (!ip || max_bytes < 8)
		return 0;
	out[0] = ip;
	n = 1;
	for (int i = 1; i < SONDE_MAX_STACK_DEPTH; i++) {
		if (n * 8 >= max_bytes || fp < sp || fp - sp >= SONDE_USTACK_SPAN - 16 || (fp & 7))
			break;
		if (bpf_probe_read_user(frame, sizeof(frame), (void *)fp) || !frame[1])
			break;
		out[i] = frame[1];
		n = i + 1;
		if (frame[0] <= fp)
			break;
		fp = frame[0];
	}
	return n * 8;
}

#endif /* SONDE_BPF_H */
