/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fuzz target: the settings file. The input is the file's contents, read
 * through a memfd by the same loader the daemon uses, with every check that
 * follows (conffile__validate).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conffile.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	char *argv[] = {"sonde", "--config", path, NULL};
	char *envp[] = {NULL};
	struct config cfg;
	int fd = memfd_create("sonde.conf", MFD_CLOEXEC), rc;

	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = conffile__load(&cfg, 3, argv, envp, "/nonexistent/sonde.conf", err, sizeof(err));
	if (rc == CONFIG_RUN)
		rc = conffile__validate(&cfg, err, sizeof(err));
	/* An error is one line. */
	if (rc < 0 && strchr(err, '\n'))
		abort();
	close(fd);
	return 0;
}
