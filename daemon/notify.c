// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "clock.h"
#include "log.h"
#include "notify.h"

struct notifier {
	struct evloop *loop;
	uint64_t watchdog_usec;
	uint64_t pings;
	int timer_fd; /* -1 without a watchdog */
};

static void send_state(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		log_warn("cannot notify the service manager: %s", strerror(-rc));
}

static void on_watchdog(void *ctx, uint32_t events)
{
	struct notifier *n = ctx;
	uint64_t ticks;

	(void)events;
	if (read(n->timer_fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	send_state("WATCHDOG=1");
	n->pings++;
}

int notify__new(struct evloop *loop, struct notifier **out)
{
	struct notifier *n;
	uint64_t usec = 0;
	int rc;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->loop = loop;
	n->timer_fd = -1;
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process. */
	rc = sd_watchdog_enabled(0, &usec);
	if (rc <= 0 || usec == 0) {
		*out = n;
		return 0;
	}
	n->watchdog_usec = usec;
	/* Half the interval, as sd_watchdog_enabled(3) advises; at least 1 ms. */
	rc = evloop__timerfd(usec / 2000 ? usec / 2000 : 1, 1);
	if (rc < 0)
		goto err_free_notifier;
	n->timer_fd = rc;
	rc = evloop__add(loop, n->timer_fd, EPOLLIN, on_watchdog, n);
	if (rc)
		goto err_close_timer;
	*out = n;
	return 0;

err_close_timer:
	close(n->timer_fd);
err_free_notifier:
	free(n);
	return rc;
}

void notify__free(struct notifier *n)
{
	if (!n)
		return;
	if (n->timer_fd >= 0) {
		evloop__del(n->loop, n->timer_fd);
		close(n->timer_fd);
	}
	free(n);
}

void notify__ready(struct notifier *n, const char *status)
{
	char msg[512];

	if (!n)
		return;
	snprintf(msg, sizeof(msg), "READY=1%s%s", status ? "\nSTATUS=" : "", status ? status : "");
	send_state(msg);
}

void notify__reloading(struct notifier *n)
{
	char msg[96];

	if (!n)
		return;
	/* MONOTONIC_USEC is what Type=notify-reload (systemd 253+) wants; older ones ignore it. */
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)(clock__monotonic_ns() / 1000));
	send_state(msg);
}

void notify__stopping(struct notifier *n)
{
	if (n)
		send_state("STOPPING=1");
}

uint64_t notify__watchdog_usec(const struct notifier *n)
{
	return n ? n->watchdog_usec : 0;
}

uint64_t notify__pings(const struct notifier *n)
{
	return n ? n->pings : 0;
}
