// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "biojoin.h"
#include "testutil.h"

/* A start record of n kernel frames for the request at rq started at start. */
static size_t make_start(struct sonde_sample *rec, uint64_t rq, uint64_t start, uint32_t n)
{
	memset(rec, 0, sizeof(*rec));
	rec->hdr.kind = SONDE_EV_BLOCKIO;
	rec->hdr.aux = rq;
	rec->hdr.ts_ns = start;
	rec->hdr.pid = (uint32_t)rq;
	rec->hdr.kstack_sz = (int32_t)(n * 8);
	for (uint32_t i = 0; i < n; i++)
		rec->frames[i] = 0xffffffff81000000ull + rq + i;
	return sizeof(rec->hdr) + n * 8;
}

static void test_take_by_address_and_start(void)
{
	struct sonde_sample rec, out;
	struct biojoin_stats st;
	struct biojoin *j = biojoin__new(8);
	size_t size, got;

	CHECK(j != NULL);
	size = make_start(&rec, 0x1000, 10, 5);
	CHECK(biojoin__add(j, &rec, size) == 0);
	/* The same address again, a later request: both wait, each under its start. */
	CHECK(biojoin__add(j, &rec, make_start(&rec, 0x1000, 20, 2)) == 0);
	biojoin__stats(j, &st);
	CHECK_EQ_U64(st.pending, 2);

	memset(&out, 0xee, sizeof(out));
	CHECK(biojoin__take(j, 0x1000, 10, &out, &got) == 0);
	CHECK_EQ_U64(got, size);
	CHECK_EQ_U64(out.hdr.ts_ns, 10);
	CHECK_EQ_U64(out.hdr.kstack_sz, 40);
	CHECK_EQ_U64(out.frames[4], 0xffffffff81000000ull + 0x1000 + 4);
	/* Taken once only; a start never added is not found either. */
	CHECK(biojoin__take(j, 0x1000, 10, &out, &got) == -ENOENT);
	CHECK(biojoin__take(j, 0x2000, 20, &out, &got) == -ENOENT);
	CHECK(biojoin__take(j, 0x1000, 20, &out, &got) == 0);
	CHECK_EQ_U64(got, sizeof(out.hdr) + 16);
	biojoin__stats(j, &st);
	CHECK_EQ_U64(st.pending, 0);
	CHECK_EQ_U64(st.unmatched, 2);
	CHECK_EQ_U64(st.evicted, 0);
	biojoin__free(j);
}

static void test_bounded_oldest_first(void)
{
	struct sonde_sample rec, out;
	struct biojoin_stats st;
	struct biojoin *j = biojoin__new(3);
	size_t got;

	CHECK(j != NULL);
	for (uint64_t i = 0; i < 5; i++)
		CHECK(biojoin__add(j, &rec, make_start(&rec, 0x100 * (i + 1), i, 1)) == 0);
	biojoin__stats(j, &st);
	CHECK_EQ_U64(st.pending, 3);
	CHECK_EQ_U64(st.evicted, 2);
	/* The two oldest went; the three newest wait. */
	CHECK(biojoin__take(j, 0x100, 0, &out, &got) == -ENOENT);
	CHECK(biojoin__take(j, 0x200, 1, &out, &got) == -ENOENT);
	/* Taking one from the middle keeps the age order of the rest. */
	CHECK(biojoin__take(j, 0x400, 3, &out, &got) == 0);
	CHECK(biojoin__add(j, &rec, make_start(&rec, 0x600, 5, 1)) == 0);
	CHECK(biojoin__add(j, &rec, make_start(&rec, 0x700, 6, 1)) == 0);
	biojoin__stats(j, &st);
	CHECK_EQ_U64(st.evicted, 3);
	CHECK(biojoin__take(j, 0x300, 2, &out, &got) == -ENOENT);
	CHECK(biojoin__take(j, 0x500, 4, &out, &got) == 0);
	CHECK(biojoin__take(j, 0x700, 6, &out, &got) == 0);
	biojoin__stats(j, &st);
	CHECK_EQ_U64(st.pending, 1);
	/* Freed with a record still waiting (the sanitizers check it is released). */
	biojoin__free(j);
	biojoin__free(NULL);
}

static void test_bad_sizes(void)
{
	struct sonde_sample rec;
	struct biojoin_stats st;
	struct biojoin *j = biojoin__new(2);

	CHECK(biojoin__new(0) == NULL);
	CHECK(j != NULL);
	make_start(&rec, 0x100, 1, 1);
	CHECK(biojoin__add(j, &rec, sizeof(rec.hdr) - 1) == -EINVAL);
	CHECK(biojoin__add(j, &rec, sizeof(rec) + 8) == -EINVAL);
	CHECK(biojoin__add(j, &rec, sizeof(rec)) == 0);
	biojoin__stats(j, &st);
	CHECK_EQ_U64(st.pending, 1);
	biojoin__free(j);
}

int main(void)
{
	test_take_by_address_and_start();
	test_bounded_oldest_first();
	test_bad_sizes();
	return test__finish("test_biojoin");
}
