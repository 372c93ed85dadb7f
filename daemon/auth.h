/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bearer-token authentication of HTTP requests. The token is the first line
 * of a file (--auth-token-file); a request is let in when it carries
 * "Authorization: Bearer TOKEN". The comparison takes the same time whatever
 * the content of the candidate, so response times tell nothing about the token.
 */
#ifndef SONDE_AUTH_H
#define SONDE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_TOKEN_MIN 16
#define AUTH_TOKEN_MAX 4096

struct auth;

/*
 * Reads the token from path: its first line without the line ending, of
 * AUTH_TOKEN_MIN to AUTH_TOKEN_MAX printable characters and no blanks.
 * 0 or -errno with a one-line reason in err.
 */
int auth__new(const char *path, struct auth **out, char *err, size_t err_len);
/* Wipes the token. Accepts NULL. */
void auth__free(struct auth *a);

/* Whether the value of an Authorization header (may be NULL) carries the token. */
bool auth__check(const struct auth *a, const char *authorization);

/* Constant-time equality of a candidate against a secret: the time depends on secret_len only. */
bool auth__equal(const char *candidate, size_t candidate_len, const char *secret,
		 size_t secret_len);

#endif
