/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's single event loop: one epoll set, one callback per fd. Ring
 * buffer, timers, signals and HTTP all arrive here; nothing sleeps.
 */
#ifndef SONDE_EVLOOP_H
#define SONDE_EVLOOP_H

#include <stdint.h>

struct evloop;

/* events is the epoll event mask that fired. */
typedef void (*evloop_fn)(void *ctx, uint32_t events);

struct evloop *evloop__new(void);
void evloop__free(struct evloop *loop);

/* 0 or -errno. A callback may add or remove any fd, its own included. */
int evloop__add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *ctx);
int evloop__del(struct evloop *loop, int fd);

/* Waits up to timeout_ms (-1: forever) and dispatches; returns events handled or -errno. */
int evloop__run_once(struct evloop *loop, int timeout_ms);
/* Runs until evloop__stop(); 0 or -errno. */
int evloop__run(struct evloop *loop);
void evloop__stop(struct evloop *loop);

/* A monotonic timerfd that fires once after ms (or every ms when periodic). -errno on failure. */
int evloop__timerfd(uint64_t ms, int periodic);

#endif
