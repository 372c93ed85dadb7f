// SPDX-License-Identifier: GPL-2.0
/*
 * A workload with known ground truth for the off-CPU and wall-clock tests.
 *
 * Its threads block through ordinary libc calls at known sites and time every
 * such call themselves with CLOCK_MONOTONIC, so the test can compare what the
 * profiler attributes to a site with what the site measured:
 *
 *   thread    call chain                                         blocks in
 *   sleeper   sleeper_loop -> sleep_site                         nanosleep, 5 ms
 *   reader    reader_loop  -> pipe_site                          read of 1 byte from a pipe
 *   writer    writer_loop  -> writer_site                        nanosleep, 7 ms (then writes
 *                                                                1 byte to the pipe)
 *   walker    walker_loop  -> burn_step -> walk_burn             nothing: spins 30 ms
 *                          -> nap_step  -> walk_nap              nanosleep, 20 ms
 *
 * Every site has a caller of its own, which does nothing else that blocks
 * (burn_step and nap_step exist for that). Debian's libc is built without frame
 * pointers, so a frame-pointer unwind that starts in a libc system-call wrapper
 * skips the wrapper's caller (the site) and resumes at the site's caller; a
 * test can always fall back to that caller.
 *
 * Usage: offcpu_hog [--seconds S] [--delay-ms N] [--wait-usr1]
 * Prints "pid PID" and "ready" at once, then waits N ms (default 0) and, with
 * --wait-usr1, until it receives SIGUSR1 (sent before or after "ready"). Only
 * then does it start the threads, which run for S seconds (default 4). When
 * they are done it prints one line per site, "site NAME BLOCKED_NS CALLS" (the
 * wall time spent in the timed call, summed over CALLS calls), and "done".
 * With --wait-usr1 it then waits for a second SIGUSR1 before it exits: the
 * profiler names a process's frames from its /proc/PID/maps when the profile
 * is built, at the end of the window, so the process must still be there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { SLEEP_SITE, PIPE_SITE, WRITER_SITE, WALK_BURN, WALK_NAP, N_SITES };

static const char *const site_name[N_SITES] = {"sleep_site", "pipe_site", "writer_site",
					       "walk_burn", "walk_nap"};
/*
 * Wall time inside each site's timed call, summed, and the number of calls. Each site is
 * written by one thread only and read by main after joining that thread.
 */
static uint64_t site_ns[N_SITES], site_calls[N_SITES];

static uint64_t deadline_ns;
static int pipe_fd[2];
static volatile uint64_t spin_counter;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void account(int site, uint64_t t0, uint64_t t1)
{
	site_ns[site] += t1 - t0;
	site_calls[site]++;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* --- sleeper --- */

__attribute__((noinline)) void sleep_site(void)
{
	struct timespec ts = {0, 5000000};
	uint64_t t0 = now_ns();

	nanosleep(&ts, NULL);
	account(SLEEP_SITE, t0, now_ns());
}

__attribute__((noinline)) void sleeper_loop(void)
{
	while (now_ns() < deadline_ns)
		sleep_site();
}

static void *sleeper_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "sleeper");
	sleeper_loop();
	return NULL;
}

/* --- reader and writer: one byte through a pipe every ~7 ms --- */

/* Returns what read() returned: 1 per byte, 0 once the writer has closed the pipe. */
__attribute__((noinline)) long pipe_site(void)
{
	char c;
	uint64_t t0 = now_ns();
	long n = read(pipe_fd[0], &c, 1);

	account(PIPE_SITE, t0, now_ns());
	return n;
}

__attribute__((noinline)) void reader_loop(void)
{
	while (pipe_site() > 0)
		;
}

static void *reader_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "reader");
	reader_loop();
	return NULL;
}

__attribute__((noinline)) void writer_site(void)
{
	struct timespec ts = {0, 7000000};
	uint64_t t0 = now_ns();

	nanosleep(&ts, NULL);
	account(WRITER_SITE, t0, now_ns());
}

__attribute__((noinline)) void writer_loop(void)
{
	while (now_ns() < deadline_ns) {
		writer_site();
		if (write(pipe_fd[1], "x", 1) != 1)
			abort();
	}
	/* The reader's last read() returns 0 and it stops. */
	close(pipe_fd[1]);
}

static void *writer_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "writer");
	writer_loop();
	return NULL;
}

/* --- walker: 30 ms on CPU, 20 ms asleep, for the wall-clock profile --- */

/*
 * Pure CPU: increments a volatile counter and looks at the clock only every
 * 32768 increments, so that nearly every on-CPU sample lands in this function
 * rather than in the vDSO's clock_gettime.
 */
__attribute__((noinline)) void walk_burn(void)
{
	uint64_t t0 = now_ns(), t1;

	do {
		for (int i = 0; i < 32768; i++)
			spin_counter++;
		t1 = now_ns();
	} while (t1 - t0 < 30000000);
	account(WALK_BURN, t0, t1);
}

__attribute__((noinline)) void walk_nap(void)
{
	struct timespec ts = {0, 20000000};
	uint64_t t0 = now_ns();

	nanosleep(&ts, NULL);
	account(WALK_NAP, t0, now_ns());
}

__attribute__((noinline)) void burn_step(void)
{
	walk_burn();
}

__attribute__((noinline)) void nap_step(void)
{
	walk_nap();
}

__attribute__((noinline)) void walker_loop(void)
{
	while (now_ns() < deadline_ns) {
		burn_step();
		nap_step();
	}
}

static void *walker_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "walker");
	walker_loop();
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: offcpu_hog [--seconds S] [--delay-ms N] [--wait-usr1]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	void *(*const fns[])(void *) = {sleeper_thread, reader_thread, writer_thread,
					walker_thread};
	pthread_t threads[sizeof(fns) / sizeof(fns[0])];
	double seconds = 4;
	long delay_ms = 0;
	int wait_usr1 = 0, sig;
	sigset_t usr1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
			delay_ms = atol(argv[++i]);
		else if (strcmp(argv[i], "--wait-usr1") == 0)
			wait_usr1 = 1;
		else
			usage();
	}
	if (seconds <= 0 || delay_ms < 0)
		usage();
	/* Blocked before "ready", so a SIGUSR1 sent at any time after it is kept pending. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &usr1, NULL) || pipe(pipe_fd))
		abort();
	printf("pid %d\nready\n", getpid());
	fflush(stdout);

	sleep_ms(delay_ms);
	if (wait_usr1 && sigwait(&usr1, &sig))
		abort();
	deadline_ns = now_ns() + (uint64_t)(seconds * 1e9);
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (pthread_create(&threads[i], NULL, fns[i], NULL))
			abort();
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		pthread_join(threads[i], NULL);

	for (int i = 0; i < N_SITES; i++)
		printf("site %s %llu %llu\n", site_name[i], (unsigned long long)site_ns[i],
		       (unsigned long long)site_calls[i]);
	printf("done\n");
	fflush(stdout);
	if (wait_usr1 && sigwait(&usr1, &sig))
		abort();
	return 0;
}
