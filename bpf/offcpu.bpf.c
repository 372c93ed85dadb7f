// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Off-CPU time: how long threads wait, and where. Design (docs/offcpu.md):
 *
 *  - At every context switch the thread going out, if it blocked, gets a
 *    timestamp in its per-thread state, and nothing more: no stack walk on
 *    the hot path.
 *  - When a thread comes back in, its wait is known. Waits shorter than
 *    min_ns are kept with probability wait/min_ns and then stand for min_ns
 *    (threshold sampling: the expected time is the true time); longer waits
 *    are always kept with their own length.
 *  - For a kept wait, the kernel stack of the thread coming in, still as it
 *    blocked, is read with bpf_get_task_stack() into a slot. The user stack
 *    is only readable from the thread itself, so the record is completed when
 *    it returns to user space, where its user stack is the one it blocked
 *    with: by a task-work callback (Linux 6.18+, where the verifier lets a
 *    tracepoint schedule it), else at sys_exit.
 *  - A thread switched out outside a system call (preempted in user mode, or
 *    blocked in a page fault) returns without a sys_exit: its stacks are read
 *    at switch-out instead, while it is still the current task.
 *
 * The raw-tracepoint fallback cannot name the incoming task to BPF helpers,
 * so it keeps per-thread state in a hash, reads the kernel stack at every
 * blocking switch-out and completes at sys_exit; it is slower and exists for
 * kernels without tp_btf. It cannot tell a preemption in user mode from one
 * in a system call, so under CPU contention it may lend a preempted wait the
 * user stack of the thread's next system call.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "sonde_events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load. */
const volatile __u64 min_ns = 1000000;
const volatile bool include_preempted = false;
const volatile bool use_task_work = false;
const volatile __u32 slot_mask = 0;	    /* slots - 1: slots is a power of two */
const volatile __u32 max_per_sec = 0;	    /* records per second per CPU; 0: no cap */
const volatile __u64 wakeup_bytes = 0;	    /* 0: wake userspace on every record */
const volatile __u64 stale_ns = 1000000000; /* a slot older than this may be taken over */
const volatile __u32 ucopy_bytes = 0;	    /* user stack copied for unwinding; 0: none */
const volatile __u32 ucopy_max_per_sec = 0; /* records a second per CPU with a copy; 0: no cap */
const volatile __u32 ucopy_proc_max_per_sec = 0; /* the same for one process; 0: no cap */

extern int bpf_task_work_schedule_resume_impl(struct task_struct *task, struct bpf_task_work *tw,
					      void *map__map, bpf_task_work_callback_t callback,
					      void *aux__prog) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_offcpu_counters);
} counters SEC(".maps");

/* When a thread blocked and how: the only work done at every switch. */
struct thread_state {
	__u64 ts;
	__u32 state;
	__u32 early; /* its slot already holds the stacks, read at switch-out */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} thread_states SEC(".maps");

/* The layout of struct sonde_offcpu_slot, with the kernel's task-work type. */
struct slot {
	struct bpf_task_work tw;
	__u64 busy;
	__u64 since_ns;
	struct sonde_sample s;
};
_Static_assert(sizeof(struct slot) == sizeof(struct sonde_offcpu_slot), "slot layout");

/* Records waiting for their thread to return to user space, indexed by tid & slot_mask. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024); /* resized by the loader */
	__type(key, __u32);
	__type(value, struct slot);
} slots SEC(".maps");

/* Raw-tracepoint fallback: per-thread state and pending record in one bounded hash. */
struct hash_state {
	__u64 ts;
	__u32 state;
	__u32 pending;
	struct sonde_sample s;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096); /* resized by the loader */
	__type(key, __u32);
	__type(value, struct hash_state);
} hash_states SEC(".maps");

/* A zeroed value to insert into hash_states: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hash_state);
} hash_zero SEC(".maps");

struct rate {
	__u64 window_start;
	__u64 n;
	__u64 ucopy_window_start; /* the same for records with a user-stack copy */
	__u64 ucopies;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rate);
} rates SEC(".maps");

/* Copies a second per process on this CPU, so that one busy process cannot use up the cap. */
struct proc_rate {
	__u64 window_start;
	__u64 n;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct proc_rate);
} proc_ucopies SEC(".maps");

/*
 * Per-CPU room to complete a record with its user-stack copy at sys_exit:
 * the slots keep only header and frames, the copy never waits in them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_sample_uc);
} uscratch SEC(".maps");

#include "sonde_bpf.h"
#include "sonde_ucopy.h"

/* Kernels before 5.14 call the field `state`. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	struct task_struct___pre514 *old = (void *)t;

	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ(old, state);
}

/* The state letter of a thread being switched out, or 0 if its wait is not reported. */
static __always_inline __u32 state_letter(long st, bool preempt)
{
	if (preempt || st == 0)
		return include_preempted ? SONDE_STATE_R : 0;
	if (st & 0x0400) /* TASK_NOLOAD: TASK_IDLE */
		return SONDE_STATE_I;
	if (st & 0x0002) /* TASK_UNINTERRUPTIBLE */
		return SONDE_STATE_D;
	if (st & 0x0001) /* TASK_INTERRUPTIBLE */
		return SONDE_STATE_S;
	if (st & (0x0004 | 0x0008)) /* __TASK_STOPPED, __TASK_TRACED */
		return SONDE_STATE_T;
	if (st & 0x1000) /* TASK_RTLOCK_WAIT */
		return SONDE_STATE_D;
	return 0; /* parked, dead, waking */
}

static __always_inline struct sonde_offcpu_counters *counters_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

/*
 * Decides whether a wait of dur_ns is recorded and what it stands for: its
 * own length, or min_ns for a short wait kept with probability dur/min_ns.
 * 0 means it is left out.
 */
static __always_inline __u64 kept_weight(__u64 dur_ns, struct sonde_offcpu_counters *cnt)
{
	if (dur_ns >= min_ns)
		return dur_ns;
	/* Keep when u < dur/min with u uniform in [0, 1): u32 * min < dur * 2^32. */
	if ((__u64)bpf_get_prandom_u32() * min_ns >= dur_ns << 32) {
		cnt->v[SONDE_OFF_FILTERED]++;
		return 0;
	}
	cnt->v[SONDE_OFF_SHORT_KEPT]++;
	return min_ns;
}

/* The per-CPU cap on records a second. */
static __always_inline bool over_rate(__u64 now, struct sonde_offcpu_counters *cnt)
{
	struct rate *r;
	__u32 zero = 0;

	if (!max_per_sec)
		return false;
	r = bpf_map_lookup_elem(&rates, &zero);
	if (!r)
		return false;
	if (now - r->window_start >= 1000000000ull) {
		r->window_start = now;
		r->n = 0;
	}
	if (++r->n <= max_per_sec)
		return false;
	cnt->v[SONDE_OFF_RATE_LIMITED]++;
	return true;
}

static __always_inline void fill_header(struct sonde_sample_hdr *h, struct task_struct *t,
					__u64 now, __u64 weight, __u64 dur, __u32 state)
{
	h->kind = SONDE_EV_OFFCPU;
	h->cpu = bpf_get_smp_processor_id();
	h->pid = BPF_CORE_READ(t, tgid);
	h->tid = BPF_CORE_READ(t, pid);
	h->ts_ns = now;
	h->cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	h->start_ns = proc_start_ns(t);
	h->value = weight;
	h->aux = dur;
	h->info = state;
	h->info2 = 0;
	h->ustack_sz = 0;
	BPF_CORE_READ_STR_INTO(&h->thread_name, t, comm);
	if (BPF_CORE_READ_STR_INTO(&h->comm, t, group_leader, comm) < 0)
		__builtin_memcpy(h->comm, h->thread_name, sizeof(h->comm));
}

static __always_inline void emit(struct sonde_sample *s, struct sonde_offcpu_counters *cnt)
{
	long bytes = sizeof(s->hdr) + recorded_bytes(s->hdr.kstack_sz) +
		     recorded_bytes(s->hdr.ustack_sz);

	if (bytes > sizeof(*s))
		return;
	if (bpf_ringbuf_output(&events, s, bytes, submit_flags()))
		cnt->v[SONDE_OFF_RB_DROPS]++;
	else
		cnt->v[SONDE_OFF_EMITTED]++;
}

/*
 * Completes a slot in the context of its thread, on the way back to user
 * space: appends the user stack and writes the record.
 */
static __always_inline void complete_slot(struct slot *sl, long ubytes_ret)
{
	struct sonde_offcpu_counters *cnt = counters_get();

	if (!cnt)
		return;
	stack_bytes(ubytes_ret, &sl->s.hdr.ustack_sz, &cnt->v[SONDE_OFF_USTACK_ERR]);
	emit(&sl->s, cnt);
	sl->busy = 0;
}

/*
 * Whether this record may carry a stack copy. Waits can be many more than
 * samples: the copies a second on a CPU are capped to bound the ring-buffer
 * bytes, and so are one process's, so that a process with a storm of waits
 * leaves copies for the others.
 */
static __always_inline bool ucopy_allowed(struct sonde_offcpu_counters *cnt)
{
	__u32 zero = 0, tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_ns();
	struct proc_rate *pr = NULL;
	struct rate *r;

	r = bpf_map_lookup_elem(&rates, &zero);
	if (!r)
		return false;
	if (now - r->ucopy_window_start >= 1000000000ull) {
		r->ucopy_window_start = now;
		r->ucopies = 0;
	}
	if (r->ucopies >= ucopy_max_per_sec)
		goto capped;
	if (ucopy_proc_max_per_sec) {
		pr = bpf_map_lookup_elem(&proc_ucopies, &tgid);
		if (!pr) {
			struct proc_rate fresh = {.window_start = now};

			bpf_map_update_elem(&proc_ucopies, &tgid, &fresh, BPF_ANY);
			pr = bpf_map_lookup_elem(&proc_ucopies, &tgid);
		}
		if (pr && now - pr->window_start >= 1000000000ull) {
			pr->window_start = now;
			pr->n = 0;
		}
		if (pr && pr->n >= ucopy_proc_max_per_sec)
			goto capped;
		if (pr)
			pr->n++;
	}
	r->ucopies++;
	return true;

capped:
	cnt->v[SONDE_OFF_UCOPY_CAPPED]++;
	return false;
}

/*
 * Completes a pending record at sys_exit, in the context of its thread,
 * with its user frames and, when copying is on, the user registers and
 * stack (raw_tp ctx: args[0] is the thread's user pt_regs). false when the
 * copy is off or there is no room: the caller completes it the plain way.
 */
static __always_inline bool complete_with_copy(void *ctx, struct sonde_sample *pending)
{
	struct sonde_offcpu_counters *cnt;
	struct sonde_sample_uc *u;
	long kbytes, ubytes, cbytes, total;
	__u64 ip = 0, sp = 0, bp = 0, mm, want;
	__u32 zero = 0;
	bool to_top;

	if (!ucopy_bytes)
		return false;
	u = bpf_map_lookup_elem(&uscratch, &zero);
	cnt = counters_get();
	if (!u || !cnt)
		return false;
	if (ucopy_max_per_sec && !ucopy_allowed(cnt))
		return false;
	kbytes = recorded_bytes(pending->hdr.kstack_sz);
	if (bpf_probe_read_kernel(&u->s, sizeof(u->s.hdr) + kbytes, pending))
		return false;
#if defined(__TARGET_ARCH_x86)
	{
		struct pt_regs *regs =
			(struct pt_regs *)((struct bpf_raw_tracepoint_args *)ctx)->args[0];

		ip = BPF_CORE_READ(regs, ip);
		sp = BPF_CORE_READ(regs, sp);
		bp = BPF_CORE_READ(regs, bp);
	}
#endif
	/* As on-CPU: no frame-pointer walk when the copy reaches the known stack top. */
	mm = ucopy_mm_tag((struct task_struct *)bpf_get_current_task(), u->s.hdr.start_ns);
	want = ucopy_plan(u->s.hdr.tid, mm, sp, &to_top);
	ubytes = 0;
	u->s.hdr.ustack_sz = 0;
	if (!to_top)
		ubytes = stack_bytes(bpf_get_stack(ctx, (void *)u->s.frames + kbytes,
						   SONDE_STACK_BYTES, BPF_F_USER_STACK),
				     &u->s.hdr.ustack_sz, &cnt->v[SONDE_OFF_USTACK_ERR]);
	cbytes = ucopy_append(u, sizeof(u->s.hdr) + kbytes + ubytes, ip, sp, bp, mm, want,
			      to_top ? SONDE_UCOPY_TO_TOP : 0);
	total = sizeof(u->s.hdr) + kbytes + ubytes + cbytes;
	if (total > (long)sizeof(*u))
		total = sizeof(*u);
	if (bpf_ringbuf_output(&events, u, total, submit_flags()))
		cnt->v[SONDE_OFF_RB_DROPS]++;
	else
		cnt->v[SONDE_OFF_EMITTED]++;
	return true;
}

static int task_work_cb(struct bpf_map *map, void *key, void *value)
{
	struct slot *sl = value;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	long kbytes;

	if (sl->busy != tid)
		return 0;
	kbytes = recorded_bytes(sl->s.hdr.kstack_sz);
	complete_slot(sl,
		      bpf_get_task_stack(bpf_get_current_task_btf(), (void *)sl->s.frames + kbytes,
					 SONDE_STACK_BYTES, BPF_F_USER_STACK));
	return 0;
}

/*
 * Whether the thread entered the kernel by a system call, which it leaves
 * through sys_exit. Otherwise it was preempted in user mode, or faulted: it
 * goes back to user space without a sys_exit, and the next sys_exit (say a
 * nanosleep a while later) would lend the record the wrong user stack.
 */
static __always_inline bool in_syscall(struct task_struct *t)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);

	if (!regs)
		return true;
#if defined(__TARGET_ARCH_x86)
	return (long)BPF_CORE_READ(regs, orig_ax) >= 0;
#elif defined(__TARGET_ARCH_arm64)
	return (int)BPF_CORE_READ(regs, syscallno) >= 0;
#else
	return true;
#endif
}

/*
 * For a thread switched out outside a system call, while it is still the
 * current task: claims its slot and reads its stacks now, since nothing will
 * complete the record later. A preemption in user mode has only the
 * preemption path below it in the kernel, so only its user stack is read.
 * Returns whether the slot holds them; switch-in then decides to keep it.
 */
static __always_inline bool capture_early(void *ctx, __u32 tid, __u32 state, __u64 now,
					  struct sonde_offcpu_counters *cnt)
{
	__u32 key = tid & slot_mask;
	struct slot *sl;
	__u64 owner;
	long kbytes = 0;

	sl = bpf_map_lookup_elem(&slots, &key);
	if (!sl)
		return false;
	owner = sl->busy;
	if (owner && owner != tid && now - sl->since_ns < stale_ns) {
		cnt->v[SONDE_OFF_SLOT_BUSY]++;
		return false;
	}
	if (owner)
		cnt->v[SONDE_OFF_STALE]++;
	if (__sync_val_compare_and_swap(&sl->busy, owner, tid) != owner) {
		cnt->v[SONDE_OFF_SLOT_BUSY]++;
		return false;
	}
	sl->since_ns = now;
	sl->s.hdr.kstack_sz = 0;
	if (state != SONDE_STATE_R)
		kbytes = stack_bytes(bpf_get_stack(ctx, sl->s.frames, SONDE_STACK_BYTES, 0),
				     &sl->s.hdr.kstack_sz, &cnt->v[SONDE_OFF_KSTACK_ERR]);
	stack_bytes(bpf_get_stack(ctx, (void *)sl->s.frames + kbytes, SONDE_STACK_BYTES,
				  BPF_F_USER_STACK),
		    &sl->s.hdr.ustack_sz, &cnt->v[SONDE_OFF_USTACK_ERR]);
	cnt->v[SONDE_OFF_EARLY]++;
	return true;
}

/* Switch-in of a thread whose stacks capture_early() read: sends or drops its slot. */
static __always_inline void finish_early(struct task_struct *next, __u32 tid, __u64 now,
					 __u64 weight, __u64 dur, __u32 state,
					 struct sonde_offcpu_counters *cnt)
{
	__u32 key = tid & slot_mask;
	struct slot *sl;
	__s32 ksz, usz;

	sl = bpf_map_lookup_elem(&slots, &key);
	if (!sl || sl->busy != tid)
		return; /* taken over as stale meanwhile */
	if (weight && !over_rate(now, cnt)) {
		ksz = sl->s.hdr.kstack_sz;
		usz = sl->s.hdr.ustack_sz;
		fill_header(&sl->s.hdr, next, now, weight, dur, state);
		sl->s.hdr.kstack_sz = ksz;
		sl->s.hdr.ustack_sz = usz;
		emit(&sl->s, cnt);
	}
	sl->busy = 0;
}

/* tp_btf: the thread going out gets a timestamp; the one coming in may be recorded. */
static __always_inline void switch_btf(void *ctx, bool preempt, struct task_struct *prev,
				       struct task_struct *next)
{
	struct sonde_offcpu_counters *cnt;
	struct thread_state *ts;
	__u32 state, tid, key;
	__u64 now, dur, weight, owner;
	struct slot *sl;
	bool early;

	now = bpf_ktime_get_ns();
	if (prev->pid) {
		state = state_letter(task_state(prev), preempt);
		if (state) {
			ts = bpf_task_storage_get(&thread_states, prev, 0,
						  BPF_LOCAL_STORAGE_GET_F_CREATE);
			cnt = counters_get();
			if (!cnt)
				return;
			if (ts) {
				ts->ts = now;
				ts->state = state;
				ts->early = !use_task_work && !in_syscall(prev) &&
					    capture_early(ctx, prev->pid, state, now, cnt);
				cnt->v[SONDE_OFF_BLOCKED]++;
			} else {
				cnt->v[SONDE_OFF_STORAGE_ERR]++;
			}
		}
	}

	tid = next->pid;
	if (!tid)
		return;
	ts = bpf_task_storage_get(&thread_states, next, 0, 0);
	if (!ts || !ts->ts)
		return;
	dur = now - ts->ts;
	state = ts->state;
	early = ts->early;
	ts->ts = 0;
	ts->early = 0;
	cnt = counters_get();
	if (!cnt)
		return;
	weight = kept_weight(dur, cnt);
	if (early) {
		finish_early(next, tid, now, weight, dur, state, cnt);
		return;
	}
	if (!weight || over_rate(now, cnt))
		return;

	key = tid & slot_mask;
	sl = bpf_map_lookup_elem(&slots, &key);
	if (!sl)
		return;
	owner = sl->busy;
	if (owner == tid) {
		/*
		 * A second wait before the thread got back to user space (one
		 * syscall that blocked twice): same user stack, so the pending
		 * record takes its time too.
		 */
		sl->s.hdr.value += weight;
		sl->s.hdr.aux += dur;
		sl->s.hdr.ts_ns = now; /* it belongs where its last wait ended */
		return;
	}
	if (owner) {
		if (now - sl->since_ns < stale_ns) {
			cnt->v[SONDE_OFF_SLOT_BUSY]++;
			return;
		}
		cnt->v[SONDE_OFF_STALE]++;
	}
	if (__sync_val_compare_and_swap(&sl->busy, owner, tid) != owner) {
		cnt->v[SONDE_OFF_SLOT_BUSY]++;
		return;
	}
	sl->since_ns = now;
	fill_header(&sl->s.hdr, next, now, weight, dur, state);
	stack_bytes(bpf_get_task_stack(next, sl->s.frames, SONDE_STACK_BYTES, 0),
		    &sl->s.hdr.kstack_sz, &cnt->v[SONDE_OFF_KSTACK_ERR]);

	/* Kernel threads never return to user space: their record is complete. */
	if (next->flags & SONDE_PF_KTHREAD) {
		emit(&sl->s, cnt);
		sl->busy = 0;
		return;
	}
	if (!use_task_work)
		return; /* sys_exit completes it */
	if (bpf_task_work_schedule_resume_impl(next, &sl->tw, &slots, task_work_cb, NULL)) {
		cnt->v[SONDE_OFF_TASK_WORK_ERR]++;
		sl->s.hdr.ustack_sz = -16; /* -EBUSY: sent without its user stack */
		emit(&sl->s, cnt);
		sl->busy = 0;
	}
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sonde_off_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switch_btf(ctx, preempt, prev, next);
	return 0;
}

/* sys_exit completion for the tp_btf hook on kernels without task work. */
SEC("raw_tp/sys_exit")
int sonde_off_sysx(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 key = tid & slot_mask;
	struct slot *sl;
	long kbytes;

	sl = bpf_map_lookup_elem(&slots, &key);
	if (!sl || sl->busy != tid)
		return 0;
	if (complete_with_copy(ctx, &sl->s)) {
		sl->busy = 0;
		return 0;
	}
	kbytes = recorded_bytes(sl->s.hdr.kstack_sz);
	complete_slot(sl, bpf_get_stack(ctx, (void *)sl->s.frames + kbytes, SONDE_STACK_BYTES,
					BPF_F_USER_STACK));
	return 0;
}

/* The raw-tracepoint fallback. */
SEC("raw_tp/sched_switch")
int sonde_off_raw(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	bool preempt = ctx->args[0];
	struct sonde_offcpu_counters *cnt;
	struct hash_state *hs, *zero;
	__u32 state, tid, z = 0;
	__u64 now, dur, weight;

	now = bpf_ktime_get_ns();
	tid = BPF_CORE_READ(prev, pid);
	state = tid ? state_letter(task_state(prev), preempt) : 0;
	cnt = counters_get();
	if (!cnt)
		return 0;
	if (state) {
		hs = bpf_map_lookup_elem(&hash_states, &tid);
		if (!hs) {
			zero = bpf_map_lookup_elem(&hash_zero, &z);
			if (zero)
				bpf_map_update_elem(&hash_states, &tid, zero, BPF_NOEXIST);
			hs = bpf_map_lookup_elem(&hash_states, &tid);
		}
		if (hs && hs->pending) {
			/* It blocked again without a sys_exit (a page fault): send what we have. */
			hs->s.hdr.ustack_sz = -116; /* -ESTALE */
			emit(&hs->s, cnt);
			cnt->v[SONDE_OFF_STALE]++;
			hs->pending = 0;
		}
		if (hs) {
			hs->ts = now;
			hs->state = state;
			/* This hook cannot read another task's stack later: read it now. */
			stack_bytes(bpf_get_stack(ctx, hs->s.frames, SONDE_STACK_BYTES, 0),
				    &hs->s.hdr.kstack_sz, &cnt->v[SONDE_OFF_KSTACK_ERR]);
			cnt->v[SONDE_OFF_BLOCKED]++;
		} else {
			cnt->v[SONDE_OFF_STORAGE_ERR]++;
		}
	}

	tid = BPF_CORE_READ(next, pid);
	if (!tid)
		return 0;
	hs = bpf_map_lookup_elem(&hash_states, &tid);
	if (!hs || !hs->ts || hs->pending)
		return 0;
	dur = now - hs->ts;
	state = hs->state;
	hs->ts = 0;
	weight = kept_weight(dur, cnt);
	if (!weight || over_rate(now, cnt)) {
		bpf_map_delete_elem(&hash_states, &tid);
		return 0;
	}
	fill_header(&hs->s.hdr, next, now, weight, dur, state);
	if (BPF_CORE_READ(next, flags) & SONDE_PF_KTHREAD) {
		emit(&hs->s, cnt);
		bpf_map_delete_elem(&hash_states, &tid);
		return 0;
	}
	hs->pending = 1; /* sys_exit completes it */
	return 0;
}

SEC("raw_tp/sys_exit")
int sonde_off_sysx_h(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sonde_offcpu_counters *cnt;
	struct hash_state *hs;
	long kbytes;

	hs = bpf_map_lookup_elem(&hash_states, &tid);
	if (!hs || !hs->pending)
		return 0;
	if (complete_with_copy(ctx, &hs->s)) {
		bpf_map_delete_elem(&hash_states, &tid);
		return 0;
	}
	cnt = counters_get();
	if (!cnt)
		return 0;
	kbytes = recorded_bytes(hs->s.hdr.kstack_sz);
	stack_bytes(bpf_get_stack(ctx, (void *)hs->s.frames + kbytes, SONDE_STACK_BYTES,
				  BPF_F_USER_STACK),
		    &hs->s.hdr.ustack_sz, &cnt->v[SONDE_OFF_USTACK_ERR]);
	emit(&hs->s, cnt);
	bpf_map_delete_elem(&hash_states, &tid);
	return 0;
}
