// SPDX-License-Identifier: GPL-2.0
/*
 * agg + symbolizer → pprof: real addresses of this very process and of the
 * kernel, decoded back with protobuf-c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agg.h"
#include "pprof.h"
#include "profile.h"
#include "profile.pb-c.h"
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

static uint64_t kernel_symbol(const char *name)
{
	char line[512], sym[256], type;
	unsigned long long addr;
	uint64_t found = 0;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 && !strcmp(sym, name)) {
			found = addr;
			break;
		}
	fclose(f);
	return found;
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

int main(void)
{
	uint64_t kaddr = kernel_symbol("vfs_read");
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
	CHECK_EQ_U64(p->period, 10101010);
	CHECK_EQ_U64(p->duration_nanos, 5000000000ull);

	int64_t total = 0, overflow = 0;
	bool found_main_stack = false;

	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *smp = p->sample[i];
		size_t off = kaddr ? 1 : 0;

		total += smp->value[0];
		CHECK_EQ_U64(smp->value[1], smp->value[0] * 10101010);
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
