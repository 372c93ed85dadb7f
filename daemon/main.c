// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "loader.h"
#include "log.h"
#include "sonde.h"

int main(int argc, char **argv)
{
	struct sonde *s = NULL;
	struct config cfg;
	char err[512];
	int rc;

	config__defaults(&cfg);
	rc = config__parse_args(&cfg, argc, argv, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "sonde: %s\n", err);
		return 2;
	}
	if (rc == CONFIG_HELP) {
		config__usage(stdout);
		return 0;
	}
	if (rc == CONFIG_VERSION) {
		printf("sonde %s\n", SONDE_VERSION);
		return 0;
	}
	log__set_level(cfg.log_level);

	if (loader__check_environment(err, sizeof(err))) {
		fprintf(stderr, "sonde: %s\n", err);
		return 1;
	}
	rc = sonde__new(&cfg, &s, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "sonde: %s\n", err);
		return 1;
	}
	rc = sonde__run(s);
	sonde__free(s);
	if (rc) {
		fprintf(stderr, "sonde: event loop failed: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
