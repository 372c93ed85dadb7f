// SPDX-License-Identifier: GPL-2.0
/*
 * The symbolizer: kernel addresses through /proc/kallsyms (symbolizer_kernel.c),
 * user addresses through /proc/PID/maps and the mapped ELF files
 * (symbolizer_elf.c), the vDSO through the daemon's own copy.
 *
 * Two caches, each a hash table plus an LRU list with a fixed cap:
 *  - processes, keyed by pid and start time (/proc/PID/stat's starttime, which
 *    the BPF programs read with every sample): the executable mappings from
 *    /proc/PID/maps, re-read at most once per batch (symbolizer__begin) so
 *    that exec is noticed; a failed read is remembered for the batch too.
 *    When a pid is reused, the old process's entry stays, as an exited one,
 *    beside the new process's: each sample is named from its own process;
 *  - ELF symbol tables, keyed by (device, inode) as /proc/PID/maps shows
 *    them, so that every process running a binary shares one table; a file
 *    that could not be read is remembered for the batch and retried after.
 *    Each file's DWARF (symbolizer_dwarf.c) is opened at its first line
 *    look-up, from the file or the separate debug file its symbols came from,
 *    and released with its entry.
 *
 * Anonymous executable memory (JIT code) is named from the process's perf
 * map, /tmp/perf-PID.map inside its root (PID as its own pid namespace
 * numbers it), checked once per batch and read again when it changed.
 *
 * Files are opened through /proc/PID/root with RESOLVE_IN_ROOT (the process's
 * view, even in another mount namespace), else /proc/PID/map_files (the very
 * file mapped, even when deleted), else the plain path; only regular files
 * are ever opened for reading, and the inode is checked against the maps line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <gelf.h>
#include <zlib.h>
#include <link.h>
#include <linux/openat2.h>

#include "clock.h"
#include "framecache.h"
#include "linecache.h"
#include "log.h"
#include "symbolizer_internal.h"

#define DEFAULT_MAX_ELF_FILES	128
#define DEFAULT_MAX_DWARF_BYTES ((size_t)32 << 20)
#define DEFAULT_DEBUG_DIR	"/usr/lib/debug"
#define DEBUG_MAX_CRC_BYTES	(1ull << 30) /* debug files checked by CRC up to 1 GiB */
#define DEFAULT_MAX_PROCESSES	8192	     /* live and exited; about 1.5 KiB each */
/* The default history retention: exited processes stay named for as long. */
#define DEFAULT_KEEP_EXITED_NS (600ull * 1000000000ull)
#define MAX_BUCKETS	       (1u << 16)
#define PROC_MAX_MAPS	       16384 /* exec mappings kept per process */
#define VDSO_MAX_SIZE	       (1u << 20)
#define PERFMAP_MAX_FILE       (16u << 20)  /* bytes of one perf map */
#define PERFMAP_MAX_SYMS       (1u << 20)   /* entries of one perf map */
#define PERFMAP_BUDGET	       (128u << 20) /* bytes of all perf-map tables together */
#define KDYN_MAX	       65536	    /* announced kernel symbols kept */
#define KSYM_NAME_MAX	       512	    /* the kernel's KSYM_NAME_LEN */

static const char deleted_suffix[] = " (deleted)";

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct lru {
	struct lru *prev, *next;
};

static void lru__init(struct lru *head)
{
	head->prev = head;
	head->next = head;
}

static void lru__del(struct lru *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n;
	n->next = n;
}

/* Puts n first (most recently used). */
static void lru__touch(struct lru *head, struct lru *n)
{
	lru__del(n);
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

enum map_kind {
	MAP_FILE,  /* a path: ELF symbols */
	MAP_VDSO,  /* "[vdso]": the daemon's own image */
	MAP_OTHER, /* anonymous (JIT) or another pseudo path: no symbols */
};

struct proc_map {
	uint64_t start, end, offset, inode;
	uint32_t dev_major, dev_minor;
	uint32_t path; /* offset in proc.paths, " (deleted)" stripped */
	uint8_t kind;
	bool deleted;
};

struct proc {
	struct proc *hnext;
	struct lru lru;
	uint32_t pid;
	uint64_t batch;	       /* when maps were last read */
	uint64_t read_ns;      /* the same, in monotonic ns */
	int err;	       /* the read failed: remembered for the batch */
	struct proc_map *maps; /* sorted by start */
	size_t nr_maps;
	struct strbuf paths;
	/*
	 * When the process was first found gone with its maps in hand (monotonic
	 * ns; 0: not known to have exited). Its maps then stay, unread again,
	 * until keep_exited_ns has passed: profiles of the windows it ran in
	 * still name its frames.
	 */
	uint64_t exited_ns;
	/* The perf map, when the process has one (JIT code); checked once per batch. */
	struct perfmap *perfmap;
	uint64_t perfmap_batch;
	uint32_t nspid; /* the pid in its own namespace, for the file name; 0: not read */
	/* /proc/PID/stat's starttime (clock ticks since boot); 0: unknown, matches any. */
	uint64_t start_ticks;
};

struct elf_key {
	uint64_t inode;
	uint32_t dev_major, dev_minor;
};

struct elf_file {
	struct elf_file *hnext;
	struct lru lru;
	struct elf_key key;
	uint64_t batch; /* when err: the batch of the failed load */
	int err;
	struct elf_image img;
	/* The separate debug file the symbols came from (reopened for DWARF), or NULL. */
	char *debug_path;
	bool debug_host; /* debug_path may be opened on the host, outside the process's root */
	struct sym_dwarf dwarf;
	int dwarf_err;	      /* 0 open, 1 never tried, < 0 the open failed (-ENODATA: no DWARF) */
	uint64_t dwarf_batch; /* batch of a failed open: tried again in a later batch */
	uint64_t dwarf_id;    /* this opening's lines in sym->lines; 0 when not open */
	size_t dwarf_bytes;   /* its debug sections, counted in sym->dwarf_bytes */
};

/* What the last symbolizer__user_of call found: the file a line look-up reads. */
struct last_user {
	const struct sym_frame *frame; /* NULL: the last call returned no user frame */
	/* The mapped file's entry, NULL for the vDSO, JIT code and unreadable files. */
	struct elf_file *file;
	const struct proc_map *map;
	const char *path;
	uint32_t pid;
	uint64_t off; /* file offset of the address */
};

struct symbolizer {
	char *proc_root;
	char *debug_dir; /* "/usr/lib/debug" unless a test says otherwise */
	uint64_t batch;
	struct symbolizer_stats stats;
	struct maps_entry scratch;		   /* one maps line, too big for the stack */
	struct last_user last;			   /* valid until the next call */
	struct sym_inline inlined[SYM_MAX_INLINE]; /* of the last line look-up */
	/* Lines of (DWARF opening, address), across batches; entries go with their DWARF. */
	struct linecache *lines;
	uint64_t next_dwarf_id;
	/* Names of (file, offset), across batches: symbolizer__user_named. */
	struct framecache *frames;
	size_t dwarf_bytes, max_dwarf_bytes; /* of the files' DWARF open */

	struct ksyms ksyms;
	int ksyms_err;	      /* 0 loaded, 1 never tried, < 0 the last load failed */
	uint64_t ksyms_batch; /* batch of the last load attempt */
	bool ksyms_stale;     /* records of dynamic kernel code were lost: read again */
	/*
	 * Kernel code announced since (BPF programs): sorted by start, never
	 * overlapping; it names its range before the kallsyms snapshot does.
	 * Entries that went stay, marked, until new code takes their memory:
	 * windows from before still name them.
	 */
	struct kdyn {
		uint64_t start, end;
		char *name;
		bool gone;
	} * kdyn;
	size_t nr_kdyn, cap_kdyn;
	uint64_t kdyn_min, kdyn_max; /* the range of all of them: one [bpf] mapping */

	struct elf_image vdso;
	int vdso_err; /* 0 loaded, 1 never tried, < 0 failed for good */
	uint64_t vdso_size;

	struct elf_file **elf_buckets;
	size_t elf_mask, nr_elf, max_elf;
	struct lru elf_lru;

	struct proc **proc_buckets;
	/*
	 * Processes found gone, in a 4-way set-associative table keyed by pid, so
	 * that exited processes neither fill the process cache nor get looked for
	 * at every profile. A set that is full loses its oldest entry: that only
	 * costs one more failed read of /proc/PID/maps.
	 */
	struct gone_slot {
		uint32_t pid;
		uint32_t when_s; /* monotonic seconds + 1; 0: free */
		uint32_t start;	 /* low bits of the start ticks looked for; 0: any */
	} * gone;
	size_t proc_mask, nr_proc, max_proc;
	struct lru proc_lru;
	uint64_t keep_exited_ns;
	uint64_t tick_ns;     /* one clock tick (USER_HZ) in ns: start times to /proc's units */
	size_t perfmap_bytes; /* held by all perf-map tables, under PERFMAP_BUDGET */
};

static size_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (size_t)x;
}

static size_t buckets_for(size_t cap)
{
	size_t n = 16;

	while (n < cap && n < MAX_BUCKETS)
		n <<= 1;
	return n;
}

/* ---- /proc/PID/maps ---- */

static int parse_dec(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return 0;
}

/*
 * "start-end perms offset major:minor inode   path". The path is the rest of
 * the line (spaces included, " (deleted)" kept as the kernel printed it).
 */
int maps__parse_line(const char *line, struct maps_entry *out)
{
	uint64_t major, minor;
	const char *p = line;
	size_t len;

	if (!line || !out)
		return -EINVAL;
	if (sym_parse_hex(&p, &out->start) || *p++ != '-')
		return -EINVAL;
	if (sym_parse_hex(&p, &out->end) || *p++ != ' ' || out->start >= out->end)
		return -EINVAL;
	if ((p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') ||
	    (p[2] != 'x' && p[2] != '-') || (p[3] != 'p' && p[3] != 's') || p[4] != ' ')
		return -EINVAL;
	out->exec = p[2] == 'x';
	p += 5;
	if (sym_parse_hex(&p, &out->offset) || *p++ != ' ')
		return -EINVAL;
	if (sym_parse_hex(&p, &major) || *p++ != ':' || major > UINT32_MAX)
		return -EINVAL;
	if (sym_parse_hex(&p, &minor) || minor > UINT32_MAX)
		return -EINVAL;
	out->dev_major = (uint32_t)major;
	out->dev_minor = (uint32_t)minor;
	if (*p++ != ' ' || parse_dec(&p, &out->inode))
		return -EINVAL;
	if (*p != ' ' && *p != '\n' && *p != '\0')
		return -EINVAL;
	while (*p == ' ')
		p++;
	len = strcspn(p, "\n");
	if (p[len] == '\n' && p[len + 1] != '\0')
		return -EINVAL;
	if (len >= sizeof(out->path))
		return -EINVAL;
	memcpy(out->path, p, len);
	out->path[len] = '\0';
	return 0;
}

static int proc_map_cmp(const void *a, const void *b)
{
	const struct proc_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int proc__add_map(struct proc *p, const struct maps_entry *ent, size_t *cap)
{
	static const char nul;
	size_t len = strlen(ent->path), dlen = sizeof(deleted_suffix) - 1;
	struct proc_map *m;
	const char *prev;
	int err;

	if (p->nr_maps == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct proc_map *nm;

		if (*cap >= PROC_MAX_MAPS)
			return 0;
		nm = realloc(p->maps, ncap * sizeof(*nm));
		if (!nm)
			return -ENOMEM;
		p->maps = nm;
		*cap = ncap;
	}
	m = &p->maps[p->nr_maps];
	memset(m, 0, sizeof(*m));
	m->start = ent->start;
	m->end = ent->end;
	m->offset = ent->offset;
	m->inode = ent->inode;
	m->dev_major = ent->dev_major;
	m->dev_minor = ent->dev_minor;
	if (!strcmp(ent->path, "[vdso]")) {
		m->kind = MAP_VDSO;
	} else if (ent->path[0] == '/') {
		m->kind = MAP_FILE;
		if (len > dlen && !strcmp(ent->path + len - dlen, deleted_suffix)) {
			m->deleted = true;
			len -= dlen;
		}
	} else {
		m->kind = MAP_OTHER;
	}
	/* Consecutive mappings of one file share the string. */
	prev = p->nr_maps ? p->paths.buf + p->maps[p->nr_maps - 1].path : NULL;
	if (prev && !strncmp(prev, ent->path, len) && prev[len] == '\0') {
		m->path = p->maps[p->nr_maps - 1].path;
	} else {
		if (p->paths.len > UINT32_MAX - len - 1)
			return -E2BIG;
		m->path = (uint32_t)p->paths.len;
		err = strbuf__append(&p->paths, ent->path, len);
		if (!err)
			err = strbuf__append(&p->paths, &nul, 1);
		if (err)
			return err;
	}
	p->nr_maps++;
	return 0;
}

static void proc__clear(struct proc *p)
{
	free(p->maps);
	p->maps = NULL;
	p->nr_maps = 0;
	strbuf__release(&p->paths);
	p->err = 0;
}

/*
 * The start time of pid, /proc/PID/stat's 22nd field (clock ticks since
 * boot), or 0 when it cannot be read (a fake proc root has no stat).
 */
static uint64_t proc__read_start(struct symbolizer *sym, uint32_t pid)
{
	char path[PATH_MAX], buf[1024], *at, *end;
	unsigned long long v;
	ssize_t n;
	int fd, field;

	n = snprintf(path, sizeof(path), "%s/%u/stat", sym->proc_root, pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The name in parentheses may hold anything: fields start after its last ')'. */
	at = strrchr(buf, ')');
	if (!at)
		return 0;
	/* ") S ppid ...": each space found starts the next field, from the state (3) to starttime
	 * (22). */
	for (field = 3; field <= 22 && at; field++)
		at = strchr(at + 1, ' ');
	if (!at)
		return 0;
	errno = 0;
	v = strtoull(at + 1, &end, 10);
	if (errno || end == at + 1 || *end != ' ')
		return 0;
	return v;
}

/* The start time the BPF programs saw (boot-time ns) in /proc's clock ticks; 0: unknown. */
static uint64_t start_ticks_of(const struct symbolizer *sym, uint64_t start_ns)
{
	return start_ns ? start_ns / sym->tick_ns : 0;
}

/* Whether an entry started at have serves a look-up for a process started at want. */
static bool start__matches(uint64_t have, uint64_t want)
{
	return !have || !want || have == want;
}

/*
 * Gives back what the arrays grew past: thousands of exited processes are
 * kept for the history, each with a handful of mappings, and the doubling
 * left most of their room unused (1.8 KiB of maps for 5 used).
 */
static void proc__fit(struct proc *p, size_t cap)
{
	struct proc_map *maps;
	char *paths;

	if (p->nr_maps && p->nr_maps < cap) {
		maps = realloc(p->maps, p->nr_maps * sizeof(*maps));
		if (maps)
			p->maps = maps;
	}
	if (p->paths.buf && p->paths.len + 1 < p->paths.cap) {
		paths = realloc(p->paths.buf, p->paths.len + 1);
		if (paths) {
			p->paths.buf = paths;
			p->paths.cap = p->paths.len + 1;
		}
	}
}

/* Reads the executable mappings of p->pid into p (cleared first). */
static int proc__read_maps(struct symbolizer *sym, struct proc *p)
{
	struct maps_entry *ent = &sym->scratch;
	size_t cap = 0, lines = 0;
	char *line = NULL;
	size_t line_cap = 0;
	bool sorted = true;
	char path[PATH_MAX];
	FILE *f;
	int err = 0, n;

	proc__clear(p);
	n = snprintf(path, sizeof(path), "%s/%u/maps", sym->proc_root, p->pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (getline(&line, &line_cap, f) > 0) {
		lines++;
		if (maps__parse_line(line, ent) || !ent->exec)
			continue;
		if (p->nr_maps && ent->start < p->maps[p->nr_maps - 1].start)
			sorted = false;
		err = proc__add_map(p, ent, &cap);
		if (err)
			goto err_clear;
	}
	if (ferror(f)) {
		err = -EIO;
		goto err_clear;
	}
	/* An exited process (or a kernel thread) reads as empty. */
	if (!lines) {
		err = -ESRCH;
		goto err_clear;
	}
	if (!sorted)
		qsort(p->maps, p->nr_maps, sizeof(*p->maps), proc_map_cmp);
	proc__fit(p, cap);
	free(line);
	fclose(f);
	return 0;

err_clear:
	proc__clear(p);
	free(line);
	fclose(f);
	return err;
}

static const struct proc_map *proc__find(const struct proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nr_maps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= p->maps[lo - 1].end)
		return NULL;
	return &p->maps[lo - 1];
}

/* ---- process cache ---- */

static void proc__drop_perfmap(struct symbolizer *sym, struct proc *p)
{
	if (!p->perfmap)
		return;
	sym->perfmap_bytes -= perfmap__bytes(p->perfmap);
	perfmap__release(p->perfmap);
	free(p->perfmap);
	p->perfmap = NULL;
}

static void proc__free(struct symbolizer *sym, struct proc *p)
{
	if (!p)
		return;
	proc__drop_perfmap(sym, p);
	proc__clear(p);
	free(p);
}

static void proc_cache__unlink(struct symbolizer *sym, struct proc *p)
{
	struct proc **pp = &sym->proc_buckets[hash_u64(p->pid) & sym->proc_mask];

	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
	lru__del(&p->lru);
	sym->nr_proc--;
}

/* Drops the least recently used process; false when there is none. */
static bool proc_cache__evict(struct symbolizer *sym)
{
	struct proc *victim;

	if (sym->proc_lru.prev == &sym->proc_lru)
		return false;
	victim = container_of(sym->proc_lru.prev, struct proc, lru);
	proc_cache__unlink(sym, victim);
	proc__free(sym, victim);
	sym->stats.proc_cache_evictions++;
	return true;
}

/* How long a process found gone stays gone without another look (pids are reused). */
#define PROC_GONE_S 600u
#define GONE_WAYS   4u
#define GONE_SETS   32768u /* 131072 pids in 1 MiB */

static uint32_t gone__now_s(void)
{
	return (uint32_t)(clock__monotonic_ns() / 1000000000ull) + 1;
}

static struct gone_slot *gone__set(struct symbolizer *sym, uint32_t pid)
{
	return &sym->gone[(hash_u64(pid) & (GONE_SETS - 1)) * GONE_WAYS];
}

/*
 * Whether the process (pid, started at start ticks; 0: any) was found gone
 * less than PROC_GONE_S ago.
 */
static bool gone__has(struct symbolizer *sym, uint32_t pid, uint64_t start, uint32_t now_s)
{
	const struct gone_slot *set = gone__set(sym, pid);

	for (uint32_t i = 0; i < GONE_WAYS; i++)
		if (set[i].when_s && set[i].pid == pid && set[i].start == (uint32_t)start &&
		    now_s - set[i].when_s < PROC_GONE_S)
			return true;
	return false;
}

/* Remembers (pid, start) as gone, in place of its old entry, a free one or the oldest. */
static void gone__add(struct symbolizer *sym, uint32_t pid, uint64_t start, uint32_t now_s)
{
	struct gone_slot *set = gone__set(sym, pid), *victim = &set[0];

	for (uint32_t i = 0; i < GONE_WAYS; i++) {
		if ((set[i].pid == pid && set[i].start == (uint32_t)start) || !set[i].when_s) {
			victim = &set[i];
			break;
		}
		if (set[i].when_s < victim->when_s)
			victim = &set[i];
	}
	victim->pid = pid;
	victim->start = (uint32_t)start;
	victim->when_s = now_s;
}

/* Forgets that pid was found gone: a process with that pid runs now. */
static void gone__forget(struct symbolizer *sym, uint32_t pid)
{
	struct gone_slot *set = gone__set(sym, pid);

	for (uint32_t i = 0; i < GONE_WAYS; i++)
		if (set[i].pid == pid)
			set[i].when_s = 0;
}

/*
 * Reads p's maps again. When the process has exited meanwhile, the maps read
 * before stay (exited_ns is set) and the read counts as done. 0 or -errno.
 */
static int proc__refresh(struct symbolizer *sym, struct proc *p)
{
	struct proc fresh = {.pid = p->pid};
	uint64_t start = proc__read_start(sym, p->pid);
	int err = proc__read_maps(sym, &fresh);

	/* Another process may have taken the pid between the two reads: read as gone. */
	if (!err && proc__read_start(sym, p->pid) != start) {
		proc__clear(&fresh);
		err = -ESRCH;
	}
	/* The pid runs another process now: p's has exited, and its maps stay p's. */
	if (!err && !start__matches(p->start_ticks, start)) {
		proc__clear(&fresh);
		err = -ESRCH;
	}
	if (!err) {
		proc__clear(p);
		p->maps = fresh.maps;
		p->nr_maps = fresh.nr_maps;
		p->paths = fresh.paths;
		p->exited_ns = 0;
		if (start)
			p->start_ticks = start;
		return 0;
	}
	if ((err == -ESRCH || err == -ENOENT) && p->nr_maps && !p->err) {
		p->exited_ns = clock__monotonic_ns();
		sym->stats.exited_kept++;
		return 0;
	}
	proc__clear(p);
	return err;
}

/*
 * The entry of the process (pid, started at start ticks): the one with that
 * start time, else (start 0, or entries of unknown start) the live one, else
 * any. NULL when there is none.
 */
static struct proc *proc_cache__find(struct symbolizer *sym, uint32_t pid, uint64_t start)
{
	struct proc *p, *best = NULL;

	for (p = sym->proc_buckets[hash_u64(pid) & sym->proc_mask]; p; p = p->hnext) {
		if (p->pid != pid || !start__matches(p->start_ticks, start))
			continue;
		if (start && p->start_ticks == start)
			return p;
		if (!best || (best->exited_ns && !p->exited_ns))
			best = p;
	}
	return best;
}

/* The entry of (pid, start), or a new one in the cache (evicting the least recently used). */
static struct proc *proc_cache__find_or_add(struct symbolizer *sym, uint32_t pid, uint64_t start,
					    bool *added)
{
	size_t h = hash_u64(pid) & sym->proc_mask;
	struct proc *p;

	*added = false;
	p = proc_cache__find(sym, pid, start);
	if (p)
		return p;
	while (sym->nr_proc >= sym->max_proc && proc_cache__evict(sym))
		;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->start_ticks = start;
	lru__init(&p->lru);
	p->hnext = sym->proc_buckets[h];
	sym->proc_buckets[h] = p;
	sym->nr_proc++;
	*added = true;
	return p;
}

/*
 * Reads p's maps for this batch. A process found gone (with no maps read
 * before) goes to the gone table and p is freed: -ESRCH or -ENOENT. Other
 * errors stay remembered in p for the batch. 0 or -errno.
 */
static int proc__load(struct symbolizer *sym, struct proc *p)
{
	uint32_t pid = p->pid;
	int err;

	lru__touch(&sym->proc_lru, &p->lru);
	p->batch = sym->batch;
	p->read_ns = clock__monotonic_ns();
	err = proc__refresh(sym, p);
	p->err = err;
	if (!err)
		return 0;
	sym->stats.maps_read_errors++;
	if (err == -ENOENT || err == -ESRCH) {
		gone__add(sym, pid, p->start_ticks, gone__now_s());
		proc_cache__unlink(sym, p);
		proc__free(sym, p);
	}
	return err;
}

static struct elf_file *elf_cache__lookup(struct symbolizer *sym, uint32_t pid,
					  const struct proc_map *m, const char *path);

/*
 * A process (pid, started at start ticks) runs: any other live entry of the
 * pid is of a process that has exited. Its maps stay, as an exited process's,
 * for the windows it ran in; without maps it goes.
 */
static void proc_cache__retire_others(struct symbolizer *sym, uint32_t pid, uint64_t start)
{
	struct proc *p, *next;

	if (!start)
		return;
	for (p = sym->proc_buckets[hash_u64(pid) & sym->proc_mask]; p; p = next) {
		next = p->hnext;
		if (p->pid != pid || p->exited_ns || !p->start_ticks || p->start_ticks == start)
			continue;
		if (p->nr_maps && !p->err) {
			p->exited_ns = clock__monotonic_ns();
			sym->stats.exited_kept++;
			sym->stats.pid_reuses++;
		} else {
			proc_cache__unlink(sym, p);
			proc__free(sym, p);
		}
	}
}

int symbolizer__prefetch(struct symbolizer *sym, uint32_t pid, uint64_t start_ns)
{
	uint64_t maps_errors0, elf_errors0, start;
	const struct proc_map *m;
	struct proc *p;
	bool added;
	int err;

	if (!sym || !pid)
		return -EINVAL;
	sym->last.frame = NULL; /* files may be evicted */
	maps_errors0 = sym->stats.maps_read_errors;
	elf_errors0 = sym->stats.elf_errors;
	sym->stats.prefetches++;
	start = start_ticks_of(sym, start_ns);
	proc_cache__retire_others(sym, pid, start);
	p = proc_cache__find_or_add(sym, pid, start, &added);
	if (!p)
		return -ENOMEM;
	/*
	 * Read again: a new address space (or the same one, further along, with
	 * its libraries mapped). Had it exited already, the maps read at an
	 * earlier sample stay: they are the best there is.
	 */
	err = proc__load(sym, p);
	if (!err && !p->exited_ns) {
		gone__forget(sym, pid);
		/* Open its files while /proc/PID/map_files and its root still exist. */
		for (size_t i = 0; i < p->nr_maps; i++) {
			m = &p->maps[i];
			if (m->kind == MAP_FILE && m->inode)
				(void)elf_cache__lookup(sym, pid, m, p->paths.buf + m->path);
		}
	}
	/*
	 * Failures here are of reading ahead (mostly a process gone before it
	 * was read), not of naming a frame: they are counted apart.
	 */
	sym->stats.prefetch_failures +=
		sym->stats.maps_read_errors - maps_errors0 + sym->stats.elf_errors - elf_errors0;
	sym->stats.maps_read_errors = maps_errors0;
	sym->stats.elf_errors = elf_errors0;
	return err;
}

/*
 * The mapping table of the process (pid, started at start ticks; 0: whichever
 * runs) for this batch; -ESRCH (or another errno) if unreadable.
 */
static int proc_cache__get(struct symbolizer *sym, uint32_t pid, uint64_t start, struct proc **out)
{
	struct proc *p;
	bool added;
	int err;

	p = proc_cache__find(sym, pid, start);
	if (p && p->exited_ns) {
		if (clock__monotonic_ns() - p->exited_ns < sym->keep_exited_ns) {
			lru__touch(&sym->proc_lru, &p->lru);
			sym->stats.exited_hits++;
			*out = p;
			return 0;
		}
		/* No window refers to it any more. */
		gone__add(sym, pid, p->start_ticks, gone__now_s());
		proc_cache__unlink(sym, p);
		proc__free(sym, p);
		return -ESRCH;
	}
	if (p && p->batch == sym->batch) {
		lru__touch(&sym->proc_lru, &p->lru);
		*out = p;
		return p->err;
	}
	/*
	 * A process that had exited stays unreadable: history queries meet
	 * thousands of them under process churn, and one failed open each per
	 * query adds up. Look again only after a while, in case the pid was reused.
	 */
	if (!p && gone__has(sym, pid, start, gone__now_s()))
		return -ESRCH;
	if (!p) {
		p = proc_cache__find_or_add(sym, pid, start, &added);
		if (!p)
			return -ENOMEM;
	}
	err = proc__load(sym, p);
	if (err == -ENOENT || err == -ESRCH)
		return err; /* p is freed */
	*out = p;
	return err;
}

/* ---- opening mapped files ---- */

/*
 * Reopens an O_PATH descriptor for reading, if it is a regular file (never a
 * FIFO or a device: opening those can block or have side effects).
 */
static int reopen_regular(const char *proc_root, int pfd, struct stat *st)
{
	const char *roots[] = {proc_root, "/proc"};
	struct stat st2;
	int fd = -ENOENT;

	if (fstat(pfd, st))
		return -errno;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	for (size_t i = 0; i < 2 && fd < 0; i++) {
		char path[PATH_MAX];
		int n = snprintf(path, sizeof(path), "%s/self/fd/%d", roots[i], pfd);

		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			fd = -errno;
	}
	if (fd < 0)
		return fd;
	if (fstat(fd, &st2) || st2.st_dev != st->st_dev || st2.st_ino != st->st_ino) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* path inside the root directory dirfd, symlinks resolved within it. */
static int open_in_root(const char *proc_root, int dirfd, const char *path, struct stat *st)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int pfd, fd;

	pfd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (pfd < 0 && errno == ENOSYS) {
		while (*path == '/')
			path++;
		pfd = openat(dirfd, path, O_PATH | O_CLOEXEC);
	}
	if (pfd < 0)
		return -errno;
	fd = reopen_regular(proc_root, pfd, st);
	close(pfd);
	return fd;
}

static int open_path(const char *proc_root, const char *path, struct stat *st)
{
	int pfd, fd;

	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	fd = reopen_regular(proc_root, pfd, st);
	close(pfd);
	return fd;
}

/*
 * The file behind mapping m of pid: the first candidate whose inode matches
 * the maps line, else the file under /proc/PID/root (overlay file systems may
 * show another inode number there), never a mismatching plain path.
 */
static int open_mapped_file(struct symbolizer *sym, uint32_t pid, const struct proc_map *m,
			    const char *path)
{
	char buf[PATH_MAX + 64];
	int fallback = -ENOENT;
	struct stat st;
	int fd, n;

	if (!m->deleted) {
		n = snprintf(buf, sizeof(buf), "%s/%u/root", sym->proc_root, pid);
		if (n > 0 && (size_t)n < sizeof(buf)) {
			int dirfd = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC);

			if (dirfd >= 0) {
				fd = open_in_root(sym->proc_root, dirfd, path, &st);
				close(dirfd);
				if (fd >= 0 && st.st_ino == m->inode)
					return fd;
				fallback = fd;
			}
		}
	}

	n = snprintf(buf, sizeof(buf), "%s/%u/map_files/%llx-%llx", sym->proc_root, pid,
		     (unsigned long long)m->start, (unsigned long long)m->end);
	if (n > 0 && (size_t)n < sizeof(buf)) {
		fd = open_path(sym->proc_root, buf, &st);
		if (fd >= 0 && st.st_ino == m->inode) {
			if (fallback >= 0)
				close(fallback);
			return fd;
		}
		if (fd >= 0)
			close(fd);
	}

	if (!m->deleted) {
		fd = open_path(sym->proc_root, path, &st);
		if (fd >= 0 && st.st_ino == m->inode) {
			if (fallback >= 0)
				close(fallback);
			return fd;
		}
		if (fd >= 0)
			close(fd);
	}
	return fallback;
}

static int elf_load_fd(struct elf_image *img, int fd)
{
	Elf *e;
	int err;

	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e)
		return -ENOEXEC;
	err = elf_image__load(img, e);
	elf_end(e);
	return err;
}

/* ---- ELF cache ---- */

static bool elf_key__eq(const struct elf_key *a, const struct elf_key *b)
{
	return a->inode == b->inode && a->dev_major == b->dev_major && a->dev_minor == b->dev_minor;
}

static size_t elf_key__hash(const struct elf_key *k)
{
	return hash_u64(k->inode ^ hash_u64((uint64_t)k->dev_major << 32 | k->dev_minor));
}

/* Closes f's DWARF and forgets its cached lines; it is opened again when asked for. */
static void elf_file__close_dwarf(struct symbolizer *sym, struct elf_file *f)
{
	if (f->dwarf_id)
		linecache__drop_owner(sym->lines, f->dwarf_id);
	f->dwarf_id = 0;
	sym_dwarf__release(&f->dwarf);
	sym->dwarf_bytes -= f->dwarf_bytes;
	f->dwarf_bytes = 0;
	f->dwarf_err = 1;
}

/* Forgets f's DWARF, its cached lines and debug file, for a load of the file afresh. */
static void elf_file__clear_dwarf(struct symbolizer *sym, struct elf_file *f)
{
	elf_file__close_dwarf(sym, f);
	free(f->debug_path);
	f->debug_path = NULL;
	f->debug_host = false;
	f->dwarf_err = 1;
}

static void elf_file__free(struct symbolizer *sym, struct elf_file *f)
{
	if (!f)
		return;
	elf_file__clear_dwarf(sym, f);
	elf_image__release(&f->img);
	free(f);
}

/* Drops the least recently used file; false when there is none. */
static bool elf_cache__evict(struct symbolizer *sym)
{
	struct elf_file *victim, **pp;

	if (sym->elf_lru.prev == &sym->elf_lru)
		return false;
	victim = container_of(sym->elf_lru.prev, struct elf_file, lru);
	pp = &sym->elf_buckets[elf_key__hash(&victim->key) & sym->elf_mask];
	while (*pp && *pp != victim)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = victim->hnext;
	lru__del(&victim->lru);
	sym->nr_elf--;
	elf_file__free(sym, victim);
	sym->stats.elf_cache_evictions++;
	return true;
}

/* ---- separate debug files ---- */

/* CRC32 of the whole file, as .gnu_debuglink records it. */
static int file_crc32(int fd, uint32_t *out)
{
	unsigned char buf[65536];
	uLong crc = crc32(0L, Z_NULL, 0);
	uint64_t total = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), (off_t)total)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		total += (uint64_t)n;
		if (total > DEBUG_MAX_CRC_BYTES)
			return -EFBIG;
		crc = crc32(crc, buf, (uInt)n);
	}
	*out = (uint32_t)crc;
	return 0;
}

/*
 * Opens candidate debug file path: inside pid's root first (a container's
 * own debug files), then, for paths under the debug directory, on the host.
 */
static int open_debug_candidate(struct symbolizer *sym, uint32_t pid, const char *path,
				bool host_too)
{
	char root[PATH_MAX];
	struct stat st;
	int n, dirfd, fd = -ENOENT;

	n = snprintf(root, sizeof(root), "%s/%u/root", sym->proc_root, pid);
	if (n > 0 && (size_t)n < sizeof(root)) {
		dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd >= 0) {
			fd = open_in_root(sym->proc_root, dirfd, path, &st);
			close(dirfd);
		}
	}
	if (fd < 0 && host_too)
		fd = open_path(sym->proc_root, path, &st);
	return fd;
}

/* Adds the symbols of the debug file at fd to img; crc is checked when want_crc. */
static int add_debug_fd(struct elf_image *img, int fd, bool want_crc, uint32_t crc)
{
	uint32_t got;
	Elf *e;
	int err;

	if (want_crc && (file_crc32(fd, &got) || got != crc))
		return -ESTALE;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e)
		return -ENOEXEC;
	err = elf_image__add_debug(img, e);
	elf_end(e);
	return err;
}

/*
 * A stripped file (no .symtab): its functions from a separate debug file,
 * /usr/lib/debug/.build-id/xx/rest.debug by build ID, else the file that
 * .gnu_debuglink names, next to it, in .debug/ beside it, or under
 * /usr/lib/debug. 0 when one was added, with *found (malloc'd) its path and
 * *host whether open_debug_candidate may look for it on the host; else -ENOENT.
 */
static int add_debug_file(struct symbolizer *sym, uint32_t pid, const char *path, int fd,
			  struct elf_image *img, char **found, bool *host)
{
	char cand[PATH_MAX + 64], link[256], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	uint32_t crc = 0;
	bool have_link;
	int dfd, err, n;
	Elf *e;

	if (img->build_id && strlen(img->build_id) > 2) {
		n = snprintf(cand, sizeof(cand), "%s/.build-id/%.2s/%s.debug", sym->debug_dir,
			     img->build_id, img->build_id + 2);
		if (n > 0 && (size_t)n < sizeof(cand)) {
			dfd = open_debug_candidate(sym, pid, cand, true);
			if (dfd >= 0) {
				/* The build ID names it; add_debug checks it holds the same one. */
				err = add_debug_fd(img, dfd, false, 0);
				close(dfd);
				if (!err) {
					*found = strdup(cand);
					*host = true;
					return 0;
				}
			}
		}
	}
	e = elf_begin(fd, ELF_C_READ, NULL);
	have_link = e && elf_debuglink(e, link, sizeof(link), &crc) == 0;
	if (e)
		elf_end(e);
	if (!have_link || !slash || (size_t)(slash - path) >= sizeof(dir))
		return -ENOENT;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	for (int i = 0; i < 3; i++) {
		static const char *const fmt[] = {"%s%s/%s", "%s%s/.debug/%s", "%s%s/%s"};
		const char *prefix = i == 2 ? sym->debug_dir : "";

		n = snprintf(cand, sizeof(cand), fmt[i], prefix, dir, link);
		if (n < 0 || (size_t)n >= sizeof(cand) || strcmp(cand, path) == 0)
			continue;
		dfd = open_debug_candidate(sym, pid, cand, i == 2);
		if (dfd < 0)
			continue;
		err = add_debug_fd(img, dfd, true, crc);
		close(dfd);
		if (!err) {
			*found = strdup(cand);
			*host = i == 2;
			return 0;
		}
	}
	return -ENOENT;
}

/* The functions of the file's own .gnu_debugdata, when it has some. */
static int add_minidebug_fd(struct symbolizer *sym, struct elf_image *img, int fd)
{
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	int err;

	if (!e)
		return -ENOEXEC;
	err = elf_image__add_minidebug(img, e);
	elf_end(e);
	if (err && err != -ENOENT)
		sym->stats.minidebug_errors++;
	return err;
}

/* The symbol table of the file behind m, or NULL when it cannot be read. */
static struct elf_file *elf_cache__lookup(struct symbolizer *sym, uint32_t pid,
					  const struct proc_map *m, const char *path)
{
	struct elf_key key = {
		.inode = m->inode, .dev_major = m->dev_major, .dev_minor = m->dev_minor};
	size_t h = elf_key__hash(&key) & sym->elf_mask;
	struct elf_file *f;
	int fd;

	for (f = sym->elf_buckets[h]; f; f = f->hnext)
		if (elf_key__eq(&f->key, &key))
			break;
	if (f && (!f->err || f->batch == sym->batch)) {
		sym->stats.elf_cache_hits++;
		lru__touch(&sym->elf_lru, &f->lru);
		return f->err ? NULL : f;
	}
	sym->stats.elf_cache_misses++;
	if (!f) {
		while (sym->nr_elf >= sym->max_elf && elf_cache__evict(sym))
			;
		f = calloc(1, sizeof(*f));
		if (!f)
			return NULL;
		f->key = key;
		f->dwarf_err = 1;
		lru__init(&f->lru);
		f->hnext = sym->elf_buckets[h];
		sym->elf_buckets[h] = f;
		sym->nr_elf++;
	}
	lru__touch(&sym->elf_lru, &f->lru);
	f->batch = sym->batch;
	elf_image__release(&f->img);
	elf_file__clear_dwarf(sym, f);
	fd = open_mapped_file(sym, pid, m, path);
	f->err = fd < 0 ? fd : elf_load_fd(&f->img, fd);
	if (!f->err && !f->img.has_symtab) {
		/* A separate debug file is the fuller table; MiniDebugInfo only names functions. */
		if (add_debug_file(sym, pid, path, fd, &f->img, &f->debug_path, &f->debug_host) ==
		    0) {
			f->img.from_debug = true;
			sym->stats.debug_files++;
		} else if (add_minidebug_fd(sym, &f->img, fd) == 0) {
			f->img.from_debug = true;
			sym->stats.minidebug_files++;
		}
	}
	if (fd >= 0)
		close(fd);
	if (f->err) {
		log_debug("symbolizer: %s of pid %u unreadable: %s", path, pid, strerror(-f->err));
		sym->stats.elf_errors++;
		return NULL;
	}
	return f;
}

/* ---- vDSO ---- */

/* The daemon's own [vdso] range, from its maps. */
static int vdso_own_range(struct symbolizer *sym, uint64_t *start, uint64_t *end)
{
	char *line = NULL;
	size_t cap = 0;
	int err = -ENOENT;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (!strstr(line, "[vdso]") || maps__parse_line(line, &sym->scratch))
			continue;
		if (strcmp(sym->scratch.path, "[vdso]"))
			continue;
		*start = sym->scratch.start;
		*end = sym->scratch.end;
		err = 0;
		break;
	}
	free(line);
	fclose(f);
	return err;
}

/* Without /proc: the extent the image's own headers describe. */
static uint64_t vdso_size_from_headers(uintptr_t base)
{
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
	uint64_t size;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_phentsize != sizeof(ElfW(Phdr)))
		return 0;
	size = (uint64_t)eh->e_shoff + (uint64_t)eh->e_shnum * eh->e_shentsize;
	for (unsigned int i = 0; i < eh->e_phnum && i < 64; i++) {
		const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + eh->e_phoff) + i;

		if (ph->p_type == PT_LOAD && ph->p_offset + ph->p_filesz > size)
			size = ph->p_offset + ph->p_filesz;
	}
	return size;
}

static int vdso_load(struct symbolizer *sym)
{
	uintptr_t base = getauxval(AT_SYSINFO_EHDR);
	uint64_t start = 0, end = 0, size;
	void *copy;
	Elf *e;
	int err;

	if (!base)
		return -ENOENT;
	if (!vdso_own_range(sym, &start, &end) && start == base) {
		size = end - start;
		sym->vdso_size = size;
	} else {
		size = vdso_size_from_headers(base);
	}
	if (!size || size > VDSO_MAX_SIZE)
		return -EINVAL;
	copy = malloc(size);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, (const void *)base, size);
	e = elf_memory(copy, size);
	if (!e) {
		err = -ENOEXEC;
		goto err_free_copy;
	}
	err = elf_image__load(&sym->vdso, e);
	elf_end(e);
err_free_copy:
	free(copy);
	return err;
}

static const struct elf_image *vdso_get(struct symbolizer *sym, const struct proc_map *m)
{
	if (sym->vdso_err == 1)
		sym->vdso_err = vdso_load(sym);
	if (sym->vdso_err)
		return NULL;
	/* Another size is another image (a 32-bit process, say): better no name than a wrong one.
	 */
	if (sym->vdso_size && m->end - m->start != sym->vdso_size)
		return NULL;
	return &sym->vdso;
}

/* ---- public interface ---- */

struct symbolizer *symbolizer__new(const struct symbolizer_opts *opts)
{
	long hz;
	const char *root = opts && opts->proc_root ? opts->proc_root : "/proc";
	struct symbolizer *sym;
	size_t nb;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	sym = calloc(1, sizeof(*sym));
	if (!sym)
		return NULL;
	sym->proc_root = strdup(root);
	sym->debug_dir = strdup(opts && opts->debug_dir ? opts->debug_dir : DEFAULT_DEBUG_DIR);
	if (!sym->proc_root || !sym->debug_dir)
		goto err_free_sym;
	sym->max_elf = opts && opts->max_elf_files ? opts->max_elf_files : DEFAULT_MAX_ELF_FILES;
	sym->max_proc = opts && opts->max_processes ? opts->max_processes : DEFAULT_MAX_PROCESSES;
	sym->keep_exited_ns =
		opts && opts->keep_exited_ns ? opts->keep_exited_ns : DEFAULT_KEEP_EXITED_NS;
	hz = sysconf(_SC_CLK_TCK);
	sym->tick_ns = hz > 0 && hz <= 1000000000 ? 1000000000ull / (uint64_t)hz : 10000000ull;

	nb = buckets_for(sym->max_elf);
	sym->elf_buckets = calloc(nb, sizeof(*sym->elf_buckets));
	if (!sym->elf_buckets)
		goto err_free_root;
	sym->elf_mask = nb - 1;
	nb = buckets_for(sym->max_proc);
	sym->proc_buckets = calloc(nb, sizeof(*sym->proc_buckets));
	if (!sym->proc_buckets)
		goto err_free_elf_buckets;
	sym->proc_mask = nb - 1;
	sym->gone = calloc(GONE_SETS * GONE_WAYS, sizeof(*sym->gone));
	if (!sym->gone)
		goto err_free_proc_buckets;
	sym->max_dwarf_bytes =
		opts && opts->max_dwarf_bytes ? opts->max_dwarf_bytes : DEFAULT_MAX_DWARF_BYTES;
	sym->lines = linecache__new(opts ? opts->max_cached_lines : 0);
	if (!sym->lines)
		goto err_free_gone;
	sym->frames = framecache__new(opts ? opts->max_cached_frames : 0,
				      opts ? opts->max_cached_frame_bytes : 0);
	if (!sym->frames)
		goto err_free_lines;
	lru__init(&sym->elf_lru);
	lru__init(&sym->proc_lru);
	sym->batch = 1;
	sym->ksyms_err = 1;
	sym->vdso_err = 1;
	return sym;

err_free_lines:
	linecache__free(sym->lines);
err_free_gone:
	free(sym->gone);
err_free_proc_buckets:
	free(sym->proc_buckets);
err_free_elf_buckets:
	free(sym->elf_buckets);
err_free_root:
	free(sym->proc_root);
err_free_sym:
	free(sym);
	return NULL;
}

void symbolizer__free(struct symbolizer *sym)
{
	if (!sym)
		return;
	while (proc_cache__evict(sym))
		;
	while (elf_cache__evict(sym))
		;
	linecache__free(sym->lines);
	framecache__free(sym->frames);
	free(sym->proc_buckets);
	free(sym->gone);
	free(sym->elf_buckets);
	ksyms__release(&sym->ksyms);
	for (size_t i = 0; i < sym->nr_kdyn; i++)
		free(sym->kdyn[i].name);
	free(sym->kdyn);
	elf_image__release(&sym->vdso);
	free(sym->proc_root);
	free(sym->debug_dir);
	free(sym);
}

void symbolizer__begin(struct symbolizer *sym)
{
	if (!sym)
		return;
	sym->batch++;
	sym->last.frame = NULL;
}

static int ksyms_reload(struct symbolizer *sym)
{
	char path[PATH_MAX];
	int n;

	sym->ksyms_batch = sym->batch;
	ksyms__release(&sym->ksyms);
	n = snprintf(path, sizeof(path), "%s/kallsyms", sym->proc_root);
	if (n < 0 || (size_t)n >= sizeof(path))
		sym->ksyms_err = -ENAMETOOLONG;
	else
		sym->ksyms_err = ksyms__load(&sym->ksyms, path);
	return sym->ksyms_err;
}

/* The index of the first entry ending after addr. */
static size_t kdyn__lower(const struct symbolizer *sym, uint64_t addr)
{
	size_t lo = 0, hi = sym->nr_kdyn;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sym->kdyn[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void kdyn__remove(struct symbolizer *sym, size_t i)
{
	free(sym->kdyn[i].name);
	memmove(&sym->kdyn[i], &sym->kdyn[i + 1], (sym->nr_kdyn - i - 1) * sizeof(*sym->kdyn));
	sym->nr_kdyn--;
}

int symbolizer__ksymbol(struct symbolizer *sym, uint64_t addr, uint32_t len, const char *name,
			bool gone)
{
	uint64_t end = addr + len;
	size_t i;
	char *copy;

	if (!sym || !name || !len || end < addr)
		return -EINVAL;
	i = kdyn__lower(sym, addr);
	if (gone && i < sym->nr_kdyn && sym->kdyn[i].start == addr && sym->kdyn[i].end == end) {
		sym->kdyn[i].gone = true;
		sym->stats.ksymbols_gone++;
		return 0;
	}
	/* New code (or code that went, unknown till now): whatever it overlaps is dead. */
	while (i < sym->nr_kdyn && sym->kdyn[i].start < end)
		kdyn__remove(sym, i);
	if (sym->nr_kdyn >= KDYN_MAX) {
		size_t victim = sym->nr_kdyn;

		for (size_t j = 0; j < sym->nr_kdyn && victim == sym->nr_kdyn; j++)
			if (sym->kdyn[j].gone)
				victim = j;
		if (victim == sym->nr_kdyn) {
			sym->stats.ksymbols_dropped++;
			return -ENOSPC;
		}
		kdyn__remove(sym, victim);
		i = kdyn__lower(sym, addr);
	}
	if (sym->nr_kdyn == sym->cap_kdyn) {
		size_t ncap = sym->cap_kdyn ? sym->cap_kdyn * 2 : 64;
		struct kdyn *n = realloc(sym->kdyn, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sym->kdyn = n;
		sym->cap_kdyn = ncap;
	}
	copy = strndup(name, KSYM_NAME_MAX);
	if (!copy)
		return -ENOMEM;
	memmove(&sym->kdyn[i + 1], &sym->kdyn[i], (sym->nr_kdyn - i) * sizeof(*sym->kdyn));
	sym->kdyn[i] = (struct kdyn){.start = addr, .end = end, .name = copy, .gone = gone};
	sym->nr_kdyn++;
	if (!sym->kdyn_min || addr < sym->kdyn_min)
		sym->kdyn_min = addr;
	if (end > sym->kdyn_max)
		sym->kdyn_max = end;
	if (gone)
		sym->stats.ksymbols_gone++;
	else
		sym->stats.ksymbols_added++;
	return 0;
}

void symbolizer__ksyms_stale(struct symbolizer *sym)
{
	if (sym)
		sym->ksyms_stale = true;
}

/* Names addr from the announced kernel code; -ENOENT when none covers it. */
static int kdyn__find(const struct symbolizer *sym, uint64_t addr, struct sym_frame *out)
{
	size_t i = kdyn__lower(sym, addr);
	uint64_t lo = sym->kdyn_min, hi = sym->kdyn_max;

	if (i == sym->nr_kdyn || sym->kdyn[i].start > addr)
		return -ENOENT;
	/* One [bpf] mapping, whether its code was announced or found in kallsyms. */
	for (size_t m = 1; !sym->ksyms_err && m < sym->ksyms.nr_mods; m++) {
		const struct kmod *km = &sym->ksyms.mods[m];

		if (strcmp(sym->ksyms.names.buf + km->name, "[bpf]"))
			continue;
		lo = km->min < lo ? km->min : lo;
		hi = km->max > hi ? km->max : hi;
	}
	out->name = sym->kdyn[i].name;
	out->sym_offset = addr - sym->kdyn[i].start;
	out->map_path = "[bpf]";
	out->map_start = lo;
	out->map_limit = hi;
	return 0;
}

int symbolizer__kernel(struct symbolizer *sym, uint64_t addr, struct sym_frame *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	out->kernel = true;
	sym->last.frame = NULL;
	sym->stats.kernel_lookups++;
	if (sym->ksyms_err == 1 ||
	    ((sym->ksyms_err < 0 || sym->ksyms_stale) && sym->ksyms_batch != sym->batch)) {
		sym->ksyms_stale = false;
		ksyms_reload(sym);
	}
	if (kdyn__find(sym, addr, out) == 0) {
		sym->stats.ksymbol_hits++;
		return 0;
	}
	err = sym->ksyms_err ? -ENOENT : ksyms__find(&sym->ksyms, addr, out);
	/*
	 * A miss outside the core text may be a module or BPF program loaded
	 * since the table was read: read it again, at most once per batch.
	 */
	if (err && !sym->ksyms_err && sym->ksyms_batch != sym->batch &&
	    (addr < sym->ksyms.mods[0].min || addr >= sym->ksyms.mods[0].max)) {
		if (!ksyms_reload(sym))
			err = ksyms__find(&sym->ksyms, addr, out);
	}
	if (err) {
		memset(out, 0, sizeof(*out));
		out->kernel = true;
		sym->stats.kernel_failures++;
		return -ENOENT;
	}
	return 0;
}

/* ---- JIT perf maps ---- */

/* The pid of p in its own pid namespace (the last NSpid field), else its pid here. */
static uint32_t proc__nspid(struct symbolizer *sym, struct proc *p)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int n;

	if (p->nspid)
		return p->nspid;
	p->nspid = p->pid;
	n = snprintf(path, sizeof(path), "%s/%u/status", sym->proc_root, p->pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return p->nspid;
	f = fopen(path, "re");
	if (!f)
		return p->nspid;
	while (getline(&line, &cap, f) > 0) {
		char *last, *end;
		unsigned long v;

		if (strncmp(line, "NSpid:", 6))
			continue;
		last = strrchr(line, '\t');
		if (last) {
			v = strtoul(last + 1, &end, 10);
			if (end != last + 1 && v > 0 && v <= UINT32_MAX)
				p->nspid = (uint32_t)v;
		}
		break;
	}
	free(line);
	fclose(f);
	return p->nspid;
}

/*
 * p's perf map for this batch, read or read again when the file changed;
 * NULL when it has none. A map stays when its process has exited (the file
 * may be gone with it) and goes when a live process's file does (a reused
 * pid).
 */
static const struct perfmap *proc__perfmap(struct symbolizer *sym, struct proc *p)
{
	struct perfmap *pm;
	char root[PATH_MAX], file[64];
	struct stat st;
	int dirfd, fd, err, n;

	if (p->perfmap_batch == sym->batch || p->exited_ns)
		return p->perfmap;
	p->perfmap_batch = sym->batch;
	n = snprintf(root, sizeof(root), "%s/%u/root", sym->proc_root, p->pid);
	if (n < 0 || (size_t)n >= sizeof(root))
		return p->perfmap;
	snprintf(file, sizeof(file), "/tmp/perf-%u.map", proc__nspid(sym, p));
	dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return p->perfmap;
	fd = open_in_root(sym->proc_root, dirfd, file, &st);
	close(dirfd);
	if (fd < 0) {
		if (fd == -ENOENT)
			proc__drop_perfmap(sym, p);
		else
			sym->stats.perfmap_errors++;
		return p->perfmap;
	}
	pm = p->perfmap;
	if (pm && pm->dev == (uint64_t)st.st_dev && pm->ino == (uint64_t)st.st_ino &&
	    pm->size == (uint64_t)st.st_size &&
	    pm->mtime_ns ==
		    (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec) {
		close(fd);
		return pm;
	}
	pm = calloc(1, sizeof(*pm));
	err = pm ? 0 : -ENOMEM;
	if (!err && sym->perfmap_bytes + (size_t)st.st_size * 2 > PERFMAP_BUDGET)
		err = -ENOSPC;
	if (!err)
		err = perfmap__load(pm, fd, PERFMAP_MAX_FILE, PERFMAP_MAX_SYMS);
	close(fd);
	if (err) {
		perfmap__release(pm);
		free(pm);
		sym->stats.perfmap_errors++;
		return p->perfmap; /* the older table, if any, is still the best there is */
	}
	proc__drop_perfmap(sym, p);
	p->perfmap = pm;
	sym->perfmap_bytes += perfmap__bytes(pm);
	sym->stats.perfmap_loads++;
	sym->stats.perfmap_bad_lines += pm->bad_lines;
	return pm;
}

int symbolizer__user(struct symbolizer *sym, uint32_t pid, uint64_t addr, struct sym_frame *out)
{
	return symbolizer__user_of(sym, pid, 0, addr, out);
}

int symbolizer__user_of(struct symbolizer *sym, uint32_t pid, uint64_t start_ns, uint64_t addr,
			struct sym_frame *out)
{
	const struct elf_image *img = NULL;
	const struct proc_map *m;
	struct proc *p;
	uint64_t off;
	int err;

	memset(out, 0, sizeof(*out));
	memset(&sym->last, 0, sizeof(sym->last));
	sym->stats.user_lookups++;
	err = proc_cache__get(sym, pid, start_ticks_of(sym, start_ns), &p);
	if (err)
		return err;
	m = proc__find(p, addr);
	if (!m) {
		sym->stats.user_no_mapping++;
		return -ENOENT;
	}
	out->map_start = m->start;
	out->map_limit = m->end;
	out->map_offset = m->offset;
	off = addr - m->start + m->offset;
	switch (m->kind) {
	case MAP_FILE: {
		const char *path = p->paths.buf + m->path;
		struct elf_file *f;

		if (!m->inode)
			break;
		f = elf_cache__lookup(sym, pid, m, path);
		img = f ? &f->img : NULL;
		if (f)
			sym->last = (struct last_user){
				.file = f, .map = m, .path = path, .pid = pid, .off = off};
		break;
	}
	case MAP_VDSO:
		img = vdso_get(sym, m);
		break;
	default:
		break;
	}
	out->map_path = p->paths.buf[m->path] ? p->paths.buf + m->path : "[anon]";
	if (img) {
		out->build_id = img->build_id;
		if (elf_image__find(img, off, &out->name, &out->sym_offset))
			out->name = NULL;
	}
	if (!out->name && m->kind == MAP_OTHER) {
		const struct perfmap *pm = proc__perfmap(sym, p);

		if (pm && perfmap__find(pm, addr, &out->name, &out->sym_offset) == 0)
			sym->stats.perfmap_hits++;
		else
			out->name = NULL;
	}
	if (!out->name) {
		out->sym_offset = 0;
		sym->stats.user_no_symbol++;
	}
	sym->last.frame = out;
	return 0;
}

int symbolizer__user_named(struct symbolizer *sym, uint32_t pid, uint64_t start_ns, uint64_t addr,
			   struct sym_frame *out)
{
	struct framecache_key key = {0};
	const struct proc_map *m;
	struct elf_file *f;
	struct proc *p;
	bool keyed;
	int err;

	err = proc_cache__get(sym, pid, start_ticks_of(sym, start_ns), &p);
	m = err ? NULL : proc__find(p, addr);
	keyed = m && m->kind == MAP_FILE && m->inode;
	if (keyed) {
		key.inode = m->inode;
		key.offset = addr - m->start + m->offset;
		key.dev_major = m->dev_major;
		key.dev_minor = m->dev_minor;
		memset(out, 0, sizeof(*out));
		memset(&sym->last, 0, sizeof(sym->last));
		if (framecache__get(sym->frames, &key, out) == 0) {
			out->map_start = m->start;
			out->map_limit = m->end;
			out->map_offset = m->offset;
			sym->stats.user_lookups++;
			if (!out->name)
				sym->stats.user_no_symbol++;
			else if (out->file)
				sym->stats.line_hits++;
			else
				sym->stats.line_misses++;
			return 0;
		}
	}
	err = symbolizer__user_of(sym, pid, start_ns, addr, out);
	if (err)
		return err;
	if (out->name)
		(void)symbolizer__user_line(sym, out);
	/*
	 * Only what does not change is kept: the names read from a loaded file,
	 * whose DWARF, when a name asked for it, was read or is known absent.
	 */
	f = sym->last.file;
	if (keyed && f && (!out->name || f->dwarf_err == 0 || f->dwarf_err == -ENODATA))
		(void)framecache__put(sym->frames, &key, out);
	return 0;
}

/*
 * Closes the DWARF of the least recently used files until what is open fits
 * under max_dwarf_bytes; keep's stays open, even alone over the cap.
 */
static void dwarf_fit(struct symbolizer *sym, const struct elf_file *keep)
{
	struct lru *n, *prev;

	for (n = sym->elf_lru.prev; n != &sym->elf_lru && sym->dwarf_bytes > sym->max_dwarf_bytes;
	     n = prev) {
		struct elf_file *f = container_of(n, struct elf_file, lru);

		prev = n->prev;
		if (f == keep || !f->dwarf_id)
			continue;
		elf_file__close_dwarf(sym, f);
		sym->stats.dwarf_closed++;
	}
}

/* f's DWARF, opened now if it never was (or failed in an earlier batch). 0 or -errno. */
static int elf_file__open_dwarf(struct symbolizer *sym, struct elf_file *f,
				const struct last_user *at)
{
	int fd, err;

	if (f->dwarf_err == 0 || f->dwarf_err == -ENODATA)
		return f->dwarf_err;
	if (f->dwarf_err < 0 && f->dwarf_batch == sym->batch)
		return f->dwarf_err;
	/* Symbols from a debug file: so is the DWARF (the stripped file has none). */
	if (f->debug_path)
		fd = open_debug_candidate(sym, at->pid, f->debug_path, f->debug_host);
	else
		fd = open_mapped_file(sym, at->pid, at->map, at->path);
	err = fd < 0 ? fd : sym_dwarf__open(&f->dwarf, fd, f->img.build_id);
	if (fd >= 0)
		close(fd);
	f->dwarf_err = err;
	f->dwarf_id = err ? 0 : ++sym->next_dwarf_id;
	f->dwarf_batch = sym->batch;
	if (err && err != -ENODATA)
		sym->stats.dwarf_errors++;
	if (!err) {
		f->dwarf_bytes = sym_dwarf__bytes(&f->dwarf);
		sym->dwarf_bytes += f->dwarf_bytes;
		dwarf_fit(sym, f);
	}
	return err;
}

int symbolizer__user_line(struct symbolizer *sym, struct sym_frame *out)
{
	const struct last_user *at = &sym->last;
	const struct linecache_lines *cached;
	struct linecache_lines found = {0};
	uint64_t vaddr;
	int err;

	if (!out || out != at->frame)
		return -EINVAL;
	out->file = NULL;
	out->line = 0;
	out->inlined = sym->inlined;
	out->n_inlined = 0;
	/* The vDSO and JIT code have no DWARF here. */
	err = at->file ? elf_file__open_dwarf(sym, at->file, at) : -ENOENT;
	if (!err)
		err = elf_image__vaddr(&at->file->img, at->off, &vaddr);
	if (err)
		goto out_miss;
	/* Every process that maps the file shares its lines: asked once per address. */
	cached = linecache__get(sym->lines, at->file->dwarf_id, vaddr);
	if (!cached) {
		uint64_t walks = at->file->dwarf.scope_walks;

		found.found = sym_dwarf__find(&at->file->dwarf, vaddr, &found.file, &found.line,
					      sym->inlined, SYM_MAX_INLINE, &found.n_inlined) == 0;
		sym->stats.line_scope_walks += at->file->dwarf.scope_walks - walks;
		found.inlined = sym->inlined;
		/* Without room it is only looked up again next time. */
		(void)linecache__put(sym->lines, at->file->dwarf_id, vaddr, &found);
		cached = &found;
	}
	if (!cached->found)
		goto out_miss;
	out->file = cached->file;
	out->line = cached->line;
	out->n_inlined = cached->n_inlined;
	if (cached->n_inlined)
		out->inlined = cached->inlined;
	sym->stats.line_hits++;
	return 0;

out_miss:
	sym->stats.line_misses++;
	return -ENOENT;
}

int symbolizer__mapping(struct symbolizer *sym, uint32_t pid, uint64_t start_ns, uint64_t addr,
			struct sym_mapping *out)
{
	const struct elf_image *img = NULL;
	const struct elf_file *f;
	const struct proc_map *m;
	struct proc *p;
	int err;

	memset(out, 0, sizeof(*out));
	err = proc_cache__get(sym, pid, start_ticks_of(sym, start_ns), &p);
	if (err)
		return err;
	m = proc__find(p, addr);
	if (!m)
		return -ENOENT;
	if (m->kind == MAP_FILE && m->inode) {
		f = elf_cache__lookup(sym, pid, m, p->paths.buf + m->path);
		img = f ? &f->img : NULL;
	} else if (m->kind == MAP_VDSO) {
		img = vdso_get(sym, m);
		out->vdso = true;
	}
	if (!img || elf_image__vaddr(img, addr - m->start + m->offset, &out->elf_addr))
		return -ENODATA;
	out->start = m->start;
	out->end = m->end;
	out->offset = m->offset;
	out->inode = m->inode;
	out->dev_major = m->dev_major;
	out->dev_minor = m->dev_minor;
	return 0;
}

int symbolizer__refresh(struct symbolizer *sym, uint32_t pid, uint64_t start_ns,
			uint64_t min_age_ns)
{
	struct proc *p = proc_cache__find(sym, pid, start_ticks_of(sym, start_ns));

	if (!p)
		return -ESRCH;
	if (p->exited_ns || clock__monotonic_ns() - p->read_ns < min_age_ns)
		return -EAGAIN;
	return proc__load(sym, p);
}

int symbolizer__open_mapping(struct symbolizer *sym, uint32_t pid, uint64_t start_ns, uint64_t addr)
{
	const struct proc_map *m;
	struct proc *p;
	int err;

	err = proc_cache__get(sym, pid, start_ticks_of(sym, start_ns), &p);
	if (err)
		return err;
	m = proc__find(p, addr);
	if (!m || m->kind != MAP_FILE || !m->inode)
		return -ENOENT;
	return open_mapped_file(sym, pid, m, p->paths.buf + m->path);
}

void symbolizer__stats(const struct symbolizer *sym, struct symbolizer_stats *out)
{
	struct framecache_stats fc;
	struct linecache_stats lc;

	*out = sym->stats;
	out->elf_cached = sym->nr_elf;
	out->proc_cached = sym->nr_proc;
	linecache__stats(sym->lines, &lc);
	out->line_cache_hits = lc.hits;
	out->line_cache_evictions = lc.evictions;
	out->line_cache_entries = lc.entries;
	out->line_cache_bytes = lc.bytes;
	out->dwarf_bytes = sym->dwarf_bytes;
	framecache__stats(sym->frames, &fc);
	out->frame_cache_hits = fc.hits;
	out->frame_cache_misses = fc.misses;
	out->frame_cache_evictions = fc.evictions;
	out->frame_cache_entries = fc.entries;
	out->frame_cache_bytes = fc.bytes;
}
