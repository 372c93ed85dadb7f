/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Talking to the service manager (sd_notify): READY once serving, RELOADING
 * around a SIGHUP reload, STOPPING on the way out, and WATCHDOG pings from a
 * timerfd on the event loop at half the interval systemd asks for
 * (WATCHDOG_USEC), so a loop that hangs stops pinging and gets restarted.
 * Without NOTIFY_SOCKET (run by hand) every call does nothing.
 */
#ifndef SONDE_NOTIFY_H
#define SONDE_NOTIFY_H

#include <stdint.h>

#include "evloop.h"

struct notifier;

/* 0 or -errno. The watchdog timer is on loop from here on when systemd asked for one. */
int notify__new(struct evloop *loop, struct notifier **out);
/* Stops the watchdog timer. Accepts NULL. */
void notify__free(struct notifier *n);

/* READY=1 with a STATUS= line (may be NULL). */
void notify__ready(struct notifier *n, const char *status);
void notify__reloading(struct notifier *n);
void notify__stopping(struct notifier *n);

/* The watchdog interval systemd asked for, in µs; 0 when there is none. */
uint64_t notify__watchdog_usec(const struct notifier *n);
/* WATCHDOG=1 messages sent so far. */
uint64_t notify__pings(const struct notifier *n);

#endif
