// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <sys/capability.h>

#include "privs.h"

/* What a running sonde needs; privs.h says what for. */
static const cap_value_t runtime_caps[] = {CAP_BPF, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
					   CAP_SYSLOG};
#define N_RUNTIME_CAPS (sizeof(runtime_caps) / sizeof(runtime_caps[0]))

int privs__lookup(const char *name, uid_t *uid, gid_t *gid, char *err, size_t err_len)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc;

	rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (rc || !res) {
		if (!rc)
			rc = ENOENT;
		snprintf(err, err_len, "cannot switch to user '%s': %s", name,
			 rc == ENOENT ? "no such user" : strerror(rc));
		return -rc;
	}
	*uid = res->pw_uid;
	*gid = res->pw_gid;
	return 0;
}

static bool has_flag(cap_t caps, cap_value_t cap, cap_flag_t flag)
{
	cap_flag_value_t v = CAP_CLEAR;

	return cap_get_flag(caps, cap, flag, &v) == 0 && v == CAP_SET;
}

/* Drops every capability but the run-time ones from the bounding set; needs CAP_SETPCAP. */
static int drop_bounding(cap_t now, char *err, size_t err_len)
{
	if (!has_flag(now, CAP_SETPCAP, CAP_EFFECTIVE))
		return 0; /* the service manager has set it (CapabilityBoundingSet=) */
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		bool keep = false;

		for (size_t i = 0; i < N_RUNTIME_CAPS; i++)
			keep |= runtime_caps[i] == c;
		if (keep || CAP_IS_SUPPORTED(c) == 0)
			continue;
		if (cap_drop_bound(c) && errno != EINVAL) {
			int e = errno;

			snprintf(err, err_len, "cannot drop %s from the bounding set: %s",
				 cap_to_name(c), strerror(e));
			return -e;
		}
	}
	return 0;
}

static int switch_user(const char *user, char *err, size_t err_len)
{
	uid_t uid;
	gid_t gid;
	int rc;

	rc = privs__lookup(user, &uid, &gid, err, err_len);
	if (rc)
		return rc;
	/* Keep the permitted set across the change of uid; it is trimmed right after. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid)) {
		rc = -errno;
		snprintf(err, err_len, "cannot switch to user '%s' (uid %u): %s", user,
			 (unsigned int)uid, strerror(-rc));
		return rc;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}

int privs__drop(const char *user, char *err, size_t err_len)
{
	cap_value_t keep[N_RUNTIME_CAPS];
	int n_keep = 0, rc = 0;
	cap_t now, want;

	now = cap_get_proc();
	if (!now) {
		rc = -errno;
		snprintf(err, err_len, "cannot read capabilities: %s", strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < N_RUNTIME_CAPS; i++)
		if (has_flag(now, runtime_caps[i], CAP_PERMITTED))
			keep[n_keep++] = runtime_caps[i];
	rc = drop_bounding(now, err, err_len);
	if (rc)
		goto out_free_now;
	if (user && *user) {
		rc = switch_user(user, err, err_len);
		if (rc)
			goto out_free_now;
	}

	want = cap_init();
	if (!want) {
		rc = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		goto out_free_now;
	}
	if ((n_keep && (cap_set_flag(want, CAP_PERMITTED, n_keep, keep, CAP_SET) ||
			cap_set_flag(want, CAP_EFFECTIVE, n_keep, keep, CAP_SET))) ||
	    cap_set_proc(want)) {
		rc = -errno;
		snprintf(err, err_len, "cannot set capabilities: %s", strerror(-rc));
		goto out_free_want;
	}
	/* Nothing is passed on to programs we might run, and nothing can be gained back. */
	if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient()) {
		rc = -errno;
		snprintf(err, err_len, "cannot clear the ambient capabilities: %s", strerror(-rc));
		goto out_free_want;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		rc = -errno;
		snprintf(err, err_len, "cannot set no_new_privs: %s", strerror(-rc));
	}

out_free_want:
	cap_free(want);
out_free_now:
	cap_free(now);
	return rc;
}

void privs__describe(char *buf, size_t len)
{
	cap_t now = cap_get_proc();
	char *text = now ? cap_to_text(now, NULL) : NULL;

	snprintf(buf, len, "%s", text ? text : "(unknown)");
	cap_free(text);
	cap_free(now);
}
