// SPDX-License-Identifier: GPL-2.0
/*
 * A workload with known ground truth for the on-CPU tests and bench/.
 *
 * Thread "hot" spends its time in hot_alpha, hot_beta and hot_gamma in the
 * ratio 5:3:2 (equal work per unit, so the split of CPU time is that ratio),
 * in a shuffled order so that periodic sampling cannot alias with it.
 * Thread "sys" (unless --no-sys) reads /dev/zero in sys_read_zero, so that
 * most of its time is spent in the kernel beneath that function.
 *
 * Usage: cpu_hog [--seconds N] [--no-sys]. Prints its pid on start and its
 * CPU seconds (user+sys) and how much work it did on exit.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t sink;
static uint64_t hot_rounds, sys_reads; /* each written by one thread only */
static double deadline;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Every measured function ends by calling this, so none is a leaf: GCC sets up
 * no frame pointer in leaf functions, and the ground truth must not depend on
 * unwinding code without one (that is a separate capability).
 */
__attribute__((noinline)) void publish(uint64_t x)
{
	sink = x;
}

/*
 * One unit of work: a fixed number of dependent multiply-adds. A macro rather
 * than an inline function: the DWARF of inlined code names the inlined
 * function, and profiles that report inlined calls (pprof Lines) would then
 * put the time in it rather than in hot_*.
 */
#define WORK_UNIT(x)                                                                               \
	do {                                                                                       \
		for (int i_ = 0; i_ < 200000; i_++)                                                \
			(x) = (x)*6364136223846793005ull + 1442695040888963407ull;                 \
	} while (0)

__attribute__((noinline)) void hot_alpha(int units)
{
	uint64_t x = sink;

	for (int u = 0; u < units; u++)
		WORK_UNIT(x);
	publish(x);
}

__attribute__((noinline)) void hot_beta(int units)
{
	uint64_t x = sink;

	for (int u = 0; u < units; u++)
		WORK_UNIT(x);
	publish(x);
}

__attribute__((noinline)) void hot_gamma(int units)
{
	uint64_t x = sink;

	for (int u = 0; u < units; u++)
		WORK_UNIT(x);
	publish(x);
}

/*
 * The system call is issued right here rather than through libc's read(),
 * which has no frame pointer: the interrupted user IP is then in this
 * function, and frame-pointer unwinding names it and its caller.
 */
__attribute__((noinline)) void sys_read_zero(int fd, char *buf, size_t len)
{
	long ret;

#if defined(__x86_64__)
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_read), "D"((long)fd), "S"(buf), "d"(len)
			 : "rcx", "r11", "memory");
#else
	ret = syscall(SYS_read, fd, buf, len);
#endif
	if (ret < 0)
		abort();
	publish((uint64_t)ret);
}

/*
 * Each round runs 5 units in hot_alpha, 3 in hot_beta and 2 in hot_gamma, one
 * unit per call, in an order shuffled afresh every round. A fixed order would
 * make the round a periodic signal that the periodic sampler can alias with
 * (a round is a few milliseconds, close to a small fraction of 10.1 ms), and
 * the measured split would then depend on the phase rather than on the work.
 */
static void *hot_thread(void *arg)
{
	static void (*const plan[10])(int) = {hot_alpha, hot_alpha, hot_alpha, hot_alpha,
					      hot_alpha, hot_beta,  hot_beta,  hot_beta,
					      hot_gamma, hot_gamma};
	void (*order[10])(int);
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();

	(void)arg;
	prctl(PR_SET_NAME, "hot");
	memcpy(order, plan, sizeof(order));
	while (now() < deadline) {
		for (int i = 9; i > 0; i--) {
			void (*tmp)(int);
			int j;

			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			j = (int)(rng % (uint64_t)(i + 1));
			tmp = order[i];
			order[i] = order[j];
			order[j] = tmp;
		}
		for (int i = 0; i < 10; i++)
			order[i](1);
		hot_rounds++;
	}
	return NULL;
}

static void *sys_thread(void *arg)
{
	size_t len = 256 * 1024;
	char *buf = malloc(len);
	int fd = open("/dev/zero", O_RDONLY);

	(void)arg;
	prctl(PR_SET_NAME, "sys");
	if (!buf || fd < 0)
		abort();
	while (now() < deadline) {
		sys_read_zero(fd, buf, len);
		sys_reads++;
	}
	close(fd);
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	double seconds = 10;
	int with_sys = 1;
	pthread_t hot, sys;
	struct rusage ru;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--no-sys") == 0)
			with_sys = 0;
		else {
			fprintf(stderr, "usage: cpu_hog [--seconds N] [--no-sys]\n");
			return 2;
		}
	}
	printf("pid %d\n", getpid());
	fflush(stdout);
	deadline = now() + seconds;
	pthread_create(&hot, NULL, hot_thread, NULL);
	if (with_sys)
		pthread_create(&sys, NULL, sys_thread, NULL);
	pthread_join(hot, NULL);
	if (with_sys)
		pthread_join(sys, NULL);
	getrusage(RUSAGE_SELF, &ru);
	printf("hot_rounds %llu\nsys_reads %llu\n", (unsigned long long)hot_rounds,
	       (unsigned long long)sys_reads);
	printf("cpu_seconds %.3f\n", (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
					     (double)ru.ru_stime.tv_sec +
					     ru.ru_stime.tv_usec / 1e6);
	return 0;
}
