// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "labels.h"
#include "testutil.h"

#define CID "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void test_parse(void)
{
	char err[200] = "";
	uint32_t m = 0;

	CHECK(labels__parse("pid,comm", &m, err, sizeof(err)) == 0);
	CHECK_EQ_U64(m, LABEL_PID | LABEL_COMM);
	CHECK(labels__parse("container_id,unit,cgroup,tid,thread_name", &m, err, sizeof(err)) == 0);
	CHECK_EQ_U64(m,
		     LABEL_CONTAINER | LABEL_UNIT | LABEL_CGROUP | LABEL_TID | LABEL_THREAD_NAME);
	CHECK(labels__parse("none", &m, err, sizeof(err)) == 0);
	CHECK_EQ_U64(m, 0);
	CHECK(labels__parse("pid,bogus", &m, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "'bogus'") != NULL);
	CHECK(labels__parse("pid,", &m, err, sizeof(err)) == -EINVAL);
	CHECK(labels__parse(",pid", &m, err, sizeof(err)) == -EINVAL);
	CHECK(labels__parse("", &m, err, sizeof(err)) == -EINVAL);
	CHECK(labels__parse("pi", &m, err, sizeof(err)) == -EINVAL);
	CHECK(labels__parse("pidx", &m, err, sizeof(err)) == -EINVAL);
}

static const char *label(const struct label_values *lv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(lv->labels[i].key, key) == 0)
			return lv->labels[i].str;
	return NULL;
}

static void test_labels_and_filters(void)
{
	char root[] = "/tmp/sonde-labels.XXXXXX", slice[300], scope[400];
	struct cgroups_opts co = {0};
	struct label_values lv;
	struct cgroups *cg;
	struct stat st;
	size_t n;
	struct agg_sample e = {.pid = 42, .tid = 43, .comm = "nginx", .thread_name = ""};
	struct entry_filter f = {0};

	CHECK(mkdtemp(root) != NULL);
	snprintf(slice, sizeof(slice), "%s/system.slice", root);
	snprintf(scope, sizeof(scope), "%s/docker-%s.scope", slice, CID);
	CHECK(mkdir(slice, 0755) == 0 && mkdir(scope, 0755) == 0);
	CHECK(stat(scope, &st) == 0);
	co.root = root;
	cg = cgroups__new(&co);
	e.cgroup_id = st.st_ino;

	n = labels__for_entry(LABELS_DEFAULT, cg, &e, &lv);
	CHECK_STR(label(&lv, n, "pid"), "42");
	CHECK_STR(label(&lv, n, "comm"), "nginx");
	CHECK_STR(label(&lv, n, "thread_name"), "[unknown]");
	CHECK_STR(label(&lv, n, "container_id"), CID);
	CHECK_STR(label(&lv, n, "unit"), "docker-" CID ".scope");
	CHECK(label(&lv, n, "cgroup") == NULL);
	CHECK(label(&lv, n, "tid") == NULL);
	n = labels__for_entry(LABEL_CGROUP | LABEL_TID, cg, &e, &lv);
	CHECK_EQ_U64(n, 2);
	CHECK_STR(label(&lv, n, "cgroup"), "/system.slice/docker-" CID ".scope");
	CHECK_STR(label(&lv, n, "tid"), "43");
	CHECK_EQ_U64(labels__for_entry(0, cg, &e, &lv), 0);
	/* No resolver: the cgroup labels are left out, not empty. */
	n = labels__for_entry(LABELS_DEFAULT, NULL, &e, &lv);
	CHECK_EQ_U64(n, 3);

	/* Filters. */
	CHECK(labels__filter_is_empty(&f));
	CHECK(labels__match(&f, cg, &e));
	f.pid = 42;
	CHECK(labels__match(&f, cg, &e));
	f.pid = 7;
	CHECK(!labels__match(&f, cg, &e));
	f.pid = 0;
	f.comm = "nginx";
	CHECK(labels__match(&f, cg, &e));
	f.comm = "ngin";
	CHECK(!labels__match(&f, cg, &e));
	f.comm = NULL;
	f.container = CID;
	CHECK(labels__match(&f, cg, &e));
	f.container = "fedcba987654";
	CHECK(labels__match(&f, cg, &e));
	f.container = "fedcba98765"; /* too short to mean one container */
	CHECK(!labels__match(&f, cg, &e));
	f.container = NULL;
	f.cgroup = "/system.slice";
	CHECK(labels__match(&f, cg, &e));
	f.cgroup = "/system.slice/";
	CHECK(labels__match(&f, cg, &e));
	f.cgroup = "/system.sli";
	CHECK(!labels__match(&f, cg, &e));
	f.cgroup = "/";
	CHECK(labels__match(&f, cg, &e));
	f.cgroup = NULL;
	f.unit = "docker-" CID ".scope";
	CHECK(labels__match(&f, cg, &e));
	f.unit = "sshd.service";
	CHECK(!labels__match(&f, cg, &e));
	CHECK(!labels__filter_is_empty(&f));
	/* Unknown cgroup or no resolver: a cgroup filter keeps nothing. */
	f.unit = NULL;
	f.cgroup = "/";
	CHECK(!labels__match(&f, NULL, &e));
	e.cgroup_id = 1;
	CHECK(!labels__match(&f, cg, &e));

	cgroups__free(cg);
	rmdir(scope);
	rmdir(slice);
	rmdir(root);
}

int main(void)
{
	test_parse();
	test_labels_and_filters();
	return test__finish("test_labels");
}
