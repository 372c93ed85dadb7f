/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The HTTP front: libmicrohttpd driven from the daemon's event loop (its epoll
 * fd and a timerfd for its timeouts). Profile requests follow Go's
 * /debug/pprof conventions: the connection is suspended for `seconds` while a
 * collector session gathers samples, and resumed early if the client leaves.
 */
#ifndef SONDE_HTTP_H
#define SONDE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockdev.h"
#include "cgroups.h"
#include "collector.h"
#include "history.h"
#include "evloop.h"
#include "strbuf.h"
#include "symbolizer.h"

struct http_server;
struct auth;
struct tls_creds;

struct http_deps {
	struct evloop *loop;
	struct collector *collector;
	struct symbolizer *sym; /* NULL: frames stay [unknown] (tests) */
	uint32_t max_seconds;
	uint32_t max_sessions;
	uint32_t agg_max_entries;
	uint32_t idle_timeout_s; /* connections idle this long are closed; 0: 60 */
	uint64_t period;	 /* ns per sample (cpu-clock) or events per sample (cycles) */
	uint64_t wall_period_ns; /* ns an on-CPU sample stands for in wall profiles: 1e9 / Hz */
	bool cycles;
	bool offcpu;		   /* off-CPU records are collected: /offcpu and /wall are served */
	bool offcpu_preempted;	   /* /offcpu shows preempted (R) time too; /wall always does */
	bool blockio;		   /* block-I/O records are collected: /blockio is served */
	struct blockdev *blockdev; /* names disks in /blockio; NULL: "MAJ:MIN" */
	struct history *history;   /* past windows for start/end/last; NULL: no history */
	struct cgroups *cg;	   /* cgroup labels and filters; NULL: none */
	uint32_t labels;	   /* enum label_bit mask; 0: pid, comm, thread_name */
	/* Appends the Prometheus text of everything but HTTP itself. */
	int (*render_metrics)(void *ctx, struct strbuf *out);
	void *metrics_ctx;
	struct auth *auth; /* bearer token asked for everywhere but /healthz; NULL: none */
	const struct tls_creds *tls; /* HTTPS; NULL: plain HTTP */
};

enum http_status_class {
	HTTP_ST_200 = 0,
	HTTP_ST_400,
	HTTP_ST_401,
	HTTP_ST_404,
	HTTP_ST_405,
	HTTP_ST_500,
	HTTP_ST_503,
	HTTP_ST_OTHER,
	HTTP_ST__MAX,
};

struct http_stats {
	uint64_t responses[HTTP_ST__MAX];
	uint64_t profiles_served;
	uint64_t profiles_aborted; /* clients that left before their profile was ready */
	uint64_t profile_bytes;
	uint64_t profiles_pending; /* gauge */
	uint64_t flame_pages;	   /* flame-graph pages served */
	uint64_t flame_truncated;  /* of which some frames reached the node cap */
};

/* host:port; port 0 picks a free port (tests). 0 or -errno with a reason in err. */
int http__new(const struct http_deps *deps, const char *host, uint16_t port,
	      struct http_server **out, char *err, size_t err_len);
void http__free(struct http_server *srv);
uint16_t http__port(const struct http_server *srv);
void http__stats(const struct http_server *srv, struct http_stats *out);
/* Appends sonde_http_* metrics. */
int http__render_metrics(const struct http_server *srv, struct strbuf *out);
const char *http__status_label(enum http_status_class c);
/* Replaces the bearer token (NULL: none) and returns the previous one for the caller to free. */
struct auth *http__set_auth(struct http_server *srv, struct auth *auth);
/* Whether the server listens on a loopback address only (127.0.0.0/8, ::1). */
bool http__loopback_only(const struct http_server *srv);

struct profile_query {
	uint32_t seconds;
	uint32_t pid; /* 0: all */
	/* History: start/end/last were given; the profile is built from past windows. */
	bool history;
	int64_t start_unix_ns;
	int64_t end_unix_ns;
	bool folded;	     /* format=folded */
	bool addresses_only; /* symbolize=0: user frames left for the server to name */
	/* /debug/pprof/flamegraph: the HTML view, and what its frames measure. */
	bool flame;
	int flame_kind;	 /* enum profile_kind, from kind= */
	int flame_value; /* enum folded_value, from value= */
	/* The differential view: base_start/base_end/base_last, a second past range. */
	bool diff;
	int64_t base_start_unix_ns;
	int64_t base_end_unix_ns;
	char comm[17];
	char cgroup[256];
	char container[65];
	char unit[256];
};

/* The query parameters of a profile request, as the client sent them (NULL: absent). */
struct profile_params {
	const char *seconds, *pid, *start, *end, *last, *format;
	const char *comm, *cgroup, *container, *unit, *symbolize;
	/* /debug/pprof/flamegraph only: the base range of the differential view, the value. */
	bool flamegraph;
	const char *kind, *base_start, *base_end, *base_last, *value;
};

/*
 * Validates every parameter of a profile request: seconds and pid as below;
 * start/end (unix seconds or RFC 3339) or last (a duration) for history,
 * relative to now_unix_ns, never together with seconds; format pprof or
 * folded; the filters comm, cgroup, container and unit; symbolize (1 or 0,
 * pprof only). For the flame graph
 * (flamegraph set): kind (cpu, offcpu, wall, blockio); no format;
 * base_start/base_end or base_last, only with a history range; value (what
 * frames measure: samples for cpu; time or count for offcpu and wall; bytes,
 * count or latency for blockio). 0, or -EINVAL with a
 * message for the client in err.
 */
int http__parse_profile_params(const struct profile_params *pp, uint32_t max_seconds,
			       int64_t now_unix_ns, struct profile_query *out, char *err,
			       size_t err_len);

/*
 * Validates the query of /debug/pprof/profile. seconds: absent means 30, else
 * an integer from 1 to max_seconds; pid: absent or a positive integer.
 * 0, or -EINVAL with a message for the client in err.
 */
int http__parse_profile_query(const char *seconds, const char *pid, uint32_t max_seconds,
			      struct profile_query *out, char *err, size_t err_len);

#endif
