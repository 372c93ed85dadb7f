// SPDX-License-Identifier: GPL-2.0
#include <dwarf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <elf.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <libelf.h>

#include "clock.h"
#include "unwinder.h"

#define DEFAULT_MAX_FILES 64
/*
 * Bytes of CFI sections held by the open files together (read into memory:
 * .eh_frame, .eh_frame_hdr, and a .debug_frame file's debug sections).
 */
#define DEFAULT_MAX_BYTES (16ull << 20)
#define DEFAULT_MAX_RULES 8192
/* DWARF operations a row may hold over its three rules: glibc's PLT CFA expression takes 9. */
#define RULE_MAX_OPS 16
/* Depth of the expression stack. */
#define EVAL_STACK 8
/* A file that could not be opened is tried again after this long (another process may map it). */
#define FILE_RETRY_NS 10000000000ull
/*
 * Files whose debug sections are bigger than this are not opened for their
 * .debug_frame, nor than a quarter of the byte cap (libdw reads them all).
 */
#define DEBUG_FRAME_MAX_DWARF (64ull << 20)
/*
 * A process's maps are read again for a pc in none at most this often: the
 * first read may have met the dynamic linker before it mapped libc.
 */
#define MAPS_REREAD_NS 250000000ull
/* A frame-pointer step is believed only within this distance of sp. */
#define FP_MAX_SPAN (8ull << 20)

/* x86-64 DWARF register numbers. */
enum {
	REG_RBP = 6,
	REG_RSP = 7,
	REG_RA = 16,
};

struct link {
	struct link *prev, *next;
};

static void link__init(struct link *l)
{
	l->prev = l->next = l;
}

static void link__del(struct link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	link__init(l);
}

/* Moves l to the front (most recently used) of the list at head. */
static void link__touch(struct link *head, struct link *l)
{
	link__del(l);
	l->next = head->next;
	l->prev = head;
	head->next->prev = l;
	head->next = l;
}

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

struct file_key {
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	bool vdso;
};

struct uw_file {
	struct uw_file *hnext;
	struct link lru;
	struct file_key key;
	int fd; /* -1 for the vDSO (read from memory) */
	Elf *elf;
	Dwarf_CFI *eh;	/* .eh_frame, or NULL */
	Dwarf *dw;	/* for .debug_frame, or NULL */
	Dwarf_CFI *dbg; /* .debug_frame, owned by dw */
	int err;
	uint64_t err_ns; /* when err was met */
	size_t bytes;	 /* of its sections read into memory */
};

struct uw_op {
	uint8_t atom;
	uint64_t num;
};

enum rule_status {
	RULE_OK = 0,
	RULE_NO_CFI, /* no row covers the address */
	RULE_BAD,    /* a rule we cannot evaluate */
};

/* What a register's rule says when it has no expression. */
enum reg_kind {
	REG_EXPR = 0, /* ops: a location (read it) or, ending in DW_OP_stack_value, the value */
	REG_UNDEF,    /* cannot be recovered: for the return address, the outermost frame */
	REG_SAME,     /* unchanged in the caller */
};

struct uw_rule {
	struct uw_rule *hnext;
	struct link lru;
	struct file_key key;
	uint64_t addr;
	uint8_t status;
	uint8_t ra_kind, bp_kind;
	uint8_t n_cfa, n_ra, n_bp; /* ops[0..n_cfa), then the RA's, then rbp's */
	bool signal;		   /* a signal frame: its caller's pc is exact */
	struct uw_op ops[RULE_MAX_OPS];
};

struct unwinder {
	struct symbolizer *sym;
	struct unwinder_stats stats;

	struct uw_file **file_buckets;
	size_t file_mask, nr_files, max_files;
	size_t file_bytes, max_bytes; /* of the files' sections read */
	struct link file_lru;

	struct uw_rule **rule_buckets;
	size_t rule_mask, nr_rules, max_rules;
	struct link rule_lru;
};

static size_t hash_key(const struct file_key *k, uint64_t addr)
{
	uint64_t x = k->inode * 0x9e3779b97f4a7c15ull ^ ((uint64_t)k->dev_major << 40) ^
		     ((uint64_t)k->dev_minor << 20) ^ k->vdso ^ addr * 0xc2b2ae3d27d4eb4full;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (size_t)x;
}

static bool key_eq(const struct file_key *a, const struct file_key *b)
{
	return a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor && a->vdso == b->vdso;
}

static size_t buckets_for(size_t cap)
{
	size_t n = 16;

	while (n < cap)
		n <<= 1;
	return n;
}

struct unwinder *unwinder__new(struct symbolizer *sym, const struct unwinder_opts *opts)
{
	struct unwinder *u = calloc(1, sizeof(*u));
	size_t nf, nr;

	if (!u)
		return NULL;
	u->sym = sym;
	u->max_files = opts && opts->max_files ? opts->max_files : DEFAULT_MAX_FILES;
	u->max_rules = opts && opts->max_rules ? opts->max_rules : DEFAULT_MAX_RULES;
	u->max_bytes = opts && opts->max_bytes ? opts->max_bytes : DEFAULT_MAX_BYTES;
	nf = buckets_for(u->max_files);
	nr = buckets_for(u->max_rules);
	u->file_buckets = calloc(nf, sizeof(*u->file_buckets));
	if (!u->file_buckets)
		goto err_free_unwinder;
	u->rule_buckets = calloc(nr, sizeof(*u->rule_buckets));
	if (!u->rule_buckets)
		goto err_free_files;
	u->file_mask = nf - 1;
	u->rule_mask = nr - 1;
	link__init(&u->file_lru);
	link__init(&u->rule_lru);
	elf_version(EV_CURRENT);
	return u;

err_free_files:
	free(u->file_buckets);
err_free_unwinder:
	free(u);
	return NULL;
}

static void file__close(struct uw_file *f)
{
	/* f->dbg belongs to f->dw: dwarf_end frees it. */
	if (f->dw)
		dwarf_end(f->dw);
	if (f->eh)
		dwarf_cfi_end(f->eh);
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	f->dbg = NULL;
	f->dw = NULL;
	f->eh = NULL;
	f->elf = NULL;
	f->fd = -1;
}

static void file__unlink(struct unwinder *u, struct uw_file *f)
{
	struct uw_file **pp = &u->file_buckets[hash_key(&f->key, 0) & u->file_mask];

	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	link__del(&f->lru);
	u->nr_files--;
	u->file_bytes -= f->bytes;
	f->bytes = 0;
}

static void rule__unlink(struct unwinder *u, struct uw_rule *r)
{
	struct uw_rule **pp = &u->rule_buckets[hash_key(&r->key, r->addr) & u->rule_mask];

	while (*pp && *pp != r)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = r->hnext;
	link__del(&r->lru);
	u->nr_rules--;
}

void unwinder__free(struct unwinder *u)
{
	if (!u)
		return;
	while (u->rule_lru.next != &u->rule_lru) {
		struct uw_rule *r = container_of(u->rule_lru.next, struct uw_rule, lru);

		rule__unlink(u, r);
		free(r);
	}
	while (u->file_lru.next != &u->file_lru) {
		struct uw_file *f = container_of(u->file_lru.next, struct uw_file, lru);

		file__unlink(u, f);
		file__close(f);
		free(f);
	}
	free(u->rule_buckets);
	free(u->file_buckets);
	free(u);
}

/* ---- files ---- */

/* The daemon's own vDSO image and its size from its headers (it is the same in every process). */
static int vdso_image(char **base, size_t *size)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	size_t end;

	if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return -ENOENT;
	end = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	for (size_t i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph =
			(const Elf64_Phdr *)((const char *)eh + eh->e_phoff + i * eh->e_phentsize);

		if (ph->p_offset + ph->p_filesz > end)
			end = ph->p_offset + ph->p_filesz;
	}
	if (end < sizeof(*eh) || end > (1u << 20))
		return -EINVAL;
	*base = (char *)eh;
	*size = end;
	return 0;
}

/* The bytes of a section in memory: its size once decompressed. */
static size_t section_bytes(Elf_Scn *scn, const GElf_Shdr *sh)
{
	GElf_Chdr ch;

	if (sh->sh_type == SHT_NOBITS)
		return 0;
	if ((sh->sh_flags & SHF_COMPRESSED) && gelf_getchdr(scn, &ch))
		return (size_t)ch.ch_size;
	return (size_t)sh->sh_size;
}

/* What libdw reads of e for its CFI: .eh_frame(_hdr), and with debug every debug section. */
static size_t cfi_bytes(Elf *e, bool debug)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, bytes = 0;

	if (elf_getshdrstrndx(e, &shstrndx))
		return 0;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(e, shstrndx, sh.sh_name)))
			continue;
		if (!strncmp(name, ".eh_frame", 9) ||
		    (debug && (!strncmp(name, ".debug_", 7) || !strncmp(name, ".zdebug_", 8))))
			bytes += section_bytes(scn, &sh);
	}
	return bytes;
}

/* Whether e has a .debug_frame, and its debug sections together are small enough to read. */
static bool has_debug_frame(Elf *e, uint64_t max_bytes)
{
	uint64_t debug_bytes = 0;
	bool found = false;
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(e, &shstrndx))
		return false;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(e, shstrndx, sh.sh_name)))
			continue;
		if (strncmp(name, ".debug_", 7) && strncmp(name, ".zdebug_", 8))
			continue;
		debug_bytes += section_bytes(scn, &sh);
		found |= strcmp(name, ".debug_frame") == 0 && sh.sh_type != SHT_NOBITS;
	}
	return found && debug_bytes <= DEBUG_FRAME_MAX_DWARF && debug_bytes <= max_bytes;
}

static int file__open(struct unwinder *u, struct uw_file *f, uint32_t pid, uint64_t start_ns,
		      uint64_t pc)
{
	char *base;
	size_t size;
	int err;

	if (f->key.vdso) {
		err = vdso_image(&base, &size);
		if (err)
			return err;
		f->elf = elf_memory(base, size);
	} else {
		f->fd = symbolizer__open_mapping(u->sym, pid, start_ns, pc);
		if (f->fd < 0)
			return f->fd;
		/* Read, not mapped: a file truncated under us must not fault the daemon. */
		f->elf = elf_begin(f->fd, ELF_C_READ, NULL);
	}
	if (!f->elf)
		return -ENOEXEC;
	f->eh = dwarf_getcfi_elf(f->elf);
	/*
	 * .debug_frame, where a file has one (it may have both, or only that).
	 * libdw reads every debug section when it opens a file's DWARF: not past
	 * the cap.
	 */
	if (has_debug_frame(f->elf, u->max_bytes / 4)) {
		f->dw = dwarf_begin_elf(f->elf, DWARF_C_READ, NULL);
		if (f->dw)
			f->dbg = dwarf_getcfi(f->dw);
	}
	if (!f->eh && !f->dbg)
		return -ENODATA;
	f->bytes = cfi_bytes(f->elf, f->dw != NULL);
	u->file_bytes += f->bytes;
	return 0;
}

/* The open file holding pc (whose mapping is m), or NULL when it cannot be read. */
static struct uw_file *file_get(struct unwinder *u, const struct file_key *key, uint32_t pid,
				uint64_t start_ns, uint64_t pc)
{
	size_t h = hash_key(key, 0) & u->file_mask;
	struct uw_file *f;
	uint64_t now;

	for (f = u->file_buckets[h]; f; f = f->hnext)
		if (key_eq(&f->key, key))
			break;
	if (f) {
		link__touch(&u->file_lru, &f->lru);
		if (!f->err)
			return f;
		now = clock__monotonic_ns();
		if (now - f->err_ns < FILE_RETRY_NS)
			return NULL;
		file__close(f);
	} else {
		while (u->nr_files >= u->max_files && u->file_lru.prev != &u->file_lru) {
			struct uw_file *old = container_of(u->file_lru.prev, struct uw_file, lru);

			file__unlink(u, old);
			file__close(old);
			free(old);
			u->stats.file_evictions++;
		}
		f = calloc(1, sizeof(*f));
		if (!f)
			return NULL;
		f->key = *key;
		f->fd = -1;
		link__init(&f->lru);
		f->hnext = u->file_buckets[h];
		u->file_buckets[h] = f;
		u->nr_files++;
		link__touch(&u->file_lru, &f->lru);
	}
	f->err = file__open(u, f, pid, start_ns, pc);
	if (f->err) {
		f->err_ns = clock__monotonic_ns();
		file__close(f);
		u->stats.file_errors++;
		return NULL;
	}
	/* Over the byte cap: the least recently used others go, the new file stays. */
	while (u->file_bytes > u->max_bytes && u->file_lru.prev != &f->lru) {
		struct uw_file *old = container_of(u->file_lru.prev, struct uw_file, lru);

		file__unlink(u, old);
		file__close(old);
		free(old);
		u->stats.file_evictions++;
	}
	return f;
}

/* ---- rules ---- */

/* Copies a DWARF expression into the row's op array. false when it does not fit or is unknown. */
static bool ops_add(struct uw_rule *r, size_t *used, const Dwarf_Op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct uw_op op = {.atom = ops[i].atom, .num = ops[i].number};

		if (*used >= RULE_MAX_OPS)
			return false;
		if (ops[i].atom == DW_OP_bregx) {
			if (ops[i].number > 31)
				return false;
			op.atom = (uint8_t)(DW_OP_breg0 + ops[i].number);
			op.num = ops[i].number2;
		}
		r->ops[(*used)++] = op;
	}
	return true;
}

/* The rule of regno: its kind, and its expression appended to r->ops. */
static bool reg_compile(struct uw_rule *r, Dwarf_Frame *frame, int regno, size_t *used,
			uint8_t *kind, uint8_t *n)
{
	Dwarf_Op mem[3], *ops = NULL;
	size_t nops = 0, before = *used;

	if (dwarf_frame_register(frame, regno, mem, &ops, &nops) != 0)
		return false;
	if (nops == 0) {
		*kind = ops ? REG_UNDEF : REG_SAME;
		*n = 0;
		return true;
	}
	*kind = REG_EXPR;
	if (!ops_add(r, used, ops, nops))
		return false;
	*n = (uint8_t)(*used - before);
	return true;
}

/* Fills r from the CFI row of the file covering addr. */
static void rule_compile(struct uw_rule *r, struct uw_file *f, uint64_t addr)
{
	Dwarf_Frame *frame = NULL;
	Dwarf_Op *ops;
	size_t nops, used = 0;
	bool ok;

	if (!(f->eh && dwarf_cfi_addrframe(f->eh, addr, &frame) == 0) &&
	    !(f->dbg && dwarf_cfi_addrframe(f->dbg, addr, &frame) == 0)) {
		r->status = RULE_NO_CFI;
		return;
	}
	(void)dwarf_frame_info(frame, NULL, NULL, &r->signal);
	ok = dwarf_frame_cfa(frame, &ops, &nops) == 0 && nops > 0 && ops_add(r, &used, ops, nops);
	r->n_cfa = (uint8_t)used;
	ok = ok && reg_compile(r, frame, REG_RA, &used, &r->ra_kind, &r->n_ra) &&
	     reg_compile(r, frame, REG_RBP, &used, &r->bp_kind, &r->n_bp);
	r->status = ok && r->ra_kind != REG_SAME ? RULE_OK : RULE_BAD;
	free(frame);
}

/* The row for addr in the file key (opened if need be), from the cache or compiled now. */
static const struct uw_rule *rule_get(struct unwinder *u, const struct file_key *key, uint64_t addr,
				      uint32_t pid, uint64_t start_ns, uint64_t pc)
{
	size_t h = hash_key(key, addr) & u->rule_mask;
	struct uw_file *f;
	struct uw_rule *r;

	for (r = u->rule_buckets[h]; r; r = r->hnext) {
		if (r->addr == addr && key_eq(&r->key, key)) {
			u->stats.rule_hits++;
			link__touch(&u->rule_lru, &r->lru);
			return r;
		}
	}
	u->stats.rule_misses++;
	f = file_get(u, key, pid, start_ns, pc);
	if (!f)
		return NULL; /* not cached: the file may be readable later */
	while (u->nr_rules >= u->max_rules && u->rule_lru.prev != &u->rule_lru) {
		struct uw_rule *old = container_of(u->rule_lru.prev, struct uw_rule, lru);

		rule__unlink(u, old);
		free(old);
		u->stats.rule_evictions++;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->key = *key;
	r->addr = addr;
	rule_compile(r, f, addr);
	link__init(&r->lru);
	r->hnext = u->rule_buckets[h];
	u->rule_buckets[h] = r;
	u->nr_rules++;
	link__touch(&u->rule_lru, &r->lru);
	return r;
}

/* ---- evaluation ---- */

struct regs {
	uint64_t pc, sp, bp;
	bool bp_valid;
};

struct copy {
	uint64_t base; /* the sp the copy starts at */
	const uint8_t *data;
	size_t len;
	uint64_t *hi; /* the end of the highest word read so far */
};

/* 8 bytes of the copied stack at addr; -ERANGE outside the copy. */
static int copy_read(const struct copy *c, uint64_t addr, uint64_t *out)
{
	if (c->len < 8 || addr < c->base || addr - c->base > c->len - 8)
		return -ERANGE;
	memcpy(out, c->data + (addr - c->base), 8);
	if (addr + 8 > *c->hi)
		*c->hi = addr + 8;
	return 0;
}

static int reg_value(const struct regs *r, unsigned int regno, uint64_t *out)
{
	switch (regno) {
	case REG_RSP:
		*out = r->sp;
		return 0;
	case REG_RBP:
		if (!r->bp_valid)
			return -EINVAL;
		*out = r->bp;
		return 0;
	case REG_RA:
		*out = r->pc;
		return 0;
	default:
		return -ENOTSUP; /* registers we do not carry */
	}
}

/*
 * Evaluates a DWARF expression (the CFA's, or a register's with the CFA
 * pushed first). *value says whether the result is the value itself
 * (DW_OP_stack_value) or the address where it is saved. 0, -ERANGE when a
 * read falls outside the copy, -ENOTSUP or -EINVAL for what cannot be done.
 */
static int eval(const struct uw_op *ops, size_t n, const struct regs *r, const struct copy *c,
		uint64_t cfa, bool push_cfa, uint64_t *out, bool *value)
{
	uint64_t st[EVAL_STACK], a, b;
	size_t top = 0;
	int err;

	*value = false;
	if (push_cfa)
		st[top++] = cfa;
	for (size_t i = 0; i < n; i++) {
		uint8_t atom = ops[i].atom;

		if (*value)
			return -EINVAL; /* DW_OP_stack_value ends an expression */
		if (top >= EVAL_STACK)
			return -ENOTSUP;
		if (atom >= DW_OP_breg0 && atom <= DW_OP_breg31) {
			err = reg_value(r, atom - DW_OP_breg0, &a);
			if (err)
				return err;
			st[top++] = a + ops[i].num;
			continue;
		}
		if (atom >= DW_OP_lit0 && atom <= DW_OP_lit31) {
			st[top++] = atom - DW_OP_lit0;
			continue;
		}
		switch (atom) {
		case DW_OP_call_frame_cfa:
			st[top++] = cfa;
			continue;
		case DW_OP_const1u:
		case DW_OP_const1s:
		case DW_OP_const2u:
		case DW_OP_const2s:
		case DW_OP_const4u:
		case DW_OP_const4s:
		case DW_OP_const8u:
		case DW_OP_const8s:
		case DW_OP_constu:
		case DW_OP_consts:
			st[top++] = ops[i].num;
			continue;
		case DW_OP_nop:
			continue;
		case DW_OP_stack_value:
			*value = true;
			continue;
		default:
			break;
		}
		if (top < 1)
			return -EINVAL;
		switch (atom) {
		case DW_OP_plus_uconst:
			st[top - 1] += ops[i].num;
			continue;
		case DW_OP_deref:
			err = copy_read(c, st[top - 1], &st[top - 1]);
			if (err)
				return err;
			continue;
		default:
			break;
		}
		if (top < 2)
			return -EINVAL;
		b = st[--top];
		a = st[top - 1];
		switch (atom) {
		case DW_OP_plus:
			a += b;
			break;
		case DW_OP_minus:
			a -= b;
			break;
		case DW_OP_mul:
			a *= b;
			break;
		case DW_OP_and:
			a &= b;
			break;
		case DW_OP_or:
			a |= b;
			break;
		case DW_OP_shl:
			a = b < 64 ? a << b : 0;
			break;
		case DW_OP_shr:
			a = b < 64 ? a >> b : 0;
			break;
		case DW_OP_ge:
			a = (int64_t)a >= (int64_t)b;
			break;
		case DW_OP_gt:
			a = (int64_t)a > (int64_t)b;
			break;
		case DW_OP_le:
			a = (int64_t)a <= (int64_t)b;
			break;
		case DW_OP_lt:
			a = (int64_t)a < (int64_t)b;
			break;
		case DW_OP_eq:
			a = a == b;
			break;
		case DW_OP_ne:
			a = a != b;
			break;
		default:
			return -ENOTSUP;
		}
		st[top - 1] = a;
	}
	if (top < 1)
		return -EINVAL;
	*out = st[top - 1];
	return 0;
}

/* A register's value in the caller by its rule: a location in the copy, or a value. */
static int reg_restore(const struct uw_op *ops, size_t n, const struct regs *r,
		       const struct copy *c, uint64_t cfa, uint64_t *out)
{
	bool value;
	uint64_t v;
	int err;

	err = eval(ops, n, r, c, cfa, true, &v, &value);
	if (err)
		return err;
	if (value) {
		*out = v;
		return 0;
	}
	return copy_read(c, v, out);
}

enum stop {
	STOP_COMPLETE = 0,
	STOP_TRUNCATED,
	STOP_NO_CFI,
	STOP_BAD,
};

static enum stop stop_of(int err)
{
	return err == -ERANGE ? STOP_TRUNCATED : STOP_BAD;
}

/*
 * One step with the CFI row r: the caller's registers into *r. STOP_COMPLETE
 * with *outer set at the outermost frame.
 */
static int step_cfi(const struct uw_rule *rule, struct regs *r, const struct copy *c, bool *outer)
{
	const struct uw_op *ops = rule->ops;
	uint64_t cfa, ra, bp = 0;
	bool value;
	int err;

	*outer = false;
	err = eval(ops, rule->n_cfa, r, c, 0, false, &cfa, &value);
	if (err)
		return err;
	if (rule->ra_kind == REG_UNDEF) {
		*outer = true;
		return 0;
	}
	err = reg_restore(ops + rule->n_cfa, rule->n_ra, r, c, cfa, &ra);
	if (err)
		return err;
	if (rule->bp_kind == REG_EXPR) {
		err = reg_restore(ops + rule->n_cfa + rule->n_ra, rule->n_bp, r, c, cfa, &bp);
		if (err == -ERANGE)
			return err;
	}
	/* The stack grows down: a caller's frame is above its callee's. */
	if (cfa <= r->sp)
		return -EINVAL;
	r->sp = cfa;
	r->pc = ra;
	if (rule->bp_kind == REG_EXPR) {
		r->bp = bp;
		r->bp_valid = err == 0;
	} else if (rule->bp_kind == REG_UNDEF) {
		r->bp_valid = false;
	}
	if (ra == 0)
		*outer = true;
	return 0;
}

/* One frame-pointer step inside the copy: -ERANGE when bp points past it, -EINVAL if implausible.
 */
static int step_fp(struct regs *r, const struct copy *c)
{
	uint64_t bp, ra;

	if (!r->bp_valid || r->bp < r->sp || r->bp - r->sp > FP_MAX_SPAN || (r->bp & 7))
		return -EINVAL;
	if (copy_read(c, r->bp, &bp) || copy_read(c, r->bp + 8, &ra))
		return -ERANGE;
	r->sp = r->bp + 16;
	r->pc = ra;
	r->bp = bp;
	return 0;
}

/* The rule for the pc of r; NULL with *why set when there is none. */
static const struct uw_rule *rule_for(struct unwinder *u, const struct unwinder_input *in,
				      uint64_t pc, bool exact, enum stop *why)
{
	uint64_t addr = exact ? pc : pc - 1; /* a return address: the call is before it */
	struct sym_mapping m;
	struct file_key key;
	const struct uw_rule *rule;
	int err;

	err = symbolizer__mapping(u->sym, in->pid, in->start_ns, addr, &m);
	/* In no mapping: maybe in one made since the maps were read. */
	if (err == -ENOENT &&
	    symbolizer__refresh(u->sym, in->pid, in->start_ns, MAPS_REREAD_NS) == 0) {
		u->stats.maps_rereads++;
		err = symbolizer__mapping(u->sym, in->pid, in->start_ns, addr, &m);
	}
	if (err) {
		*why = STOP_NO_CFI;
		return NULL;
	}
	key = (struct file_key){.inode = m.inode,
				.dev_major = m.dev_major,
				.dev_minor = m.dev_minor,
				.vdso = m.vdso};
	rule = rule_get(u, &key, m.elf_addr, in->pid, in->start_ns, addr);
	if (!rule || rule->status == RULE_NO_CFI) {
		*why = STOP_NO_CFI;
		return NULL;
	}
	if (rule->status != RULE_OK) {
		*why = STOP_BAD;
		return NULL;
	}
	return rule;
}

/*
 * Appends the kernel's frame-pointer walk after the last frame found, from
 * where that walk has the same pc. Returns the new count.
 */
static size_t splice_fp(struct unwinder *u, const struct unwinder_input *in, uint64_t *out,
			size_t n, size_t max)
{
	uint64_t last = out[n - 1];

	for (size_t j = 0; j < in->n_fp; j++) {
		if (in->fp_frames[j] != last)
			continue;
		for (j++; j < in->n_fp && n < max; j++) {
			out[n++] = in->fp_frames[j];
			u->stats.frames_fp++;
		}
		break;
	}
	return n;
}

size_t unwinder__unwind(struct unwinder *u, const struct unwinder_input *in, uint64_t *out,
			size_t max, struct unwinder_result *res)
{
	uint64_t hi = in->sp;
	struct copy c = {.base = in->sp, .data = in->stack, .len = in->stack_len, .hi = &hi};
	struct regs r = {.pc = in->ip, .sp = in->sp, .bp = in->bp, .bp_valid = true};
	enum stop stop = STOP_COMPLETE, why;
	bool exact = true, outer = false, outermost = false;
	const struct uw_rule *rule;
	size_t n = 0;
	int err;

	if (res)
		*res = (struct unwinder_result){0};
	if (!max)
		return 0;
	if (!in->stack || !in->stack_len || !in->ip) {
		u->stats.no_copy++;
		n = in->n_fp < max ? in->n_fp : max;
		memcpy(out, in->fp_frames, n * sizeof(*out));
		return n;
	}
	u->stats.stacks++;
	out[n++] = r.pc;
	while (n < max) {
		rule = rule_for(u, in, r.pc, exact, &why);
		if (rule) {
			err = step_cfi(rule, &r, &c, &outer);
			if (!err && outer) {
				outermost = true;
				break;
			}
			if (!err) {
				exact = rule->signal;
				out[n++] = r.pc;
				u->stats.frames_cfi++;
				continue;
			}
			why = stop_of(err);
			if (why == STOP_TRUNCATED) {
				stop = why;
				break;
			}
		}
		/* No usable row: frame pointers, if bp points into the copy. */
		err = step_fp(&r, &c);
		if (err) {
			stop = err == -ERANGE ? STOP_TRUNCATED : why;
			break;
		}
		if (r.pc == 0) {
			outermost = true;
			break;
		}
		exact = false;
		out[n++] = r.pc;
		u->stats.frames_fp++;
	}
	switch (stop) {
	case STOP_COMPLETE:
		u->stats.complete++;
		break;
	case STOP_TRUNCATED:
		u->stats.truncated++;
		break;
	case STOP_NO_CFI:
		u->stats.no_cfi++;
		break;
	case STOP_BAD:
		u->stats.bad_rule++;
		break;
	}
	if (stop != STOP_COMPLETE && n < max)
		n = splice_fp(u, in, out, n, max);
	if (res && stop == STOP_COMPLETE && outermost) {
		res->outermost = true;
		res->top = hi;
	}
	return n;
}

void unwinder__stats(const struct unwinder *u, struct unwinder_stats *out)
{
	*out = u->stats;
	out->rules_cached = u->nr_rules;
	out->files_cached = u->nr_files;
	out->file_bytes = u->file_bytes;
}
