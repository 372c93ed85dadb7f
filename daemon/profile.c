// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof.h"
#include "profile.h"
#include "sonde_events.h"

#define KERNEL_PID UINT32_MAX

/* (pid, address) → location id, so every distinct frame is looked up once per profile. */
struct frame_cache {
	struct frame_slot {
		uint64_t addr;
		uint64_t start; /* the process's start time: a reused pid is another process */
		uint32_t pid;
		uint32_t used;
		uint64_t loc_id;
	} * slots;
	size_t size, n;
};

/*
 * The labels of (pid, tid, names, cgroup), interned once per profile: most
 * entries share them with many others. Direct-mapped; a collision only
 * costs building them again.
 */
#define LABEL_CACHE_SLOTS 1024

struct label_slot {
	uint32_t pid, tid;
	uint64_t cgroup_id;
	char comm[AGG_NAME_LEN];
	char thread_name[AGG_NAME_LEN];
	bool used;
	uint32_t n;
	struct pprof_label_ref refs[LABELS_MAX];
};

struct build_ctx {
	struct pprof_builder *b;
	struct label_slot *label_cache;
	struct symbolizer *sym;
	struct frame_cache cache;
	struct profile_stats *stats;
	uint64_t kernel_map_id;
	enum profile_kind kind;
	int64_t period; /* ns (or events) per on-CPU sample; 0: samples carry their own value */
	profile_device_name_fn device_name;
	void *device_ctx;
	uint32_t labels;
	struct cgroups *cg;
	bool addresses_only;
	uint64_t locs[2 * SONDE_MAX_STACK_DEPTH + 1];
};

static uint64_t hash_frame(uint32_t pid, uint64_t start, uint64_t addr)
{
	/* Every bit of both reaches the low bits the table uses: many processes share addresses. */
	uint64_t h =
		addr ^ ((uint64_t)pid * 0x9e3779b97f4a7c15ull) ^ (start * 0xbf58476d1ce4e5b9ull);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static int cache_grow(struct frame_cache *fc)
{
	size_t new_size = fc->size ? fc->size * 2 : 1024;
	struct frame_slot *t;

	if ((fc->n + 1) * 2 <= fc->size)
		return 0;
	t = calloc(new_size, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < fc->size; i++) {
		size_t j;

		if (!fc->slots[i].used)
			continue;
		j = hash_frame(fc->slots[i].pid, fc->slots[i].start, fc->slots[i].addr) &
		    (new_size - 1);
		while (t[j].used)
			j = (j + 1) & (new_size - 1);
		t[j] = fc->slots[i];
	}
	free(fc->slots);
	fc->slots = t;
	fc->size = new_size;
	return 0;
}

static struct frame_slot *cache_slot(struct frame_cache *fc, uint32_t pid, uint64_t start,
				     uint64_t addr)
{
	size_t j;

	if (cache_grow(fc))
		return NULL;
	j = hash_frame(pid, start, addr) & (fc->size - 1);
	while (fc->slots[j].used) {
		if (fc->slots[j].pid == pid && fc->slots[j].addr == addr &&
		    fc->slots[j].start == start)
			return &fc->slots[j];
		j = (j + 1) & (fc->size - 1);
	}
	return &fc->slots[j];
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * The Lines of frame f named name, innermost first: the functions inlined
 * at its address, then name itself, each with its file and line where known.
 * Functions are told apart by name and file: two static f() in two files stay
 * two. The number of Lines, 0 on allocation failure.
 */
static size_t frame_lines(struct build_ctx *ctx, const struct sym_frame *f, const char *name,
			  struct pprof_line *lines)
{
	const char *file = f->file;
	uint32_t line = f->line;
	size_t n = 0;

	for (size_t i = 0; i <= f->n_inlined && i < SYM_MAX_INLINE + 1; i++) {
		const char *fn = i < f->n_inlined ? f->inlined[i].name : name;

		lines[n].function_id = pprof_builder__function(ctx->b, fn, fn, file ? file : "");
		if (!lines[n].function_id)
			return 0;
		lines[n++].line = line;
		if (i < f->n_inlined) {
			file = f->inlined[i].call_file;
			line = f->inlined[i].call_line;
		}
	}
	return n;
}

/* Looks up one frame and returns its location id, or 0 on allocation failure. */
static uint64_t frame_location(struct build_ctx *ctx, uint32_t pid, uint64_t start, uint64_t addr,
			       bool leaf)
{
	struct frame_slot *slot = cache_slot(&ctx->cache, pid, start, addr);
	uint64_t lookup = leaf || addr == 0 ? addr : addr - 1;
	struct sym_frame f = {0};
	uint64_t map_id = 0;
	struct pprof_line lines[SYM_MAX_INLINE + 1];
	size_t n_lines;
	char placeholder[300];
	const char *name;
	int err;

	if (!slot)
		return 0;
	if (slot->used)
		return slot->loc_id;

	ctx->stats->frames++;
	if (pid == KERNEL_PID)
		err = ctx->sym ? symbolizer__kernel(ctx->sym, lookup, &f) : -ENOENT;
	else
		err = ctx->sym ? symbolizer__user_named(ctx->sym, pid, start, lookup, &f) : -ENOENT;

	if (err || !f.map_path) {
		name = "[unknown]";
		if (pid == KERNEL_PID)
			map_id = ctx->kernel_map_id;
	} else {
		bool server_names = ctx->addresses_only && pid != KERNEL_PID && f.build_id &&
				    f.map_path[0] == '/';

		/* The builder deduplicates mappings, so every frame simply asks for its own. */
		map_id = pprof_builder__mapping(ctx->b, f.map_start, f.map_limit, f.map_offset,
						f.map_path, f.build_id, !server_names);
		if (!map_id)
			return 0;
		if (server_names) {
			slot->loc_id = pprof_builder__location(ctx->b, map_id, addr, 0);
			if (!slot->loc_id)
				return 0;
			ctx->stats->address_only_frames++;
			goto out_cache;
		}
		/* Kernel frames nothing names still belong in the kernel mapping. */
		if (pid == KERNEL_PID && strcmp(f.map_path, "[kernel.kallsyms]") == 0)
			ctx->kernel_map_id = map_id;
		/* A user frame's name comes with its source line, where DWARF has one. */
		if (f.name) {
			name = f.name;
		} else {
			const char *b = base_name(f.map_path);

			if (b[0] == '[')
				snprintf(placeholder, sizeof(placeholder), "%s", b);
			else
				snprintf(placeholder, sizeof(placeholder), "[%s]", b);
			name = placeholder;
		}
	}
	if (err || !f.name)
		ctx->stats->unnamed_frames++;

	n_lines = frame_lines(ctx, &f, name, lines);
	if (!n_lines)
		return 0;
	slot->loc_id = pprof_builder__location_lines(ctx->b, map_id, addr, lines, n_lines);
	if (!slot->loc_id)
		return 0;
out_cache:
	slot->used = 1;
	slot->pid = pid;
	slot->addr = addr;
	slot->start = start;
	ctx->cache.n++;
	return slot->loc_id;
}

/* A frame of sonde's own making, with no mapping. 0 on allocation failure. */
static uint64_t synthetic_location(struct build_ctx *ctx, const char *name)
{
	uint64_t fn = pprof_builder__function(ctx->b, name, name, "");

	return fn ? pprof_builder__location(ctx->b, 0, 0, fn) : 0;
}

/* The labels of a block-I/O entry: device, op and sync, from its tag. */
static size_t blockio_labels(struct build_ctx *ctx, const struct agg_sample *e,
			     struct pprof_label *labels, char *dev, size_t dev_len)
{
	static const char *const ops[] = {
		[SONDE_BIO_OP_READ] = "read",	[SONDE_BIO_OP_WRITE] = "write",
		[SONDE_BIO_OP_FLUSH] = "flush", [SONDE_BIO_OP_DISCARD] = "discard",
		[SONDE_BIO_OP_OTHER] = "other",
	};
	uint32_t devt = (uint32_t)(e->tag >> 32), op = (uint32_t)e->tag & SONDE_BIO_OP_MASK;
	const char *name;

	if (ctx->device_name)
		name = ctx->device_name(ctx->device_ctx, devt, dev, dev_len);
	else
		name = NULL;
	if (!name || !name[0]) {
		snprintf(dev, dev_len, "%u:%u", devt >> 20, devt & 0xfffff);
		name = dev;
	}
	labels[0] = (struct pprof_label){.key = "device", .str = name};
	labels[1] = (struct pprof_label){
		.key = "op",
		.str = op < sizeof(ops) / sizeof(ops[0]) ? ops[op] : "other",
	};
	labels[2] = (struct pprof_label){
		.key = "sync",
		.str = e->tag & SONDE_BIO_SYNC ? "true" : "false",
	};
	return 3;
}

/* l with its strings interned in the builder. 0 or -errno. */
static int label_ref(struct pprof_builder *b, const struct pprof_label *l,
		     struct pprof_label_ref *out)
{
	out->key = pprof_builder__string(b, l->key);
	out->str = l->str ? pprof_builder__string(b, l->str) : 0;
	out->num = l->str ? 0 : l->num;
	out->num_unit = l->str ? 0 : pprof_builder__string(b, l->num_unit);
	return out->key < 0 || out->str < 0 || out->num_unit < 0 ? -ENOMEM : 0;
}

static bool name_eq(const char *cached, const char *name)
{
	return strncmp(cached, name ? name : "", AGG_NAME_LEN) == 0;
}

static void name_copy(char *dst, const char *name)
{
	size_t n = name ? strnlen(name, AGG_NAME_LEN - 1) : 0;

	if (n)
		memcpy(dst, name, n);
	dst[n] = '\0';
}

/* The labels every entry of e's thread carries, from the cache or made now. */
static const struct label_slot *entry_labels(struct build_ctx *ctx, const struct agg_sample *e)
{
	uint64_t h = ((uint64_t)e->pid << 32 | e->tid) * 0x9e3779b97f4a7c15ull ^ e->cgroup_id;
	struct label_slot *slot = &ctx->label_cache[(h >> 40) & (LABEL_CACHE_SLOTS - 1)];
	struct label_values lv;
	size_t n;

	if (slot->used && slot->pid == e->pid && slot->tid == e->tid &&
	    slot->cgroup_id == e->cgroup_id && name_eq(slot->comm, e->comm) &&
	    name_eq(slot->thread_name, e->thread_name))
		return slot;
	slot->used = false;
	n = labels__for_entry(ctx->labels, ctx->cg, e, &lv);
	for (size_t i = 0; i < n; i++)
		if (label_ref(ctx->b, &lv.labels[i], &slot->refs[i]))
			return NULL;
	slot->pid = e->pid;
	slot->tid = e->tid;
	slot->cgroup_id = e->cgroup_id;
	name_copy(slot->comm, e->comm);
	name_copy(slot->thread_name, e->thread_name);
	slot->n = (uint32_t)n;
	slot->used = true;
	return slot;
}

static int add_entry(const struct agg_sample *e, void *arg)
{
	struct build_ctx *ctx = arg;
	struct pprof_label_ref refs[LABELS_MAX + 4];
	const struct label_slot *common;
	struct pprof_label extra[4];
	size_t n = 0, n_refs, n_extra = 0;
	char state[2], dev[64];
	int64_t values[3];

	for (uint32_t i = 0; !e->overflow && i < e->n_kstack + e->n_ustack; i++) {
		bool kernel = i < e->n_kstack;
		uint64_t addr = kernel ? e->kstack[i] : e->ustack[i - e->n_kstack];

		ctx->locs[n] = frame_location(ctx, kernel ? KERNEL_PID : e->pid,
					      kernel ? 0 : e->start_ns, addr, i == 0);
		if (!ctx->locs[n++])
			return -ENOMEM;
	}
	/* Time without a stack is kept, under a frame that says why. */
	if (n == 0) {
		ctx->locs[n] = synthetic_location(ctx, e->overflow ? "[sonde: aggregation overflow]"
								   : "[no stack]");
		if (!ctx->locs[n++])
			return -ENOMEM;
	}

	common = entry_labels(ctx, e);
	if (!common)
		return -ENOMEM;
	memcpy(refs, common->refs, common->n * sizeof(refs[0]));
	n_refs = common->n;
	values[0] = (int64_t)e->count;
	if (ctx->kind == PROFILE_BLOCKIO) {
		/* io, io_bytes, io_latency; the overflow entry has no device. */
		if (!e->overflow)
			n_extra = blockio_labels(ctx, e, extra, dev, sizeof(dev));
		values[1] = (int64_t)e->value2;
		values[2] = (int64_t)e->value;
	} else {
		/* A tag is the state letter of an off-CPU wait; on-CPU samples have none. */
		if (e->tag) {
			state[0] = (char)e->tag;
			state[1] = '\0';
			extra[n_extra++] = (struct pprof_label){.key = "state", .str = state};
		}
		if (e->tag || e->overflow || !ctx->period)
			values[1] = (int64_t)e->value;
		else
			values[1] = (int64_t)e->count * ctx->period;
	}
	for (size_t i = 0; i < n_extra; i++)
		if (label_ref(ctx->b, &extra[i], &refs[n_refs++]))
			return -ENOMEM;
	ctx->stats->samples++;
	return pprof_builder__sample_refs(ctx->b, ctx->locs, n, values, refs, n_refs);
}

int profile__build(const struct agg *agg, struct symbolizer *sym, const struct profile_meta *meta,
		   struct strbuf *out, struct profile_stats *stats)
{
	static const struct pprof_value_type cpu_types[] = {
		{"samples", "count"},
		{"cpu", "nanoseconds"},
	};
	static const struct pprof_value_type cycles_types[] = {
		{"samples", "count"},
		{"cycles", "count"},
	};
	/* No '-' in any name: Pyroscope rejects it. */
	static const struct pprof_value_type offcpu_types[] = {
		{"switches", "count"},
		{"off_cpu", "nanoseconds"},
	};
	static const struct pprof_value_type wall_types[] = {
		{"samples", "count"},
		{"wall", "nanoseconds"},
	};
	static const struct pprof_value_type blockio_types[] = {
		{"io", "count"},
		{"io_bytes", "bytes"},
		{"io_latency", "nanoseconds"},
	};
	const struct pprof_value_type *types;
	struct profile_stats local_stats = {0};
	struct pprof_opts opts = {
		.n_sample_types = 2,
		.time_nanos = meta->time_nanos,
		.duration_nanos = meta->duration_nanos,
	};
	struct build_ctx ctx = {0};
	int err;

	switch (meta->kind) {
	case PROFILE_OFFCPU:
		types = offcpu_types;
		opts.period = 1;
		opts.default_sample_type = "off_cpu";
		break;
	case PROFILE_BLOCKIO:
		/* Each request is one io: the period is one request. */
		types = blockio_types;
		opts.n_sample_types = 3;
		opts.period = 1;
		opts.default_sample_type = "io_latency";
		break;
	case PROFILE_WALL:
		types = wall_types;
		opts.period = (int64_t)meta->period;
		opts.default_sample_type = "wall";
		ctx.period = (int64_t)meta->period;
		break;
	default:
		types = meta->cycles ? cycles_types : cpu_types;
		opts.period = (int64_t)meta->period;
		opts.default_sample_type = meta->cycles ? "cycles" : "cpu";
		/* For cycles the kernel varies the period; the samples carry their own. */
		ctx.period = meta->cycles ? 0 : (int64_t)meta->period;
		break;
	}
	opts.sample_types = types;
	opts.period_type = meta->kind == PROFILE_BLOCKIO ? types[0] : types[1];
	ctx.kind = meta->kind;
	ctx.device_name = meta->device_name;
	ctx.device_ctx = meta->device_ctx;
	ctx.labels = meta->labels ? meta->labels : LABEL_PID | LABEL_COMM | LABEL_THREAD_NAME;
	ctx.cg = meta->cg;
	ctx.addresses_only = meta->addresses_only;
	if (ctx.cg)
		cgroups__begin(ctx.cg);
	ctx.stats = stats ? stats : &local_stats;
	ctx.sym = sym;
	ctx.b = pprof_builder__new(&opts);
	if (!ctx.b)
		return -ENOMEM;
	ctx.label_cache = calloc(LABEL_CACHE_SLOTS, sizeof(*ctx.label_cache));
	if (!ctx.label_cache) {
		err = -ENOMEM;
		goto out_free_builder;
	}
	if (sym)
		symbolizer__begin(sym);
	err = agg__for_each(agg, add_entry, &ctx);
	if (!err)
		err = pprof_builder__encode(ctx.b, true, out);
	free(ctx.label_cache);
	free(ctx.cache.slots);
out_free_builder:
	pprof_builder__free(ctx.b);
	return err;
}

struct warm_ctx {
	struct symbolizer *sym;
	struct frame_cache seen;
};

static int warm_entry(const struct agg_sample *e, void *arg)
{
	struct warm_ctx *w = arg;
	struct sym_frame f;

	for (uint32_t i = 0; !e->overflow && i < e->n_kstack + e->n_ustack; i++) {
		bool kernel = i < e->n_kstack;
		uint64_t addr = kernel ? e->kstack[i] : e->ustack[i - e->n_kstack];
		uint32_t pid = kernel ? KERNEL_PID : e->pid;
		uint64_t start = kernel ? 0 : e->start_ns;
		/* As frame_location looks it up: a return address at the call. */
		uint64_t lookup = i == 0 || addr == 0 ? addr : addr - 1;
		struct frame_slot *slot = cache_slot(&w->seen, pid, start, lookup);

		if (!slot)
			return -ENOMEM;
		if (slot->used)
			continue;
		slot->used = 1;
		slot->pid = pid;
		slot->start = start;
		slot->addr = lookup;
		w->seen.n++;
		/* Kernel symbols are read once, at the first window, not at the first query. */
		if (kernel)
			(void)symbolizer__kernel(w->sym, lookup, &f);
		else
			(void)symbolizer__user_named(w->sym, pid, start, lookup, &f);
	}
	return 0;
}

int profile__warm(const struct agg *agg, struct symbolizer *sym)
{
	struct warm_ctx w = {.sym = sym};
	int err;

	symbolizer__begin(sym);
	err = agg__for_each(agg, warm_entry, &w);
	free(w.seen.slots);
	return err;
}
