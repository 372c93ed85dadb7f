/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Turns kernel and user addresses into names.
 *
 * Kernel: /proc/kallsyms (module and BPF-program symbols included).
 * User: /proc/PID/maps plus the ELF .symtab/.dynsym of each mapped file, read
 * with libelf through /proc/PID/root so that processes in other mount
 * namespaces resolve too; for stripped files, the .symtab of their separate
 * debug file (by build ID under /usr/lib/debug/.build-id, or .gnu_debuglink) or their own
 * MiniDebugInfo (.gnu_debugdata); JIT code from the
 * process's /tmp/perf-PID.map; the vDSO from the daemon's own copy (it is the same image in every
 * process). Source lines and inlined calls come from DWARF, read with libdw from the file or
 * its separate debug file, on demand (symbolizer__user_line). ELF data is cached by (device,
 * inode), so processes running the same binary share the work; every cache has a cap and LRU
 * eviction.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_SYMBOLIZER_H
#define SONDE_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct symbolizer;

/* Inlined functions reported at one address, at most (the innermost ones are kept). */
#define SYM_MAX_INLINE 16

struct symbolizer_opts {
	const char *proc_root; /* "/proc" unless a test says otherwise */
	size_t max_elf_files;  /* ELF symbol tables kept (LRU); 0: default */
	size_t max_processes;  /* per-process mapping tables kept (LRU); 0: default */
	/* How long an exited process's maps are kept (the history's retention); 0: 10 min. */
	uint64_t keep_exited_ns;
	/* Where separate debug files are installed; NULL: /usr/lib/debug. */
	const char *debug_dir;
	/* Source lines of (file, address) remembered across profiles (LRU); 0: 65 536. */
	size_t max_cached_lines;
	/* Names of (file, offset) remembered across profiles (LRU); 0: 65 536 and 16 MiB. */
	size_t max_cached_frames;
	size_t max_cached_frame_bytes;
	/*
	 * Debug sections of the DWARF kept open (LRU, by file); 0: 32 MiB. The
	 * names found stay in the frame cache: a file's DWARF is only read
	 * again for an address never named before.
	 */
	size_t max_dwarf_bytes;
};

/* A function inlined at an address (symbolizer__user_line). */
struct sym_inline {
	const char *name;      /* the inlined function */
	const char *call_file; /* where it was inlined: into the next entry, or sym_frame.name */
	uint32_t call_line;    /* 0 when unknown */
};

/*
 * The result of one look-up. Every pointer is owned by the symbolizer and
 * stays valid until the next call on the same symbolizer.
 */
struct sym_frame {
	const char *name;     /* function name; NULL when it cannot be named */
	uint64_t sym_offset;  /* address - symbol start, when name != NULL */
	const char *map_path; /* "/usr/lib/.../libc.so.6", "[vdso]", "[kernel.kallsyms]",
				 "[ext4]"; NULL when the address is in no mapping */
	const char *build_id; /* lowercase hex of .note.gnu.build-id; NULL if none */
	uint64_t map_start;   /* mapping range and file offset, as pprof wants them */
	uint64_t map_limit;
	uint64_t map_offset;
	/* Source file and line, from DWARF (symbolizer__user_line); NULL and 0 when unknown. */
	const char *file;
	uint32_t line;
	/*
	 * The functions inlined at the address, innermost first: file:line is in
	 * inlined[0] (when n_inlined > 0), which was inlined at its call_file:call_line
	 * into inlined[1], and so on, the last into the function name names.
	 */
	const struct sym_inline *inlined;
	size_t n_inlined;
	bool kernel;
};

struct symbolizer_stats {
	uint64_t kernel_lookups;
	uint64_t kernel_failures; /* address matched no kernel symbol */
	uint64_t user_lookups;
	uint64_t user_no_mapping;  /* address in no mapping of the process */
	uint64_t user_no_symbol;   /* mapping found, no symbol covers the address */
	uint64_t maps_read_errors; /* /proc/PID/maps unreadable (process gone, ...) */
	uint64_t elf_errors;	   /* mapped file unreadable or not ELF */
	uint64_t elf_cache_hits;
	uint64_t elf_cache_misses;
	uint64_t elf_cache_evictions;
	uint64_t proc_cache_evictions;
	uint64_t prefetches;	    /* maps read at a process's first sample (new address space) */
	uint64_t exited_kept;	    /* processes found exited whose maps were kept */
	uint64_t exited_hits;	    /* look-ups answered from an exited process's kept maps */
	uint64_t pid_reuses;	    /* a new process with the pid of one whose maps were kept */
	uint64_t prefetch_failures; /* maps or files unreadable when read ahead (process gone) */
	uint64_t debug_files;	    /* stripped files named from a separate debug file */
	uint64_t minidebug_files;   /* stripped files named from their own MiniDebugInfo */
	uint64_t minidebug_errors;  /* .gnu_debugdata corrupt, too big, or not ELF */
	uint64_t perfmap_loads;	    /* perf maps read (again when they changed) */
	uint64_t perfmap_hits;	    /* JIT frames named from a perf map */
	uint64_t perfmap_errors;    /* perf maps unreadable, too big, or over the memory budget */
	uint64_t perfmap_bad_lines; /* malformed perf-map lines skipped */
	uint64_t ksymbols_added;    /* kernel code announced (BPF programs loaded) */
	uint64_t ksymbols_gone;	    /* announced code that went (programs unloaded) */
	uint64_t ksymbols_dropped;  /* announcements not kept: the table was full of live code */
	uint64_t ksymbol_hits;	    /* kernel frames named from announced code */
	uint64_t line_hits;	    /* frames given a source file and line from DWARF */
	uint64_t line_misses;	    /* frames asked for a line that their file's DWARF lacks */
	uint64_t dwarf_errors;	    /* files whose DWARF could not be opened or read */
	uint64_t dwarf_closed;	    /* files' DWARF closed to stay under max_dwarf_bytes */
	uint64_t dwarf_bytes;	    /* gauge: debug sections of the DWARF open */
	uint64_t line_cache_hits;   /* line look-ups answered without reading DWARF */
	uint64_t line_cache_evictions; /* addresses' lines forgotten for room (LRU) */
	uint64_t line_cache_entries;   /* gauge: addresses whose lines are remembered */
	uint64_t line_cache_bytes;     /* gauge: their memory */
	/* Line look-ups that searched a whole unit for inlined calls: its functions were not
	 * indexed (cap). */
	uint64_t line_scope_walks;
	uint64_t frame_cache_hits;	/* user frames named from the cache of (file, offset) */
	uint64_t frame_cache_misses;	/* named through maps, ELF and DWARF, then cached */
	uint64_t frame_cache_evictions; /* names forgotten for room (LRU) */
	uint64_t frame_cache_entries;	/* gauge */
	uint64_t frame_cache_bytes;	/* gauge */
	uint64_t elf_cached;		/* gauge: ELF files held */
	uint64_t proc_cached;		/* gauge: processes held */
};

struct symbolizer *symbolizer__new(const struct symbolizer_opts *opts);
void symbolizer__free(struct symbolizer *sym);

/*
 * Starts a batch (one profile). A process's maps are read at most once per
 * batch, and again in the next batch, so exec and PID reuse are seen.
 */
void symbolizer__begin(struct symbolizer *sym);

/*
 * addr is the address to look up. For return addresses (every frame but the
 * leaf) callers pass addr - 1 so that the call instruction is named.
 * Return 0 with *out filled (out->name may be NULL), or a negative errno when
 * nothing at all is known (then out->map_path is NULL too).
 */
int symbolizer__kernel(struct symbolizer *sym, uint64_t addr, struct sym_frame *out);

/*
 * Kernel code at [addr, addr + len) called name appeared (a BPF program was
 * loaded) or, when gone, went. It names its range ahead of the kallsyms
 * snapshot, which goes stale when new code reuses a dead program's memory;
 * code that went still names its range until new code takes it. 0 or -errno.
 */
int symbolizer__ksymbol(struct symbolizer *sym, uint64_t addr, uint32_t len, const char *name,
			bool gone);
/* Some announcements were lost: read /proc/kallsyms again at the next batch. */
void symbolizer__ksyms_stale(struct symbolizer *sym);
int symbolizer__user(struct symbolizer *sym, uint32_t pid, uint64_t addr, struct sym_frame *out);
/*
 * The same for the process pid that started at start_ns (boot-time ns, as the
 * BPF programs read it; 0: whichever process has the pid). After the pid is
 * reused, the old process's frames are still named from its own maps, and
 * never from the new process's: -ESRCH when its maps are not known.
 */
int symbolizer__user_of(struct symbolizer *sym, uint32_t pid, uint64_t start_ns, uint64_t addr,
			struct sym_frame *out);

/*
 * Adds the source file and line to out, the frame that the last call on sym
 * (symbolizer__user or _user_of) returned, from the DWARF line table of its file or of the
 * separate debug file its symbols came from. The DWARF of a file is opened at
 * its first line look-up and kept with its symbol table. 0 with out->file and
 * out->line set; -ENOENT when there is no line information (they stay NULL
 * and 0), -EINVAL when out is not the frame of the last call.
 */
int symbolizer__user_line(struct symbolizer *sym, struct sym_frame *out);

/*
 * symbolizer__user_of, then symbolizer__user_line when the frame has a name:
 * a frame as a profile shows it. The names of an address in a mapped file
 * depend on the file and the offset only, so they are kept across batches
 * by (file, offset) and every process mapping the file shares them; the
 * process's maps are still read as symbolizer__user_of reads them, for the
 * mapping range. The same returns and lifetime as symbolizer__user_of.
 */
int symbolizer__user_named(struct symbolizer *sym, uint32_t pid, uint64_t start_ns, uint64_t addr,
			   struct sym_frame *out);

/*
 * Reads pid's maps now, as a new address space (a new process, an exec, a
 * reused pid), and opens its mapped files, while the process still runs.
 * When it has exited by the time a profile is built, these maps name its
 * frames for keep_exited_ns. start_ns (0: unknown) is when it started: the
 * entry of another process that had the pid is kept apart, as an exited
 * one. 0 or -errno (-ESRCH: already gone).
 */
int symbolizer__prefetch(struct symbolizer *sym, uint32_t pid, uint64_t start_ns);

/*
 * The file mapping of a process that holds an address, for the unwinder
 * (daemon/unwinder.c): the same maps, files and caches that name its frames.
 */
struct sym_mapping {
	uint64_t start, end, offset, inode;
	uint32_t dev_major, dev_minor;
	uint64_t elf_addr; /* the address as a virtual address of the file (its PT_LOAD) */
	bool vdso;	   /* the [vdso]: no file; elf_addr is in the daemon's own image */
};
/*
 * Fills *out for addr in the process (pid, start_ns; 0: whichever has the
 * pid). 0, -ENOENT when addr is in no mapping, -ENODATA when in one without
 * an ELF file (anonymous, JIT), or another -errno (-ESRCH: the process is
 * unknown).
 */
int symbolizer__mapping(struct symbolizer *sym, uint32_t pid, uint64_t start_ns, uint64_t addr,
			struct sym_mapping *out);
/*
 * Reads the maps of the process again, now, if they were read more than
 * min_age_ns ago: an address in no mapping may be in a library mapped since
 * (dlopen, or a first read that met the dynamic linker at work). 0 when read
 * again, -EAGAIN when read too recently (or the process has exited), or
 * another -errno (-ESRCH: the process is unknown or gone).
 */
int symbolizer__refresh(struct symbolizer *sym, uint32_t pid, uint64_t start_ns,
			uint64_t min_age_ns);
/*
 * Opens the file mapped at addr for reading, as the symbolizer opens it
 * (through /proc/PID/root or /proc/PID/map_files). An fd or -errno.
 */
int symbolizer__open_mapping(struct symbolizer *sym, uint32_t pid, uint64_t start_ns,
			     uint64_t addr);

void symbolizer__stats(const struct symbolizer *sym, struct symbolizer_stats *out);

/* One /proc/PID/maps line, parsed. Exposed for tests and fuzzing. */
struct maps_entry {
	uint64_t start, end, offset, inode;
	uint32_t dev_major, dev_minor;
	bool exec;
	char path[4096]; /* "" for anonymous mappings */
};
/* 0, or -EINVAL for a malformed line. */
int maps__parse_line(const char *line, struct maps_entry *out);

/* One perf-map line, "START SIZE name" (hex, 0x optional). Exposed for tests and fuzzing. */
struct perfmap_entry {
	uint64_t start, size;
	const char *name; /* inside the line, not NUL-terminated */
	size_t name_len;  /* at most 1024: longer names are cut */
};
/* 0, or -EINVAL for a malformed line (size 0, a range past 2^64, no name, a NUL...). */
int perfmap__parse_line(const char *line, size_t len, struct perfmap_entry *out);

/* One /proc/kallsyms line. Exposed for tests and fuzzing. */
struct kallsyms_entry {
	uint64_t addr;
	char type;
	char name[256];
	char module[64]; /* "" for the core kernel */
};
int kallsyms__parse_line(const char *line, struct kallsyms_entry *out);

#endif
