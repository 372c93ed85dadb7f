/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fuzz target: JIT perf maps (/tmp/perf-PID.map), which the profiled process
 * writes as it likes. The input is the whole file: every line goes through
 * the line parser, then the file through the loader (from a memfd, as from
 * any file), and look-ups run at the starts and ends of what was loaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbolizer_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *end = s + size, *nl;
	struct perfmap pm = {0};
	struct perfmap_entry e;
	const char *name;
	uint64_t off;
	int fd;

	for (const char *line = s; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		/* A parsed entry is a real range with a name inside the line. */
		if (perfmap__parse_line(line, (size_t)(nl - line), &e) == 0 &&
		    (!e.size || e.start + e.size < e.start || !e.name_len || e.name < line ||
		     e.name + e.name_len > nl))
			abort();
	}
	fd = memfd_create("perfmap", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size && perfmap__load(&pm, fd, 1u << 20, 4096) == 0) {
		for (size_t i = 0; i < pm.nr_syms; i++) {
			const struct perfmap_sym *sym = &pm.syms[i];

			if (sym->end <= sym->start || (i && sym->start < pm.syms[i - 1].start))
				abort();
			/* Its start is named by it or by a later, overlapping entry. */
			if (perfmap__find(&pm, sym->start, &name, &off) ||
			    off > sym->end - sym->start)
				abort();
			(void)perfmap__find(&pm, sym->end, &name, &off);
			(void)perfmap__find(&pm, sym->start - 1, &name, &off);
		}
	}
	perfmap__release(&pm);
	close(fd);
	return 0;
}
