// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conffile.h"
#include "config.h"
#include "loader.h"
#include "log.h"
#include "privs.h"
#include "sonde.h"
#include "tls.h"

extern char **environ;

/* What a reload re-reads: the same command line and environment, the file anew. */
struct args {
	int argc;
	char **argv;
};

static int reload_settings(void *ctx, struct config *out, char *err, size_t err_len)
{
	const struct args *a = ctx;
	int rc;

	rc = conffile__load(out, a->argc, a->argv, environ, CONFIG_DEFAULT_FILE, err, err_len);
	return rc < 0 ? rc : 0;
}

/* --check-config: the settings parsed, then every file and user they name. */
static int check_config(const struct config *cfg, char *err, size_t err_len)
{
	struct tls_creds *tls = NULL;
	struct auth *auth = NULL;
	uid_t uid;
	gid_t gid;
	int rc;

	if (cfg->auth_token_file[0]) {
		rc = auth__new(cfg->auth_token_file, &auth, err, err_len);
		auth__free(auth);
		if (rc)
			return rc;
	}
	if (cfg->tls_cert[0]) {
		rc = tls__load(cfg->tls_cert, cfg->tls_key, &tls, err, err_len);
		tls__free(tls);
		if (rc)
			return rc;
	}
	if (cfg->user[0])
		return privs__lookup(cfg->user, &uid, &gid, err, err_len);
	return 0;
}

/*
 * Least privilege once everything is open: with --user, or when started
 * unprivileged with capabilities (the systemd unit). Root without --user keeps
 * what it has.
 */
static int drop_privileges(const struct config *cfg)
{
	char err[512], caps[256];
	int rc;

	if (!cfg->user[0] && geteuid() == 0) {
		log_info("running as root with every capability; --user NAME drops them");
		return 0;
	}
	rc = privs__drop(cfg->user, err, sizeof(err));
	if (rc) {
		log_error("%s", err);
		return rc;
	}
	privs__describe(caps, sizeof(caps));
	log_info("running as uid %u with capabilities %s", (unsigned int)getuid(), caps);
	return 0;
}

int main(int argc, char **argv)
{
	struct args args = {argc, argv};
	struct sonde *s = NULL;
	struct config cfg;
	char err[1024];
	int rc;

	rc = conffile__load(&cfg, argc, argv, environ, CONFIG_DEFAULT_FILE, err, sizeof(err));
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
	log__detect_journal();
	if (cfg.check_config) {
		if (check_config(&cfg, err, sizeof(err))) {
			fprintf(stderr, "sonde: %s\n", err);
			return 2;
		}
		printf("sonde: settings are valid (settings file: %s)\n",
		       cfg.config_file[0] ? cfg.config_file : "none");
		return 0;
	}

	if (cfg.user[0]) {
		uid_t uid;
		gid_t gid;

		if (privs__lookup(cfg.user, &uid, &gid, err, sizeof(err))) {
			fprintf(stderr, "sonde: %s\n", err);
			return 2;
		}
	}
	if (loader__check_environment(err, sizeof(err))) {
		fprintf(stderr, "sonde: %s\n", err);
		return 1;
	}
	rc = sonde__new(&cfg, &s, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "sonde: %s\n", err);
		return 1;
	}
	if (drop_privileges(&cfg)) {
		sonde__free(s);
		return 1;
	}
	sonde__set_reload(s, reload_settings, &args);
	rc = sonde__run(s);
	sonde__free(s);
	if (rc) {
		fprintf(stderr, "sonde: event loop failed: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
