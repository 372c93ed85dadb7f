// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folded.h"

struct line {
	char *text; /* the stack, without its value */
	uint64_t value;
};

struct fold_ctx {
	struct symbolizer *sym;
	const struct folded_opts *opts;
	struct line *lines;
	size_t n, cap;
	struct strbuf cur;
	struct strbuf name; /* scratch: one frame's name */
};

/* Appends a frame name with the folded format's escapes. */
static int append_name(struct strbuf *sb, const char *name, bool spaces_too)
{
	for (const char *c = name; *c; c++) {
		char ch = *c;

		if (ch == ';')
			ch = ':';
		else if (ch == '\n' || ch == '\r' || (spaces_too && ch == ' '))
			ch = '_';
		if (strbuf__append(sb, &ch, 1))
			return -ENOMEM;
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int folded__frame_name(struct symbolizer *sym, uint32_t pid, uint64_t start_ns, uint64_t addr,
		       bool kernel, bool leaf, struct strbuf *out)
{
	uint64_t lookup = leaf || addr == 0 ? addr : addr - 1;
	struct sym_frame f = {0};
	int err;

	if (!sym)
		err = -ENOENT;
	else if (kernel)
		err = symbolizer__kernel(sym, lookup, &f);
	else
		err = symbolizer__user_of(sym, pid, start_ns, lookup, &f);
	if (!err && f.name)
		err = strbuf__appends(out, f.name);
	else if (!err && f.map_path && base_name(f.map_path)[0] == '[')
		err = strbuf__appends(out, base_name(f.map_path));
	else if (!err && f.map_path)
		err = strbuf__appendf(out, "[%s]", base_name(f.map_path));
	else
		err = strbuf__appends(out, "[unknown]");
	return err ? -ENOMEM : 0;
}

static int append_frame(struct fold_ctx *ctx, const struct agg_sample *e, uint64_t addr,
			bool kernel, bool leaf)
{
	int err;

	ctx->name.len = 0;
	err = folded__frame_name(ctx->sym, e->pid, e->start_ns, addr, kernel, leaf, &ctx->name);
	if (!err)
		err = strbuf__appends(&ctx->cur, ";");
	if (!err)
		err = append_name(&ctx->cur, ctx->name.buf, false);
	if (!err && kernel)
		err = strbuf__appends(&ctx->cur, "_[k]");
	return err ? -ENOMEM : 0;
}

static int add_line(struct fold_ctx *ctx, uint64_t value)
{
	size_t len;
	char *text;

	if (ctx->n == ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap * 2 : 256;
		struct line *l = realloc(ctx->lines, cap * sizeof(*l));

		if (!l)
			return -ENOMEM;
		ctx->lines = l;
		ctx->cap = cap;
	}
	text = strbuf__detach(&ctx->cur, &len);
	if (!text)
		return -ENOMEM;
	ctx->lines[ctx->n++] = (struct line){.text = text, .value = value};
	return 0;
}

uint64_t folded__value(const struct agg_sample *e, enum folded_value which, uint64_t oncpu_period)
{
	if (which == FOLDED_COUNT)
		return e->count;
	if (which == FOLDED_VALUE2)
		return e->value2;
	if (!e->tag && !e->overflow && oncpu_period)
		return e->count * oncpu_period;
	return e->value;
}

static int fold_entry(const struct agg_sample *e, void *arg)
{
	struct fold_ctx *ctx = arg;
	uint64_t value;
	int err;

	value = folded__value(e, ctx->opts->value, ctx->opts->oncpu_period);
	if (!value)
		return 0;

	err = append_name(&ctx->cur, e->comm[0] ? e->comm : "[unknown]", true);
	if (!err && ctx->opts->with_pid && !e->overflow)
		err = strbuf__appendf(&ctx->cur, "-%u", e->pid);
	if (e->overflow) {
		err = err ?: strbuf__appends(&ctx->cur, ";[sonde: aggregation overflow]");
	} else if (!e->n_kstack && !e->n_ustack) {
		err = err ?: strbuf__appends(&ctx->cur, ";[no stack]");
	} else {
		/* Root first: user frames from the outermost, then kernel frames, leaf last. */
		for (uint32_t i = e->n_ustack; !err && i-- > 0;)
			err = append_frame(ctx, e, e->ustack[i], false, i == 0 && e->n_kstack == 0);
		for (uint32_t i = e->n_kstack; !err && i-- > 0;)
			err = append_frame(ctx, e, e->kstack[i], true, i == 0);
	}
	if (err) {
		strbuf__release(&ctx->cur);
		return -ENOMEM;
	}
	return add_line(ctx, value);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->text, ((const struct line *)b)->text);
}

int folded__write(const struct agg *agg, struct symbolizer *sym, const struct folded_opts *opts,
		  struct strbuf *out)
{
	struct fold_ctx ctx = {.sym = sym, .opts = opts, .cur = STRBUF_INIT, .name = STRBUF_INIT};
	int err;

	if (sym)
		symbolizer__begin(sym);
	err = agg__for_each(agg, fold_entry, &ctx);
	if (!err && ctx.n)
		qsort(ctx.lines, ctx.n, sizeof(*ctx.lines), cmp_line);
	for (size_t i = 0; !err && i < ctx.n; i++) {
		uint64_t sum = ctx.lines[i].value;

		while (i + 1 < ctx.n && strcmp(ctx.lines[i].text, ctx.lines[i + 1].text) == 0)
			sum += ctx.lines[++i].value;
		err = strbuf__appendf(out, "%s %" PRIu64 "\n", ctx.lines[i].text, sum);
	}
	for (size_t i = 0; i < ctx.n; i++)
		free(ctx.lines[i].text);
	free(ctx.lines);
	strbuf__release(&ctx.cur);
	strbuf__release(&ctx.name);
	return err;
}
