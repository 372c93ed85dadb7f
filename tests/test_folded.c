// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "folded.h"
#include "testutil.h"

__attribute__((noinline)) int folded_test_leaf(int x)
{
	return x * 5 + 1;
}

__attribute__((noinline)) int folded_test_root(int x)
{
	return folded_test_leaf(x) + 3;
}

static char *fold(const struct agg *a, struct symbolizer *sym, const struct folded_opts *o)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len;

	CHECK(folded__write(a, sym, o, &sb) == 0);
	if (!sb.buf)
		return strdup("");
	return strbuf__detach(&sb, &len);
}

static void test_names_and_order(void)
{
	struct symbolizer_opts so = {.proc_root = "/proc"};
	struct symbolizer *sym = symbolizer__new(&so);
	uint64_t kaddr = test__kernel_symbol("do_sys_openat2");
	/* Leaf first, as BPF reports them; the user leaf is a return address + 0. */
	uint64_t u[2] = {(uint64_t)(uintptr_t)folded_test_leaf + 4,
			 (uint64_t)(uintptr_t)folded_test_root + 8};
	uint64_t k[1] = {kaddr + 4};
	struct folded_opts o = {.value = FOLDED_COUNT};
	struct agg *a = agg__new(NULL);
	struct agg_sample s = {
		.pid = (uint32_t)getpid(),
		.tid = 1,
		.comm = "my proc;x",
		.thread_name = "t",
		.ustack = u,
		.n_ustack = 2,
		.count = 3,
		.value = 300,
	};
	char *text, expect[256];

	CHECK(sym != NULL);
	CHECK(kaddr != 0);
	agg__add(a, &s);
	/* Another thread, same stack: merged into the same line. */
	s.tid = 2;
	agg__add(a, &s);
	/* The same user stack with a kernel leaf. */
	s.kstack = k;
	s.n_kstack = 1;
	s.count = 1;
	s.value = 7;
	agg__add(a, &s);
	/* No stack at all. */
	s.n_kstack = 0;
	s.n_ustack = 0;
	s.comm = "";
	s.count = 2;
	agg__add(a, &s);

	text = fold(a, sym, &o);
	snprintf(expect, sizeof(expect),
		 "[unknown];[no stack] 2\n"
		 "my_proc:x;folded_test_root;folded_test_leaf 6\n"
		 "my_proc:x;folded_test_root;folded_test_leaf;do_sys_openat2_[k] 1\n");
	CHECK_STR(text, expect);
	if (strcmp(text, expect))
		fprintf(stderr, "got:\n%s", text);
	free(text);

	/* Values and the pid in the root frame. */
	o.value = FOLDED_VALUE;
	o.with_pid = true;
	text = fold(a, sym, &o);
	snprintf(expect, sizeof(expect), "my_proc:x-%d;folded_test_root;folded_test_leaf 600\n",
		 getpid());
	CHECK(strstr(text, expect) != NULL);
	free(text);

	/* On-CPU entries can be weighed by the sampling period instead. */
	o.oncpu_period = 1000;
	o.with_pid = false;
	text = fold(a, sym, &o);
	CHECK(strstr(text, "my_proc:x;folded_test_root;folded_test_leaf 6000\n") != NULL);
	free(text);

	agg__free(a);
	symbolizer__free(sym);
}

static void test_overflow_and_unknown(void)
{
	struct agg_opts tiny = {.max_entries = 1};
	struct folded_opts o = {.value = FOLDED_COUNT};
	struct agg *a = agg__new(&tiny);
	uint64_t f1 = 0x10, f2 = 0x20;
	struct agg_sample s = {.pid = 999999,
			       .tid = 1,
			       .comm = "c",
			       .thread_name = "t",
			       .ustack = &f1,
			       .n_ustack = 1,
			       .count = 1,
			       .value = 1};
	char *text;

	agg__add(a, &s);
	s.ustack = &f2;
	agg__add(a, &s);
	/* No symbolizer: frames stay [unknown]; the overflow entry says what it is. */
	text = fold(a, NULL, &o);
	CHECK_STR(text, "[sonde];[sonde: aggregation overflow] 1\nc;[unknown] 1\n");
	free(text);
	/* The overflow entry has no process: no pid in its root frame. */
	o.with_pid = true;
	text = fold(a, NULL, &o);
	CHECK_STR(text, "[sonde];[sonde: aggregation overflow] 1\nc-999999;[unknown] 1\n");
	free(text);
	agg__free(a);

	/* An empty table folds to nothing. */
	a = agg__new(NULL);
	text = fold(a, NULL, &o);
	CHECK_STR(text, "");
	free(text);
	agg__free(a);
}

int main(void)
{
	test_names_and_order();
	test_overflow_and_unknown();
	return test__finish("test_folded");
}
