// SPDX-License-Identifier: GPL-2.0
/*
 * agg + symbolizer → pprof: real addresses of this very process and of the
 * kernel, decoded back with protobuf-c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agg.h"
#include "pprof.h"
#include "profile.h"
#include "profile.pb-c.h"
#include "sonde_events.h"
#include "symbolizer.h"
#include "testutil.h"

__attribute__((noinline)) int profile_test_leaf(int x)
{
	return x * 3 + 1;
}

__attribute__((noinline)) int profile_test_caller(int x)
{
	return profile_test_leaf(x) + 2;
}

static const char *fn_name(const Perftools__Profiles__Profile *p, uint64_t loc_id)
{
	const Perftools__Profiles__Location *l = p->location[loc_id - 1];

	if (!l->n_line)
		return NULL;
	return p->string_table[p->function[l->line[0]->function_id - 1]->name];
}

static const char *map_name(const Perftools__Profiles__Profile *p, uint64_t loc_id)
{
	const Perftools__Profiles__Location *l = p->location[loc_id - 1];

	if (!l->mapping_id)
		return "";
	return p->string_table[p->mapping[l->mapping_id - 1]->filename];
}

static const char *label_of(const Perftools__Profiles__Profile *p,
			    const Perftools__Profiles__Sample *s, const char *key)
{
	for (size_t i = 0; i < s->n_label; i++)
		if (strcmp(p->string_table[s->label[i]->key], key) == 0)
			return p->string_table[s->label[i]->str];
	return NULL;
}

/* Builds the profile of agg with no symbolizer and decodes it; NULL on any failure. */
static Perftools__Profiles__Profile *build_decoded(const struct agg *agg,
						   const struct profile_meta *meta)
{
	struct strbuf out = STRBUF_INIT, plain = STRBUF_INIT;
	Perftools__Profiles__Profile *p = NULL;
	struct profile_stats ps = {0};

	CHECK(profile__build(agg, NULL, meta, &out, &ps) == 0);
	if (pprof__gunzip(out.buf, out.len, &plain) == 0)
		p = perftools__profiles__profile__unpack(NULL, plain.len,
							 (const uint8_t *)plain.buf);
	CHECK(p != NULL);
	strbuf__release(&out);
	strbuf__release(&plain);
	return p;
}

/* Pyroscope rejects '-' in sample type names and units. */
static bool names_have_dash(const Perftools__Profiles__Profile *p)
{
	for (size_t i = 0; i < p->n_sample_type; i++)
		if (strchr(p->string_table[p->sample_type[i]->type], '-') ||
		    strchr(p->string_table[p->sample_type[i]->unit], '-'))
			return true;
	return p->period_type && (strchr(p->string_table[p->period_type->type], '-') ||
				  strchr(p->string_table[p->period_type->unit], '-'));
}

static void check_types(const Perftools__Profiles__Profile *p, const char *t0, const char *u0,
			const char *t1, const char *u1)
{
	CHECK_EQ_U64(p->n_sample_type, 2);
	if (p->n_sample_type != 2)
		return;
	CHECK_STR(p->string_table[p->sample_type[0]->type], t0);
	CHECK_STR(p->string_table[p->sample_type[0]->unit], u0);
	CHECK_STR(p->string_table[p->sample_type[1]->type], t1);
	CHECK_STR(p->string_table[p->sample_type[1]->unit], u1);
	CHECK(p->period_type != NULL);
	if (!p->period_type)
		return;
	CHECK_STR(p->string_table[p->period_type->type], t1);
	CHECK_STR(p->string_table[p->period_type->unit], u1);
	CHECK(!names_have_dash(p));
}

static struct agg_sample entry(uint32_t pid, const uint64_t *u, uint32_t nu, uint32_t tag,
			       uint64_t count, uint64_t value)
{
	struct agg_sample s = {
		.pid = pid,
		.tid = pid,
		.comm = "waiter",
		.thread_name = "waiter-1",
		.ustack = u,
		.n_ustack = nu,
		.tag = tag,
		.count = count,
		.value = value,
	};
	return s;
}

/* Off-CPU shape: switches and nanoseconds as gathered, the state as a label. */
static void test_offcpu_shape(void)
{
	uint64_t ua[] = {0x401000, 0x402000}, ub[] = {0x403000}, uc[] = {0x404000};
	struct agg_opts aopts = {.max_entries = 3};
	struct agg *agg = agg__new(&aopts);
	/* period is unused for off-CPU: values must not be count x period. */
	struct profile_meta meta = {.kind = PROFILE_OFFCPU,
				    .time_nanos = 1700000000000000000ll,
				    .duration_nanos = 2000000000ll,
				    .period = 10101010};
	struct agg_sample s;
	Perftools__Profiles__Profile *p;
	int64_t switches = 0, ns = 0, s_ns = 0, d_ns = 0, overflow_ns = 0;
	size_t labelled = 0;

	s = entry(10, ua, 2, 'S', 3, 3000000);
	agg__add(agg, &s);
	s = entry(10, ua, 2, 'D', 1, 2500000); /* same stack, other state */
	agg__add(agg, &s);
	s = entry(12, ub, 1, 'S', 4, 1000000); /* a sampled short wait: 4 switches */
	agg__add(agg, &s);
	s = entry(13, uc, 1, 'S', 2, 900); /* over the cap: the overflow entry */
	CHECK(agg__add(agg, &s) == -ENOSPC);

	p = build_decoded(agg, &meta);
	agg__free(agg);
	if (!p)
		return;
	check_types(p, "switches", "count", "off_cpu", "nanoseconds");
	CHECK_STR(p->string_table[p->default_sample_type], "off_cpu");
	CHECK_EQ_U64(p->duration_nanos, 2000000000ull);
	CHECK_EQ_U64(p->n_sample, 4);
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *smp = p->sample[i];
		const char *state = label_of(p, smp, "state");

		switches += smp->value[0];
		ns += smp->value[1];
		CHECK(label_of(p, smp, "pid") != NULL);
		if (!state) {
			/* Only the overflow entry, which has no state, goes without. */
			overflow_ns += smp->value[1];
			continue;
		}
		labelled++;
		CHECK_EQ_U64(smp->n_label, 4);
		if (strcmp(state, "S") == 0)
			s_ns += smp->value[1];
		else if (strcmp(state, "D") == 0)
			d_ns += smp->value[1];
		else
			CHECK_STR(state, "S or D");
	}
	CHECK_EQ_U64(labelled, 3);
	CHECK_EQ_U64(switches, 3 + 1 + 4 + 2);
	CHECK_EQ_U64(ns, 3000000 + 2500000 + 1000000 + 900);
	CHECK_EQ_U64(s_ns, 4000000);
	CHECK_EQ_U64(d_ns, 2500000);
	CHECK_EQ_U64(overflow_ns, 900);
	perftools__profiles__profile__free_unpacked(p, NULL);
}

/* Wall shape: on-CPU entries weigh count x period and have no state; waits keep their own. */
static void test_wall_shape(void)
{
	uint64_t ua[] = {0x401000, 0x402000}, ub[] = {0x403000}, uc[] = {0x404000};
	struct agg_opts aopts = {.max_entries = 3};
	struct agg *agg = agg__new(&aopts);
	struct profile_meta meta = {.kind = PROFILE_WALL,
				    .time_nanos = 1700000000000000000ll,
				    .duration_nanos = 1000000000ll,
				    .period = 10000000};
	struct agg_sample s;
	Perftools__Profiles__Profile *p;
	bool seen_on = false, seen_d = false, seen_s = false;

	/* The on-CPU entry's own value is not what the wall profile shows. */
	s = entry(20, ua, 2, 0, 5, 5 * 10101010ull);
	agg__add(agg, &s);
	s = entry(20, ua, 2, 'D', 2, 3000000);
	agg__add(agg, &s);
	s = entry(21, ub, 1, 'S', 1, 777);
	agg__add(agg, &s);
	s = entry(22, uc, 1, 'S', 1, 4242); /* over the cap */
	CHECK(agg__add(agg, &s) == -ENOSPC);

	p = build_decoded(agg, &meta);
	agg__free(agg);
	if (!p)
		return;
	check_types(p, "samples", "count", "wall", "nanoseconds");
	CHECK_STR(p->string_table[p->default_sample_type], "wall");
	CHECK_EQ_U64(p->period, 10000000);
	CHECK_EQ_U64(p->n_sample, 4);
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *smp = p->sample[i];
		const char *state = label_of(p, smp, "state");
		const char *pid = label_of(p, smp, "pid");

		if (pid && strcmp(pid, "20") == 0 && !state) {
			seen_on = true;
			CHECK_EQ_U64(smp->value[0], 5);
			CHECK_EQ_U64(smp->value[1], 5 * 10000000ull);
			CHECK_EQ_U64(smp->n_label, 3);
		} else if (pid && strcmp(pid, "20") == 0) {
			seen_d = true;
			CHECK_STR(state, "D");
			CHECK_EQ_U64(smp->value[0], 2);
			CHECK_EQ_U64(smp->value[1], 3000000);
			CHECK_EQ_U64(smp->n_label, 4);
		} else if (pid && strcmp(pid, "21") == 0) {
			seen_s = true;
			CHECK_STR(state, "S");
			CHECK_EQ_U64(smp->value[0], 1);
			CHECK_EQ_U64(smp->value[1], 777);
		} else {
			/* The overflow entry keeps the nanoseconds summed into it. */
			CHECK(state == NULL);
			CHECK_EQ_U64(smp->value[0], 1);
			CHECK_EQ_U64(smp->value[1], 4242);
		}
	}
	CHECK(seen_on && seen_d && seen_s);
	perftools__profiles__profile__free_unpacked(p, NULL);
}

static const char *name_disk(void *ctx, uint32_t dev, char *buf, size_t len)
{
	(*(int *)ctx)++;
	if (dev != (254u << 20))
		return NULL; /* unknown here: the builder falls back to MAJ:MIN */
	snprintf(buf, len, "vda");
	return buf;
}

/* Block-I/O shape: requests, bytes and latency, with device, op and sync labels. */
static void test_blockio_shape(void)
{
	uint64_t u1[] = {0x401000, 0x402000}, u2[] = {0x403000};
	struct profile_meta meta = {.kind = PROFILE_BLOCKIO, .duration_nanos = 1000000000};
	struct agg_opts aopts = {.max_entries = 3};
	struct agg *agg = agg__new(&aopts);
	struct agg_sample r = entry(7, u1, 2, 0, 3, 210000);
	struct agg_sample w = entry(7, u2, 1, 0, 2, 500000);
	struct agg_sample f = entry(7, u2, 1, 0, 1, 90000);
	struct agg_sample d = entry(8, u1, 1, 0, 4, 1000);
	Perftools__Profiles__Profile *p;
	int lookups = 0;
	bool seen_r = false, seen_w = false, seen_f = false, seen_over = false;

	r.tag = (uint64_t)(254u << 20) << 32 | SONDE_BIO_OP_READ | SONDE_BIO_SYNC;
	r.value2 = 3 * 4096;
	w.tag = (uint64_t)(254u << 20) << 32 | SONDE_BIO_OP_WRITE;
	w.value2 = 2 * 65536;
	f.tag = (uint64_t)(8u << 20 | 16) << 32 | SONDE_BIO_OP_FLUSH | SONDE_BIO_SYNC;
	d.tag = (uint64_t)(254u << 20) << 32 | SONDE_BIO_OP_DISCARD;
	d.value2 = 1 << 20;
	CHECK(agg__add(agg, &r) == 0);
	CHECK(agg__add(agg, &w) == 0);
	CHECK(agg__add(agg, &f) == 0);
	CHECK(agg__add(agg, &d) == -ENOSPC); /* the overflow entry keeps its bytes */
	meta.device_name = name_disk;
	meta.device_ctx = &lookups;
	p = build_decoded(agg, &meta);
	agg__free(agg);
	if (!p)
		return;
	CHECK_EQ_U64(p->n_sample_type, 3);
	if (p->n_sample_type == 3) {
		CHECK_STR(p->string_table[p->sample_type[0]->type], "io");
		CHECK_STR(p->string_table[p->sample_type[0]->unit], "count");
		CHECK_STR(p->string_table[p->sample_type[1]->type], "io_bytes");
		CHECK_STR(p->string_table[p->sample_type[1]->unit], "bytes");
		CHECK_STR(p->string_table[p->sample_type[2]->type], "io_latency");
		CHECK_STR(p->string_table[p->sample_type[2]->unit], "nanoseconds");
	}
	CHECK(p->period_type != NULL);
	if (p->period_type) {
		CHECK_STR(p->string_table[p->period_type->type], "io");
		CHECK_STR(p->string_table[p->period_type->unit], "count");
	}
	CHECK_EQ_U64(p->period, 1);
	CHECK_STR(p->string_table[p->default_sample_type], "io_latency");
	CHECK(!names_have_dash(p));
	CHECK_EQ_U64(p->n_sample, 4);
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *smp = p->sample[i];
		const char *op = label_of(p, smp, "op");

		CHECK_EQ_U64(smp->n_value, 3);
		CHECK_STR(label_of(p, smp, "pid"), smp->value[0] == 4 ? "0" : "7");
		if (!op) {
			/* The overflow entry: totals kept, no device to name. */
			seen_over = true;
			CHECK_EQ_U64(smp->value[0], 4);
			CHECK_EQ_U64(smp->value[1], 1 << 20);
			CHECK_EQ_U64(smp->value[2], 1000);
			CHECK(label_of(p, smp, "device") == NULL);
		} else if (strcmp(op, "read") == 0) {
			seen_r = true;
			CHECK_EQ_U64(smp->value[0], 3);
			CHECK_EQ_U64(smp->value[1], 3 * 4096);
			CHECK_EQ_U64(smp->value[2], 210000);
			CHECK_STR(label_of(p, smp, "device"), "vda");
			CHECK_STR(label_of(p, smp, "sync"), "true");
			CHECK_STR(label_of(p, smp, "comm"), "waiter");
			CHECK_STR(label_of(p, smp, "thread_name"), "waiter-1");
			CHECK(label_of(p, smp, "state") == NULL);
		} else if (strcmp(op, "write") == 0) {
			seen_w = true;
			CHECK_EQ_U64(smp->value[1], 2 * 65536);
			CHECK_EQ_U64(smp->value[2], 500000);
			CHECK_STR(label_of(p, smp, "device"), "vda");
			CHECK_STR(label_of(p, smp, "sync"), "false");
		} else if (strcmp(op, "flush") == 0) {
			seen_f = true;
			CHECK_EQ_U64(smp->value[1], 0);
			CHECK_STR(label_of(p, smp, "device"), "8:16");
		}
	}
	CHECK(seen_r && seen_w && seen_f && seen_over);
	CHECK(lookups >= 3);
	perftools__profiles__profile__free_unpacked(p, NULL);

	/* Without a resolver every disk is MAJ:MIN. */
	agg = agg__new(NULL);
	CHECK(agg__add(agg, &r) == 0);
	meta.device_name = NULL;
	p = build_decoded(agg, &meta);
	agg__free(agg);
	if (p) {
		CHECK_EQ_U64(p->n_sample, 1);
		if (p->n_sample == 1)
			CHECK_STR(label_of(p, p->sample[0], "device"), "254:0");
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
}

/*
 * A frame's source line is looked up once per profile however many entries
 * (threads, windows merged) share it, and the next profile finds it cached.
 */
static void test_lines_once(void)
{
	uint64_t ustack[] = {
		(uint64_t)(uintptr_t)profile_test_leaf + 1,
		(uint64_t)(uintptr_t)profile_test_caller + 5,
		(uint64_t)(uintptr_t)test_lines_once + 8,
	};
	struct symbolizer *sym = symbolizer__new(NULL);
	struct profile_meta meta = {.period = 10101010};
	struct agg *agg = agg__new(NULL);
	struct symbolizer_stats st0, st1, st2;
	uint64_t asked1, asked2;

	CHECK(sym != NULL && agg != NULL);
	if (!sym || !agg)
		goto out_free;
	/* Three threads, each in two "windows" (two adds), all on the same stack. */
	for (uint32_t tid = 1; tid <= 3; tid++) {
		for (int w = 0; w < 2; w++) {
			struct agg_sample smp = {
				.pid = (uint32_t)getpid(),
				.tid = tid,
				.comm = "lines",
				.thread_name = w ? "w1" : "w0",
				.ustack = ustack,
				.n_ustack = 3,
				.count = 1,
				.value = 10101010,
			};

			CHECK_EQ_U64(agg__add(agg, &smp), 0);
		}
	}
	symbolizer__stats(sym, &st0);
	for (int round = 0; round < 2; round++) {
		struct strbuf out = STRBUF_INIT;

		CHECK_EQ_U64(profile__build(agg, sym, &meta, &out, NULL), 0);
		CHECK(out.len > 0);
		strbuf__release(&out);
		symbolizer__stats(sym, round ? &st2 : &st1);
	}
	asked1 = st1.line_hits + st1.line_misses - st0.line_hits - st0.line_misses;
	asked2 = st2.line_hits + st2.line_misses - st1.line_hits - st1.line_misses;
	/* Once per distinct frame, not per entry (six of them). */
	CHECK_EQ_U64(asked1, 3);
	CHECK_EQ_U64(asked2, 3);
	CHECK_EQ_U64(st1.line_hits - st0.line_hits, 3);
	/*
	 * The second profile read no DWARF, nor even the line cache: each frame's
	 * names, lines included, came whole from the cache of (file, offset).
	 */
	CHECK_EQ_U64(st1.line_cache_hits - st0.line_cache_hits, 0);
	CHECK_EQ_U64(st2.line_cache_hits - st1.line_cache_hits, 0);
	CHECK_EQ_U64(st1.frame_cache_misses - st0.frame_cache_misses, 3);
	CHECK_EQ_U64(st2.frame_cache_misses - st1.frame_cache_misses, 0);
	CHECK_EQ_U64(st2.frame_cache_hits - st1.frame_cache_hits, 3);
	CHECK_EQ_U64(st2.line_cache_entries, st1.line_cache_entries);
	CHECK_EQ_U64(st1.line_cache_entries, 3);
	CHECK_EQ_U64(st2.frame_cache_entries, 3);
out_free:
	agg__free(agg);
	symbolizer__free(sym);
}

/*
 * Warming names each distinct user frame of a table once, as a build would,
 * so that the build after it finds every name cached; a leaf and a return
 * address are looked up where a build looks them up.
 */
static void test_warm(void)
{
	uint64_t ustack[] = {
		(uint64_t)(uintptr_t)profile_test_leaf + 1,
		(uint64_t)(uintptr_t)profile_test_caller + 5,
		(uint64_t)(uintptr_t)test_warm + 8,
	};
	struct symbolizer *sym = symbolizer__new(NULL);
	struct profile_meta meta = {.period = 10101010};
	struct agg *agg = agg__new(NULL);
	struct symbolizer_stats st0, st1, st2;
	struct strbuf out = STRBUF_INIT;

	CHECK(sym != NULL && agg != NULL);
	if (!sym || !agg)
		goto out_free;
	for (uint32_t tid = 1; tid <= 4; tid++) {
		struct agg_sample smp = {
			.pid = (uint32_t)getpid(),
			.tid = tid,
			.comm = "warm",
			.thread_name = "w",
			.ustack = ustack,
			.n_ustack = 3,
			.count = 1,
			.value = 10101010,
		};

		CHECK_EQ_U64(agg__add(agg, &smp), 0);
	}
	symbolizer__stats(sym, &st0);
	CHECK_EQ_U64(profile__warm(agg, sym), 0);
	symbolizer__stats(sym, &st1);
	/* Three distinct frames in four entries: three look-ups, each named and kept. */
	CHECK_EQ_U64(st1.frame_cache_misses - st0.frame_cache_misses, 3);
	CHECK_EQ_U64(st1.frame_cache_hits - st0.frame_cache_hits, 0);
	CHECK_EQ_U64(st1.frame_cache_entries, 3);
	CHECK_EQ_U64(profile__build(agg, sym, &meta, &out, NULL), 0);
	CHECK(out.len > 0);
	symbolizer__stats(sym, &st2);
	CHECK_EQ_U64(st2.frame_cache_misses - st1.frame_cache_misses, 0);
	CHECK_EQ_U64(st2.frame_cache_hits - st1.frame_cache_hits, 3);
	/* An empty table warms nothing. */
	agg__free(agg);
	agg = agg__new(NULL);
	CHECK(agg && profile__warm(agg, sym) == 0);
	symbolizer__stats(sym, &st1);
	CHECK_EQ_U64(st1.frame_cache_misses, st2.frame_cache_misses);
	CHECK_EQ_U64(st1.frame_cache_hits, st2.frame_cache_hits);
out_free:
	strbuf__release(&out);
	agg__free(agg);
	symbolizer__free(sym);
}

int main(void)
{
	uint64_t kaddr = test__kernel_symbol("vfs_read");
	/* Leaf first: an address inside the leaf, then return addresses into callers. */
	uint64_t ustack[] = {
		(uint64_t)(uintptr_t)profile_test_leaf + 1,
		(uint64_t)(uintptr_t)profile_test_caller + 5, (uint64_t)(uintptr_t)main + 8,
		0x10, /* in no mapping */
	};
	uint64_t kstack[] = {kaddr + 4};
	struct symbolizer *sym = symbolizer__new(NULL);
	struct agg_opts aopts = {.max_entries = 16};
	struct agg *agg = agg__new(&aopts);
	struct profile_meta meta = {.time_nanos = 1700000000000000000ll,
				    .duration_nanos = 5000000000ll,
				    .period = 10101010};
	struct strbuf out = STRBUF_INIT, plain = STRBUF_INIT;
	struct profile_stats ps = {0};
	Perftools__Profiles__Profile *p = NULL;
	struct agg_sample s = {
		.pid = (uint32_t)getpid(),
		.tid = (uint32_t)getpid(),
		.comm = "test_profile",
		.thread_name = "main",
		.kstack = kstack,
		.n_kstack = kaddr ? 1 : 0,
		.ustack = ustack,
		.n_ustack = 4,
		.count = 1,
		.value = 10101010,
	};

	test_offcpu_shape();
	test_lines_once();
	test_warm();
	test_wall_shape();
	test_blockio_shape();

	CHECK(sym != NULL && agg != NULL);
	for (int i = 0; i < 7; i++)
		agg__add(agg, &s);
	/* Fill the table to force an overflow entry. */
	for (uint64_t i = 0; i < 40; i++) {
		uint64_t u[] = {0x1000 + i};
		struct agg_sample o = s;

		o.kstack = NULL;
		o.n_kstack = 0;
		o.ustack = u;
		o.n_ustack = 1;
		agg__add(agg, &o);
	}

	CHECK(profile__build(agg, sym, &meta, &out, &ps) == 0);
	CHECK(out.len > 2 && (unsigned char)out.buf[0] == 0x1f);
	CHECK(pprof__gunzip(out.buf, out.len, &plain) == 0);
	p = perftools__profiles__profile__unpack(NULL, plain.len, (const uint8_t *)plain.buf);
	CHECK(p != NULL);
	if (!p)
		return test__finish("test_profile");

	CHECK_EQ_U64(p->n_sample_type, 2);
	CHECK_STR(p->string_table[p->sample_type[0]->type], "samples");
	CHECK_STR(p->string_table[p->sample_type[1]->type], "cpu");
	CHECK_STR(p->string_table[p->sample_type[1]->unit], "nanoseconds");
	CHECK_STR(p->string_table[p->period_type->type], "cpu");
	CHECK_STR(p->string_table[p->default_sample_type], "cpu");
	CHECK(!names_have_dash(p));
	CHECK_EQ_U64(p->period, 10101010);
	CHECK_EQ_U64(p->duration_nanos, 5000000000ull);

	int64_t total = 0, overflow = 0;
	bool found_main_stack = false;

	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *smp = p->sample[i];
		size_t off = kaddr ? 1 : 0;

		total += smp->value[0];
		CHECK_EQ_U64(smp->value[1], smp->value[0] * 10101010);
		CHECK(label_of(p, smp, "state") == NULL); /* on-CPU samples have no state */
		if (smp->n_location_id == 1 &&
		    strstr(fn_name(p, smp->location_id[0]), "overflow")) {
			overflow += smp->value[0];
			continue;
		}
		if (smp->n_location_id != 4 + off)
			continue;
		found_main_stack = true;
		CHECK_EQ_U64(smp->value[0], 7);
		if (kaddr) {
			CHECK_STR(fn_name(p, smp->location_id[0]), "vfs_read");
			CHECK_STR(map_name(p, smp->location_id[0]), "[kernel.kallsyms]");
		}
		CHECK_STR(fn_name(p, smp->location_id[off]), "profile_test_leaf");
		CHECK_STR(fn_name(p, smp->location_id[off + 1]), "profile_test_caller");
		CHECK_STR(fn_name(p, smp->location_id[off + 2]), "main");
		CHECK_STR(fn_name(p, smp->location_id[off + 3]), "[unknown]");
		CHECK(strstr(map_name(p, smp->location_id[off]), "test_profile") != NULL);
		/* Locations keep the real (unadjusted) address. */
		CHECK_EQ_U64(p->location[smp->location_id[off + 1] - 1]->address, ustack[1]);
		CHECK_EQ_U64(smp->n_label, 3);
	}
	CHECK(found_main_stack);
	CHECK_EQ_U64(total, 47);
	CHECK_EQ_U64(overflow, 47 - 7 - 15);
	CHECK(ps.frames > 0);
	CHECK(ps.unnamed_frames >= 1);

	bool build_id = false;

	for (size_t i = 0; i < p->n_mapping; i++) {
		CHECK_EQ_U64(p->mapping[i]->id, i + 1);
		if (p->string_table[p->mapping[i]->build_id][0])
			build_id = true;
	}
	CHECK(build_id);
	for (size_t i = 0; i < p->n_location; i++)
		CHECK_EQ_U64(p->location[i]->id, i + 1);
	for (size_t i = 0; i < p->n_function; i++)
		CHECK_EQ_U64(p->function[i]->id, i + 1);

	perftools__profiles__profile__free_unpacked(p, NULL);
	strbuf__release(&out);
	strbuf__release(&plain);
	agg__free(agg);
	symbolizer__free(sym);
	return test__finish("test_profile");
}
