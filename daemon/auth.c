// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"

struct auth {
	size_t len;
	char token[];
};

bool auth__equal(const char *candidate, size_t candidate_len, const char *secret, size_t secret_len)
{
	/* volatile: the compiler must not stop at the first difference. */
	volatile uint8_t diff = candidate_len != secret_len;

	for (size_t i = 0; i < secret_len; i++) {
		uint8_t c = i < candidate_len ? (uint8_t)candidate[i] : 0;

		diff |= c ^ (uint8_t)secret[i];
	}
	return diff == 0;
}

bool auth__check(const struct auth *a, const char *authorization)
{
	const char *p = authorization;

	if (!a || !p)
		return false;
	/* RFC 6750: the scheme is case-insensitive, then one or more spaces. */
	if (strncasecmp(p, "Bearer", 6) || (p[6] != ' ' && p[6] != '\t'))
		return false;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	return auth__equal(p, strlen(p), a->token, a->len);
}

/*
 * Reads at most max bytes of a regular file. 0, -EINVAL when it is not a
 * regular file, -EPERM when every user may read or write it, or -errno.
 */
static int read_small_file(const char *path, char *buf, size_t max, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto out_close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out_close_fd;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		rc = -EPERM;
		goto out_close_fd;
	}
	while (got < max && (n = read(fd, buf + got, max - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out_close_fd;
		}
		got += (size_t)n;
	}
	*len = got;

out_close_fd:
	close(fd);
	return rc;
}

int auth__new(const char *path, struct auth **out, char *err, size_t err_len)
{
	char buf[AUTH_TOKEN_MAX + 2];
	size_t len = 0, n;
	struct auth *a;
	int rc;

	rc = read_small_file(path, buf, sizeof(buf), &len);
	if (rc) {
		snprintf(err, err_len, "cannot read the auth token file %s: %s", path,
			 rc == -EINVAL	? "not a regular file"
			 : rc == -EPERM ? "every user may read it (chmod o-rwx it)"
					: strerror(-rc));
		return rc;
	}
	for (n = 0; n < len && buf[n] != '\n'; n++)
		;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	rc = -EINVAL;
	if (n < AUTH_TOKEN_MIN || n > AUTH_TOKEN_MAX) {
		snprintf(err, err_len,
			 "the auth token in %s must be %d to %d characters long (got %s%zu); "
			 "e.g. openssl rand -hex 32",
			 path, AUTH_TOKEN_MIN, AUTH_TOKEN_MAX,
			 n > AUTH_TOKEN_MAX ? "more than " : "",
			 n > AUTH_TOKEN_MAX ? (size_t)AUTH_TOKEN_MAX : n);
		goto out_wipe;
	}
	for (size_t i = 0; i < n; i++) {
		if (buf[i] <= ' ' || buf[i] > '~') {
			snprintf(err, err_len,
				 "the auth token in %s has a blank or a non-printable character",
				 path);
			goto out_wipe;
		}
	}
	a = malloc(sizeof(*a) + n + 1);
	if (!a) {
		rc = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		goto out_wipe;
	}
	a->len = n;
	memcpy(a->token, buf, n);
	a->token[n] = '\0';
	*out = a;
	rc = 0;

out_wipe:
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

void auth__free(struct auth *a)
{
	if (!a)
		return;
	explicit_bzero(a->token, a->len);
	free(a);
}
