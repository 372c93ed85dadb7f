// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evloop.h"
#include "testutil.h"

struct ctx {
	struct evloop *loop;
	int fd;
	int other_fd;
	int calls;
	int stop_after;
};

static void on_event(void *arg, uint32_t events)
{
	struct ctx *c = arg;
	uint64_t v;

	CHECK(events & EPOLLIN);
	if (read(c->fd, &v, sizeof(v)) < 0)
		return;
	c->calls++;
	if (c->other_fd >= 0) {
		/* Removing another handler whose event is pending in this round must be safe. */
		evloop__del(c->loop, c->other_fd);
		c->other_fd = -1;
	}
	if (c->stop_after && c->calls >= c->stop_after)
		evloop__stop(c->loop);
}

static void test_dispatch_and_remove(void)
{
	struct evloop *loop = evloop__new();
	struct ctx a = {.loop = loop, .other_fd = -1}, b = {.loop = loop, .other_fd = -1};
	uint64_t one = 1;

	CHECK(loop != NULL);
	a.fd = eventfd(0, EFD_NONBLOCK);
	b.fd = eventfd(0, EFD_NONBLOCK);
	CHECK(evloop__add(loop, a.fd, EPOLLIN, on_event, &a) == 0);
	CHECK(evloop__add(loop, b.fd, EPOLLIN, on_event, &b) == 0);
	CHECK(evloop__add(loop, a.fd, EPOLLIN, on_event, &a) == -EEXIST);
	a.other_fd = b.fd;
	b.other_fd = a.fd;
	CHECK(write(a.fd, &one, 8) == 8);
	CHECK(write(b.fd, &one, 8) == 8);
	CHECK(evloop__run_once(loop, 100) == 2);
	/* Whichever ran first removed the other before its turn. */
	CHECK_EQ_U64(a.calls + b.calls, 1);
	CHECK(evloop__del(loop, 12345) == -ENOENT);
	CHECK(evloop__run_once(loop, 0) == 0);
	evloop__free(loop);
	close(a.fd);
	close(b.fd);
}

static void test_timer_and_stop(void)
{
	struct evloop *loop = evloop__new();
	struct ctx t = {.loop = loop, .other_fd = -1, .stop_after = 3};

	t.fd = evloop__timerfd(5, 1);
	CHECK(t.fd >= 0);
	CHECK(evloop__add(loop, t.fd, EPOLLIN, on_event, &t) == 0);
	CHECK(evloop__run(loop) == 0);
	CHECK_EQ_U64(t.calls, 3);
	close(t.fd);
	t.fd = evloop__timerfd(0, 0); /* fires at once */
	CHECK(t.fd >= 0);
	evloop__free(loop);
	evloop__free(NULL);
	close(t.fd);
}

int main(void)
{
	test_dispatch_and_remove();
	test_timer_and_stop();
	return test__finish("test_evloop");
}
