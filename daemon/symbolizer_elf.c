// SPDX-License-Identifier: GPL-2.0
/*
 * ELF symbol tables, read with libelf.
 *
 * Keeps the functions of .symtab and .dynsym (STT_FUNC, STT_GNU_IFUNC, and
 * STT_NOTYPE labels with a value) that live in executable sections, one per
 * address, sorted; the PT_LOAD segments that turn a file offset into a
 * virtual address; and the GNU build ID. A stripped file's .symtab can come
 * from a separate debug file (elf_image__add_debug) found by build ID or by
 * .gnu_debuglink, or from the file's own MiniDebugInfo (an xz-compressed
 * ELF in .gnu_debugdata, decompressed with liblzma under a size cap).
 * Everything libelf hands out is
 * bounds-checked by libelf itself (gelf_getsym, elf_strptr, gelf_getnote);
 * what is left to check here is size arithmetic and the caps that keep a
 * hostile file from costing unbounded memory.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <gelf.h>
#include <lzma.h>

#include "symbolizer_internal.h"

#define ELF_MAX_SYMS	 (4u << 20)
#define ELF_MAX_NAMES	 (128u << 20) /* bytes of symbol names kept per file */
#define ELF_MAX_NAME_LEN 4096
#define ELF_MAX_SEGS	 64
#define ELF_MAX_SECS	 (1u << 20)
#define BUILD_ID_MAX	 64
/* MiniDebugInfo: compressed and decompressed size, and the decoder's memory. */
#define MINIDEBUG_MAX_IN   (32u << 20)
#define MINIDEBUG_MAX_OUT  (64u << 20)
#define MINIDEBUG_MEMLIMIT (64u << 20)

struct sym_load {
	struct elf_sym sym;
	uint32_t name_len;
	uint8_t rank;	     /* function before label, exported before local */
	uint8_t underscores; /* fewer leading underscores reads better: "write" over "__write" */
};

struct elf_load {
	struct elf_image *img;
	Elf *e;
	size_t shnum;
	uint8_t *exec_sec; /* [shnum]: section is allocated and executable */
	struct sym_load *ld;
	size_t nr, cap;
	size_t secs_cap;
	bool debug_only; /* a separate debug file: its .symtab only */
};

static int sym_load_cmp(const void *a, const void *b)
{
	const struct sym_load *x = a, *y = b;

	if (x->sym.addr != y->sym.addr)
		return x->sym.addr < y->sym.addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	if (x->underscores != y->underscores)
		return x->underscores < y->underscores ? -1 : 1;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	return x->sym.name < y->sym.name ? -1 : x->sym.name > y->sym.name;
}

static int sec_cmp(const void *a, const void *b)
{
	const struct elf_sec *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int load_segments(struct elf_image *img, Elf *e)
{
	size_t phnum;

	if (elf_getphdrnum(e, &phnum))
		return 0; /* no program headers: nothing maps, nothing resolves */
	img->segs = calloc(ELF_MAX_SEGS, sizeof(*img->segs));
	if (!img->segs)
		return -ENOMEM;
	for (size_t i = 0; i < phnum && img->nr_segs < ELF_MAX_SEGS; i++) {
		struct elf_seg *seg = &img->segs[img->nr_segs];
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		if (ph.p_offset > UINT64_MAX - ph.p_filesz)
			continue;
		seg->off = ph.p_offset;
		seg->vaddr = ph.p_vaddr;
		seg->filesz = ph.p_filesz;
		seg->exec = ph.p_flags & PF_X;
		img->nr_segs++;
	}
	return 0;
}

static int build_id_from_notes(struct elf_image *img, Elf_Data *d)
{
	static const char hex[] = "0123456789abcdef";
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	if (!d || !d->d_buf)
		return 0;
	while ((next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > off) {
		const unsigned char *desc = (const unsigned char *)d->d_buf + desc_off;

		off = next;
		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
		    memcmp((const char *)d->d_buf + name_off, "GNU", 4) != 0)
			continue;
		if (!nh.n_descsz || nh.n_descsz > BUILD_ID_MAX)
			continue;
		img->build_id = malloc(2 * nh.n_descsz + 1);
		if (!img->build_id)
			return -ENOMEM;
		for (size_t i = 0; i < nh.n_descsz; i++) {
			img->build_id[2 * i] = hex[desc[i] >> 4];
			img->build_id[2 * i + 1] = hex[desc[i] & 15];
		}
		img->build_id[2 * nh.n_descsz] = '\0';
		return 0;
	}
	return 0;
}

/* For files whose section headers are gone: the same notes through PT_NOTE. */
static int build_id_from_phdrs(struct elf_image *img, Elf *e)
{
	size_t phnum;
	int err;

	if (elf_getphdrnum(e, &phnum))
		return 0;
	for (size_t i = 0; i < phnum && i < 256 && !img->build_id; i++) {
		GElf_Phdr ph;
		Elf_Data *d;

		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE || !ph.p_filesz)
			continue;
		d = elf_getdata_rawchunk(e, (int64_t)ph.p_offset, ph.p_filesz,
					 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
		err = build_id_from_notes(img, d);
		if (err)
			return err;
	}
	return 0;
}

static int add_exec_section(struct elf_load *l, size_t idx, const GElf_Shdr *sh)
{
	struct elf_image *img = l->img;

	l->exec_sec[idx] = 1;
	if (img->nr_secs == l->secs_cap) {
		size_t ncap = l->secs_cap ? l->secs_cap * 2 : 16;
		struct elf_sec *ns;

		if (ncap > ELF_MAX_SECS)
			return 0;
		ns = realloc(img->secs, ncap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		img->secs = ns;
		l->secs_cap = ncap;
	}
	img->secs[img->nr_secs].addr = sh->sh_addr;
	img->secs[img->nr_secs].size = sh->sh_size;
	img->secs[img->nr_secs].idx = (uint32_t)idx;
	img->nr_secs++;
	return 0;
}

static uint8_t count_underscores(const char *name)
{
	uint8_t n = 0;

	while (name[n] == '_' && n < 255)
		n++;
	return n;
}

static int add_symbol(struct elf_load *l, const GElf_Sym *s, const char *name)
{
	static const char nul;
	struct strbuf *pool = &l->img->names;
	unsigned char type = GELF_ST_TYPE(s->st_info), bind = GELF_ST_BIND(s->st_info);
	size_t len = strnlen(name, ELF_MAX_NAME_LEN);
	struct sym_load *sl;
	int err;

	if (l->nr >= ELF_MAX_SYMS || pool->len + len + 1 > ELF_MAX_NAMES)
		return -E2BIG;
	if (l->nr == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 256;
		struct sym_load *nl = realloc(l->ld, ncap * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		l->ld = nl;
		l->cap = ncap;
	}
	sl = &l->ld[l->nr];
	memset(sl, 0, sizeof(*sl));
	sl->sym.addr = s->st_value;
	sl->sym.size = s->st_size;
	sl->sym.shndx = s->st_shndx;
	sl->sym.name = (uint32_t)pool->len;
	sl->name_len = (uint32_t)len;
	sl->rank = (uint8_t)((type == STT_NOTYPE ? 0 : 2) + (bind == STB_LOCAL ? 0 : 1));
	sl->underscores = count_underscores(name);
	err = strbuf__append(pool, name, len);
	if (!err)
		err = strbuf__append(pool, &nul, 1);
	if (err)
		return err;
	l->nr++;
	return 0;
}

static int load_symbols(struct elf_load *l, Elf_Scn *scn, const GElf_Shdr *sh)
{
	size_t entsz = gelf_fsize(l->e, ELF_T_SYM, 1, EV_CURRENT);
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n;

	if (!d || !d->d_buf || !entsz)
		return 0;
	n = d->d_size / entsz;
	if (n > INT_MAX)
		n = INT_MAX;
	/* Entry 0 is the reserved undefined symbol. */
	for (size_t i = 1; i < n; i++) {
		unsigned char type;
		const char *name;
		GElf_Sym s;
		int err;

		if (!gelf_getsym(d, (int)i, &s))
			continue;
		type = GELF_ST_TYPE(s.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE)
			continue;
		if (type == STT_NOTYPE && !s.st_value)
			continue;
		if (s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE ||
		    s.st_shndx >= l->shnum || !l->exec_sec[s.st_shndx])
			continue;
		name = elf_strptr(l->e, sh->sh_link, s.st_name);
		/* "$x"/"$d" and friends are ARM mapping symbols, not functions. */
		if (!name || !name[0] || name[0] == '$')
			continue;
		err = add_symbol(l, &s, name);
		if (err == -E2BIG)
			return 0; /* keep what fits */
		if (err)
			return err;
	}
	return 0;
}

static int load_sections(struct elf_load *l)
{
	Elf_Scn *scn = NULL;
	int err;

	if (elf_getshdrnum(l->e, &l->shnum) || l->shnum == 0)
		return 0;
	if (l->shnum > ELF_MAX_SECS)
		l->shnum = ELF_MAX_SECS;
	l->exec_sec = calloc(l->shnum, 1);
	if (!l->exec_sec)
		return -ENOMEM;
	while ((scn = elf_nextscn(l->e, scn))) {
		size_t idx = elf_ndxscn(scn);
		GElf_Shdr sh;

		if (idx >= l->shnum || !gelf_getshdr(scn, &sh))
			continue;
		/* A debug file's sections keep their headers, their contents NOBITS. */
		if ((sh.sh_flags & (SHF_ALLOC | SHF_EXECINSTR)) == (SHF_ALLOC | SHF_EXECINSTR) &&
		    (sh.sh_type != SHT_NOBITS || l->debug_only) && sh.sh_size) {
			err = 0;
			if (l->debug_only)
				l->exec_sec[idx] = 1;
			else
				err = add_exec_section(l, idx, &sh);
			if (err)
				return err;
		}
		if (sh.sh_type == SHT_NOTE && !l->img->build_id && !l->debug_only) {
			err = build_id_from_notes(l->img, elf_getdata(scn, NULL));
			if (err)
				return err;
		}
	}
	if (l->img->nr_secs)
		qsort(l->img->secs, l->img->nr_secs, sizeof(*l->img->secs), sec_cmp);
	while ((scn = elf_nextscn(l->e, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type != SHT_SYMTAB && (l->debug_only || sh.sh_type != SHT_DYNSYM))
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			l->img->has_symtab = true;
		err = load_symbols(l, scn, &sh);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Gives back the room the symbols and their names grew past: up to 128
 * files stay cached, their names took 10 MiB of the daemon's heap on a busy
 * host (massif), and a doubling buffer leaves up to half of it unused.
 */
static void image_fit(struct elf_image *img)
{
	struct elf_sym *syms;
	char *names;

	if (img->nr_syms) {
		syms = realloc(img->syms, img->nr_syms * sizeof(*syms));
		if (syms)
			img->syms = syms;
	}
	if (img->names.buf && img->names.len + 1 < img->names.cap) {
		names = realloc(img->names.buf, img->names.len + 1);
		if (names) {
			img->names.buf = names;
			img->names.cap = img->names.len + 1;
		}
	}
}

/* Sorts and keeps the best-named symbol at each address (with the largest size seen there). */
static int finish_symbols(struct elf_load *l)
{
	struct elf_image *img = l->img;
	size_t n = 0;

	if (!l->nr)
		return 0;
	qsort(l->ld, l->nr, sizeof(*l->ld), sym_load_cmp);
	img->syms = calloc(l->nr, sizeof(*img->syms));
	if (!img->syms)
		return -ENOMEM;
	for (size_t i = 0; i < l->nr; i++) {
		const struct elf_sym *s = &l->ld[i].sym;

		if (n && img->syms[n - 1].addr == s->addr) {
			if (!img->syms[n - 1].size)
				img->syms[n - 1].size = s->size;
			continue;
		}
		img->syms[n++] = *s;
	}
	img->nr_syms = n;
	image_fit(img);
	return 0;
}

int elf_image__add_debug(struct elf_image *img, Elf *debug)
{
	struct elf_load l = {.img = img, .e = debug, .debug_only = true};
	struct elf_image probe = {0};
	GElf_Ehdr eh;
	int err;

	if (!debug || elf_kind(debug) != ELF_K_ELF || !gelf_getehdr(debug, &eh))
		return -ENOEXEC;
	/* Where both have a build ID they must be one: a debug file of another build lies. */
	err = build_id_from_phdrs(&probe, debug);
	if (!err && !probe.build_id) {
		Elf_Scn *scn = NULL;
		GElf_Shdr sh;

		while (!err && !probe.build_id && (scn = elf_nextscn(debug, scn)))
			if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE)
				err = build_id_from_notes(&probe, elf_getdata(scn, NULL));
	}
	if (err)
		goto out;
	if (img->build_id && probe.build_id && strcmp(img->build_id, probe.build_id)) {
		err = -ESTALE;
		goto out;
	}
	/* What the file itself had (its .dynsym) joins the debug file's .symtab. */
	l.cap = img->nr_syms + 256;
	l.ld = calloc(l.cap, sizeof(*l.ld));
	if (!l.ld) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < img->nr_syms; i++) {
		l.ld[i].sym = img->syms[i];
		l.ld[i].name_len = (uint32_t)strlen(img->names.buf + img->syms[i].name);
		l.ld[i].rank = 3;
		l.ld[i].underscores = count_underscores(img->names.buf + img->syms[i].name);
	}
	l.nr = img->nr_syms;
	err = load_sections(&l);
	if (!err && !img->has_symtab)
		err = -ENOENT; /* not a debug file: no .symtab */
	if (!err) {
		free(img->syms);
		img->syms = NULL;
		img->nr_syms = 0;
		err = finish_symbols(&l);
	}
	free(l.ld);
	free(l.exec_sec);
out:
	free(probe.build_id);
	return err;
}

/* The contents of e's first PROGBITS section called name, or NULL. */
static Elf_Data *progbits_named(Elf *e, const char *name)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (!e || elf_getshdrstrndx(e, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(e, scn))) {
		const char *sec_name;
		Elf_Data *d;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		sec_name = elf_strptr(e, shstrndx, sh.sh_name);
		if (!sec_name || strcmp(sec_name, name))
			continue;
		d = elf_getdata(scn, NULL);
		return d && d->d_buf ? d : NULL;
	}
	return NULL;
}

int elf_debuglink(Elf *e, char *name, size_t len, uint32_t *crc)
{
	Elf_Data *d = progbits_named(e, ".gnu_debuglink");
	const char *file;
	size_t n, at;

	if (!d)
		return -ENOENT;
	file = d->d_buf;
	n = strnlen(file, d->d_size);
	/* A plain file name: no directory part, nothing hidden, room for the CRC. */
	if (!n || n >= len || n == d->d_size || memchr(file, '/', n) || !strcmp(file, ".") ||
	    !strcmp(file, ".."))
		return -EINVAL;
	at = (n + 4) & ~(size_t)3;
	if (at + 4 > d->d_size)
		return -EINVAL;
	memcpy(name, file, n + 1);
	memcpy(crc, (const char *)d->d_buf + at, 4);
	/* The CRC is stored in the file's byte order; libelf gives raw bytes here. */
	if ((elf_getident(e, NULL)[EI_DATA] == ELFDATA2MSB) !=
	    (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__))
		*crc = __builtin_bswap32(*crc);
	return 0;
}

int xz_decompress(const void *in, size_t in_len, size_t max, void **out, size_t *out_len)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	size_t cap = in_len < max / 4 ? in_len * 4 : max;
	unsigned char *buf = NULL, *nb;
	lzma_ret r;
	int err;

	if (!in_len || !max)
		return -EINVAL;
	if (cap < 4096)
		cap = max < 4096 ? max : 4096;
	if (lzma_stream_decoder(&strm, MINIDEBUG_MEMLIMIT, 0) != LZMA_OK)
		return -ENOMEM;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto err_end;
	}
	strm.next_in = in;
	strm.avail_in = in_len;
	strm.next_out = buf;
	strm.avail_out = cap;
	for (;;) {
		r = lzma_code(&strm, LZMA_FINISH);
		if (r == LZMA_STREAM_END)
			break;
		if (r != LZMA_OK) {
			/* Truncated, corrupt, or a decoder that wants more memory than allowed. */
			err = r == LZMA_MEM_ERROR	 ? -ENOMEM
			      : r == LZMA_MEMLIMIT_ERROR ? -EFBIG
							 : -EINVAL;
			goto err_free;
		}
		if (strm.avail_out)
			continue;
		if (cap >= max) {
			err = -EFBIG;
			goto err_free;
		}
		cap = cap > max / 2 ? max : cap * 2;
		nb = realloc(buf, cap);
		if (!nb) {
			err = -ENOMEM;
			goto err_free;
		}
		buf = nb;
		strm.next_out = buf + strm.total_out;
		strm.avail_out = cap - strm.total_out;
	}
	*out = buf;
	*out_len = strm.total_out;
	lzma_end(&strm);
	return 0;

err_free:
	free(buf);
err_end:
	lzma_end(&strm);
	return err;
}

int elf_image__add_minidebug(struct elf_image *img, Elf *e)
{
	Elf_Data *d = progbits_named(e, ".gnu_debugdata");
	size_t len;
	void *buf;
	Elf *mini;
	int err;

	if (!d || !d->d_size)
		return -ENOENT;
	if (d->d_size > MINIDEBUG_MAX_IN)
		return -EFBIG;
	err = xz_decompress(d->d_buf, d->d_size, MINIDEBUG_MAX_OUT, &buf, &len);
	if (err)
		return err;
	mini = elf_memory(buf, len);
	if (!mini) {
		err = -ENOEXEC;
		goto err_free_buf;
	}
	/* Its .symtab holds what .dynsym lacks, at the file's own addresses. */
	err = elf_image__add_debug(img, mini);
	elf_end(mini);
err_free_buf:
	free(buf);
	return err;
}

void elf_image__release(struct elf_image *img)
{
	if (!img)
		return;
	free(img->syms);
	free(img->segs);
	free(img->secs);
	free(img->build_id);
	strbuf__release(&img->names);
	memset(img, 0, sizeof(*img));
}

int elf_image__load(struct elf_image *img, Elf *e)
{
	struct elf_load l = {.img = img, .e = e};
	GElf_Ehdr eh;
	int err;

	memset(img, 0, sizeof(*img));
	if (!e || elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh))
		return -ENOEXEC;
	img->type = eh.e_type;
	err = load_segments(img, e);
	if (err)
		goto err_release;
	err = load_sections(&l);
	if (err)
		goto err_free_load;
	if (!img->build_id) {
		err = build_id_from_phdrs(img, e);
		if (err)
			goto err_free_load;
	}
	err = finish_symbols(&l);
	if (err)
		goto err_free_load;
	free(l.ld);
	free(l.exec_sec);
	return 0;

err_free_load:
	free(l.ld);
	free(l.exec_sec);
err_release:
	elf_image__release(img);
	return err;
}

static const struct elf_sec *find_section(const struct elf_image *img, uint64_t vaddr)
{
	size_t lo = 0, hi = img->nr_secs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->secs[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	if (vaddr - img->secs[lo - 1].addr >= img->secs[lo - 1].size)
		return NULL;
	return &img->secs[lo - 1];
}

int elf_image__vaddr(const struct elf_image *img, uint64_t off, uint64_t *vaddr)
{
	const struct elf_seg *seg = NULL;

	/* Where segments overlap in the file, the executable one holds code. */
	for (size_t i = 0; i < img->nr_segs; i++) {
		const struct elf_seg *s = &img->segs[i];

		if (off < s->off || off - s->off >= s->filesz)
			continue;
		if (!seg || (s->exec && !seg->exec))
			seg = s;
	}
	if (!seg)
		return -ENOENT;
	*vaddr = off - seg->off + seg->vaddr;
	return 0;
}

int elf_image__find(const struct elf_image *img, uint64_t off, const char **name,
		    uint64_t *sym_offset)
{
	size_t lo = 0, hi = img->nr_syms;
	uint64_t vaddr;

	if (elf_image__vaddr(img, off, &vaddr))
		return -ENOENT;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* A sized symbol covering vaddr, looking a little way back for overlapping ones. */
	for (size_t j = lo, k = 0; j-- > 0 && k < 8; k++) {
		const struct elf_sym *s = &img->syms[j];
		bool hit;

		if (s->size) {
			hit = vaddr - s->addr < s->size;
		} else {
			/* Size unknown: the nearest label below, if in the same section. */
			const struct elf_sec *sec = j + 1 == lo ? find_section(img, vaddr) : NULL;

			hit = sec && sec->idx == s->shndx;
		}
		if (hit) {
			*name = img->names.buf + s->name;
			*sym_offset = vaddr - s->addr;
			return 0;
		}
	}
	return -ENOENT;
}
