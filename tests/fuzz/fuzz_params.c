/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fuzz target: every query parameter of a profile request at once. The input
 * is "name=value" fields separated by '&', as a client sends them (no URL
 * decoding: libmicrohttpd has done it); unknown names are ignored, a
 * repeated name keeps its last value. A field named "flamegraph" parses
 * them as /debug/pprof/flamegraph would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"seconds",  "pid",	 "start",     "end",	    "last",	"format",
		"comm",	    "cgroup",	 "container", "unit",	    "kind",	"base_start",
		"base_end", "base_last", "value",     "flamegraph", "symbolize"};
	const char *values[sizeof(names) / sizeof(names[0])] = {0};
	struct profile_query q;
	struct profile_params pp;
	char *s = malloc(size + 1), *field, *save = NULL;
	char err[256];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (field = strtok_r(s, "&", &save); field; field = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(field, '=');

		if (!eq)
			continue;
		*eq = '\0';
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcmp(field, names[i]) == 0)
				values[i] = eq + 1;
	}
	pp = (struct profile_params){
		.seconds = values[0],
		.pid = values[1],
		.start = values[2],
		.end = values[3],
		.last = values[4],
		.format = values[5],
		.comm = values[6],
		.cgroup = values[7],
		.container = values[8],
		.unit = values[9],
		.kind = values[10],
		.base_start = values[11],
		.base_end = values[12],
		.base_last = values[13],
		.value = values[14],
		.flamegraph = values[15] != NULL,
		.symbolize = values[16],
	};
	/* A fixed "now" keeps runs reproducible: 2026-01-01T00:00:00Z. */
	if (http__parse_profile_params(&pp, 3600, 1767225600ll * 1000000000ll, &q, err,
				       sizeof(err)) &&
	    !memchr(err, '\0', sizeof(err)))
		abort(); /* the message must be a terminated string */
	free(s);
	return 0;
}
