// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "linecache.h"
#include "testutil.h"

static struct linecache_lines line_at(const char *file, uint32_t line)
{
	return (struct linecache_lines){.found = true, .file = file, .line = line};
}

static void test_get_put(void)
{
	struct linecache *c = linecache__new(8);
	struct linecache_lines l = line_at("a.c", 12), none = {0};
	const struct linecache_lines *got;
	struct linecache_stats st;

	CHECK(c != NULL);
	CHECK(linecache__get(c, 1, 0x1000) == NULL);
	CHECK(linecache__put(c, 1, 0x1000, &l) == 0);
	got = linecache__get(c, 1, 0x1000);
	CHECK(got && got->found);
	CHECK_STR(got ? got->file : NULL, "a.c");
	CHECK_EQ_U64(got ? got->line : 0, 12);
	/* Another owner (another opening of a file) and another address are other keys. */
	CHECK(linecache__get(c, 2, 0x1000) == NULL);
	CHECK(linecache__get(c, 1, 0x1001) == NULL);
	/* An address without a line is remembered as such. */
	CHECK(linecache__put(c, 1, 0x2000, &none) == 0);
	got = linecache__get(c, 1, 0x2000);
	CHECK(got && !got->found);
	/* Putting again replaces. */
	l.line = 13;
	CHECK(linecache__put(c, 1, 0x1000, &l) == 0);
	got = linecache__get(c, 1, 0x1000);
	CHECK_EQ_U64(got ? got->line : 0, 13);
	linecache__stats(c, &st);
	CHECK_EQ_U64(st.entries, 2);
	CHECK_EQ_U64(st.hits, 3);
	CHECK_EQ_U64(st.misses, 3);
	CHECK_EQ_U64(st.evictions, 0);
	CHECK(st.bytes > 0);
	linecache__free(c);
}

static void test_inlined_copied(void)
{
	struct linecache *c = linecache__new(4);
	struct sym_inline chain[2] = {
		{.name = "inner", .call_file = "x.c", .call_line = 5},
		{.name = "middle", .call_file = "y.c", .call_line = 9},
	};
	struct linecache_lines l = line_at("x.c", 3);
	const struct linecache_lines *got;

	l.inlined = chain;
	l.n_inlined = 2;
	CHECK(linecache__put(c, 7, 0x40, &l) == 0);
	/* The caller's array is scratch: the cache keeps its own copy. */
	memset(chain, 0, sizeof(chain));
	got = linecache__get(c, 7, 0x40);
	CHECK(got && got->n_inlined == 2 && got->inlined != chain);
	if (got && got->n_inlined == 2) {
		CHECK_STR(got->inlined[0].name, "inner");
		CHECK_STR(got->inlined[1].call_file, "y.c");
		CHECK_EQ_U64(got->inlined[1].call_line, 9);
	}
	linecache__free(c);
}

static void test_bound_lru(void)
{
	struct linecache *c = linecache__new(100);
	struct linecache_lines l = line_at("f.c", 1);
	struct linecache_stats st;
	size_t present = 0;

	for (uint64_t a = 0; a < 100; a++)
		CHECK(linecache__put(c, 3, a, &l) == 0);
	/* Address 0 is used now, so 1 is the least recently used. */
	CHECK(linecache__get(c, 3, 0) != NULL);
	CHECK(linecache__put(c, 3, 1000, &l) == 0);
	CHECK(linecache__get(c, 3, 0) != NULL);
	CHECK(linecache__get(c, 3, 1) == NULL);
	CHECK(linecache__get(c, 3, 1000) != NULL);
	for (uint64_t a = 2000; a < 2500; a++)
		CHECK(linecache__put(c, 4, a, &l) == 0);
	linecache__stats(c, &st);
	CHECK_EQ_U64(st.entries, 100);
	CHECK_EQ_U64(st.evictions, 501);
	/* The newest hundred are the ones left. */
	for (uint64_t a = 2000; a < 2500; a++)
		present += linecache__get(c, 4, a) != NULL;
	CHECK_EQ_U64(present, 100);
	CHECK(linecache__get(c, 4, 2399) == NULL);
	CHECK(linecache__get(c, 4, 2400) != NULL);
	linecache__free(c);
}

static void test_drop_owner(void)
{
	struct linecache *c = linecache__new(64);
	struct sym_inline inl = {.name = "g"};
	struct linecache_lines l = line_at("f.c", 2);
	struct linecache_stats st;

	l.inlined = &inl;
	l.n_inlined = 1;
	for (uint64_t a = 0; a < 30; a++) {
		CHECK(linecache__put(c, 10, a, &l) == 0);
		CHECK(linecache__put(c, 11, a, &l) == 0);
	}
	/* The DWARF of owner 10 is released: none of its entries may be returned again. */
	linecache__drop_owner(c, 10);
	linecache__stats(c, &st);
	CHECK_EQ_U64(st.entries, 30);
	CHECK_EQ_U64(st.dropped, 30);
	CHECK(linecache__get(c, 10, 5) == NULL);
	CHECK(linecache__get(c, 11, 5) != NULL);
	/* The room is reused without evicting anything. */
	for (uint64_t a = 100; a < 134; a++)
		CHECK(linecache__put(c, 12, a, &l) == 0);
	linecache__stats(c, &st);
	CHECK_EQ_U64(st.entries, 64);
	CHECK_EQ_U64(st.evictions, 0);
	CHECK(linecache__get(c, 11, 29) != NULL);
	linecache__drop_owner(c, 11);
	linecache__drop_owner(c, 12);
	linecache__stats(c, &st);
	CHECK_EQ_U64(st.entries, 0);
	linecache__drop_owner(NULL, 1);
	linecache__free(c);
	linecache__free(NULL);
}

int main(void)
{
	test_get_put();
	test_inlined_copied();
	test_bound_lru();
	test_drop_owner();
	return test__finish("linecache");
}
