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
		uint32_t pid;
		uint32_t used;
		uint64_t loc_id;
	} * slots;
	size_t size, n;
};

struct build_ctx {
	struct pprof_builder *b;
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
	uint64_t locs[2 * SONDE_MAX_STACK_DEPTH + 1];
};

static uint64_t hash_frame(uint32_t pid, uint64_t addr)
{
	/* Every bit of both reaches the low bits the table uses: many processes share addresses. */
	uint64_t h = addr ^ ((uint64_t)pid * 0x9e3779b97f4a7c15ull);

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
		j = hash_frame(fc->slots[i].pid, fc->slots[i].addr) & (new_size - 1);
		while (t[j].used)
			j = (j + 1) & (new_size - 1);
		t[j] = fc->slots[i];
	}
	free(fc->slots);
	fc->slots = t;
	fc->size = new_size;
	return 0;
}

static struct frame_slot *cache_slot(struct frame_cache *fc, uint32_t pid, uint64_t addr)
{
	size_t j;

	if (cache_grow(fc))
		return NULL;
	j = hash_frame(pid, addr) & (fc->size - 1);
	while (fc->slots[j].used) {
		if (fc->slots[j].pid == pid && fc->slots[j].addr == addr)
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

/* Looks up one frame and returns its location id, or 0 on allocation failure. */
static uint64_t frame_location(struct build_ctx *ctx, uint32_t pid, uint64_t addr, bool leaf)
{
	struct frame_slot *slot = cache_slot(&ctx->cache, pid, addr);
	uint64_t lookup = leaf || addr == 0 ? addr : addr - 1;
	struct sym_frame f = {0};
	uint64_t map_id = 0, fn_id;
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
		err = ctx->sym ? symbolizer__user(ctx->sym, pid, lookup, &f) : -ENOENT;

	if (err || !f.map_path) {
		name = "[unknown]";
		if (pid == KERNEL_PID)
			map_id = ctx->kernel_map_id;
	} else {
		/* The builder deduplicates mappings, so every frame simply asks for its own. */
		map_id = pprof_builder__mapping(ctx->b, f.map_start, f.map_limit, f.map_offset,
						f.map_path, f.build_id, true);
		if (!map_id)
			return 0;
		/* Kernel frames nothing names still belong in the kernel mapping. */
		if (pid == KERNEL_PID && strcmp(f.map_path, "[kernel.kallsyms]") == 0)
			ctx->kernel_map_id = map_id;
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

	fn_id = pprof_builder__function(ctx->b, name, name, "");
	if (!fn_id)
		return 0;
	slot->loc_id = pprof_builder__location(ctx->b, map_id, addr, fn_id);
	if (!slot->loc_id)
		return 0;
	slot->used = 1;
	slot->pid = pid;
	slot->addr = addr;
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

static int add_entry(const struct agg_sample *e, void *arg)
{
	struct build_ctx *ctx = arg;
	struct label_values lv;
	struct pprof_label labels[LABELS_MAX + 4];
	char state[2], dev[64];
	size_t n = 0, n_labels;
	int64_t values[3];

	for (uint32_t i = 0; !e->overflow && i < e->n_kstack + e->n_ustack; i++) {
		bool kernel = i < e->n_kstack;
		uint64_t addr = kernel ? e->kstack[i] : e->ustack[i - e->n_kstack];

		ctx->locs[n] = frame_location(ctx, kernel ? KERNEL_PID : e->pid, addr, i == 0);
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

	n_labels = labels__for_entry(ctx->labels, ctx->cg, e, &lv);
	memcpy(labels, lv.labels, n_labels * sizeof(labels[0]));
	values[0] = (int64_t)e->count;
	if (ctx->kind == PROFILE_BLOCKIO) {
		/* io, io_bytes, io_latency; the overflow entry has no device. */
		if (!e->overflow)
			n_labels += blockio_labels(ctx, e, labels + n_labels, dev, sizeof(dev));
		values[1] = (int64_t)e->value2;
		values[2] = (int64_t)e->value;
		ctx->stats->samples++;
		return pprof_builder__sample(ctx->b, ctx->locs, n, values, labels, n_labels);
	}
	/* A tag is the state letter of an off-CPU wait; on-CPU samples have none. */
	if (e->tag) {
		state[0] = (char)e->tag;
		state[1] = '\0';
		labels[n_labels++] = (struct pprof_label){.key = "state", .str = state};
	}
	if (e->tag || e->overflow || !ctx->period)
		values[1] = (int64_t)e->value;
	else
		values[1] = (int64_t)e->count * ctx->period;
	ctx->stats->samples++;
	return pprof_builder__sample(ctx->b, ctx->locs, n, values, labels, n_labels);
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
	if (ctx.cg)
		cgroups__begin(ctx.cg);
	ctx.stats = stats ? stats : &local_stats;
	ctx.sym = sym;
	ctx.b = pprof_builder__new(&opts);
	if (!ctx.b)
		return -ENOMEM;
	if (sym)
		symbolizer__begin(sym);
	err = agg__for_each(agg, add_entry, &ctx);
	if (!err)
		err = pprof_builder__encode(ctx.b, true, out);
	free(ctx.cache.slots);
	pprof_builder__free(ctx.b);
	return err;
}
