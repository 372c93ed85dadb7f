// SPDX-License-Identifier: GPL-2.0
/*
 * Symbolizer tests: the maps and kallsyms line parsers; kernel look-ups
 * against a fake kallsyms and the real one; user look-ups in live fixture
 * processes (PIE, non-PIE, .dynsym only, a shared library, a deleted
 * executable, the vDSO); the caches (sharing, LRU caps, batches); and files
 * that are missing, truncated, or corrupt, under a fake proc root; JIT code
 * named from a perf map; MiniDebugInfo, whole, corrupt and over its caps.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gelf.h>
#include <lzma.h>

#include "symbolizer.h"
#include "symbolizer_internal.h"
#include "testutil.h"

#ifndef SONDE_FIXTURE_DIR
#error "SONDE_FIXTURE_DIR must name the directory of the built fixtures"
#endif

#define FIXTURE_PIE    SONDE_FIXTURE_DIR "/fixture_pie"
#define FIXTURE_NOPIE  SONDE_FIXTURE_DIR "/fixture_nopie"
#define FIXTURE_DYNSYM SONDE_FIXTURE_DIR "/fixture_dynsym"
#define FIXTURE_MINI   SONDE_FIXTURE_DIR "/fixture_minidebug"
#define FIXTURE_LIB    SONDE_FIXTURE_DIR "/libfixture_lib.so"
/* fixture_pie stripped; its symbols and DWARF under FIXTURE_DEBUG_DIR/.build-id. */
#define FIXTURE_STRIPPED  SONDE_FIXTURE_DIR "/fixture_stripped"
#define FIXTURE_DEBUG_DIR SONDE_FIXTURE_DIR "/debug"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n, m;

	if (!s)
		return false;
	n = strlen(s);
	m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static bool is_build_id(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n >= 2 && n % 2 == 0;
}

/* ---- files ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p of the directory part of path. */
static int make_parents(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f;
	size_t n;

	if (make_parents(path))
		return -1;
	f = fopen(path, "we");
	if (!f)
		return -1;
	n = fwrite(data, 1, len, f);
	return fclose(f) || n != len ? -1 : 0;
}

static void *read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	long size;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET))
		goto out_close;
	buf = malloc((size_t)size);
	if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		buf = NULL;
	}
	*len = (size_t)size;
out_close:
	fclose(f);
	return buf;
}

static uint64_t inode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (uint64_t)st.st_ino;
}

/* ---- fixture processes ---- */

struct fixture_addrs {
	uint64_t alpha, local, alpha_return, beta, gamma;
	uint64_t inlined_return; /* in fixture_exe_inlined, inlined into fixture_exe_outer */
};

struct child {
	pid_t pid;
	int in_fd; /* the child's stdin: closing it ends the child */
	FILE *out;
};

/* Starts path and reads its report; the child then waits for stdin to close. */
static int child__spawn(const char *path, struct child *c, struct fixture_addrs *a)
{
	int in[2], out[2];
	char line[256];
	bool ready = false;

	memset(a, 0, sizeof(*a));
	if (pipe2(in, O_CLOEXEC))
		return -1;
	if (pipe2(out, O_CLOEXEC))
		goto err_close_in;
	c->pid = fork();
	if (c->pid < 0)
		goto err_close_out;
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->in_fd = in[1];
	c->out = fdopen(out[0], "r");
	if (!c->out) {
		close(out[0]);
		close(c->in_fd);
		waitpid(c->pid, NULL, 0);
		return -1;
	}
	while (fgets(line, sizeof(line), c->out)) {
		char name[64];
		unsigned long long v;

		if (!strcmp(line, "ready\n")) {
			ready = true;
			break;
		}
		if (sscanf(line, "%63s %llx", name, &v) != 2)
			continue;
		if (!strcmp(name, "fixture_exe_alpha"))
			a->alpha = v;
		else if (!strcmp(name, "fixture_exe_local"))
			a->local = v;
		else if (!strcmp(name, "alpha_return"))
			a->alpha_return = v;
		else if (!strcmp(name, "inlined_return"))
			a->inlined_return = v;
		else if (!strcmp(name, "fixture_lib_beta"))
			a->beta = v;
		else if (!strcmp(name, "fixture_lib_gamma"))
			a->gamma = v;
	}
	if (!ready) {
		fprintf(stderr, "%s: no report\n", path);
		close(c->in_fd);
		fclose(c->out);
		waitpid(c->pid, NULL, 0);
		return -1;
	}
	return 0;

err_close_out:
	close(out[0]);
	close(out[1]);
err_close_in:
	close(in[0]);
	close(in[1]);
	return -1;
}

static int child__reap(struct child *c)
{
	int status = -1;

	close(c->in_fd);
	fclose(c->out);
	if (waitpid(c->pid, &status, 0) != c->pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- parsers ---- */

static void test_maps_parse(void)
{
	struct maps_entry *e = malloc(sizeof(*e));
	static const char *const bad[] = {
		"",
		"\n",
		"garbage\n",
		"7f00-7e00 r-xp 00000000 fe:00 1 /x\n",		  /* start > end */
		"7f00-7f00 r-xp 00000000 fe:00 1 /x\n",		  /* empty */
		"7f00-8000 rxp 00000000 fe:00 1 /x\n",		  /* short perms */
		"7f00-8000 r-xq 00000000 fe:00 1 /x\n",		  /* bad perms */
		"7f00-8000 r-xp 0000zz00 fe:00 1 /x\n",		  /* bad offset */
		"7f00-8000 r-xp 00000000 fe00 1 /x\n",		  /* no colon */
		"7f00-8000 r-xp 00000000 fe:00 x /x\n",		  /* bad inode */
		"7f00-8000 r-xp 00000000 fe:00\n",		  /* truncated */
		"7f00-8000 r-xp",				  /* truncated */
		"11112222333344445-8000 r-xp 0 0:0 0\n",	  /* 17 hex digits */
		"7f00-8000 r-xp 0 0:0 99999999999999999999999\n", /* inode overflow */
		"7f00-8000 r-xp 0 0:0 1 /a\n/b\n",		  /* two lines */
	};
	int err;

	if (!e) {
		CHECK(0);
		return;
	}
	err = maps__parse_line("55d0c8a0e000-55d0c8a13000 r-xp 00002000 fe:01 247134"
			       "                     /usr/bin/cat\n",
			       e);
	CHECK_EQ_U64(err, 0);
	CHECK_EQ_U64(e->start, 0x55d0c8a0e000ULL);
	CHECK_EQ_U64(e->end, 0x55d0c8a13000ULL);
	CHECK_EQ_U64(e->offset, 0x2000);
	CHECK_EQ_U64(e->dev_major, 0xfe);
	CHECK_EQ_U64(e->dev_minor, 1);
	CHECK_EQ_U64(e->inode, 247134);
	CHECK(e->exec);
	CHECK_STR(e->path, "/usr/bin/cat");

	err = maps__parse_line("7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0 \n", e);
	CHECK_EQ_U64(err, 0);
	CHECK(!e->exec);
	CHECK_STR(e->path, "");
	err = maps__parse_line("7f3a1c000000-7f3a1c021000 rwxp 00000000 00:00 0", e);
	CHECK_EQ_U64(err, 0);
	CHECK(e->exec);
	CHECK_STR(e->path, "");

	err = maps__parse_line("400000-401000 r-xp 00001000 103:0a 12 /opt/my app/bin/a b\n", e);
	CHECK_EQ_U64(err, 0);
	CHECK_EQ_U64(e->dev_major, 0x103);
	CHECK_EQ_U64(e->dev_minor, 0xa);
	CHECK_STR(e->path, "/opt/my app/bin/a b");

	err = maps__parse_line("400000-401000 r-xp 00000000 fe:00 77 /tmp/old (deleted)\n", e);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(e->path, "/tmp/old (deleted)");
	CHECK_EQ_U64(e->inode, 77);

	err = maps__parse_line("7ffc1a5f2000-7ffc1a5f4000 r-xp 00000000 00:00 0"
			       "                          [vdso]\n",
			       e);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(e->path, "[vdso]");
	err = maps__parse_line(
		"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]\n", e);
	CHECK_EQ_U64(err, 0);
	CHECK_EQ_U64(e->end, 0xffffffffff601000ULL);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = maps__parse_line(bad[i], e);
		if (err != -EINVAL)
			fprintf(stderr, "maps line %zu parsed: \"%s\"\n", i, bad[i]);
		CHECK_EQ_U64(err, -EINVAL);
	}
	/* A path longer than the field. */
	{
		size_t n = 5000;
		char *line = malloc(n + 64);

		if (line) {
			int off = snprintf(line, 64, "1000-2000 r-xp 0 0:0 1 /");

			memset(line + off, 'a', n);
			line[off + n] = '\0';
			CHECK_EQ_U64(maps__parse_line(line, e), -EINVAL);
			free(line);
		}
	}
	CHECK_EQ_U64(maps__parse_line(NULL, e), -EINVAL);
	free(e);
}

static void test_kallsyms_parse(void)
{
	static const char *const bad[] = {
		"",
		"\n",
		"ffffffff81000000\n",
		"ffffffff81000000 T\n",
		"ffffffff81000000 T \n",
		"ffffffff81000000  T foo\n",
		"zzzz T foo\n",
		"ffffffff81000000 T foo bar\n",
		"ffffffff81000000 T foo\t[mod\n",
		"ffffffff81000000 T foo\t[]\n",
		"ffffffff81000000 T foo\t[mod] x\n",
		"1ffffffff81000000 T foo\n",
	};
	struct kallsyms_entry e;
	char line[600];
	int err;

	err = kallsyms__parse_line("ffffffff821fb620 T schedule\n", &e);
	CHECK_EQ_U64(err, 0);
	CHECK_EQ_U64(e.addr, 0xffffffff821fb620ULL);
	CHECK_EQ_U64(e.type, 'T');
	CHECK_STR(e.name, "schedule");
	CHECK_STR(e.module, "");

	err = kallsyms__parse_line("ffffffffc0a01230 t ext4_fill_super\t[ext4]\n", &e);
	CHECK_EQ_U64(err, 0);
	CHECK_EQ_U64(e.type, 't');
	CHECK_STR(e.name, "ext4_fill_super");
	CHECK_STR(e.module, "ext4");

	err = kallsyms__parse_line("ffffffffa0001000 t bpf_prog_6deef7357e7b4530_sd_fw_ingress"
				   "\t[bpf]",
				   &e);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(e.name, "bpf_prog_6deef7357e7b4530_sd_fw_ingress");
	CHECK_STR(e.module, "bpf");

	err = kallsyms__parse_line("0000000000000000 A fixed_percpu_data\n", &e);
	CHECK_EQ_U64(err, 0);
	CHECK_EQ_U64(e.addr, 0);
	CHECK_EQ_U64(e.type, 'A');

	/* Too long a name is cut to the field, never overflows it. */
	memset(line, 0, sizeof(line));
	memcpy(line, "ffffffff81000000 T ", 19);
	memset(line + 19, 'n', 500);
	err = kallsyms__parse_line(line, &e);
	CHECK_EQ_U64(err, 0);
	CHECK_EQ_U64(strlen(e.name), sizeof(e.name) - 1);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = kallsyms__parse_line(bad[i], &e);
		if (err != -EINVAL)
			fprintf(stderr, "kallsyms line %zu parsed: \"%s\"\n", i, bad[i]);
		CHECK_EQ_U64(err, -EINVAL);
	}
}

/* ---- kernel ---- */

static void test_kernel_fake(const char *dir)
{
	static const char kallsyms[] = "ffffffff81000000 T _stext\n"
				       "ffffffff81000000 T startup_64\n"
				       "ffffffff81000100 t local_fn\n"
				       "ffffffff81000200 W weak_fn\n"
				       "ffffffff81000300 T _etext\n"
				       "ffffffff82000000 D __start_rodata\n"
				       "ffffffff83000000 T _sinittext\n"
				       "ffffffff83000000 t init_fn\n"
				       "ffffffff83000100 T _einittext\n"
				       "this line is garbage\n"
				       "ffffffffc0001000 t mod_fn1\t[mymod]\n"
				       "ffffffffc0001100 t mod_fn2\t[mymod]\n"
				       "ffffffffc0002000 d mod_data\t[mymod]\n"
				       "ffffffffc0100000 t bpf_prog_1234_handler\t[bpf]\n"
				       "ffffffffc0100400 t bpf_prog_5678_other\t[bpf]\n";
	struct symbolizer_opts opts = {.proc_root = dir};
	struct symbolizer_stats st;
	struct symbolizer *sym;
	struct sym_frame f;
	char path[4096];
	int err;

	snprintf(path, sizeof(path), "%s/kallsyms", dir);
	if (write_file(path, kallsyms, sizeof(kallsyms) - 1)) {
		CHECK(0);
		return;
	}
	sym = symbolizer__new(&opts);
	CHECK(sym != NULL);
	if (!sym)
		return;

	err = symbolizer__kernel(sym, 0xffffffff81000010ULL, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.name, "startup_64");
	CHECK_EQ_U64(f.sym_offset, 0x10);
	CHECK_STR(f.map_path, "[kernel.kallsyms]");
	CHECK(f.kernel);
	CHECK_EQ_U64(f.map_start, 0xffffffff81000000ULL);
	CHECK_EQ_U64(f.map_limit, 0xffffffff83000100ULL);

	err = symbolizer__kernel(sym, 0xffffffff81000150ULL, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.name, "local_fn");
	CHECK_EQ_U64(f.sym_offset, 0x50);
	err = symbolizer__kernel(sym, 0xffffffff810002ffULL, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.name, "weak_fn");
	/* Past _etext, in rodata, past _einittext: unknown. */
	CHECK_EQ_U64(symbolizer__kernel(sym, 0xffffffff81000300ULL, &f), -ENOENT);
	CHECK(f.name == NULL && f.map_path == NULL);
	CHECK_EQ_U64(symbolizer__kernel(sym, 0xffffffff82000010ULL, &f), -ENOENT);
	CHECK_EQ_U64(symbolizer__kernel(sym, 0xffffffff83000200ULL, &f), -ENOENT);
	CHECK_EQ_U64(symbolizer__kernel(sym, 0x1000, &f), -ENOENT);
	err = symbolizer__kernel(sym, 0xffffffff83000004ULL, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.name, "init_fn");

	err = symbolizer__kernel(sym, 0xffffffffc0001110ULL, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.name, "mod_fn2");
	CHECK_EQ_U64(f.sym_offset, 0x10);
	CHECK_STR(f.map_path, "[mymod]");
	CHECK_EQ_U64(f.map_start, 0xffffffffc0001000ULL);
	CHECK_EQ_U64(f.map_limit, 0xffffffffc0002000ULL);
	/* mod_data bounds mod_fn2 and names nothing. */
	CHECK_EQ_U64(symbolizer__kernel(sym, 0xffffffffc0002010ULL, &f), -ENOENT);

	err = symbolizer__kernel(sym, 0xffffffffc0100020ULL, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.name, "bpf_prog_1234_handler");
	CHECK_STR(f.map_path, "[bpf]");
	err = symbolizer__kernel(sym, 0xffffffffc0100500ULL, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.name, "bpf_prog_5678_other");
	CHECK_EQ_U64(f.sym_offset, 0x100);
	/* Far past the last symbol of a module: unknown. */
	CHECK_EQ_U64(symbolizer__kernel(sym, 0xffffffffc0400000ULL, &f), -ENOENT);

	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.kernel_lookups, 13);
	CHECK_EQ_U64(st.kernel_failures, 6);

	/* A BPF program loaded later: found once the next batch re-reads kallsyms on a miss. */
	{
		static const char more[] = "ffffffffc0300000 t bpf_prog_9abc_late\t[bpf]\n";
		FILE *fp = fopen(path, "ae");

		CHECK(fp != NULL);
		if (fp) {
			fputs(more, fp);
			fclose(fp);
		}
		CHECK_EQ_U64(symbolizer__kernel(sym, 0xffffffffc0300010ULL, &f), -ENOENT);
		symbolizer__begin(sym);
		CHECK_EQ_U64(symbolizer__kernel(sym, 0xffffffffc0300010ULL, &f), 0);
		CHECK_STR(f.name, "bpf_prog_9abc_late");
		CHECK_STR(f.map_path, "[bpf]");
		CHECK_EQ_U64(f.map_start, 0xffffffffc0100000ULL);
		err = symbolizer__kernel(sym, 0xffffffff81000010ULL, &f);
		CHECK_EQ_U64(err, 0);
		CHECK_STR(f.name, "startup_64");
	}
	symbolizer__free(sym);

	/* No kallsyms at all: every look-up fails, nothing crashes. */
	unlink(path);
	sym = symbolizer__new(&opts);
	CHECK(sym != NULL);
	if (sym) {
		CHECK_EQ_U64(symbolizer__kernel(sym, 0xffffffff81000010ULL, &f), -ENOENT);
		symbolizer__begin(sym);
		CHECK_EQ_U64(symbolizer__kernel(sym, 0xffffffff81000010ULL, &f), -ENOENT);
		symbolizer__free(sym);
	}
}

static void test_kernel_real(void)
{
	struct kallsyms_entry e;
	uint64_t addr = 0;
	char line[1024];
	struct symbolizer *sym;
	struct sym_frame f;
	FILE *fp;
	int err;

	fp = fopen("/proc/kallsyms", "re");
	if (!fp) {
		fprintf(stderr, "test_kernel_real: no /proc/kallsyms, skipped\n");
		return;
	}
	while (fgets(line, sizeof(line), fp)) {
		if (kallsyms__parse_line(line, &e) == 0 && !strcmp(e.name, "schedule") &&
		    e.module[0] == '\0' && (e.type == 'T' || e.type == 't')) {
			addr = e.addr;
			break;
		}
	}
	fclose(fp);
	if (!addr) {
		fprintf(stderr, "test_kernel_real: schedule hidden (kptr_restrict?), skipped\n");
		return;
	}
	sym = symbolizer__new(NULL);
	CHECK(sym != NULL);
	if (!sym)
		return;
	err = symbolizer__kernel(sym, addr, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.name, "schedule");
	CHECK_EQ_U64(f.sym_offset, 0);
	CHECK_STR(f.map_path, "[kernel.kallsyms]");
	CHECK(f.kernel);
	CHECK(f.map_start <= addr && addr < f.map_limit);
	err = symbolizer__kernel(sym, addr + 8, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.name, "schedule");
	CHECK_EQ_U64(f.sym_offset, 8);
	symbolizer__free(sym);
}

/* ---- user: live fixtures ---- */

/* Looks addr up in pid and checks the name, offset and file; returns the frame's file offset. */
static uint64_t check_user(struct symbolizer *sym, pid_t pid, uint64_t addr, const char *name,
			   uint64_t sym_offset, const char *file_suffix)
{
	struct sym_frame f;
	int err;

	err = symbolizer__user(sym, (uint32_t)pid, addr, &f);
	CHECK_EQ_U64(err, 0);
	if (err)
		return 0;
	if (name) {
		CHECK_STR(f.name, name);
		CHECK_EQ_U64(f.sym_offset, sym_offset);
	} else {
		CHECK(f.name == NULL);
	}
	if (!ends_with(f.map_path, file_suffix))
		fprintf(stderr, "map_path %s does not end with %s\n",
			f.map_path ? f.map_path : "(null)", file_suffix);
	CHECK(ends_with(f.map_path, file_suffix));
	CHECK(is_build_id(f.build_id));
	CHECK(f.map_start <= addr && addr < f.map_limit);
	CHECK(!f.kernel);
	return addr - f.map_start + f.map_offset;
}

/* Spawns exe, checks every function it reports; *beta_off gets the library's file offset. */
static void test_user_fixture(const char *exe, const char *exe_suffix, bool has_symtab,
			      uint64_t *beta_off)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct symbolizer_stats st;
	struct fixture_addrs a;
	struct child c;
	struct sym_frame f;
	uint64_t off;

	CHECK(sym != NULL);
	if (!sym)
		return;
	if (child__spawn(exe, &c, &a)) {
		CHECK(0);
		symbolizer__free(sym);
		return;
	}
	CHECK(a.alpha && a.local && a.alpha_return && a.beta && a.gamma);

	check_user(sym, c.pid, a.alpha, "fixture_exe_alpha", 0, exe_suffix);
	check_user(sym, c.pid, a.alpha + 1, "fixture_exe_alpha", 1, exe_suffix);
	/* A return address, looked up as addr - 1: the calling function. */
	check_user(sym, c.pid, a.alpha_return - 1, "fixture_exe_alpha",
		   a.alpha_return - 1 - a.alpha, exe_suffix);
	if (has_symtab)
		check_user(sym, c.pid, a.local, "fixture_exe_local", 0, exe_suffix);
	else
		check_user(sym, c.pid, a.local, NULL, 0, exe_suffix); /* .dynsym has no locals */
	off = check_user(sym, c.pid, a.beta + 2, "fixture_lib_beta", 2, "/libfixture_lib.so");
	if (beta_off)
		*beta_off = off - 2;
	check_user(sym, c.pid, a.gamma, "fixture_lib_gamma", 0, "/libfixture_lib.so");

	/* The same file, looked up again: a cache hit, the same strings. */
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.elf_cache_misses, 2);
	CHECK_EQ_U64(st.elf_errors, 0);
	CHECK_EQ_U64(st.maps_read_errors, 0);
	CHECK_EQ_U64(st.proc_cached, 1);
	CHECK_EQ_U64(st.elf_cached, 2);

	/* Below every mapping: nothing known. */
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)c.pid, 0x10, &f), -ENOENT);
	CHECK(f.map_path == NULL && f.name == NULL);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.user_no_mapping, 1);

	CHECK_EQ_U64(child__reap(&c), 0);
	symbolizer__free(sym);
}

/* Two processes of one binary share its symbol table. */
static void test_cache_sharing(void)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct symbolizer_stats before, after;
	struct fixture_addrs a1, a2;
	struct child c1, c2;
	struct sym_frame f;
	char id1[256] = "";

	CHECK(sym != NULL);
	if (!sym)
		return;
	if (child__spawn(FIXTURE_PIE, &c1, &a1)) {
		CHECK(0);
		goto out_free;
	}
	if (child__spawn(FIXTURE_PIE, &c2, &a2)) {
		CHECK(0);
		goto out_reap1;
	}
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)c1.pid, a1.alpha, &f), 0);
	CHECK_STR(f.name, "fixture_exe_alpha");
	if (f.build_id)
		snprintf(id1, sizeof(id1), "%s", f.build_id);
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)c1.pid, a1.beta, &f), 0);
	CHECK_STR(f.name, "fixture_lib_beta");
	symbolizer__stats(sym, &before);

	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)c2.pid, a2.alpha, &f), 0);
	CHECK_STR(f.name, "fixture_exe_alpha");
	CHECK_STR(f.build_id, id1);
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)c2.pid, a2.beta, &f), 0);
	CHECK_STR(f.name, "fixture_lib_beta");
	symbolizer__stats(sym, &after);
	CHECK_EQ_U64(after.elf_cache_hits, before.elf_cache_hits + 2);
	CHECK_EQ_U64(after.elf_cache_misses, before.elf_cache_misses);
	CHECK_EQ_U64(after.elf_cached, 2);
	CHECK_EQ_U64(after.proc_cached, 2);

	CHECK_EQ_U64(child__reap(&c2), 0);
out_reap1:
	CHECK_EQ_U64(child__reap(&c1), 0);
out_free:
	symbolizer__free(sym);
}

/* Caps of one file and one process: everything still resolves, evictions are counted. */
static void test_lru(void)
{
	struct symbolizer_opts opts = {.max_elf_files = 1, .max_processes = 1};
	struct symbolizer *sym = symbolizer__new(&opts);
	struct symbolizer_stats st;
	struct fixture_addrs a1, a2;
	struct child c1, c2;

	CHECK(sym != NULL);
	if (!sym)
		return;
	if (child__spawn(FIXTURE_PIE, &c1, &a1)) {
		CHECK(0);
		goto out_free;
	}
	if (child__spawn(FIXTURE_NOPIE, &c2, &a2)) {
		CHECK(0);
		goto out_reap1;
	}
	for (int round = 0; round < 3; round++) {
		check_user(sym, c1.pid, a1.alpha, "fixture_exe_alpha", 0, "/fixture_pie");
		check_user(sym, c1.pid, a1.beta, "fixture_lib_beta", 0, "/libfixture_lib.so");
		check_user(sym, c2.pid, a2.alpha, "fixture_exe_alpha", 0, "/fixture_nopie");
		check_user(sym, c2.pid, a2.gamma, "fixture_lib_gamma", 0, "/libfixture_lib.so");
	}
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.elf_cached, 1);
	CHECK_EQ_U64(st.proc_cached, 1);
	CHECK_EQ_U64(st.elf_cache_evictions, 11);
	CHECK_EQ_U64(st.proc_cache_evictions, 5);
	CHECK_EQ_U64(st.elf_cache_misses, 12);

	CHECK_EQ_U64(child__reap(&c2), 0);
out_reap1:
	CHECK_EQ_U64(child__reap(&c1), 0);
out_free:
	symbolizer__free(sym);
}

/* A running executable whose file is deleted (and replaced) resolves through map_files. */
static void test_deleted_exe(const char *dir)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct fixture_addrs a;
	char path[4096];
	struct child c;
	struct sym_frame f;
	size_t len;
	void *data;

	CHECK(sym != NULL);
	if (!sym)
		return;
	data = read_file(FIXTURE_PIE, &len);
	CHECK(data != NULL);
	if (!data)
		goto out_free;
	snprintf(path, sizeof(path), "%s/deleted dir/fixture_copy", dir);
	CHECK_EQ_U64(write_file(path, data, len), 0);
	chmod(path, 0755);
	if (child__spawn(path, &c, &a)) {
		CHECK(0);
		goto out_free_data;
	}
	unlink(path);
	/* Another file at the same path must not be taken for the deleted one. */
	write_file(path, "not an ELF file", 15);

	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)c.pid, a.alpha + 3, &f), 0);
	CHECK_STR(f.name, "fixture_exe_alpha");
	CHECK_EQ_U64(f.sym_offset, 3);
	CHECK(ends_with(f.map_path, "/deleted dir/fixture_copy"));
	CHECK(is_build_id(f.build_id));
	CHECK_EQ_U64(child__reap(&c), 0);
out_free_data:
	free(data);
out_free:
	symbolizer__free(sym);
}

/* The vDSO of this very process: some address in it is named, all carry "[vdso]". */
static void test_vdso(void)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct maps_entry *e = malloc(sizeof(*e));
	uint64_t start = 0, end = 0;
	int named = 0, known = 0, total = 0;
	char line[4096];
	FILE *fp;

	CHECK(sym != NULL && e != NULL);
	if (!sym || !e)
		goto out_free;
	fp = fopen("/proc/self/maps", "re");
	if (!fp)
		goto out_free;
	while (fgets(line, sizeof(line), fp))
		if (!maps__parse_line(line, e) && !strcmp(e->path, "[vdso]")) {
			start = e->start;
			end = e->end;
		}
	fclose(fp);
	if (!start) {
		fprintf(stderr, "test_vdso: no [vdso], skipped\n");
		goto out_free;
	}
	for (uint64_t addr = start; addr < end; addr += 4) {
		struct sym_frame f;

		total++;
		if (symbolizer__user(sym, (uint32_t)getpid(), addr, &f))
			continue;
		if (!f.map_path || strcmp(f.map_path, "[vdso]"))
			continue;
		known++;
		if (f.name && (!strncmp(f.name, "__vdso_", 7) || strstr(f.name, "clock_gettime") ||
			       strstr(f.name, "gettimeofday") || strstr(f.name, "getcpu")))
			named++;
	}
	CHECK_EQ_U64(known, total);
	CHECK(named > 0);
out_free:
	free(e);
	symbolizer__free(sym);
}

/* A function of the C library in this very process (stripped: named through .dynsym). */
static void test_self_libc(void)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	uint64_t addr = (uint64_t)(uintptr_t)&getppid;
	struct sym_frame f;

	CHECK(sym != NULL);
	if (!sym)
		return;
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)getpid(), addr + 1, &f), 0);
	CHECK(f.map_path != NULL);
	if (f.map_path && strstr(f.map_path, "libc")) {
		CHECK(f.name != NULL && strstr(f.name, "getppid") != NULL);
		CHECK_EQ_U64(f.sym_offset, 1);
	}
	symbolizer__free(sym);
}

/* ---- source lines (DWARF) ---- */

/* The 1-based number of the first line of path at or after line from holding needle; 0: none. */
static unsigned int source_line(const char *path, const char *needle, unsigned int from)
{
	char line[1024];
	unsigned int n = 0, found = 0;
	FILE *fp = fopen(path, "re");

	if (!fp)
		return 0;
	while (!found && fgets(line, sizeof(line), fp))
		if (++n >= from && strstr(line, needle))
			found = n;
	fclose(fp);
	return found;
}

/* The lines of the function whose definition starts with head: [*first, *last]. */
static bool function_lines(const char *path, const char *head, unsigned int *first,
			   unsigned int *last)
{
	*first = source_line(path, head, 1);
	*last = *first ? source_line(path, "}", *first) : 0;
	if (!*first || !*last)
		fprintf(stderr, "%s: no function %s\n", path, head);
	return *first && *last;
}

/* Looks up addr and its line: the file must end with file_suffix, the line be in [lo, hi]. */
static void check_line(struct symbolizer *sym, pid_t pid, uint64_t addr, const char *file_suffix,
		       unsigned int lo, unsigned int hi)
{
	struct sym_frame f;

	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)pid, addr, &f), 0);
	CHECK_EQ_U64(symbolizer__user_line(sym, &f), 0);
	if (!ends_with(f.file, file_suffix) || f.line < lo || f.line > hi)
		fprintf(stderr, "%#llx: %s:%u, want *%s:%u-%u\n", (unsigned long long)addr,
			f.file ? f.file : "(null)", f.line, file_suffix, lo, hi);
	CHECK(ends_with(f.file, file_suffix));
	CHECK(f.file && f.file[0] == '/'); /* absolute: pprof -list reads it */
	CHECK(f.line >= lo && f.line <= hi);
}

/*
 * The fixture's functions and return address get their source lines, from
 * the executable's own DWARF or, with debug_dir, from its separate debug file.
 */
static void test_user_lines(const char *exe, const char *debug_dir)
{
	static const char exe_src[] = SONDE_SOURCE_DIR "/tests/fixtures/fixture_exe.c";
	static const char lib_src[] = SONDE_SOURCE_DIR "/tests/fixtures/fixture_lib.c";
	struct symbolizer_opts opts = {.debug_dir = debug_dir};
	struct symbolizer *sym = symbolizer__new(&opts);
	unsigned int a_lo, a_hi, b_lo, b_hi, call, inl_line, inl_call;
	struct symbolizer_stats st;
	struct fixture_addrs a;
	struct sym_frame f;
	struct child c;

	CHECK(sym != NULL);
	if (!sym)
		return;
	CHECK(function_lines(exe_src, "void *fixture_exe_alpha(void)\n", &a_lo, &a_hi));
	CHECK(function_lines(lib_src, "void *fixture_lib_beta(void)\n", &b_lo, &b_hi));
	call = source_line(exe_src, "= fixture_lib_beta();", a_lo);
	CHECK(call > a_lo && call < a_hi);
	inl_line = source_line(exe_src, "return fixture_lib_beta();", 1);
	inl_call = source_line(exe_src, "= fixture_exe_inlined();", 1);
	CHECK(inl_line && inl_call);
	if (child__spawn(exe, &c, &a)) {
		CHECK(0);
		symbolizer__free(sym);
		return;
	}
	check_line(sym, c.pid, a.alpha, "/tests/fixtures/fixture_exe.c", a_lo, a_hi);
	/* The call that a return address follows, to the line. */
	check_line(sym, c.pid, a.alpha_return - 1, "/tests/fixtures/fixture_exe.c", call, call);
	check_line(sym, c.pid, a.beta + 2, "/tests/fixtures/fixture_lib.c", b_lo, b_hi);
	/* Inlined code: the inlined function, where it was inlined, and the function around. */
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)c.pid, a.inlined_return - 1, &f), 0);
	CHECK_STR(f.name, "fixture_exe_outer");
	CHECK_EQ_U64(symbolizer__user_line(sym, &f), 0);
	CHECK(ends_with(f.file, "/tests/fixtures/fixture_exe.c"));
	CHECK_EQ_U64(f.line, inl_line);
	CHECK_EQ_U64(f.n_inlined, 1);
	if (f.n_inlined == 1) {
		CHECK_STR(f.inlined[0].name, "fixture_exe_inlined");
		CHECK(ends_with(f.inlined[0].call_file, "/tests/fixtures/fixture_exe.c"));
		CHECK_EQ_U64(f.inlined[0].call_line, inl_call);
	}
	/* Code that is not inlined has no chain. */
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)c.pid, a.alpha_return - 1, &f), 0);
	CHECK_EQ_U64(symbolizer__user_line(sym, &f), 0);
	CHECK_EQ_U64(f.n_inlined, 0);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.line_hits, 5);
	CHECK_EQ_U64(st.line_misses, 0);
	CHECK_EQ_U64(st.dwarf_errors, 0);
	CHECK_EQ_U64(st.debug_files, debug_dir ? 1 : 0);

	/* Only the frame the last look-up returned can be given a line. */
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)c.pid, a.alpha, &f), 0);
	CHECK_EQ_U64(symbolizer__kernel(sym, 0, &f), -ENOENT);
	CHECK_EQ_U64(symbolizer__user_line(sym, &f), -EINVAL);
	CHECK(f.file == NULL && f.line == 0);
	CHECK_EQ_U64(child__reap(&c), 0);
	symbolizer__free(sym);
}

/*
 * Lines are looked up in DWARF once per (file, address): another batch and
 * another process running the same file get them from the cache, which keeps
 * max_cached_lines addresses and forgets a file's lines with its DWARF.
 */
static void test_line_cache(void)
{
	static const char exe_src[] = SONDE_SOURCE_DIR "/tests/fixtures/fixture_exe.c";
	struct symbolizer_opts opts = {.max_elf_files = 1, .max_cached_lines = 2};
	struct symbolizer *sym = symbolizer__new(&opts);
	unsigned int a_lo, a_hi, call;
	struct symbolizer_stats st;
	struct fixture_addrs a1, a2;
	struct sym_frame f;
	struct child c1, c2;

	CHECK(sym != NULL);
	if (!sym)
		return;
	CHECK(function_lines(exe_src, "void *fixture_exe_alpha(void)\n", &a_lo, &a_hi));
	call = source_line(exe_src, "= fixture_lib_beta();", a_lo);
	if (child__spawn(FIXTURE_PIE, &c1, &a1)) {
		CHECK(0);
		goto out_free;
	}
	if (child__spawn(FIXTURE_PIE, &c2, &a2)) {
		CHECK(0);
		goto out_reap1;
	}
	check_line(sym, c1.pid, a1.alpha, "/tests/fixtures/fixture_exe.c", a_lo, a_hi);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.line_cache_hits, 0);
	CHECK_EQ_U64(st.line_cache_entries, 1);
	/* The next profile, the other process: its own address, the same file address. */
	symbolizer__begin(sym);
	check_line(sym, c2.pid, a2.alpha, "/tests/fixtures/fixture_exe.c", a_lo, a_hi);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.line_cache_hits, 1);
	CHECK_EQ_U64(st.line_hits, 2);
	/* Two more addresses: the bound holds, the least recently used goes. */
	check_line(sym, c1.pid, a1.alpha_return - 1, "/tests/fixtures/fixture_exe.c", call, call);
	check_line(sym, c1.pid, a1.alpha + 1, "/tests/fixtures/fixture_exe.c", a_lo, a_hi);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.line_cache_entries, 2);
	CHECK_EQ_U64(st.line_cache_evictions, 1);
	CHECK(st.line_cache_bytes > 0);
	/* The library takes the only ELF slot: the executable's DWARF goes, and its lines. */
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)c1.pid, a1.beta, &f), 0);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.elf_cached, 1);
	CHECK_EQ_U64(st.line_cache_entries, 0);
	/* Read again from the reopened DWARF, and right. */
	check_line(sym, c1.pid, a1.alpha_return - 1, "/tests/fixtures/fixture_exe.c", call, call);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.line_cache_hits, 1);
	CHECK_EQ_U64(st.line_cache_entries, 1);
	CHECK_EQ_U64(st.dwarf_errors, 0);

	CHECK_EQ_U64(child__reap(&c2), 0);
out_reap1:
	CHECK_EQ_U64(child__reap(&c1), 0);
out_free:
	symbolizer__free(sym);
}

/* The .text section of the ELF file at fd: its link-time range. */
static bool text_range(int fd, uint64_t *start, uint64_t *end)
{
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool found = false;

	if (!e || elf_getshdrstrndx(e, &shstrndx)) {
		elf_end(e);
		return false;
	}
	while (!found && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (name && strcmp(name, ".text") == 0) {
			*start = sh.sh_addr;
			*end = sh.sh_addr + sh.sh_size;
			found = true;
		}
	}
	elf_end(e);
	return found;
}

/*
 * Inlined calls are found from the function that holds an address, through
 * the per-unit index: across this test's own optimized code, the very same
 * chains as dwarf_getscopes walking each unit from the top gives.
 */
/*
 * Over the cap on open DWARF, the least recently used file's DWARF is closed
 * and opened again when a line is asked of it; the frame cache still names
 * the addresses named before without it.
 */
static void test_dwarf_cap(void)
{
	static const char exe_src[] = SONDE_SOURCE_DIR "/tests/fixtures/fixture_exe.c";
	static const char lib_src[] = SONDE_SOURCE_DIR "/tests/fixtures/fixture_lib.c";
	struct symbolizer_opts opts = {.max_dwarf_bytes = 1};
	struct symbolizer *sym = symbolizer__new(&opts);
	unsigned int a_lo, a_hi, b_lo, b_hi;
	struct symbolizer_stats st, st1;
	struct fixture_addrs a;
	struct sym_frame f;
	struct child c;

	CHECK(sym != NULL);
	if (!sym)
		return;
	CHECK(function_lines(exe_src, "void *fixture_exe_alpha(void)\n", &a_lo, &a_hi));
	CHECK(function_lines(lib_src, "void *fixture_lib_beta(void)\n", &b_lo, &b_hi));
	if (child__spawn(FIXTURE_PIE, &c, &a)) {
		CHECK(0);
		symbolizer__free(sym);
		return;
	}
	check_line(sym, c.pid, a.alpha, "/tests/fixtures/fixture_exe.c", a_lo, a_hi);
	symbolizer__stats(sym, &st);
	CHECK(st.dwarf_bytes > 0);
	CHECK_EQ_U64(st.dwarf_closed, 0);
	/* The library's DWARF opens: the executable's, least recently used, closes. */
	check_line(sym, c.pid, a.beta + 2, "/tests/fixtures/fixture_lib.c", b_lo, b_hi);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.dwarf_closed, 1);
	/* Asked again, the executable's DWARF is read again, and right. */
	check_line(sym, c.pid, a.alpha + 1, "/tests/fixtures/fixture_exe.c", a_lo, a_hi);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.dwarf_closed, 2);
	CHECK_EQ_U64(st.dwarf_errors, 0);
	/* Named once through the frame cache, an address needs no DWARF again. */
	CHECK_EQ_U64(symbolizer__user_named(sym, (uint32_t)c.pid, 0, a.beta + 2, &f), 0);
	CHECK(f.file && ends_with(f.file, "/tests/fixtures/fixture_lib.c"));
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.dwarf_closed, 3);
	CHECK_EQ_U64(symbolizer__user_named(sym, (uint32_t)c.pid, 0, a.alpha + 1, &f), 0);
	CHECK_EQ_U64(symbolizer__user_named(sym, (uint32_t)c.pid, 0, a.beta + 2, &f), 0);
	CHECK_STR(f.name, "fixture_lib_beta");
	CHECK(f.file && ends_with(f.file, "/tests/fixtures/fixture_lib.c"));
	CHECK(f.line >= b_lo && f.line <= b_hi);
	symbolizer__stats(sym, &st1);
	CHECK_EQ_U64(st1.frame_cache_hits - st.frame_cache_hits, 1);
	CHECK_EQ_U64(st1.dwarf_closed, 4);
	CHECK_EQ_U64(child__reap(&c), 0);
	symbolizer__free(sym);
}

static void test_inline_index(void)
{
	struct sym_dwarf fast, ref;
	struct sym_inline a[SYM_MAX_INLINE], b[SYM_MAX_INLINE];
	uint64_t start = 0, end = 0, looked = 0, same = 0, inlined = 0;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(text_range(fd, &start, &end));
	CHECK_EQ_U64(sym_dwarf__open(&fast, fd, NULL), 0);
	CHECK_EQ_U64(sym_dwarf__open(&ref, fd, NULL), 0);
	close(fd);
	ref.always_walk = true;
	for (uint64_t va = start; va < end; va += 37) {
		const char *fa = NULL, *fb = NULL;
		uint32_t la = 0, lb = 0;
		size_t na = 0, nb = 0;
		int ea = sym_dwarf__find(&fast, va, &fa, &la, a, SYM_MAX_INLINE, &na);
		int eb = sym_dwarf__find(&ref, va, &fb, &lb, b, SYM_MAX_INLINE, &nb);
		bool eq = ea == eb && na == nb;

		looked++;
		for (size_t i = 0; eq && i < na; i++)
			eq = strcmp(a[i].name, b[i].name) == 0 &&
			     a[i].call_line == b[i].call_line &&
			     (a[i].call_file == b[i].call_file ||
			      (a[i].call_file && b[i].call_file &&
			       strcmp(a[i].call_file, b[i].call_file) == 0));
		if (!eq)
			fprintf(stderr,
				"%#" PRIx64 ": %zu inlined calls, the unit walk finds %zu\n", va,
				na, nb);
		same += eq;
		inlined += na > 0;
	}
	CHECK(looked > 1000);
	CHECK_EQ_U64(same, looked);
	CHECK_EQ_U64(fast.scope_walks, 0);
	printf("inline index: %" PRIu64 " addresses, %" PRIu64 " in inlined code, %zu units "
	       "indexed\n",
	       looked, inlined, fast.nr_units);
	sym_dwarf__release(&fast);
	sym_dwarf__release(&ref);
}

/* A call inlined into a call that is itself inlined, whatever the build's optimization. */
static unsigned int nest_callee_line, nest_inner_call, nest_outer_call;

static __attribute__((noinline)) uint64_t nest_callee(void)
{
	return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

static inline __attribute__((always_inline)) uint64_t nest_inner(void)
{
	uint64_t ra;

	nest_callee_line = __LINE__, ra = nest_callee();
	return ra;
}

static inline __attribute__((always_inline)) uint64_t nest_outer(void)
{
	uint64_t ra;

	nest_inner_call = __LINE__, ra = nest_inner();
	return ra;
}

static __attribute__((noinline)) uint64_t nest_probe(volatile uint64_t *sink)
{
	uint64_t ra;

	nest_outer_call = __LINE__, ra = nest_outer();
	*sink = ra;
	return ra;
}

/* Every level of nested inlining is named, innermost first, with its call site. */
static void test_nested_inline(void)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	volatile uint64_t sink = 0;
	uint64_t ra = nest_probe(&sink);
	struct sym_frame f;

	CHECK(sym != NULL);
	if (!sym)
		return;
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)getpid(), ra - 1, &f), 0);
	CHECK_STR(f.name, "nest_probe");
	CHECK_EQ_U64(symbolizer__user_line(sym, &f), 0);
	CHECK(ends_with(f.file, "/tests/test_symbolizer.c"));
	CHECK_EQ_U64(f.line, nest_callee_line);
	CHECK_EQ_U64(f.n_inlined, 2);
	if (f.n_inlined == 2) {
		CHECK_STR(f.inlined[0].name, "nest_inner");
		CHECK_EQ_U64(f.inlined[0].call_line, nest_inner_call);
		CHECK(ends_with(f.inlined[0].call_file, "/tests/test_symbolizer.c"));
		CHECK_STR(f.inlined[1].name, "nest_outer");
		CHECK_EQ_U64(f.inlined[1].call_line, nest_outer_call);
	}
	symbolizer__free(sym);
}

/* tests/asm_probe.S */
int sonde_asm_probe(void);

/* Code whose unit has lines but no function: its line, and no inlined calls. */
static void test_asm_lines(void)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	uint64_t addr = (uint64_t)(uintptr_t)sonde_asm_probe;
	struct sym_frame f;

	CHECK(sym != NULL);
	if (!sym)
		return;
	CHECK_EQ_U64(sonde_asm_probe(), 0);
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)getpid(), addr, &f), 0);
	CHECK_STR(f.name, "sonde_asm_probe");
	CHECK_EQ_U64(symbolizer__user_line(sym, &f), 0);
	CHECK(ends_with(f.file, "/tests/asm_probe.S"));
	CHECK_EQ_U64(f.line, source_line(SONDE_SOURCE_DIR "/tests/asm_probe.S", "xorl", 1));
	CHECK_EQ_U64(f.n_inlined, 0);
	symbolizer__free(sym);
}

/* A file without DWARF: no line, counted, and its DWARF looked for only once. */
static void test_user_no_lines(void)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct symbolizer_stats st;
	struct fixture_addrs a;
	struct sym_frame f;
	struct child c;

	CHECK(sym != NULL);
	if (!sym)
		return;
	if (child__spawn(FIXTURE_DYNSYM, &c, &a)) {
		CHECK(0);
		symbolizer__free(sym);
		return;
	}
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)c.pid, a.alpha, &f), 0);
		CHECK_STR(f.name, "fixture_exe_alpha");
		CHECK_EQ_U64(symbolizer__user_line(sym, &f), -ENOENT);
		CHECK(f.file == NULL && f.line == 0);
		symbolizer__begin(sym);
	}
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.line_hits, 0);
	CHECK_EQ_U64(st.line_misses, 2);
	CHECK_EQ_U64(st.dwarf_errors, 0);
	CHECK_EQ_U64(child__reap(&c), 0);
	symbolizer__free(sym);
}

/* This test's own code, as the build compiled it (optimized in a plain build). */
static unsigned int probe_call_line;

static __attribute__((noinline)) uint64_t line_probe_callee(void)
{
	return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

static __attribute__((noinline)) uint64_t line_probe(volatile uint64_t *sink)
{
	uint64_t ra;

	probe_call_line = __LINE__, ra = line_probe_callee();
	*sink = ra;
	return ra;
}

static void test_self_lines(void)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	volatile uint64_t sink = 0;
	uint64_t ra = line_probe(&sink);
	struct sym_frame f;

	CHECK(sym != NULL);
	if (!sym)
		return;
	CHECK_EQ_U64(symbolizer__user(sym, (uint32_t)getpid(), ra - 1, &f), 0);
	CHECK_STR(f.name, "line_probe");
	CHECK_EQ_U64(symbolizer__user_line(sym, &f), 0);
	CHECK(ends_with(f.file, "/tests/test_symbolizer.c"));
	CHECK_EQ_U64(f.line, probe_call_line);
	symbolizer__free(sym);
}

/* ---- fake proc roots ---- */

static void test_missing_pid(const char *dir)
{
	struct symbolizer_opts opts = {.proc_root = dir};
	struct symbolizer *sym = symbolizer__new(&opts);
	struct symbolizer_stats st;
	struct sym_frame f;
	int err;

	CHECK(sym != NULL);
	if (!sym)
		return;
	err = symbolizer__user(sym, 999999, 0x401000, &f);
	CHECK(err < 0);
	CHECK(f.name == NULL && f.map_path == NULL);
	err = symbolizer__user(sym, 999999, 0x401000, &f);
	CHECK(err < 0);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.maps_read_errors, 1); /* remembered for the batch */
	CHECK_EQ_U64(st.user_lookups, 2);
	/* A process found gone stays gone for a while, across profiles: no new read. */
	symbolizer__begin(sym);
	CHECK(symbolizer__user(sym, 999999, 0x401000, &f) < 0);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.maps_read_errors, 1);
	/* An empty maps file (a process that just exited) is no better. */
	{
		char path[4096];

		snprintf(path, sizeof(path), "%s/31337/maps", dir);
		write_file(path, "", 0);
		CHECK_EQ_U64(symbolizer__user(sym, 31337, 0x401000, &f), -ESRCH);
	}
	/*
	 * Under churn a query meets tens of thousands of exited pids: nearly all
	 * of them must still be remembered at the next profile (a direct-mapped
	 * table lost one in seven to collisions).
	 */
	{
		uint64_t before;

		symbolizer__begin(sym);
		for (uint32_t pid = 100000; pid < 120000; pid++)
			symbolizer__user(sym, pid, 0x401000, &f);
		symbolizer__stats(sym, &st);
		before = st.maps_read_errors;
		symbolizer__begin(sym);
		for (uint32_t pid = 100000; pid < 120000; pid++)
			symbolizer__user(sym, pid, 0x401000, &f);
		symbolizer__stats(sym, &st);
		CHECK(st.maps_read_errors - before <= 200);
	}
	symbolizer__free(sym);

	/* And a real pid that cannot exist. */
	sym = symbolizer__new(NULL);
	if (sym) {
		CHECK_EQ_U64(symbolizer__user(sym, 0x7ffffff0, 0x401000, &f), -ESRCH);
		symbolizer__free(sym);
	}
}

static int write_maps(const char *dir, uint32_t pid, const char *text)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%u/maps", dir, pid);
	return write_file(path, text, strlen(text));
}

/*
 * A process that exits before its profile is built: maps read at its first
 * sample (symbolizer__prefetch) and its files opened then still name its
 * frames after /proc/PID is gone, until keep_exited_ns has passed.
 */
static void test_exited(const char *dir, uint64_t beta_off, uint64_t keep_ns, bool named_later)
{
	struct symbolizer_opts opts = {.proc_root = dir, .keep_exited_ns = keep_ns};
	struct symbolizer *sym;
	struct symbolizer_stats st;
	char path[4096], maps[512];
	struct sym_frame f;
	size_t len;
	char *lib = read_file(FIXTURE_LIB, &len);
	uint64_t ino;

	CHECK(lib != NULL);
	if (!lib)
		return;
	snprintf(path, sizeof(path), "%s/5151/root/lib/short.so", dir);
	CHECK_EQ_U64(write_file(path, lib, len), 0);
	ino = inode_of(path);
	snprintf(maps, sizeof(maps),
		 "7f0000000000-7f0000010000 r-xp 00000000 fe:00 %" PRIu64 " /lib/short.so\n", ino);
	CHECK_EQ_U64(write_maps(dir, 5151, maps), 0);
	sym = symbolizer__new(&opts);
	CHECK(sym != NULL);
	if (!sym)
		goto out_free;
	CHECK_EQ_U64(symbolizer__prefetch(sym, 5151, 0), 0);
	CHECK_EQ_U64(symbolizer__prefetch(sym, 5152, 0), -ESRCH); /* never existed */

	/* It exits: no maps, no root, no file on the host path either. */
	snprintf(path, sizeof(path), "%s/5151/maps", dir);
	CHECK_EQ_U64(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/5151/root/lib/short.so", dir);
	CHECK_EQ_U64(unlink(path), 0);

	symbolizer__begin(sym);
	CHECK_EQ_U64(symbolizer__user(sym, 5151, 0x7f0000000000ULL + beta_off, &f), 0);
	CHECK_STR(f.name, "fixture_lib_beta");
	CHECK_STR(f.map_path, "/lib/short.so");
	/* A later profile: named while the history can still refer to it. */
	usleep(2000);
	symbolizer__begin(sym);
	if (named_later) {
		CHECK_EQ_U64(symbolizer__user(sym, 5151, 0x7f0000000000ULL + beta_off, &f), 0);
		CHECK_STR(f.name, "fixture_lib_beta");
	} else {
		CHECK_EQ_U64(symbolizer__user(sym, 5151, 0x7f0000000000ULL + beta_off, &f), -ESRCH);
	}
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.prefetches, 2);
	CHECK_EQ_U64(st.exited_kept, 1);
	CHECK_EQ_U64(st.exited_hits, named_later ? 1 : 0);
	printf("exited process, kept %" PRIu64 " ns: %" PRIu64 " kept, %" PRIu64
	       " look-ups from kept maps\n",
	       keep_ns, st.exited_kept, st.exited_hits);
out_free:
	symbolizer__free(sym);
	free(lib);
}

/*
 * Mappings of missing, truncated, garbage and oddly named files under a fake
 * root; a copy of the fixture library is reachable under root/ (with a space
 * in its name) and under map_files/ (deleted).
 */
/* A fake /proc/PID/stat whose process name has a ") " in it and started at start ticks. */
static int write_stat(const char *dir, uint32_t pid, uint64_t start)
{
	char path[4096], text[512];

	snprintf(path, sizeof(path), "%s/%u/stat", dir, pid);
	snprintf(text, sizeof(text),
		 "%u (odd) name) S 1 %u %u 0 -1 4194560 100 0 0 0 5 1 0 0 20 0 1 0 %" PRIu64
		 " 1000000 200 18446744073709551615\n",
		 pid, pid, pid, start);
	return write_file(path, text, strlen(text));
}

/*
 * A pid reused by another process: each process's frames are named from its
 * own maps, whether the new process was announced (prefetch) or found when
 * the old one's maps were read again.
 */
static void test_pid_reuse(const char *dir, uint64_t beta_off)
{
	struct symbolizer_opts opts = {.proc_root = dir};
	uint64_t tick = 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK), ino;
	const uint64_t a_base = 0x7f1000000000ull, b_base = 0x7f2000000000ull;
	struct symbolizer_stats st;
	char path[4096], maps[512];
	struct symbolizer *sym;
	struct sym_frame f;
	size_t len;
	char *lib;

	lib = read_file(FIXTURE_LIB, &len);
	CHECK(lib != NULL);
	if (!lib)
		return;
	snprintf(path, sizeof(path), "%s/777/root/lib/reuse.so", dir);
	CHECK_EQ_U64(write_file(path, lib, len), 0);
	free(lib);
	ino = inode_of(path);

	for (int announced = 1; announced >= 0; announced--) {
		sym = symbolizer__new(&opts);
		CHECK(sym != NULL);
		if (!sym)
			return;
		/* Process A, started at tick 1000, has the library at a_base. */
		snprintf(maps, sizeof(maps),
			 "%" PRIx64 "-%" PRIx64 " r-xp 00000000 fe:00 %" PRIu64 " /lib/reuse.so\n",
			 a_base, a_base + 0x100000, ino);
		CHECK_EQ_U64(write_maps(dir, 777, maps), 0);
		CHECK_EQ_U64(write_stat(dir, 777, 1000), 0);
		if (announced)
			CHECK_EQ_U64(symbolizer__prefetch(sym, 777, 1000 * tick + 5), 0);
		CHECK_EQ_U64(symbolizer__user_of(sym, 777, 1000 * tick, a_base + beta_off, &f), 0);
		CHECK_STR(f.name, "fixture_lib_beta");

		/* A exits; B, started at tick 2000, takes pid 777 with another layout. */
		snprintf(maps, sizeof(maps),
			 "%" PRIx64 "-%" PRIx64 " r-xp 00000000 fe:00 %" PRIu64 " /lib/reuse.so\n",
			 b_base, b_base + 0x100000, ino);
		CHECK_EQ_U64(write_maps(dir, 777, maps), 0);
		CHECK_EQ_U64(write_stat(dir, 777, 2000), 0);
		symbolizer__begin(sym);
		if (announced)
			CHECK_EQ_U64(symbolizer__prefetch(sym, 777, 2000 * tick), 0);

		/* A's frames: still A's maps, though the pid now runs B. */
		CHECK_EQ_U64(symbolizer__user_of(sym, 777, 1000 * tick, a_base + beta_off, &f), 0);
		CHECK_STR(f.name, "fixture_lib_beta");
		CHECK_EQ_U64(symbolizer__user_of(sym, 777, 1000 * tick, b_base + beta_off, &f),
			     -ENOENT);
		/* B's frames: B's maps only. */
		CHECK_EQ_U64(symbolizer__user_of(sym, 777, 2000 * tick, b_base + beta_off, &f), 0);
		CHECK_STR(f.name, "fixture_lib_beta");
		CHECK_EQ_U64(symbolizer__user_of(sym, 777, 2000 * tick, a_base + beta_off, &f),
			     -ENOENT);
		/* A third process of that pid, never seen: nothing, rather than B's names. */
		CHECK_EQ_U64(symbolizer__user_of(sym, 777, 3000 * tick, b_base + beta_off, &f),
			     -ESRCH);
		/* And a look-up that does not say which process: the one running. */
		CHECK_EQ_U64(symbolizer__user(sym, 777, b_base + beta_off, &f), 0);
		CHECK_STR(f.name, "fixture_lib_beta");
		symbolizer__stats(sym, &st);
		CHECK_EQ_U64(st.exited_kept, 1);
		CHECK_EQ_U64(st.pid_reuses, announced ? 1 : 0);
		CHECK_EQ_U64(st.proc_cached, 2);
		symbolizer__free(sym);
	}
}

static void test_fake_maps(const char *dir, uint64_t beta_off)
{
	struct symbolizer_opts opts = {.proc_root = dir};
	struct symbolizer *sym = NULL;
	struct symbolizer_stats st;
	char path[4096], maps[8192];
	uint64_t ino_space, ino_trunc, ino_garbage, ino_gone;
	struct sym_frame f;
	size_t len;
	char *lib;
	int err;

	lib = read_file(FIXTURE_LIB, &len);
	CHECK(lib != NULL && len > 4096);
	if (!lib || len <= 4096)
		goto out_free;
	snprintf(path, sizeof(path), "%s/4242/root/lib/with space.so", dir);
	CHECK_EQ_U64(write_file(path, lib, len), 0);
	ino_space = inode_of(path);
	snprintf(path, sizeof(path), "%s/4242/root/lib/trunc.so", dir);
	CHECK_EQ_U64(write_file(path, lib, 700), 0);
	ino_trunc = inode_of(path);
	snprintf(path, sizeof(path), "%s/4242/root/lib/garbage.so", dir);
	CHECK_EQ_U64(write_file(path, "\177ELF\002\001\001garbage garbage garbage", 30), 0);
	ino_garbage = inode_of(path);
	snprintf(path, sizeof(path), "%s/4242/map_files/7f0000300000-7f0000310000", dir);
	CHECK_EQ_U64(write_file(path, lib, len), 0);
	ino_gone = inode_of(path);
	/* A FIFO must never be opened (it would block). */
	snprintf(path, sizeof(path), "%s/4242/root/lib/fifo.so", dir);
	mkfifo(path, 0600);

	snprintf(maps, sizeof(maps),
		 "this is not a maps line\n"
		 "7f0000000000-7f0000010000 r-xp 00000000 fe:00 %" PRIu64 " /lib/with space.so\n"
		 "7f0000100000-7f0000110000 r-xp 00000000 fe:00 %" PRIu64 " /lib/trunc.so\n"
		 "7f0000200000-7f0000210000 r-xp 00000000 fe:00 %" PRIu64 " /lib/garbage.so\n"
		 "7f0000300000-7f0000310000 r-xp 00000000 fe:00 %" PRIu64
		 " /lib/gone.so (deleted)\n"
		 "7f0000400000-7f0000410000 r-xp 00000000 fe:00 999 /lib/missing.so\n"
		 "7f0000500000-7f0000510000 r-xp 00000000 fe:00 998 /lib/fifo.so\n"
		 "7f0000600000-7f0000610000 rwxp 00000000 00:00 0 \n"
		 "7f0000700000-7f0000710000 rw-p 00000000 fe:00 997 /lib/not-exec.so\n"
		 "7f0000800000-7f0000810000 r-xp 00000000 00:00 0   [anon:jit]\n"
		 "7f000",
		 ino_space, ino_trunc, ino_garbage, ino_gone);
	CHECK_EQ_U64(write_maps(dir, 4242, maps), 0);

	sym = symbolizer__new(&opts);
	CHECK(sym != NULL);
	if (!sym)
		goto out_free;

	err = symbolizer__user(sym, 4242, 0x7f0000000000ULL + beta_off + 1, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.name, "fixture_lib_beta");
	CHECK_EQ_U64(f.sym_offset, 1);
	CHECK_STR(f.map_path, "/lib/with space.so");
	CHECK(is_build_id(f.build_id));

	err = symbolizer__user(sym, 4242, 0x7f0000300000ULL + beta_off, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.name, "fixture_lib_beta");
	CHECK_STR(f.map_path, "/lib/gone.so");

	for (uint64_t base = 0x7f0000100000ULL; base <= 0x7f0000500000ULL; base += 0x100000) {
		if (base == 0x7f0000300000ULL)
			continue;
		err = symbolizer__user(sym, 4242, base + beta_off, &f);
		CHECK_EQ_U64(err, 0);
		CHECK(f.name == NULL);
		CHECK(f.map_path != NULL && !strncmp(f.map_path, "/lib/", 5));
		CHECK_EQ_U64(f.map_start, base);
	}
	err = symbolizer__user(sym, 4242, 0x7f0000600010ULL, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.map_path, "[anon]");
	CHECK(f.name == NULL);
	err = symbolizer__user(sym, 4242, 0x7f0000800010ULL, &f);
	CHECK_EQ_U64(err, 0);
	CHECK_STR(f.map_path, "[anon:jit]");
	CHECK_EQ_U64(symbolizer__user(sym, 4242, 0x7f0000700010ULL, &f), -ENOENT);

	symbolizer__stats(sym, &st);
	CHECK(st.elf_errors >= 3); /* missing, fifo, garbage; trunc may parse to nothing */
	CHECK_EQ_U64(st.maps_read_errors, 0);
	CHECK_EQ_U64(st.user_no_mapping, 1);

	/* Batches: new maps are read only after symbolizer__begin. */
	snprintf(maps, sizeof(maps),
		 "7f0000000000-7f0000010000 r-xp 00000000 fe:00 %" PRIu64 " /lib/gone.so\n",
		 ino_space);
	CHECK_EQ_U64(write_maps(dir, 4242, maps), 0);
	CHECK_EQ_U64(symbolizer__user(sym, 4242, 0x7f0000000000ULL + beta_off, &f), 0);
	CHECK_STR(f.map_path, "/lib/with space.so");
	symbolizer__begin(sym);
	CHECK_EQ_U64(symbolizer__user(sym, 4242, 0x7f0000000000ULL + beta_off, &f), 0);
	CHECK_STR(f.map_path, "/lib/gone.so");
	/* Not there under root/ nor map_files/, but (device, inode) is cached already. */
	CHECK_STR(f.name, "fixture_lib_beta");
	CHECK_EQ_U64(symbolizer__user(sym, 4242, 0x7f0000600010ULL, &f), -ENOENT);

out_free:
	symbolizer__free(sym);
	free(lib);
}

/* A small deterministic PRNG for the corruption test. */
static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Corrupt copies of the library: never a crash, never a name outside the file's strings. */
static void test_corrupt_elf(const char *dir, uint64_t beta_off)
{
	struct symbolizer_opts opts = {.proc_root = dir, .max_elf_files = 4};
	struct symbolizer *sym = symbolizer__new(&opts);
	uint64_t seed = 0x9e3779b97f4a7c15ULL, ino;
	struct symbolizer_stats st;
	char path[4096], maps[512];
	size_t len;
	char *lib, *copy = NULL;
	int lookups = 0, named = 0;

	lib = read_file(FIXTURE_LIB, &len);
	CHECK(sym != NULL && lib != NULL);
	if (!sym || !lib)
		goto out_free;
	copy = malloc(len);
	if (!copy)
		goto out_free;
	snprintf(path, sizeof(path), "%s/5000/root/lib/fuzz.so", dir);
	for (int iter = 0; iter < 400; iter++) {
		int flips = 1 + (int)(xorshift(&seed) % 24);

		memcpy(copy, lib, len);
		for (int i = 0; i < flips; i++) {
			uint64_t r = xorshift(&seed);
			/* Half the flips land in the headers, where they hurt most. */
			size_t pos = r & 1 ? (r >> 8) % 128 : (r >> 8) % len;

			if (r & 2)
				pos = len - 1 - (r >> 16) % (len < 2048 ? len : 2048);
			copy[pos] = (char)(xorshift(&seed) & 0xff);
		}
		/* Sometimes also cut the file short. */
		if (write_file(path, copy, iter % 5 == 4 ? (size_t)(xorshift(&seed) % len) : len))
			break;
		ino = inode_of(path);
		/* A new device number per round: a new cache key for the same inode. */
		snprintf(maps, sizeof(maps),
			 "10000000-10010000 r-xp 00000000 00:%x %" PRIu64 " /lib/fuzz.so\n",
			 iter + 1, ino);
		write_maps(dir, 5000, maps);
		symbolizer__begin(sym);
		for (uint64_t off = 0; off < 0x4000; off += 0x30) {
			struct sym_frame f;

			lookups++;
			if (symbolizer__user(sym, 5000, 0x10000000 + off, &f))
				continue;
			if (f.name) {
				named++;
				CHECK(strlen(f.name) < 4096);
			}
		}
		{
			struct sym_frame f;

			if (!symbolizer__user(sym, 5000, 0x10000000 + beta_off, &f) && f.name)
				named++;
		}
	}
	symbolizer__stats(sym, &st);
	CHECK(st.user_lookups > 0);
	CHECK(st.elf_cached <= 4);
	CHECK(lookups > 0);
	printf("corrupt ELF: %d look-ups, %d named, %" PRIu64 " unreadable files\n", lookups, named,
	       st.elf_errors);
out_free:
	free(copy);
	free(lib);
	symbolizer__free(sym);
}

static void test_perfmap_parse(void)
{
	struct perfmap_entry e;
	static const char *const bad[] = {
		"",
		"7f00 10",
		"7f00 0 zero_size",
		"7f00 10 ",
		"xyz 10 f",
		"7f00 1g f",
		"7f00\t",
		"ffffffffffffffff 2 past_the_end",
		"11112222333344445 10 too_many_digits",
		"0x 10 f",
		"7f00,10 f",
	};
	static const char l1[] = "7f1a2b3c4000 40 LazyCompile:~main /app.js:1\n";
	static const char l2[] = "0x1000 0x20 py::f:/x.py\r\n";
	static const char l3[] = "  10\t2\tname with\ttabs  ";
	char long_line[1200];

	CHECK(perfmap__parse_line(l1, strlen(l1), &e) == 0);
	CHECK_EQ_U64(e.start, 0x7f1a2b3c4000ull);
	CHECK_EQ_U64(e.size, 0x40);
	CHECK(e.name_len == 27 && !strncmp(e.name, "LazyCompile:~main /app.js:1", e.name_len));
	CHECK(perfmap__parse_line(l2, strlen(l2), &e) == 0);
	CHECK(e.start == 0x1000 && e.size == 0x20 && e.name_len == 11);
	CHECK(perfmap__parse_line(l3, strlen(l3), &e) == 0);
	CHECK(e.start == 0x10 && e.size == 2 && e.name_len == 14);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(perfmap__parse_line(bad[i], strlen(bad[i]), &e) == -EINVAL);
	/* A NUL inside the line. */
	CHECK(perfmap__parse_line("10 2 a\0b", 8, &e) == -EINVAL);
	/* Names are cut at 1024 bytes. */
	memset(long_line, 'n', sizeof(long_line));
	memcpy(long_line, "10 2 ", 5);
	CHECK(perfmap__parse_line(long_line, sizeof(long_line), &e) == 0);
	CHECK_EQ_U64(e.name_len, 1024);
}

/* An anonymous executable page of this process, named by /tmp/perf-PID.map. */
static void test_perfmap_live(void)
{
	struct symbolizer_opts so = {.proc_root = "/proc"};
	struct symbolizer *sym = symbolizer__new(&so);
	struct symbolizer_stats st;
	struct sym_frame f;
	char path[64];
	uint64_t base;
	FILE *map;
	void *page;

	page = mmap(NULL, 8192, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(page != MAP_FAILED && sym != NULL);
	if (page == MAP_FAILED || !sym)
		goto out;
	base = (uint64_t)(uintptr_t)page;
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());

	/* No perf map: the frame is in [anon], without a name. */
	unlink(path);
	symbolizer__begin(sym);
	CHECK(symbolizer__user(sym, (uint32_t)getpid(), base + 0x10, &f) == 0);
	CHECK(f.name == NULL);

	map = fopen(path, "w");
	CHECK(map != NULL);
	if (!map)
		goto out;
	/* A bad line is skipped; of two entries that overlap, the later one wins. */
	fprintf(map, "%" PRIx64 " 100 jit_first\nnot a line\n%" PRIx64 " 20 jit_reused\n", base,
		base + 0x40);
	fflush(map);
	symbolizer__begin(sym);
	CHECK(symbolizer__user(sym, (uint32_t)getpid(), base + 0x10, &f) == 0);
	CHECK_STR(f.name, "jit_first");
	CHECK_EQ_U64(f.sym_offset, 0x10);
	CHECK(symbolizer__user(sym, (uint32_t)getpid(), base + 0x48, &f) == 0);
	CHECK_STR(f.name, "jit_reused");
	CHECK(symbolizer__user(sym, (uint32_t)getpid(), base + 0x1000, &f) == 0);
	CHECK(f.name == NULL);

	/* The file grows: read again at the next batch; a half-written last line waits. */
	fprintf(map, "%" PRIx64 " 800 jit_second\n%" PRIx64 " 10 jit_half", base + 0x1000,
		base + 0x1900);
	fflush(map);
	symbolizer__begin(sym);
	CHECK(symbolizer__user(sym, (uint32_t)getpid(), base + 0x1004, &f) == 0);
	CHECK_STR(f.name, "jit_second");
	CHECK(symbolizer__user(sym, (uint32_t)getpid(), base + 0x1904, &f) == 0);
	CHECK(f.name == NULL);
	fclose(map);

	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.perfmap_loads, 2);
	CHECK_EQ_U64(st.perfmap_bad_lines, 2);
	CHECK_EQ_U64(st.perfmap_hits, 3);
	CHECK_EQ_U64(st.perfmap_errors, 0);

	/* The file is gone while the process lives (a reused pid): so are the names. */
	unlink(path);
	symbolizer__begin(sym);
	CHECK(symbolizer__user(sym, (uint32_t)getpid(), base + 0x10, &f) == 0);
	CHECK(f.name == NULL);
out:
	unlink(path);
	if (page != MAP_FAILED)
		munmap(page, 8192);
	symbolizer__free(sym);
}

/* ---- MiniDebugInfo ---- */

/* The xz decoder: a round trip, and streams that are truncated, corrupt or too big. */
static void test_xz(void)
{
	static const char text[] =
		"MiniDebugInfo: an ELF file inside .gnu_debugdata, xz-compressed";
	uint8_t enc[512];
	size_t enc_len = 0, len;
	void *out = NULL;

	CHECK_EQ_U64(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, (const uint8_t *)text,
					     sizeof(text), enc, &enc_len, sizeof(enc)),
		     LZMA_OK);
	CHECK_EQ_U64(xz_decompress(enc, enc_len, 1 << 20, &out, &len), 0);
	CHECK_EQ_U64(len, sizeof(text));
	CHECK(out && memcmp(out, text, sizeof(text)) == 0);
	free(out);
	/* Exactly big enough, and one byte short of it. */
	out = NULL;
	CHECK_EQ_U64(xz_decompress(enc, enc_len, sizeof(text) + 1, &out, &len), 0);
	free(out);
	out = NULL;
	CHECK_EQ_U64(xz_decompress(enc, enc_len, sizeof(text) - 1, &out, &len), -EFBIG);
	CHECK(out == NULL);
	CHECK_EQ_U64(xz_decompress(enc, enc_len - 9, 1 << 20, &out, &len), -EINVAL);
	CHECK_EQ_U64(xz_decompress(text, sizeof(text), 1 << 20, &out, &len), -EINVAL);
	CHECK_EQ_U64(xz_decompress(enc, 0, 1 << 20, &out, &len), -EINVAL);
	/* A flipped byte in the payload: the stream's CRC64 gives it away. */
	enc[enc_len / 2] ^= 0x55;
	CHECK_EQ_U64(xz_decompress(enc, enc_len, 1 << 20, &out, &len), -EINVAL);
}

/* The file offset and size of ELF data's section called name; 0 when absent. */
static uint64_t section_offset(void *data, size_t len, const char *name, uint64_t *size)
{
	Elf *e = elf_memory(data, len);
	Elf_Scn *scn = NULL;
	uint64_t off = 0;
	size_t shstrndx;
	GElf_Shdr sh;

	if (!e)
		return 0;
	if (elf_getshdrstrndx(e, &shstrndx) == 0)
		while (!off && (scn = elf_nextscn(e, scn)))
			if (gelf_getshdr(scn, &sh) &&
			    strcmp(elf_strptr(e, shstrndx, sh.sh_name) ?: "", name) == 0) {
				off = sh.sh_offset;
				*size = sh.sh_size;
			}
	elf_end(e);
	return off;
}

/* A stripped PIE whose .symtab lives in its .gnu_debugdata, live and then corrupted. */
static void test_minidebug(void)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct symbolizer_stats st;
	struct elf_image img = {0};
	struct fixture_addrs a;
	uint64_t off, size = 0;
	struct child c;
	size_t len;
	char *data;
	Elf *e;

	CHECK(sym != NULL);
	if (!sym)
		return;
	if (child__spawn(FIXTURE_MINI, &c, &a)) {
		CHECK(0);
		symbolizer__free(sym);
		return;
	}
	check_user(sym, c.pid, a.alpha, "fixture_exe_alpha", 0, "/fixture_minidebug");
	/* A local function: in no .dynsym, so only MiniDebugInfo can name it. */
	check_user(sym, c.pid, a.local, "fixture_exe_local", 0, "/fixture_minidebug");
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.minidebug_files, 1);
	CHECK_EQ_U64(st.minidebug_errors, 0);
	CHECK_EQ_U64(st.debug_files, 0);
	CHECK_EQ_U64(child__reap(&c), 0);
	symbolizer__free(sym);

	/* The same file with one byte of its compressed symbol table flipped. */
	data = read_file(FIXTURE_MINI, &len);
	CHECK(data != NULL);
	if (!data)
		return;
	off = section_offset(data, len, ".gnu_debugdata", &size);
	CHECK(off > 0 && size > 64 && off + size <= len);
	e = elf_memory(data, len);
	CHECK(e && elf_image__load(&img, e) == 0);
	CHECK(!img.has_symtab);
	CHECK_EQ_U64(elf_image__add_minidebug(&img, e), 0);
	CHECK(img.has_symtab);
	elf_image__release(&img);
	elf_end(e);
	if (off && off + size <= len) {
		data[off + size / 2] ^= 0x55;
		e = elf_memory(data, len);
		CHECK(e && elf_image__load(&img, e) == 0);
		CHECK_EQ_U64(elf_image__add_minidebug(&img, e), -EINVAL);
		CHECK(!img.has_symtab);
		elf_image__release(&img);
		elf_end(e);
	}
	free(data);
}

/* Announced kernel code names its range ahead of kallsyms, and keeps it after it went. */
static void test_ksymbol(void)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct symbolizer_stats st;
	struct sym_frame f;
	/* Far above any real kernel text, so the real kallsyms cannot answer here. */
	const uint64_t base = 0xfffffffffe000000ull;

	CHECK(sym != NULL);
	if (!sym)
		return;
	CHECK_EQ_U64(symbolizer__ksymbol(sym, base, 0x100, "bpf_prog_aa_first", false), 0);
	CHECK_EQ_U64(symbolizer__ksymbol(sym, base + 0x100, 0x100, "bpf_prog_bb_second", false), 0);
	CHECK_EQ_U64(symbolizer__kernel(sym, base + 0x10, &f), 0);
	CHECK_STR(f.name, "bpf_prog_aa_first");
	CHECK_EQ_U64(f.sym_offset, 0x10);
	CHECK_STR(f.map_path, "[bpf]");
	CHECK(f.map_start <= base && base + 0x200 <= f.map_limit);
	CHECK_EQ_U64(symbolizer__kernel(sym, base + 0x100, &f), 0);
	CHECK_STR(f.name, "bpf_prog_bb_second");
	/* The first goes: still named, for the windows it ran in. */
	CHECK_EQ_U64(symbolizer__ksymbol(sym, base, 0x100, "bpf_prog_aa_first", true), 0);
	CHECK_EQ_U64(symbolizer__kernel(sym, base + 0x10, &f), 0);
	CHECK_STR(f.name, "bpf_prog_aa_first");
	/* New code in its memory (overlapping both): the old names go. */
	CHECK_EQ_U64(symbolizer__ksymbol(sym, base + 0x80, 0x100, "bpf_prog_cc_third", false), 0);
	CHECK_EQ_U64(symbolizer__kernel(sym, base + 0x90, &f), 0);
	CHECK_STR(f.name, "bpf_prog_cc_third");
	CHECK_EQ_U64(symbolizer__kernel(sym, base + 0x10, &f), -ENOENT);
	CHECK_EQ_U64(symbolizer__ksymbol(sym, base, 0, "empty", false), -EINVAL);
	CHECK_EQ_U64(symbolizer__ksymbol(sym, UINT64_MAX - 4, 16, "wraps", false), -EINVAL);
	symbolizer__stats(sym, &st);
	CHECK_EQ_U64(st.ksymbols_added, 3);
	CHECK_EQ_U64(st.ksymbols_gone, 1);
	CHECK_EQ_U64(st.ksymbol_hits, 4);
	symbolizer__free(sym);
}

int main(void)
{
	char dir[] = "/tmp/sonde-symtest-XXXXXX";
	uint64_t beta_off = 0;

	signal(SIGPIPE, SIG_IGN);
	symbolizer__free(NULL); /* destructors accept NULL */
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_maps_parse();
	test_kallsyms_parse();
	test_perfmap_parse();
	test_perfmap_live();
	test_kernel_fake(dir);
	test_kernel_real();
	test_ksymbol();
	test_user_fixture(FIXTURE_PIE, "/fixture_pie", true, &beta_off);
	test_user_fixture(FIXTURE_NOPIE, "/fixture_nopie", true, NULL);
	test_user_fixture(FIXTURE_DYNSYM, "/fixture_dynsym", false, NULL);
	test_xz();
	test_minidebug();
	test_cache_sharing();
	test_lru();
	test_deleted_exe(dir);
	test_vdso();
	test_self_libc();
	test_user_lines(FIXTURE_PIE, NULL);
	test_user_lines(FIXTURE_NOPIE, NULL);
	test_user_lines(FIXTURE_STRIPPED, FIXTURE_DEBUG_DIR);
	test_line_cache();
	test_dwarf_cap();
	test_inline_index();
	test_nested_inline();
	test_asm_lines();
	test_user_no_lines();
	test_self_lines();
	test_missing_pid(dir);
	if (beta_off) {
		test_exited(dir, beta_off, 0, true);	 /* the default: 10 minutes */
		test_exited(dir, beta_off, 1000, false); /* 1 us: gone by the next profile */
	}
	CHECK(beta_off != 0);
	if (beta_off) {
		test_fake_maps(dir, beta_off);
		test_pid_reuse(dir, beta_off);
		test_corrupt_elf(dir, beta_off);
	}
	rm_tree(dir);
	return test__finish("test_symbolizer");
}
