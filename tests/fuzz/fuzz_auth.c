/* SPDX-License-Identifier: GPL-2.0 */
/* Fuzz target: the Authorization header against a known token. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth *the_auth;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/sonde-fuzz-token.XXXXXX", err[256];
	int fd = mkstemp(path);

	(void)argc;
	(void)argv;
	if (fd < 0 || write(fd, "s3cret-token-0123456789abcdefghij\n", 34) != 34 ||
	    auth__new(path, &the_auth, err, sizeof(err))) {
		fprintf(stderr, "fuzz_auth: cannot set up a token: %s\n", path);
		abort();
	}
	close(fd);
	unlink(path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	bool ok;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	ok = auth__check(the_auth, s);
	/* Only the token itself, after the scheme, may pass. */
	if (ok && !strstr(s, "s3cret-token-0123456789abcdefghij"))
		abort();
	free(s);
	return 0;
}
