// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel symbols from /proc/kallsyms.
 *
 * Every line is kept so that data symbols bound the text symbols before them,
 * but only text symbols (t T w W, and module symbols of those types such as
 * BPF programs "[bpf]") can name an address. A symbol ends where the next one
 * starts; the last symbol of a module gets a bounded tail, and _etext and
 * _einittext end the core kernel's text, so that addresses past them are
 * unknown rather than blamed on the last function.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer_internal.h"

/* How far past its start a symbol with no successor in its module may reach. */
#define KSYM_TAIL_MAX (64 * 1024)
/* Bounds the table whatever the file says. */
#define KSYM_MAX_SYMS (8u << 20)
#define KSYM_MAX_MODS 65536

struct kallsyms_span {
	uint64_t addr;
	char type;
	const char *name;
	size_t name_len;
	const char *mod; /* NULL for the core kernel */
	size_t mod_len;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_eol(char c)
{
	return c == '\0' || c == '\n' || c == '\r';
}

int sym_parse_hex(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;

	for (;; s++, n++) {
		char c = *s;
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (n == 16)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	if (n == 0)
		return -EINVAL;
	*p = s;
	*out = v;
	return 0;
}

/* "ffffffff81000000 T _stext" or "ffffffffc0201000 t name\t[module]". */
static int kallsyms_split(const char *line, struct kallsyms_span *sp)
{
	const char *p = line;

	memset(sp, 0, sizeof(*sp));
	if (sym_parse_hex(&p, &sp->addr) || *p++ != ' ')
		return -EINVAL;
	if (is_eol(*p) || is_blank(*p))
		return -EINVAL;
	sp->type = *p++;
	if (*p++ != ' ')
		return -EINVAL;
	sp->name = p;
	while (!is_eol(*p) && !is_blank(*p))
		p++;
	sp->name_len = (size_t)(p - sp->name);
	if (sp->name_len == 0)
		return -EINVAL;
	while (is_blank(*p))
		p++;
	if (*p == '[') {
		sp->mod = ++p;
		while (*p != ']' && !is_eol(*p) && !is_blank(*p))
			p++;
		sp->mod_len = (size_t)(p - sp->mod);
		if (*p++ != ']' || sp->mod_len == 0)
			return -EINVAL;
		while (is_blank(*p))
			p++;
	}
	if (*p == '\r')
		p++;
	if (*p == '\n')
		p++;
	return *p == '\0' ? 0 : -EINVAL;
}

/* Names and module names longer than the fields are truncated. */
int kallsyms__parse_line(const char *line, struct kallsyms_entry *out)
{
	struct kallsyms_span sp;
	size_t n;
	int err;

	if (!line || !out)
		return -EINVAL;
	err = kallsyms_split(line, &sp);
	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	out->addr = sp.addr;
	out->type = sp.type;
	n = sp.name_len < sizeof(out->name) - 1 ? sp.name_len : sizeof(out->name) - 1;
	memcpy(out->name, sp.name, n);
	if (sp.mod) {
		n = sp.mod_len < sizeof(out->module) - 1 ? sp.mod_len : sizeof(out->module) - 1;
		memcpy(out->module, sp.mod, n);
	}
	return 0;
}

static bool type_is_text(char t)
{
	return t == 't' || t == 'T' || t == 'w' || t == 'W';
}

/*
 * Which of several symbols at one address names it: a function before a
 * boundary, fewer leading underscores first, then global before weak before local.
 */
static int type_rank(char t)
{
	switch (t) {
	case 'T':
		return 4;
	case 'W':
		return 3;
	case 't':
		return 2;
	case 'w':
		return 1;
	default:
		return 0;
	}
}

/* Symbols that end the core kernel's text: nothing after them is code of the one before. */
static bool is_text_end_marker(const char *name, size_t len)
{
	return (len == 6 && !memcmp(name, "_etext", 6)) ||
	       (len == 10 && !memcmp(name, "_einittext", 10));
}

struct ksym_load {
	struct ksym sym;
	uint8_t rank;
	uint8_t underscores;
};

/* Markers (_stext, __irqentry_text_start) share addresses with functions and lose to them. */
static uint8_t count_underscores(const char *name, size_t len)
{
	size_t n = 0;

	while (n < len && n < 255 && name[n] == '_')
		n++;
	return (uint8_t)n;
}

static int ksym_load_cmp(const void *a, const void *b)
{
	const struct ksym_load *x = a, *y = b;

	if (x->sym.addr != y->sym.addr)
		return x->sym.addr < y->sym.addr ? -1 : 1;
	if (x->sym.text != y->sym.text)
		return x->sym.text ? -1 : 1;
	if (x->underscores != y->underscores)
		return x->underscores < y->underscores ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	/* Stable for equal keys: the name offsets follow file order. */
	return x->sym.name < y->sym.name ? -1 : x->sym.name > y->sym.name;
}

static int pool_add(struct strbuf *pool, const char *s, size_t len, uint32_t *off)
{
	static const char nul;
	int err;

	if (pool->len > UINT32_MAX - len - 1)
		return -E2BIG;
	*off = (uint32_t)pool->len;
	err = strbuf__append(pool, s, len);
	if (!err)
		err = strbuf__append(pool, &nul, 1);
	return err;
}

static int ksyms_module(struct ksyms *ks, const char *mod, size_t len, size_t *cap, uint32_t *idx)
{
	char buf[80];
	int n;

	if (len > 64)
		len = 64;
	/* kallsyms lists a module's symbols together, so *idx (the last match) usually fits. */
	for (size_t k = 0; k < ks->nr_mods; k++) {
		size_t i = k == 0 ? *idx : k;
		const char *have;

		if (i == 0 || i >= ks->nr_mods)
			continue;
		have = ks->names.buf + ks->mods[i].name + 1;
		if (!strncmp(have, mod, len) && have[len] == ']' && have[len + 1] == '\0') {
			*idx = (uint32_t)i;
			return 0;
		}
	}
	n = snprintf(buf, sizeof(buf), "[%.*s]", (int)len, mod);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	if (ks->nr_mods == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct kmod *nm;

		if (ncap > KSYM_MAX_MODS)
			return -E2BIG;
		nm = realloc(ks->mods, ncap * sizeof(*nm));
		if (!nm)
			return -ENOMEM;
		ks->mods = nm;
		*cap = ncap;
	}
	memset(&ks->mods[ks->nr_mods], 0, sizeof(ks->mods[0]));
	if (pool_add(&ks->names, buf, (size_t)n, &ks->mods[ks->nr_mods].name))
		return -ENOMEM;
	*idx = (uint32_t)ks->nr_mods++;
	return 0;
}

/* Sorts, keeps one symbol per address and computes each one's end and each module's range. */
static int ksyms_finish(struct ksyms *ks, struct ksym_load *ld, size_t nr)
{
	size_t n = 0;

	if (nr)
		qsort(ld, nr, sizeof(*ld), ksym_load_cmp);
	ks->syms = calloc(nr ? nr : 1, sizeof(*ks->syms));
	if (!ks->syms)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		if (n && ks->syms[n - 1].addr == ld[i].sym.addr)
			continue;
		ks->syms[n++] = ld[i].sym;
	}
	ks->nr_syms = n;
	for (size_t i = 0; i < ks->nr_mods; i++) {
		ks->mods[i].min = UINT64_MAX;
		ks->mods[i].max = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct ksym *s = &ks->syms[i];
		uint64_t tail =
			s->addr > UINT64_MAX - KSYM_TAIL_MAX ? UINT64_MAX : s->addr + KSYM_TAIL_MAX;
		struct kmod *m = &ks->mods[s->mod];

		if (!s->text) {
			s->end = s->addr;
			continue;
		}
		if (i + 1 < n && ks->syms[i + 1].mod == s->mod)
			s->end = ks->syms[i + 1].addr;
		else if (i + 1 < n && ks->syms[i + 1].addr < tail)
			s->end = ks->syms[i + 1].addr;
		else
			s->end = tail;
		if (s->addr < m->min)
			m->min = s->addr;
		if (s->end > m->max)
			m->max = s->end;
	}
	return 0;
}

void ksyms__release(struct ksyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->mods);
	strbuf__release(&ks->names);
	memset(ks, 0, sizeof(*ks));
}

int ksyms__load(struct ksyms *ks, const char *path)
{
	struct ksym_load *ld = NULL;
	size_t nr = 0, cap = 0, mods_cap = 0;
	bool any_addr = false;
	char *line = NULL;
	size_t line_cap = 0;
	uint32_t core = 0, last_mod = 0;
	FILE *f;
	int err;

	memset(ks, 0, sizeof(*ks));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	err = ksyms_module(ks, "kernel.kallsyms", strlen("kernel.kallsyms"), &mods_cap, &core);
	if (err)
		goto err_release;
	while (getline(&line, &line_cap, f) > 0) {
		struct kallsyms_span sp;
		struct ksym_load *l;

		if (kallsyms_split(line, &sp))
			continue;
		if (sp.addr)
			any_addr = true;
		if (nr == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			struct ksym_load *nl;

			if (ncap > KSYM_MAX_SYMS) {
				err = -E2BIG;
				goto err_release;
			}
			nl = realloc(ld, ncap * sizeof(*nl));
			if (!nl) {
				err = -ENOMEM;
				goto err_release;
			}
			ld = nl;
			cap = ncap;
		}
		l = &ld[nr];
		memset(l, 0, sizeof(*l));
		l->sym.addr = sp.addr;
		l->sym.mod = core;
		l->sym.text = type_is_text(sp.type) && !is_text_end_marker(sp.name, sp.name_len);
		l->rank = l->sym.text ? (uint8_t)type_rank(sp.type) : 0;
		l->underscores = count_underscores(sp.name, sp.name_len);
		if (sp.mod) {
			err = ksyms_module(ks, sp.mod, sp.mod_len, &mods_cap, &last_mod);
			if (err)
				goto err_release;
			l->sym.mod = last_mod;
		}
		err = pool_add(&ks->names, sp.name, sp.name_len, &l->sym.name);
		if (err)
			goto err_release;
		nr++;
	}
	if (ferror(f)) {
		err = -EIO;
		goto err_release;
	}
	/* Without the right privilege every address reads as zero: nothing can be named. */
	if (!any_addr) {
		err = -EPERM;
		goto err_release;
	}
	err = ksyms_finish(ks, ld, nr);
	if (err)
		goto err_release;
	free(ld);
	free(line);
	fclose(f);
	return 0;

err_release:
	free(ld);
	free(line);
	fclose(f);
	ksyms__release(ks);
	return err;
}

int ksyms__find(const struct ksyms *ks, uint64_t addr, struct sym_frame *out)
{
	size_t lo = 0, hi = ks->nr_syms;
	const struct ksym *s;
	const struct kmod *m;

	/* First symbol above addr; the one before it is the candidate. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -ENOENT;
	s = &ks->syms[lo - 1];
	if (!s->text || addr >= s->end)
		return -ENOENT;
	m = &ks->mods[s->mod];
	out->name = ks->names.buf + s->name;
	out->sym_offset = addr - s->addr;
	out->map_path = ks->names.buf + m->name;
	out->build_id = NULL;
	out->map_start = m->min;
	out->map_limit = m->max;
	out->map_offset = 0;
	out->kernel = true;
	return 0;
}
