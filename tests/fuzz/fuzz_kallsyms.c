/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fuzz target: /proc/kallsyms. Line by line through the parser, then the
 * whole input as a file through the loader and a few look-ups, since module
 * and BPF names come from outside the kernel image.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbolizer.h"
#include "symbolizer_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *line, *next, path[64];
	struct kallsyms_entry e;
	struct ksyms ks = {0};
	struct sym_frame f;
	int fd;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (line = s; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		(void)kallsyms__parse_line(line, &e);
	}
	free(s);

	fd = memfd_create("kallsyms", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (!size || write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (ksyms__load(&ks, path) == 0) {
			static const uint64_t probes[] = {0, 1, 0xffffffff81000000ull,
							  0xffffffffc0000000ull, UINT64_MAX};

			for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
				if (ksyms__find(&ks, probes[i], &f) == 0 && !f.name)
					abort();
			ksyms__release(&ks);
		}
	}
	close(fd);
	return 0;
}
