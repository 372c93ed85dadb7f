// SPDX-License-Identifier: GPL-2.0
/* Bearer tokens: reading the token file, the header's form, the comparison. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "testutil.h"

static char dir[64];

static void write_file(char *path, size_t len, const char *name, const char *text, size_t n)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(text, 1, n, f) == n);
	fclose(f);
	chmod(path, 0600);
}

#define TOKEN "0123456789abcdef-Token_v1.5~x"

static void test_load_and_check(void)
{
	struct auth *a = NULL;
	char path[128], err[256] = "";

	write_file(path, sizeof(path), "t1", TOKEN "\nsecond line is ignored\n",
		   strlen(TOKEN "\nsecond line is ignored\n"));
	CHECK(auth__new(path, &a, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	CHECK(auth__check(a, "Bearer " TOKEN));
	CHECK(auth__check(a, "bearer " TOKEN)); /* the scheme is case-insensitive */
	CHECK(auth__check(a, "BEARER   " TOKEN));
	CHECK(!auth__check(a, NULL));
	CHECK(!auth__check(a, ""));
	CHECK(!auth__check(a, "Bearer"));
	CHECK(!auth__check(a, "Bearer "));
	CHECK(!auth__check(a, "Bearer" TOKEN));
	CHECK(!auth__check(a, "Basic " TOKEN));
	CHECK(!auth__check(a, TOKEN));
	CHECK(!auth__check(a, "Bearer " TOKEN "x"));			/* longer */
	CHECK(!auth__check(a, "Bearer 0123456789abcdef"));		/* a prefix */
	CHECK(!auth__check(a, "Bearer 1123456789abcdef-Token_v1.5~x")); /* first byte */
	CHECK(!auth__check(a, "Bearer 0123456789abcdef-Token_v1.5~y")); /* last byte */
	CHECK(!auth__check(a, "Bearer " TOKEN " ")); /* the token has no blanks */
	CHECK(!auth__check(NULL, "Bearer " TOKEN));
	auth__free(a);
	auth__free(NULL);

	/* CRLF line ending, and no line ending at all. */
	write_file(path, sizeof(path), "t2", TOKEN "\r\n", strlen(TOKEN "\r\n"));
	CHECK(auth__new(path, &a, err, sizeof(err)) == 0);
	CHECK(auth__check(a, "Bearer " TOKEN));
	auth__free(a);
	write_file(path, sizeof(path), "t3", TOKEN, strlen(TOKEN));
	CHECK(auth__new(path, &a, err, sizeof(err)) == 0);
	CHECK(auth__check(a, "Bearer " TOKEN));
	auth__free(a);
}

static void expect_refused(const char *name, const char *text, size_t n, int rc, const char *want)
{
	struct auth *a = NULL;
	char path[128], err[256] = "";

	write_file(path, sizeof(path), name, text, n);
	CHECK(auth__new(path, &a, err, sizeof(err)) == rc);
	CHECK(a == NULL);
	CHECK(strchr(err, '\n') == NULL);
	if (strstr(err, want)) {
		test__passed++;
	} else {
		test__failed++;
		fprintf(stderr, "%s: expected \"%s\" in \"%s\"\n", name, want, err);
	}
}

static void test_refused(void)
{
	static char huge[AUTH_TOKEN_MAX + 10];
	struct auth *a = NULL;
	char err[256];

	expect_refused("empty", "", 0, -EINVAL, "must be 16 to 4096 characters long (got 0)");
	expect_refused("newline", "\n" TOKEN "\n", strlen(TOKEN) + 2, -EINVAL, "(got 0)");
	expect_refused("short", "short-token\n", 12, -EINVAL, "(got 11)");
	expect_refused("blank", "0123456789 abcdefgh\n", 20, -EINVAL, "blank or a non-printable");
	expect_refused("tab", "0123456789\tabcdefgh\n", 20, -EINVAL, "blank or a non-printable");
	expect_refused("nul", "0123456789\0abcdefgh\n", 20, -EINVAL, "non-printable");
	expect_refused("utf8", "0123456789abcdef\xc3\xa9\n", 19, -EINVAL, "non-printable");
	memset(huge, 'x', sizeof(huge));
	expect_refused("huge", huge, sizeof(huge), -EINVAL, "got more than 4096");
	CHECK(auth__new("/nonexistent/token", &a, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "cannot read the auth token file /nonexistent/token: No such file") !=
	      NULL);
	CHECK(auth__new(dir, &a, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "not a regular file") != NULL);
	CHECK(a == NULL);
}

static void test_equal(void)
{
	CHECK(auth__equal("abc", 3, "abc", 3));
	CHECK(!auth__equal("abd", 3, "abc", 3));
	CHECK(!auth__equal("ab", 2, "abc", 3));
	CHECK(!auth__equal("abcd", 4, "abc", 3));
	/* A candidate that is the secret followed by NULs is still longer. */
	CHECK(!auth__equal("abc\0", 4, "abc", 3));
	CHECK(!auth__equal("", 0, "abc", 3));
	CHECK(auth__equal("", 0, "", 0));
}

int main(void)
{
	char cmd[96];

	snprintf(dir, sizeof(dir), "/tmp/sonde-test-auth.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	test_load_and_check();
	test_refused();
	test_equal();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return test__finish("test_auth");
}
