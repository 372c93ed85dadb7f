// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups.h"

#define DEFAULT_ROOT	    "/sys/fs/cgroup"
#define DEFAULT_MAX_ENTRIES 65536
#define MAX_DEPTH	    32

struct cg_entry {
	uint64_t id;
	char *path;
};

struct cgroups {
	char root[CGROUPS_PATH_MAX];
	size_t max_entries;
	struct cg_entry *entries; /* sorted by id */
	size_t n, cap;
	bool may_rescan;
	struct cgroups_stats stats;
};

struct cgroups *cgroups__new(const struct cgroups_opts *opts)
{
	struct cgroups *cg = calloc(1, sizeof(*cg));

	if (!cg)
		return NULL;
	if (opts && opts->root)
		snprintf(cg->root, sizeof(cg->root), "%s", opts->root);
	else if (access(DEFAULT_ROOT "/cgroup.controllers", F_OK) &&
		 access(DEFAULT_ROOT "/unified/cgroup.controllers", F_OK) == 0)
		/* Hybrid hierarchy (v1 controllers): the v2 tree is mounted at unified/. */
		snprintf(cg->root, sizeof(cg->root), "%s", DEFAULT_ROOT "/unified");
	else
		snprintf(cg->root, sizeof(cg->root), "%s", DEFAULT_ROOT);
	cg->max_entries = opts && opts->max_entries ? opts->max_entries : DEFAULT_MAX_ENTRIES;
	cg->may_rescan = true;
	return cg;
}

static void clear_entries(struct cgroups *cg)
{
	for (size_t i = 0; i < cg->n; i++)
		free(cg->entries[i].path);
	cg->n = 0;
}

void cgroups__free(struct cgroups *cg)
{
	if (!cg)
		return;
	clear_entries(cg);
	free(cg->entries);
	free(cg);
}

const char *cgroups__root(const struct cgroups *cg)
{
	return cg->root;
}

void cgroups__begin(struct cgroups *cg)
{
	cg->may_rescan = true;
}

static int add_entry(struct cgroups *cg, uint64_t id, const char *path)
{
	struct cg_entry *e;

	if (cg->n >= cg->max_entries) {
		cg->stats.truncated++;
		return -ENOSPC;
	}
	if (cg->n == cg->cap) {
		size_t cap = cg->cap ? cg->cap * 2 : 256;

		e = realloc(cg->entries, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		cg->entries = e;
		cg->cap = cap;
	}
	e = &cg->entries[cg->n];
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	e->id = id;
	cg->n++;
	return 0;
}

/* Walks dir_fd (the cgroup at rel, "" for the root) and everything below it. */
static int walk(struct cgroups *cg, int dir_fd, const char *rel, int depth)
{
	char child[CGROUPS_PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int err = 0;

	if (fstat(dir_fd, &st)) {
		close(dir_fd);
		return 0;
	}
	err = add_entry(cg, (uint64_t)st.st_ino, rel[0] ? rel : "/");
	if (err || depth >= MAX_DEPTH) {
		close(dir_fd);
		return err == -ENOSPC ? 0 : err;
	}
	d = fdopendir(dir_fd);
	if (!d) {
		close(dir_fd);
		return 0;
	}
	while (!err && (de = readdir(d))) {
		int fd;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", rel, de->d_name) >=
		    sizeof(child))
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue; /* removed meanwhile */
		err = walk(cg, fd, child, depth + 1);
	}
	closedir(d);
	return err;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct cg_entry *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int rescan(struct cgroups *cg)
{
	int fd, err;

	cg->stats.rescans++;
	clear_entries(cg);
	fd = open(cg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = walk(cg, fd, "", 0);
	qsort(cg->entries, cg->n, sizeof(*cg->entries), cmp_entry);
	return err;
}

static const struct cg_entry *find(const struct cgroups *cg, uint64_t id)
{
	size_t lo = 0, hi = cg->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cg->entries[mid].id == id)
			return &cg->entries[mid];
		if (cg->entries[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

void cgroups__parse_path(const char *path, struct cgroup_info *out)
{
	const char *p = path;

	out->container_id[0] = '\0';
	out->unit[0] = '\0';
	while (*p) {
		const char *comp, *end;
		size_t len;

		while (*p == '/')
			p++;
		comp = p;
		while (*p && *p != '/')
			p++;
		end = p;
		len = (size_t)(end - comp);
		if (!len)
			continue;
		/* A run of exactly 64 hex digits names a container (docker, containerd, cri-o,
		 * podman). */
		for (const char *q = comp; q < end; q++) {
			const char *r = q;

			if (!is_hex(*q) || (q > comp && is_hex(q[-1])))
				continue;
			while (r < end && is_hex(*r))
				r++;
			if (r - q == 64) {
				memcpy(out->container_id, q, 64);
				out->container_id[64] = '\0';
			}
			q = r - 1;
		}
		if ((ends_with(comp, len, ".service") || ends_with(comp, len, ".scope")) &&
		    len < CGROUPS_UNIT_MAX) {
			memcpy(out->unit, comp, len);
			out->unit[len] = '\0';
		}
	}
}

int cgroups__lookup(struct cgroups *cg, uint64_t id, struct cgroup_info *out)
{
	const struct cg_entry *e;

	cg->stats.lookups++;
	memset(out, 0, sizeof(*out));
	e = find(cg, id);
	if (!e && cg->may_rescan) {
		cg->may_rescan = false;
		rescan(cg);
		e = find(cg, id);
	}
	if (!e) {
		cg->stats.misses++;
		return -ENOENT;
	}
	snprintf(out->path, sizeof(out->path), "%s", e->path);
	cgroups__parse_path(out->path, out);
	return 0;
}

void cgroups__stats(const struct cgroups *cg, struct cgroups_stats *out)
{
	*out = cg->stats;
	out->entries = cg->n;
}
