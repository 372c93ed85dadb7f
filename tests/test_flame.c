// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flame.h"
#include "testutil.h"

/* Frames named u_ADDR and k_ADDR, so that the tree's shape is known. */
static int name_frame(void *ctx, uint32_t pid, uint64_t addr, bool kernel, struct strbuf *out)
{
	(void)ctx;
	(void)pid;
	return strbuf__appendf(out, "%s_%" PRIx64, kernel ? "k" : "u", addr);
}

/* The page's data, decoded enough to look frames up by their path of names. */
struct page {
	char *html;
	char *names[256];
	int n_names;
	uint64_t nodes[1024][5]; /* name, type, depth, value, base value */
	int n_nodes;
	bool diff;
};

static int decode(struct page *p)
{
	char *data = strstr(p->html, "<script type=\"application/json\" id=\"sonde-data\">");
	char *names, *nodes, *end;
	int stride;

	if (!data)
		return -1;
	p->diff = strstr(data, "\"diff\":true") != NULL;
	stride = p->diff ? 5 : 4;
	names = strstr(data, "\"names\":[");
	nodes = strstr(data, "\"nodes\":[");
	if (!names || !nodes)
		return -1;
	/* Names are plain in these tests: "a","b",... */
	for (char *c = names + 9; *c == '"' && p->n_names < 256;) {
		end = strchr(c + 1, '"');
		if (!end)
			return -1;
		p->names[p->n_names++] = strndup(c + 1, (size_t)(end - c - 1));
		c = end + 1;
		if (*c == ',')
			c++;
	}
	for (char *c = nodes + 9; *c && *c != ']' && p->n_nodes < 1024; p->n_nodes++) {
		for (int k = 0; k < stride; k++) {
			p->nodes[p->n_nodes][k] = strtoull(c, &end, 10);
			if (end == c)
				return -1;
			c = *end == ',' ? end + 1 : end;
		}
	}
	return 0;
}

static void page_free(struct page *p)
{
	for (int i = 0; i < p->n_names; i++)
		free(p->names[i]);
	free(p->html);
}

/* The node at the end of path (names below the root, NULL-terminated); -1 if absent. */
static int find(const struct page *p, const char *const *path)
{
	const char *at[64];
	int len = 0;

	while (path[len])
		len++;
	for (int i = 0; i < p->n_nodes; i++) {
		uint64_t d = p->nodes[i][2];

		if (d >= 64 || p->nodes[i][0] >= (uint64_t)p->n_names)
			return -1;
		at[d] = p->names[p->nodes[i][0]];
		if ((int)d != len)
			continue;
		bool same = true;

		for (int k = 0; k < len && same; k++)
			same = strcmp(at[k + 1], path[k]) == 0;
		if (same)
			return i;
	}
	return -1;
}

static int render(const struct agg *cur, const struct agg *base, struct flame_opts *o,
		  struct page *p, struct flame_stats *st)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len;
	int err;

	memset(p, 0, sizeof(*p));
	o->frame_name = name_frame;
	err = flame__write(cur, base, NULL, o, &sb, st);
	if (err)
		return err;
	p->html = strbuf__detach(&sb, &len);
	return decode(p);
}

static void add(struct agg *a, uint32_t pid, uint32_t tid, const char *comm, const char *thread,
		const uint64_t *u, uint32_t nu, const uint64_t *k, uint32_t nk, uint64_t count)
{
	struct agg_sample s = {
		.pid = pid,
		.tid = tid,
		.comm = comm,
		.thread_name = thread,
		.ustack = u,
		.n_ustack = nu,
		.kstack = k,
		.n_kstack = nk,
		.count = count,
		.value = count * 1000,
		.value2 = count * 4096,
	};

	CHECK(agg__add(a, &s) == 0);
}

static void test_tree(void)
{
	/* Leaf first, as BPF reports them. */
	uint64_t u1[] = {0x30, 0x20, 0x10}, u2[] = {0x40, 0x10}, k1[] = {0x200, 0x100};
	struct agg *a = agg__new(NULL);
	struct flame_opts o = {.kind = "cpu", .unit = "samples", .value = FOLDED_COUNT};
	struct flame_stats st;
	struct page p;
	int n;

	add(a, 10, 10, "app", "app", u1, 3, NULL, 0, 5);
	add(a, 10, 11, "app", "worker", u2, 2, k1, 2, 3);
	add(a, 10, 11, "app", "worker", u1, 3, NULL, 0, 2);
	add(a, 20, 20, "other", "", NULL, 0, NULL, 0, 1);
	CHECK(render(a, NULL, &o, &p, &st) == 0);
	CHECK(!p.diff);
	CHECK_EQ_U64(st.truncated, 0);
	CHECK_EQ_U64(st.nodes, (uint64_t)p.n_nodes);
	/* The root, first: everything. */
	CHECK(p.n_nodes > 0 && p.nodes[0][2] == 0 && p.nodes[0][3] == 11);
	CHECK_STR(p.n_nodes ? p.names[p.nodes[0][0]] : NULL, "all");
	n = find(&p, (const char *const[]){"app (10)", NULL});
	CHECK(n >= 0 && p.nodes[n][3] == 10 && p.nodes[n][1] == FLAME_PROCESS);
	n = find(&p, (const char *const[]){"app (10)", "worker (11)", NULL});
	CHECK(n >= 0 && p.nodes[n][3] == 5 && p.nodes[n][1] == FLAME_THREAD);
	/* Root first: the outermost user frame under the thread, the kernel leaf last. */
	n = find(&p, (const char *const[]){"app (10)", "worker (11)", "u_10", "u_40", "k_100",
					   "k_200", NULL});
	CHECK(n >= 0 && p.nodes[n][3] == 3 && p.nodes[n][1] == FLAME_KERNEL);
	n = find(&p, (const char *const[]){"app (10)", "worker (11)", "u_10", NULL});
	CHECK(n >= 0 && p.nodes[n][3] == 5 && p.nodes[n][1] == FLAME_USER);
	n = find(&p, (const char *const[]){"app (10)", "app (10)", "u_10", "u_20", "u_30", NULL});
	CHECK(n >= 0 && p.nodes[n][3] == 5);
	/* A thread without a name takes the process's; no stack is said so. */
	n = find(&p, (const char *const[]){"other (20)", "other (20)", "[no stack]", NULL});
	CHECK(n >= 0 && p.nodes[n][3] == 1 && p.nodes[n][1] == FLAME_OTHER);
	/* Siblings come sorted by name: "app (10)" before "other (20)". */
	CHECK(find(&p, (const char *const[]){"app (10)", NULL}) <
	      find(&p, (const char *const[]){"other (20)", NULL}));
	/* The template's markers are replaced, the script is in. */
	CHECK(!strstr(p.html, "<!--SONDE_DATA-->") && !strstr(p.html, "<!--SONDE_SCRIPT-->"));
	CHECK(strstr(p.html, "window.sondeFlame") != NULL);
	CHECK(strstr(p.html, "\"kind\":\"cpu\",\"unit\":\"samples\"") != NULL);
	page_free(&p);

	/* Another value: bytes. */
	o.value = FOLDED_VALUE2;
	CHECK(render(a, NULL, &o, &p, &st) == 0);
	CHECK(p.n_nodes > 0 && p.nodes[0][3] == 11 * 4096);
	page_free(&p);
	agg__free(a);
}

static void test_diff(void)
{
	uint64_t hot[] = {0x10}, cold[] = {0x20};
	struct agg *cur = agg__new(NULL), *base = agg__new(NULL);
	struct flame_opts o = {.kind = "cpu", .unit = "samples", .value = FOLDED_COUNT};
	struct page p;
	int n;

	add(cur, 1, 1, "a", "a", hot, 1, NULL, 0, 9);
	add(cur, 1, 1, "a", "a", cold, 1, NULL, 0, 1);
	add(base, 1, 1, "a", "a", cold, 1, NULL, 0, 4);
	o.base_time_nanos = 5;
	o.base_duration_nanos = 6;
	CHECK(render(cur, base, &o, &p, NULL) == 0);
	CHECK(p.diff);
	CHECK(strstr(p.html, "\"totals\":[10,4]") != NULL);
	CHECK(strstr(p.html, "\"base_time_nanos\":5,\"base_duration_nanos\":6") != NULL);
	CHECK(p.n_nodes > 0 && p.nodes[0][3] == 10 && p.nodes[0][4] == 4);
	n = find(&p, (const char *const[]){"a (1)", "a (1)", "u_10", NULL});
	CHECK(n >= 0 && p.nodes[n][3] == 9 && p.nodes[n][4] == 0);
	n = find(&p, (const char *const[]){"a (1)", "a (1)", "u_20", NULL});
	CHECK(n >= 0 && p.nodes[n][3] == 1 && p.nodes[n][4] == 4);
	page_free(&p);
	agg__free(cur);
	agg__free(base);
}

static void test_node_cap(void)
{
	uint64_t u[] = {0x50, 0x40, 0x30, 0x20, 0x10};
	struct agg *a = agg__new(NULL);
	struct flame_opts o = {.value = FOLDED_COUNT, .max_nodes = 5};
	struct flame_stats st;
	struct page p;
	int n;

	add(a, 1, 1, "a", "a", u, 5, NULL, 0, 7);
	CHECK(render(a, NULL, &o, &p, &st) == 0);
	/* all, process, thread, u_10, u_20: the rest stays in u_20, counted. */
	CHECK_EQ_U64(st.nodes, 5);
	CHECK_EQ_U64(p.n_nodes, 5);
	CHECK_EQ_U64(st.truncated, 7);
	CHECK(strstr(p.html, "\"truncated\":7") != NULL);
	n = find(&p, (const char *const[]){"a (1)", "a (1)", "u_10", "u_20", NULL});
	CHECK(n >= 0 && p.nodes[n][3] == 7);
	page_free(&p);
	agg__free(a);
}

/* Names come from the profiled processes: nothing in them may end the data's <script>. */
static void test_hostile_names(void)
{
	struct agg *a = agg__new(NULL);
	struct flame_opts o = {.kind = "cpu</script>", .value = FOLDED_COUNT};
	struct strbuf sb = STRBUF_INIT;
	char *data, *close;
	size_t len;

	add(a, 1, 2, "</script><img", "\"\\\n&", NULL, 0, NULL, 0, 1);
	o.frame_name = name_frame;
	CHECK(flame__write(a, NULL, NULL, &o, &sb, NULL) == 0);
	data = strbuf__detach(&sb, &len);
	CHECK(data != NULL);
	if (!data)
		goto out;
	CHECK(strstr(data, "<img") == NULL);
	CHECK(strstr(data, "\\u003c/script\\u003e\\u003cimg (1)") != NULL);
	CHECK(strstr(data, "\\\"\\\\\\u000a\\u0026 (2)") != NULL);
	/* The data script ends at its own </script>, after the last node. */
	close = strstr(strstr(data, "id=\"sonde-data\">"), "</script>");
	CHECK(close && close > strstr(data, "\"nodes\":[") && close[-1] == '}');
out:
	free(data);
	agg__free(a);
}

static void test_empty(void)
{
	struct agg *a = agg__new(NULL);
	struct flame_opts o = {.kind = "offcpu", .unit = "nanoseconds", .value = FOLDED_VALUE};
	struct page p;

	CHECK(render(a, NULL, &o, &p, NULL) == 0);
	CHECK_EQ_U64(p.n_nodes, 1);
	CHECK(strstr(p.html, "\"totals\":[0,0]") != NULL);
	page_free(&p);
	agg__free(a);
}

int main(void)
{
	test_tree();
	test_diff();
	test_node_cap();
	test_hostile_names();
	test_empty();
	return test__finish("test_flame");
}
