// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups.h"
#include "testutil.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_parse_path(void)
{
	struct cgroup_info i;

	cgroups__parse_path("/system.slice/nginx.service", &i);
	CHECK_STR(i.unit, "nginx.service");
	CHECK_STR(i.container_id, "");
	cgroups__parse_path("/system.slice/docker-" CID ".scope", &i);
	CHECK_STR(i.container_id, CID);
	CHECK_STR(i.unit, "docker-" CID ".scope");
	cgroups__parse_path("/kubepods.slice/kubepods-pod1.slice/cri-containerd-" CID ".scope", &i);
	CHECK_STR(i.container_id, CID);
	cgroups__parse_path("/docker/" CID, &i);
	CHECK_STR(i.container_id, CID);
	CHECK_STR(i.unit, "");
	cgroups__parse_path("/user.slice/user-0.slice/session-3.scope", &i);
	CHECK_STR(i.unit, "session-3.scope");
	/* 63 or 65 hex digits are not a container id. */
	cgroups__parse_path("/x/" CID "0", &i);
	CHECK_STR(i.container_id, "");
	cgroups__parse_path("/x/abc", &i);
	CHECK_STR(i.container_id, "");
	cgroups__parse_path("/", &i);
	CHECK_STR(i.unit, "");
	cgroups__parse_path("", &i);
	CHECK_STR(i.container_id, "");
}

static uint64_t ino_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (uint64_t)st.st_ino;
}

static void test_lookup_in_tree(void)
{
	char root[] = "/tmp/sonde-cg.XXXXXX", p[512], late[512];
	struct cgroups_opts o = {0};
	struct cgroups_stats st;
	struct cgroup_info i;
	struct cgroups *cg;

	CHECK(mkdtemp(root) != NULL);
	snprintf(p, sizeof(p), "%s/system.slice", root);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/system.slice/docker-%s.scope", root, CID);
	CHECK(mkdir(p, 0755) == 0);
	o.root = root;
	cg = cgroups__new(&o);
	CHECK(cg != NULL);

	CHECK(cgroups__lookup(cg, ino_of(p), &i) == 0);
	CHECK_STR(i.path, "/system.slice/docker-" CID ".scope");
	CHECK_STR(i.container_id, CID);
	CHECK(cgroups__lookup(cg, ino_of(root), &i) == 0);
	CHECK_STR(i.path, "/");

	/* A cgroup made after the walk: found only after the next begin. */
	snprintf(late, sizeof(late), "%s/system.slice/late.service", root);
	CHECK(mkdir(late, 0755) == 0);
	CHECK(cgroups__lookup(cg, ino_of(late), &i) == -ENOENT);
	CHECK_STR(i.path, "");
	cgroups__begin(cg);
	CHECK(cgroups__lookup(cg, ino_of(late), &i) == 0);
	CHECK_STR(i.unit, "late.service");
	/* Unknown ids cost at most one walk per begin. */
	CHECK(cgroups__lookup(cg, 1, &i) == -ENOENT);
	CHECK(cgroups__lookup(cg, 2, &i) == -ENOENT);
	cgroups__stats(cg, &st);
	CHECK_EQ_U64(st.rescans, 2);
	CHECK_EQ_U64(st.misses, 3);
	CHECK_EQ_U64(st.entries, 4);
	cgroups__free(cg);

	/* A cap on entries: the walk stops and says so. */
	o.max_entries = 2;
	cg = cgroups__new(&o);
	cgroups__lookup(cg, 1, &i);
	cgroups__stats(cg, &st);
	CHECK_EQ_U64(st.entries, 2);
	CHECK(st.truncated >= 1);
	cgroups__free(cg);
	cgroups__free(NULL);

	rmdir(late);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/system.slice", root);
	rmdir(p);
	rmdir(root);
}

static void test_real_tree(void)
{
	struct cgroups *cg = cgroups__new(NULL);
	struct cgroup_info i;
	char self[256] = "";
	FILE *f;

	/* This process's own cgroup (v2: "0::/path") must resolve to the same path. */
	f = fopen("/proc/self/cgroup", "re");
	if (f) {
		char line[300];

		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "0::", 3) == 0)
				sscanf(line + 3, "%255s", self);
		fclose(f);
	}
	if (self[0]) {
		char dir[1024];

		snprintf(dir, sizeof(dir), "%s%s", cgroups__root(cg),
			 strcmp(self, "/") ? self : "");
		CHECK(cgroups__lookup(cg, ino_of(dir), &i) == 0);
		CHECK_STR(i.path, self);
	} else {
		/* Every kernel sonde supports has cgroup v2 ("0::" in /proc/self/cgroup). */
		CHECK(!"no 0:: line in /proc/self/cgroup");
	}
	cgroups__free(cg);
}

int main(void)
{
	test_parse_path();
	test_lookup_in_tree();
	test_real_tree();
	return test__finish("test_cgroups");
}
