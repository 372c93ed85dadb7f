// SPDX-License-Identifier: GPL-2.0
/*
 * Spends its CPU time inside a BPF program of its own: loads bpf_burner.bpf.c
 * (a raw_tp/sys_enter program that spins a bounded bpf_loop() on every
 * getppid() of this process, and of no other), then calls getppid() in a loop.
 * Nearly all of its on-CPU samples then have JIT-compiled BPF code in their
 * kernel stack, under a name only /proc/kallsyms knows, and only while the
 * program is loaded.
 *
 * Prints "pid N", then "ksym NAME" for the program's kallsyms symbol and
 * "ksym_sub NAME" for each of its subprograms (the bpf_loop() callback), then
 * at exit "calls N runs N" (getppid() calls, program runs). The program is
 * released at exit.
 *
 * --alt loads the same program under another name, burner_alt_enter instead of
 * burner_sys_enter.
 *
 * Usage: bpf_burner [--seconds N] [--loops N] [--alt]   (root: CAP_BPF + CAP_PERFMON)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_burner.skel.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* libbpf's warnings and errors, not its debug chatter. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Prints the kallsyms lines of the program's functions, found by the addresses the kernel
 * reports for them (each function has its own tag, so names alone could match another
 * copy of this program). Returns how many lines name the main function (1 when all is
 * well), or -errno.
 */
static int print_ksyms(int prog_fd, const char *main_func)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info), nr;
	uint64_t addrs[16];
	char line[512], name[256], mod[64];
	unsigned long long addr;
	int found = 0, err;
	char type;
	FILE *f;

	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	if (err)
		return err;
	nr = info.nr_jited_ksyms;
	if (nr == 0 || nr > sizeof(addrs) / sizeof(addrs[0]))
		return -ERANGE;
	memset(&info, 0, sizeof(info));
	info.nr_jited_ksyms = nr;
	info.jited_ksyms = (uint64_t)(uintptr_t)addrs;
	len = sizeof(info);
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	if (err)
		return err;
	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		bool ours = false;

		if (sscanf(line, "%llx %c %255s [%63[^]]]", &addr, &type, name, mod) != 4)
			continue;
		if (strcmp(mod, "bpf") != 0)
			continue;
		for (uint32_t i = 0; i < nr; i++)
			ours = ours || addrs[i] == addr;
		if (!ours)
			continue;
		if (ends_with(name, main_func) && strlen(name) > strlen(main_func) &&
		    name[strlen(name) - strlen(main_func) - 1] == '_') {
			printf("ksym %s\n", name);
			found++;
		} else {
			printf("ksym_sub %s\n", name);
		}
	}
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	struct bpf_burner_bpf *skel;
	struct bpf_program *prog, *other;
	struct bpf_link **link;
	bool alt = false;
	double seconds = 8, loops = 500, end;
	unsigned long long calls = 0;
	int err, found;

	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--loops") == 0)
			loops = atof(argv[++i]);
		else if (strcmp(argv[i], "--alt") == 0)
			alt = true;
		else {
			fprintf(stderr, "usage: bpf_burner [--seconds N] [--loops N] [--alt]\n");
			return 2;
		}
	}
	if (!(seconds > 0 && seconds <= 3600) || !(loops >= 1 && loops <= 1 << 20)) {
		fprintf(stderr,
			"bpf_burner: --seconds must be in (0, 3600], --loops in [1, 2^20]\n");
		return 2;
	}
	libbpf_set_print(libbpf_print);

	skel = bpf_burner_bpf__open();
	if (!skel) {
		fprintf(stderr, "bpf_burner: opening the BPF object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->target_tgid = (uint32_t)getpid();
	skel->rodata->target_nr = SYS_getppid;
	skel->rodata->spin_loops = (uint32_t)loops;
	prog = alt ? skel->progs.burner_alt_enter : skel->progs.burner_sys_enter;
	other = alt ? skel->progs.burner_sys_enter : skel->progs.burner_alt_enter;
	link = alt ? &skel->links.burner_alt_enter : &skel->links.burner_sys_enter;
	bpf_program__set_autoload(other, false);
	err = bpf_burner_bpf__load(skel);
	if (err) {
		fprintf(stderr, "bpf_burner: loading the BPF program: %s\n", strerror(-err));
		goto out;
	}
	/* Attached here, not by the skeleton: only one of the two programs is loaded. */
	*link = bpf_program__attach(prog);
	if (!*link) {
		err = -errno;
		fprintf(stderr, "bpf_burner: attaching to raw_tp/sys_enter: %s\n", strerror(-err));
		goto out;
	}
	printf("pid %d\n", (int)getpid());
	found = print_ksyms(bpf_program__fd(prog), bpf_program__name(prog));
	fflush(stdout);
	if (found != 1) {
		err = found < 0 ? found : -ENOENT;
		if (found < 0)
			fprintf(stderr, "bpf_burner: reading /proc/kallsyms: %s\n",
				strerror(-found));
		else
			fprintf(stderr,
				"bpf_burner: %d kallsyms symbols of the program, not 1 "
				"(net.core.bpf_jit_kallsyms=0?)\n",
				found);
		goto out;
	}

	end = now() + seconds;
	do {
		for (int i = 0; i < 64; i++)
			syscall(SYS_getppid);
		calls += 64;
	} while (now() < end);
	printf("calls %llu runs %llu\n", calls, (unsigned long long)skel->bss->burner_runs);
	fflush(stdout);
	if (skel->bss->burner_runs < calls) {
		fprintf(stderr, "bpf_burner: the program ran %llu times for %llu calls\n",
			(unsigned long long)skel->bss->burner_runs, calls);
		err = -EPROTO;
	}
out:
	bpf_burner_bpf__destroy(skel);
	return err ? 1 : 0;
}
