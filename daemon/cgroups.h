/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Names for cgroup ids: the cgroup path, the container id and the systemd
 * unit a sample's cgroup belongs to, for profile labels and filters.
 *
 * On cgroup v2 a cgroup's id (what bpf_get_current_cgroup_id() returns) is
 * the inode number of its directory under the cgroup mount, so the table is
 * built by walking that tree. It is rebuilt on a miss at most once per
 * cgroups__begin() (once per profile), and holds at most max_entries cgroups.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_CGROUPS_H
#define SONDE_CGROUPS_H

#include <stddef.h>
#include <stdint.h>

#define CGROUPS_PATH_MAX 512
#define CGROUPS_ID_MAX	 65 /* 64 hex digits and a NUL */
#define CGROUPS_UNIT_MAX 256

struct cgroups;

struct cgroups_opts {
	const char *root; /* the cgroup v2 mount; NULL: /sys/fs/cgroup, or its unified/ if hybrid */
	size_t max_entries; /* 0: 65536 */
};

struct cgroup_info {
	char path[CGROUPS_PATH_MAX];	   /* "/system.slice/nginx.service", "/" for the root */
	char container_id[CGROUPS_ID_MAX]; /* "" when not in a container */
	char unit[CGROUPS_UNIT_MAX];	   /* "nginx.service", "" when none */
};

struct cgroups_stats {
	uint64_t lookups;
	uint64_t misses;    /* ids not found, even after a rescan */
	uint64_t rescans;   /* walks of the cgroup tree */
	uint64_t entries;   /* gauge */
	uint64_t truncated; /* cgroups left out of a walk by max_entries */
};

struct cgroups *cgroups__new(const struct cgroups_opts *opts);
void cgroups__free(struct cgroups *cg);

/* The cgroup v2 mount in use. */
const char *cgroups__root(const struct cgroups *cg);

/* Allows one rescan of the tree on the next miss. */
void cgroups__begin(struct cgroups *cg);

/* Names a cgroup id. 0, or -ENOENT when unknown (out is then empty). */
int cgroups__lookup(struct cgroups *cg, uint64_t id, struct cgroup_info *out);

/*
 * Derives the container id and the systemd unit from a cgroup path.
 * Exposed for tests.
 */
void cgroups__parse_path(const char *path, struct cgroup_info *out);

void cgroups__stats(const struct cgroups *cg, struct cgroups_stats *out);

#endif
