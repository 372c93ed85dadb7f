/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fuzz target: JIT perf maps (/tmp/perf-PID.map), which the profiled process
 * writes as it likes. The input is the whole file: every line goes through
 * the line parser, then the file through the loader (from a memfd, as from
 * any file), and look-ups run at the starts and ends of what was loaded.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbolizer_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether (name, off) at sym's start comes from an entry covering it, written no earlier. */
static bool named_by_later(const struct perfmap *pm, const struct perfmap_sym *sym,
			   const char *name, uint64_t off)
{
	for (size_t j = 0; j < pm->nr_syms; j++) {
		const struct perfmap_sym *o = &pm->syms[j];

		if (o->start == sym->start - off && pm->names.buf + o->name == name &&
		    o->end > sym->start && o->seq >= sym->seq)
			return true;
	}
	return false;
}

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
			/* Its start is named by it or by a later entry that covers it too. */
			if (perfmap__find(&pm, sym->start, &name, &off) || off > sym->start)
				abort();
			if (pm.nr_syms <= 512 && !named_by_later(&pm, sym, name, off))
				abort();
			(void)perfmap__find(&pm, sym->end, &name, &off);
			(void)perfmap__find(&pm, sym->start - 1, &name, &off);
		}
	}
	perfmap__release(&pm);
	close(fd);
	return 0;
}
