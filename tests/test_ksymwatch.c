// SPDX-License-Identifier: GPL-2.0
/*
 * ksymwatch tests: the PERF_RECORD_KSYMBOL body parser on good and broken
 * records; and, where perf events may be opened, the watcher itself.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>

#include "ksymwatch.h"
#include "testutil.h"

/* A record body: addr, len, type, flags, then name (not terminated when nul is false). */
static size_t body(unsigned char *b, uint64_t addr, uint32_t len, uint16_t type, uint16_t flags,
		   const char *name, bool nul)
{
	size_t n = strlen(name);

	memcpy(b, &addr, 8);
	memcpy(b + 8, &len, 4);
	memcpy(b + 12, &type, 2);
	memcpy(b + 14, &flags, 2);
	memcpy(b + 16, name, n);
	if (nul)
		b[16 + n++] = '\0';
	return 16 + n;
}

static void test_parse(void)
{
	unsigned char b[128];
	uint64_t addr;
	uint32_t len;
	bool bpf, gone;
	const char *name;
	size_t name_len, n;

	n = body(b, 0xffffffffc0001000ull, 0x80, PERF_RECORD_KSYMBOL_TYPE_BPF, 0,
		 "bpf_prog_0123456789abcdef_handler", true);
	CHECK_EQ_U64(ksymwatch__parse(b, n, &addr, &len, &bpf, &gone, &name, &name_len), 0);
	CHECK_EQ_U64(addr, 0xffffffffc0001000ull);
	CHECK_EQ_U64(len, 0x80);
	CHECK(bpf && !gone);
	CHECK_EQ_U64(name_len, strlen("bpf_prog_0123456789abcdef_handler"));
	CHECK(strcmp(name, "bpf_prog_0123456789abcdef_handler") == 0);

	n = body(b, 0x1000, 16, PERF_RECORD_KSYMBOL_TYPE_OOL, PERF_RECORD_KSYMBOL_FLAGS_UNREGISTER,
		 "bpf_trampoline_7", true);
	CHECK_EQ_U64(ksymwatch__parse(b, n, &addr, &len, &bpf, &gone, &name, &name_len), 0);
	CHECK(!bpf && gone);

	/* No terminating NUL inside the record, an empty name, a zero or wrapping range, too short.
	 */
	n = body(b, 0x1000, 16, 1, 0, "unterminated", false);
	CHECK_EQ_U64(ksymwatch__parse(b, n, &addr, &len, &bpf, &gone, &name, &name_len), -EINVAL);
	n = body(b, 0x1000, 16, 1, 0, "", true);
	CHECK_EQ_U64(ksymwatch__parse(b, n, &addr, &len, &bpf, &gone, &name, &name_len), -EINVAL);
	n = body(b, 0x1000, 0, 1, 0, "zero", true);
	CHECK_EQ_U64(ksymwatch__parse(b, n, &addr, &len, &bpf, &gone, &name, &name_len), -EINVAL);
	n = body(b, UINT64_MAX - 4, 16, 1, 0, "wraps", true);
	CHECK_EQ_U64(ksymwatch__parse(b, n, &addr, &len, &bpf, &gone, &name, &name_len), -EINVAL);
	CHECK_EQ_U64(ksymwatch__parse(b, 16, &addr, &len, &bpf, &gone, &name, &name_len), -EINVAL);
}

static void count_fn(void *ctx, uint64_t addr, uint32_t len, const char *name, bool bpf, bool gone)
{
	(void)addr;
	(void)len;
	(void)name;
	(void)bpf;
	(void)gone;
	(*(int *)ctx)++;
}

/* The watcher opens, drains and closes; unprivileged runs may not open it (-EACCES). */
static void test_open(void)
{
	struct ksymwatch_stats st;
	struct ksymwatch *w = NULL;
	int seen = 0, err;

	ksymwatch__free(NULL); /* destructors accept NULL */
	ksymwatch__drain(NULL);
	CHECK_EQ_U64(ksymwatch__new(NULL, NULL, NULL, &w), -EINVAL);
	err = ksymwatch__new(count_fn, NULL, &seen, &w);
	if (err == -EACCES || err == -EPERM) {
		printf("ksymwatch: perf events refused (%s), watcher not opened\n", strerror(-err));
		return;
	}
	CHECK_EQ_U64(err, 0);
	ksymwatch__drain(w);
	ksymwatch__stats(w, &st);
	CHECK_EQ_U64(st.malformed, 0);
	CHECK_EQ_U64(st.registered + st.unregistered, (uint64_t)seen);
	ksymwatch__free(w);
}

int main(void)
{
	test_parse();
	test_open();
	return test__finish("test_ksymwatch");
}
