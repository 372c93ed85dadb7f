// SPDX-License-Identifier: GPL-2.0
/*
 * pprof_lint FILE: checks a served profile against the rules its consumers
 * enforce (go tool pprof, Parca, Pyroscope; see shared interop notes) and
 * prints a summary. Exit 0 when every rule holds, 1 otherwise, 2 on bad use.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof.h"
#include "profile.pb-c.h"
#include "strbuf.h"

static int violations;

#define RULE(cond, ...)                                                                            \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			violations++;                                                              \
			fprintf(stderr, "violation: " __VA_ARGS__);                                \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80	  ? 0
			: (*p >> 5) == 6  ? 1
			: (*p >> 4) == 14 ? 2
			: (*p >> 3) == 30 ? 3
					  : -1;

		if (n < 0)
			return false;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return false;
	}
	return true;
}

static int read_file(const char *path, struct strbuf *out)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char buf[65536];
	size_t n;

	if (!f)
		return -errno;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (strbuf__append(out, buf, n))
			return -ENOMEM;
	if (f != stdin)
		fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct strbuf raw = STRBUF_INIT, plain = STRBUF_INIT;
	Perftools__Profiles__Profile *p;
	size_t n_strings, with_build_id = 0, kernel_maps = 0;
	uint64_t total[8] = {0};

	if (argc != 2) {
		fprintf(stderr, "usage: pprof_lint FILE|-\n");
		return 2;
	}
	if (read_file(argv[1], &raw) || raw.len == 0) {
		fprintf(stderr, "pprof_lint: cannot read %s\n", argv[1]);
		return 2;
	}
	RULE(raw.len >= 2 && (unsigned char)raw.buf[0] == 0x1f && (unsigned char)raw.buf[1] == 0x8b,
	     "body is not gzip-compressed");
	if (pprof__gunzip(raw.buf, raw.len, &plain)) {
		fprintf(stderr, "violation: body does not inflate\n");
		return 1;
	}
	p = perftools__profiles__profile__unpack(NULL, plain.len, (const uint8_t *)plain.buf);
	if (!p) {
		fprintf(stderr, "violation: not a perftools.profiles.Profile\n");
		return 1;
	}
	n_strings = p->n_string_table;
#define STR_OK(i) ((i) >= 0 && (size_t)(i) < n_strings)
	RULE(n_strings > 0 && p->string_table[0][0] == '\0', "string_table[0] is not empty");
	for (size_t i = 0; i < n_strings; i++)
		RULE(valid_utf8(p->string_table[i]), "string %zu is not UTF-8", i);
	RULE(p->n_sample_type > 0 && p->n_sample_type <= 8, "sample_type count %zu",
	     p->n_sample_type);
	for (size_t i = 0; i < p->n_sample_type; i++) {
		RULE(STR_OK(p->sample_type[i]->type) && STR_OK(p->sample_type[i]->unit),
		     "sample_type %zu string out of range", i);
		if (STR_OK(p->sample_type[i]->type))
			RULE(!strchr(p->string_table[p->sample_type[i]->type], '-'),
			     "sample type '%s' has a '-'",
			     p->string_table[p->sample_type[i]->type]);
	}
	for (size_t i = 0; i < p->n_mapping; i++) {
		RULE(p->mapping[i]->id == i + 1, "mapping %zu has id %llu", i,
		     (unsigned long long)p->mapping[i]->id);
		RULE(STR_OK(p->mapping[i]->filename) && STR_OK(p->mapping[i]->build_id),
		     "mapping %zu string out of range", i);
		if (STR_OK(p->mapping[i]->build_id) && p->string_table[p->mapping[i]->build_id][0])
			with_build_id++;
		if (STR_OK(p->mapping[i]->filename) &&
		    strcmp(p->string_table[p->mapping[i]->filename], "[kernel.kallsyms]") == 0)
			kernel_maps++;
	}
	for (size_t i = 0; i < p->n_function; i++) {
		RULE(p->function[i]->id == i + 1, "function %zu has id %llu", i,
		     (unsigned long long)p->function[i]->id);
		RULE(STR_OK(p->function[i]->name) && STR_OK(p->function[i]->system_name) &&
			     STR_OK(p->function[i]->filename),
		     "function %zu string out of range", i);
	}
	for (size_t i = 0; i < p->n_location; i++) {
		Perftools__Profiles__Location *l = p->location[i];

		RULE(l->id == i + 1, "location %zu has id %llu", i, (unsigned long long)l->id);
		RULE(l->mapping_id <= p->n_mapping, "location %zu names mapping %llu", i,
		     (unsigned long long)l->mapping_id);
		for (size_t j = 0; j < l->n_line; j++)
			RULE(l->line[j]->function_id >= 1 &&
				     l->line[j]->function_id <= p->n_function,
			     "location %zu names function %llu", i,
			     (unsigned long long)l->line[j]->function_id);
	}
	for (size_t i = 0; i < p->n_sample; i++) {
		Perftools__Profiles__Sample *s = p->sample[i];

		RULE(s->n_value == p->n_sample_type, "sample %zu has %zu values", i, s->n_value);
		RULE(s->n_location_id > 0, "sample %zu has no location", i);
		for (size_t j = 0; j < s->n_location_id; j++)
			RULE(s->location_id[j] >= 1 && s->location_id[j] <= p->n_location,
			     "sample %zu names location %llu", i,
			     (unsigned long long)s->location_id[j]);
		for (size_t j = 0; j < s->n_label; j++) {
			RULE(STR_OK(s->label[j]->key) && STR_OK(s->label[j]->str) &&
				     STR_OK(s->label[j]->num_unit),
			     "sample %zu label string out of range", i);
			RULE(!(s->label[j]->str && s->label[j]->num),
			     "sample %zu label has str and num", i);
		}
		for (size_t j = 0; j < s->n_value && j < 8; j++)
			total[j] += (uint64_t)s->value[j];
	}
	RULE(p->period_type && STR_OK(p->period_type->type), "no period_type");
	RULE(p->time_nanos > 0 && p->duration_nanos > 0, "time_nanos or duration_nanos unset");
	RULE(STR_OK(p->default_sample_type), "default_sample_type out of range");

	printf("samples %zu\n", p->n_sample);
	for (size_t i = 0; i < p->n_sample_type && i < 8; i++)
		if (STR_OK(p->sample_type[i]->type))
			printf("total_%s %llu\n", p->string_table[p->sample_type[i]->type],
			       (unsigned long long)total[i]);
	printf("mappings %zu\nmappings_with_build_id %zu\nkernel_mappings %zu\n", p->n_mapping,
	       with_build_id, kernel_maps);
	printf("locations %zu\nfunctions %zu\nperiod %lld\nduration_nanos %lld\n", p->n_location,
	       p->n_function, (long long)p->period, (long long)p->duration_nanos);
	printf("violations %d\n", violations);
	perftools__profiles__profile__free_unpacked(p, NULL);
	strbuf__release(&raw);
	strbuf__release(&plain);
	return violations ? 1 : 0;
}
