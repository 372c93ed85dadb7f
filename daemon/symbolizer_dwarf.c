// SPDX-License-Identifier: GPL-2.0
/*
 * Source lines of user code, from the DWARF line tables of a file, read with
 * libdw (elfutils, the same project as our libelf).
 *
 * A file is mapped read-only (ELF_C_READ_MMAP) and its descriptor released
 * at once, so that the LRU-capped ELF cache holding these handles costs no
 * descriptors; libdw reads the debug sections in place (a compressed one is
 * inflated into memory) and parses a unit's line table at its first look-up.
 *
 * Addresses are link-time virtual addresses (what st_value and DWARF hold):
 * the symbolizer's file offsets go through the PT_LOAD segments first, as
 * elf_image__find does for symbols.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>

#include "symbolizer_internal.h"

/* Unit ranges indexed for a file without .debug_aranges: 24 MiB at most. */
#define DWARF_MAX_RANGES (1u << 20)
/* Function ranges indexed per file, over all its units: 6 MiB at most. */
#define DWARF_MAX_FUNCS (1u << 18)
/* Nesting followed below a function: scopes deeper than this are not searched. */
#define DWARF_MAX_DEPTH 64

/* Whether e has a section named .debug_info (plain or compressed, SHF_COMPRESSED). */
static bool elf__has_debug_info(Elf *e)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(e, &shstrndx))
		return false;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (name && (!strcmp(name, ".debug_info") || !strcmp(name, ".zdebug_info")))
			return true;
	}
	return false;
}

/* Whether e's build ID, in lowercase hex, is want. */
static bool elf__build_id_is(Elf *e, const char *want)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *id;
	const void *raw;
	ssize_t len = dwelf_elf_gnu_build_id(e, &raw);

	if (len <= 0 || strlen(want) != (size_t)len * 2)
		return false;
	id = raw;
	for (ssize_t i = 0; i < len; i++)
		if (want[2 * i] != hex[id[i] >> 4] || want[2 * i + 1] != hex[id[i] & 15])
			return false;
	return true;
}

static int range_cmp(const void *a, const void *b)
{
	const struct sym_dwarf_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Every compile unit's address ranges into d->ranges, sorted. 0 or -errno. */
static int sym_dwarf__index_units(struct sym_dwarf *d)
{
	Dwarf_Off off = 0, next;
	size_t hsize, cap = 0;

	while (dwarf_nextcu(d->dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Addr base, start, end;
		Dwarf_Die cudie;
		ptrdiff_t it = 0;

		if (!dwarf_offdie(d->dw, off + hsize, &cudie)) {
			off = next;
			continue;
		}
		while ((it = dwarf_ranges(&cudie, it, &base, &start, &end)) > 0) {
			if (start >= end)
				continue;
			if (d->nr_ranges == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct sym_dwarf_range *nr;

				if (ncap > DWARF_MAX_RANGES)
					return -E2BIG;
				nr = realloc(d->ranges, ncap * sizeof(*nr));
				if (!nr)
					return -ENOMEM;
				d->ranges = nr;
				cap = ncap;
			}
			d->ranges[d->nr_ranges++] = (struct sym_dwarf_range){
				.start = start, .end = end, .cu_off = off + hsize};
		}
		off = next;
	}
	if (d->nr_ranges)
		qsort(d->ranges, d->nr_ranges, sizeof(*d->ranges), range_cmp);
	return 0;
}

/* Whether libdw finds units by address: the file has a usable .debug_aranges. */
static bool sym_dwarf__has_aranges(struct sym_dwarf *d)
{
	Dwarf_Aranges *ar;
	size_t n = 0;

	return dwarf_getaranges(d->dw, &ar, &n) == 0 && n > 0;
}

int sym_dwarf__open(struct sym_dwarf *d, int fd, const char *build_id)
{
	int err;

	memset(d, 0, sizeof(*d));
	d->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!d->elf)
		return -ENOEXEC;
	if (elf_kind(d->elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto err_end_elf;
	}
	/*
	 * Nothing is read through fd from here on: mapped, libelf reads memory;
	 * where mapping failed, the whole file is read in now.
	 */
	if (elf_cntl(d->elf, ELF_C_FDREAD)) {
		err = -EIO;
		goto err_end_elf;
	}
	/* Reopened by path: the file must still be the one the symbols came from. */
	if (build_id && !elf__build_id_is(d->elf, build_id)) {
		err = -ESTALE;
		goto err_end_elf;
	}
	if (!elf__has_debug_info(d->elf)) {
		err = -ENODATA;
		goto err_end_elf;
	}
	d->dw = dwarf_begin_elf(d->elf, DWARF_C_READ, NULL);
	if (!d->dw) {
		err = -EINVAL;
		goto err_end_elf;
	}
	if (!sym_dwarf__has_aranges(d)) {
		err = sym_dwarf__index_units(d);
		if (err)
			goto err_end_dwarf;
	}
	return 0;

err_end_dwarf:
	free(d->ranges);
	d->ranges = NULL;
	d->nr_ranges = 0;
	dwarf_end(d->dw);
	d->dw = NULL;
err_end_elf:
	elf_end(d->elf);
	d->elf = NULL;
	return err;
}

size_t sym_dwarf__bytes(const struct sym_dwarf *d)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, bytes = 0;

	if (!d->elf || elf_getshdrstrndx(d->elf, &shstrndx))
		return 0;
	while ((scn = elf_nextscn(d->elf, scn))) {
		GElf_Shdr sh;
		GElf_Chdr ch;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(d->elf, shstrndx, sh.sh_name);
		if (!name || (strncmp(name, ".debug_", 7) && strncmp(name, ".zdebug_", 8)))
			continue;
		if ((sh.sh_flags & SHF_COMPRESSED) && gelf_getchdr(scn, &ch))
			bytes += (size_t)ch.ch_size;
		else
			bytes += (size_t)sh.sh_size;
	}
	return bytes;
}

void sym_dwarf__release(struct sym_dwarf *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nr_units; i++)
		free(d->units[i].funcs);
	free(d->units);
	free(d->ranges);
	if (d->dw)
		dwarf_end(d->dw);
	if (d->elf)
		elf_end(d->elf);
	memset(d, 0, sizeof(*d));
}

/* The compile unit covering vaddr, from .debug_aranges or else from d->ranges. */
static Dwarf_Die *sym_dwarf__unit(struct sym_dwarf *d, uint64_t vaddr, Dwarf_Die *cudie)
{
	size_t lo = 0, hi = d->nr_ranges;

	if (!d->ranges)
		return dwarf_addrdie(d->dw, vaddr, cudie);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->ranges[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Ranges of units may nest or overlap a little: look a few back. */
	for (size_t j = lo, k = 0; j-- > 0 && k < 8; k++)
		if (vaddr < d->ranges[j].end)
			return dwarf_offdie(d->dw, d->ranges[j].cu_off, cudie);
	return NULL;
}

/* The name a function's DIE gives it: the linkage (symbol) name if any, as ELF names it. */
static const char *die__function_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name = NULL;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr))
		name = dwarf_formstring(&attr);
	return name ? name : dwarf_diename(die);
}

/* Fills inl[n] from an inlined_subroutine DIE. False when it has no name. */
static bool inline_entry(Dwarf_Die *s, Dwarf_Files *files, size_t nfiles, struct sym_inline *inl)
{
	Dwarf_Attribute attr;
	Dwarf_Word v;
	const char *name = die__function_name(s);

	if (!name)
		return false;
	*inl = (struct sym_inline){.name = name};
	if (files && dwarf_attr(s, DW_AT_call_file, &attr) && !dwarf_formudata(&attr, &v) &&
	    v < nfiles)
		inl->call_file = dwarf_filesrc(files, v, NULL, NULL);
	if (dwarf_attr(s, DW_AT_call_line, &attr) && !dwarf_formudata(&attr, &v) && v <= UINT32_MAX)
		inl->call_line = (uint32_t)v;
	return true;
}

/*
 * The inlined_subroutine scopes around vaddr, innermost first, walked from
 * the unit. dwarf_getscopes follows an inlined call's abstract definition
 * after the innermost one, so the concrete nesting of that one is asked for
 * with dwarf_getscopes_die.
 */
static size_t sym_dwarf__inlined_walk(Dwarf_Die *cudie, uint64_t vaddr, Dwarf_Files *files,
				      size_t nfiles, struct sym_inline *inl, size_t max_inl)
{
	Dwarf_Die *scopes = NULL, *chain = NULL;
	int nscopes = dwarf_getscopes(cudie, vaddr, &scopes), nchain = 0;
	size_t n = 0;

	for (int i = 0; i < nscopes; i++) {
		if (dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine) {
			nchain = dwarf_getscopes_die(&scopes[i], &chain);
			break;
		}
	}
	for (int i = 0; i < nchain && n < max_inl; i++) {
		if (dwarf_tag(&chain[i]) != DW_TAG_inlined_subroutine)
			continue;
		/* A chain with a hole would name the wrong callers. */
		if (!inline_entry(&chain[i], files, nfiles, &inl[n]))
			break;
		n++;
	}
	free(chain);
	free(scopes);
	return n;
}

static int func_cmp(const void *a, const void *b)
{
	const struct sym_dwarf_func *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Appends the ranges of the subprograms among die's children (namespaces and classes followed). */
static int unit_add_funcs(struct sym_dwarf *d, struct sym_dwarf_unit *u, Dwarf_Die *die,
			  size_t *cap, int depth)
{
	Dwarf_Die child;
	int err = 0;

	if (depth > 8 || dwarf_child(die, &child) != 0)
		return 0;
	do {
		Dwarf_Addr base, start, end;
		ptrdiff_t it = 0;

		switch (dwarf_tag(&child)) {
		case DW_TAG_subprogram:
			while ((it = dwarf_ranges(&child, it, &base, &start, &end)) > 0) {
				if (start >= end)
					continue;
				if (d->nr_funcs >= DWARF_MAX_FUNCS)
					return -E2BIG;
				if (u->nr_funcs == *cap) {
					size_t ncap = *cap ? *cap * 2 : 64;
					struct sym_dwarf_func *nf =
						realloc(u->funcs, ncap * sizeof(*nf));

					if (!nf)
						return -ENOMEM;
					u->funcs = nf;
					*cap = ncap;
				}
				u->funcs[u->nr_funcs++] =
					(struct sym_dwarf_func){.start = start,
								.end = end,
								.die_off = dwarf_dieoffset(&child)};
				d->nr_funcs++;
			}
			break;
		case DW_TAG_namespace:
		case DW_TAG_class_type:
		case DW_TAG_structure_type:
		case DW_TAG_union_type:
			err = unit_add_funcs(d, u, &child, cap, depth + 1);
			break;
		default:
			break;
		}
	} while (!err && dwarf_siblingof(&child, &child) == 0);
	return err;
}

/* The unit at cu_off's function index, built now if it is new; NULL on allocation failure. */
static struct sym_dwarf_unit *sym_dwarf__unit_index(struct sym_dwarf *d, Dwarf_Die *cudie)
{
	uint64_t cu_off = dwarf_dieoffset(cudie);
	size_t lo = 0, hi = d->nr_units, cap = 0;
	struct sym_dwarf_unit *u;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->units[mid].cu_off < cu_off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < d->nr_units && d->units[lo].cu_off == cu_off)
		return &d->units[lo];
	if (d->nr_units == d->cap_units) {
		size_t ncap = d->cap_units ? d->cap_units * 2 : 16;

		u = realloc(d->units, ncap * sizeof(*u));
		if (!u)
			return NULL;
		d->units = u;
		d->cap_units = ncap;
	}
	memmove(&d->units[lo + 1], &d->units[lo], (d->nr_units - lo) * sizeof(*u));
	d->nr_units++;
	u = &d->units[lo];
	*u = (struct sym_dwarf_unit){.cu_off = cu_off};
	if (unit_add_funcs(d, u, cudie, &cap, 0) == 0) {
		/* A unit may have no function at all: assembly, or data only. */
		if (u->nr_funcs)
			qsort(u->funcs, u->nr_funcs, sizeof(*u->funcs), func_cmp);
		u->indexed = true;
	} else {
		/* Over the cap (or out of memory): this unit is walked from the top. */
		d->nr_funcs -= u->nr_funcs;
		free(u->funcs);
		u->funcs = NULL;
		u->nr_funcs = 0;
	}
	return u;
}

/* The function of u containing vaddr, into fn; false when none does. */
static bool unit_function(struct sym_dwarf *d, const struct sym_dwarf_unit *u, uint64_t vaddr,
			  Dwarf_Die *fn)
{
	size_t lo = 0, hi = u->nr_funcs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->funcs[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Ranges may nest (a function's cold part) or overlap: look a few back. */
	for (size_t j = lo, k = 0; j-- > 0 && k < 8; k++)
		if (vaddr < u->funcs[j].end)
			return dwarf_offdie(d->dw, u->funcs[j].die_off, fn) != NULL;
	return false;
}

/*
 * The inlined_subroutine scopes around vaddr, innermost first, into inl:
 * from the function that contains vaddr down through the inlined calls and
 * lexical blocks that contain it.
 */
static size_t sym_dwarf__inlined(struct sym_dwarf *d, Dwarf_Die *cudie, uint64_t vaddr,
				 struct sym_inline *inl, size_t max_inl)
{
	Dwarf_Die chain[DWARF_MAX_DEPTH], scope, child;
	const struct sym_dwarf_unit *u;
	Dwarf_Files *files = NULL;
	size_t n = 0, depth = 0, nfiles = 0;

	if (!max_inl)
		return 0;
	if (dwarf_getsrcfiles(cudie, &files, &nfiles))
		files = NULL;
	if (d->always_walk)
		return sym_dwarf__inlined_walk(cudie, vaddr, files, nfiles, inl, max_inl);
	u = sym_dwarf__unit_index(d, cudie);
	if (!u || !u->indexed) {
		d->scope_walks++;
		return sym_dwarf__inlined_walk(cudie, vaddr, files, nfiles, inl, max_inl);
	}
	if (!unit_function(d, u, vaddr, &scope))
		return 0;
	/* Down from the function, into the one child scope that holds vaddr, each time. */
	while (depth < DWARF_MAX_DEPTH && dwarf_child(&scope, &child) == 0) {
		bool deeper = false;

		do {
			int tag = dwarf_tag(&child);

			if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) &&
			    dwarf_haspc(&child, vaddr) == 1) {
				if (tag == DW_TAG_inlined_subroutine)
					chain[depth++] = child;
				scope = child;
				deeper = true;
				break;
			}
		} while (dwarf_siblingof(&child, &child) == 0);
		if (!deeper)
			break;
	}
	while (depth-- > 0 && n < max_inl) {
		/* A chain with a hole would name the wrong callers. */
		if (!inline_entry(&chain[depth], files, nfiles, &inl[n]))
			break;
		n++;
	}
	return n;
}

int sym_dwarf__find(struct sym_dwarf *d, uint64_t vaddr, const char **file, uint32_t *line,
		    struct sym_inline *inl, size_t max_inl, size_t *n_inl)
{
	Dwarf_Die cudie;
	Dwarf_Line *row;
	const char *src;
	int lineno;

	*n_inl = 0;
	if (!d->dw || !sym_dwarf__unit(d, vaddr, &cudie))
		return -ENOENT;
	row = dwarf_getsrc_die(&cudie, vaddr);
	if (!row || dwarf_lineno(row, &lineno) || lineno <= 0)
		return -ENOENT;
	src = dwarf_linesrc(row, NULL, NULL);
	if (!src || !src[0])
		return -ENOENT;
	*file = src;
	*line = (uint32_t)lineno;
	*n_inl = sym_dwarf__inlined(d, &cudie, vaddr, inl, max_inl);
	return 0;
}
