// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "labels.h"

static const struct {
	const char *name;
	uint32_t bit;
} label_names[] = {
	{"pid", LABEL_PID},   {"comm", LABEL_COMM},	{"thread_name", LABEL_THREAD_NAME},
	{"tid", LABEL_TID},   {"cgroup", LABEL_CGROUP}, {"container_id", LABEL_CONTAINER},
	{"unit", LABEL_UNIT},
};

int labels__parse(const char *s, uint32_t *mask, char *err, size_t err_len)
{
	uint32_t m = 0;

	if (!s || !*s) {
		snprintf(err, err_len, "empty label list");
		return -EINVAL;
	}
	if (strcmp(s, "none") == 0) {
		*mask = 0;
		return 0;
	}
	while (*s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		bool found = false;

		for (size_t i = 0; i < sizeof(label_names) / sizeof(label_names[0]); i++) {
			if (strlen(label_names[i].name) == len &&
			    strncmp(label_names[i].name, s, len) == 0) {
				m |= label_names[i].bit;
				found = true;
			}
		}
		if (!found) {
			snprintf(err, err_len,
				 "unknown label '%.*s' (expected pid, comm, thread_name, tid, "
				 "cgroup, container_id, unit or none)",
				 (int)(len > 64 ? 64 : len), s);
			return -EINVAL;
		}
		s += len;
		if (*s == ',' && !*++s) {
			snprintf(err, err_len, "empty label name at the end of the list");
			return -EINVAL;
		}
	}
	*mask = m;
	return 0;
}

size_t labels__for_entry(uint32_t mask, struct cgroups *cg, const struct agg_sample *e,
			 struct label_values *lv)
{
	size_t n = 0;
	bool have_cg = false;

	if (mask & LABEL_PID) {
		snprintf(lv->pid, sizeof(lv->pid), "%u", e->pid);
		lv->labels[n++] = (struct pprof_label){.key = "pid", .str = lv->pid};
	}
	if (mask & LABEL_TID) {
		snprintf(lv->tid, sizeof(lv->tid), "%u", e->tid);
		lv->labels[n++] = (struct pprof_label){.key = "tid", .str = lv->tid};
	}
	if (mask & LABEL_COMM)
		lv->labels[n++] = (struct pprof_label){
			.key = "comm",
			.str = e->comm && e->comm[0] ? e->comm : "[unknown]",
		};
	if (mask & LABEL_THREAD_NAME)
		lv->labels[n++] = (struct pprof_label){
			.key = "thread_name",
			.str = e->thread_name && e->thread_name[0] ? e->thread_name : "[unknown]",
		};
	if ((mask & (LABEL_CGROUP | LABEL_CONTAINER | LABEL_UNIT)) && cg && e->cgroup_id)
		have_cg = cgroups__lookup(cg, e->cgroup_id, &lv->cg) == 0;
	if (have_cg && (mask & LABEL_CGROUP) && lv->cg.path[0])
		lv->labels[n++] = (struct pprof_label){.key = "cgroup", .str = lv->cg.path};
	if (have_cg && (mask & LABEL_CONTAINER) && lv->cg.container_id[0])
		lv->labels[n++] =
			(struct pprof_label){.key = "container_id", .str = lv->cg.container_id};
	if (have_cg && (mask & LABEL_UNIT) && lv->cg.unit[0])
		lv->labels[n++] = (struct pprof_label){.key = "unit", .str = lv->cg.unit};
	return n;
}

bool labels__filter_is_empty(const struct entry_filter *f)
{
	return !f->pid && !f->comm && !f->cgroup && !f->container && !f->unit;
}

/* path equals prefix, or continues it after a '/'. */
static bool path_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (strncmp(path, prefix, n))
		return false;
	return path[n] == '\0' || path[n] == '/' || (n == 1 && prefix[0] == '/');
}

bool labels__match(const struct entry_filter *f, struct cgroups *cg, const struct agg_sample *e)
{
	struct cgroup_info info;

	if (f->pid && e->pid != f->pid)
		return false;
	if (f->comm && (!e->comm || strcmp(e->comm, f->comm)))
		return false;
	if (!f->cgroup && !f->container && !f->unit)
		return true;
	if (!cg || !e->cgroup_id || cgroups__lookup(cg, e->cgroup_id, &info))
		return false;
	if (f->cgroup && !path_under(info.path, f->cgroup))
		return false;
	if (f->container && (strlen(f->container) < 12 || !info.container_id[0] ||
			     strncmp(info.container_id, f->container, strlen(f->container))))
		return false;
	if (f->unit && strcmp(info.unit, f->unit))
		return false;
	return true;
}
