// SPDX-License-Identifier: GPL-2.0
/*
 * The cost of a history query, measured without the machine's load: fills a
 * history with a churn-like synthetic load and builds the `last=5m` CPU
 * profile the way the daemon does (history__query, then profile__build).
 *
 * The load is made of real processes, so that the symbolizer reads real maps
 * and ELF files: the bench runs copies of itself (re-executed, so each has
 * its own address-space layout, hence its own mappings as under churn), each
 * of which reports the addresses of some of its functions (sonde_core's,
 * with DWARF, and libc's) and waits. Every window gets `procs` new processes
 * that exit once their window is over, whose maps the symbolizer keeps, and
 * one steady process present in every window; each process gets `stacks`
 * stacks of kernel frames (from /proc/kallsyms) and user frames, drawn from a
 * fixed seed, so two runs build the same profile.
 *
 * The timed part is run_query(): under callgrind, count only it with
 *   valgrind --tool=callgrind --toggle-collect=run_query build/bench/histbench
 * A query of the same history is repeated `queries` times, a new window
 * being added before each but the first (as the daemon's windows rotate
 * between scrapes); the first is cold (empty caches), the others warm.
 * With --warm, each window's frames are named when it ends (profile__warm),
 * which the daemon does not do (it cost short-lived processes their names).
 *
 * Usage: histbench [--windows N] [--procs N] [--stacks N] [--queries N] [--warm]
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agg.h"
#include "history.h"
#include "pprof.h"
#include "profile.h"
#include "symbolizer.h"

#define WINDOW_NS     (10ull * 1000000000ull)
#define N_FUNCS	      16
#define N_OFFSETS     4
#define N_ADDRS	      (N_FUNCS * N_OFFSETS)
#define N_KADDRS      256
#define MAX_USER      16
#define MAX_KERNEL    8
#define STEADY_FACTOR 8 /* the steady process has this many times more stacks */

struct child {
	pid_t pid;
	uint64_t start_ns;
	uint64_t addrs[N_ADDRS];
	char comm[AGG_NAME_LEN];
};

struct bench {
	const char *self;
	unsigned windows, procs, stacks, queries;
	bool warm; /* name each window's frames when it ends (profile__warm) */
	uint64_t kaddrs[N_KADDRS];
	size_t n_kaddrs;
	struct symbolizer *sym;
	struct history *hist;
	uint64_t now_ns; /* end of the newest window */
	unsigned next_proc;
	struct child steady;
};

/* Functions of several sizes and files, with and without DWARF. */
static void *const funcs[N_FUNCS] = {
	(void *)agg__add,
	(void *)agg__for_each,
	(void *)agg__new,
	(void *)history__add,
	(void *)history__query,
	(void *)pprof_builder__sample_refs,
	(void *)pprof_builder__string,
	(void *)pprof_builder__encode,
	(void *)pprof_builder__mapping,
	(void *)profile__build,
	(void *)symbolizer__user_of,
	(void *)maps__parse_line,
	(void *)qsort,
	(void *)strtoull,
	(void *)fopen,
	(void *)snprintf,
};

/* In a child: reports the pool of addresses on stdout, then waits to be killed. */
static int child_main(void)
{
	uint64_t addrs[N_ADDRS];

	for (size_t i = 0; i < N_FUNCS; i++)
		for (size_t j = 0; j < N_OFFSETS; j++)
			addrs[i * N_OFFSETS + j] = (uint64_t)(uintptr_t)funcs[i] + 4 + 24 * j;
	if (write(STDOUT_FILENO, addrs, sizeof(addrs)) != (ssize_t)sizeof(addrs))
		return 1;
	close(STDOUT_FILENO);
	for (;;)
		pause();
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Boot-time ns at which pid started, from /proc/PID/stat; 0 when unknown. */
static uint64_t start_ns_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	/* After the name: state is field 3, starttime field 22. */
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu",
			 &ticks) != 1)
		return 0;
	return ticks * (1000000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static int child_start(struct bench *b, struct child *c, unsigned n)
{
	int fds[2];
	ssize_t got = 0, r;

	if (pipe(fds))
		return -errno;
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl(b->self, b->self, "--child", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (got < (ssize_t)sizeof(c->addrs)) {
		r = read(fds[0], (char *)c->addrs + got, sizeof(c->addrs) - (size_t)got);
		if (r <= 0)
			break;
		got += r;
	}
	close(fds[0]);
	if (got != (ssize_t)sizeof(c->addrs)) {
		fprintf(stderr, "histbench: child %d reported no addresses\n", (int)c->pid);
		return -EIO;
	}
	c->start_ns = start_ns_of(c->pid);
	snprintf(c->comm, sizeof(c->comm), "churn%u", n % 500);
	/* As the daemon does at a new process's first sample. */
	(void)symbolizer__prefetch(b->sym, (uint32_t)c->pid, c->start_ns);
	return 0;
}

static void child_stop(struct child *c)
{
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
}

static int load_kaddrs(struct bench *b)
{
	char line[512], name[256], type;
	unsigned long long addr;
	size_t seen = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return -errno;
	/* Every 97th core-kernel text symbol, 8 bytes in. */
	while (b->n_kaddrs < N_KADDRS && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 || !addr)
			continue;
		if ((type != 'T' && type != 't') || strchr(line, '['))
			continue;
		if (seen++ % 97 == 0)
			b->kaddrs[b->n_kaddrs++] = addr + 8;
	}
	fclose(f);
	return b->n_kaddrs ? 0 : -ENOENT;
}

static int add_stacks(struct bench *b, struct agg *agg, const struct child *c, unsigned n_stacks,
		      uint64_t seed)
{
	uint64_t kstack[MAX_KERNEL], ustack[MAX_USER];

	for (unsigned i = 0; i < n_stacks; i++) {
		uint64_t s = seed * 0x9e3779b97f4a7c15ull + i + 1;
		struct agg_sample smp = {
			.pid = (uint32_t)c->pid,
			.tid = (uint32_t)c->pid,
			.start_ns = c->start_ns,
			.comm = c->comm,
			.thread_name = c->comm,
			.kstack = kstack,
			.ustack = ustack,
		};

		rng_next(&s);
		smp.n_kstack = (uint32_t)(rng_next(&s) % (MAX_KERNEL + 1));
		smp.n_ustack = 4 + (uint32_t)(rng_next(&s) % (MAX_USER - 3));
		for (uint32_t k = 0; k < smp.n_kstack; k++)
			kstack[k] = b->kaddrs[rng_next(&s) % b->n_kaddrs];
		for (uint32_t u = 0; u < smp.n_ustack; u++)
			ustack[u] = c->addrs[rng_next(&s) % N_ADDRS];
		smp.count = 1 + rng_next(&s) % 20;
		smp.value = smp.count * 10101010;
		if (agg__add(agg, &smp))
			return -ENOSPC;
	}
	return 0;
}

/* One more window: its processes start, are sampled, and exit. */
static int add_window(struct bench *b, unsigned w)
{
	struct agg *tables[HISTORY_KINDS] = {0};
	struct child *kids = calloc(b->procs, sizeof(*kids));
	unsigned started = 0;
	int err = 0;

	if (!kids)
		return -ENOMEM;
	tables[1] = agg__new(NULL);
	if (!tables[1]) {
		err = -ENOMEM;
		goto out_free_kids;
	}
	for (; started < b->procs && !err; started++) {
		err = child_start(b, &kids[started], b->next_proc++);
		if (!err)
			err = add_stacks(b, tables[1], &kids[started], b->stacks,
					 b->next_proc * 7919ull);
	}
	if (!err)
		err = add_stacks(b, tables[1], &b->steady, b->stacks * STEADY_FACTOR, w % 3 + 1);
	for (unsigned i = 0; i < started; i++)
		child_stop(&kids[i]);
	if (!err && b->warm)
		err = profile__warm(tables[1], b->sym);
	if (!err)
		err = history__add(b->hist, b->now_ns, b->now_ns + WINDOW_NS,
				   1800000000000000000ll + (int64_t)b->now_ns, tables);
	else
		agg__free(tables[1]);
	b->now_ns += WINDOW_NS;
out_free_kids:
	free(kids);
	return err;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The daemon's `last=5m`: merge the windows of the last 5 minutes, build the CPU profile. */
__attribute__((noinline)) static int run_query(struct bench *b, struct strbuf *out,
					       struct profile_stats *ps)
{
	struct agg_opts ao = {0};
	struct history_range covered;
	struct profile_meta meta = {
		.kind = PROFILE_CPU,
		.period = 10101010,
	};
	struct agg *agg = NULL;
	int err;

	err = history__query(b->hist, b->now_ns - 300ull * 1000000000ull, b->now_ns, 1u << 1, NULL,
			     NULL, &ao, &agg, &covered);
	if (err)
		return err;
	meta.time_nanos = covered.start_unix_ns;
	meta.duration_nanos = (int64_t)(covered.end_ns - covered.start_ns);
	err = profile__build(agg, b->sym, &meta, out, ps);
	agg__free(agg);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"windows", required_argument, NULL, 'w'},
		{"procs", required_argument, NULL, 'p'},
		{"stacks", required_argument, NULL, 's'},
		{"queries", required_argument, NULL, 'q'},
		{"child", no_argument, NULL, 'c'},
		{"warm", no_argument, NULL, 'n'},
		{0},
	};
	struct bench b = {.windows = 30, .procs = 40, .stacks = 6, .queries = 4};
	struct symbolizer_stats ss;
	char self[PATH_MAX];
	int opt, err = 0;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			return child_main();
		case 'w':
			b.windows = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			b.procs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			b.stacks = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'q':
			b.queries = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			b.warm = true;
			break;
		default:
			fprintf(stderr,
				"usage: %s [--windows N] [--procs N] [--stacks N] "
				"[--queries N] [--warm]\n",
				argv[0]);
			return 2;
		}
	}
	if (!b.windows || !b.queries || !realpath(argv[0], self)) {
		fprintf(stderr, "histbench: bad arguments\n");
		return 2;
	}
	b.self = self;
	b.now_ns = 1000 * WINDOW_NS;
	b.sym = symbolizer__new(NULL);
	b.hist = history__new(NULL);
	if (!b.sym || !b.hist || load_kaddrs(&b) || child_start(&b, &b.steady, 0)) {
		fprintf(stderr, "histbench: set-up failed (root is needed for kernel addresses)\n");
		return 1;
	}
	for (unsigned w = 0; w < b.windows && !err; w++)
		err = add_window(&b, w);
	printf("history: %u windows of %u new processes x %u stacks, + 1 steady process x %u\n",
	       b.windows, b.procs, b.stacks, b.stacks * STEADY_FACTOR);
	for (unsigned q = 0; q < b.queries && !err; q++) {
		struct profile_stats ps = {0};
		struct strbuf out = {0};
		double t0;

		if (q)
			err = add_window(&b, b.windows + q);
		if (err)
			break;
		t0 = now_ms();
		err = run_query(&b, &out, &ps);
		printf("query %u (%s): %.1f ms, %llu samples, %llu frames looked up, %zu bytes\n",
		       q, q ? "warm" : "cold", now_ms() - t0, (unsigned long long)ps.samples,
		       (unsigned long long)ps.frames, out.len);
		strbuf__release(&out);
	}
	symbolizer__stats(b.sym, &ss);
	printf("symbolizer: %llu user look-ups, %llu exited hits, %llu processes cached\n",
	       (unsigned long long)ss.user_lookups, (unsigned long long)ss.exited_hits,
	       (unsigned long long)ss.proc_cached);
	child_stop(&b.steady);
	history__free(b.hist);
	symbolizer__free(b.sym);
	if (err)
		fprintf(stderr, "histbench: %s\n", strerror(-err));
	return err ? 1 : 0;
}
