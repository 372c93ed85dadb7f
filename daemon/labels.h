/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a sample came from, as labels and as filters: which labels a profile
 * carries (--labels, so users control cardinality), and which entries a query
 * keeps (pid=, comm=, cgroup=, container=, unit=). Cgroup-derived values come
 * from the cgroups module.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_LABELS_H
#define SONDE_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "cgroups.h"
#include "pprof.h"

enum label_bit {
	LABEL_PID = 1u << 0,
	LABEL_COMM = 1u << 1,
	LABEL_THREAD_NAME = 1u << 2,
	LABEL_TID = 1u << 3,
	LABEL_CGROUP = 1u << 4,
	LABEL_CONTAINER = 1u << 5,
	LABEL_UNIT = 1u << 6,
};

/* Set in a mask that was chosen explicitly, so that "none" is not 0 (the default). */
#define LABEL_EXPLICIT (1u << 31)

#define LABELS_DEFAULT (LABEL_PID | LABEL_COMM | LABEL_THREAD_NAME | LABEL_CONTAINER | LABEL_UNIT)
#define LABELS_MAX     7

/*
 * Parses a comma-separated list of label names (pid, comm, thread_name, tid,
 * cgroup, container_id, unit; "none" for none) into a mask. 0, or -EINVAL with
 * the offending name in err.
 */
int labels__parse(const char *s, uint32_t *mask, char *err, size_t err_len);

/* Room for the values of one entry's labels. */
struct label_values {
	char pid[16];
	char tid[16];
	struct cgroup_info cg;
	struct pprof_label labels[LABELS_MAX];
};

/*
 * Fills lv with the labels of mask for entry e (cg may be NULL: no cgroup
 * labels). Empty values are left out, since an empty string label reads as a
 * numeric one. Returns the number of labels in lv->labels.
 */
size_t labels__for_entry(uint32_t mask, struct cgroups *cg, const struct agg_sample *e,
			 struct label_values *lv);

/* A query's filters; unset fields (0 / NULL) match everything. */
struct entry_filter {
	uint32_t pid;
	const char *comm;      /* exact process name */
	const char *cgroup;    /* cgroup path, or a prefix of it ending at a '/' */
	const char *container; /* container id, or a prefix of at least 12 hex digits */
	const char *unit;      /* systemd unit name */
};

bool labels__filter_is_empty(const struct entry_filter *f);
/* Whether e passes f; cg resolves cgroup ids (NULL: cgroup filters match nothing). */
bool labels__match(const struct entry_filter *f, struct cgroups *cg, const struct agg_sample *e);

#endif
