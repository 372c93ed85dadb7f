// SPDX-License-Identifier: GPL-2.0
#include "testutil.h"

int test__passed;
int test__failed;

int test__finish(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, test__passed, test__failed);
	if (test__passed == 0) {
		/* A test that checked nothing proves nothing. */
		fprintf(stderr, "%s: no checks ran\n", name);
		return 1;
	}
	return test__failed ? 1 : 0;
}
