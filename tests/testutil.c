// SPDX-License-Identifier: GPL-2.0
#include <string.h>

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

uint64_t test__kernel_symbol(const char *name)
{
	char line[512], sym[256], type;
	unsigned long long addr;
	uint64_t found = 0;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 && !strcmp(sym, name)) {
			found = addr;
			break;
		}
	fclose(f);
	return found;
}
