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
/* Runs until SIGINT or SIGTERM. 0 or -errno. */
int sonde__run(struct sonde *s);
/* Releases every BPF link, perf fd and socket. Accepts NULL. */
void sonde__free(struct sonde *s);

#endif
