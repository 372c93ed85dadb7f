/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where settings come from, highest precedence first:
 *   1. command-line options;
 *   2. SONDE_* environment variables, one per long option
 *      (--offcpu-min → SONDE_OFFCPU_MIN; switches take true/false, 1/0, yes/no, on/off);
 *   3. the settings file: --config FILE, else $SONDE_CONFIG, else the default
 *      (/etc/sonde/sonde.conf, which may be absent): "key = value" lines with keys
 *      named like the long options, '#' comment lines and blank lines.
 * Each value goes through the same validation as the option, even one that a
 * higher source overrides, and an error names its source ("sonde.conf:3: ...",
 * "SONDE_FREQUENCY: ...") on one line.
 * Environment variables that name no option (SONDE_BIN) are ignored.
 */
#ifndef SONDE_CONFFILE_H
#define SONDE_CONFFILE_H

#include <stddef.h>

#include "config.h"

/*
 * Fills cfg from defaults, the file, envp and argv. Returns the action
 * (CONFIG_RUN, CONFIG_HELP, CONFIG_VERSION), or -EINVAL / -errno with a
 * one-line reason in err. cfg->config_file is the file actually read ("" when
 * the default file is absent).
 */
int conffile__load(struct config *cfg, int argc, char **argv, char *const *envp,
		   const char *default_file, char *err, size_t err_len);

/* Checks that go across settings (a TLS certificate needs its key). 0 or -EINVAL. */
int conffile__validate(const struct config *cfg, char *err, size_t err_len);

#endif
