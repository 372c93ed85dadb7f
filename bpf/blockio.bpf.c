// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Block I/O: which code paths issue disk requests, how many bytes, and how
 * long each takes. Design (docs/blockio.md):
 *
 *  - When a request starts, in the context of the task that submits it, the
 *    task's kernel and user stacks, names, the request's operation and disk
 *    go to the ring buffer at once (the start record), and a small pending
 *    entry (start time, bytes so far) into the in-flight table, in a slot
 *    found by the request's address, until it completes.
 *  - At completion (any context, usually an interrupt) a completion record
 *    (address, start and end times, bytes) goes to the ring buffer and the
 *    entry leaves the table; the daemon joins it with the start record. A
 *    completion with no entry (the request started before sonde attached, or
 *    was left out by sampling) is only counted.
 *  - Above max_per_sec starts a second on a CPU, one request in k is kept and
 *    stands for k (k from the previous second's rate), so the stack walks,
 *    the costly part, stay bounded and the totals stay unbiased.
 *
 * Hooks: tp_btf/block_io_start (Linux 6.5+) for the start; where it is
 * missing, raw_tp/block_rq_insert and raw_tp/block_rq_issue, the first of
 * the two per request winning (insert runs in the submitter's context, issue
 * may run in a kblockd worker's). Completion is block_rq_complete in both
 * cases: block_io_done fires only for requests with I/O accounting or an
 * I/O scheduler, and by then the request's byte count has been zeroed.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "sonde_events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NSEC_PER_SEC 1000000000ull

/* Set by the loader before load. */
const volatile __u64 wakeup_bytes = 0; /* 0: wake userspace on every record */
const volatile __u32 max_per_sec = 0;  /* kept starts a second per CPU; 0: keep every one */
const volatile __u32 slot_mask = 1023; /* slots in the in-flight table - 1: a power of two - 1 */
const volatile __u32 ucopy_bytes = 0;  /* user stack copied for unwinding; 0: none */

/* The kernel's tick rate, from its config where libbpf finds it; else 0. */
extern unsigned int CONFIG_HZ __kconfig __weak;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_blockio_counters);
} counters SEC(".maps");

/* A kept request between its start and its completion. */
struct pending {
	__u64 rq;	/* the request's address; 0: a free slot */
	__u64 start_ns; /* bpf_ktime_get_ns() at the start, as in its start record */
	__u64 bytes;	/* completed so far */
	__u32 issued;	/* raw_tp: block_rq_issue has seen it (a later insert is a requeue) */
	__u32 no_send;	/* its start record was lost: its completion sends nothing either */
};

/*
 * Kept requests in flight, in the slot their address hashes to. Every start
 * and completion looks here, kept or not, so this is an array: the verifier
 * inlines its look-ups, where a hash costs a helper call and a key hash each
 * (and a run-time allocated hash element freed on another CPU than it came
 * from costs microseconds: requests start on the submitter's CPU and complete
 * on the interrupt's). A slot is claimed with a compare-and-swap of rq;
 * a kept request whose slot holds another request in flight is dropped and
 * counted (table_full). The loader sizes it well above the requests a host
 * keeps in flight.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024); /* resized by the loader, with slot_mask */
	__type(key, __u32);
	__type(value, struct pending);
} inflight SEC(".maps");

/*
 * Where a start record is built before it goes to the ring buffer: too big
 * for the stack. With room for the user-stack copy.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_sample_uc);
} scratch SEC(".maps");

/* raw_tp with sampling: requests left out at insert, so that their issue does not draw again. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024); /* resized by the loader */
	__type(key, __u64);
	__type(value, __u8);
} skipped SEC(".maps");

/* Per-CPU sampling state: starts in the current one-second window and the current k. */
struct rate {
	__u64 window_start;
	__u32 n;
	__u32 k;
	__u32 check; /* n at which the window's rate is projected again */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rate);
} rates SEC(".maps");

#include "sonde_bpf.h"
#include "sonde_ucopy.h"

/* Kernels before 5.15 (no request_queue.disk) name the disk in the request. */
struct request___pre515 {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline struct sonde_blockio_counters *counters_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

static __always_inline __u32 req_flag(enum req_flag_bits bit)
{
	return 1u << bit;
}

/*
 * The operation and sync flag. Operation numbers have been stable since
 * Linux 4.10; the flag bits move, so they are relocated. An empty write with
 * a preflush is a cache flush (fsync's), and reported as one. Sync follows
 * the kernel's op_is_sync(): every read, and writes with SYNC, FUA or PREFLUSH.
 */
static __always_inline __u32 op_info(__u32 flags, __u32 len)
{
	__u32 op_mask = req_flag(bpf_core_enum_value(enum req_flag_bits, __REQ_FAILFAST_DEV)) - 1;
	__u32 preflush = req_flag(bpf_core_enum_value(enum req_flag_bits, __REQ_PREFLUSH));
	__u32 syncs = req_flag(bpf_core_enum_value(enum req_flag_bits, __REQ_SYNC)) |
		      req_flag(bpf_core_enum_value(enum req_flag_bits, __REQ_FUA)) | preflush;
	__u32 op = flags & op_mask, info;

	switch (op) {
	case 0:
		info = SONDE_BIO_OP_READ;
		break;
	case 1:
		info = (flags & preflush) && !len ? SONDE_BIO_OP_FLUSH : SONDE_BIO_OP_WRITE;
		break;
	case 2:
		info = SONDE_BIO_OP_FLUSH;
		break;
	case 3:
		info = SONDE_BIO_OP_DISCARD;
		break;
	default:
		info = SONDE_BIO_OP_OTHER;
		break;
	}
	if (op == 0 || (flags & syncs))
		info |= SONDE_BIO_SYNC;
	return info;
}

static __always_inline __u32 disk_devt(struct request *rq)
{
	struct request___pre515 *old = (void *)rq;
	struct gendisk *disk;

	if (bpf_core_field_exists(rq->q->disk))
		disk = BPF_CORE_READ(rq, q, disk);
	else
		disk = BPF_CORE_READ(old, rq_disk);
	if (!disk)
		return 0;
	return ((__u32)BPF_CORE_READ(disk, major) << 20) | (__u32)BPF_CORE_READ(disk, first_minor);
}

/*
 * The clock of the sampling windows, in nanoseconds: the tick count where the
 * tick rate is known, since every start reads it and bpf_ktime_get_ns()
 * reads the clock source (a paravirtual clock in a VM); a tick is precise
 * enough for one-second windows. Kept requests still read the exact time.
 */
static __always_inline __u64 window_clock(void)
{
	if (CONFIG_HZ)
		return bpf_jiffies64() * (NSEC_PER_SEC / CONFIG_HZ);
	return bpf_ktime_get_ns();
}

/*
 * How many requests a start kept now stands for: 1 below the rate cap, k
 * (one in k kept) above it, 0 when this one is left out. Flushes are rare
 * and always kept.
 *
 * k comes from the previous second's starts. A burst after a quiet second
 * would then be kept whole for a second, so every max_per_sec starts within
 * the window its rate is projected from the time elapsed, and k raised to
 * match: the kept starts of a window stay under about twice the cap. Each
 * kept request weighs the k in force when it was drawn, so the estimate stays
 * unbiased.
 */
static __always_inline __u32 sample_weight(__u64 now, __u32 info,
					   struct sonde_blockio_counters *cnt)
{
	struct rate *r;
	__u32 zero = 0, k;
	__u64 pace;

	if (!max_per_sec || (info & SONDE_BIO_OP_MASK) == SONDE_BIO_OP_FLUSH)
		return 1;
	r = bpf_map_lookup_elem(&rates, &zero);
	if (!r)
		return 1;
	if (now - r->window_start >= NSEC_PER_SEC) {
		/* The next second keeps one in k, k from this second's rate. */
		k = 1;
		if (now - r->window_start < 2 * NSEC_PER_SEC && r->n > max_per_sec)
			k = (r->n + max_per_sec - 1) / max_per_sec;
		if (k > SONDE_BIO_WEIGHT_MAX)
			k = SONDE_BIO_WEIGHT_MAX;
		r->window_start = now;
		r->n = 0;
		r->k = k;
		r->check = max_per_sec;
	}
	if (++r->n == r->check) {
		/* This window's pace so far, in starts a second, then the k it needs. */
		pace = (__u64)r->n * NSEC_PER_SEC / (now - r->window_start + 1);
		pace = (pace + max_per_sec - 1) / max_per_sec;
		if (pace > SONDE_BIO_WEIGHT_MAX)
			pace = SONDE_BIO_WEIGHT_MAX;
		if (pace > r->k)
			r->k = (__u32)pace;
		r->check += max_per_sec;
	}
	if (r->k <= 1)
		return 1;
	if (bpf_get_prandom_u32() % r->k) {
		cnt->v[SONDE_BIO_SAMPLED_OUT]++;
		return 0;
	}
	return r->k;
}

/*
 * A field of the request: a plain load where the program has the kernel's
 * pointer type (tp_btf), a probe read where it has a number (raw_tp). Inlined
 * with a constant btf, so each program keeps one of the two.
 */
#define RQ_FIELD(btf, rq, field) ((btf) ? (rq)->field : BPF_CORE_READ(rq, field))

/*
 * Sends the start record of a kept request, built in the per-CPU scratch:
 * the submitting task's stacks and names, the operation and disk, the
 * request's address (aux) and the start time (ts_ns). 0 or -errno.
 */
static __always_inline long send_start(void *ctx, struct request *rq, __u64 key, __u64 now,
				       __u32 info, struct sonde_blockio_counters *cnt)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 ip = 0, sp = 0, bp = 0, mm = 0, want = 0;
	struct sonde_sample_hdr *h;
	struct sonde_sample_uc *u;
	struct sonde_sample *rec;
	long kbytes, size;
	bool to_top = false;
	__u32 zero = 0;

	u = bpf_map_lookup_elem(&scratch, &zero);
	if (!u)
		return -2; /* -ENOENT */
	rec = &u->s;
	h = &rec->hdr;
	h->kind = SONDE_EV_BLOCKIO;
	h->cpu = bpf_get_smp_processor_id();
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ts_ns = now;
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->start_ns = proc_start_ns(task);
	h->value = 0;
	h->aux = key;
	h->info = info;
	h->info2 = disk_devt(rq);
	bpf_get_current_comm(&h->thread_name, sizeof(h->thread_name));
	if (BPF_CORE_READ_STR_INTO(&h->comm, task, group_leader, comm) < 0)
		__builtin_memcpy(h->comm, h->thread_name, sizeof(h->comm));
	kbytes = stack_bytes(bpf_get_stack(ctx, rec->frames, SONDE_STACK_BYTES, 0), &h->kstack_sz,
			     &cnt->v[SONDE_BIO_KSTACK_ERR]);
	/*
	 * The submitter's user stack, copied for CFI as on-CPU samples are (a
	 * kernel thread has none); the frame-pointer walk is left out when the
	 * copy reaches the thread's learnt stack top.
	 */
	if (ucopy_bytes && !(BPF_CORE_READ(task, flags) & SONDE_PF_KTHREAD)) {
		ucopy_task_regs(&ip, &sp, &bp);
		mm = ucopy_mm_tag(task, h->start_ns);
		want = ucopy_plan(h->tid, mm, sp, &to_top);
	}
	/* A kernel thread has no user stack: that reads as 0 bytes, not as an error. */
	h->ustack_sz =
		to_top ? 0 : (__s32)ustack_walk((void *)rec->frames + kbytes, SONDE_STACK_BYTES);
	size = sizeof(*h) + kbytes + recorded_bytes(h->ustack_sz);
	if (want)
		size += ucopy_append(u, size, ip, sp, bp, mm, want,
				     to_top ? SONDE_UCOPY_TO_TOP : 0);
	if (size > sizeof(*u))
		return -22; /* -EINVAL, for the verifier */
	return bpf_ringbuf_output(&events, u, size, submit_flags());
}

/*
 * The request's address as a number. Where the program has the kernel's
 * pointer type (tp_btf), the verifier allows no arithmetic on it, so it is
 * read back from the stack as a plain value.
 */
static __always_inline __u64 rq_key(struct request *rq, bool btf)
{
	__u64 key = 0;

	if (!btf)
		return (__u64)rq;
	bpf_probe_read_kernel(&key, sizeof(key), &rq);
	return key;
}

/* The in-flight slot of the request at address key (NULL only for the verifier). */
static __always_inline struct pending *slot_of(__u64 key)
{
	__u32 idx = (__u32)((key * 0x9e3779b97f4a7c15ull) >> 32) & slot_mask;

	return bpf_map_lookup_elem(&inflight, &idx);
}

/*
 * Claims the slot of a kept request, taking over an entry the request's
 * address still held. NULL when another request in flight holds it.
 */
static __always_inline struct pending *claim(__u64 key, struct sonde_blockio_counters *cnt)
{
	struct pending *p = slot_of(key);
	__u64 held;

	if (!p)
		return NULL;
	held = __sync_val_compare_and_swap(&p->rq, 0, key);
	if (held == key) /* the previous request here ended unseen (merged away) */
		cnt->v[SONDE_BIO_STALE]++;
	else if (held) {
		cnt->v[SONDE_BIO_TABLE_FULL]++;
		return NULL;
	}
	return p;
}

/*
 * A request left out by sampling must not leave behind the entry of an earlier
 * request at its address (one merged away unseen): its completion would send it.
 */
static __always_inline void drop_stale(__u64 key, struct sonde_blockio_counters *cnt)
{
	struct pending *p = slot_of(key);

	if (p && p->rq == key && __sync_val_compare_and_swap(&p->rq, key, 0) == key)
		cnt->v[SONDE_BIO_STALE]++;
}

/*
 * A request starts in the current task's context. Returns whether it is
 * kept (its start record sent or counted as lost, its entry stored).
 */
static __always_inline bool start(void *ctx, struct request *rq, bool btf, __u32 issued,
				  struct sonde_blockio_counters *cnt)
{
	__u64 key = rq_key(rq, btf), now;
	__u32 info, weight;
	struct pending *p;
	long err;

	cnt->v[SONDE_BIO_STARTED]++;
	info = op_info(RQ_FIELD(btf, rq, cmd_flags), RQ_FIELD(btf, rq, __data_len));
	weight = sample_weight(window_clock(), info, cnt);
	if (!weight) {
		drop_stale(key, cnt);
		return false;
	}
	p = claim(key, cnt);
	if (!p)
		return false;
	now = bpf_ktime_get_ns();
	p->start_ns = now;
	p->bytes = 0;
	p->issued = issued;
	err = send_start(ctx, rq, key, now, info | weight << SONDE_BIO_WEIGHT_SHIFT, cnt);
	if (err)
		cnt->v[SONDE_BIO_RB_DROPS]++;
	p->no_send = err != 0;
	return true;
}

/* A completion of a request that has no entry: counted, unless a flush's. */
static __always_inline void no_record(struct request *rq, bool btf, __u32 left,
				      struct sonde_blockio_counters *cnt)
{
	/*
	 * One request of each flush sequence has no start in either hook
	 * (the internal flush request, or the submitter's empty preflush
	 * write): not a loss, so not counted.
	 */
	if ((op_info(RQ_FIELD(btf, rq, cmd_flags), left) & SONDE_BIO_OP_MASK) != SONDE_BIO_OP_FLUSH)
		cnt->v[SONDE_BIO_NO_RECORD]++;
}

/*
 * A completion of nr_bytes; the request is done when they cover what was
 * left of it (drivers may complete a request in parts). A kept one sends its
 * completion record.
 */
static __always_inline void complete(struct request *rq, bool btf, __u32 nr_bytes, int error)
{
	__u32 left = RQ_FIELD(btf, rq, __data_len);
	struct sonde_blockio_counters *cnt;
	struct sonde_blockio_done *d;
	__u64 key = rq_key(rq, btf);
	struct pending *p;

	p = slot_of(key);
	if (!p || p->rq != key) {
		cnt = nr_bytes < left ? NULL : counters_get();
		if (cnt)
			no_record(rq, btf, left, cnt);
		return;
	}
	p->bytes += nr_bytes;
	if (nr_bytes < left)
		return;
	cnt = counters_get();
	if (!cnt)
		return;
	if (!p->no_send) {
		d = bpf_ringbuf_reserve(&events, sizeof(*d), 0);
		if (d) {
			d->kind = SONDE_EV_BLOCKIO_DONE;
			d->status = error;
			d->rq = key;
			d->start_ns = p->start_ns;
			d->end_ns = bpf_ktime_get_ns();
			d->bytes = p->bytes;
			bpf_ringbuf_submit(d, submit_flags());
			cnt->v[SONDE_BIO_EMITTED]++;
		} else {
			cnt->v[SONDE_BIO_RB_DROPS]++;
		}
	}
	p->rq = 0; /* the slot is free again */
}

SEC("tp_btf/block_io_start")
int BPF_PROG(sonde_bio_start, struct request *rq)
{
	struct sonde_blockio_counters *cnt = counters_get();

	if (cnt)
		start(ctx, rq, true, 1, cnt);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(sonde_bio_done, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	complete(rq, true, nr_bytes, error);
	return 0;
}

/* The raw-tracepoint fallback: the first of insert and issue starts the request. */
SEC("raw_tp/block_rq_insert")
int sonde_bio_insert(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	struct sonde_blockio_counters *cnt = counters_get();
	__u64 key = (__u64)rq;
	struct pending *p;
	__u8 one = 1;

	if (!cnt)
		return 0;
	p = slot_of(key);
	/* Issued before: a requeued request, still timed from its first start. */
	if (p && p->rq == key && p->issued)
		return 0;
	if (start(ctx, rq, false, 0, cnt))
		bpf_map_delete_elem(&skipped, &key);
	else if (max_per_sec)
		bpf_map_update_elem(&skipped, &key, &one, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_issue")
int sonde_bio_issue(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	struct sonde_blockio_counters *cnt;
	__u64 key = (__u64)rq;
	struct pending *p;

	p = slot_of(key);
	if (p && p->rq == key) {
		p->issued = 1;
		return 0;
	}
	/* Left out when it was inserted: the decision stands. */
	if (max_per_sec && bpf_map_delete_elem(&skipped, &key) == 0)
		return 0;
	cnt = counters_get();
	if (cnt)
		start(ctx, rq, false, 1, cnt);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int sonde_bio_done_raw(struct bpf_raw_tracepoint_args *ctx)
{
	complete((struct request *)ctx->args[0], false, (__u32)ctx->args[2], (int)ctx->args[1]);
	return 0;
}
