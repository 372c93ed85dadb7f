// SPDX-License-Identifier: GPL-2.0
/*
 * Ground truth for unwinding without frame pointers (tests/integration/unwind.sh,
 * bench/unwind.sh). Built with -O2 -fomit-frame-pointer, as distribution
 * binaries are; every named function is noinline and calls are never turned
 * into jumps, so each call chain below exists as frames on the stack:
 *
 *   mode    call chain                                      time spent in
 *   cpu     main -> hot_caller -> hot_leaf                  hot_leaf's loop (no calls)
 *   block   main -> block_loop -> nap_site                  libc nanosleep, 3 ms
 *                              -> pipe_site                 libc read of a pipe that a
 *                                                           thread (writer_loop -> writer_site)
 *                                                           fills every 4 ms
 *   libc    main -> libc_loop -> copy_site                  libc memcpy of 4 MiB
 *                             -> sort_site                  libc qsort of 64k ints
 *                                                           (and its comparator, by_value)
 *   io      main -> io_loop -> io_site                      libc pwrite of 4 KiB with
 *                                                           O_DIRECT | O_DSYNC to a file
 *                                                           in DIR (--dir, a disk), each
 *                                                           a block-I/O request
 *
 * Debian's libc has no frame pointers, and neither has this program: a
 * frame-pointer walk loses the caller of every libc function and, in the cpu
 * mode, hot_leaf's caller.
 *
 * Usage: unwind_hog MODE [--seconds S] [--dir DIR]   (default 6 s, DIR .). Prints
 * "pid PID" at once; the io mode prints "writes N" at the end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))

static uint64_t deadline_ns;
static int pipe_fd[2];
static volatile uint64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static NOINLINE uint64_t hot_leaf(uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 20000000; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

static NOINLINE void hot_caller(void)
{
	while (now_ns() < deadline_ns)
		sink += hot_leaf(sink);
	sink++;
}

static NOINLINE void nap_site(void)
{
	struct timespec ts = {0, 3000000};

	nanosleep(&ts, NULL);
	sink++;
}

static NOINLINE void pipe_site(void)
{
	char c;

	if (read(pipe_fd[0], &c, 1) == 1)
		sink += (uint64_t)c;
}

static NOINLINE void block_loop(void)
{
	while (now_ns() < deadline_ns) {
		nap_site();
		pipe_site();
	}
	sink++;
}

static NOINLINE void writer_site(void)
{
	struct timespec ts = {0, 4000000};

	nanosleep(&ts, NULL);
	if (write(pipe_fd[1], "x", 1) != 1)
		sink++;
}

static void *writer_loop(void *arg)
{
	(void)arg;
	/* A little longer than block_loop, so that its last read is answered. */
	while (now_ns() < deadline_ns + 20000000ull)
		writer_site();
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static NOINLINE void copy_site(char *dst, const char *src, size_t len)
{
	for (int i = 0; i < 16; i++) {
		memcpy(dst, src, len);
		sink += (uint64_t)dst[i];
	}
}

static NOINLINE void sort_site(int *v, size_t n, uint32_t *rng)
{
	for (size_t i = 0; i < n; i++) {
		*rng = *rng * 1103515245u + 12345u;
		v[i] = (int)(*rng >> 1);
	}
	qsort(v, n, sizeof(*v), by_value);
	sink += (uint64_t)v[0];
}

static NOINLINE void libc_loop(void)
{
	size_t len = 4u << 20, n = 65536;
	char *a = malloc(len), *b = malloc(len);
	int *v = malloc(n * sizeof(*v));
	uint32_t rng = 1;

	if (!a || !b || !v) {
		perror("malloc");
		exit(1);
	}
	memset(a, 1, len);
	memset(b, 2, len);
	while (now_ns() < deadline_ns) {
		copy_site(b, a, len);
		sort_site(v, n, &rng);
	}
	free(v);
	free(b);
	free(a);
}

static NOINLINE int io_site(int fd, void *buf, off_t off)
{
	int ok = pwrite(fd, buf, 4096, off) == 4096;

	sink++;
	return ok;
}

/* Direct, synchronous writes: each one a request the submitting thread waits for. */
static NOINLINE long io_loop(const char *dir)
{
	char path[4096];
	void *buf;
	long n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/unwind_hog.%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_DSYNC, 0600);
	if (fd < 0 || posix_memalign(&buf, 4096, 4096)) {
		perror(path);
		exit(1);
	}
	memset(buf, 7, 4096);
	while (now_ns() < deadline_ns)
		n += io_site(fd, buf, (off_t)(n % 256) * 4096);
	close(fd);
	unlink(path);
	free(buf);
	return n;
}

int main(int argc, char **argv)
{
	const char *dir = ".";
	double seconds = 6;
	pthread_t writer;

	if (argc < 2) {
		fprintf(stderr, "usage: unwind_hog cpu|block|libc|io [--seconds S] [--dir DIR]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
	}
	printf("pid %d\n", (int)getpid());
	fflush(stdout);
	deadline_ns = now_ns() + (uint64_t)(seconds * 1e9);
	if (strcmp(argv[1], "cpu") == 0) {
		hot_caller();
	} else if (strcmp(argv[1], "block") == 0) {
		if (pipe(pipe_fd) || pthread_create(&writer, NULL, writer_loop, NULL)) {
			perror("pipe/pthread_create");
			return 1;
		}
		block_loop();
		pthread_join(writer, NULL);
	} else if (strcmp(argv[1], "libc") == 0) {
		libc_loop();
	} else if (strcmp(argv[1], "io") == 0) {
		printf("writes %ld\n", io_loop(dir));
	} else {
		fprintf(stderr, "unwind_hog: unknown mode '%s'\n", argv[1]);
		return 2;
	}
	printf("done\n");
	return (int)(sink & 0);
}
