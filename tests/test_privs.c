// SPDX-License-Identifier: GPL-2.0
/*
 * Dropping privileges, in a child process so that the test itself keeps
 * its own: as root, the child ends up as nobody with exactly the run-time
 * capabilities, no ambient or inheritable ones, a bounding set that cannot
 * give more back, and no_new_privs. Without root, switching users fails with
 * one clear line.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privs.h"
#include "testutil.h"

/* The value of a "Key:\tVALUE" line of /proc/self/status, into out. */
static int status_field(const char *key, char *out, size_t len)
{
	char line[256];
	size_t klen = strlen(key);
	FILE *f = fopen("/proc/self/status", "re");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		snprintf(out, len, "%s", line + klen + 2);
		out[strcspn(out, "\n")] = '\0';
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

static unsigned long long status_caps(const char *key)
{
	char v[64] = "";

	if (status_field(key, v, sizeof(v)))
		return ~0ull;
	return strtoull(v, NULL, 16);
}

#define BIT(c) (1ull << (c))

/* Runs in the child; returns the number of failed checks. */
static int child_checks(void)
{
	const unsigned long long want =
		BIT(CAP_BPF) | BIT(CAP_SYS_PTRACE) | BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_SYSLOG);
	char err[256] = "", v[64] = "";
	uid_t uid;
	gid_t gid;

	CHECK(privs__lookup("nobody", &uid, &gid, err, sizeof(err)) == 0);
	CHECK(privs__drop("nobody", err, sizeof(err)) == 0);
	if (err[0])
		fprintf(stderr, "privs__drop: %s\n", err);
	CHECK_EQ_U64(getuid(), uid);
	CHECK_EQ_U64(geteuid(), uid);
	CHECK_EQ_U64(getgid(), gid);
	CHECK_EQ_U64(getgroups(0, NULL), 0);
	CHECK_EQ_U64(status_caps("CapEff"), want);
	CHECK_EQ_U64(status_caps("CapPrm"), want);
	CHECK_EQ_U64(status_caps("CapInh"), 0);
	CHECK_EQ_U64(status_caps("CapAmb"), 0);
	CHECK_EQ_U64(status_caps("CapBnd"), want);
	CHECK(status_field("NoNewPrivs", v, sizeof(v)) == 0 && strcmp(v, "1") == 0);
	/* Nothing gives root back. */
	CHECK(setuid(0) == -1);
	privs__describe(v, sizeof(v));
	CHECK(strstr(v, "cap_bpf") != NULL && strstr(v, "=ep") != NULL);
	return test__failed;
}

static void test_drop_as_root(void)
{
	int status = 0;
	pid_t pid;

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int failed = child_checks();

		fflush(stderr);
		_exit(failed ? 1 : 0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Without CAP_SETUID the switch fails with one line, and nothing is half done. */
static void test_drop_without_root(void)
{
	char err[256] = "";
	int status = 0;
	pid_t pid;

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int rc = 0;

		if (getuid() == 0) {
			/* Become an ordinary user with no capabilities first. */
			cap_t none = cap_init();

			rc = setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
			     setresuid(65534, 65534, 65534) || cap_set_proc(none);
			cap_free(none);
		}
		if (rc)
			_exit(2);
		rc = privs__drop("root", err, sizeof(err));
		_exit(rc == -EPERM && strstr(err, "cannot switch to user 'root' (uid 0)") &&
				      !strchr(err, '\n')
			      ? 0
			      : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_lookup(void)
{
	char err[256] = "";
	uid_t uid = 7;
	gid_t gid = 7;

	CHECK(privs__lookup("root", &uid, &gid, err, sizeof(err)) == 0);
	CHECK_EQ_U64(uid, 0);
	CHECK_EQ_U64(gid, 0);
	CHECK(privs__lookup("no-such-user-sonde", &uid, &gid, err, sizeof(err)) == -ENOENT);
	CHECK_STR(err, "cannot switch to user 'no-such-user-sonde': no such user");
}

int main(void)
{
	test_lookup();
	test_drop_without_root();
	if (getuid() == 0)
		test_drop_as_root();
	else
		printf("note: not root, so the full drop is checked by "
		       "tests/integration/privileges.sh only\n");
	return test__finish("test_privs");
}
