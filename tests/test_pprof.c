// SPDX-License-Identifier: GPL-2.0
/* pprof builder and encoder: round trips through protobuf-c and the rules consumers enforce. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile.pb-c.h"
#include "pprof.h"
#include "testutil.h"

#define PERIOD	    10101010
#define TIME_NANOS  1700000000123456789ll
#define DURATION_NS 10000000000ll

static const struct pprof_value_type cpu_types[] = {
	{"samples", "count"},
	{"cpu", "nanoseconds"},
};

static const struct pprof_opts cpu_opts = {
	.sample_types = cpu_types,
	.n_sample_types = 2,
	.period_type = {"cpu", "nanoseconds"},
	.period = PERIOD,
	.time_nanos = TIME_NANOS,
	.duration_nanos = DURATION_NS,
	.default_sample_type = "cpu",
};

/* An independent check of what Pyroscope requires: every string valid UTF-8. */
static bool is_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		uint32_t cp;
		int n;

		if (p[0] < 0x80) {
			p++;
			continue;
		} else if ((p[0] & 0xe0) == 0xc0) {
			n = 1;
			cp = p[0] & 0x1f;
		} else if ((p[0] & 0xf0) == 0xe0) {
			n = 2;
			cp = p[0] & 0x0f;
		} else if ((p[0] & 0xf8) == 0xf0) {
			n = 3;
			cp = p[0] & 0x07;
		} else {
			return false;
		}
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000))
			return false;
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

static bool str_ok(const Perftools__Profiles__Profile *p, int64_t idx)
{
	return idx >= 0 && (uint64_t)idx < p->n_string_table;
}

static const char *str_at(const Perftools__Profiles__Profile *p, int64_t idx)
{
	return str_ok(p, idx) ? p->string_table[idx] : NULL;
}

/* The rules go tool pprof, Parca and Pyroscope enforce (see interop.md). */
static void check_valid(const Perftools__Profiles__Profile *p)
{
	bool ok;

	CHECK(p->n_string_table >= 1);
	if (p->n_string_table < 1)
		return;
	CHECK_STR(p->string_table[0], "");
	ok = true;
	for (size_t i = 0; i < p->n_string_table; i++)
		ok = ok && is_utf8(p->string_table[i]);
	CHECK(ok);
	/* No duplicate strings. */
	ok = true;
	for (size_t i = 0; i < p->n_string_table && p->n_string_table < 2000; i++)
		for (size_t j = i + 1; j < p->n_string_table; j++)
			ok = ok && strcmp(p->string_table[i], p->string_table[j]) != 0;
	CHECK(ok);

	ok = true;
	for (size_t i = 0; i < p->n_sample_type; i++)
		ok = ok && str_ok(p, p->sample_type[i]->type) && str_ok(p, p->sample_type[i]->unit);
	CHECK(ok);
	if (p->period_type)
		CHECK(str_ok(p, p->period_type->type) && str_ok(p, p->period_type->unit));
	CHECK(str_ok(p, p->default_sample_type));

	ok = true;
	for (size_t i = 0; i < p->n_mapping; i++) {
		const Perftools__Profiles__Mapping *m = p->mapping[i];

		ok = ok && m->id == i + 1 && str_ok(p, m->filename) && str_ok(p, m->build_id);
	}
	CHECK(ok);
	ok = true;
	for (size_t i = 0; i < p->n_function; i++) {
		const Perftools__Profiles__Function *f = p->function[i];

		ok = ok && f->id == i + 1 && str_ok(p, f->name) && str_ok(p, f->system_name) &&
		     str_ok(p, f->filename);
	}
	CHECK(ok);
	ok = true;
	for (size_t i = 0; i < p->n_location; i++) {
		const Perftools__Profiles__Location *l = p->location[i];

		ok = ok && l->id == i + 1 && l->mapping_id <= p->n_mapping;
		for (size_t j = 0; j < l->n_line; j++)
			ok = ok && l->line[j]->function_id >= 1 &&
			     l->line[j]->function_id <= p->n_function;
	}
	CHECK(ok);
	ok = true;
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];

		ok = ok && s->n_value == p->n_sample_type;
		for (size_t j = 0; j < s->n_location_id; j++)
			ok = ok && s->location_id[j] >= 1 && s->location_id[j] <= p->n_location;
		for (size_t j = 0; j < s->n_label; j++) {
			const Perftools__Profiles__Label *l = s->label[j];

			ok = ok && str_ok(p, l->key) && str_ok(p, l->str) && str_ok(p, l->num_unit);
			/* Never both a string and a number. */
			ok = ok && !(l->str && (l->num || l->num_unit));
		}
	}
	CHECK(ok);
}

/*
 * The builder writes the wire format itself: protobuf-c, packing what it
 * decoded, must produce the very same bytes (field order, zeros left out,
 * packed repeated scalars, negative numbers in ten bytes).
 */
static void check_canonical(const Perftools__Profiles__Profile *p, const struct strbuf *raw)
{
	size_t size = perftools__profiles__profile__get_packed_size(p);
	uint8_t *again = malloc(size ? size : 1);

	CHECK(again != NULL);
	if (!again)
		return;
	CHECK_EQ_U64(perftools__profiles__profile__pack(p, again), size);
	CHECK_EQ_U64(size, raw->len);
	CHECK(size == raw->len && memcmp(again, raw->buf, size) == 0);
	free(again);
}

static Perftools__Profiles__Profile *decode(const struct strbuf *body)
{
	struct strbuf raw = STRBUF_INIT;
	Perftools__Profiles__Profile *p = NULL;
	int err = pprof__gunzip(body->buf, body->len, &raw);

	CHECK_EQ_U64(err, 0);
	if (!err)
		p = perftools__profiles__profile__unpack(NULL, raw.len, (const uint8_t *)raw.buf);
	CHECK(p != NULL);
	if (p) {
		check_valid(p);
		check_canonical(p, &raw);
	}
	strbuf__release(&raw);
	return p;
}

static const char *label_str(const Perftools__Profiles__Profile *p,
			     const Perftools__Profiles__Sample *s, const char *key)
{
	for (size_t i = 0; i < s->n_label; i++)
		if (strcmp(str_at(p, s->label[i]->key), key) == 0)
			return s->label[i]->str ? str_at(p, s->label[i]->str) : NULL;
	return NULL;
}

static const Perftools__Profiles__Label *label_at(const Perftools__Profiles__Profile *p,
						  const Perftools__Profiles__Sample *s,
						  const char *key)
{
	for (size_t i = 0; i < s->n_label; i++)
		if (strcmp(str_at(p, s->label[i]->key), key) == 0)
			return s->label[i];
	return NULL;
}

static const char *loc_func(const Perftools__Profiles__Profile *p, uint64_t loc_id)
{
	const Perftools__Profiles__Location *l;

	if (!loc_id || loc_id > p->n_location)
		return NULL;
	l = p->location[loc_id - 1];
	if (l->n_line < 1 || !l->line[0]->function_id || l->line[0]->function_id > p->n_function)
		return NULL;
	return str_at(p, p->function[l->line[0]->function_id - 1]->name);
}

struct ids {
	uint64_t m_app, m_libc, m_nobid;
	uint64_t f_main, f_work, f_memcpy, f_bad;
	uint64_t l_main, l_work, l_memcpy, l_nofunc, l_bad;
};

static void build_cpu_profile(struct pprof_builder *b, struct ids *id)
{
	struct pprof_label labels[] = {
		{.key = "pid", .str = "1234"},
		{.key = "comm", .str = "app"},
		{.key = "thread_name", .str = "worker-1"},
		{.key = "cpu", .num = 3},
		{.key = "bytes", .num = 4096, .num_unit = "bytes"},
	};
	struct pprof_label bad_labels[] = {
		{.key = "pid", .str = "99"},
		{.key = "comm", .str = "c\xc3("},
		{.key = "thread_name", .str = "\xed\xa0\x80x\xc0\xaf"},
	};
	uint64_t stack1[3], stack2[2], stack3[2];
	int64_t v1[2] = {1, PERIOD}, v2[2] = {2, 2 * PERIOD}, v3[2] = {5, 5 * PERIOD};

	id->m_app = pprof_builder__mapping(b, 0x400000, 0x500000, 0, "/usr/bin/app",
					   "abcdef0123456789", true);
	id->m_libc = pprof_builder__mapping(b, 0x7f0000000000, 0x7f0000200000, 0x28000,
					    "/lib/x86_64-linux-gnu/libc.so.6", NULL, true);
	CHECK_EQ_U64(id->m_app, 1);
	CHECK_EQ_U64(id->m_libc, 2);
	CHECK_EQ_U64(pprof_builder__mapping(b, 0x400000, 0x500000, 0, "/usr/bin/app",
					    "abcdef0123456789", true),
		     id->m_app);
	/* Every argument counts. */
	id->m_nobid = pprof_builder__mapping(b, 0x400000, 0x500000, 0, "/usr/bin/app", NULL, true);
	CHECK_EQ_U64(id->m_nobid, 3);
	CHECK_EQ_U64(pprof_builder__mapping(b, 0x400000, 0x500000, 0, "/usr/bin/app",
					    "abcdef0123456789", false),
		     4);

	id->f_main = pprof_builder__function(b, "main", "main", "app.c");
	id->f_work = pprof_builder__function(b, "work", "_Z4workv", "app.c");
	id->f_memcpy = pprof_builder__function(b, "memcpy", "memcpy", NULL);
	id->f_bad = pprof_builder__function(b, "bad\xff\xfename", NULL, NULL);
	CHECK_EQ_U64(id->f_main, 1);
	CHECK_EQ_U64(id->f_work, 2);
	CHECK_EQ_U64(id->f_memcpy, 3);
	CHECK_EQ_U64(id->f_bad, 4);
	CHECK_EQ_U64(pprof_builder__function(b, "work", "_Z4workv", "app.c"), id->f_work);
	CHECK_EQ_U64(pprof_builder__function(b, "work", "work", "app.c"), 5);

	id->l_main = pprof_builder__location(b, id->m_app, 0x401000, id->f_main);
	id->l_work = pprof_builder__location(b, id->m_app, 0x401100, id->f_work);
	id->l_memcpy = pprof_builder__location(b, id->m_libc, 0x7f0000012340, id->f_memcpy);
	id->l_nofunc = pprof_builder__location(b, id->m_libc, 0x7f0000099990, 0);
	id->l_bad = pprof_builder__location(b, 0, 0xdead, id->f_bad);
	CHECK_EQ_U64(id->l_main, 1);
	CHECK_EQ_U64(id->l_work, 2);
	CHECK_EQ_U64(id->l_memcpy, 3);
	CHECK_EQ_U64(id->l_nofunc, 4);
	CHECK_EQ_U64(id->l_bad, 5);
	/* Same (mapping, address): same id, and the first function wins. */
	CHECK_EQ_U64(pprof_builder__location(b, id->m_app, 0x401000, id->f_work), id->l_main);
	CHECK_EQ_U64(pprof_builder__location(b, id->m_app, 0x401000, 0), id->l_main);
	/* Without a mapping, the same address with another function is another location. */
	CHECK(pprof_builder__location(b, 0, 0xdead, id->f_main) != id->l_bad);
	CHECK_EQ_U64(pprof_builder__location(b, 0, 0xdead, id->f_bad), id->l_bad);
	/* Unknown ids are refused. */
	CHECK_EQ_U64(pprof_builder__location(b, 99, 0x1, id->f_main), 0);
	CHECK_EQ_U64(pprof_builder__location(b, id->m_app, 0x1, 99), 0);

	stack1[0] = id->l_memcpy; /* leaf first */
	stack1[1] = id->l_work;
	stack1[2] = id->l_main;
	stack2[0] = id->l_nofunc;
	stack2[1] = id->l_main;
	stack3[0] = id->l_bad;
	stack3[1] = id->l_main;
	CHECK_EQ_U64(pprof_builder__sample(b, stack1, 3, v1, labels, 5), 0);
	CHECK_EQ_U64(pprof_builder__sample(b, stack2, 2, v2, labels, 3), 0);
	CHECK_EQ_U64(pprof_builder__sample(b, stack3, 2, v1, bad_labels, 3), 0);
	CHECK_EQ_U64(pprof_builder__n_samples(b), 3);
	/* An identical (locations, labels) sample adds its values. */
	CHECK_EQ_U64(pprof_builder__sample(b, stack1, 3, v3, labels, 5), 0);
	CHECK_EQ_U64(pprof_builder__n_samples(b), 3);
	/* Different labels: a new sample. */
	CHECK_EQ_U64(pprof_builder__sample(b, stack1, 3, v1, labels, 4), 0);
	CHECK_EQ_U64(pprof_builder__n_samples(b), 4);

	/* Refused: location 0, an unknown location, missing values or label key. */
	stack3[0] = 0;
	CHECK_EQ_U64(pprof_builder__sample(b, stack3, 2, v1, NULL, 0), (uint64_t)-EINVAL);
	stack3[0] = 1000;
	CHECK_EQ_U64(pprof_builder__sample(b, stack3, 2, v1, NULL, 0), (uint64_t)-EINVAL);
	CHECK_EQ_U64(pprof_builder__sample(b, stack1, 3, NULL, NULL, 0), (uint64_t)-EINVAL);
	bad_labels[0].key = NULL;
	CHECK_EQ_U64(pprof_builder__sample(b, stack1, 3, v1, bad_labels, 1), (uint64_t)-EINVAL);
	CHECK_EQ_U64(pprof_builder__n_samples(b), 4);
}

static void test_round_trip(void)
{
	struct pprof_builder *b = pprof_builder__new(&cpu_opts);
	struct strbuf body = STRBUF_INIT;
	Perftools__Profiles__Profile *p;
	const Perftools__Profiles__Sample *s;
	const Perftools__Profiles__Label *l;
	const Perftools__Profiles__Mapping *m;
	struct ids id;
	bool found;

	CHECK(b != NULL);
	if (!b)
		return;
	build_cpu_profile(b, &id);
	CHECK_EQ_U64(pprof_builder__encode(b, true, &body), 0);
	CHECK(body.len > 2);
	CHECK(body.len > 2 && (unsigned char)body.buf[0] == 0x1f &&
	      (unsigned char)body.buf[1] == 0x8b);
	pprof_builder__free(b);

	p = decode(&body);
	strbuf__release(&body);
	if (!p)
		return;
	CHECK_EQ_U64(p->n_sample_type, 2);
	CHECK_STR(str_at(p, p->sample_type[0]->type), "samples");
	CHECK_STR(str_at(p, p->sample_type[0]->unit), "count");
	CHECK_STR(str_at(p, p->sample_type[1]->type), "cpu");
	CHECK_STR(str_at(p, p->sample_type[1]->unit), "nanoseconds");
	CHECK(p->period_type != NULL);
	if (p->period_type) {
		CHECK_STR(str_at(p, p->period_type->type), "cpu");
		CHECK_STR(str_at(p, p->period_type->unit), "nanoseconds");
	}
	CHECK_EQ_U64(p->period, PERIOD);
	CHECK_EQ_U64(p->time_nanos, TIME_NANOS);
	CHECK_EQ_U64(p->duration_nanos, DURATION_NS);
	CHECK_STR(str_at(p, p->default_sample_type), "cpu");

	CHECK_EQ_U64(p->n_mapping, 4);
	CHECK_EQ_U64(p->n_function, 5);
	CHECK_EQ_U64(p->n_location, 6); /* five, plus the unmapped one at 0xdead for f_main */
	CHECK_EQ_U64(p->n_sample, 4);
	if (p->n_mapping != 4 || p->n_function != 5 || p->n_location != 6 || p->n_sample != 4)
		goto out_free;

	m = p->mapping[id.m_app - 1];
	CHECK_EQ_U64(m->memory_start, 0x400000);
	CHECK_EQ_U64(m->memory_limit, 0x500000);
	CHECK_STR(str_at(p, m->filename), "/usr/bin/app");
	CHECK_STR(str_at(p, m->build_id), "abcdef0123456789");
	CHECK(m->has_functions);
	m = p->mapping[id.m_libc - 1];
	CHECK_EQ_U64(m->file_offset, 0x28000);
	CHECK_STR(str_at(p, m->filename), "/lib/x86_64-linux-gnu/libc.so.6");
	CHECK_EQ_U64(m->build_id, 0);
	CHECK(!p->mapping[3]->has_functions);

	CHECK_STR(str_at(p, p->function[id.f_work - 1]->system_name), "_Z4workv");
	CHECK_STR(str_at(p, p->function[id.f_work - 1]->filename), "app.c");
	CHECK_STR(str_at(p, p->function[id.f_bad - 1]->name), "bad??name");
	CHECK_EQ_U64(p->location[id.l_main - 1]->address, 0x401000);
	CHECK_EQ_U64(p->location[id.l_main - 1]->mapping_id, id.m_app);
	CHECK_STR(loc_func(p, id.l_main), "main");
	CHECK_EQ_U64(p->location[id.l_nofunc - 1]->n_line, 0);
	CHECK_EQ_U64(p->location[id.l_bad - 1]->mapping_id, 0);

	/* The first sample, merged: leaf first, values added, labels resolved. */
	s = p->sample[0];
	CHECK_EQ_U64(s->n_location_id, 3);
	if (s->n_location_id == 3) {
		CHECK_EQ_U64(s->location_id[0], id.l_memcpy);
		CHECK_EQ_U64(s->location_id[2], id.l_main);
		CHECK_STR(loc_func(p, s->location_id[0]), "memcpy");
		CHECK_STR(loc_func(p, s->location_id[1]), "work");
		CHECK_STR(loc_func(p, s->location_id[2]), "main");
	}
	CHECK_EQ_U64(s->value[0], 6);
	CHECK_EQ_U64(s->value[1], 6ull * PERIOD);
	CHECK_EQ_U64(s->n_label, 5);
	CHECK_STR(label_str(p, s, "pid"), "1234");
	CHECK_STR(label_str(p, s, "comm"), "app");
	CHECK_STR(label_str(p, s, "thread_name"), "worker-1");
	l = label_at(p, s, "cpu");
	CHECK(l && l->num == 3 && l->str == 0 && l->num_unit == 0);
	l = label_at(p, s, "bytes");
	CHECK(l && l->num == 4096 && l->str == 0);
	if (l)
		CHECK_STR(str_at(p, l->num_unit), "bytes");

	s = p->sample[1];
	CHECK_EQ_U64(s->n_location_id, 2);
	CHECK_EQ_U64(s->value[0], 2);
	CHECK_EQ_U64(s->value[1], 2ull * PERIOD);
	CHECK_EQ_U64(s->n_label, 3);
	CHECK(label_at(p, s, "cpu") == NULL);

	/* Invalid UTF-8 became '?', byte for byte. */
	s = p->sample[2];
	CHECK_STR(label_str(p, s, "pid"), "99");
	CHECK_STR(label_str(p, s, "comm"), "c?(");
	CHECK_STR(label_str(p, s, "thread_name"), "???x??");
	CHECK_STR(loc_func(p, s->location_id[0]), "bad??name");

	s = p->sample[3];
	CHECK_EQ_U64(s->n_label, 4);
	CHECK_EQ_U64(s->value[1], PERIOD);

	/* The build id and all names made it into the string table once. */
	found = false;
	for (size_t i = 0; i < p->n_string_table; i++)
		found = found || strcmp(p->string_table[i], "abcdef0123456789") == 0;
	CHECK(found);
out_free:
	perftools__profiles__profile__free_unpacked(p, NULL);
}

static void test_plain(void)
{
	struct pprof_builder *b = pprof_builder__new(&cpu_opts);
	struct strbuf plain = STRBUF_INIT, gz = STRBUF_INIT, raw = STRBUF_INIT;
	Perftools__Profiles__Profile *p;
	struct ids id;

	CHECK(b != NULL);
	if (!b)
		return;
	build_cpu_profile(b, &id);
	/* Appends after what the buffer already holds. */
	CHECK_EQ_U64(strbuf__appends(&plain, "prefix"), 0);
	CHECK_EQ_U64(pprof_builder__encode(b, false, &plain), 0);
	CHECK_EQ_U64(pprof_builder__encode(b, true, &gz), 0);
	pprof_builder__free(b);
	CHECK(plain.len > 6 && memcmp(plain.buf, "prefix", 6) == 0);
	CHECK((unsigned char)plain.buf[6] != 0x1f);

	/* A plain body is copied; a gzip body inflates to the same bytes. */
	CHECK_EQ_U64(pprof__gunzip(gz.buf, gz.len, &raw), 0);
	CHECK_EQ_U64(raw.len, plain.len - 6);
	CHECK(raw.len == plain.len - 6 && memcmp(raw.buf, plain.buf + 6, raw.len) == 0);

	p = perftools__profiles__profile__unpack(NULL, plain.len - 6,
						 (const uint8_t *)plain.buf + 6);
	CHECK(p != NULL);
	if (p) {
		check_valid(p);
		CHECK_EQ_U64(p->n_sample, 4);
		CHECK_EQ_U64(p->period, PERIOD);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	strbuf__release(&raw);
	CHECK_EQ_U64(pprof__gunzip(plain.buf + 6, plain.len - 6, &raw), 0);
	CHECK(raw.len == plain.len - 6 && memcmp(raw.buf, plain.buf + 6, raw.len) == 0);

	strbuf__release(&raw);
	strbuf__release(&gz);
	strbuf__release(&plain);
}

static void test_empty(void)
{
	struct pprof_opts opts = {
		.sample_types = cpu_types,
		.n_sample_types = 2,
	};
	struct pprof_builder *b = pprof_builder__new(&opts);
	struct strbuf body = STRBUF_INIT;
	Perftools__Profiles__Profile *p;

	CHECK(b != NULL);
	if (!b)
		return;
	CHECK_EQ_U64(pprof_builder__n_samples(b), 0);
	CHECK_EQ_U64(pprof_builder__encode(b, true, &body), 0);
	pprof_builder__free(b);
	p = decode(&body);
	if (p) {
		CHECK_EQ_U64(p->n_sample, 0);
		CHECK_EQ_U64(p->n_sample_type, 2);
		CHECK_EQ_U64(p->n_mapping + p->n_location + p->n_function, 0);
		CHECK(p->period_type == NULL);
		CHECK_EQ_U64(p->default_sample_type, 0);
		CHECK_EQ_U64(p->period, 0);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	strbuf__release(&body);
}

static void test_corrupt(void)
{
	struct pprof_builder *b = pprof_builder__new(&cpu_opts);
	struct strbuf gz = STRBUF_INIT, out = STRBUF_INIT, two = STRBUF_INIT;
	static const unsigned char junk[] = {0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef,
					     0x00, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	struct ids id;
	char *bad;
	size_t len;

	CHECK(b != NULL);
	if (!b)
		return;
	build_cpu_profile(b, &id);
	CHECK_EQ_U64(pprof_builder__encode(b, true, &gz), 0);
	pprof_builder__free(b);
	CHECK_EQ_U64(strbuf__appends(&out, "keep"), 0);

	CHECK_EQ_U64(pprof__gunzip(junk, sizeof(junk), &out), (uint64_t)-EINVAL);
	/* Truncated. */
	CHECK_EQ_U64(pprof__gunzip(gz.buf, gz.len / 2, &out), (uint64_t)-EINVAL);
	CHECK_EQ_U64(pprof__gunzip(gz.buf, gz.len - 1, &out), (uint64_t)-EINVAL);
	CHECK_EQ_U64(pprof__gunzip(gz.buf, 2, &out), (uint64_t)-EINVAL);
	/* A bad CRC. */
	bad = malloc(gz.len);
	CHECK(bad != NULL);
	if (bad) {
		memcpy(bad, gz.buf, gz.len);
		bad[gz.len - 6] ^= 0x55;
		CHECK_EQ_U64(pprof__gunzip(bad, gz.len, &out), (uint64_t)-EINVAL);
		/* Corrupt deflate data. */
		memcpy(bad, gz.buf, gz.len);
		memset(bad + 10, 0xff, gz.len / 2);
		CHECK_EQ_U64(pprof__gunzip(bad, gz.len, &out), (uint64_t)-EINVAL);
		free(bad);
	}
	/* Failures leave the buffer as it was. */
	CHECK_EQ_U64(out.len, 4);
	CHECK_STR(out.buf, "keep");

	/* Trailing junk after a member is refused; a second member is accepted. */
	CHECK_EQ_U64(strbuf__append(&two, gz.buf, gz.len), 0);
	CHECK_EQ_U64(strbuf__appends(&two, "xy"), 0);
	CHECK_EQ_U64(pprof__gunzip(two.buf, two.len, &out), (uint64_t)-EINVAL);
	two.len = gz.len;
	CHECK_EQ_U64(strbuf__append(&two, gz.buf, gz.len), 0);
	CHECK_EQ_U64(pprof__gunzip(two.buf, two.len, &out), 0);
	len = out.len - 4;
	CHECK(len > 0 && len % 2 == 0 && memcmp(out.buf + 4, out.buf + 4 + len / 2, len / 2) == 0);

	CHECK_EQ_U64(pprof__gunzip(NULL, 1, &out), (uint64_t)-EINVAL);
	CHECK_EQ_U64(pprof__gunzip(NULL, 0, &out), 0);
	strbuf__release(&two);
	strbuf__release(&out);
	strbuf__release(&gz);
}

/* Enough of everything to grow the tables and the string arena many times. */
static void test_many(void)
{
	struct pprof_builder *b = pprof_builder__new(&cpu_opts);
	struct strbuf body = STRBUF_INIT;
	Perftools__Profiles__Profile *p;
	enum { N = 20000 };
	char name[64], *big;
	uint64_t m, f, loc, stack[2];
	int64_t v[2] = {1, PERIOD};
	bool ok = true;

	CHECK(b != NULL);
	if (!b)
		return;
	m = pprof_builder__mapping(b, 0x1000, 0x2000, 0, "/bin/many", "00ff", true);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "func_%d", i);
		f = pprof_builder__function(b, name, name, "many.c");
		loc = pprof_builder__location(b, m, 0x1000 + (uint64_t)i, f);
		ok = ok && f == (uint64_t)i + 1 && loc == (uint64_t)i + 1;
	}
	CHECK(ok);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "func_%d", i);
		ok = ok && pprof_builder__function(b, name, name, "many.c") == (uint64_t)i + 1;
		ok = ok &&
		     pprof_builder__location(b, m, 0x1000 + (uint64_t)i, 0) == (uint64_t)i + 1;
		stack[0] = (uint64_t)i + 1;
		stack[1] = (uint64_t)(i / 2) + 1;
		ok = ok && pprof_builder__sample(b, stack, 2, v, NULL, 0) == 0;
	}
	CHECK(ok);
	for (int i = 0; i < N; i++) {
		stack[0] = (uint64_t)i + 1;
		stack[1] = (uint64_t)(i / 2) + 1;
		ok = ok && pprof_builder__sample(b, stack, 2, v, NULL, 0) == 0;
	}
	CHECK(ok);
	CHECK_EQ_U64(pprof_builder__n_samples(b), N);

	/* A string bigger than an arena block, then small ones again. */
	big = malloc(100000);
	CHECK(big != NULL);
	if (big) {
		memset(big, 'x', 99999);
		big[99999] = '\0';
		f = pprof_builder__function(b, big, "small", NULL);
		CHECK_EQ_U64(f, N + 1);
		CHECK_EQ_U64(pprof_builder__function(b, big, "small", NULL), f);
		CHECK_EQ_U64(pprof_builder__function(b, "after_big", NULL, NULL), N + 2);
	}

	CHECK_EQ_U64(pprof_builder__encode(b, true, &body), 0);
	pprof_builder__free(b);
	p = decode(&body);
	if (p) {
		CHECK_EQ_U64(p->n_function, N + 2);
		CHECK_EQ_U64(p->n_location, N);
		CHECK_EQ_U64(p->n_sample, N);
		ok = p->n_sample == N;
		for (size_t i = 0; ok && i < N; i++)
			ok = p->sample[i]->value[0] == 2 && p->sample[i]->location_id[0] == i + 1;
		CHECK(ok);
		if (big && p->n_function == N + 2)
			CHECK_STR(str_at(p, p->function[N]->name), big);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	free(big);
	strbuf__release(&body);
}

static void test_args(void)
{
	struct pprof_opts opts = cpu_opts;

	pprof_builder__free(NULL);
	CHECK(pprof_builder__new(NULL) == NULL);
	opts.n_sample_types = 0;
	CHECK(pprof_builder__new(&opts) == NULL);
	opts.n_sample_types = 2;
	opts.sample_types = NULL;
	CHECK(pprof_builder__new(&opts) == NULL);
	CHECK_EQ_U64(pprof_builder__mapping(NULL, 0, 0, 0, "x", NULL, false), 0);
	CHECK_EQ_U64(pprof_builder__function(NULL, "x", NULL, NULL), 0);
	CHECK_EQ_U64(pprof_builder__location(NULL, 0, 0, 0), 0);
	CHECK_EQ_U64(pprof_builder__n_samples(NULL), 0);
}

/* Labels given as string indices are the same labels as given as strings. */
static void test_label_refs(void)
{
	struct pprof_builder *b = pprof_builder__new(&cpu_opts);
	struct pprof_label labels[] = {
		{.key = "pid", .str = "42"},
		{.key = "bytes", .num = 512, .num_unit = "bytes"},
	};
	struct pprof_label_ref refs[2], bad;
	struct strbuf body = STRBUF_INIT;
	Perftools__Profiles__Profile *p;
	int64_t v[2] = {1, 10};
	uint64_t fn, loc;

	CHECK(b != NULL);
	if (!b)
		return;
	fn = pprof_builder__function(b, "main", "main", "");
	loc = pprof_builder__location(b, 0, 0x1000, fn);
	refs[0] = (struct pprof_label_ref){.key = pprof_builder__string(b, "pid"),
					   .str = pprof_builder__string(b, "42")};
	refs[1] = (struct pprof_label_ref){.key = pprof_builder__string(b, "bytes"),
					   .num = 512,
					   .num_unit = pprof_builder__string(b, "bytes")};
	CHECK(refs[0].key > 0 && refs[0].str > 0 && refs[1].num_unit == refs[1].key);
	CHECK_EQ_U64(pprof_builder__string(b, ""), 0);
	CHECK_EQ_U64(pprof_builder__string(b, NULL), 0);
	CHECK_EQ_U64(pprof_builder__sample_refs(b, &loc, 1, v, refs, 2), 0);
	/* The same sample through strings merges into it. */
	CHECK_EQ_U64(pprof_builder__sample(b, &loc, 1, v, labels, 2), 0);
	CHECK_EQ_U64(pprof_builder__n_samples(b), 1);
	/* Indices outside the table, a missing key, or both a string and a number. */
	bad = (struct pprof_label_ref){.key = 9999, .str = refs[0].str};
	CHECK_EQ_U64(pprof_builder__sample_refs(b, &loc, 1, v, &bad, 1), (uint64_t)-EINVAL);
	bad = (struct pprof_label_ref){.key = 0, .str = refs[0].str};
	CHECK_EQ_U64(pprof_builder__sample_refs(b, &loc, 1, v, &bad, 1), (uint64_t)-EINVAL);
	bad = (struct pprof_label_ref){.key = refs[0].key, .str = refs[0].str, .num = 1};
	CHECK_EQ_U64(pprof_builder__sample_refs(b, &loc, 1, v, &bad, 1), (uint64_t)-EINVAL);
	bad = (struct pprof_label_ref){.key = refs[0].key, .str = -1};
	CHECK_EQ_U64(pprof_builder__sample_refs(b, &loc, 1, v, &bad, 1), (uint64_t)-EINVAL);
	CHECK_EQ_U64(pprof_builder__n_samples(b), 1);
	CHECK(pprof_builder__string(NULL, "x") < 0);

	CHECK_EQ_U64(pprof_builder__encode(b, true, &body), 0);
	p = decode(&body);
	if (p && p->n_sample == 1) {
		CHECK_EQ_U64(p->sample[0]->value[0], 2);
		CHECK_STR(label_str(p, p->sample[0], "pid"), "42");
		CHECK_EQ_U64(p->sample[0]->n_label, 2);
	}
	CHECK(p && p->n_sample == 1);
	if (p)
		perftools__profiles__profile__free_unpacked(p, NULL);
	strbuf__release(&body);
	pprof_builder__free(b);
}

/* Source lines, inlined calls as Lines innermost first, and the mapping flags they set. */
static void test_lines(void)
{
	struct pprof_builder *b = pprof_builder__new(&cpu_opts);
	struct strbuf body = STRBUF_INIT;
	Perftools__Profiles__Profile *p;
	struct pprof_line lines[2];
	uint64_t m_app, m_lib, f_inl, f_outer, f_static1, f_static2, f_lib, loc[3];
	struct pprof_label delta = {.key = "delta", .num = -5};
	int64_t v[2] = {1, 10}, neg[2] = {INT64_MIN, -1};

	CHECK(b != NULL);
	if (!b)
		return;
	m_app = pprof_builder__mapping(b, 0x400000, 0x500000, 0, "/bin/app", "ab", true);
	m_lib = pprof_builder__mapping(b, 0x7f0000, 0x7f1000, 0, "/lib/x.so", "cd", true);
	f_inl = pprof_builder__function(b, "work_unit", "work_unit", "/src/app.c");
	f_outer = pprof_builder__function(b, "hot", "hot", "/src/app.c");
	/* Two static functions of one name in two files are two functions. */
	f_static1 = pprof_builder__function(b, "helper", "helper", "/src/a.c");
	f_static2 = pprof_builder__function(b, "helper", "helper", "/src/b.c");
	f_lib = pprof_builder__function(b, "memcpy", "memcpy", "");
	CHECK(f_static1 && f_static2 && f_static1 != f_static2);
	lines[0] = (struct pprof_line){.function_id = f_inl, .line = 48};
	lines[1] = (struct pprof_line){.function_id = f_outer, .line = 61};
	loc[0] = pprof_builder__location_lines(b, m_app, 0x401000, lines, 2);
	lines[0] = (struct pprof_line){.function_id = f_static2, .line = 7};
	loc[1] = pprof_builder__location_lines(b, m_app, 0x402000, lines, 1);
	loc[2] = pprof_builder__location(b, m_lib, 0x7f0100, f_lib);
	CHECK(loc[0] && loc[1] && loc[2]);
	/* Deduplicated on the address; unknown functions are refused. */
	CHECK_EQ_U64(pprof_builder__location_lines(b, m_app, 0x401000, lines, 1), loc[0]);
	lines[0].function_id = 99;
	CHECK_EQ_U64(pprof_builder__location_lines(b, m_app, 0x403000, lines, 1), 0);
	lines[0].function_id = 0;
	CHECK_EQ_U64(pprof_builder__location_lines(b, m_app, 0x403000, lines, 1), 0);
	CHECK_EQ_U64(pprof_builder__location_lines(b, m_app, 0x403000, NULL, 1), 0);
	CHECK_EQ_U64(pprof_builder__sample(b, loc, 3, v, NULL, 0), 0);
	/* Negative numbers (a difference of profiles) take ten bytes on the wire. */
	CHECK_EQ_U64(pprof_builder__sample(b, loc, 2, neg, &delta, 1), 0);

	CHECK_EQ_U64(pprof_builder__encode(b, true, &body), 0);
	p = decode(&body);
	if (p && p->n_sample == 2) {
		CHECK_EQ_U64(p->sample[1]->value[0], (uint64_t)INT64_MIN);
		CHECK(p->sample[1]->value[1] == -1);
		CHECK(p->sample[1]->n_label == 1 && p->sample[1]->label[0]->num == -5);
	}
	CHECK(p && p->n_sample == 2);
	if (p && p->n_location == 3 && p->n_mapping == 2) {
		const Perftools__Profiles__Location *l = p->location[loc[0] - 1];

		CHECK_EQ_U64(l->n_line, 2);
		if (l->n_line == 2) {
			CHECK_EQ_U64(l->line[0]->function_id, f_inl);
			CHECK_EQ_U64(l->line[0]->line, 48);
			CHECK_EQ_U64(l->line[1]->function_id, f_outer);
			CHECK_EQ_U64(l->line[1]->line, 61);
		}
		l = p->location[loc[1] - 1];
		CHECK(l->n_line == 1 && l->line[0]->line == 7);
		CHECK_STR(str_at(p, p->function[f_static2 - 1]->filename), "/src/b.c");
		CHECK_EQ_U64(p->location[loc[2] - 1]->line[0]->line, 0);
		/* A mapping with line numbers says so; one without does not. */
		CHECK(p->mapping[m_app - 1]->has_line_numbers &&
		      p->mapping[m_app - 1]->has_filenames);
		CHECK(!p->mapping[m_lib - 1]->has_line_numbers);
		CHECK(!p->mapping[m_lib - 1]->has_filenames);
	}
	CHECK(p && p->n_location == 3 && p->n_mapping == 2);
	if (p)
		perftools__profiles__profile__free_unpacked(p, NULL);
	strbuf__release(&body);
	pprof_builder__free(b);
}

/* Strings are remembered by address for speed, but a buffer reused for another string is another.
 */
static void test_string_reuse(void)
{
	struct pprof_builder *b = pprof_builder__new(&cpu_opts);
	char buf[32] = "alpha";
	char bad[8] = "a\xff";
	int64_t alpha, gamma, q;

	CHECK(b != NULL);
	if (!b)
		return;
	alpha = pprof_builder__string(b, buf);
	CHECK(alpha > 0);
	CHECK_EQ_U64(pprof_builder__string(b, buf), alpha);
	strcpy(buf, "gamma");
	gamma = pprof_builder__string(b, buf);
	CHECK(gamma > 0 && gamma != alpha);
	CHECK_EQ_U64(pprof_builder__string(b, "alpha"), alpha);
	/* One byte shorter, same start: still another string. */
	strcpy(buf, "gamm");
	CHECK(pprof_builder__string(b, buf) != gamma);
	strcpy(buf, "gamma");
	CHECK_EQ_U64(pprof_builder__string(b, buf), gamma);
	/* Sanitized strings are found again, from any address. */
	q = pprof_builder__string(b, bad);
	CHECK(q > 0);
	CHECK_EQ_U64(pprof_builder__string(b, bad), q);
	CHECK_EQ_U64(pprof_builder__string(b, "a?"), q);
	pprof_builder__free(b);
}

int main(void)
{
	test_args();
	test_label_refs();
	test_string_reuse();
	test_lines();
	test_round_trip();
	test_plain();
	test_empty();
	test_corrupt();
	test_many();
	return test__finish("test_pprof");
}
