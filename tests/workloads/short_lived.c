// SPDX-License-Identifier: GPL-2.0
/*
 * Short-lived processes, the ground truth of the exited-process naming test:
 * starts --count N (default 200) processes, --parallel P (default 2) at a
 * time, each a fresh exec of this binary that spins --ms M (default 20) of
 * CPU in short_lived_burn() and exits. Prints "done N" when all have ended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

__attribute__((noinline)) void short_lived_burn(double ms)
{
	volatile unsigned long x = 0;
	double end = cpu_ms() + ms;

	while (cpu_ms() < end)
		for (int i = 0; i < 1000; i++)
			x += (unsigned long)i * i;
}

__attribute__((noinline)) int short_lived_child(double ms)
{
	short_lived_burn(ms);
	return 0;
}

int main(int argc, char **argv)
{
	long count = 200, parallel = 2, alive = 0, started = 0;
	const char *ms = "20";
	char self[4096];
	ssize_t n;

	if (argc == 3 && strcmp(argv[1], "--child") == 0)
		return short_lived_child(atof(argv[2]));
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--count") == 0)
			count = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--parallel") == 0)
			parallel = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--ms") == 0)
			ms = argv[i + 1];
		else
			return 2;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || count < 1 || parallel < 1)
		return 2;
	self[n] = '\0';
	while (started < count || alive > 0) {
		if (started < count && alive < parallel) {
			pid_t pid = fork();

			if (pid == 0) {
				execl(self, "short_lived", "--child", ms, (char *)NULL);
				_exit(127);
			}
			if (pid > 0) {
				started++;
				alive++;
			}
			continue;
		}
		if (wait(NULL) > 0)
			alive--;
	}
	printf("done %ld\n", started);
	return 0;
}
