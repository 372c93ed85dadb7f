/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The user-stack copy for unwinding in userspace (daemon/unwinder.c): the
 * registers unwinding starts from and a bounded slice of the user stack from
 * sp up, appended to a record after its user frames. The including object
 * defines the `ucopy_bytes` rodata (0: no copy) before including this.
 */
#ifndef SONDE_UCOPY_H
#define SONDE_UCOPY_H

/* Stack tops learnt by the daemon (struct sonde_stack_top), by tid. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* threads; the least recently sampled go first */
	__type(key, __u32);
	__type(value, struct sonde_stack_top);
} stack_tops SEC(".maps");

/*
 * How many bytes of stack from sp to copy: up to the thread's learnt stack
 * top when sp lies within the copy size below it (*to_top set: the copy
 * holds the whole stack, and the frame-pointer walk can be left out), else
 * the full copy size. 0 when copying is off or sp is unknown.
 */
static __always_inline __u64 ucopy_plan(__u32 tid, __u64 mm_tag, __u64 sp, bool *to_top)
{
	struct sonde_stack_top *t;
	__u64 want = ucopy_bytes, need;

	*to_top = false;
	if (!want || !sp)
		return 0;
	if (want > SONDE_UCOPY_MAX)
		want = SONDE_UCOPY_MAX;
	t = bpf_map_lookup_elem(&stack_tops, &tid);
	if (!t || t->mm_tag != mm_tag || t->top <= sp)
		return want;
	need = (t->top - sp + 7) & ~7ull;
	if (need > want)
		return want;
	*to_top = true;
	return need;
}

/*
 * Appends the copy of want bytes from sp to the record being built at rec,
 * whose header and frames take off bytes. Reads page by page, so that a
 * stack whose top is nearer than want still gives what it has (a page is
 * mapped or not as a whole). Returns the bytes appended (0 when want is 0).
 */
static __always_inline long ucopy_append(void *rec, long off, __u64 ip, __u64 sp, __u64 bp,
					 __u64 mm_tag, __u64 want, __u16 flags)
{
	struct sonde_ustack_copy *uc;
	__u64 got = 0, addr, chunk;
	__u8 *dst;
	long err;

	if (!want || !sp)
		return 0;
	if (off < 0 || off > (long)sizeof(struct sonde_sample))
		return 0;
	if (want > SONDE_UCOPY_MAX)
		want = SONDE_UCOPY_MAX;
	uc = rec + off;
	uc->ip = ip;
	uc->sp = sp;
	uc->bp = bp;
	uc->mm_tag = mm_tag;
	uc->err = 0;
	uc->flags = flags;
	dst = (__u8 *)(uc + 1);
	for (int i = 0; i < SONDE_UCOPY_MAX / SONDE_UCOPY_PAGE + 1; i++) {
		if (got >= want || got > SONDE_UCOPY_MAX)
			break;
		addr = sp + got;
		chunk = SONDE_UCOPY_PAGE - (addr & (SONDE_UCOPY_PAGE - 1));
		if (chunk > want - got)
			chunk = want - got;
		if (chunk > SONDE_UCOPY_PAGE)
			break;
		err = bpf_probe_read_user(dst + got, chunk, (void *)addr);
		if (err) {
			uc->err = (__s16)err;
			break;
		}
		got += chunk;
	}
	uc->copy_sz = (__u32)got;
	return sizeof(*uc) + got;
}

/* The address space of task, mixed with the process's start time (a new mm may reuse an address).
 */
static __always_inline __u64 ucopy_mm_tag(struct task_struct *task, __u64 start_ns)
{
	return ((__u64)BPF_CORE_READ(task, mm) ^ (start_ns * 0x9e3779b97f4a7c15ull)) & ~7ull;
}

/* The user registers of the current task as it entered the kernel. */
static __always_inline void ucopy_task_regs(__u64 *ip, __u64 *sp, __u64 *bp)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	*ip = *sp = *bp = 0;
	if (!regs)
		return;
#if defined(__TARGET_ARCH_x86)
	*ip = BPF_CORE_READ(regs, ip);
	*sp = BPF_CORE_READ(regs, sp);
	*bp = BPF_CORE_READ(regs, bp);
#endif
}

#endif /* SONDE_UCOPY_H */
