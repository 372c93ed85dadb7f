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

#endif /* SONDE_BPF_H */
