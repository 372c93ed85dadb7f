/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private to symbolizer*.c: the kernel symbol table (symbolizer_kernel.c),
 * the ELF symbol tables (symbolizer_elf.c) and the DWARF line tables
 * (symbolizer_dwarf.c). symbolizer.c owns the caches and the per-process
 * mapping tables built on top of them.
 */
#ifndef SONDE_SYMBOLIZER_INTERNAL_H
#define SONDE_SYMBOLIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libelf.h>

#include "strbuf.h"
#include "symbolizer.h"

/* Parses up to 16 hex digits at *p and advances it; -EINVAL if none or too many. */
int sym_parse_hex(const char **p, uint64_t *out);

/* ---- kernel: /proc/kallsyms ---- */

struct ksym {
	uint64_t addr;
	uint64_t end;  /* first address past the symbol (next symbol or a bounded tail) */
	uint32_t name; /* offset in ksyms.names */
	uint32_t mod;  /* index in ksyms.mods; 0 is the core kernel */
	bool text;     /* a function that may be named; otherwise only a boundary */
};

struct kmod {
	uint32_t name;	   /* offset in ksyms.names of "[kernel.kallsyms]" or "[mod]" */
	uint64_t min, max; /* text range covered by the module's named symbols */
};

struct ksyms {
	struct ksym *syms; /* sorted by addr, one per address */
	size_t nr_syms;
	struct kmod *mods;
	size_t nr_mods;
	struct strbuf names;
};

/* Reads a kallsyms file into ks (which must be zeroed or released). */
int ksyms__load(struct ksyms *ks, const char *path);
void ksyms__release(struct ksyms *ks);
/* Fills name, sym_offset, map_* of out; -ENOENT when no text symbol covers addr. */
int ksyms__find(const struct ksyms *ks, uint64_t addr, struct sym_frame *out);

/* ---- user: ELF symbol tables ---- */

struct elf_sym {
	uint64_t addr; /* st_value */
	uint64_t size; /* st_size, 0 when unknown */
	uint32_t name; /* offset in elf_image.names */
	uint32_t shndx;
};

struct elf_seg {
	uint64_t off, vaddr, filesz;
	bool exec;
};

struct elf_sec {
	uint64_t addr, size;
	uint32_t idx;
};

struct elf_image {
	struct elf_sym *syms; /* sorted by addr, one per address */
	size_t nr_syms;
	struct elf_seg *segs; /* PT_LOAD */
	size_t nr_segs;
	struct elf_sec *secs; /* executable sections, sorted by addr */
	size_t nr_secs;
	struct strbuf names;
	char *build_id;	 /* lowercase hex, NULL when the file has none */
	uint16_t type;	 /* ET_EXEC, ET_DYN, ... */
	bool has_symtab; /* a .symtab was read (else a separate debug file may have one) */
	bool from_debug; /* symbols from a separate debug file were added */
};

/* Reads symbols, PT_LOAD segments and the build ID of e into img (zeroed or released). */
int elf_image__load(struct elf_image *img, Elf *e);
void elf_image__release(struct elf_image *img);
/*
 * Adds the .symtab functions of debug, a separate debug file of img's file
 * (same addresses), to img. -ESTALE when their build IDs differ, -ENOENT
 * when debug has no .symtab; img is unchanged on failure.
 */
int elf_image__add_debug(struct elf_image *img, Elf *debug);
/* e's .gnu_debuglink: the debug file's name (no '/') and the CRC32 of its contents. */
int elf_debuglink(Elf *e, char *name, size_t len, uint32_t *crc);
/*
 * Adds the functions of e's MiniDebugInfo (.gnu_debugdata: an xz-compressed
 * ELF whose .symtab holds what .dynsym lacks) to img, as elf_image__add_debug
 * does. -ENOENT when e has none, -EFBIG past the size caps, -EINVAL or
 * -ENOEXEC when it is corrupt; img is unchanged on failure.
 */
int elf_image__add_minidebug(struct elf_image *img, Elf *e);
/*
 * Decompresses one .xz stream of in_len bytes into a malloc'd *out of at most
 * max bytes. 0, -EFBIG past max, -EINVAL for a truncated or corrupt stream.
 */
int xz_decompress(const void *in, size_t in_len, size_t max, void **out, size_t *out_len);
/* The virtual address of file offset off (through the PT_LOAD holding it); -ENOENT if none. */
int elf_image__vaddr(const struct elf_image *img, uint64_t off, uint64_t *vaddr);
/*
 * Names the code at file offset off. 0 with *name and *sym_offset set, or
 * -ENOENT when no segment holds off or no symbol covers it.
 */
int elf_image__find(const struct elf_image *img, uint64_t off, const char **name,
		    uint64_t *sym_offset);

/* ---- user: DWARF line tables (libdw) ---- */

struct Dwarf; /* <elfutils/libdw.h>, for symbolizer_dwarf.c only */

/* An address range of one compile unit. */
struct sym_dwarf_range {
	uint64_t start, end;
	uint64_t cu_off; /* the unit's DIE offset in .debug_info */
};

/* The DWARF of one file, opened at its first line look-up. */
struct sym_dwarf {
	Elf *elf;
	struct Dwarf *dw;
	/*
	 * The units' ranges, sorted by start, when the file has no .debug_aranges
	 * (clang emits none by default) and libdw could not find units by address.
	 */
	struct sym_dwarf_range *ranges;
	size_t nr_ranges;
	/*
	 * Per unit, built at its first look-up: its functions' ranges, sorted,
	 * so that the inlined calls at an address are found by walking down
	 * from its function only, not from the unit (dwarf_getscopes). Units
	 * sorted by offset; nr_funcs counts the entries of all of them, under
	 * DWARF_MAX_FUNCS; a unit that does not fit is walked from the top.
	 */
	struct sym_dwarf_unit {
		uint64_t cu_off;
		struct sym_dwarf_func {
			uint64_t start, end;
			uint64_t die_off;
		} * funcs;
		size_t nr_funcs;
		bool indexed; /* false: too big for the cap, walked from the top */
	} * units;
	size_t nr_units, cap_units, nr_funcs;
	uint64_t scope_walks; /* look-ups that walked a whole unit's scopes */
	bool always_walk;     /* tests: always walk from the unit, the reference to compare with */
};

/*
 * Opens the DWARF of the ELF file at fd into d (zeroed or released). The file
 * is mapped, so fd may be closed afterwards. With build_id (lowercase hex),
 * the file must carry that build ID. 0; -ENODATA when the file has no DWARF
 * (no .debug_info), -ESTALE when its build ID differs, -ENOEXEC when it is
 * not ELF, -EINVAL when its DWARF is corrupt; d is left released on failure.
 */
int sym_dwarf__open(struct sym_dwarf *d, int fd, const char *build_id);
void sym_dwarf__release(struct sym_dwarf *d);
/*
 * The bytes of d's debug sections (decompressed): what libdw reads of the
 * file, mapped or copied, a measure of what an open DWARF holds.
 */
size_t sym_dwarf__bytes(const struct sym_dwarf *d);
/*
 * The line-table row covering vaddr (a link-time address, as st_value): its
 * source file (owned by d) and line; and in inl[0..*n_inl), at most max_inl,
 * the functions inlined at vaddr, innermost first (see struct sym_inline).
 * 0, or -ENOENT when no unit covers vaddr or its row has no line.
 */
int sym_dwarf__find(struct sym_dwarf *d, uint64_t vaddr, const char **file, uint32_t *line,
		    struct sym_inline *inl, size_t max_inl, size_t *n_inl);

/* ---- user: JIT perf maps (/tmp/perf-PID.map) ---- */

struct perfmap_sym {
	uint64_t start, end;
	uint32_t name; /* offset in perfmap.names */
	uint32_t seq;  /* line number among the good lines: later lines win */
};

struct perfmap {
	struct perfmap_sym *syms; /* sorted by start, then seq */
	size_t nr_syms;
	struct strbuf names;
	uint64_t bad_lines;
	/* The file as loaded: a change in any of these means reload. */
	uint64_t size, mtime_ns, dev, ino;
};

/*
 * Reads a perf map from fd into pm (zeroed or released): at most max_bytes
 * of file (else -EFBIG) and max_syms entries; malformed lines are counted in
 * pm->bad_lines and skipped. 0 or -errno.
 */
int perfmap__load(struct perfmap *pm, int fd, size_t max_bytes, size_t max_syms);
void perfmap__release(struct perfmap *pm);
/* Memory held by pm's table. */
size_t perfmap__bytes(const struct perfmap *pm);
/* The entry holding addr (the last written, where entries overlap); -ENOENT if none. */
int perfmap__find(const struct perfmap *pm, uint64_t addr, const char **name, uint64_t *sym_offset);

#endif
