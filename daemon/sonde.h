/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon as a whole: wires the loader, collector, symbolizer and HTTP
 * server to one event loop, with a signalfd for SIGINT/SIGTERM and a timerfd
 * that drains the ring buffer.
 */
#ifndef SONDE_SONDE_H
#define SONDE_SONDE_H

#include <stddef.h>

#include "config.h"

struct sonde;

/* 0 or -errno with a one-line reason in err. Signals are blocked from here on. */
int sonde__new(const struct config *cfg, struct sonde **out, char *err, size_t err_len);
/* Runs until SIGINT or SIGTERM; SIGHUP reloads. Tells systemd READY, STOPPING, WATCHDOG. */
int sonde__run(struct sonde *s);
/* Produces the settings a reload applies: 0, or -errno with a one-line reason in err. */
typedef int (*sonde_reload_fn)(void *ctx, struct config *out, char *err, size_t err_len);
/* SIGHUP reads the settings again through fn (without it, SIGHUP changes nothing). */
void sonde__set_reload(struct sonde *s, sonde_reload_fn fn, void *ctx);
/*
 * Applies what can change while running: the log level and the bearer token
 * (read again, so a rotated token takes effect). Logs that any other change
 * needs a restart. 0, or -errno when the new token cannot be read (the old
 * one stays).
 */
int sonde__reload(struct sonde *s, const struct config *next);
/* Releases every BPF link, perf fd and socket. Accepts NULL. */
void sonde__free(struct sonde *s);

#endif
