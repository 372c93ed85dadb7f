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

static int append_frame(struct fold_ctx *ctx, uint32_t pid, uint64_t addr, bool kernel, bool leaf)
{
	uint64_t lookup = leaf || addr == 0 ? addr : addr - 1;
	struct sym_frame f = {0};
	int err;

	if (!ctx->sym)
		err = -ENOENT;
	else if (kernel)
		err = symbolizer__kernel(ctx->sym, lookup, &f);
	else
		err = symbolizer__user(ctx->sym, pid, lookup, &f);
	if (strbuf__appends(&ctx->cur, ";"))
		return -ENOMEM;
	if (!err && f.name)
		err = append_name(&ctx->cur, f.name, false);
	else if (!err && f.map_path && base_name(f.map_path)[0] == '[')
		err = append_name(&ctx->cur, base_name(f.map_path), false);
	else if (!err && f.map_path)
		err = strbuf__appendf(&ctx->cur, "[%s]", base_name(f.map_path));
	else
		err = strbuf__appends(&ctx->cur, "[unknown]");
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

static int fold_entry(const struct agg_sample *e, void *arg)
{
	struct fold_ctx *ctx = arg;
	uint64_t value;
	int err;

	if (ctx->opts->value == FOLDED_COUNT)
		value = e->count;
	else if (!e->tag && !e->overflow && ctx->opts->oncpu_period)
		value = e->count * ctx->opts->oncpu_period;
	else
		value = e->value;
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
			err = append_frame(ctx, e->pid, e->ustack[i], false,
					   i == 0 && e->n_kstack == 0);
		for (uint32_t i = e->n_kstack; !err && i-- > 0;)
			err = append_frame(ctx, e->pid, e->kstack[i], true, i == 0);
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
	struct fold_ctx ctx = {.sym = sym, .opts = opts, .cur = STRBUF_INIT};
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
	return err;
}
