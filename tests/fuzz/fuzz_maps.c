/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fuzz target: lines of /proc/PID/maps, which a process shapes by what it
 * maps and how it names it (memfd names, paths with blanks, deleted files).
 * The input is split at newlines like the file, and each line parsed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *line, *next;
	struct maps_entry *e = malloc(sizeof(*e));

	if (!s || !e)
		goto out;
	memcpy(s, data, size);
	s[size] = '\0';
	for (line = s; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* A parsed entry must describe a real range. */
		if (maps__parse_line(line, e) == 0 && e->start >= e->end)
			abort();
	}
out:
	free(e);
	free(s);
	return 0;
}
