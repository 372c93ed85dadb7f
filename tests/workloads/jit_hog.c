// SPDX-License-Identifier: GPL-2.0
/*
 * JIT code with a perf map, the way Node, Python 3.12 and the JVM write them:
 * machine code generated at run time into an anonymous executable mapping and
 * named in /tmp/perf-PID.map.
 *
 * Phase 1 (the first half of the run): jit_hot_loop only, called from
 * run_jit, and the map names only it. Phase 2: jit_warm_loop is generated,
 * its line appended to the map, and the two share the time equally. Prints
 * "pid N", then "phase2" when the map has grown. The map is removed at exit,
 * as a tidy runtime would do, so only what the profiler read while the
 * process lived can name its frames afterwards.
 *
 * Usage: jit_hog [--seconds N]   (x86-64)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef void (*jit_fn)(uint64_t loops);

/*
 * push %rbp; mov %rsp,%rbp; mov %rdi,%rcx; 1: dec %rcx; jnz 1b; pop %rbp; ret
 * A frame like a compiler's, so that frame-pointer unwinding goes on to run_jit.
 */
static const uint8_t loop_code[] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0x89, 0xf9,
				    0x48, 0xff, 0xc9, 0x75, 0xfb, 0x5d, 0xc3};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile uint64_t calls;

__attribute__((noinline)) static void run_jit(jit_fn f)
{
	f(1u << 18);
	calls++;
}

static int add_to_map(const char *path, const void *code, const char *name)
{
	FILE *f = fopen(path, "a");

	if (!f)
		return -1;
	fprintf(f, "%lx %zx %s\n", (unsigned long)(uintptr_t)code, sizeof(loop_code), name);
	return fclose(f);
}

int main(int argc, char **argv)
{
	double seconds = 8, start, half;
	char path[64];
	uint8_t *page;
	jit_fn hot, warm;

	if (argc == 3 && strcmp(argv[1], "--seconds") == 0)
		seconds = atof(argv[2]);
#if !defined(__x86_64__)
	fprintf(stderr, "jit_hog: x86-64 only\n");
	return 1;
#endif
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memcpy(page, loop_code, sizeof(loop_code));
	memcpy(page + 256, loop_code, sizeof(loop_code));
	if (mprotect(page, 4096, PROT_READ | PROT_EXEC)) {
		perror("mprotect");
		return 1;
	}
	hot = (jit_fn)(void *)page;
	warm = (jit_fn)(void *)(page + 256);
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
	unlink(path);
	if (add_to_map(path, page, "jit_hot_loop")) {
		perror(path);
		return 1;
	}
	printf("pid %d\n", getpid());
	fflush(stdout);

	start = now();
	half = start + seconds / 2;
	while (now() < half)
		run_jit(hot);
	if (add_to_map(path, page + 256, "jit_warm_loop")) {
		perror(path);
		return 1;
	}
	printf("phase2\n");
	fflush(stdout);
	while (now() < start + seconds) {
		run_jit(hot);
		run_jit(warm);
	}
	unlink(path);
	printf("calls %llu\n", (unsigned long long)calls);
	return 0;
}
