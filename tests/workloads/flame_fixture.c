// SPDX-License-Identifier: GPL-2.0
/*
 * Writes a flame-graph page with a very large synthetic profile: N distinct
 * stacks (default 100000) over 4 processes of 4 threads, up to 40 user and 4
 * kernel frames deep. Each stack shares a prefix with an earlier one and
 * ends in a few frames of its own, picked with a skew, so that some frames
 * are wide and most are narrow, as in real profiles. For the browser test and bench/flamegraph.sh.
 *
 * Usage: flame_fixture OUT.html [STACKS]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "flame.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* 0..n-1, small values far likelier: the minimum of three draws, squared in effect. */
static uint32_t skewed(uint32_t n)
{
	uint64_t a = next() % n, b = next() % n, c = next() % n;
	uint64_t m = a < b ? a : b;

	return (uint32_t)(m < c ? m : c);
}

static int name_frame(void *ctx, uint32_t pid, uint64_t addr, bool kernel, struct strbuf *out)
{
	(void)ctx;
	(void)pid;
	return strbuf__appendf(out, "%s_%u_%u", kernel ? "kfn" : "fn", (uint32_t)(addr >> 32),
			       (uint32_t)addr);
}

int main(int argc, char **argv)
{
	unsigned long want = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
	struct agg_opts ao = {.max_entries = want + 16, .max_bytes = 1u << 30};
	struct flame_opts fo = {.kind = "cpu",
				.unit = "samples",
				.value = FOLDED_COUNT,
				.time_nanos = 1767225600ll * 1000000000ll,
				.duration_nanos = 600ll * 1000000000ll,
				.frame_name = name_frame};
	struct strbuf sb = STRBUF_INIT;
	struct agg_stats st;
	struct flame_stats fs;
	struct stack {
		uint64_t u[40];
		uint32_t n;
	} * prev;
	size_t n_prev = 0;
	struct agg *a;
	FILE *out;

	if (argc < 2 || !want) {
		fprintf(stderr, "usage: flame_fixture OUT.html [STACKS]\n");
		return 2;
	}
	a = agg__new(&ao);
	if (!a)
		return 1;
	prev = calloc(want, sizeof(*prev));
	if (!prev)
		return 1;
	do {
		uint64_t *u = prev[n_prev % want].u, k[8];
		uint32_t depth, nk = (uint32_t)(next() % 5);
		uint32_t proc = (uint32_t)(next() % 4), thread = (uint32_t)(next() % 4);
		char comm[16], tname[16];
		struct agg_sample s = {0};

		/*
		 * Root first: most stacks share a prefix with an earlier one and
		 * differ in their last few frames, as real call trees do.
		 */
		depth = 0;
		if (n_prev) {
			const struct stack *from = &prev[next() % (n_prev < want ? n_prev : want)];

			depth = from->n ? (uint32_t)(next() % from->n) : 0;
			for (uint32_t l = 0; l < depth; l++)
				u[l] = from->u[l];
		}
		for (uint32_t extra = 1 + (uint32_t)(next() % 4); extra-- && depth < 40; depth++)
			u[depth] = (uint64_t)depth << 32 | skewed(depth < 3 ? 4 : 16);
		prev[n_prev % want].n = depth;
		for (uint32_t l = 0; l < nk; l++)
			k[nk - 1 - l] = (uint64_t)l << 32 | skewed(6);
		/* Leaf first, as BPF reports them. */
		for (uint32_t l = 0; l < depth / 2; l++) {
			uint64_t t = u[l];

			u[l] = u[depth - 1 - l];
			u[depth - 1 - l] = t;
		}
		snprintf(comm, sizeof(comm), "app%u", proc);
		snprintf(tname, sizeof(tname), "worker%u", thread);
		s.pid = 1000 + proc;
		s.tid = 1000 + proc * 10 + thread;
		s.comm = comm;
		s.thread_name = tname;
		s.ustack = u;
		s.n_ustack = depth;
		s.kstack = k;
		s.n_kstack = nk;
		s.count = 1 + next() % 10;
		s.value = s.count;
		if (agg__add(a, &s))
			break;
		/* Kept root first for later stacks to share. */
		for (uint32_t l = 0; l < depth / 2; l++) {
			uint64_t t = u[l];

			u[l] = u[depth - 1 - l];
			u[depth - 1 - l] = t;
		}
		n_prev++;
		agg__stats(a, &st);
	} while (st.entries < want);
	if (flame__write(a, NULL, NULL, &fo, &sb, &fs)) {
		fprintf(stderr, "flame_fixture: out of memory\n");
		return 1;
	}
	out = fopen(argv[1], "w");
	if (!out || fwrite(sb.buf, 1, sb.len, out) != sb.len || fclose(out)) {
		perror(argv[1]);
		return 1;
	}
	printf("%" PRIu64 " distinct stacks, %" PRIu64 " frames, %zu bytes\n", st.entries, fs.nodes,
	       sb.len);
	strbuf__release(&sb);
	agg__free(a);
	free(prev);
	return 0;
}
