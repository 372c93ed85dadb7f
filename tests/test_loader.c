// SPDX-License-Identifier: GPL-2.0
/*
 * CPU-list parsing, then the real BPF load, attach and counters. Labelled
 * privileged: without CAP_BPF/CAP_PERFMON or BTF it exits 77 with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
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
	printf("test_loader: host-wide: %llu emitted, %llu slot busy, %llu stale, %llu dropped\n",
	       (unsigned long long)off[SONDE_OFF_EMITTED],
	       (unsigned long long)off[SONDE_OFF_SLOT_BUSY],
	       (unsigned long long)off[SONDE_OFF_STALE],
	       (unsigned long long)off[SONDE_OFF_RB_DROPS]);
	CHECK(off[SONDE_OFF_EMITTED] >= 20);
	CHECK(off[SONDE_OFF_BLOCKED] >= 20);
	collector__free(coll);
	loader__free(ld);
}

struct blockio_tally {
	uint64_t reads, read_bytes, read_ns, writes, write_bytes, write_ns, other_dev;
};

static int blockio_tally_fn(const struct agg_sample *e, void *ctx)
{
	struct blockio_tally *t = ctx;
	uint32_t op = (uint32_t)e->tag & SONDE_BIO_OP_MASK;

	/* Only requests of the sizes issued here: not a page fault's readahead. */
	if (op == SONDE_BIO_OP_READ && e->value2 == e->count * 4096) {
		t->reads += e->count;
		t->read_bytes += e->value2;
		t->read_ns += e->value;
	} else if (op == SONDE_BIO_OP_WRITE && e->value2 == e->count * 65536) {
		t->writes += e->count;
		t->write_bytes += e->value2;
		t->write_ns += e->value;
	} else {
		return 0;
	}
	t->other_dev += (uint32_t)(e->tag >> 32) != *(uint32_t *)((char *)ctx + sizeof(*t));
	return 0;
}

/*
 * A file on a real block device (not tmpfs), for O_DIRECT requests that
 * reach the disk: in the build tree, else /var/tmp. -1 when there is none.
 */
static int blockio_file(char *path, size_t len, uint32_t *devt)
{
	const char *dirs[] = {".", "/var/tmp"};
	struct statfs sf;
	struct stat st;
	int fd;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (statfs(dirs[i], &sf) || sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC ||
		    stat(dirs[i], &st) || major(st.st_dev) == 0)
			continue;
		snprintf(path, len, "%s/sonde-blockio.XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		/* The kernel's dev_t of the disk; a partition's would differ, so say which. */
		*devt = major(st.st_dev) << 20 | minor(st.st_dev);
		return fd;
	}
	return -1;
}

/* 16 O_DIRECT reads of 4 KiB in a session of their own: how many it counted. */
static uint64_t blockio_reads_in_session(struct collector *coll, int dfd, void *buf)
{
	struct {
		struct blockio_tally t;
		uint32_t devt;
	} tally = {0};
	struct collector_session *ses;
	uint64_t start = collector__now_ns();
	struct agg *agg;

	if (collector__session_open(coll, start, start + 10000000000ull, (uint32_t)getpid(),
				    COLLECTOR_BLOCKIO, NULL, &ses))
		return UINT64_MAX;
	for (int i = 0; i < 16; i++)
		CHECK(pread(dfd, buf, 4096, (off_t)(i % 8) * 65536 + 4096) == 4096);
	collector__drain(coll);
	agg = collector__session_close(coll, ses);
	agg__for_each(agg, blockio_tally_fn, &tally);
	agg__free(agg);
	return tally.t.reads;
}

/*
 * Loads the block-I/O programs with the given hook and issues 8 O_DIRECT
 * writes of 64 KiB and 16 reads of 4 KiB: the profile of this process must
 * hold them with their sizes, a positive latency and the file's disk.
 */
static void test_blockio(enum blockio_hook hook, const char *want_mode)
{
	struct loader_opts opts = {
		.event = SONDE_EVENT_CPU_CLOCK,
		.frequency = 99,
		.blockio = true,
		.blockio_hook = hook,
	};
	struct {
		struct blockio_tally t;
		uint32_t devt;
	} tally = {0};
	uint64_t bio[SONDE_BIO__MAX], start;
	struct collector *coll = NULL;
	struct collector_session *ses;
	struct loader *ld = NULL;
	char err[256] = "", path[64];
	void *buf = NULL;
	struct agg *agg;
	int fd, dfd;

	fd = blockio_file(path, sizeof(path), &tally.devt);
	if (fd < 0) {
		printf("test_loader: no directory on a block device here; block I/O not tested\n");
		return;
	}
	CHECK(posix_memalign(&buf, 4096, 65536) == 0);
	memset(buf, 0x5a, 65536);
	/* Blocks allocated and written first: the O_DIRECT writes below overwrite them. */
	for (int i = 0; i < 8; i++)
		CHECK(pwrite(fd, buf, 65536, (off_t)i * 65536) == 65536);
	CHECK(fsync(fd) == 0);
	dfd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	unlink(path);
	close(fd);
	CHECK(dfd >= 0);

	CHECK(loader__new(&opts, &ld, err, sizeof(err)) == 0);
	if (!ld) {
		fprintf(stderr, "loader__new (block I/O, %s): %s\n",
			config__blockio_hook_name(hook), err);
		goto out_close;
	}
	printf("test_loader: block I/O %s\n", loader__blockio_mode(ld));
	CHECK(strstr(loader__blockio_mode(ld), want_mode) != NULL);
	CHECK(loader__blockio_ringbuf_fd(ld) >= 0);
	CHECK(loader__offcpu_ringbuf_fd(ld) < 0);
	CHECK(collector__new(loader__ringbuf_fd(ld), &coll) == 0);
	CHECK(collector__add_ringbuf(coll, loader__blockio_ringbuf_fd(ld)) == 0);

	start = collector__now_ns();
	CHECK(collector__session_open(coll, start, start + 10000000000ull, (uint32_t)getpid(),
				      COLLECTOR_BLOCKIO, NULL, &ses) == 0);
	for (int i = 0; i < 8 && dfd >= 0; i++)
		CHECK(pwrite(dfd, buf, 65536, (off_t)i * 65536) == 65536);
	for (int i = 0; i < 16 && dfd >= 0; i++)
		CHECK(pread(dfd, buf, 4096, (off_t)(i % 8) * 65536 + 4096) == 4096);
	collector__drain(coll);
	agg = collector__session_close(coll, ses);
	agg__for_each(agg, blockio_tally_fn, &tally);
	agg__free(agg);
	printf("test_loader: %llu reads (%llu B, %llu us), %llu writes (%llu B, %llu us)\n",
	       (unsigned long long)tally.t.reads, (unsigned long long)tally.t.read_bytes,
	       (unsigned long long)tally.t.read_ns / 1000, (unsigned long long)tally.t.writes,
	       (unsigned long long)tally.t.write_bytes,
	       (unsigned long long)tally.t.write_ns / 1000);
	CHECK_EQ_U64(tally.t.reads, 16);
	CHECK_EQ_U64(tally.t.read_bytes, 16 * 4096);
	CHECK_EQ_U64(tally.t.writes, 8);
	CHECK_EQ_U64(tally.t.write_bytes, 8 * 65536);
	CHECK(tally.t.read_ns > 0 && tally.t.write_ns > 0);
	CHECK_EQ_U64(tally.t.other_dev, 0);

	CHECK(loader__read_blockio_counters(ld, bio) == 0);
	CHECK(bio[SONDE_BIO_STARTED] >= 24);
	CHECK(bio[SONDE_BIO_EMITTED] >= 24);
	CHECK_EQ_U64(bio[SONDE_BIO_RB_DROPS], 0);
	CHECK_EQ_U64(bio[SONDE_BIO_TABLE_FULL], 0);

	/* Paused by a reload, the hooks see nothing; resumed, they count again. */
	CHECK(loader__blockio_attached(ld));
	CHECK(loader__set_blockio(ld, false, err, sizeof(err)) == 0);
	CHECK(!loader__blockio_attached(ld));
	CHECK_EQ_U64(blockio_reads_in_session(coll, dfd, buf), 0);
	CHECK(loader__set_blockio(ld, true, err, sizeof(err)) == 0);
	CHECK(loader__set_blockio(ld, true, err, sizeof(err)) == 0); /* already attached */
	CHECK(loader__blockio_attached(ld));
	CHECK_EQ_U64(blockio_reads_in_session(coll, dfd, buf), 16);
	collector__free(coll);
	loader__free(ld);
out_close:
	if (dfd >= 0)
		close(dfd);
	free(buf);
}

static int blockio_reads_fn(const struct agg_sample *e, void *ctx)
{
	uint64_t *n = ctx;

	if (((uint32_t)e->tag & SONDE_BIO_OP_MASK) == SONDE_BIO_OP_READ &&
	    e->value2 == e->count * 4096)
		*n += e->count;
	return 0;
}

/*
 * Rate sampling: 2.5 s of O_DIRECT reads, far above 200 a second. After the
 * first second one request in k is kept and weighs k, so the profile's count
 * estimates the reads issued (one in k, k about 50 here: a few percent off).
 */
static void test_blockio_sampled(enum blockio_hook hook)
{
	struct loader_opts opts = {
		.event = SONDE_EVENT_CPU_CLOCK,
		.frequency = 99,
		.blockio = true,
		.blockio_hook = hook,
		.blockio_max_rate = 200,
	};
	uint64_t bio[SONDE_BIO__MAX], start, issued = 0, counted = 0;
	struct collector *coll = NULL;
	struct collector_session *ses;
	struct loader *ld = NULL;
	char err[256] = "", path[64];
	void *buf = NULL;
	uint32_t devt;
	struct agg *agg;
	int fd, dfd;

	fd = blockio_file(path, sizeof(path), &devt);
	if (fd < 0)
		return;
	CHECK(posix_memalign(&buf, 4096, 65536) == 0);
	memset(buf, 0x5a, 65536);
	for (int i = 0; i < 64; i++)
		CHECK(pwrite(fd, buf, 65536, (off_t)i * 65536) == 65536);
	CHECK(fsync(fd) == 0);
	dfd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	unlink(path);
	close(fd);
	CHECK(dfd >= 0);
	CHECK(loader__new(&opts, &ld, err, sizeof(err)) == 0);
	if (!ld || dfd < 0) {
		fprintf(stderr, "loader__new (block I/O sampled, %s): %s\n",
			config__blockio_hook_name(hook), err);
		goto out_close;
	}
	CHECK(collector__new(loader__blockio_ringbuf_fd(ld), &coll) == 0);
	start = collector__now_ns();
	CHECK(collector__session_open(coll, start, start + 10000000000ull, (uint32_t)getpid(),
				      COLLECTOR_BLOCKIO, NULL, &ses) == 0);
	while (collector__now_ns() - start < 2500000000ull) {
		if (pread(dfd, buf, 4096, (off_t)(issued % 1024) * 4096) != 4096) {
			CHECK(!"pread of 4 KiB");
			break;
		}
		issued++;
		if (issued % 1024 == 0)
			collector__drain(coll);
	}
	collector__drain(coll);
	agg = collector__session_close(coll, ses);
	agg__for_each(agg, blockio_reads_fn, &counted);
	agg__free(agg);
	CHECK(loader__read_blockio_counters(ld, bio) == 0);
	printf("test_loader: sampled (%s): %llu reads issued, %llu counted, %llu of %llu started "
	       "sampled out\n",
	       config__blockio_hook_name(hook), (unsigned long long)issued,
	       (unsigned long long)counted, (unsigned long long)bio[SONDE_BIO_SAMPLED_OUT],
	       (unsigned long long)bio[SONDE_BIO_STARTED]);
	/*
	 * Each CPU keeps its own rate: a reader that the scheduler moves between
	 * CPUs (on a busy host) starts a CPU's second unsampled, so how many are
	 * left out varies (18-62 % seen). That it samples at all is checked here;
	 * the estimate below is what must hold.
	 */
	CHECK(bio[SONDE_BIO_SAMPLED_OUT] > issued / 10);
	CHECK(counted >= issued * 85 / 100 && counted <= issued * 115 / 100);
	CHECK_EQ_U64(bio[SONDE_BIO_TABLE_FULL], 0);
	collector__free(coll);
	loader__free(ld);
out_close:
	if (dfd >= 0)
		close(dfd);
	free(buf);
}

int main(void)
{
	test_cpulist();
	if (test_load_and_sample() == 77)
		return 77;
	test_offcpu(OFFCPU_HOOK_AUTO, false, "hook tp_btf, storage task");
	test_offcpu(OFFCPU_HOOK_TP_BTF, true, "hook tp_btf, storage task, completion sys_exit");
	test_offcpu(OFFCPU_HOOK_RAW_TP, false, "hook raw_tp, storage hash, completion sys_exit");
	test_blockio(BLOCKIO_HOOK_AUTO, "hook tp_btf (block_io_start, block_rq_complete)");
	test_blockio(BLOCKIO_HOOK_RAW_TP, "hook raw_tp (block_rq_insert, block_rq_issue");
	test_blockio_sampled(BLOCKIO_HOOK_AUTO);
	test_blockio_sampled(BLOCKIO_HOOK_RAW_TP);
	return test__finish("test_loader");
}
