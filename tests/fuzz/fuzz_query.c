/* SPDX-License-Identifier: GPL-2.0 */
/* Fuzz target: the start=/end= times and last= durations of history queries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	int64_t t;
	uint64_t d;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (query__parse_time(s, &t) == 0 && query__parse_duration(s, &d) == 0)
		(void)(t + (int64_t)d);
	free(s);
	return 0;
}
