// SPDX-License-Identifier: GPL-2.0
/*
 * The unwinder against stacks captured from this very process: functions
 * compiled without frame pointers record their registers and a copy of the
 * stack, as the BPF programs do, and the unwound chain must name their known
 * callers through the symbolizer, including through libc's qsort. Then
 * hostile copies, the caches' caps, and the collector putting it together.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector.h"
#include "sonde_events.h"
#include "symbolizer.h"
#include "testutil.h"
#include "unwinder.h"

#define NO_FP __attribute__((noinline, noclone, optimize("omit-frame-pointer")))

#define MAX_FRAMES 64

struct snap {
	uint64_t ip, sp, bp;
	size_t len;
	uint8_t stack[SONDE_UCOPY_MAX];
};

/* The first byte past the main thread's stack. */
static uintptr_t stack_end(void)
{
	pthread_attr_t attr;
	void *addr = NULL;
	size_t size = 0;

	if (pthread_getattr_np(pthread_self(), &attr))
		return 0;
	pthread_attr_getstack(&attr, &addr, &size);
	pthread_attr_destroy(&attr);
	return (uintptr_t)addr + size;
}

/*
 * Copies the live stack as bpf_probe_read_user would: byte by byte, unseen by
 * ASan (the stack holds its redzones, which a checked read would report).
 */
__attribute__((no_sanitize_address, noinline)) static void copy_raw(uint8_t *dst, uintptr_t src,
								    size_t len)
{
	const volatile uint8_t *p = (const volatile uint8_t *)src;

	for (size_t i = 0; i < len; i++)
		dst[i] = p[i];
}

/* Records ip, sp, bp and the stack above sp, from a frame without a frame pointer. */
static NO_FP void capture(struct snap *s)
{
	uint64_t ip, sp, bp;
	uintptr_t end = stack_end();

	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
			 : "=r"(ip), "=r"(sp), "=r"(bp));
	s->ip = ip;
	s->sp = sp;
	s->bp = bp;
	s->len = end > sp ? end - sp : 0;
	if (s->len > sizeof(s->stack))
		s->len = sizeof(s->stack);
	copy_raw(s->stack, sp, s->len);
}

/* The asm after each call keeps it a call (no tail jump), so each caller has a frame. */
static NO_FP void unwind_level2(struct snap *s)
{
	capture(s);
	__asm__ volatile("" ::: "memory");
}

static NO_FP void unwind_level1(struct snap *s)
{
	unwind_level2(s);
	__asm__ volatile("" ::: "memory");
}

static struct snap *qsort_snap;

static NO_FP int compare_and_capture(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	if (qsort_snap) {
		capture(qsort_snap);
		qsort_snap = NULL;
	}
	return (x > y) - (x < y);
}

static NO_FP void sort_caller(struct snap *s)
{
	int v[16];

	for (int i = 0; i < 16; i++)
		v[i] = (i * 7919) % 16;
	qsort_snap = s;
	qsort(v, 16, sizeof(v[0]), compare_and_capture);
	__asm__ volatile("" ::: "memory");
}

/* In tests/fixtures/fixture_debugframe.c: CFI in .debug_frame only. */
void fixture_df_outer(void (*cb)(void *), void *arg);

static volatile int df_calls;

static NO_FP void df_callback(void *arg)
{
	capture(arg);
	df_calls++; /* unlike unwind_level2, so that the two are not folded into one */
}

static NO_FP void df_caller(struct snap *s)
{
	fixture_df_outer(df_callback, s);
	__asm__ volatile("" ::: "memory");
}

static size_t unwind_snap_res(struct unwinder *u, const struct snap *s, const uint64_t *fp,
			      size_t n_fp, uint64_t *out, size_t max, struct unwinder_result *res)
{
	struct unwinder_input in = {
		.pid = (uint32_t)getpid(),
		.ip = s->ip,
		.sp = s->sp,
		.bp = s->bp,
		.stack = s->stack,
		.stack_len = s->len,
		.fp_frames = fp,
		.n_fp = n_fp,
	};

	return unwinder__unwind(u, &in, out, max, res);
}

static size_t unwind_snap(struct unwinder *u, const struct snap *s, const uint64_t *fp, size_t n_fp,
			  uint64_t *out, size_t max)
{
	return unwind_snap_res(u, s, fp, n_fp, out, max, NULL);
}

/* The function names of the frames, as profiles name them (return addresses at pc - 1). */
static void name_frames(struct symbolizer *sym, const uint64_t *pcs, size_t n, char names[][64],
			char maps[][64])
{
	const char *base;
	struct sym_frame f;

	for (size_t i = 0; i < n; i++) {
		names[i][0] = maps[i][0] = '\0';
		if (symbolizer__user(sym, (uint32_t)getpid(), i ? pcs[i] - 1 : pcs[i], &f))
			continue;
		snprintf(names[i], 64, "%s", f.name ? f.name : "?");
		/* The file name only: a build tree's path may not fit (64 bytes each). */
		base = f.map_path ? strrchr(f.map_path, '/') : NULL;
		snprintf(maps[i], 64, "%s", base ? base + 1 : f.map_path ? f.map_path : "?");
	}
}

static int index_of(char names[][64], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

/*
 * The stack top an unwinding reports: a copy of [sp, top) of the same stack
 * unwinds to the same outermost frame (what BPF copies once the top is
 * learnt), one word less does not, and a cut-short unwinding reports none.
 */
static void test_stack_top(struct unwinder *u, const struct snap *s, const uint64_t *full,
			   size_t n_full)
{
	struct unwinder_result res, res2;
	uint64_t out[MAX_FRAMES];
	struct snap *t = malloc(sizeof(*t));
	size_t n;

	CHECK(t != NULL);
	if (!t)
		return;
	n = unwind_snap_res(u, s, NULL, 0, out, MAX_FRAMES, &res);
	CHECK_EQ_U64(n, n_full);
	CHECK(res.outermost);
	CHECK(res.top > s->sp && res.top <= s->sp + s->len);
	fprintf(stderr, "  stack top: %llu bytes above sp, of %zu copied\n",
		(unsigned long long)(res.top - s->sp), s->len);

	*t = *s;
	t->len = res.top - s->sp;
	n = unwind_snap_res(u, t, NULL, 0, out, MAX_FRAMES, &res2);
	CHECK_EQ_U64(n, n_full);
	CHECK(memcmp(out, full, n * sizeof(out[0])) == 0);
	CHECK(res2.outermost);
	CHECK_EQ_U64(res2.top, res.top);

	t->len -= 8;
	(void)unwind_snap_res(u, t, NULL, 0, out, MAX_FRAMES, &res2);
	CHECK(!res2.outermost);
	CHECK_EQ_U64(res2.top, 0);

	/* Stopped by max, not by the outermost frame. */
	(void)unwind_snap_res(u, s, NULL, 0, out, 2, &res2);
	CHECK(!res2.outermost);
	free(t);
}

/* Returns the return address into main's caller, found by CFI. */
static NO_FP uint64_t test_self_capture(struct symbolizer *sym, struct unwinder *u, struct snap *s)
{
	uint64_t out[MAX_FRAMES];
	char names[MAX_FRAMES][64], maps[MAX_FRAMES][64];
	struct unwinder_stats st;
	size_t n;
	int self;

	unwind_level1(s);
	__asm__ volatile("" ::: "memory");
	CHECK(s->len > 64);
	/* No frame-pointer walk to lean on: CFI alone. */
	n = unwind_snap(u, s, NULL, 0, out, MAX_FRAMES);
	name_frames(sym, out, n, names, maps);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  #%zu %#llx %s (%s)\n", i, (unsigned long long)out[i], names[i],
			maps[i]);
	CHECK(n >= 5);
	CHECK_STR(names[0], "capture");
	CHECK_STR(names[1], "unwind_level2");
	CHECK_STR(names[2], "unwind_level1");
	CHECK_STR(names[3], "test_self_capture");
	self = index_of(names, n, "main");
	CHECK(self > 3);
	/* Past main, into libc's start code, up to the outermost frame. */
	CHECK(index_of(names, n, "__libc_start_call_main") > self);
	unwinder__stats(u, &st);
	CHECK_EQ_U64(st.stacks, 1);
	CHECK_EQ_U64(st.complete, 1);
	CHECK(st.frames_cfi >= n - 1);
	CHECK_EQ_U64(st.frames_fp, 0);
	CHECK(st.rule_misses >= 4);
	CHECK(st.files_cached >= 1);

	/* The second time, every row comes from the cache. */
	n = unwind_snap(u, s, NULL, 0, out, MAX_FRAMES);
	unwinder__stats(u, &st);
	CHECK(st.rule_hits >= n - 1);
	CHECK_EQ_U64(st.complete, 2);

	test_stack_top(u, s, out, n);

	/* At most max frames, leaf first. */
	CHECK_EQ_U64(unwind_snap(u, s, NULL, 0, out, 0), 0);
	n = unwind_snap(u, s, NULL, 0, out, MAX_FRAMES);
	CHECK_EQ_U64(unwind_snap(u, s, NULL, 0, out, 2), 2);
	return self >= 0 && (size_t)self + 1 < n ? out[self + 1] : 0;
}

static NO_FP void test_through_libc(struct symbolizer *sym, struct unwinder *u, struct snap *s)
{
	uint64_t out[MAX_FRAMES];
	char names[MAX_FRAMES][64], maps[MAX_FRAMES][64];
	bool in_libc = false;
	int cmp, caller;
	size_t n;

	memset(s, 0, sizeof(*s));
	sort_caller(s);
	__asm__ volatile("" ::: "memory");
	CHECK(s->len > 0);
	n = unwind_snap(u, s, NULL, 0, out, MAX_FRAMES);
	name_frames(sym, out, n, names, maps);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  #%zu %s (%s)\n", i, names[i], maps[i]);
	cmp = index_of(names, n, "compare_and_capture");
	caller = index_of(names, n, "sort_caller");
	/*
	 * qsort's frames lie between the two, in a library built without frame
	 * pointers: Debian's libc (or, under ASan, libasan's qsort interceptor).
	 */
	for (int i = cmp + 1; cmp > 0 && i < caller; i++)
		in_libc |= strcmp(maps[i], maps[0]) != 0 && strstr(maps[i], ".so") != NULL;
	CHECK_STR(names[0], "capture");
	CHECK_EQ_U64(cmp, 1);
	CHECK(in_libc);
	CHECK(caller > cmp + 1);
	CHECK(index_of(names, n, "test_through_libc") == caller + 1);
}

/* Through a library whose rows are in .debug_frame alone. */
static NO_FP void test_debug_frame(struct symbolizer *sym, struct unwinder *u, struct snap *s)
{
	uint64_t out[MAX_FRAMES];
	char names[MAX_FRAMES][64], maps[MAX_FRAMES][64];
	size_t n;

	memset(s, 0, sizeof(*s));
	df_caller(s);
	__asm__ volatile("" ::: "memory");
	n = unwind_snap(u, s, NULL, 0, out, MAX_FRAMES);
	name_frames(sym, out, n, names, maps);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  #%zu %s (%s)\n", i, names[i], maps[i]);
	CHECK(n >= 7);
	CHECK_STR(names[1], "df_callback");
	CHECK_STR(names[2], "fixture_df_inner");
	CHECK(strstr(maps[2], "libfixture_debugframe") != NULL); /* the path may be cut */
	CHECK_STR(names[3], "fixture_df_outer");
	CHECK_STR(names[4], "df_caller");
	CHECK_STR(names[5], "test_debug_frame");
	CHECK_STR(names[6], "main");
}

/*
 * A pc in a file mapped after the maps were read: they are read again (not
 * more often than every 250 ms) and the pc unwinds. The test binary mapped a
 * second time, executable like code, stands for a library loaded late.
 */
static void test_late_mapping(struct symbolizer *sym, struct unwinder *u, const struct snap *real)
{
	struct unwinder_stats st0, st;
	uint64_t out[MAX_FRAMES], want[MAX_FRAMES];
	struct sym_mapping m;
	static struct snap s;
	size_t n_want, n, size;
	struct stat sb;
	void *base;
	int fd;

	CHECK(symbolizer__mapping(sym, (uint32_t)getpid(), 0, real->ip, &m) == 0);
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && fstat(fd, &sb) == 0);
	if (fd < 0)
		return;
	size = (size_t)sb.st_size;
	base = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	close(fd);
	CHECK(base != MAP_FAILED);
	if (base == MAP_FAILED)
		return;
	n_want = unwind_snap(u, real, NULL, 0, want, MAX_FRAMES);
	s = *real;
	s.ip = (uint64_t)(uintptr_t)base + (real->ip - m.start + m.offset);
	usleep(300 * 1000); /* older than the re-read interval */
	unwinder__stats(u, &st0);
	n = unwind_snap(u, &s, NULL, 0, out, MAX_FRAMES);
	unwinder__stats(u, &st);
	CHECK_EQ_U64(st.maps_rereads - st0.maps_rereads, 1);
	CHECK_EQ_U64(n, n_want);
	CHECK(n > 1 && memcmp(out + 1, want + 1, (n - 1) * sizeof(out[0])) == 0);
	/* Read again only once per interval, however many pcs miss. */
	s.ip = 0x1000;
	unwind_snap(u, &s, NULL, 0, out, MAX_FRAMES);
	unwinder__stats(u, &st0);
	CHECK_EQ_U64(st0.maps_rereads, st.maps_rereads);
	munmap(base, size);
}

/* Copies that lie: no crash, every walk ends and is counted by cause. */
static void test_hostile(struct unwinder *u, const struct snap *real, uint64_t main_return)
{
	struct unwinder_stats st0, st;
	static struct snap s;
	uint64_t out[MAX_FRAMES], fp[3];
	uint32_t rng = 12345;
	size_t n;

	unwinder__stats(u, &st0);

	/* A real pc over a stack of random words. */
	s = *real;
	for (size_t i = 0; i < s.len; i++) {
		rng = rng * 1103515245u + 12345u;
		s.stack[i] = (uint8_t)(rng >> 16);
	}
	for (int round = 0; round < 50; round++) {
		s.bp = s.sp + (rng % 512) * 8;
		n = unwind_snap(u, &s, NULL, 0, out, MAX_FRAMES);
		CHECK(n >= 1 && n <= MAX_FRAMES);
		CHECK_EQ_U64(out[0], s.ip);
		rng = rng * 1103515245u + 12345u;
		s.stack[rng % s.len] ^= 0xff;
	}

	/*
	 * A pc in no mapping: frame pointers from there. main keeps one (the
	 * project builds with them), so bp leads into the copy, to main's caller.
	 */
	s = *real;
	s.ip = 0x1000;
	n = unwind_snap(u, &s, NULL, 0, out, MAX_FRAMES);
	CHECK(n >= 2);
	CHECK_EQ_U64(out[1], main_return);

	/* The same with bp out of the copy: the kernel's walk goes on from the same pc. */
	s.bp = 0;
	fp[0] = 0x1000;
	fp[1] = 0x2000;
	fp[2] = 0x3000;
	n = unwind_snap(u, &s, fp, 3, out, MAX_FRAMES);
	CHECK_EQ_U64(n, 3);
	CHECK_EQ_U64(out[1], 0x2000);
	CHECK_EQ_U64(out[2], 0x3000);

	/* A copy too short for the first return address: truncated, then the kernel's walk. */
	s = *real;
	s.len = 8;
	fp[0] = s.ip;
	fp[1] = 0x4000;
	fp[2] = 0x5000;
	n = unwind_snap(u, &s, fp, 3, out, MAX_FRAMES);
	CHECK_EQ_U64(n, 3);
	CHECK_EQ_U64(out[0], s.ip);
	CHECK_EQ_U64(out[2], 0x5000);

	/* No copy at all: the frame-pointer walk as it is. */
	s.len = 0;
	n = unwind_snap(u, &s, fp, 3, out, MAX_FRAMES);
	CHECK_EQ_U64(n, 3);
	CHECK_EQ_U64(out[1], 0x4000);
	CHECK_EQ_U64(unwind_snap(u, &s, fp, 3, out, 2), 2);

	/* sp at the top of the address space: reads must not wrap. */
	s = *real;
	s.sp = UINT64_MAX - 3;
	s.len = 64;
	n = unwind_snap(u, &s, NULL, 0, out, MAX_FRAMES);
	CHECK(n >= 1);

	unwinder__stats(u, &st);
	CHECK_EQ_U64(st.no_copy - st0.no_copy, 2);
	/* Every walk from a copy ends one way, and is counted once. */
	CHECK_EQ_U64((st.complete + st.truncated + st.no_cfi + st.bad_rule) -
			     (st0.complete + st0.truncated + st0.no_cfi + st0.bad_rule),
		     st.stacks - st0.stacks);
	CHECK(st.no_cfi > st0.no_cfi);
	CHECK(st.truncated > st0.truncated);
	CHECK(st.frames_fp >= st0.frames_fp + 4);
}

/* Tiny caps: the caches stay within them, evict, and the answers stay right. */
static void test_bounded(struct symbolizer *sym, const struct snap *s, size_t n_expected)
{
	struct unwinder_opts opts = {.max_files = 1, .max_rules = 2};
	struct unwinder *u = unwinder__new(sym, &opts);
	uint64_t out[MAX_FRAMES];
	struct unwinder_stats st;
	size_t n = 0;

	CHECK(u != NULL);
	if (!u)
		return;
	for (int i = 0; i < 20; i++)
		n = unwind_snap(u, s, NULL, 0, out, MAX_FRAMES);
	CHECK_EQ_U64(n, n_expected);
	unwinder__stats(u, &st);
	CHECK(st.rules_cached <= 2);
	CHECK(st.files_cached <= 1);
	CHECK(st.rule_evictions > 0);
	CHECK(st.file_evictions > 0); /* the test binary and libc take turns */
	CHECK_EQ_U64(st.complete, 20);
	unwinder__free(u);
	unwinder__free(NULL);

	/* A byte cap under two files' CFI: each new file closes the other, and the answers hold. */
	opts = (struct unwinder_opts){.max_bytes = 1};
	u = unwinder__new(sym, &opts);
	CHECK(u != NULL);
	if (!u)
		return;
	for (int i = 0; i < 5; i++)
		n = unwind_snap(u, s, NULL, 0, out, MAX_FRAMES);
	CHECK_EQ_U64(n, n_expected);
	unwinder__stats(u, &st);
	CHECK_EQ_U64(st.files_cached, 1);
	CHECK(st.file_bytes > 0);
	CHECK(st.file_evictions > 0);
	CHECK_EQ_U64(st.complete, 5);
	unwinder__free(u);
}

struct first_stack {
	uint32_t n;
	uint64_t pcs[MAX_FRAMES];
};

static int first_stack_fn(const struct agg_sample *e, void *ctx)
{
	struct first_stack *f = ctx;

	f->n = e->n_ustack;
	for (uint32_t i = 0; i < e->n_ustack && i < MAX_FRAMES; i++)
		f->pcs[i] = e->ustack[i];
	return 0;
}

struct top_calls {
	int n;
	uint32_t tid;
	uint64_t mm_tag, top;
};

static void top_fn(void *ctx, uint32_t tid, uint64_t mm_tag, uint64_t top)
{
	struct top_calls *t = ctx;

	t->n++;
	t->tid = tid;
	t->mm_tag = mm_tag;
	t->top = top;
}

/*
 * A record with a stack copy: the collector hands the unwound stack to the
 * session, and what the unwinding taught of the thread's stack top to the
 * stack-top callback.
 */
static void test_collector(struct unwinder *u, const struct snap *s)
{
	size_t fp_bytes = 2 * 8, size;
	struct sonde_ustack_copy uc = {.ip = s->ip, .sp = s->sp, .bp = s->bp, .mm_tag = 0xabc0};
	struct unwinder_result res = {0};
	struct top_calls tops = {0};
	struct sonde_ustack_copy *in_rec;
	struct collector_session *ses;
	struct first_stack got = {0};
	uint64_t want[MAX_FRAMES];
	struct collector_stats st;
	struct collector *c;
	struct agg *a;
	uint8_t *rec;
	size_t n;

	uc.copy_sz = (uint32_t)s->len; /* whole: up to the outermost frame */
	size = sizeof(struct sonde_sample_hdr) + fp_bytes + sizeof(uc) + uc.copy_sz;
	rec = calloc(1, size);
	CHECK(rec != NULL);
	if (!rec)
		return;
	{
		struct sonde_sample_hdr *h = (void *)rec;
		uint64_t fp[2] = {s->ip, 0x1234};

		h->kind = SONDE_EV_ONCPU;
		h->pid = (uint32_t)getpid();
		h->tid = h->pid;
		h->ts_ns = 150;
		h->value = 1;
		h->ustack_sz = (int32_t)fp_bytes;
		memcpy(rec + sizeof(*h), fp, fp_bytes);
		memcpy(rec + sizeof(*h) + fp_bytes, &uc, sizeof(uc));
		memcpy(rec + sizeof(*h) + fp_bytes + sizeof(uc), s->stack, uc.copy_sz);
	}
	{
		struct snap *t = malloc(sizeof(*t));

		CHECK(t != NULL);
		if (!t) {
			free(rec);
			return;
		}
		*t = *s;
		t->len = uc.copy_sz;
		n = unwind_snap_res(u, t, NULL, 0, want, MAX_FRAMES, &res);
		free(t);
	}
	CHECK(n > 2);
	CHECK(res.outermost);

	CHECK(collector__new(-1, &c) == 0);
	collector__set_unwinder(c, u);
	collector__set_stack_top_fn(c, top_fn, &tops);
	CHECK(collector__session_open(c, 100, 200, 0, COLLECTOR_ONCPU, NULL, &ses) == 0);
	CHECK(collector__handle_event(c, rec, size) == 0);
	/* A copy that claims more bytes than the record holds is malformed. */
	((struct sonde_ustack_copy *)(rec + sizeof(struct sonde_sample_hdr) + fp_bytes))->copy_sz =
		uc.copy_sz + 8;
	CHECK(collector__handle_event(c, rec, size) == -EINVAL);
	((struct sonde_ustack_copy *)(rec + sizeof(struct sonde_sample_hdr) + fp_bytes))->copy_sz =
		uc.copy_sz;
	a = collector__session_close(c, ses);
	agg__for_each(a, first_stack_fn, &got);
	agg__free(a);
	CHECK_EQ_U64(got.n, n);
	CHECK(memcmp(got.pcs, want, n * sizeof(want[0])) == 0);
	collector__stats(c, &st);
	CHECK_EQ_U64(st.malformed, 1);
	collector__free(c);

	/* Again, for the stack tops alone. */
	CHECK(collector__new(-1, &c) == 0);
	collector__set_unwinder(c, u);
	collector__set_stack_top_fn(c, top_fn, &tops);
	tops = (struct top_calls){0};
	CHECK(collector__session_open(c, 100, 200, 0, COLLECTOR_ONCPU, NULL, &ses) == 0);
	CHECK(collector__handle_event(c, rec, size) == 0);
	/* A full copy that reached the outermost frame teaches the thread's top, with slack. */
	CHECK_EQ_U64(tops.n, 1);
	CHECK_EQ_U64(tops.tid, (uint32_t)getpid());
	CHECK_EQ_U64(tops.mm_tag, 0xabc0);
	CHECK(tops.top >= res.top + 64 && tops.top < res.top + 64 + 16 && !(tops.top & 15));
	/* A copy cut at the learnt top: nothing to learn when it reaches the end again. */
	in_rec = (struct sonde_ustack_copy *)(rec + sizeof(struct sonde_sample_hdr) + fp_bytes);
	in_rec->flags = SONDE_UCOPY_TO_TOP;
	CHECK(collector__handle_event(c, rec, size) == 0);
	CHECK_EQ_U64(tops.n, 1);
	/* One that falls short of the outermost frame withdraws the top. */
	in_rec->copy_sz = 64;
	CHECK(collector__handle_event(
		      c, rec, sizeof(struct sonde_sample_hdr) + fp_bytes + sizeof(uc) + 64) == 0);
	CHECK_EQ_U64(tops.n, 2);
	CHECK_EQ_U64(tops.top, 0);
	in_rec->copy_sz = uc.copy_sz;
	in_rec->flags = 0;
	agg__free(collector__session_close(c, ses));

	/*
	 * A block-I/O start record with a copy is unwound as it arrives and
	 * waits in the join with the unwound frames: its completion gives the
	 * session the same stack.
	 */
	{
		struct sonde_blockio_done d = {.kind = SONDE_EV_BLOCKIO_DONE,
					       .rq = 0xfeed0,
					       .start_ns = 120,
					       .end_ns = 160,
					       .bytes = 4096};
		struct sonde_sample_hdr *h = (void *)rec;

		h->kind = SONDE_EV_BLOCKIO;
		h->ts_ns = 120;
		h->aux = 0xfeed0;
		h->info = SONDE_BIO_OP_READ | SONDE_BIO_SYNC;
		CHECK(collector__session_open(c, 100, 200, 0, COLLECTOR_BLOCKIO, NULL, &ses) == 0);
		CHECK(collector__handle_event(c, rec, size) == 0);
		CHECK(collector__handle_event(c, &d, sizeof(d)) == 0);
		a = collector__session_close(c, ses);
		got = (struct first_stack){0};
		agg__for_each(a, first_stack_fn, &got);
		agg__free(a);
		CHECK_EQ_U64(got.n, n);
		CHECK(memcmp(got.pcs, want, n * sizeof(want[0])) == 0);
		h->kind = SONDE_EV_ONCPU;
	}
	collector__stats(c, &st);
	CHECK_EQ_U64(st.copies_to_top, 2);
	CHECK_EQ_U64(st.stack_tops_learnt, 2); /* again from the block-I/O start record */
	CHECK_EQ_U64(st.stack_tops_cleared, 1);
	collector__free(c);
	free(rec);
}

int main(void)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct unwinder *u = unwinder__new(sym, NULL);
	struct snap *s = calloc(1, sizeof(*s)), *q = calloc(1, sizeof(*q));
	uint64_t out[MAX_FRAMES], main_return;

	CHECK(sym && u && s && q);
	if (!sym || !u || !s || !q)
		return test__finish("test_unwinder");
	symbolizer__begin(sym);
	main_return = test_self_capture(sym, u, s);
	test_through_libc(sym, u, q);
	test_debug_frame(sym, u, q);
	test_late_mapping(sym, u, s);
	test_hostile(u, s, main_return);
	test_bounded(sym, s, unwind_snap(u, s, NULL, 0, out, MAX_FRAMES));
	test_collector(u, s);
	free(q);
	free(s);
	unwinder__free(u);
	symbolizer__free(sym);
	return test__finish("test_unwinder");
}
