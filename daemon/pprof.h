/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A builder for pprof profiles (perftools.profiles.Profile) and its encoder.
 *
 * Strings, mappings, functions and locations are deduplicated; ids run 1..N in
 * array order, as Parca requires. The encoder writes the protobuf, gzip
 * compressed like Go's. Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_PPROF_H
#define SONDE_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

struct pprof_builder;

struct pprof_value_type {
	const char *type; /* e.g. "cpu" */
	const char *unit; /* e.g. "nanoseconds" */
};

struct pprof_opts {
	const struct pprof_value_type *sample_types;
	size_t n_sample_types;
	struct pprof_value_type period_type;
	int64_t period;
	int64_t time_nanos; /* start, unix nanoseconds */
	int64_t duration_nanos;
	const char *default_sample_type; /* NULL: none */
};

struct pprof_label {
	const char *key;
	const char *str; /* string label when non-NULL, else numeric */
	int64_t num;
	const char *num_unit; /* NULL: none */
};

/* A label whose strings are already in the builder's string table. */
struct pprof_label_ref {
	int64_t key; /* pprof_builder__string() of the key */
	int64_t str; /* of the value; 0 for a numeric label */
	int64_t num;
	int64_t num_unit; /* 0: none */
};

struct pprof_builder *pprof_builder__new(const struct pprof_opts *opts);
void pprof_builder__free(struct pprof_builder *b);

/*
 * Each returns the (1-based) id, deduplicated on all its arguments, or 0 on
 * allocation failure. Strings are copied. build_id may be NULL.
 */
uint64_t pprof_builder__mapping(struct pprof_builder *b, uint64_t start, uint64_t limit,
				uint64_t file_offset, const char *filename, const char *build_id,
				bool has_functions);
uint64_t pprof_builder__function(struct pprof_builder *b, const char *name, const char *system_name,
				 const char *filename);
/*
 * Deduplicated on (mapping_id, address), where the first call's function wins;
 * locations without a mapping (mapping_id 0) are deduplicated on the function too.
 */
uint64_t pprof_builder__location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
				 uint64_t function_id);

/* One Line of a location: a function and the source line in it (0: unknown). */
struct pprof_line {
	uint64_t function_id;
	int64_t line;
};

/*
 * A location with n_lines Lines, innermost first (an inlined call, then the
 * functions it was inlined into), deduplicated as pprof_builder__location is
 * (on the first Line's function). The mapping of a location with a line
 * number is marked has_filenames and has_line_numbers. 0 on allocation
 * failure or an unknown id.
 */
uint64_t pprof_builder__location_lines(struct pprof_builder *b, uint64_t mapping_id,
				       uint64_t address, const struct pprof_line *lines,
				       size_t n_lines);

/* values has n_sample_types entries; location_ids are leaf first. 0 or -errno. */
int pprof_builder__sample(struct pprof_builder *b, const uint64_t *location_ids, size_t n_locations,
			  const int64_t *values, const struct pprof_label *labels, size_t n_labels);

/*
 * The index of s in the string table, added if new: for callers that label
 * many samples alike and intern the strings once. NULL and "" are 0. Index
 * or -errno.
 */
int64_t pprof_builder__string(struct pprof_builder *b, const char *s);

/* pprof_builder__sample with labels made of string indices. 0 or -errno (-EINVAL: bad index). */
int pprof_builder__sample_refs(struct pprof_builder *b, const uint64_t *location_ids,
			       size_t n_locations, const int64_t *values,
			       const struct pprof_label_ref *labels, size_t n_labels);

size_t pprof_builder__n_samples(const struct pprof_builder *b);

/* Appends the encoded profile to out, gzip-compressed when gzip is set. 0 or -errno. */
int pprof_builder__encode(struct pprof_builder *b, bool gzip, struct strbuf *out);

/* Inflates a gzip stream (or copies a plain one); for tests and consumers. 0 or -errno. */
int pprof__gunzip(const void *data, size_t len, struct strbuf *out);

#endif
