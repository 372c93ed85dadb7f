// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framecache.h"
#include "testutil.h"

static struct framecache_key key_at(uint64_t inode, uint64_t offset)
{
	return (struct framecache_key){
		.inode = inode, .offset = offset, .dev_major = 254, .dev_minor = 1};
}

static void test_get_put(void)
{
	struct framecache *c = framecache__new(16, 0);
	struct framecache_key k = key_at(7, 0x1234), other = key_at(8, 0x1234);
	struct sym_frame f = {
		.name = "main",
		.sym_offset = 4,
		.map_path = "/usr/bin/x",
		.build_id = "abcd",
		.file = "x.c",
		.line = 12,
		/* The mapping range is the process's: never taken from the cache. */
		.map_start = 0x1000,
		.map_limit = 0x2000,
	};
	struct sym_frame got = {.map_start = 0x5000, .map_limit = 0x6000, .map_offset = 0x100};
	struct framecache_stats st;

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ_U64(framecache__get(c, &k, &got), (uint64_t)-ENOENT);
	CHECK_EQ_U64(framecache__put(c, &k, &f), 0);
	CHECK_EQ_U64(framecache__get(c, &k, &got), 0);
	CHECK_STR(got.name, "main");
	CHECK_STR(got.map_path, "/usr/bin/x");
	CHECK_STR(got.build_id, "abcd");
	CHECK_STR(got.file, "x.c");
	CHECK_EQ_U64(got.line, 12);
	CHECK_EQ_U64(got.sym_offset, 4);
	CHECK_EQ_U64(got.n_inlined, 0);
	CHECK_EQ_U64(got.map_start, 0x5000);
	CHECK_EQ_U64(got.map_limit, 0x6000);
	CHECK_EQ_U64(got.map_offset, 0x100);
	/* Another file at the same offset, or another device, is another key. */
	CHECK_EQ_U64(framecache__get(c, &other, &got), (uint64_t)-ENOENT);
	other = k;
	other.dev_minor = 2;
	CHECK_EQ_U64(framecache__get(c, &other, &got), (uint64_t)-ENOENT);
	/* A frame without a name (no symbol covers it) is remembered as such. */
	f = (struct sym_frame){.map_path = "/usr/bin/x"};
	k.offset = 0x9999;
	CHECK_EQ_U64(framecache__put(c, &k, &f), 0);
	got.name = "stale";
	CHECK_EQ_U64(framecache__get(c, &k, &got), 0);
	CHECK(got.name == NULL && got.file == NULL && got.build_id == NULL);
	CHECK_STR(got.map_path, "/usr/bin/x");
	framecache__stats(c, &st);
	CHECK_EQ_U64(st.entries, 2);
	CHECK_EQ_U64(st.hits, 2);
	CHECK_EQ_U64(st.misses, 3);
	CHECK(st.bytes > 0);
	framecache__free(c);
	framecache__free(NULL);
}

/* The entry owns copies: the strings it was given may go at once. */
static void test_strings_copied(void)
{
	struct framecache *c = framecache__new(4, 0);
	struct framecache_key k = key_at(1, 10);
	char *name = strdup("inner_most"), *file = strdup("in.c"), *call = strdup("out.c");
	struct sym_inline chain[2];
	struct sym_frame f = {0}, got = {0};

	CHECK(c && name && file && call);
	if (!c || !name || !file || !call)
		goto out;
	chain[0] = (struct sym_inline){.name = name, .call_file = call, .call_line = 5};
	chain[1] = (struct sym_inline){.name = "middle", .call_file = "out2.c", .call_line = 9};
	f = (struct sym_frame){
		.name = "outer", .file = file, .line = 3, .inlined = chain, .n_inlined = 2};
	CHECK_EQ_U64(framecache__put(c, &k, &f), 0);
	memset(name, 'x', strlen(name));
	memset(file, 'x', strlen(file));
	memset(call, 'x', strlen(call));
	memset(chain, 0, sizeof(chain));
	CHECK_EQ_U64(framecache__get(c, &k, &got), 0);
	CHECK_STR(got.name, "outer");
	CHECK_STR(got.file, "in.c");
	CHECK_EQ_U64(got.n_inlined, 2);
	if (got.n_inlined == 2) {
		CHECK_STR(got.inlined[0].name, "inner_most");
		CHECK_STR(got.inlined[0].call_file, "out.c");
		CHECK_EQ_U64(got.inlined[0].call_line, 5);
		CHECK_STR(got.inlined[1].name, "middle");
		CHECK_EQ_U64(got.inlined[1].call_line, 9);
	}
	CHECK(got.map_path == NULL);
	/* Putting again replaces, without a second entry. */
	f = (struct sym_frame){.name = "renamed"};
	CHECK_EQ_U64(framecache__put(c, &k, &f), 0);
	CHECK_EQ_U64(framecache__get(c, &k, &got), 0);
	CHECK_STR(got.name, "renamed");
	CHECK_EQ_U64(got.n_inlined, 0);
out:
	free(name);
	free(file);
	free(call);
	framecache__free(c);
}

/* At the entry cap the least recently used goes first, and is counted. */
static void test_bound_lru(void)
{
	struct framecache *c = framecache__new(8, 0);
	struct sym_frame f = {.name = "f"}, got;
	struct framecache_key k;
	struct framecache_stats st;

	CHECK(c != NULL);
	if (!c)
		return;
	for (uint64_t off = 0; off < 8; off++) {
		k = key_at(1, off);
		CHECK_EQ_U64(framecache__put(c, &k, &f), 0);
	}
	/* 0 becomes the most recent: 1 is now the oldest. */
	k = key_at(1, 0);
	CHECK_EQ_U64(framecache__get(c, &k, &got), 0);
	k = key_at(1, 100);
	CHECK_EQ_U64(framecache__put(c, &k, &f), 0);
	framecache__stats(c, &st);
	CHECK_EQ_U64(st.entries, 8);
	CHECK_EQ_U64(st.evictions, 1);
	k = key_at(1, 1);
	CHECK_EQ_U64(framecache__get(c, &k, &got), (uint64_t)-ENOENT);
	k = key_at(1, 0);
	CHECK_EQ_U64(framecache__get(c, &k, &got), 0);
	k = key_at(1, 100);
	CHECK_EQ_U64(framecache__get(c, &k, &got), 0);
	framecache__free(c);
}

/* The byte cap holds too: big entries push the old ones out, and one too big is refused. */
static void test_bound_bytes(void)
{
	struct framecache *c = framecache__new(1000, 64 * 1024);
	char *name = malloc(2000), *huge = malloc(8000);
	struct sym_frame f = {0};
	struct framecache_stats st;
	struct framecache_key k;

	CHECK(c && name && huge);
	if (!c || !name || !huge)
		goto out;
	memset(name, 'n', 1999);
	name[1999] = '\0';
	memset(huge, 'h', 7999);
	huge[7999] = '\0';
	f.name = name;
	for (uint64_t off = 0; off < 100; off++) {
		k = key_at(2, off);
		CHECK_EQ_U64(framecache__put(c, &k, &f), 0);
		framecache__stats(c, &st);
		CHECK(st.bytes <= 64 * 1024);
	}
	framecache__stats(c, &st);
	CHECK(st.entries < 40);
	CHECK(st.evictions > 60);
	CHECK_EQ_U64(st.entries + st.evictions, 100);
	f.name = huge;
	k = key_at(2, 1000);
	CHECK_EQ_U64(framecache__put(c, &k, &f), (uint64_t)-E2BIG);
	framecache__stats(c, &st);
	CHECK_EQ_U64(st.too_big, 1);
out:
	free(name);
	free(huge);
	framecache__free(c);
}

int main(void)
{
	test_get_put();
	test_strings_copied();
	test_bound_lru();
	test_bound_bytes();
	return test__finish("framecache");
}
