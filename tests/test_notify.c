// SPDX-License-Identifier: GPL-2.0
/*
 * sd_notify against a datagram socket that plays systemd: READY with its
 * status, watchdog pings at half of WATCHDOG_USEC driven by the event loop,
 * RELOADING and STOPPING; nothing at all without NOTIFY_SOCKET.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"
#include "notify.h"
#include "testutil.h"

struct manager {
	int fd;
	char path[108];
	char dir[64];
	int ready, watchdog, reloading, stopping, other;
	char status[256];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_message(void *ctx, uint32_t events)
{
	struct manager *m = ctx;
	char buf[1024];
	ssize_t n;

	(void)events;
	while ((n = recv(m->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\0';
		if (strncmp(buf, "READY=1", 7) == 0) {
			const char *st = strstr(buf, "\nSTATUS=");

			m->ready++;
			snprintf(m->status, sizeof(m->status), "%s", st ? st + 8 : "");
		} else if (strcmp(buf, "WATCHDOG=1") == 0) {
			m->watchdog++;
		} else if (strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0) {
			m->reloading++;
		} else if (strcmp(buf, "STOPPING=1") == 0) {
			m->stopping++;
		} else {
			m->other++;
		}
	}
}

static int manager_open(struct manager *m, struct evloop *loop)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), "/tmp/sonde-notify.XXXXXX");
	if (!mkdtemp(m->dir))
		return -errno;
	snprintf(m->path, sizeof(m->path), "%s/notify", m->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->path);
	m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	return evloop__add(loop, m->fd, EPOLLIN, on_message, m);
}

static void manager_close(struct manager *m, struct evloop *loop)
{
	evloop__del(loop, m->fd);
	close(m->fd);
	unlink(m->path);
	rmdir(m->dir);
}

static void run_for(struct evloop *loop, uint64_t ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end)
		evloop__run_once(loop, 10);
}

static void test_with_watchdog(void)
{
	struct evloop *loop = evloop__new();
	struct notifier *n = NULL;
	struct manager m;
	char pid[16];
	uint64_t start;

	CHECK(loop != NULL);
	CHECK(manager_open(&m, loop) == 0);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("NOTIFY_SOCKET", m.path, 1);
	setenv("WATCHDOG_USEC", "100000", 1); /* 100 ms: a ping every 50 ms */
	setenv("WATCHDOG_PID", pid, 1);
	CHECK(notify__new(loop, &n) == 0);
	CHECK_EQ_U64(notify__watchdog_usec(n), 100000);

	notify__ready(n, "serving on http://127.0.0.1:6060/debug/pprof/");
	start = now_ms();
	/* Pings come from the loop alone: run it and count what the "manager" receives. */
	while (m.watchdog < 4 && now_ms() - start < 5000)
		evloop__run_once(loop, 10);
	CHECK(m.watchdog >= 4);
	/* Four pings at 50 ms take about 200 ms; far longer means the period is wrong. */
	CHECK(now_ms() - start >= 150 && now_ms() - start < 2000);
	CHECK_EQ_U64(notify__pings(n), (uint64_t)m.watchdog);
	CHECK_EQ_U64(m.ready, 1);
	CHECK_STR(m.status, "serving on http://127.0.0.1:6060/debug/pprof/");

	notify__reloading(n);
	notify__ready(n, NULL);
	notify__stopping(n);
	run_for(loop, 30);
	CHECK_EQ_U64(m.reloading, 1);
	CHECK_EQ_U64(m.ready, 2);
	CHECK_EQ_U64(m.stopping, 1);
	CHECK_EQ_U64(m.other, 0);

	/* After free no timer is left on the loop: no more pings. */
	notify__free(n);
	m.watchdog = 0;
	run_for(loop, 120);
	CHECK_EQ_U64(m.watchdog, 0);
	manager_close(&m, loop);
	evloop__free(loop);
}

static void test_watchdog_for_another_pid(void)
{
	struct evloop *loop = evloop__new();
	struct notifier *n = NULL;
	struct manager m;

	CHECK(manager_open(&m, loop) == 0);
	setenv("NOTIFY_SOCKET", m.path, 1);
	setenv("WATCHDOG_USEC", "100000", 1);
	setenv("WATCHDOG_PID", "1", 1); /* meant for another process */
	CHECK(notify__new(loop, &n) == 0);
	CHECK_EQ_U64(notify__watchdog_usec(n), 0);
	run_for(loop, 150);
	CHECK_EQ_U64(m.watchdog, 0);
	notify__free(n);
	manager_close(&m, loop);
	evloop__free(loop);
}

static void test_without_systemd(void)
{
	struct evloop *loop = evloop__new();
	struct notifier *n = NULL;

	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	CHECK(notify__new(loop, &n) == 0);
	CHECK(n != NULL);
	CHECK_EQ_U64(notify__watchdog_usec(n), 0);
	/* Nothing to talk to: no errors, nothing on the loop. */
	notify__ready(n, "x");
	notify__stopping(n);
	CHECK(evloop__run_once(loop, 20) == 0);
	notify__free(n);
	notify__free(NULL);
	evloop__free(loop);
}

int main(void)
{
	test_with_watchdog();
	test_watchdog_for_another_pid();
	test_without_systemd();
	return test__finish("test_notify");
}
