// SPDX-License-Identifier: GPL-2.0
/*
 * CPU-list parsing, then the real BPF load, attach and counters. Labelled
 * privileged: without CAP_BPF/CAP_PERFMON or BTF it exits 77 with the reason.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "loader.h"
#include "testutil.h"

static void test_cpulist(void)
{
	bool cpus[16];

	CHECK(loader__parse_cpulist("0-3,8,10-11\n", cpus, 16) == 7);
	CHECK(cpus[0] && cpus[3] && !cpus[4] && cpus[8] && !cpus[9] && cpus[11]);
	CHECK(loader__parse_cpulist("0", cpus, 16) == 1);
	CHECK(loader__parse_cpulist("0,0,0-1", cpus, 16) == 2);
	CHECK(loader__parse_cpulist("", cpus, 16) == 0);
	CHECK(loader__parse_cpulist("3-1", cpus, 16) == -EINVAL);
	CHECK(loader__parse_cpulist("0-16", cpus, 16) == -EINVAL);
	CHECK(loader__parse_cpulist("a", cpus, 16) == -EINVAL);
	CHECK(loader__parse_cpulist("1;2", cpus, 16) == -EINVAL);
}

static volatile unsigned long spin_sink;

static int test_load_and_sample(void)
{
	struct loader_opts opts = {.event = SONDE_EVENT_CPU_CLOCK, .frequency = 999};
	uint64_t counters[SONDE_CNT__MAX];
	struct collector *coll = NULL;
	struct collector_session *ses;
	struct collector_stats cs;
	struct agg_stats as;
	struct loader *ld = NULL;
	char err[256] = "";
	uint64_t start;
	struct agg *agg;

	if (loader__check_environment(err, sizeof(err))) {
		printf("SKIP: test_loader: BPF is unavailable here: %s\n", err);
		return 77;
	}
	CHECK(loader__new(&opts, &ld, err, sizeof(err)) == 0);
	if (!ld) {
		fprintf(stderr, "loader__new: %s\n", err);
		return 0;
	}
	CHECK(loader__ringbuf_fd(ld) >= 0);
	CHECK(loader__n_cpus(ld) == (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
	CHECK_EQ_U64(loader__period_ns(ld), 1000000000ull / 999);
	CHECK(loader__ringbuf_bytes(ld) >= (4u << 20));
	CHECK(collector__new(loader__ringbuf_fd(ld), &coll) == 0);
	CHECK(collector__fd(coll) >= 0);

	start = collector__now_ns();
	CHECK(collector__session_open(coll, start, start + 10000000000ull, (uint32_t)getpid(),
				      COLLECTOR_ONCPU, NULL, &ses) == 0);
	/* Spin for 300 ms: about 300 samples of this process at 999 Hz. */
	while (collector__now_ns() - start < 300000000ull)
		spin_sink++;
	CHECK(collector__drain(coll) > 0);
	agg = collector__session_close(coll, ses);
	agg__stats(agg, &as);
	printf("test_loader: %llu samples of this process in 300 ms at 999 Hz\n",
	       (unsigned long long)as.samples);
	CHECK(as.samples >= 200 && as.samples <= 330);
	CHECK(as.stacks >= 1);
	agg__free(agg);

	CHECK(loader__read_counters(ld, counters) == 0);
	CHECK(counters[SONDE_CNT_SAMPLES] >= as.samples);
	CHECK_EQ_U64(counters[SONDE_CNT_RB_DROPS], 0);
	collector__stats(coll, &cs);
	CHECK(cs.events >= as.samples);
	CHECK_EQ_U64(cs.malformed, 0);
	collector__free(coll);
	loader__free(ld);

	opts.event = SONDE_EVENT_CYCLES;
	ld = NULL;
	if (loader__new(&opts, &ld, err, sizeof(err)) == 0) {
		printf("test_loader: this machine has a PMU; cycles loaded\n");
		loader__free(ld);
	} else {
		/* No PMU here: the failure must say so in one line. */
		CHECK(strstr(err, "cycles") != NULL);
		CHECK(strchr(err, '\n') == NULL);
	}
	loader__free(NULL);
	return 0;
}

struct offcpu_tally {
	uint64_t value, count, entries, with_user, with_kernel, not_s;
};

static int offcpu_tally_fn(const struct agg_sample *e, void *ctx)
{
	struct offcpu_tally *t = ctx;

	t->value += e->value;
	t->count += e->count;
	t->entries++;
	t->with_user += e->n_ustack > 0;
	t->with_kernel += e->n_kstack > 0;
	t->not_s += e->tag != 'S';
	return 0;
}

/*
 * Loads the off-CPU programs with the given hook and sleeps 20 x 5 ms: the
 * profile of this process must hold about 100 ms of S waits with both stacks.
 */
static void test_offcpu(enum offcpu_hook hook, bool no_task_work, const char *want_mode)
{
	struct loader_opts opts = {
		.event = SONDE_EVENT_CPU_CLOCK,
		.frequency = 99,
		.offcpu = true,
		.offcpu_min_ns = 1000000,
		.offcpu_hook = hook,
		.offcpu_no_task_work = no_task_work,
	};
	const struct timespec nap = {.tv_nsec = 5000000};
	uint64_t off[SONDE_OFF__MAX], start;
	struct offcpu_tally t = {0};
	struct collector *coll = NULL;
	struct collector_session *ses;
	struct loader *ld = NULL;
	char err[256] = "";
	struct agg *agg;

	CHECK(loader__new(&opts, &ld, err, sizeof(err)) == 0);
	if (!ld) {
		fprintf(stderr, "loader__new (off-CPU, %s): %s\n", config__offcpu_hook_name(hook),
			err);
		return;
	}
	printf("test_loader: off-CPU %s\n", loader__offcpu_mode(ld));
	CHECK(strstr(loader__offcpu_mode(ld), want_mode) != NULL);
	CHECK(loader__offcpu_ringbuf_fd(ld) >= 0);
	CHECK(collector__new(loader__ringbuf_fd(ld), &coll) == 0);
	CHECK(collector__add_ringbuf(coll, loader__offcpu_ringbuf_fd(ld)) == 0);

	start = collector__now_ns();
	CHECK(collector__session_open(coll, start, start + 10000000000ull, (uint32_t)getpid(),
				      COLLECTOR_OFFCPU, NULL, &ses) == 0);
	for (int i = 0; i < 20; i++)
		nanosleep(&nap, NULL);
	collector__drain(coll);
	agg = collector__session_close(coll, ses);
	agg__for_each(agg, offcpu_tally_fn, &t);
	agg__free(agg);
	printf("test_loader: %llu ms off CPU in %llu waits, %llu entries\n",
	       (unsigned long long)(t.value / 1000000), (unsigned long long)t.count,
	       (unsigned long long)t.entries);
	/* 20 sleeps of 5 ms, each a little longer than asked. */
	CHECK(t.value >= 100000000ull && t.value <= 115000000ull);
	CHECK(t.count >= 20 && t.count <= 22);
	CHECK(t.with_user == t.entries);
	CHECK(t.with_kernel == t.entries);
	CHECK_EQ_U64(t.not_s, 0);

	CHECK(loader__read_offcpu_counters(ld, off) == 0);
	CHECK(off[SONDE_OFF_EMITTED] >= 20);
	CHECK(off[SONDE_OFF_BLOCKED] >= 20);
	collector__free(coll);
	loader__free(ld);
}

int main(void)
{
	test_cpulist();
	if (test_load_and_sample() == 77)
		return 77;
	test_offcpu(OFFCPU_HOOK_AUTO, false, "hook tp_btf, storage task");
	test_offcpu(OFFCPU_HOOK_TP_BTF, true, "hook tp_btf, storage task, completion sys_exit");
	test_offcpu(OFFCPU_HOOK_RAW_TP, false, "hook raw_tp, storage hash, completion sys_exit");
	return test__finish("test_loader");
}
