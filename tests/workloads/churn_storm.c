// SPDX-License-Identifier: GPL-2.0
/*
 * A process-churn storm: for --seconds S, keeps starting short-lived
 * processes as fast as it can, with up to --parallel P alive at once. Each
 * child spins briefly in churn_child_work() (so some of them are sampled)
 * and exits; one in --exec-every N instead execs /bin/true, so exec churn
 * is in the mix too. Prints "started N" and the rate when done.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void churn_child_work(void)
{
	volatile unsigned long x = 0;

	for (unsigned long i = 0; i < 20000; i++)
		x += i * i;
}

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--seconds S] [--parallel P] [--exec-every N]\n", prog);
	return 2;
}

int main(int argc, char **argv)
{
	double seconds = 5, t0, end;
	long parallel = 16, exec_every = 10, started = 0, alive = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--parallel") == 0)
			parallel = atol(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--exec-every") == 0)
			exec_every = atol(argv[++i]);
		else
			return usage(argv[0]);
	}
	if (seconds <= 0 || parallel < 1 || exec_every < 1)
		return usage(argv[0]);

	t0 = now_s();
	end = t0 + seconds;
	while (now_s() < end) {
		pid_t pid;

		while (alive >= parallel) {
			if (wait(NULL) > 0)
				alive--;
			else if (errno != EINTR)
				alive = 0;
		}
		pid = fork();
		if (pid == 0) {
			if ((started + 1) % exec_every == 0) {
				execl("/bin/true", "true", (char *)NULL);
				_exit(127);
			}
			churn_child_work();
			_exit(0);
		}
		if (pid < 0) {
			failed++;
			continue;
		}
		started++;
		alive++;
	}
	while (alive > 0 && wait(NULL) > 0)
		alive--;
	printf("started %ld in %.2f s: %.0f processes/s, %ld forks failed\n", started, now_s() - t0,
	       (double)started / (now_s() - t0), failed);
	return 0;
}
