// SPDX-License-Identifier: GPL-2.0
/*
 * A workload with known ground truth for the block-I/O tests.
 *
 * It issues O_DIRECT requests of known sizes from known functions, on a file
 * it first allocates and writes through the page cache (and fsyncs), so that
 * the measured requests only overwrite and read data blocks: no block
 * allocation, no metadata written through this process.
 *
 *   call chain                         requests
 *   main -> write_loop -> write_site   W writes of 64 KiB (pwrite)
 *   main -> read_loop  -> read_site    R reads of 4 KiB (pread), distinct blocks
 *
 * Each site times its own calls with CLOCK_MONOTONIC. Debian's libc is built
 * without frame pointers, so a frame-pointer unwind that starts in libc's
 * pwrite/pread wrapper skips the wrapper's caller (the site) and resumes at
 * the site's caller; each site has a caller of its own for that reason.
 *
 * Usage: blockio_hog [--writes W] [--reads R] [--dir DIR] [--delay-ms N] [--wait-usr1]
 * Prints "pid PID", "file PATH" and "ready" once the file is prepared, then
 * waits N ms (default 0) and, with --wait-usr1, until it receives SIGUSR1.
 * Then it issues the requests and prints one line per site,
 * "site NAME REQUESTS BYTES NS" (NS: wall time inside the timed calls), and
 * "done". With --wait-usr1 it then waits for a second SIGUSR1 before it
 * removes the file and exits: the profiler names a process's frames from its
 * /proc/PID/maps when the profile is built, so the process must still be there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WRITE_SIZE 65536
#define READ_SIZE  4096

struct site {
	const char *name;
	uint64_t requests, bytes, ns;
};

static struct site writes = {"write_site", 0, 0, 0};
static struct site reads = {"read_site", 0, 0, 0};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void die(const char *what)
{
	fprintf(stderr, "blockio_hog: %s: %s\n", what, strerror(errno));
	exit(1);
}

__attribute__((noinline)) void write_site(int fd, void *buf, off_t off)
{
	uint64_t t0 = now_ns();
	ssize_t n = pwrite(fd, buf, WRITE_SIZE, off);

	writes.ns += now_ns() - t0;
	if (n != WRITE_SIZE)
		die("pwrite");
	writes.requests++;
	writes.bytes += (uint64_t)n;
}

__attribute__((noinline)) void read_site(int fd, void *buf, off_t off)
{
	uint64_t t0 = now_ns();
	ssize_t n = pread(fd, buf, READ_SIZE, off);

	reads.ns += now_ns() - t0;
	if (n != READ_SIZE)
		die("pread");
	reads.requests++;
	reads.bytes += (uint64_t)n;
}

__attribute__((noinline)) void write_loop(int fd, void *buf, long n)
{
	for (long i = 0; i < n; i++)
		write_site(fd, buf, (off_t)i * WRITE_SIZE);
}

/* Reads spread over the file, one per 4 KiB block, none twice. */
__attribute__((noinline)) void read_loop(int fd, void *buf, long n, long blocks)
{
	for (long i = 0; i < n; i++)
		read_site(fd, buf, (off_t)((i * 7) % blocks) * READ_SIZE);
}

/* Allocates and writes the whole file through the page cache, then fsyncs it. */
static void prepare(int fd, void *buf, off_t size)
{
	int err = posix_fallocate(fd, 0, size);

	if (err) {
		errno = err;
		die("fallocate");
	}
	memset(buf, 0x5a, WRITE_SIZE);
	for (off_t off = 0; off < size; off += WRITE_SIZE)
		if (pwrite(fd, buf, WRITE_SIZE, off) != WRITE_SIZE)
			die("pwrite (prepare)");
	if (fsync(fd))
		die("fsync");
}

static void usage(void)
{
	fprintf(stderr, "usage: blockio_hog [--writes W] [--reads R] [--dir DIR] [--delay-ms N] "
			"[--wait-usr1]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long n_writes = 200, n_reads = 400, delay_ms = 0, blocks;
	const char *dir = ".";
	int wait_usr1 = 0, sig, fd, dfd;
	char path[4096];
	sigset_t usr1;
	off_t size;
	void *buf;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--writes") == 0 && i + 1 < argc)
			n_writes = atol(argv[++i]);
		else if (strcmp(argv[i], "--reads") == 0 && i + 1 < argc)
			n_reads = atol(argv[++i]);
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
			delay_ms = atol(argv[++i]);
		else if (strcmp(argv[i], "--wait-usr1") == 0)
			wait_usr1 = 1;
		else
			usage();
	}
	if (n_writes < 1 || n_reads < 0 || delay_ms < 0)
		usage();
	/* Blocked before "ready", so a SIGUSR1 sent at any time after it is kept pending. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &usr1, NULL))
		abort();
	if (posix_memalign(&buf, 4096, WRITE_SIZE))
		abort();

	/* The file holds every write, and more 4 KiB blocks than there are reads. */
	size = (off_t)n_writes * WRITE_SIZE;
	if (size <= (off_t)n_reads * READ_SIZE)
		size = ((off_t)n_reads * READ_SIZE / WRITE_SIZE + 1) * WRITE_SIZE;
	blocks = (long)(size / READ_SIZE);
	/* Stepping by 7 blocks visits each block once when 7 does not divide the count. */
	if (blocks % 7 == 0)
		blocks--;
	snprintf(path, sizeof(path), "%s/blockio_hog.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	prepare(fd, buf, size);
	dfd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (dfd < 0)
		die("open O_DIRECT");
	close(fd);

	printf("pid %d\nfile %s\nready\n", getpid(), path);
	fflush(stdout);
	sleep_ms(delay_ms);
	if (wait_usr1 && sigwait(&usr1, &sig))
		abort();

	write_loop(dfd, buf, n_writes);
	read_loop(dfd, buf, n_reads, blocks);

	printf("site %s %llu %llu %llu\n", writes.name, (unsigned long long)writes.requests,
	       (unsigned long long)writes.bytes, (unsigned long long)writes.ns);
	printf("site %s %llu %llu %llu\n", reads.name, (unsigned long long)reads.requests,
	       (unsigned long long)reads.bytes, (unsigned long long)reads.ns);
	printf("done\n");
	fflush(stdout);
	if (wait_usr1 && sigwait(&usr1, &sig))
		abort();
	close(dfd);
	unlink(path);
	free(buf);
	return 0;
}
