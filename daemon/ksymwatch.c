// SPDX-License-Identifier: GPL-2.0
/*
 * PERF_RECORD_KSYMBOL side-band records: where BPF programs appear and go.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ksymwatch.h"
#include "loader.h"

#define KSYMWATCH_MAX_CPUS   4096
#define KSYMWATCH_DATA_PAGES 8	/* 32 KiB per CPU: hundreds of records between drains */
#define KSYM_BODY_MIN	     16 /* addr, len, type, flags */

struct ksymwatch_ring {
	int fd;
	void *base; /* the metadata page, then the data pages */
};

struct ksymwatch {
	ksymwatch_fn fn;
	ksymwatch_lost_fn lost_fn;
	void *ctx;
	struct ksymwatch_ring *rings;
	size_t nr_rings;
	size_t page_size, data_size;
	unsigned char *rec; /* one record, copied out when it wraps */
	struct ksymwatch_stats stats;
};

int ksymwatch__parse(const void *body, size_t len, uint64_t *addr, uint32_t *sym_len, bool *bpf,
		     bool *gone, const char **name, size_t *name_len)
{
	const unsigned char *b = body;
	uint16_t type, flags;
	size_t n;

	if (len <= KSYM_BODY_MIN)
		return -EINVAL;
	memcpy(addr, b, 8);
	memcpy(sym_len, b + 8, 4);
	memcpy(&type, b + 12, 2);
	memcpy(&flags, b + 14, 2);
	n = strnlen((const char *)b + KSYM_BODY_MIN, len - KSYM_BODY_MIN);
	/* A name, NUL-terminated inside the record, over a range that does not wrap. */
	if (!n || n == len - KSYM_BODY_MIN || !*sym_len || *addr + *sym_len < *addr)
		return -EINVAL;
	*bpf = type == PERF_RECORD_KSYMBOL_TYPE_BPF;
	*gone = flags & PERF_RECORD_KSYMBOL_FLAGS_UNREGISTER;
	*name = (const char *)b + KSYM_BODY_MIN;
	*name_len = n;
	return 0;
}

static int ring__open(struct ksymwatch *w, struct ksymwatch_ring *r, int cpu)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_DUMMY,
		.ksymbol = 1,
		.watermark = 1,
		.wakeup_watermark = 1,
	};
	long fd;

	fd = syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r->base = mmap(NULL, w->page_size + w->data_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       (int)fd, 0);
	if (r->base == MAP_FAILED) {
		int err = -errno;

		close((int)fd);
		r->base = NULL;
		return err;
	}
	r->fd = (int)fd;
	return 0;
}

int ksymwatch__new(ksymwatch_fn fn, ksymwatch_lost_fn lost_fn, void *ctx, struct ksymwatch **out)
{
	bool *cpus;
	struct ksymwatch *w;
	long page = sysconf(_SC_PAGESIZE);
	int n, err;

	if (!fn || !out || page <= 0)
		return -EINVAL;
	cpus = calloc(KSYMWATCH_MAX_CPUS, sizeof(*cpus));
	w = calloc(1, sizeof(*w));
	if (!cpus || !w) {
		err = -ENOMEM;
		goto err_free;
	}
	w->fn = fn;
	w->lost_fn = lost_fn;
	w->ctx = ctx;
	w->page_size = (size_t)page;
	w->data_size = (size_t)page * KSYMWATCH_DATA_PAGES;
	w->rec = malloc(w->data_size);
	n = loader__online_cpus(cpus, KSYMWATCH_MAX_CPUS);
	if (n <= 0) {
		err = n < 0 ? n : -ENODEV;
		goto err_free;
	}
	w->rings = calloc((size_t)n, sizeof(*w->rings));
	if (!w->rec || !w->rings) {
		err = -ENOMEM;
		goto err_free;
	}
	for (int cpu = 0; cpu < KSYMWATCH_MAX_CPUS; cpu++) {
		if (!cpus[cpu] || w->nr_rings == (size_t)n)
			continue;
		err = ring__open(w, &w->rings[w->nr_rings], cpu);
		if (err)
			goto err_free;
		w->nr_rings++;
	}
	free(cpus);
	*out = w;
	return 0;

err_free:
	ksymwatch__free(w);
	free(cpus);
	return err;
}

void ksymwatch__free(struct ksymwatch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nr_rings; i++) {
		munmap(w->rings[i].base, w->page_size + w->data_size);
		close(w->rings[i].fd);
	}
	free(w->rings);
	free(w->rec);
	free(w);
}

/* Copies len bytes at ring offset pos (which may wrap) into dst. */
static void ring__copy(const struct ksymwatch *w, const unsigned char *data, uint64_t pos,
		       void *dst, size_t len)
{
	size_t at = (size_t)(pos % w->data_size), first = w->data_size - at;

	if (first >= len) {
		memcpy(dst, data + at, len);
	} else {
		memcpy(dst, data + at, first);
		memcpy((unsigned char *)dst + first, data, len - first);
	}
}

static void handle(struct ksymwatch *w, const struct perf_event_header *h, const unsigned char *rec)
{
	const unsigned char *body = rec + sizeof(*h);
	size_t len = h->size - sizeof(*h), name_len;
	uint64_t addr, lost;
	uint32_t sym_len;
	const char *name;
	bool bpf, gone;

	if (h->type == PERF_RECORD_LOST) {
		if (len >= 16) {
			memcpy(&lost, body + 8, 8);
			w->stats.lost += lost;
		}
		if (w->lost_fn)
			w->lost_fn(w->ctx);
		return;
	}
	if (h->type != PERF_RECORD_KSYMBOL)
		return;
	if (ksymwatch__parse(body, len, &addr, &sym_len, &bpf, &gone, &name, &name_len)) {
		w->stats.malformed++;
		return;
	}
	if (gone)
		w->stats.unregistered++;
	else
		w->stats.registered++;
	w->fn(w->ctx, addr, sym_len, name, bpf, gone);
}

static void ring__drain(struct ksymwatch *w, struct ksymwatch_ring *r)
{
	struct perf_event_mmap_page *meta = r->base;
	const unsigned char *data = (const unsigned char *)r->base + w->page_size;
	uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = meta->data_tail;
	struct perf_event_header h;

	while (tail < head) {
		if (head - tail < sizeof(h))
			break;
		ring__copy(w, data, tail, &h, sizeof(h));
		if (h.size < sizeof(h) || h.size > head - tail || h.size > w->data_size) {
			/* A record the kernel cannot have written: drop what is there. */
			w->stats.malformed++;
			tail = head;
			break;
		}
		ring__copy(w, data, tail, w->rec, h.size);
		handle(w, &h, w->rec);
		tail += h.size;
	}
	__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
}

void ksymwatch__drain(struct ksymwatch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nr_rings; i++)
		ring__drain(w, &w->rings[i]);
}

void ksymwatch__stats(const struct ksymwatch *w, struct ksymwatch_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (w)
		*out = w->stats;
}
