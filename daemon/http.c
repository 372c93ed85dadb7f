// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "clock.h"
#include "auth.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "flame.h"
#include "folded.h"
#include "profile.h"
#include "query.h"
#include "prom.h"
#include "tls.h"

#define DEFAULT_SECONDS 30

enum req_state {
	REQ_NEW = 0,
	REQ_WAITING, /* suspended while its session gathers samples */
	REQ_READY,   /* resumed: time is up */
	REQ_GONE,    /* resumed: the client went away */
};

struct http_request {
	struct http_server *srv;
	struct MHD_Connection *conn;
	enum req_state state;
	struct collector_session *session;
	struct profile_query query;
	enum profile_kind kind;
	int64_t time_nanos;
	uint64_t start_ns;
	int timer_fd;
	int conn_fd; /* watched for hang-up while suspended */
	struct http_request *next;
};

struct http_server {
	struct http_deps deps;
	struct MHD_Daemon *mhd;
	int listen_fd;
	int mhd_epoll_fd;
	int mhd_timer_fd;
	uint16_t port;
	struct http_request *waiting; /* suspended requests */
	struct http_stats stats;
};

static const char *const status_labels[HTTP_ST__MAX] = {
	[HTTP_ST_200] = "200", [HTTP_ST_400] = "400",	  [HTTP_ST_401] = "401",
	[HTTP_ST_404] = "404", [HTTP_ST_405] = "405",	  [HTTP_ST_500] = "500",
	[HTTP_ST_503] = "503", [HTTP_ST_OTHER] = "other",
};

const char *http__status_label(enum http_status_class c)
{
	return c < HTTP_ST__MAX ? status_labels[c] : "other";
}

static enum http_status_class status_class(unsigned int code)
{
	switch (code) {
	case 200:
		return HTTP_ST_200;
	case 400:
		return HTTP_ST_400;
	case 401:
		return HTTP_ST_401;
	case 404:
		return HTTP_ST_404;
	case 405:
		return HTTP_ST_405;
	case 500:
		return HTTP_ST_500;
	case 503:
		return HTTP_ST_503;
	default:
		return HTTP_ST_OTHER;
	}
}

int http__parse_profile_query(const char *seconds, const char *pid, uint32_t max_seconds,
			      struct profile_query *out, char *err, size_t err_len)
{
	uint64_t v;

	out->seconds = DEFAULT_SECONDS < max_seconds ? DEFAULT_SECONDS : max_seconds;
	out->pid = 0;
	if (seconds) {
		if (config__parse_u64(seconds, 1, max_seconds, &v)) {
			snprintf(err, err_len,
				 "invalid seconds parameter: expected an integer from 1 to %u",
				 max_seconds);
			return -EINVAL;
		}
		out->seconds = (uint32_t)v;
	}
	if (pid) {
		if (config__parse_u64(pid, 1, 4194304, &v)) {
			snprintf(err, err_len,
				 "invalid pid parameter: expected a process id from 1 to 4194304");
			return -EINVAL;
		}
		out->pid = (uint32_t)v;
	}
	return 0;
}

/* Copies a filter value after checking its length and characters. */
static int copy_filter(const char *name, const char *v, char *dst, size_t dst_len,
		       const char *allowed, char *err, size_t err_len)
{
	size_t n = strlen(v);

	if (!n || n >= dst_len || strspn(v, allowed) != n) {
		snprintf(err, err_len, "invalid %s parameter: expected 1 to %zu characters of [%s]",
			 name, dst_len - 1, allowed);
		return -EINVAL;
	}
	memcpy(dst, v, n + 1);
	return 0;
}

#define ALNUM	     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define COMM_CHARS   ALNUM "._-:/+@ "
#define CGROUP_CHARS ALNUM "._-:/+@"
#define HEX_CHARS    "0123456789abcdef"

/* A past range: start and optional end, or last; names carry prefix ("" or "base_"). */
static int parse_range(const char *start, const char *end, const char *last, const char *prefix,
		       int64_t now_unix_ns, int64_t *from, int64_t *to, char *err, size_t err_len)
{
	uint64_t last_ns;

	if (last && (start || end)) {
		snprintf(err, err_len, "%slast cannot be combined with %sstart or %send", prefix,
			 prefix, prefix);
		return -EINVAL;
	}
	*to = now_unix_ns;
	if (last) {
		if (query__parse_duration(last, &last_ns)) {
			snprintf(err, err_len,
				 "invalid %slast parameter: expected a duration such as 5m, 90s or "
				 "1h30m, at most 720h",
				 prefix);
			return -EINVAL;
		}
		*from = now_unix_ns - (int64_t)last_ns;
		return 0;
	}
	if (!start) {
		snprintf(err, err_len, "%send needs %sstart (or use %slast)", prefix, prefix,
			 prefix);
		return -EINVAL;
	}
	if (query__parse_time(start, from) || (end && query__parse_time(end, to))) {
		snprintf(err, err_len,
			 "invalid %sstart or %send parameter: expected unix seconds or RFC 3339, "
			 "e.g. 2026-11-22T08:00:00Z",
			 prefix, prefix);
		return -EINVAL;
	}
	if (*to <= *from) {
		snprintf(err, err_len, "%send must be after %sstart", prefix, prefix);
		return -EINVAL;
	}
	return 0;
}

static int parse_history(const struct profile_params *pp, int64_t now_unix_ns,
			 struct profile_query *out, char *err, size_t err_len)
{
	if (pp->seconds) {
		snprintf(err, err_len,
			 "seconds cannot be combined with start, end or last: seconds waits for "
			 "the next N seconds, the others read the past");
		return -EINVAL;
	}
	out->history = true;
	return parse_range(pp->start, pp->end, pp->last, "", now_unix_ns, &out->start_unix_ns,
			   &out->end_unix_ns, err, err_len);
}

/* The flame graph's kind= names, by enum profile_kind. */
static const char *const flame_kinds[] = {
	[PROFILE_CPU] = "cpu",
	[PROFILE_OFFCPU] = "offcpu",
	[PROFILE_WALL] = "wall",
	[PROFILE_BLOCKIO] = "blockio",
};

/* What value= may name for each kind; the first of a kind is its default. */
static const struct {
	enum profile_kind kind;
	const char *name;
	enum folded_value value;
} flame_values[] = {
	{PROFILE_CPU, "samples", FOLDED_COUNT},	  {PROFILE_OFFCPU, "time", FOLDED_VALUE},
	{PROFILE_OFFCPU, "count", FOLDED_COUNT},  {PROFILE_WALL, "time", FOLDED_VALUE},
	{PROFILE_WALL, "count", FOLDED_COUNT},	  {PROFILE_BLOCKIO, "bytes", FOLDED_VALUE2},
	{PROFILE_BLOCKIO, "count", FOLDED_COUNT}, {PROFILE_BLOCKIO, "latency", FOLDED_VALUE},
};

/* kind=, value= and the base range of /debug/pprof/flamegraph. */
static int parse_flamegraph(const struct profile_params *pp, int64_t now_unix_ns,
			    struct profile_query *out, char *err, size_t err_len)
{
	const size_t n_kinds = sizeof(flame_kinds) / sizeof(flame_kinds[0]);
	int kind = pp->kind ? -1 : PROFILE_CPU;
	bool found = false;
	struct strbuf names = STRBUF_INIT;

	for (size_t k = 0; kind < 0 && k < n_kinds; k++)
		if (strcmp(pp->kind, flame_kinds[k]) == 0)
			kind = (int)k;
	if (kind < 0) {
		snprintf(err, err_len,
			 "invalid kind parameter: expected cpu, offcpu, wall or blockio");
		return -EINVAL;
	}
	out->flame = true;
	out->flame_kind = kind;
	if (pp->format) {
		snprintf(err, err_len,
			 "format does not apply to the flame graph: use /debug/pprof/%s for pprof "
			 "or folded",
			 kind == PROFILE_CPU ? "profile" : flame_kinds[kind]);
		return -EINVAL;
	}
	for (size_t i = 0; !found && i < sizeof(flame_values) / sizeof(flame_values[0]); i++) {
		if ((int)flame_values[i].kind != kind)
			continue;
		if (!pp->value || strcmp(pp->value, flame_values[i].name) == 0) {
			out->flame_value = flame_values[i].value;
			found = true;
		} else {
			strbuf__appendf(&names, "%s%s", names.len ? " or " : "",
					flame_values[i].name);
		}
	}
	if (!found) {
		snprintf(err, err_len, "invalid value parameter: expected %s for %s",
			 names.buf ? names.buf : "nothing", flame_kinds[kind]);
		strbuf__release(&names);
		return -EINVAL;
	}
	strbuf__release(&names);
	if (!pp->base_start && !pp->base_end && !pp->base_last)
		return 0;
	if (!out->history) {
		snprintf(err, err_len,
			 "the differential view compares two past ranges: give start/end or last "
			 "with base_start/base_end or base_last");
		return -EINVAL;
	}
	out->diff = true;
	return parse_range(pp->base_start, pp->base_end, pp->base_last, "base_", now_unix_ns,
			   &out->base_start_unix_ns, &out->base_end_unix_ns, err, err_len);
}

int http__parse_profile_params(const struct profile_params *pp, uint32_t max_seconds,
			       int64_t now_unix_ns, struct profile_query *out, char *err,
			       size_t err_len)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = http__parse_profile_query(pp->seconds, pp->pid, max_seconds, out, err, err_len);
	if (rc)
		return rc;
	if ((pp->start || pp->end || pp->last) && parse_history(pp, now_unix_ns, out, err, err_len))
		return -EINVAL;
	if (pp->flamegraph) {
		if (parse_flamegraph(pp, now_unix_ns, out, err, err_len))
			return -EINVAL;
	} else if (pp->kind || pp->value || pp->base_start || pp->base_end || pp->base_last) {
		snprintf(err, err_len,
			 "kind, value, base_start, base_end and base_last are parameters of "
			 "/debug/pprof/flamegraph");
		return -EINVAL;
	}
	if (pp->format && strcmp(pp->format, "pprof")) {
		if (strcmp(pp->format, "folded")) {
			snprintf(err, err_len,
				 "invalid format parameter: expected pprof or folded");
			return -EINVAL;
		}
		out->folded = true;
	}
	if (pp->symbolize) {
		if (strcmp(pp->symbolize, "0") && strcmp(pp->symbolize, "1") &&
		    strcmp(pp->symbolize, "false") && strcmp(pp->symbolize, "true")) {
			snprintf(err, err_len, "invalid symbolize parameter: expected 1 or 0");
			return -EINVAL;
		}
		out->addresses_only =
			!strcmp(pp->symbolize, "0") || !strcmp(pp->symbolize, "false");
		if (out->addresses_only && (out->folded || out->flame)) {
			snprintf(
				err, err_len,
				"symbolize=0 applies to pprof only: folded stacks and flame graphs "
				"need names");
			return -EINVAL;
		}
	}
	if (pp->comm &&
	    copy_filter("comm", pp->comm, out->comm, sizeof(out->comm), COMM_CHARS, err, err_len))
		return -EINVAL;
	if (pp->cgroup && (copy_filter("cgroup", pp->cgroup, out->cgroup, sizeof(out->cgroup),
				       CGROUP_CHARS, err, err_len) ||
			   out->cgroup[0] != '/')) {
		snprintf(err, err_len, "invalid cgroup parameter: expected a path from /");
		return -EINVAL;
	}
	if (pp->container && (copy_filter("container", pp->container, out->container,
					  sizeof(out->container), HEX_CHARS, err, err_len) ||
			      strlen(out->container) < 12)) {
		snprintf(err, err_len,
			 "invalid container parameter: expected 12 to 64 lowercase hex digits");
		return -EINVAL;
	}
	if (pp->unit &&
	    copy_filter("unit", pp->unit, out->unit, sizeof(out->unit), CGROUP_CHARS, err, err_len))
		return -EINVAL;
	return 0;
}

static enum MHD_Result queue(struct http_server *srv, struct MHD_Connection *conn,
			     unsigned int code, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		srv->stats.responses[status_class(code)]++;
	return ret;
}

/* Takes ownership of body (malloc'd). */
static enum MHD_Result respond_owned(struct http_server *srv, struct MHD_Connection *conn,
				     unsigned int code, const char *content_type, char *body,
				     size_t len)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return queue(srv, conn, code, resp);
}

static enum MHD_Result respond_text(struct http_server *srv, struct MHD_Connection *conn,
				    unsigned int code, const char *content_type, const char *text)
{
	char *body = strdup(text);

	if (!body)
		return MHD_NO;
	return respond_owned(srv, conn, code, content_type, body, strlen(body));
}

/* Errors the Go way: text/plain, X-Go-Pprof: 1 so that go tool pprof prints the body. */
static enum MHD_Result respond_error(struct http_server *srv, struct MHD_Connection *conn,
				     unsigned int code, const char *msg)
{
	struct MHD_Response *resp;
	size_t len = strlen(msg);
	char *body = malloc(len + 2);

	if (!body)
		return MHD_NO;
	memcpy(body, msg, len);
	body[len] = '\n';
	body[len + 1] = '\0';
	resp = MHD_create_response_from_buffer(len + 1, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "X-Go-Pprof", "1");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	return queue(srv, conn, code, resp);
}

/*
 * 401 with the RFC 6750 challenge. The body says only that a token is needed,
 * whether the one given was wrong or missing (the header says which, per the RFC).
 */
static enum MHD_Result respond_unauthorized(struct http_server *srv, struct MHD_Connection *conn)
{
	static const char msg[] = "unauthorized: this server needs a bearer token\n";
	bool token_given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_AUTHORIZATION) != NULL;
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "X-Go-Pprof", "1");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				token_given ? "Bearer realm=\"sonde\", error=\"invalid_token\""
					    : "Bearer realm=\"sonde\"");
	return queue(srv, conn, MHD_HTTP_UNAUTHORIZED, resp);
}

/* Every path but /healthz needs the token when there is one (liveness probes carry none). */
static bool request_allowed(const struct http_server *srv, struct MHD_Connection *conn,
			    const char *url)
{
	if (!srv->deps.auth || strcmp(url, "/healthz") == 0)
		return true;
	return auth__check(
		srv->deps.auth,
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
}

static const char index_html[] =
	"<!DOCTYPE html>\n"
	"<html><head><meta charset=\"utf-8\"><title>sonde /debug/pprof/</title></head>\n"
	"<body>\n"
	"<h1>sonde /debug/pprof/</h1>\n"
	"<p>Profiles of every process on this host, collected with eBPF.</p>\n"
	"<table>\n"
	"<tr><th>Profile</th><th>Description</th></tr>\n"
	"<tr><td><a href=\"profile?seconds=30\">profile</a></td>"
	"<td>On-CPU samples of all processes for <code>seconds</code> (default 30), "
	"kernel and user stacks. Add <code>pid=</code> to keep one process. "
	"Use with <code>go tool pprof "
	"http://HOST/debug/pprof/profile?seconds=10</code>.</td></tr>\n"
	"<tr><td><a href=\"offcpu?seconds=30\">offcpu</a></td>"
	"<td>Where threads wait: time off CPU by kernel and user stack, with the thread's "
	"state (S, D, ...) as a label. Same parameters.</td></tr>\n"
	"<tr><td><a href=\"wall?seconds=30\">wall</a></td>"
	"<td>Wall-clock time of every thread: on-CPU samples and off-CPU waits in "
	"nanoseconds, in one profile. Same parameters.</td></tr>\n"
	"<tr><td><a href=\"blockio?seconds=30\">blockio</a></td>"
	"<td>Block I/O: the disk requests each code path issued (kernel and user stack of "
	"the submitting thread), their bytes and latency, with <code>device</code>, "
	"<code>op</code> and <code>sync</code> labels. Same parameters.</td></tr>\n"
	"</table>\n"
	"<h2>Flame graphs</h2>\n"
	"<p>Interactive views in one self-contained page: click to zoom, search, hover for "
	"values. The same time parameters: <code>seconds=N</code> (wait), or "
	"<code>last=</code> and <code>start=</code>/<code>end=</code> (history), and the "
	"filters.</p>\n"
	"<ul>\n"
	"<li><a href=\"flamegraph?kind=cpu&amp;last=5m\">cpu</a>, "
	"<a href=\"flamegraph?kind=offcpu&amp;last=5m\">offcpu</a>, "
	"<a href=\"flamegraph?kind=wall&amp;last=5m\">wall</a>, "
	"<a href=\"flamegraph?kind=blockio&amp;last=5m\">blockio</a> (bytes; "
	"<code>value=count</code> or <code>latency</code>): the last 5 minutes</li>\n"
	"<li><a href=\"flamegraph?kind=cpu&amp;seconds=10\">cpu, the next 10 seconds</a></li>\n"
	"<li><a href=\"flamegraph?kind=cpu&amp;last=1m&amp;base_last=5m\">differential</a>: "
	"the last minute against the last 5, by share of the total (red grew, blue shrank); "
	"<code>base_start=</code>/<code>base_end=</code> name any past range</li>\n"
	"</ul>\n"
	"<p>Also: <a href=\"/metrics\">/metrics</a> (Prometheus), "
	"<a href=\"/healthz\">/healthz</a>.</p>\n"
	"</body></html>\n";

static const char *device_name(void *ctx, uint32_t dev, char *buf, size_t len)
{
	return blockdev__name(ctx, dev, buf, len);
}

static void waiting_unlink(struct http_server *srv, struct http_request *req)
{
	struct http_request **pp = &srv->waiting;

	while (*pp && *pp != req)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = req->next;
		srv->stats.profiles_pending--;
	}
	req->next = NULL;
}

static void run_mhd_soon(struct http_server *srv)
{
	struct itimerspec its = {.it_value = {.tv_nsec = 1}};

	timerfd_settime(srv->mhd_timer_fd, 0, &its, NULL);
}

/* Stops watching the request's fds and resumes its connection in the given state. */
static void request_wake(struct http_request *req, enum req_state state)
{
	struct http_server *srv = req->srv;

	if (req->state != REQ_WAITING)
		return;
	req->state = state;
	if (req->timer_fd >= 0) {
		evloop__del(srv->deps.loop, req->timer_fd);
		close(req->timer_fd);
		req->timer_fd = -1;
	}
	if (req->conn_fd >= 0) {
		evloop__del(srv->deps.loop, req->conn_fd);
		req->conn_fd = -1;
	}
	waiting_unlink(srv, req);
	MHD_resume_connection(req->conn);
	/* In external-poll mode MHD only picks up a resumed connection in MHD_run(). */
	run_mhd_soon(srv);
}

static void on_request_timer(void *ctx, uint32_t events)
{
	struct http_request *req = ctx;
	uint64_t ticks;

	(void)events;
	if (read(req->timer_fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	request_wake(req, REQ_READY);
}

static void on_client_hangup(void *ctx, uint32_t events)
{
	struct http_request *req = ctx;

	log_debug("http: client of a pending %us profile left (events 0x%x)", req->query.seconds,
		  events);
	request_wake(req, REQ_GONE);
}

/* What a query keeps: its filters, and whether preempted waits count. */
struct keep_ctx {
	struct entry_filter f;
	struct cgroups *cg;
	uint32_t skip_tag;
};

static bool keep_entry(const struct agg_sample *e, void *arg)
{
	const struct keep_ctx *k = arg;

	if (k->skip_tag && e->tag == k->skip_tag)
		return false;
	return labels__match(&k->f, k->cg, e);
}

static void keep_init(struct keep_ctx *k, const struct http_server *srv,
		      const struct profile_query *q, enum profile_kind kind)
{
	memset(k, 0, sizeof(*k));
	k->cg = srv->deps.cg;
	k->f.pid = q->pid;
	k->f.comm = q->comm[0] ? q->comm : NULL;
	k->f.cgroup = q->cgroup[0] ? q->cgroup : NULL;
	k->f.container = q->container[0] ? q->container : NULL;
	k->f.unit = q->unit[0] ? q->unit : NULL;
	/* Time spent runnable after preemption is in /wall always, in /offcpu on request. */
	if (kind == PROFILE_OFFCPU && !srv->deps.offcpu_preempted)
		k->skip_tag = SONDE_STATE_R;
}

static int keep_copy(const struct agg_sample *e, void *arg)
{
	void **pair = arg;

	if (e->overflow || keep_entry(e, pair[1]))
		agg__add(pair[0], e);
	return 0;
}

/* A copy of agg with only what the query keeps; NULL when out of memory. */
static struct agg *agg_kept(const struct agg *agg, struct keep_ctx *k, const struct agg_opts *o)
{
	struct agg *copy = agg__new(o);
	void *pair[2] = {copy, k};

	if (copy)
		agg__for_each(agg, keep_copy, pair);
	return copy;
}

/* Answers with the profile of agg in the format the query asked for. */
/* The range a profile covers, as served: start (unix ns) and length. */
struct span {
	int64_t time_nanos;
	int64_t duration_nanos;
};

static int write_flame(struct http_server *srv, const struct profile_query *q,
		       enum profile_kind kind, const struct agg *agg, const struct agg *base,
		       const struct span *cur, const struct span *base_span, struct strbuf *out)
{
	struct flame_opts fo = {
		.kind = flame_kinds[kind],
		.value = (enum folded_value)q->flame_value,
		.oncpu_period = kind == PROFILE_WALL ? srv->deps.wall_period_ns : 0,
		.time_nanos = cur->time_nanos,
		.duration_nanos = cur->duration_nanos,
	};
	struct flame_stats st;
	int err;

	if (fo.value == FOLDED_COUNT)
		fo.unit = kind == PROFILE_CPU	    ? "samples"
			  : kind == PROFILE_BLOCKIO ? "requests"
						    : "waits";
	else if (fo.value == FOLDED_VALUE2)
		fo.unit = "bytes";
	else
		fo.unit = "nanoseconds";
	if (base_span) {
		fo.base_time_nanos = base_span->time_nanos;
		fo.base_duration_nanos = base_span->duration_nanos;
	}
	err = flame__write(agg, base, srv->deps.sym, &fo, out, &st);
	if (!err) {
		srv->stats.flame_pages++;
		srv->stats.flame_truncated += st.truncated ? 1 : 0;
	}
	return err;
}

static enum MHD_Result respond_profile(struct http_server *srv, struct MHD_Connection *conn,
				       const struct profile_query *q, enum profile_kind kind,
				       const struct agg *agg, int64_t time_nanos,
				       int64_t duration_nanos, const struct agg *base,
				       const struct span *base_span)
{
	struct span cur = {time_nanos, duration_nanos};
	struct profile_meta meta = {0};
	struct strbuf body = STRBUF_INIT;
	struct MHD_Response *resp;
	size_t len;
	char *data;
	int err;

	meta.kind = kind;
	meta.time_nanos = time_nanos;
	meta.duration_nanos = duration_nanos;
	meta.period = kind == PROFILE_WALL ? srv->deps.wall_period_ns : srv->deps.period;
	meta.cycles = srv->deps.cycles;
	meta.labels = srv->deps.labels;
	meta.cg = srv->deps.cg;
	meta.device_name = device_name;
	meta.device_ctx = srv->deps.blockdev;
	meta.addresses_only = q->addresses_only;
	if (q->flame) {
		err = write_flame(srv, q, kind, agg, base, &cur, base_span, &body);
	} else if (q->folded) {
		struct folded_opts fo = {
			.value = kind == PROFILE_CPU ? FOLDED_COUNT : FOLDED_VALUE,
			.oncpu_period = kind == PROFILE_WALL ? srv->deps.wall_period_ns : 0,
		};

		err = folded__write(agg, srv->deps.sym, &fo, &body);
	} else {
		err = profile__build(agg, srv->deps.sym, &meta, &body, NULL);
	}
	if (err) {
		strbuf__release(&body);
		log_warn("building a profile failed: %s", strerror(-err));
		return respond_error(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     "could not build the profile");
	}
	if (!body.buf && strbuf__appends(&body, ""))
		return MHD_NO;
	data = strbuf__detach(&body, &len);
	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	if (q->flame) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/html; charset=utf-8");
		/* The page is whole: it may run its own script and style, and fetch nothing. */
		MHD_add_response_header(resp, "Content-Security-Policy",
					"default-src 'none'; script-src 'unsafe-inline'; "
					"style-src 'unsafe-inline'; base-uri 'none'; "
					"form-action 'none'; frame-ancestors 'none'");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	} else if (q->folded) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; charset=utf-8");
	} else {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/octet-stream");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
					"attachment; filename=\"profile\"");
	}
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	srv->stats.profiles_served++;
	srv->stats.profile_bytes += len;
	return queue(srv, conn, MHD_HTTP_OK, resp);
}

/* CLOCK_MONOTONIC of a unix time, through the offset between the two clocks now. */
static uint64_t monotonic_of(int64_t unix_ns, uint64_t now_mono, int64_t now_unix)
{
	int64_t m = (int64_t)now_mono - (now_unix - unix_ns);

	return m > 0 ? (uint64_t)m : 0;
}

/*
 * Merges the finished windows that overlap [start_unix, end_unix) and hold
 * what keep keeps. 0 with *out and *covered set; -ENOENT with a message for
 * the client in err when no window overlaps; -ENOMEM.
 */
static int read_history(struct http_server *srv, struct keep_ctx *keep, uint32_t kinds,
			int64_t start_unix, int64_t end_unix, struct agg **out,
			struct span *covered, char *err, size_t err_len)
{
	struct agg_opts agg_opts = {.max_entries = srv->deps.agg_max_entries};
	uint64_t now_mono = collector__now_ns();
	int64_t now_unix = clock__realtime_ns();
	struct history_range range;
	struct history_stats hs;
	uint64_t from, to;
	struct agg *agg = NULL;
	int rc;

	from = monotonic_of(start_unix, now_mono, now_unix);
	to = monotonic_of(end_unix, now_mono, now_unix);
	memset(&range, 0, sizeof(range));
	/* A range wholly before the monotonic clock began holds nothing. */
	if (to > from) {
		rc = history__query(srv->deps.history, from, to, kinds, keep_entry, keep, &agg_opts,
				    &agg, &range);
		if (rc) {
			snprintf(err, err_len, "could not read the history");
			return -ENOMEM;
		}
	}
	if (range.windows) {
		*out = agg;
		covered->time_nanos = range.start_unix_ns;
		covered->duration_nanos = (int64_t)(range.end_ns - range.start_ns);
		return 0;
	}
	agg__free(agg);
	history__stats(srv->deps.history, &hs);
	if (!hs.windows)
		snprintf(err, err_len,
			 "no finished window yet: the first one ends %llu s after start",
			 (unsigned long long)(history__window_ns(srv->deps.history) /
					      1000000000ull));
	else
		snprintf(err, err_len,
			 "no finished window overlaps that range; the history covers "
			 "unix times %lld to %lld",
			 (long long)((now_unix - (int64_t)(now_mono - hs.oldest_start_ns)) /
				     1000000000ll),
			 (long long)((now_unix - (int64_t)(now_mono - hs.newest_end_ns)) /
				     1000000000ll));
	return -ENOENT;
}

/* start/end/last: merges the finished windows that overlap the range; never waits. */
static enum MHD_Result profile_history(struct http_server *srv, struct MHD_Connection *conn,
				       struct http_request *req, enum profile_kind kind,
				       uint32_t kinds)
{
	struct agg *agg = NULL, *base = NULL;
	struct span covered, base_covered;
	struct keep_ctx keep;
	enum MHD_Result ret;
	char err[256];
	int rc;

	if (!srv->deps.history)
		return respond_error(srv, conn, MHD_HTTP_NOT_FOUND,
				     "no history is kept: use seconds=N");
	keep_init(&keep, srv, &req->query, kind);
	rc = read_history(srv, &keep, kinds, req->query.start_unix_ns, req->query.end_unix_ns, &agg,
			  &covered, err, sizeof(err));
	if (!rc && req->query.diff) {
		char why[200];

		rc = read_history(srv, &keep, kinds, req->query.base_start_unix_ns,
				  req->query.base_end_unix_ns, &base, &base_covered, why,
				  sizeof(why));
		if (rc)
			snprintf(err, sizeof(err), "base range: %s", why);
	}
	if (rc) {
		agg__free(agg);
		return respond_error(
			srv, conn,
			rc == -ENOENT ? MHD_HTTP_NOT_FOUND : MHD_HTTP_INTERNAL_SERVER_ERROR, err);
	}
	ret = respond_profile(srv, conn, &req->query, kind, agg, covered.time_nanos,
			      covered.duration_nanos, base, base ? &base_covered : NULL);
	agg__free(base);
	agg__free(agg);
	return ret;
}

/* kind: the profile's, or -1 for the flame graph, whose kind= parameter says. */
static enum MHD_Result profile_start(struct http_server *srv, struct MHD_Connection *conn,
				     struct http_request *req, int kind)
{
	static const uint32_t kinds[] = {
		[PROFILE_CPU] = COLLECTOR_ONCPU,
		[PROFILE_OFFCPU] = COLLECTOR_OFFCPU,
		[PROFILE_WALL] = COLLECTOR_ONCPU | COLLECTOR_OFFCPU,
		[PROFILE_BLOCKIO] = COLLECTOR_BLOCKIO,
	};
	const union MHD_ConnectionInfo *ci;
	struct agg_opts agg_opts = {.max_entries = srv->deps.agg_max_entries};
	char err[256];
	uint64_t now;
	int rc;

	struct profile_params pp = {
		.seconds = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "seconds"),
		.pid = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "pid"),
		.start = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "start"),
		.end = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "end"),
		.last = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "last"),
		.format = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format"),
		.comm = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "comm"),
		.cgroup = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cgroup"),
		.container = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "container"),
		.unit = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "unit"),
		.symbolize = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "symbolize"),
		.flamegraph = kind < 0,
		.kind = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "kind"),
		.base_start =
			MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "base_start"),
		.base_end = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "base_end"),
		.base_last = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "base_last"),
		.value = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "value"),
	};

	rc = http__parse_profile_params(&pp, srv->deps.max_seconds, clock__realtime_ns(),
					&req->query, err, sizeof(err));
	if (rc)
		return respond_error(srv, conn, MHD_HTTP_BAD_REQUEST, err);
	if (kind < 0)
		kind = req->query.flame_kind;
	if ((kind == PROFILE_OFFCPU || kind == PROFILE_WALL) && !srv->deps.offcpu)
		return respond_error(srv, conn, MHD_HTTP_NOT_FOUND,
				     "off-CPU profiling is off: sonde runs with --no-offcpu");
	if (kind == PROFILE_BLOCKIO && !srv->deps.blockio)
		return respond_error(srv, conn, MHD_HTTP_NOT_FOUND,
				     "block-I/O profiling is off: sonde runs with --no-blockio");
	if (req->query.history)
		return profile_history(srv, conn, req, kind, kinds[kind]);
	if (srv->stats.profiles_pending >= srv->deps.max_sessions) {
		snprintf(err, sizeof(err),
			 "too many profiles in progress (at most %u at once); retry later",
			 srv->deps.max_sessions);
		return respond_error(srv, conn, MHD_HTTP_SERVICE_UNAVAILABLE, err);
	}

	now = collector__now_ns();
	req->kind = kind;
	req->start_ns = now;
	req->time_nanos = clock__realtime_ns();
	rc = collector__session_open(srv->deps.collector, now,
				     now + (uint64_t)req->query.seconds * 1000000000ull,
				     req->query.pid, kinds[kind], &agg_opts, &req->session);
	if (rc)
		return respond_error(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     "cannot start a profile: out of memory");
	/* Wall time is nanoseconds even when on-CPU samples count cycles. */
	if (kind == PROFILE_WALL)
		collector__session_set_oncpu_value(req->session, srv->deps.wall_period_ns);
	/*
	 * Time spent runnable after preemption is part of every thread's wall time;
	 * the off-CPU profile shows it only with --offcpu-preempted.
	 */
	if (kind == PROFILE_OFFCPU && !srv->deps.offcpu_preempted)
		collector__session_skip_state(req->session, SONDE_STATE_R);
	rc = evloop__timerfd((uint64_t)req->query.seconds * 1000, 0);
	if (rc < 0)
		goto err_cancel_session;
	req->timer_fd = rc;
	rc = evloop__add(srv->deps.loop, req->timer_fd, EPOLLIN, on_request_timer, req);
	if (rc)
		goto err_close_timer;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci &&
	    evloop__add(srv->deps.loop, ci->connect_fd, EPOLLRDHUP, on_client_hangup, req) == 0)
		req->conn_fd = ci->connect_fd;

	req->state = REQ_WAITING;
	req->next = srv->waiting;
	srv->waiting = req;
	srv->stats.profiles_pending++;
	MHD_suspend_connection(conn);
	return MHD_YES;

err_close_timer:
	close(req->timer_fd);
	req->timer_fd = -1;
err_cancel_session:
	collector__session_cancel(srv->deps.collector, req->session);
	req->session = NULL;
	return respond_error(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			     "cannot start a profile: out of resources");
}

static enum MHD_Result profile_finish(struct http_server *srv, struct MHD_Connection *conn,
				      struct http_request *req)
{
	struct agg_opts agg_opts = {.max_entries = srv->deps.agg_max_entries};
	uint64_t end_ns = collector__now_ns();
	struct keep_ctx keep;
	enum MHD_Result ret;
	int64_t duration;
	struct agg *agg;

	if (req->state == REQ_GONE) {
		/* Nobody to answer: drop the samples and close the connection. */
		collector__session_cancel(srv->deps.collector, req->session);
		req->session = NULL;
		srv->stats.profiles_aborted++;
		return MHD_NO;
	}
	/* Everything up to now is in the ring buffer; take it before closing. */
	collector__drain(srv->deps.collector);
	agg = collector__session_close(srv->deps.collector, req->session);
	req->session = NULL;

	duration = (int64_t)(end_ns - req->start_ns);
	if (duration > (int64_t)req->query.seconds * 1000000000ll)
		duration = (int64_t)req->query.seconds * 1000000000ll;
	keep_init(&keep, srv, &req->query, req->kind);
	keep.f.pid = 0; /* the session kept only that process already */
	if (!labels__filter_is_empty(&keep.f)) {
		struct agg *kept = agg_kept(agg, &keep, &agg_opts);

		agg__free(agg);
		agg = kept;
		if (!agg)
			return respond_error(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					     "could not build the profile: out of memory");
	}
	ret = respond_profile(srv, conn, &req->query, req->kind, agg, req->time_nanos, duration,
			      NULL, NULL);
	agg__free(agg);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;
	bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	bool is_head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	struct strbuf sb = STRBUF_INIT;
	char msg[128];

	(void)version;
	(void)upload_data;
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		req->srv = srv;
		req->conn = conn;
		req->timer_fd = -1;
		req->conn_fd = -1;
		*con_cls = req;
		/* Headers are complete on the first call: refuse before reading any body. */
		if (!request_allowed(srv, conn, url))
			return respond_unauthorized(srv, conn);
	}
	if (*upload_data_size) {
		/* We take no request bodies; swallow and answer at the end. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->state == REQ_READY || req->state == REQ_GONE)
		return profile_finish(srv, conn, req);

	if (strncmp(url, "/debug/pprof/", 13) == 0) {
		static const struct {
			const char *name;
			int kind;
		} profiles[] = {
			{"profile", PROFILE_CPU}, {"offcpu", PROFILE_OFFCPU},
			{"wall", PROFILE_WALL},	  {"blockio", PROFILE_BLOCKIO},
			{"flamegraph", -1},
		};

		for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
			if (strcmp(url + 13, profiles[i].name))
				continue;
			if (!is_get)
				return respond_error(srv, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
						     "method not allowed: use GET");
			return profile_start(srv, conn, req, profiles[i].kind);
		}
	}
	if (!is_get && !is_head)
		return respond_error(srv, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				     "method not allowed: use GET");
	if (strcmp(url, "/debug/pprof/") == 0 || strcmp(url, "/debug/pprof") == 0)
		return respond_text(srv, conn, MHD_HTTP_OK, "text/html; charset=utf-8", index_html);
	if (strcmp(url, "/healthz") == 0)
		return respond_text(srv, conn, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n");
	if (strcmp(url, "/metrics") == 0) {
		int err = 0;

		if (srv->deps.render_metrics)
			err = srv->deps.render_metrics(srv->deps.metrics_ctx, &sb);
		if (!err)
			err = http__render_metrics(srv, &sb);
		if (err) {
			strbuf__release(&sb);
			return respond_error(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					     "could not render metrics");
		}
		if (!sb.buf && strbuf__appends(&sb, ""))
			return MHD_NO;
		size_t len;
		char *body = strbuf__detach(&sb, &len);

		return respond_owned(srv, conn, MHD_HTTP_OK, "text/plain; version=0.0.4", body,
				     len);
	}
	if (strncmp(url, "/debug/pprof/", 13) == 0) {
		/* Names are echoed only when short and plain, to keep error bodies tame. */
		const char *name = url + 13;
		bool plain = strlen(name) <= 64;

		for (const char *p = name; plain && *p; p++)
			plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
		if (plain)
			snprintf(msg, sizeof(msg), "Unknown profile: %s", name);
		else
			snprintf(msg, sizeof(msg), "Unknown profile");
		return respond_error(srv, conn, MHD_HTTP_NOT_FOUND, msg);
	}
	return respond_error(srv, conn, MHD_HTTP_NOT_FOUND, "404 page not found");
}

static void on_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
				 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;

	(void)conn;
	(void)toe;
	if (!req)
		return;
	if (req->timer_fd >= 0) {
		evloop__del(srv->deps.loop, req->timer_fd);
		close(req->timer_fd);
	}
	if (req->conn_fd >= 0)
		evloop__del(srv->deps.loop, req->conn_fd);
	waiting_unlink(srv, req);
	collector__session_cancel(srv->deps.collector, req->session);
	free(req);
	*con_cls = NULL;
}

static void arm_mhd_timer(struct http_server *srv)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	struct itimerspec its = {0};

	if (MHD_get_timeout(srv->mhd, &ms) == MHD_YES) {
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(srv->mhd_timer_fd, 0, &its, NULL);
}

static void on_mhd_ready(void *ctx, uint32_t events)
{
	struct http_server *srv = ctx;

	(void)events;
	MHD_run(srv->mhd);
	arm_mhd_timer(srv);
}

static void on_mhd_timer(void *ctx, uint32_t events)
{
	struct http_server *srv = ctx;
	uint64_t ticks;

	(void)events;
	if (read(srv->mhd_timer_fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	MHD_run(srv->mhd);
	arm_mhd_timer(srv);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_debug("http: %s", line);
}

static int open_listener(const char *host, uint16_t port, uint16_t *bound, char *err,
			 size_t err_len)
{
	struct addrinfo hints = {0}, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char port_str[8];
	int fd, rc, one = 1;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port_str, sizeof(port_str), "%u", port);
	rc = getaddrinfo(host, port_str, &hints, &res);
	if (rc) {
		snprintf(err, err_len, "cannot listen on %s:%u: %s", host, port, gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto err_free_addr;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 128)) {
		rc = -errno;
		goto err_close_fd;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							: ((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(res);
	return fd;

err_close_fd:
	close(fd);
err_free_addr:
	snprintf(err, err_len, "cannot listen on %s:%u: %s", host, port, strerror(-rc));
	freeaddrinfo(res);
	return rc;
}

int http__new(const struct http_deps *deps, const char *host, uint16_t port,
	      struct http_server **out, char *err, size_t err_len)
{
	/* The TLS options when there are credentials; ends the list at once otherwise. */
	struct MHD_OptionItem tls_opts[4] = {{MHD_OPTION_END, 0, NULL},
					     {MHD_OPTION_END, 0, NULL},
					     {MHD_OPTION_END, 0, NULL},
					     {MHD_OPTION_END, 0, NULL}};
	const union MHD_DaemonInfo *di;
	struct http_server *srv;
	int rc;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->deps = *deps;
	srv->mhd_timer_fd = -1;
	srv->listen_fd = open_listener(host, port, &srv->port, err, err_len);
	if (srv->listen_fd < 0) {
		rc = srv->listen_fd;
		goto err_free_srv;
	}
	if (deps->tls) {
		tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
						      (void *)tls__cert_pem(deps->tls)};
		tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
						      (void *)tls__key_pem(deps->tls)};
		tls_opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
						      (void *)TLS_PRIORITIES};
	}
	srv->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
			(deps->tls ? MHD_USE_TLS : 0),
		0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
		MHD_OPTION_LISTEN_SOCKET, srv->listen_fd, MHD_OPTION_NOTIFY_COMPLETED,
		on_request_completed, srv, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)256,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)64, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)(deps->idle_timeout_s ? deps->idle_timeout_s : 60),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_ARRAY, tls_opts,
		MHD_OPTION_END);
	if (!srv->mhd) {
		snprintf(err, err_len, "cannot start the HTTP server on %s:%u", host, port);
		rc = -EIO;
		goto err_close_listener;
	}
	di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di) {
		snprintf(err, err_len, "libmicrohttpd has no epoll support");
		rc = -EOPNOTSUPP;
		goto err_stop_mhd;
	}
	srv->mhd_epoll_fd = di->epoll_fd;
	srv->mhd_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (srv->mhd_timer_fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "timerfd: %s", strerror(errno));
		goto err_stop_mhd;
	}
	rc = evloop__add(deps->loop, srv->mhd_epoll_fd, EPOLLIN, on_mhd_ready, srv);
	if (rc)
		goto err_close_timer;
	rc = evloop__add(deps->loop, srv->mhd_timer_fd, EPOLLIN, on_mhd_timer, srv);
	if (rc)
		goto err_del_epoll;
	arm_mhd_timer(srv);
	*out = srv;
	return 0;

err_del_epoll:
	evloop__del(deps->loop, srv->mhd_epoll_fd);
err_close_timer:
	snprintf(err, err_len, "cannot watch the HTTP server: %s", strerror(-rc));
	close(srv->mhd_timer_fd);
err_stop_mhd:
	MHD_stop_daemon(srv->mhd);
err_close_listener:
	close(srv->listen_fd);
err_free_srv:
	free(srv);
	return rc;
}

void http__free(struct http_server *srv)
{
	if (!srv)
		return;
	/* Waiting clients get their connection closed; their sessions are dropped. */
	while (srv->waiting)
		request_wake(srv->waiting, REQ_GONE);
	MHD_run(srv->mhd);
	evloop__del(srv->deps.loop, srv->mhd_timer_fd);
	evloop__del(srv->deps.loop, srv->mhd_epoll_fd);
	MHD_stop_daemon(srv->mhd);
	close(srv->mhd_timer_fd);
	close(srv->listen_fd);
	free(srv);
}

uint16_t http__port(const struct http_server *srv)
{
	return srv->port;
}

void http__stats(const struct http_server *srv, struct http_stats *out)
{
	*out = srv->stats;
}

int http__render_metrics(const struct http_server *srv, struct strbuf *out)
{
	const struct http_stats *st = &srv->stats;
	char labels[32];
	int err;

	err = prom__family(out, "sonde_http_responses_total", "counter",
			   "HTTP responses by status.");
	for (int i = 0; !err && i < HTTP_ST__MAX; i++) {
		snprintf(labels, sizeof(labels), "code=\"%s\"", status_labels[i]);
		err = prom__sample(out, "sonde_http_responses_total", labels, st->responses[i]);
	}
	err = err
		      ?: prom__metric(out, "sonde_profiles_served_total", "counter",
				      "Profiles sent to clients.", st->profiles_served);
	err = err
		      ?: prom__metric(out, "sonde_profiles_aborted_total", "counter",
				      "Profiles whose client left before the end.",
				      st->profiles_aborted);
	err = err
		      ?: prom__metric(out, "sonde_profile_bytes_total", "counter",
				      "Bytes of profiles sent.", st->profile_bytes);
	err = err
		      ?: prom__metric(out, "sonde_profiles_pending", "gauge",
				      "Profile requests waiting for their interval to end.",
				      st->profiles_pending);
	err = err
		      ?: prom__metric(out, "sonde_flamegraph_pages_total", "counter",
				      "Flame-graph pages sent.", st->flame_pages);
	err = err
		      ?: prom__metric(
				 out, "sonde_flamegraph_truncated_total", "counter",
				 "Flame-graph pages whose frames reached the node cap (the rest "
				 "stays in their parents).",
				 st->flame_truncated);
	return err;
}

struct auth *http__set_auth(struct http_server *srv, struct auth *auth)
{
	struct auth *old = srv->deps.auth;

	srv->deps.auth = auth;
	return old;
}

bool http__loopback_only(const struct http_server *srv)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(srv->listen_fd, (struct sockaddr *)&ss, &sl))
		return false;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
		const uint8_t *a = sin6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return true;
		/* ::ffff:127.x.y.z */
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && a[12] == 127;
	}
	return false;
}
