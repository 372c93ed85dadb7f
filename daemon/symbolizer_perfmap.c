// SPDX-License-Identifier: GPL-2.0
/*
 * JIT perf maps: /tmp/perf-PID.map as Node (--perf-basic-prof), Python 3.12
 * (-X perf) and the JVM's perf-map-agent write them, one "START SIZE name"
 * line per piece of generated code, hex numbers, the name to the end of the
 * line. The file comes from the profiled process: every line is checked, and
 * the file and its table are bounded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolizer_internal.h"

#define PERFMAP_MAX_NAME 1024
/* How many earlier entries a look-up checks for an overlapping, longer one. */
#define PERFMAP_SCAN 64

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static int parse_hex_field(const char **p, const char *end, uint64_t *out)
{
	const char *c = *p;
	uint64_t v = 0;
	int digits = 0;

	if (end - c >= 2 && c[0] == '0' && (c[1] == 'x' || c[1] == 'X'))
		c += 2;
	for (; c < end; c++, digits++) {
		int d;

		if (*c >= '0' && *c <= '9')
			d = *c - '0';
		else if (*c >= 'a' && *c <= 'f')
			d = *c - 'a' + 10;
		else if (*c >= 'A' && *c <= 'F')
			d = *c - 'A' + 10;
		else
			break;
		if (digits == 16)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	if (!digits || (c < end && *c != ' ' && *c != '\t'))
		return -EINVAL;
	*p = c;
	*out = v;
	return 0;
}

int perfmap__parse_line(const char *line, size_t len, struct perfmap_entry *out)
{
	const char *p = line, *end = line + len;

	while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	p = skip_blanks(p, end);
	if (parse_hex_field(&p, end, &out->start))
		return -EINVAL;
	p = skip_blanks(p, end);
	if (parse_hex_field(&p, end, &out->size))
		return -EINVAL;
	p = skip_blanks(p, end);
	if (!out->size || out->start + out->size < out->start || p == end)
		return -EINVAL;
	for (const char *c = p; c < end; c++)
		if (*c == '\0')
			return -EINVAL;
	out->name = p;
	out->name_len = (size_t)(end - p) > PERFMAP_MAX_NAME ? PERFMAP_MAX_NAME : (size_t)(end - p);
	return 0;
}

static int cmp_sym(const void *a, const void *b)
{
	const struct perfmap_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int perfmap__load(struct perfmap *pm, int fd, size_t max_bytes, size_t max_syms)
{
	static const char nul;
	struct perfmap_entry ent;
	size_t cap = 0, len = 0;
	struct stat st;
	char *buf, *line, *end;
	int err = 0;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max_bytes)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	/* The file may grow while it is read: take what was there at fstat. */
	while (len < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + len, (size_t)st.st_size - len, (off_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	/* A last line without its newline may still be being written. */
	end = memrchr(buf, '\n', len);
	len = end ? (size_t)(end - buf) + 1 : 0;
	pm->size = (uint64_t)st.st_size;
	pm->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	pm->dev = (uint64_t)st.st_dev;
	pm->ino = (uint64_t)st.st_ino;
	for (line = buf; line < buf + len; line = end + 1) {
		struct perfmap_sym *s;

		end = memchr(line, '\n', (size_t)(buf + len - line));
		if (perfmap__parse_line(line, (size_t)(end - line), &ent)) {
			pm->bad_lines++;
			continue;
		}
		if (pm->nr_syms == max_syms)
			break;
		if (pm->nr_syms == cap) {
			size_t ncap = cap ? cap * 2 : 256;

			s = realloc(pm->syms, ncap * sizeof(*s));
			if (!s) {
				err = -ENOMEM;
				goto out_free;
			}
			pm->syms = s;
			cap = ncap;
		}
		if (pm->names.len > UINT32_MAX - ent.name_len - 1) {
			err = -E2BIG;
			goto out_free;
		}
		s = &pm->syms[pm->nr_syms];
		s->start = ent.start;
		s->end = ent.start + ent.size;
		s->seq = (uint32_t)pm->nr_syms;
		s->name = (uint32_t)pm->names.len;
		if (strbuf__append(&pm->names, ent.name, ent.name_len) ||
		    strbuf__append(&pm->names, &nul, 1)) {
			err = -ENOMEM;
			goto out_free;
		}
		pm->nr_syms++;
	}
	if (pm->nr_syms)
		qsort(pm->syms, pm->nr_syms, sizeof(*pm->syms), cmp_sym);
out_free:
	free(buf);
	return err;
}

void perfmap__release(struct perfmap *pm)
{
	if (!pm)
		return;
	free(pm->syms);
	strbuf__release(&pm->names);
	memset(pm, 0, sizeof(*pm));
}

size_t perfmap__bytes(const struct perfmap *pm)
{
	return pm->nr_syms * sizeof(*pm->syms) + pm->names.cap;
}

int perfmap__find(const struct perfmap *pm, uint64_t addr, const char **name, uint64_t *sym_offset)
{
	size_t lo = 0, hi = pm->nr_syms;
	const struct perfmap_sym *best = NULL;

	/* The first entry that starts after addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pm->syms[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Code is reused: among the entries that hold addr, the last written wins. */
	for (size_t i = lo, n = 0; i-- > 0 && n < PERFMAP_SCAN; n++) {
		const struct perfmap_sym *s = &pm->syms[i];

		if (addr < s->end && (!best || s->seq > best->seq))
			best = s;
	}
	if (!best)
		return -ENOENT;
	*name = pm->names.buf + best->name;
	*sym_offset = addr - best->start;
	return 0;
}
