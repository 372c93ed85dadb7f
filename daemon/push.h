/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pushes profiles to a Pyroscope server (POST /ingest?format=pprof) with
 * libcurl's multi-socket interface on the daemon's event loop: curl's
 * sockets and its timer become evloop fds, so a slow or dead server never
 * blocks the loop. A bounded queue holds what waits to be sent; failed
 * pushes are retried with exponential backoff, and whatever cannot be
 * delivered (queue full, attempts used up) is counted, never dropped
 * silently.
 */
#ifndef SONDE_PUSH_H
#define SONDE_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "evloop.h"

struct pusher;

struct push_opts {
	const char *url;	 /* server base URL, e.g. http://pyroscope:4040 */
	size_t max_queue;	 /* profiles waiting or in flight; 0: 64 */
	uint32_t max_attempts;	 /* per profile; 0: 5 */
	uint64_t backoff_ms;	 /* first retry delay, doubled each time; 0: 1000 */
	uint64_t max_backoff_ms; /* 0: 60000 */
	uint32_t timeout_s;	 /* per request; 0: 10 */
};

struct push_stats {
	uint64_t queued;	  /* profiles accepted */
	uint64_t sent;		  /* delivered (2xx) */
	uint64_t attempts;	  /* requests made */
	uint64_t failures;	  /* failed requests (each may be retried) */
	uint64_t dropped_full;	  /* refused because the queue was full */
	uint64_t dropped_gave_up; /* failed max_attempts times */
	uint64_t bytes_sent;
	uint64_t queue_len; /* gauge */
};

/* 0 or -errno with a one-line reason in err (bad URL, libcurl set-up). */
int pusher__new(struct evloop *loop, const struct push_opts *opts, struct pusher **out, char *err,
		size_t err_len);
/* Abandons what is still queued (counted as given up). Accepts NULL. */
void pusher__free(struct pusher *p);

/*
 * Queues one pprof body (the pusher takes ownership, and frees it in every
 * case) for the Pyroscope application name `name` (e.g.
 * "myapp.offcpu{host=a,env=prod}"), covering [from_s, until_s] in unix
 * seconds. 0, or -ENOSPC when the queue is full (counted), -EINVAL, -ENOMEM.
 */
int pusher__push(struct pusher *p, const char *name, int64_t from_s, int64_t until_s, char *body,
		 size_t len);

void pusher__stats(const struct pusher *p, struct push_stats *out);

/*
 * Writes the /ingest URL for one push into buf (query values percent-encoded).
 * 0, or -ENAMETOOLONG. Exposed for tests.
 */
int pusher__ingest_url(const char *base, const char *name, int64_t from_s, int64_t until_s,
		       char *buf, size_t len);

#endif
