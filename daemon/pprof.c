// SPDX-License-Identifier: GPL-2.0
/*
 * pprof builder and encoder.
 *
 * The builder keeps compact records (string indices, ids) and deduplicates
 * them through open addressing tables; the encoder writes the protobuf wire
 * format from them directly (protobuf-c only decodes, in tests).
 */
#define ZLIB_CONST
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>
#include <zlib.h>

#include "pprof.h"

/* Index tables keep index + 1 in 32 bits and place entries with 32 hash bits. */
#define PPROF_MAX_ENTRIES  ((size_t)INT32_MAX)
#define PPROF_ARENA_BLOCK  (64 * 1024)
#define PPROF_GUNZIP_MAX   ((size_t)1 << 30)
#define PPROF_ZLIB_CHUNK   ((size_t)1 << 30) /* avail_in/avail_out are 32 bits */
#define PPROF_ZLIB_MIN_OUT ((size_t)4096)
#define PPROF_MEMO_BITS	   11

struct index_table {
	uint64_t *slots; /* hash >> 32 in the high half, index + 1 in the low; 0: free */
	size_t mask;
	size_t used;
};

struct arena_block {
	struct arena_block *next;
	size_t used;
	size_t size;
	char data[];
};

struct pp_value_type {
	int64_t type;
	int64_t unit;
};

struct pp_mapping {
	uint64_t start;
	uint64_t limit;
	uint64_t offset;
	int64_t filename;
	int64_t build_id;
	bool has_functions;
};

struct pp_function {
	int64_t name;
	int64_t system_name;
	int64_t filename;
};

struct pp_location {
	uint64_t mapping_id;
	uint64_t address;
	size_t line_off; /* into lines */
	uint32_t n_lines;
};

/* A location being looked up: the first Line's function tells mapping-less ones apart. */
struct location_key {
	uint64_t mapping_id;
	uint64_t address;
	uint64_t function_id; /* 0: no Line */
};

/* Labels are kept as struct pprof_label_ref: four int64s, no padding, compared with memcmp(). */
_Static_assert(sizeof(struct pprof_label_ref) == 4 * sizeof(int64_t), "pprof_label_ref is padded");

struct pp_sample {
	size_t loc_off;	  /* into location_ids */
	size_t label_off; /* into labels */
	uint32_t n_locs;
	uint32_t n_labels;
};

/* A sample being looked up: its labels are staged past the end of the pool. */
struct sample_key {
	const uint64_t *locs;
	size_t n_locs;
	const struct pprof_label_ref *labels;
	size_t n_labels;
};

struct str_key {
	const char *s;
	size_t len;
};

struct pprof_builder {
	struct pp_value_type *sample_types;
	size_t n_sample_types;
	struct pp_value_type period_type;
	bool has_period_type;
	int64_t period;
	int64_t time_nanos;
	int64_t duration_nanos;
	int64_t default_sample_type;

	struct arena_block *arena;
	char **strs; /* strs[0] is "" and is never in str_index */
	size_t n_strs, cap_strs;
	struct index_table str_index;
	/*
	 * The index last returned for a string at an address, checked against
	 * the string before use: callers pass the same names and paths (the
	 * symbolizer's) for many frames, and comparing is cheaper than hashing.
	 */
	struct intern_memo {
		const char *s;
		int64_t index;
	} * memo;

	struct pp_mapping *mappings;
	size_t n_mappings, cap_mappings;
	struct index_table mapping_index;

	struct pp_function *functions;
	size_t n_functions, cap_functions;
	struct index_table function_index;

	struct pp_location *locations;
	size_t n_locations, cap_locations;
	struct index_table location_index;
	struct pprof_line *lines; /* every location's Lines, one run each */
	size_t n_lines, cap_lines;

	struct pp_sample *samples;
	size_t n_samples, cap_samples;
	struct index_table sample_index;
	uint64_t *location_ids;
	size_t n_location_ids, cap_location_ids;
	struct pprof_label_ref *labels;
	size_t n_labels, cap_labels;
	int64_t *values; /* n_sample_types per sample */
	size_t cap_values;
};

typedef bool (*index_eq_fn)(const struct pprof_builder *b, size_t index, const void *key);

/* Order-dependent combine, then a full avalanche (equal h and v must not cancel). */
static uint64_t hash_u64(uint64_t h, uint64_t v)
{
	h = h * 0x9e3779b97f4a7c15ull + v;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 32;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	return h;
}

static uint64_t hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = hash_u64(0x243f6a8885a308d3ull, len);
	uint64_t w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = hash_u64(h, w);
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		h = hash_u64(h, w);
	}
	return h;
}

static int index_table__grow(struct index_table *t)
{
	size_t size = t->slots ? (t->mask + 1) * 2 : 64;
	uint64_t *slots;

	/* Slots are placed with 32 bits of hash. */
	if (size > ((size_t)1 << 32))
		return -ENOMEM;
	slots = calloc(size, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; t->slots && i <= t->mask; i++) {
		uint64_t v = t->slots[i];
		size_t pos;

		if (!v)
			continue;
		pos = (v >> 32) & (size - 1);
		while (slots[pos])
			pos = (pos + 1) & (size - 1);
		slots[pos] = v;
	}
	free(t->slots);
	t->slots = slots;
	t->mask = size - 1;
	return 0;
}

/*
 * Returns the slot that holds key, or the free slot where it belongs (room for
 * one insertion is made first); NULL when the table cannot grow.
 */
static uint64_t *index_table__find(struct index_table *t, uint64_t hash, index_eq_fn eq,
				   const struct pprof_builder *b, const void *key)
{
	uint32_t tag = hash >> 32;
	size_t pos;

	if (!t->slots || (t->used + 1) * 2 > t->mask + 1) {
		if (index_table__grow(t))
			return NULL;
	}
	for (pos = tag & t->mask;; pos = (pos + 1) & t->mask) {
		uint64_t v = t->slots[pos];

		if (!v)
			return &t->slots[pos];
		if ((uint32_t)(v >> 32) == tag && eq(b, (uint32_t)v - 1, key))
			return &t->slots[pos];
	}
}

static size_t index_table__index(const uint64_t *slot)
{
	return (uint32_t)*slot - 1;
}

static void index_table__insert(struct index_table *t, uint64_t *slot, uint64_t hash, size_t index)
{
	*slot = (hash >> 32) << 32 | (uint64_t)(index + 1);
	t->used++;
}

static void index_table__free(struct index_table *t)
{
	free(t->slots);
}

/* Room for n more elements after len; returns the (maybe moved) array or NULL. */
static void *array_grow(void *arr, size_t *cap, size_t len, size_t n, size_t elem)
{
	size_t need, new_cap;
	void *p;

	if (n > SIZE_MAX - len)
		return NULL;
	need = len + n;
	if (arr && need <= *cap)
		return arr;
	new_cap = *cap ? *cap : 16;
	while (new_cap < need)
		new_cap = new_cap > SIZE_MAX / 2 ? need : new_cap * 2;
	if (new_cap > SIZE_MAX / elem)
		return NULL;
	p = realloc(arr, new_cap * elem);
	if (!p)
		return NULL;
	*cap = new_cap;
	return p;
}

/* Copies len bytes and a NUL into the string arena. */
static char *arena_copy(struct pprof_builder *b, const char *s, size_t len)
{
	struct arena_block *blk = b->arena;
	size_t need = len + 1;
	char *p;

	if (!blk || blk->size - blk->used < need) {
		size_t size = need > PPROF_ARENA_BLOCK / 4 ? need : PPROF_ARENA_BLOCK;

		if (size > SIZE_MAX - sizeof(*blk))
			return NULL;
		blk = malloc(sizeof(*blk) + size);
		if (!blk)
			return NULL;
		blk->used = 0;
		blk->size = size;
		if (size != PPROF_ARENA_BLOCK && b->arena) {
			/* A big string: keep filling the current block. */
			blk->next = b->arena->next;
			b->arena->next = blk;
		} else {
			blk->next = b->arena;
			b->arena = blk;
		}
	}
	p = blk->data + blk->used;
	memcpy(p, s, len);
	p[len] = '\0';
	blk->used += need;
	return p;
}

/* Length of the valid UTF-8 sequence starting at s (n bytes left), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c < 0xc2) /* a continuation byte, or an overlong 2-byte form */
		return 0;
	if (c < 0xe0)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0) /* overlong */
			return 0;
		if (c == 0xed && s[1] >= 0xa0) /* UTF-16 surrogates */
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90) /* overlong */
			return 0;
		if (c == 0xf4 && s[1] >= 0x90) /* beyond U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

static bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	/* Names and paths are nearly always ASCII: eight bytes at a time while they are. */
	for (uint64_t w; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		if (w & 0x8080808080808080ull)
			break;
	}
	while (i < len && p[i] < 0x80)
		i++;
	while (i < len) {
		size_t n = utf8_seq_len(p + i, len - i);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* Copies s (len bytes) into dst, each byte of an invalid sequence becoming '?'. */
static void utf8_sanitize(char *dst, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq_len(p + i, len - i);

		if (n) {
			memcpy(dst + i, s + i, n);
			i += n;
		} else {
			dst[i++] = '?';
		}
	}
	dst[len] = '\0';
}

static bool str_eq(const struct pprof_builder *b, size_t index, const void *key)
{
	const struct str_key *k = key;
	const char *s = b->strs[index];

	/* k->s holds no NUL, so strncmp() stops within s. */
	return strncmp(s, k->s, k->len) == 0 && s[k->len] == '\0';
}

/* The string's index in the table, or -ENOMEM. NULL stands for "". */
static int64_t intern(struct pprof_builder *b, const char *s)
{
	struct str_key key;
	char *tmp = NULL, **strs, *copy;
	struct intern_memo *memo;
	uint64_t hash, *slot;
	int64_t ret = -ENOMEM;

	if (!s || !*s)
		return 0;
	memo = &b->memo[((uintptr_t)s * 0x9e3779b97f4a7c15ull) >> (64 - PPROF_MEMO_BITS)];
	if (memo->s == s && strcmp(b->strs[memo->index], s) == 0)
		return memo->index;
	key.len = strlen(s);
	key.s = s;
	if (!utf8_valid(s, key.len)) {
		tmp = malloc(key.len + 1);
		if (!tmp)
			return -ENOMEM;
		utf8_sanitize(tmp, s, key.len);
		key.s = tmp;
	}
	hash = hash_bytes(key.s, key.len);
	slot = index_table__find(&b->str_index, hash, str_eq, b, &key);
	if (!slot)
		goto out_free_tmp;
	if (*slot) {
		ret = (int64_t)index_table__index(slot);
		goto out_memo;
	}
	if (b->n_strs >= PPROF_MAX_ENTRIES)
		goto out_free_tmp;
	strs = array_grow(b->strs, &b->cap_strs, b->n_strs, 1, sizeof(*b->strs));
	if (!strs)
		goto out_free_tmp;
	b->strs = strs;
	copy = arena_copy(b, key.s, key.len);
	if (!copy)
		goto out_free_tmp;
	b->strs[b->n_strs] = copy;
	index_table__insert(&b->str_index, slot, hash, b->n_strs);
	ret = (int64_t)b->n_strs++;
out_memo:
	memo->s = s;
	memo->index = ret;
out_free_tmp:
	free(tmp);
	return ret;
}

static int intern_value_type(struct pprof_builder *b, const struct pprof_value_type *vt,
			     struct pp_value_type *out)
{
	int64_t type = intern(b, vt->type), unit = intern(b, vt->unit);

	if (type < 0 || unit < 0)
		return -ENOMEM;
	out->type = type;
	out->unit = unit;
	return 0;
}

struct pprof_builder *pprof_builder__new(const struct pprof_opts *opts)
{
	struct pprof_builder *b;
	int64_t idx;

	if (!opts || !opts->sample_types || !opts->n_sample_types ||
	    opts->n_sample_types > SIZE_MAX / sizeof(*b->sample_types)) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->memo = calloc((size_t)1 << PPROF_MEMO_BITS, sizeof(*b->memo));
	if (!b->memo)
		goto err_free_builder;
	b->strs = array_grow(NULL, &b->cap_strs, 0, 1, sizeof(*b->strs));
	if (!b->strs)
		goto err_free_builder;
	b->strs[0] = arena_copy(b, "", 0);
	if (!b->strs[0])
		goto err_free_builder;
	b->n_strs = 1;

	b->sample_types = calloc(opts->n_sample_types, sizeof(*b->sample_types));
	if (!b->sample_types)
		goto err_free_builder;
	b->n_sample_types = opts->n_sample_types;
	for (size_t i = 0; i < opts->n_sample_types; i++) {
		if (intern_value_type(b, &opts->sample_types[i], &b->sample_types[i]))
			goto err_free_builder;
	}
	if (opts->period_type.type || opts->period_type.unit) {
		if (intern_value_type(b, &opts->period_type, &b->period_type))
			goto err_free_builder;
		b->has_period_type = true;
	}
	if (opts->default_sample_type) {
		idx = intern(b, opts->default_sample_type);
		if (idx < 0)
			goto err_free_builder;
		b->default_sample_type = idx;
	}
	b->period = opts->period;
	b->time_nanos = opts->time_nanos;
	b->duration_nanos = opts->duration_nanos;
	return b;

err_free_builder:
	pprof_builder__free(b);
	errno = ENOMEM;
	return NULL;
}

void pprof_builder__free(struct pprof_builder *b)
{
	struct arena_block *blk, *next;

	if (!b)
		return;
	for (blk = b->arena; blk; blk = next) {
		next = blk->next;
		free(blk);
	}
	free(b->strs);
	free(b->memo);
	index_table__free(&b->str_index);
	free(b->mappings);
	index_table__free(&b->mapping_index);
	free(b->functions);
	index_table__free(&b->function_index);
	free(b->locations);
	index_table__free(&b->location_index);
	free(b->lines);
	free(b->samples);
	index_table__free(&b->sample_index);
	free(b->location_ids);
	free(b->labels);
	free(b->values);
	free(b->sample_types);
	free(b);
}

static bool mapping_eq(const struct pprof_builder *b, size_t index, const void *key)
{
	const struct pp_mapping *m = &b->mappings[index], *k = key;

	return m->start == k->start && m->limit == k->limit && m->offset == k->offset &&
	       m->filename == k->filename && m->build_id == k->build_id &&
	       m->has_functions == k->has_functions;
}

uint64_t pprof_builder__mapping(struct pprof_builder *b, uint64_t start, uint64_t limit,
				uint64_t file_offset, const char *filename, const char *build_id,
				bool has_functions)
{
	struct pp_mapping key = {
		.start = start,
		.limit = limit,
		.offset = file_offset,
		.has_functions = has_functions,
	};
	struct pp_mapping *mappings;
	uint64_t hash, *slot;

	if (!b)
		return 0;
	key.filename = intern(b, filename);
	key.build_id = intern(b, build_id);
	if (key.filename < 0 || key.build_id < 0)
		return 0;
	hash = hash_u64(hash_u64(hash_u64(start, limit), file_offset), (uint64_t)key.filename);
	hash = hash_u64(hash_u64(hash, (uint64_t)key.build_id), has_functions);
	slot = index_table__find(&b->mapping_index, hash, mapping_eq, b, &key);
	if (!slot)
		return 0;
	if (*slot)
		return index_table__index(slot) + 1;
	if (b->n_mappings >= PPROF_MAX_ENTRIES)
		return 0;
	mappings = array_grow(b->mappings, &b->cap_mappings, b->n_mappings, 1, sizeof(*mappings));
	if (!mappings)
		return 0;
	b->mappings = mappings;
	b->mappings[b->n_mappings] = key;
	index_table__insert(&b->mapping_index, slot, hash, b->n_mappings);
	return ++b->n_mappings;
}

static bool function_eq(const struct pprof_builder *b, size_t index, const void *key)
{
	const struct pp_function *f = &b->functions[index], *k = key;

	return f->name == k->name && f->system_name == k->system_name && f->filename == k->filename;
}

uint64_t pprof_builder__function(struct pprof_builder *b, const char *name, const char *system_name,
				 const char *filename)
{
	struct pp_function key, *functions;
	uint64_t hash, *slot;

	if (!b)
		return 0;
	key.name = intern(b, name);
	key.system_name = intern(b, system_name);
	key.filename = intern(b, filename);
	if (key.name < 0 || key.system_name < 0 || key.filename < 0)
		return 0;
	hash = hash_u64(hash_u64((uint64_t)key.name, (uint64_t)key.system_name),
			(uint64_t)key.filename);
	slot = index_table__find(&b->function_index, hash, function_eq, b, &key);
	if (!slot)
		return 0;
	if (*slot)
		return index_table__index(slot) + 1;
	if (b->n_functions >= PPROF_MAX_ENTRIES)
		return 0;
	functions =
		array_grow(b->functions, &b->cap_functions, b->n_functions, 1, sizeof(*functions));
	if (!functions)
		return 0;
	b->functions = functions;
	b->functions[b->n_functions] = key;
	index_table__insert(&b->function_index, slot, hash, b->n_functions);
	return ++b->n_functions;
}

static bool location_eq(const struct pprof_builder *b, size_t index, const void *key)
{
	const struct pp_location *l = &b->locations[index];
	const struct location_key *k = key;
	uint64_t fn = l->n_lines ? b->lines[l->line_off].function_id : 0;

	/* Without a mapping the address names no code: the function tells locations apart. */
	return l->mapping_id == k->mapping_id && l->address == k->address &&
	       (k->mapping_id || fn == k->function_id);
}

uint64_t pprof_builder__location_lines(struct pprof_builder *b, uint64_t mapping_id,
				       uint64_t address, const struct pprof_line *lines,
				       size_t n_lines)
{
	struct location_key key = {.mapping_id = mapping_id, .address = address};
	struct pp_location *locations;
	struct pprof_line *pool;
	uint64_t hash, *slot;

	/* Unknown ids would make consumers reject the whole profile. */
	if (!b || mapping_id > b->n_mappings || (n_lines && !lines) || n_lines > UINT32_MAX)
		return 0;
	key.function_id = n_lines ? lines[0].function_id : 0;
	for (size_t i = 0; i < n_lines; i++)
		if (!lines[i].function_id || lines[i].function_id > b->n_functions)
			return 0;
	hash = hash_u64(hash_u64(0x9e3779b97f4a7c15ull, mapping_id), address);
	if (!mapping_id)
		hash = hash_u64(hash, key.function_id);
	slot = index_table__find(&b->location_index, hash, location_eq, b, &key);
	if (!slot)
		return 0;
	if (*slot)
		return index_table__index(slot) + 1;
	if (b->n_locations >= PPROF_MAX_ENTRIES)
		return 0;
	locations =
		array_grow(b->locations, &b->cap_locations, b->n_locations, 1, sizeof(*locations));
	if (!locations)
		return 0;
	b->locations = locations;
	pool = array_grow(b->lines, &b->cap_lines, b->n_lines, n_lines, sizeof(*pool));
	if (!pool)
		return 0;
	b->lines = pool;
	if (n_lines)
		memcpy(b->lines + b->n_lines, lines, n_lines * sizeof(*lines));
	b->locations[b->n_locations] = (struct pp_location){
		.mapping_id = mapping_id,
		.address = address,
		.line_off = b->n_lines,
		.n_lines = (uint32_t)n_lines,
	};
	b->n_lines += n_lines;
	index_table__insert(&b->location_index, slot, hash, b->n_locations);
	return ++b->n_locations;
}

uint64_t pprof_builder__location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
				 uint64_t function_id)
{
	struct pprof_line line = {.function_id = function_id};

	return pprof_builder__location_lines(b, mapping_id, address, &line, function_id ? 1 : 0);
}

static bool sample_eq(const struct pprof_builder *b, size_t index, const void *key)
{
	const struct pp_sample *s = &b->samples[index];
	const struct sample_key *k = key;

	if (s->n_locs != k->n_locs || s->n_labels != k->n_labels)
		return false;
	if (k->n_locs &&
	    memcmp(b->location_ids + s->loc_off, k->locs, k->n_locs * sizeof(*k->locs)))
		return false;
	if (k->n_labels &&
	    memcmp(b->labels + s->label_off, k->labels, k->n_labels * sizeof(*k->labels)))
		return false;
	return true;
}

static uint64_t hash_sample(const struct sample_key *k)
{
	uint64_t h = hash_u64(k->n_locs, k->n_labels);

	for (size_t i = 0; i < k->n_locs; i++)
		h = hash_u64(h, k->locs[i]);
	for (size_t i = 0; i < k->n_labels; i++) {
		const struct pprof_label_ref *l = &k->labels[i];

		h = hash_u64(hash_u64(h, (uint64_t)l->key), (uint64_t)l->str);
		h = hash_u64(hash_u64(h, (uint64_t)l->num), (uint64_t)l->num_unit);
	}
	return h;
}

static int64_t add_saturating(int64_t a, int64_t v)
{
	int64_t r;

	if (__builtin_add_overflow(a, v, &r))
		return v > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* Interns the labels into the pool's spare room past n_labels. */
static int stage_labels(struct pprof_builder *b, const struct pprof_label *labels, size_t n)
{
	struct pprof_label_ref *pool, *l;
	int64_t key, str, unit;

	if (!n)
		return 0;
	pool = array_grow(b->labels, &b->cap_labels, b->n_labels, n, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	b->labels = pool;
	for (size_t i = 0; i < n; i++) {
		l = &b->labels[b->n_labels + i];
		if (!labels[i].key)
			return -EINVAL;
		key = intern(b, labels[i].key);
		if (key < 0)
			return (int)key;
		l->key = key;
		if (labels[i].str) {
			/* Never both: a string label carries no number. */
			str = intern(b, labels[i].str);
			if (str < 0)
				return (int)str;
			l->str = str;
			l->num = 0;
			l->num_unit = 0;
		} else {
			unit = intern(b, labels[i].num_unit);
			if (unit < 0)
				return (int)unit;
			l->str = 0;
			l->num = labels[i].num;
			l->num_unit = unit;
		}
	}
	return 0;
}

int64_t pprof_builder__string(struct pprof_builder *b, const char *s)
{
	return b ? intern(b, s) : -EINVAL;
}

/*
 * Adds a sample whose n_labels labels are staged in the pool's spare room
 * past n_labels (they are kept only if the sample is new).
 */
static int add_sample(struct pprof_builder *b, const uint64_t *location_ids, size_t n_locations,
		      const int64_t *values, size_t n_labels)
{
	struct sample_key key = {
		.locs = location_ids,
		.n_locs = n_locations,
		.n_labels = n_labels,
		.labels = b->labels ? b->labels + b->n_labels : NULL,
	};
	size_t nv = b->n_sample_types, value_off;
	struct pp_sample *samples;
	uint64_t hash, *slot, *ids;
	int64_t *vals;

	hash = hash_sample(&key);
	slot = index_table__find(&b->sample_index, hash, sample_eq, b, &key);
	if (!slot)
		return -ENOMEM;
	if (*slot) {
		vals = b->values + index_table__index(slot) * nv;
		for (size_t i = 0; i < nv; i++)
			vals[i] = add_saturating(vals[i], values[i]);
		return 0;
	}
	if (b->n_samples >= PPROF_MAX_ENTRIES)
		return -ENOMEM;
	if (n_locations) {
		ids = array_grow(b->location_ids, &b->cap_location_ids, b->n_location_ids,
				 n_locations, sizeof(*ids));
		if (!ids)
			return -ENOMEM;
		b->location_ids = ids;
	}
	/* n_samples * nv cannot overflow: it indexes memory already allocated. */
	value_off = b->n_samples * nv;
	vals = array_grow(b->values, &b->cap_values, value_off, nv, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	b->values = vals;
	samples = array_grow(b->samples, &b->cap_samples, b->n_samples, 1, sizeof(*samples));
	if (!samples)
		return -ENOMEM;
	b->samples = samples;

	if (n_locations)
		memcpy(b->location_ids + b->n_location_ids, location_ids,
		       n_locations * sizeof(*location_ids));
	memcpy(b->values + value_off, values, nv * sizeof(*values));
	b->samples[b->n_samples] = (struct pp_sample){
		.loc_off = b->n_location_ids,
		.label_off = b->n_labels,
		.n_locs = (uint32_t)n_locations,
		.n_labels = (uint32_t)n_labels,
	};
	b->n_location_ids += n_locations;
	b->n_labels += n_labels;
	index_table__insert(&b->sample_index, slot, hash, b->n_samples);
	b->n_samples++;
	return 0;
}

static int check_sample(const struct pprof_builder *b, const uint64_t *location_ids,
			size_t n_locations, const int64_t *values, const void *labels,
			size_t n_labels)
{
	if (!b || !values || (n_locations && !location_ids) || (n_labels && !labels))
		return -EINVAL;
	if (n_locations > UINT32_MAX || n_labels > UINT32_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n_locations; i++) {
		if (!location_ids[i] || location_ids[i] > b->n_locations)
			return -EINVAL;
	}
	return 0;
}

int pprof_builder__sample(struct pprof_builder *b, const uint64_t *location_ids, size_t n_locations,
			  const int64_t *values, const struct pprof_label *labels, size_t n_labels)
{
	int err = check_sample(b, location_ids, n_locations, values, labels, n_labels);

	if (!err)
		err = stage_labels(b, labels, n_labels);
	return err ? err : add_sample(b, location_ids, n_locations, values, n_labels);
}

int pprof_builder__sample_refs(struct pprof_builder *b, const uint64_t *location_ids,
			       size_t n_locations, const int64_t *values,
			       const struct pprof_label_ref *labels, size_t n_labels)
{
	struct pprof_label_ref *pool;
	int err = check_sample(b, location_ids, n_locations, values, labels, n_labels);

	if (err)
		return err;
	for (size_t i = 0; i < n_labels; i++) {
		const struct pprof_label_ref *l = &labels[i];

		/* Indices into the string table, and never both a string and a number. */
		if (l->key <= 0 || (size_t)l->key >= b->n_strs || l->str < 0 ||
		    (size_t)l->str >= b->n_strs || l->num_unit < 0 ||
		    (size_t)l->num_unit >= b->n_strs || (l->str && (l->num || l->num_unit)))
			return -EINVAL;
	}
	if (n_labels) {
		pool = array_grow(b->labels, &b->cap_labels, b->n_labels, n_labels, sizeof(*pool));
		if (!pool)
			return -ENOMEM;
		b->labels = pool;
		memcpy(b->labels + b->n_labels, labels, n_labels * sizeof(*labels));
	}
	return add_sample(b, location_ids, n_locations, values, n_labels);
}

size_t pprof_builder__n_samples(const struct pprof_builder *b)
{
	return b ? b->n_samples : 0;
}

/*
 * The encoder writes profile.proto's wire format straight from the
 * builder's arrays: sizes first (each sample's kept, the rest recomputed,
 * which is cheap), then the bytes into one buffer of exactly that size.
 * Fields go in field-number order and proto3 scalars equal to zero are left
 * out, as protobuf-c packs them, so that the two agree byte for byte (the
 * tests check it); building protobuf-c's structs for every message and
 * packing them took a third of a history query.
 */
enum { WT_VARINT = 0, WT_LEN = 2 };

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Every field number is below 16: its key is one byte. */
static uint8_t *put_key(uint8_t *p, unsigned int field, unsigned int wire_type)
{
	*p++ = (uint8_t)(field << 3 | wire_type);
	return p;
}

/* A scalar field: left out when zero (proto3). */
static size_t scalar_size(uint64_t v)
{
	return v ? 1 + varint_size(v) : 0;
}

static uint8_t *put_scalar(uint8_t *p, unsigned int field, uint64_t v)
{
	return v ? put_varint(put_key(p, field, WT_VARINT), v) : p;
}

/* A length-delimited field of len bytes, without its content. */
static size_t len_field_size(size_t len)
{
	return 1 + varint_size(len) + len;
}

static uint8_t *put_len_key(uint8_t *p, unsigned int field, size_t len)
{
	return put_varint(put_key(p, field, WT_LEN), len);
}

static size_t value_type_size(const struct pp_value_type *vt)
{
	return scalar_size((uint64_t)vt->type) + scalar_size((uint64_t)vt->unit);
}

static uint8_t *put_value_type(uint8_t *p, unsigned int field, const struct pp_value_type *vt)
{
	p = put_len_key(p, field, value_type_size(vt));
	p = put_scalar(p, 1, (uint64_t)vt->type);
	return put_scalar(p, 2, (uint64_t)vt->unit);
}

static size_t label_size(const struct pprof_label_ref *l)
{
	return scalar_size((uint64_t)l->key) + scalar_size((uint64_t)l->str) +
	       scalar_size((uint64_t)l->num) + scalar_size((uint64_t)l->num_unit);
}

/* The packed repeated fields of a sample: the bytes of its ids, then of its values. */
static size_t ids_size(const uint64_t *ids, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += varint_size(ids[i]);
	return len;
}

static size_t values_size(const int64_t *v, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += varint_size((uint64_t)v[i]);
	return len;
}

static size_t sample_size(const struct pprof_builder *b, size_t i)
{
	const struct pp_sample *s = &b->samples[i];
	size_t n = 0, len;

	len = ids_size(b->location_ids + s->loc_off, s->n_locs);
	if (s->n_locs)
		n += len_field_size(len);
	len = values_size(b->values + i * b->n_sample_types, b->n_sample_types);
	n += len_field_size(len); /* n_sample_types is never 0 */
	for (uint32_t j = 0; j < s->n_labels; j++)
		n += len_field_size(label_size(&b->labels[s->label_off + j]));
	return n;
}

static uint8_t *put_sample(uint8_t *p, const struct pprof_builder *b, size_t i, size_t size)
{
	const struct pp_sample *s = &b->samples[i];
	const uint64_t *ids = b->location_ids + s->loc_off;
	const int64_t *v = b->values + i * b->n_sample_types;

	p = put_len_key(p, 2, size);
	if (s->n_locs) {
		p = put_len_key(p, 1, ids_size(ids, s->n_locs));
		for (uint32_t j = 0; j < s->n_locs; j++)
			p = put_varint(p, ids[j]);
	}
	p = put_len_key(p, 2, values_size(v, b->n_sample_types));
	for (size_t j = 0; j < b->n_sample_types; j++)
		p = put_varint(p, (uint64_t)v[j]);
	for (uint32_t j = 0; j < s->n_labels; j++) {
		const struct pprof_label_ref *l = &b->labels[s->label_off + j];

		p = put_len_key(p, 3, label_size(l));
		p = put_scalar(p, 1, (uint64_t)l->key);
		p = put_scalar(p, 2, (uint64_t)l->str);
		p = put_scalar(p, 3, (uint64_t)l->num);
		p = put_scalar(p, 4, (uint64_t)l->num_unit);
	}
	return p;
}

/* Mapping flags: bit 0 has_functions, bit 1 has_filenames and has_line_numbers. */
static size_t mapping_size(const struct pp_mapping *m, size_t id, uint8_t flags)
{
	return scalar_size(id) + scalar_size(m->start) + scalar_size(m->limit) +
	       scalar_size(m->offset) + scalar_size((uint64_t)m->filename) +
	       scalar_size((uint64_t)m->build_id) + scalar_size(flags & 1) +
	       2 * scalar_size((flags >> 1) & 1);
}

static uint8_t *put_mapping(uint8_t *p, const struct pp_mapping *m, size_t id, uint8_t flags)
{
	p = put_len_key(p, 3, mapping_size(m, id, flags));
	p = put_scalar(p, 1, id);
	p = put_scalar(p, 2, m->start);
	p = put_scalar(p, 3, m->limit);
	p = put_scalar(p, 4, m->offset);
	p = put_scalar(p, 5, (uint64_t)m->filename);
	p = put_scalar(p, 6, (uint64_t)m->build_id);
	p = put_scalar(p, 7, flags & 1);
	p = put_scalar(p, 8, (flags >> 1) & 1);
	return put_scalar(p, 9, (flags >> 1) & 1);
}

static size_t line_size(const struct pprof_line *l)
{
	return scalar_size(l->function_id) + scalar_size((uint64_t)l->line);
}

static size_t location_size(const struct pprof_builder *b, size_t i)
{
	const struct pp_location *l = &b->locations[i];
	size_t n = scalar_size(i + 1) + scalar_size(l->mapping_id) + scalar_size(l->address);

	for (uint32_t j = 0; j < l->n_lines; j++)
		n += len_field_size(line_size(&b->lines[l->line_off + j]));
	return n;
}

static uint8_t *put_location(uint8_t *p, const struct pprof_builder *b, size_t i)
{
	const struct pp_location *l = &b->locations[i];

	p = put_len_key(p, 4, location_size(b, i));
	p = put_scalar(p, 1, i + 1);
	p = put_scalar(p, 2, l->mapping_id);
	p = put_scalar(p, 3, l->address);
	for (uint32_t j = 0; j < l->n_lines; j++) {
		const struct pprof_line *line = &b->lines[l->line_off + j];

		p = put_len_key(p, 4, line_size(line));
		p = put_scalar(p, 1, line->function_id);
		p = put_scalar(p, 2, (uint64_t)line->line);
	}
	return p;
}

static size_t function_size(const struct pp_function *f, size_t id)
{
	return scalar_size(id) + scalar_size((uint64_t)f->name) +
	       scalar_size((uint64_t)f->system_name) + scalar_size((uint64_t)f->filename);
}

static uint8_t *put_function(uint8_t *p, const struct pp_function *f, size_t id)
{
	p = put_len_key(p, 5, function_size(f, id));
	p = put_scalar(p, 1, id);
	p = put_scalar(p, 2, (uint64_t)f->name);
	p = put_scalar(p, 3, (uint64_t)f->system_name);
	return put_scalar(p, 4, (uint64_t)f->filename);
}

/*
 * The mappings' flags: has_functions as built; has_filenames and
 * has_line_numbers when one of its locations has a line number, so that
 * pprof does not symbolize it again.
 */
static void mapping_flags(const struct pprof_builder *b, uint8_t *flags)
{
	for (size_t i = 0; i < b->n_mappings; i++)
		flags[i] = b->mappings[i].has_functions ? 1 : 0;
	for (size_t i = 0; i < b->n_locations; i++) {
		const struct pp_location *l = &b->locations[i];

		for (uint32_t j = 0; j < l->n_lines && l->mapping_id; j++) {
			if (b->lines[l->line_off + j].line > 0) {
				flags[l->mapping_id - 1] |= 2;
				break;
			}
		}
	}
}

/* The encoded profile, in a malloc'd buffer of *size bytes. 0 or -ENOMEM. */
static int pb_encode(const struct pprof_builder *b, uint8_t **out, size_t *size)
{
	size_t total = 0, *sample_sizes;
	uint8_t *flags, *buf, *p;
	int err = -ENOMEM;

	sample_sizes = malloc((b->n_samples ? b->n_samples : 1) * sizeof(*sample_sizes));
	if (!sample_sizes)
		return -ENOMEM;
	flags = malloc(b->n_mappings ? b->n_mappings : 1);
	if (!flags)
		goto out_free_sizes;
	mapping_flags(b, flags);

	for (size_t i = 0; i < b->n_sample_types; i++)
		total += len_field_size(value_type_size(&b->sample_types[i]));
	for (size_t i = 0; i < b->n_samples; i++) {
		sample_sizes[i] = sample_size(b, i);
		total += len_field_size(sample_sizes[i]);
	}
	for (size_t i = 0; i < b->n_mappings; i++)
		total += len_field_size(mapping_size(&b->mappings[i], i + 1, flags[i]));
	for (size_t i = 0; i < b->n_locations; i++)
		total += len_field_size(location_size(b, i));
	for (size_t i = 0; i < b->n_functions; i++)
		total += len_field_size(function_size(&b->functions[i], i + 1));
	for (size_t i = 0; i < b->n_strs; i++)
		total += len_field_size(strlen(b->strs[i]));
	total += scalar_size((uint64_t)b->time_nanos) + scalar_size((uint64_t)b->duration_nanos);
	if (b->has_period_type)
		total += len_field_size(value_type_size(&b->period_type));
	total += scalar_size((uint64_t)b->period) + scalar_size((uint64_t)b->default_sample_type);

	buf = malloc(total ? total : 1);
	if (!buf)
		goto out_free_flags;
	p = buf;
	for (size_t i = 0; i < b->n_sample_types; i++)
		p = put_value_type(p, 1, &b->sample_types[i]);
	for (size_t i = 0; i < b->n_samples; i++)
		p = put_sample(p, b, i, sample_sizes[i]);
	for (size_t i = 0; i < b->n_mappings; i++)
		p = put_mapping(p, &b->mappings[i], i + 1, flags[i]);
	for (size_t i = 0; i < b->n_locations; i++)
		p = put_location(p, b, i);
	for (size_t i = 0; i < b->n_functions; i++)
		p = put_function(p, &b->functions[i], i + 1);
	for (size_t i = 0; i < b->n_strs; i++) {
		size_t len = strlen(b->strs[i]);

		p = put_len_key(p, 6, len);
		memcpy(p, b->strs[i], len);
		p += len;
	}
	p = put_scalar(p, 9, (uint64_t)b->time_nanos);
	p = put_scalar(p, 10, (uint64_t)b->duration_nanos);
	if (b->has_period_type)
		p = put_value_type(p, 11, &b->period_type);
	p = put_scalar(p, 12, (uint64_t)b->period);
	p = put_scalar(p, 14, (uint64_t)b->default_sample_type);
	if ((size_t)(p - buf) != total) {
		/* The two passes disagree: never hand out a corrupt profile. */
		free(buf);
		err = -EPROTO;
		goto out_free_flags;
	}
	*out = buf;
	*size = total;
	err = 0;
out_free_flags:
	free(flags);
out_free_sizes:
	free(sample_sizes);
	return err;
}

static int zlib_err(int ret)
{
	return ret == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
}

/*
 * Makes room past pos (bytes already written beyond out->len) for more output,
 * without letting the total written exceed max. Returns the room or 0 on ENOMEM.
 */
static size_t out_room(struct strbuf *out, size_t pos, size_t max)
{
	size_t written = pos - out->len, extra;

	if (out->buf && out->cap - 1 > pos)
		return out->cap - 1 - pos;
	extra = written > PPROF_ZLIB_MIN_OUT ? written : PPROF_ZLIB_MIN_OUT;
	if (extra > max - written)
		extra = max - written;
	if (!extra || strbuf__reserve(out, written + extra))
		return 0;
	return out->cap - 1 - pos;
}

static uInt zlib_chunk(size_t n)
{
	return (uInt)(n < PPROF_ZLIB_CHUNK ? n : PPROF_ZLIB_CHUNK);
}

/*
 * Appends data gzip-compressed; out is left as it was on failure. libdeflate
 * compresses the whole buffer in one call, about twice as fast as zlib's
 * level 1 for the same size: the encoder is a third of a history query.
 */
static int gzip_append(struct strbuf *out, const void *data, size_t len)
{
	struct libdeflate_compressor *c;
	size_t bound, n;
	int err;

	c = libdeflate_alloc_compressor(1);
	if (!c)
		return -ENOMEM;
	bound = libdeflate_gzip_compress_bound(c, len);
	err = strbuf__reserve(out, bound);
	if (err)
		goto out_free_compressor;
	n = libdeflate_gzip_compress(c, data, len, out->buf + out->len, bound);
	if (!n) {
		/* Cannot happen with the bound's room; never return a truncated body. */
		err = -EOVERFLOW;
		goto out_free_compressor;
	}
	out->len += n;
	out->buf[out->len] = '\0';
out_free_compressor:
	libdeflate_free_compressor(c);
	return err;
}

int pprof_builder__encode(struct pprof_builder *b, bool gzip, struct strbuf *out)
{
	uint8_t *packed;
	size_t size;
	int err;

	if (!b || !out)
		return -EINVAL;
	err = pb_encode(b, &packed, &size);
	if (err)
		return err;
	if (gzip) {
		err = gzip_append(out, packed, size);
	} else {
		err = strbuf__append(out, packed, size);
	}
	free(packed);
	return err;
}

/* Inflates one or more concatenated gzip members; out is left as it was on failure. */
static int gunzip_append(struct strbuf *out, const unsigned char *data, size_t len)
{
	z_stream zs = {0};
	size_t pos = out->len, room;
	int ret, err = 0;

	/* Valid input never needs this much to inflate to PPROF_GUNZIP_MAX. */
	if (len > PPROF_ZLIB_CHUNK * 2)
		return -EFBIG;
	ret = inflateInit2(&zs, 15 + 32);
	if (ret != Z_OK)
		return zlib_err(ret);
	zs.next_in = data;
	zs.avail_in = (uInt)len;
	for (;;) {
		/* One byte more than allowed tells "too big" from "just fits". */
		room = out_room(out, pos, PPROF_GUNZIP_MAX + 1);
		if (!room) {
			err = pos - out->len > PPROF_GUNZIP_MAX ? -EFBIG : -ENOMEM;
			goto err_end;
		}
		zs.next_out = (Bytef *)out->buf + pos;
		zs.avail_out = zlib_chunk(room);
		ret = inflate(&zs, Z_NO_FLUSH);
		pos = (size_t)((char *)zs.next_out - out->buf);
		if (pos - out->len > PPROF_GUNZIP_MAX) {
			err = -EFBIG;
			goto err_end;
		}
		if (ret == Z_STREAM_END) {
			if (!zs.avail_in)
				break;
			/* Another member follows, as Go's reader accepts; else trailing junk. */
			if (zs.avail_in < 2 || zs.next_in[0] != 0x1f || zs.next_in[1] != 0x8b) {
				err = -EINVAL;
				goto err_end;
			}
			ret = inflateReset(&zs);
		}
		if (ret != Z_OK) {
			/* Z_BUF_ERROR here means the input ended early. */
			err = zlib_err(ret);
			goto err_end;
		}
	}
	inflateEnd(&zs);
	out->len = pos;
	out->buf[pos] = '\0';
	return 0;

err_end:
	inflateEnd(&zs);
	if (out->buf)
		out->buf[out->len] = '\0';
	return err;
}

int pprof__gunzip(const void *data, size_t len, struct strbuf *out)
{
	const unsigned char *p = data;

	if (!out || (!data && len))
		return -EINVAL;
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return gunzip_append(out, p, len);
	if (len > PPROF_GUNZIP_MAX)
		return -EFBIG;
	return strbuf__append(out, data, len);
}
