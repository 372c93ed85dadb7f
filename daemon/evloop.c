// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "evloop.h"

struct evloop_handler {
	int fd;
	bool dead; /* removed while its events may still be pending in this round */
	evloop_fn fn;
	void *ctx;
	struct evloop_handler *next;
};

struct evloop {
	int epfd;
	bool stop;
	struct evloop_handler *handlers;  /* live ones */
	struct evloop_handler *graveyard; /* removed during dispatch, freed after it */
};

struct evloop *evloop__new(void)
{
	struct evloop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		goto err_free_loop;
	return loop;

err_free_loop:
	free(loop);
	return NULL;
}

static void free_list(struct evloop_handler *h)
{
	while (h) {
		struct evloop_handler *next = h->next;

		free(h);
		h = next;
	}
}

void evloop__free(struct evloop *loop)
{
	if (!loop)
		return;
	free_list(loop->handlers);
	free_list(loop->graveyard);
	close(loop->epfd);
	free(loop);
}

int evloop__add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *ctx)
{
	struct epoll_event ev = {.events = events};
	struct evloop_handler *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->fd = fd;
	h->fn = fn;
	h->ctx = ctx;
	ev.data.ptr = h;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		free(h);
		return err;
	}
	h->next = loop->handlers;
	loop->handlers = h;
	return 0;
}

int evloop__del(struct evloop *loop, int fd)
{
	struct evloop_handler **pp = &loop->handlers;

	while (*pp && (*pp)->fd != fd)
		pp = &(*pp)->next;
	if (!*pp)
		return -ENOENT;
	struct evloop_handler *h = *pp;

	*pp = h->next;
	/* The fd may already be closed by the caller; removal then happened by itself. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	h->dead = true;
	h->next = loop->graveyard;
	loop->graveyard = h;
	return 0;
}

int evloop__run_once(struct evloop *loop, int timeout_ms)
{
	struct epoll_event evs[32];
	int n;

	n = epoll_wait(loop->epfd, evs, 32, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct evloop_handler *h = evs[i].data.ptr;

		if (!h->dead)
			h->fn(h->ctx, evs[i].events);
	}
	free_list(loop->graveyard);
	loop->graveyard = NULL;
	return n;
}

int evloop__run(struct evloop *loop)
{
	int n;

	loop->stop = false;
	while (!loop->stop) {
		n = evloop__run_once(loop, -1);
		if (n < 0)
			return n;
	}
	return 0;
}

void evloop__stop(struct evloop *loop)
{
	loop->stop = true;
}

int evloop__timerfd(uint64_t ms, int periodic)
{
	struct itimerspec its = {0};
	int fd;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1;
	if (periodic)
		its.it_interval = its.it_value;
	if (timerfd_settime(fd, 0, &its, NULL)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}
