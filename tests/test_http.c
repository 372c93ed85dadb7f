// SPDX-License-Identifier: GPL-2.0
/*
 * The HTTP module against real sockets: one thread runs the event loop and
 * plays the client too, so no timing is guessed. Samples are injected into
 * the collector as the ring buffer would deliver them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collector.h"
#include "evloop.h"
#include "http.h"
#include "log.h"
#include "pprof.h"
#include "profile.pb-c.h"
#include "sonde_events.h"
#include "testutil.h"

struct client {
	struct evloop *loop;
	int fd;
	struct strbuf resp;
	bool done;
};

struct env {
	struct evloop *loop;
	struct collector *coll;
	struct http_server *srv;
};

static void on_client(void *ctx, uint32_t events)
{
	struct client *c = ctx;
	char buf[65536];
	ssize_t n;

	(void)events;
	n = read(c->fd, buf, sizeof(buf));
	if (n > 0)
		strbuf__append(&c->resp, buf, (size_t)n);
	else if (n == 0 || errno != EAGAIN) {
		c->done = true;
		evloop__del(c->loop, c->fd); /* EOF stays readable: stop watching */
	}
}

/* Connects, and sends a request unless method is NULL (an idle client). */
static int client_open(struct env *env, struct client *c, const char *method, const char *path)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(http__port(env->srv))};
	char req[512];
	int n;

	memset(c, 0, sizeof(*c));
	c->loop = env->loop;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	if (method) {
		n = snprintf(req, sizeof(req),
			     "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", method,
			     path);
		if (write(c->fd, req, (size_t)n) != n)
			return -EIO;
	}
	return evloop__add(env->loop, c->fd, EPOLLIN, on_client, c);
}

static void client_close(struct env *env, struct client *c)
{
	evloop__del(env->loop, c->fd);
	close(c->fd);
	strbuf__release(&c->resp);
}

/* Runs the loop until the client has its whole response, for 20 s at most. */
static void client_wait(struct env *env, struct client *c)
{
	uint64_t deadline = collector__now_ns() + 20000000000ull;

	while (!c->done && collector__now_ns() < deadline)
		evloop__run_once(env->loop, 10);
}

static int status_of(const struct client *c)
{
	int code = 0;

	if (c->resp.buf)
		sscanf(c->resp.buf, "HTTP/1.%*d %d", &code);
	return code;
}

static bool has_header(const struct client *c, const char *line)
{
	return c->resp.buf && strcasestr(c->resp.buf, line) != NULL;
}

static const char *body_of(const struct client *c, size_t *len)
{
	const char *p = c->resp.buf ? strstr(c->resp.buf, "\r\n\r\n") : NULL;

	if (!p)
		return NULL;
	p += 4;
	*len = c->resp.len - (size_t)(p - c->resp.buf);
	return p;
}

static void inject(struct env *env, uint32_t pid, int n)
{
	struct sonde_sample ev;

	for (int i = 0; i < n; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.hdr.kind = SONDE_EV_ONCPU;
		ev.hdr.pid = pid;
		ev.hdr.tid = pid;
		ev.hdr.ts_ns = collector__now_ns();
		ev.hdr.value = 10101010;
		memcpy(ev.hdr.comm, "worker", 7);
		memcpy(ev.hdr.thread_name, "worker-1", 9);
		ev.hdr.ustack_sz = 2 * 8;
		ev.frames[0] = 0x401000 + (uint64_t)(i % 3);
		ev.frames[1] = 0x402000;
		collector__handle_event(env->coll, &ev, sizeof(ev.hdr) + 16);
	}
}

static void run_until_sessions(struct env *env, uint64_t want)
{
	struct collector_stats cs;

	uint64_t deadline = collector__now_ns() + 20000000000ull;

	while (collector__now_ns() < deadline) {
		collector__stats(env->coll, &cs);
		if (cs.sessions_open == want)
			return;
		evloop__run_once(env->loop, 5);
	}
}

static Perftools__Profiles__Profile *decode(const struct client *c)
{
	struct strbuf plain = STRBUF_INIT;
	Perftools__Profiles__Profile *p = NULL;
	size_t len = 0;
	const char *body = body_of(c, &len);

	if (body && pprof__gunzip(body, len, &plain) == 0)
		p = perftools__profiles__profile__unpack(NULL, plain.len,
							 (const uint8_t *)plain.buf);
	strbuf__release(&plain);
	return p;
}

static const char *label_of(const Perftools__Profiles__Profile *p,
			    const Perftools__Profiles__Sample *s, const char *key)
{
	for (size_t i = 0; i < s->n_label; i++)
		if (strcmp(p->string_table[s->label[i]->key], key) == 0)
			return p->string_table[s->label[i]->str];
	return NULL;
}

static void test_simple_endpoints(struct env *env)
{
	struct client c;
	size_t len = 0;

	CHECK(client_open(env, &c, "GET", "/healthz") == 0);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 200);
	CHECK(body_of(&c, &len) && len == 3 && strncmp(body_of(&c, &len), "ok\n", 3) == 0);
	client_close(env, &c);

	CHECK(client_open(env, &c, "GET", "/debug/pprof/") == 0);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 200);
	CHECK(has_header(&c, "Content-Type: text/html"));
	CHECK(strstr(c.resp.buf, "profile?seconds=") != NULL);
	client_close(env, &c);

	CHECK(client_open(env, &c, "GET", "/metrics") == 0);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 200);
	CHECK(has_header(&c, "Content-Type: text/plain; version=0.0.4"));
	CHECK(strstr(c.resp.buf, "sonde_http_responses_total{code=\"200\"} 2") != NULL);
	client_close(env, &c);

	CHECK(client_open(env, &c, "GET", "/debug/pprof/heap") == 0);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 404);
	CHECK(has_header(&c, "X-Go-Pprof: 1"));
	CHECK(strstr(c.resp.buf, "Unknown profile: heap\n") != NULL);
	client_close(env, &c);

	CHECK(client_open(env, &c, "GET", "/debug/pprof/%3Cscript%3E") == 0);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 404);
	CHECK(strstr(c.resp.buf, "<script>") == NULL);
	client_close(env, &c);

	CHECK(client_open(env, &c, "DELETE", "/healthz") == 0);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 405);
	CHECK(has_header(&c, "Allow: GET, HEAD"));
	client_close(env, &c);
}

static void test_bad_queries(struct env *env)
{
	const char *bad[] = {
		"/debug/pprof/profile?seconds=abc",	 "/debug/pprof/profile?seconds=0",
		"/debug/pprof/profile?seconds=-3",	 "/debug/pprof/profile?seconds=3601",
		"/debug/pprof/profile?seconds=",	 "/debug/pprof/profile?seconds=1&pid=0",
		"/debug/pprof/profile?seconds=1&pid=1x",
	};
	struct collector_stats cs;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct client c;

		CHECK(client_open(env, &c, "GET", bad[i]) == 0);
		client_wait(env, &c);
		CHECK_EQ_U64(status_of(&c), 400);
		CHECK(has_header(&c, "X-Go-Pprof: 1"));
		CHECK(has_header(&c, "Content-Type: text/plain; charset=utf-8"));
		client_close(env, &c);
	}
	collector__stats(env->coll, &cs);
	CHECK_EQ_U64(cs.sessions_total, 0);
}

static void test_profile(struct env *env)
{
	Perftools__Profiles__Profile *p;
	struct client c;
	int64_t total = 0;

	CHECK(client_open(env, &c, "GET", "/debug/pprof/profile?seconds=1") == 0);
	run_until_sessions(env, 1);
	inject(env, 4242, 30);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 200);
	CHECK(has_header(&c, "Content-Type: application/octet-stream"));
	CHECK(has_header(&c, "Content-Disposition: attachment; filename=\"profile\""));
	p = decode(&c);
	CHECK(p != NULL);
	if (p) {
		for (size_t i = 0; i < p->n_sample; i++)
			total += p->sample[i]->value[0];
		CHECK_EQ_U64(total, 30);
		CHECK_EQ_U64(p->period, 10101010);
		CHECK(p->duration_nanos >= 900000000 && p->duration_nanos <= 1000000000);
		CHECK(p->time_nanos > 1600000000000000000ll);
		CHECK(p->n_sample > 0 && p->n_sample <= 3);
		CHECK_STR(label_of(p, p->sample[0], "pid"), "4242");
		CHECK_STR(label_of(p, p->sample[0], "comm"), "worker");
		CHECK_STR(label_of(p, p->sample[0], "thread_name"), "worker-1");
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	client_close(env, &c);
}

static void test_pid_filter_and_concurrency(struct env *env)
{
	Perftools__Profiles__Profile *pa, *pb;
	struct client a, b;
	int64_t ta = 0, tb = 0;

	/* Two overlapping requests: each must see only what fell in its own interval. */
	CHECK(client_open(env, &a, "GET", "/debug/pprof/profile?seconds=1&pid=7") == 0);
	run_until_sessions(env, 1);
	inject(env, 7, 5);
	inject(env, 8, 5);
	CHECK(client_open(env, &b, "GET", "/debug/pprof/profile?seconds=2") == 0);
	run_until_sessions(env, 2);
	inject(env, 7, 10);
	client_wait(env, &a);
	inject(env, 8, 20); /* after a's interval ended: only b sees these */
	client_wait(env, &b);
	pa = decode(&a);
	pb = decode(&b);
	CHECK(pa && pb);
	if (pa && pb) {
		for (size_t i = 0; i < pa->n_sample; i++) {
			ta += pa->sample[i]->value[0];
			CHECK_STR(label_of(pa, pa->sample[i], "pid"), "7");
		}
		for (size_t i = 0; i < pb->n_sample; i++)
			tb += pb->sample[i]->value[0];
		CHECK_EQ_U64(ta, 15);
		CHECK_EQ_U64(tb, 30);
		CHECK(pb->duration_nanos > pa->duration_nanos);
	}
	perftools__profiles__profile__free_unpacked(pa, NULL);
	perftools__profiles__profile__free_unpacked(pb, NULL);
	client_close(env, &a);
	client_close(env, &b);
}

static void test_client_leaves(struct env *env)
{
	struct collector_stats cs;
	struct http_stats hs;
	struct client c;

	CHECK(client_open(env, &c, "GET", "/debug/pprof/profile?seconds=30") == 0);
	run_until_sessions(env, 1);
	client_close(env, &c);
	run_until_sessions(env, 0);
	for (int i = 0; i < 20; i++)
		evloop__run_once(env->loop, 5);
	collector__stats(env->coll, &cs);
	http__stats(env->srv, &hs);
	CHECK_EQ_U64(cs.sessions_open, 0);
	CHECK_EQ_U64(hs.profiles_aborted, 1);
	CHECK_EQ_U64(hs.profiles_pending, 0);
}

static void test_session_limit(struct env *env)
{
	struct client a, b;

	/* The server under test allows 2 at once. */
	CHECK(client_open(env, &a, "GET", "/debug/pprof/profile?seconds=1") == 0);
	run_until_sessions(env, 1);
	CHECK(client_open(env, &b, "GET", "/debug/pprof/profile?seconds=1") == 0);
	run_until_sessions(env, 2);
	struct client c;

	CHECK(client_open(env, &c, "GET", "/debug/pprof/profile?seconds=1") == 0);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 503);
	CHECK(has_header(&c, "X-Go-Pprof: 1"));
	client_close(env, &c);
	client_wait(env, &a);
	client_wait(env, &b);
	CHECK_EQ_U64(status_of(&a), 200);
	CHECK_EQ_U64(status_of(&b), 200);
	client_close(env, &a);
	client_close(env, &b);
}

/*
 * A profile longer than the idle timeout: the suspended connection must not
 * be reaped as idle, neither while it waits nor when it resumes.
 */
static void test_longer_than_idle_timeout(struct env *env)
{
	struct client c, idle;

	CHECK(client_open(env, &c, "GET", "/debug/pprof/profile?seconds=3") == 0);
	run_until_sessions(env, 1);
	/* Meanwhile a connection that never sends a request is closed as idle. */
	CHECK(client_open(env, &idle, NULL, NULL) == 0);
	client_wait(env, &idle);
	CHECK(idle.done);
	CHECK_EQ_U64(idle.resp.len, 0);
	CHECK(!c.done);
	client_close(env, &idle);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 200);
	CHECK(has_header(&c, "Content-Type: application/octet-stream"));
	client_close(env, &c);
}

static void test_query_parser(void)
{
	struct profile_query q;
	char err[128];

	CHECK(http__parse_profile_query(NULL, NULL, 3600, &q, err, sizeof(err)) == 0);
	CHECK_EQ_U64(q.seconds, 30);
	CHECK_EQ_U64(q.pid, 0);
	CHECK(http__parse_profile_query(NULL, NULL, 10, &q, err, sizeof(err)) == 0);
	CHECK_EQ_U64(q.seconds, 10);
	CHECK(http__parse_profile_query("5", "123", 3600, &q, err, sizeof(err)) == 0);
	CHECK_EQ_U64(q.seconds, 5);
	CHECK_EQ_U64(q.pid, 123);
	CHECK(http__parse_profile_query("3600", NULL, 3600, &q, err, sizeof(err)) == 0);
	CHECK(http__parse_profile_query("3601", NULL, 3600, &q, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "3600") != NULL);
	CHECK(http__parse_profile_query("1.5", NULL, 3600, &q, err, sizeof(err)) == -EINVAL);
	CHECK(http__parse_profile_query("5", "-1", 3600, &q, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "pid") != NULL);
}

static void test_listen_errors(struct env *env)
{
	struct http_deps deps = {
		.loop = env->loop, .collector = env->coll, .max_seconds = 10, .max_sessions = 1};
	struct http_server *srv2 = NULL;
	char err[256] = "";

	CHECK(http__new(&deps, "127.0.0.1", http__port(env->srv), &srv2, err, sizeof(err)) ==
	      -EADDRINUSE);
	CHECK(strstr(err, "Address already in use") != NULL);
	CHECK(http__new(&deps, "no.such.host.invalid", 1, &srv2, err, sizeof(err)) < 0);
	CHECK(strstr(err, "cannot listen") != NULL);
	http__free(NULL);
}

int main(void)
{
	struct http_deps deps = {0};
	struct env env = {0};
	char err[256];

	test_query_parser();
	env.loop = evloop__new();
	CHECK(env.loop != NULL);
	CHECK(collector__new(-1, &env.coll) == 0);
	deps.loop = env.loop;
	deps.collector = env.coll;
	deps.max_seconds = 3600;
	deps.max_sessions = 2;
	deps.period = 10101010;
	deps.idle_timeout_s = 1;
	if (http__new(&deps, "127.0.0.1", 0, &env.srv, err, sizeof(err))) {
		fprintf(stderr, "http__new: %s\n", err);
		return 1;
	}
	test_simple_endpoints(&env);
	test_bad_queries(&env);
	test_profile(&env);
	test_pid_filter_and_concurrency(&env);
	test_client_leaves(&env);
	test_session_limit(&env);
	test_longer_than_idle_timeout(&env);
	test_listen_errors(&env);
	http__free(env.srv);
	collector__free(env.coll);
	evloop__free(env.loop);
	return test__finish("test_http");
}
