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

#include "auth.h"
#include "collector.h"
#include "evloop.h"
#include "folded.h"
#include "http.h"
#include "profile.h"
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

/* Off-CPU waits as the off-CPU program writes them: each ends now, after wait_ns. */
static void inject_offcpu(struct env *env, uint32_t pid, int n, char state, uint64_t weight_ns,
			  uint64_t wait_ns)
{
	struct sonde_sample ev;

	for (int i = 0; i < n; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.hdr.kind = SONDE_EV_OFFCPU;
		ev.hdr.pid = pid;
		ev.hdr.tid = pid;
		ev.hdr.ts_ns = collector__now_ns();
		ev.hdr.value = weight_ns;
		ev.hdr.aux = wait_ns;
		ev.hdr.info = (uint32_t)(unsigned char)state;
		memcpy(ev.hdr.comm, "waiter", 7);
		memcpy(ev.hdr.thread_name, "waiter-1", 9);
		ev.hdr.kstack_sz = 8;
		ev.hdr.ustack_sz = 8;
		ev.frames[0] = 0xffffffff81000000ull;
		ev.frames[1] = state == 'S' ? 0x401000 : 0x405000;
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
	CHECK(strstr(c.resp.buf, "href=\"offcpu?seconds=") != NULL);
	CHECK(strstr(c.resp.buf, "href=\"wall?seconds=") != NULL);
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
		"/debug/pprof/profile?seconds=1&pid=1x", "/debug/pprof/offcpu?seconds=0",
		"/debug/pprof/offcpu?seconds=abc",	 "/debug/pprof/offcpu?seconds=3601",
		"/debug/pprof/offcpu?seconds=1&pid=0",	 "/debug/pprof/wall?seconds=0",
		"/debug/pprof/wall?seconds=1.5",	 "/debug/pprof/wall?seconds=99999999999",
		"/debug/pprof/wall?seconds=1&pid=-1",
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
	inject_offcpu(env, 4242, 5, 'S', 1000, 1000); /* not for an on-CPU profile */
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
		CHECK_STR(p->string_table[p->default_sample_type], "cpu");
		for (size_t i = 0; i < p->n_sample; i++)
			CHECK(label_of(p, p->sample[i], "state") == NULL);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	client_close(env, &c);
}

/* Off-CPU and wall profiles are GET only; a refused method opens no session. */
/* The flame-graph page of a blocking interval: HTML with the samples in its data. */
static void test_flamegraph(struct env *env)
{
	struct client c;
	const char *body;
	size_t len = 0;

	CHECK(client_open(env, &c, "GET", "/debug/pprof/flamegraph?kind=cpu&seconds=1") == 0);
	run_until_sessions(env, 1);
	inject(env, 4242, 30);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 200);
	CHECK(has_header(&c, "Content-Type: text/html; charset=utf-8"));
	CHECK(has_header(&c, "Content-Security-Policy: default-src 'none'"));
	body = body_of(&c, &len);
	CHECK(body && strstr(body, "id=\"sonde-data\"") != NULL);
	/* No symbolizer here: all → worker (4242) → worker-1 (tid) → frames, 30 samples. */
	CHECK(body && strstr(body, "\"totals\":[30,0]") != NULL);
	CHECK(body && strstr(body, "\"worker (4242)\"") != NULL);
	client_close(env, &c);

	CHECK(client_open(env, &c, "GET", "/debug/pprof/flamegraph?kind=cpu&last=1m") == 0);
	client_wait(env, &c);
	/* No history in this test's server. */
	CHECK_EQ_U64(status_of(&c), 404);
	client_close(env, &c);
	CHECK(client_open(env, &c, "POST", "/debug/pprof/flamegraph") == 0);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 405);
	client_close(env, &c);
}

static void test_offcpu_methods(struct env *env)
{
	const char *paths[] = {"/debug/pprof/offcpu?seconds=1", "/debug/pprof/wall?seconds=1"};
	const char *methods[] = {"POST", "PUT", "DELETE"};
	struct collector_stats before, after;

	collector__stats(env->coll, &before);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (size_t j = 0; j < sizeof(methods) / sizeof(methods[0]); j++) {
			struct client c;

			CHECK(client_open(env, &c, methods[j], paths[i]) == 0);
			client_wait(env, &c);
			CHECK_EQ_U64(status_of(&c), 405);
			CHECK(has_header(&c, "Allow: GET"));
			CHECK(has_header(&c, "X-Go-Pprof: 1"));
			CHECK(has_header(&c, "Content-Type: text/plain"));
			client_close(env, &c);
		}
	}
	collector__stats(env->coll, &after);
	CHECK_EQ_U64(after.sessions_total, before.sessions_total);
}

/* What a profile holds, split into on-CPU samples (no state) and waits by state. */
struct by_state {
	int64_t on_count, on_ns;
	int64_t s_count, s_ns, d_count, d_ns, i_count, i_ns;
	int64_t other;	/* samples with any other state */
	int64_t no_pid; /* samples without the pid label */
};

static struct by_state sum_by_state(const Perftools__Profiles__Profile *p)
{
	struct by_state b = {0};

	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *smp = p->sample[i];
		const char *state = label_of(p, smp, "state");

		if (smp->n_value != 2) {
			b.other++;
			continue;
		}
		if (!label_of(p, smp, "pid"))
			b.no_pid++;
		if (!state) {
			b.on_count += smp->value[0];
			b.on_ns += smp->value[1];
		} else if (strcmp(state, "S") == 0) {
			b.s_count += smp->value[0];
			b.s_ns += smp->value[1];
		} else if (strcmp(state, "D") == 0) {
			b.d_count += smp->value[0];
			b.d_ns += smp->value[1];
		} else if (strcmp(state, "I") == 0) {
			b.i_count += smp->value[0];
			b.i_ns += smp->value[1];
		} else {
			b.other++;
		}
	}
	return b;
}

static void check_shape(const Perftools__Profiles__Profile *p, const char *t0, const char *u0,
			const char *t1, const char *u1)
{
	CHECK_EQ_U64(p->n_sample_type, 2);
	if (p->n_sample_type != 2 || !p->period_type)
		return;
	CHECK_STR(p->string_table[p->sample_type[0]->type], t0);
	CHECK_STR(p->string_table[p->sample_type[0]->unit], u0);
	CHECK_STR(p->string_table[p->sample_type[1]->type], t1);
	CHECK_STR(p->string_table[p->sample_type[1]->unit], u1);
	CHECK_STR(p->string_table[p->period_type->type], t1);
	CHECK_STR(p->string_table[p->default_sample_type], t1);
}

/*
 * An off-CPU and a wall profile at once, fed by the same records: each takes
 * the kinds it is made of, and the wall one only its pid.
 */
static void test_offcpu_and_wall(struct env *env)
{
	Perftools__Profiles__Profile *po, *pw;
	struct client off, wall;
	struct by_state b;

	CHECK(client_open(env, &off, "GET", "/debug/pprof/offcpu?seconds=1") == 0);
	run_until_sessions(env, 1);
	CHECK(client_open(env, &wall, "GET", "/debug/pprof/wall?seconds=1&pid=4343") == 0);
	run_until_sessions(env, 2);
	/* Both intervals then hold the whole of a 1 ms wait that ends now. */
	usleep(5000);
	inject(env, 4343, 6);
	inject_offcpu(env, 4343, 10, 'S', 1000000, 1000000);
	/* Short waits kept by sampling: each stands for 4 switches and 1 ms in all. */
	inject_offcpu(env, 4343, 5, 'D', 1000000, 250000);
	inject_offcpu(env, 5555, 3, 'S', 1000000, 1000000);
	/* A wait that began before both intervals counts only for its part inside. */
	inject_offcpu(env, 5555, 1, 'I', 10000000000ull, 10000000000ull);
	client_wait(env, &off);
	client_wait(env, &wall);
	CHECK_EQ_U64(status_of(&off), 200);
	CHECK_EQ_U64(status_of(&wall), 200);
	CHECK(has_header(&off, "Content-Type: application/octet-stream"));
	CHECK(has_header(&wall, "Content-Type: application/octet-stream"));

	po = decode(&off);
	CHECK(po != NULL);
	if (po) {
		check_shape(po, "switches", "count", "off_cpu", "nanoseconds");
		b = sum_by_state(po);
		CHECK_EQ_U64(b.on_count, 0); /* no on-CPU samples, every sample has a state */
		CHECK_EQ_U64(b.s_count, 13);
		CHECK_EQ_U64(b.s_ns, 13000000);
		CHECK_EQ_U64(b.d_count, 20);
		CHECK_EQ_U64(b.d_ns, 5000000);
		CHECK_EQ_U64(b.i_count, 1);
		CHECK(b.i_ns >= 5000000 && b.i_ns <= 1000000000);
		CHECK_EQ_U64(b.other, 0);
		CHECK_EQ_U64(b.no_pid, 0);
		perftools__profiles__profile__free_unpacked(po, NULL);
	}
	pw = decode(&wall);
	CHECK(pw != NULL);
	if (pw) {
		check_shape(pw, "samples", "count", "wall", "nanoseconds");
		CHECK_EQ_U64(pw->period, 10000000);
		b = sum_by_state(pw);
		/* On-CPU samples weigh the wall period, not their own 10101010. */
		CHECK_EQ_U64(b.on_count, 6);
		CHECK_EQ_U64(b.on_ns, 6 * 10000000);
		CHECK_EQ_U64(b.s_count, 10);
		CHECK_EQ_U64(b.s_ns, 10000000);
		CHECK_EQ_U64(b.d_count, 20);
		CHECK_EQ_U64(b.d_ns, 5000000);
		CHECK_EQ_U64(b.i_count, 0);
		CHECK_EQ_U64(b.other, 0);
		for (size_t i = 0; i < pw->n_sample; i++)
			CHECK_STR(label_of(pw, pw->sample[i], "pid"), "4343");
		perftools__profiles__profile__free_unpacked(pw, NULL);
	}
	client_close(env, &off);
	client_close(env, &wall);
}

/* With --no-offcpu, /offcpu and /wall are 404 with a reason; /profile still works. */
static void test_offcpu_disabled(struct env *env)
{
	const char *paths[] = {
		"/debug/pprof/offcpu?seconds=1",
		"/debug/pprof/wall?seconds=1",
		"/debug/pprof/offcpu",
		"/debug/pprof/wall?seconds=5&pid=1",
	};
	struct http_deps deps = {
		.loop = env->loop,
		.collector = env->coll,
		.max_seconds = 3600,
		.max_sessions = 2,
		.period = 10101010,
		.wall_period_ns = 10000000,
		.offcpu = false,
	};
	struct collector_stats before, after;
	struct env no_off = *env;
	struct http_stats hs;
	struct client cpu;
	char err[256] = "";

	no_off.srv = NULL;
	CHECK(http__new(&deps, "127.0.0.1", 0, &no_off.srv, err, sizeof(err)) == 0);
	if (!no_off.srv)
		return;
	CHECK(client_open(&no_off, &cpu, "GET", "/debug/pprof/profile?seconds=1") == 0);
	run_until_sessions(&no_off, 1);
	collector__stats(env->coll, &before);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct client c;
		size_t len = 0;
		const char *body;

		CHECK(client_open(&no_off, &c, "GET", paths[i]) == 0);
		client_wait(&no_off, &c);
		CHECK_EQ_U64(status_of(&c), 404);
		CHECK(has_header(&c, "Content-Type: text/plain"));
		CHECK(has_header(&c, "X-Go-Pprof: 1"));
		body = body_of(&c, &len);
		CHECK(body && strstr(body, "--no-offcpu") != NULL);
		CHECK(body && len > 0 && memchr(body, '\n', len) == body + len - 1); /* one line */
		client_close(&no_off, &c);
	}
	collector__stats(env->coll, &after);
	CHECK_EQ_U64(after.sessions_total, before.sessions_total);
	client_wait(&no_off, &cpu);
	CHECK_EQ_U64(status_of(&cpu), 200);
	client_close(&no_off, &cpu);
	http__stats(no_off.srv, &hs);
	CHECK_EQ_U64(hs.responses[HTTP_ST_404], 4);
	CHECK_EQ_U64(hs.profiles_served, 1);
	http__free(no_off.srv);
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

/* History, format and filter parameters. */
static void test_params_parser(void)
{
	const int64_t now = 1795334179ll * 1000000000ll;
	struct profile_query q;
	char err[256];

#define PARAMS(...) (&(struct profile_params){__VA_ARGS__})
	CHECK(http__parse_profile_params(PARAMS(.last = "5m"), 3600, now, &q, err, sizeof(err)) ==
	      0);
	CHECK(q.history);
	CHECK_EQ_U64(q.end_unix_ns, now);
	CHECK_EQ_U64(q.start_unix_ns, now - 300000000000ll);
	CHECK(http__parse_profile_params(PARAMS(.start = "1795334000", .end = "1795334100"), 3600,
					 now, &q, err, sizeof(err)) == 0);
	CHECK_EQ_U64(q.start_unix_ns, 1795334000ll * 1000000000ll);
	CHECK_EQ_U64(q.end_unix_ns, 1795334100ll * 1000000000ll);
	CHECK(http__parse_profile_params(PARAMS(.start = "2026-11-22T07:50:00Z"), 3600, now, &q,
					 err, sizeof(err)) == 0);
	CHECK_EQ_U64(q.end_unix_ns, now);
	CHECK(http__parse_profile_params(PARAMS(.seconds = "5", .format = "folded", .comm = "nginx",
						.cgroup = "/system.slice",
						.container = "0123456789ab",
						.unit = "nginx.service", .pid = "7"),
					 3600, now, &q, err, sizeof(err)) == 0);
	CHECK(!q.history);
	CHECK(q.folded);
	CHECK_EQ_U64(q.seconds, 5);
	CHECK_EQ_U64(q.pid, 7);
	CHECK_STR(q.comm, "nginx");
	CHECK_STR(q.cgroup, "/system.slice");
	CHECK_STR(q.container, "0123456789ab");
	CHECK_STR(q.unit, "nginx.service");
	CHECK(http__parse_profile_params(PARAMS(.format = "pprof"), 3600, now, &q, err,
					 sizeof(err)) == 0);
	CHECK(!q.folded);

	CHECK(http__parse_profile_params(PARAMS(.symbolize = "0"), 3600, now, &q, err,
					 sizeof(err)) == 0);
	CHECK(q.addresses_only);
	CHECK(http__parse_profile_params(PARAMS(.symbolize = "1", .format = "folded"), 3600, now,
					 &q, err, sizeof(err)) == 0);
	CHECK(!q.addresses_only);

	/* /debug/pprof/flamegraph: kind and value, and the differential view's base range. */
	CHECK(http__parse_profile_params(PARAMS(.flamegraph = true), 3600, now, &q, err,
					 sizeof(err)) == 0);
	CHECK(q.flame && !q.diff && !q.history);
	CHECK_EQ_U64(q.flame_kind, PROFILE_CPU);
	CHECK_EQ_U64(q.flame_value, FOLDED_COUNT);
	CHECK(http__parse_profile_params(PARAMS(.flamegraph = true, .kind = "blockio"), 3600, now,
					 &q, err, sizeof(err)) == 0);
	CHECK_EQ_U64(q.flame_kind, PROFILE_BLOCKIO);
	CHECK_EQ_U64(q.flame_value, FOLDED_VALUE2);
	CHECK(http__parse_profile_params(
		      PARAMS(.flamegraph = true, .kind = "blockio", .value = "latency"), 3600, now,
		      &q, err, sizeof(err)) == 0);
	CHECK_EQ_U64(q.flame_value, FOLDED_VALUE);
	CHECK(http__parse_profile_params(
		      PARAMS(.flamegraph = true, .kind = "offcpu", .value = "count", .last = "1m",
			     .base_start = "1795334000", .base_end = "1795334060"),
		      3600, now, &q, err, sizeof(err)) == 0);
	CHECK_EQ_U64(q.flame_kind, PROFILE_OFFCPU);
	CHECK_EQ_U64(q.flame_value, FOLDED_COUNT);
	CHECK(q.diff && q.history);
	CHECK_EQ_U64(q.base_start_unix_ns, 1795334000ll * 1000000000ll);
	CHECK_EQ_U64(q.base_end_unix_ns, 1795334060ll * 1000000000ll);
	CHECK(http__parse_profile_params(
		      PARAMS(.flamegraph = true, .kind = "wall", .last = "1m", .base_last = "10m"),
		      3600, now, &q, err, sizeof(err)) == 0);
	CHECK_EQ_U64(q.flame_value, FOLDED_VALUE);
	CHECK_EQ_U64(q.base_start_unix_ns, now - 600000000000ll);
	CHECK_EQ_U64(q.base_end_unix_ns, now);

	const struct profile_params *bad[] = {
		PARAMS(.seconds = "5", .last = "1m"),
		PARAMS(.last = "1m", .start = "1"),
		PARAMS(.last = "1m", .end = "1"),
		PARAMS(.end = "1795334100"),
		PARAMS(.start = "1795334100", .end = "1795334000"),
		PARAMS(.start = "1795334100", .end = "1795334100"),
		PARAMS(.start = "yesterday"),
		PARAMS(.last = "5"),
		PARAMS(.last = "0s"),
		PARAMS(.format = "svg"),
		PARAMS(.comm = ""),
		PARAMS(.comm = "0123456789abcdefX"),
		PARAMS(.comm = "a<b"),
		PARAMS(.cgroup = "system.slice"),
		PARAMS(.cgroup = "/a\"b"),
		PARAMS(.container = "0123456789a"),
		PARAMS(.container = "0123456789AB"),
		PARAMS(.unit = "a b"),
		PARAMS(.pid = "0"),
		PARAMS(.symbolize = "no"),
		PARAMS(.symbolize = "0", .format = "folded"),
		PARAMS(.symbolize = "0", .flamegraph = true),
		/* The flame graph's own parameters, elsewhere or wrong. */
		PARAMS(.last = "1m", .base_last = "5m"),
		PARAMS(.kind = "cpu"),
		PARAMS(.value = "bytes"),
		PARAMS(.flamegraph = true, .kind = "heap"),
		PARAMS(.flamegraph = true, .format = "folded"),
		PARAMS(.flamegraph = true, .value = "bytes"),
		PARAMS(.flamegraph = true, .kind = "wall", .value = "bytes"),
		PARAMS(.flamegraph = true, .kind = "blockio", .value = "time"),
		PARAMS(.flamegraph = true, .seconds = "5", .base_last = "5m"),
		PARAMS(.flamegraph = true, .last = "1m", .base_end = "1795334000"),
		PARAMS(.flamegraph = true, .last = "1m", .base_last = "1m", .base_start = "1"),
		PARAMS(.flamegraph = true, .last = "1m", .base_start = "9", .base_end = "8"),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(http__parse_profile_params(bad[i], 3600, now, &q, err, sizeof(err)) ==
		      -EINVAL);
		CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	}
#undef PARAMS
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

/* Sends a raw request to port and waits for the whole answer. */
static void client_request(struct env *env, struct client *c, uint16_t port, const char *text)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	size_t n = strlen(text);

	memset(c, 0, sizeof(*c));
	c->loop = env->loop;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(write(c->fd, text, n) == (ssize_t)n);
	CHECK(evloop__add(env->loop, c->fd, EPOLLIN, on_client, c) == 0);
	client_wait(env, c);
}

#define AUTH_TOKEN	 "s3cret-token-for-the-http-test"
#define REQ(path, extra) "GET " path " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" extra "\r\n"

/* A server that asks for a bearer token: 401 without it or with a wrong one, 200 with it. */
static void test_bearer_token(struct env *env)
{
	struct http_deps deps = {.loop = env->loop,
				 .collector = env->coll,
				 .max_seconds = 10,
				 .max_sessions = 2,
				 .period = 10101010,
				 .idle_timeout_s = 1};
	char path[] = "/tmp/sonde-test-token.XXXXXX", err[256] = "";
	struct http_server *srv = NULL;
	struct collector_stats cs;
	struct auth *a = NULL;
	struct client c;
	uint16_t port;
	int fd;

	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, AUTH_TOKEN "\n", strlen(AUTH_TOKEN) + 1) ==
	      (ssize_t)strlen(AUTH_TOKEN) + 1);
	close(fd);
	CHECK(auth__new(path, &a, err, sizeof(err)) == 0);
	unlink(path);
	deps.auth = a;
	if (http__new(&deps, "127.0.0.1", 0, &srv, err, sizeof(err))) {
		test__failed++;
		fprintf(stderr, "http__new with a token: %s\n", err);
		auth__free(a);
		return;
	}
	port = http__port(srv);

	client_request(env, &c, port, REQ("/metrics", ""));
	CHECK_EQ_U64(status_of(&c), 401);
	CHECK(has_header(&c, "WWW-Authenticate: Bearer realm=\"sonde\"\r\n"));
	CHECK(has_header(&c, "X-Go-Pprof: 1"));
	CHECK(strstr(c.resp.buf, "sonde_") == NULL); /* nothing of the metrics leaks */
	CHECK(strstr(c.resp.buf, "\r\n\r\nunauthorized: this server needs a bearer token\n"));
	client_close(env, &c);

	client_request(env, &c, port,
		       REQ("/metrics", "Authorization: Bearer wrong-token-123456\r\n"));
	CHECK_EQ_U64(status_of(&c), 401);
	CHECK(has_header(&c, "WWW-Authenticate: Bearer realm=\"sonde\", error=\"invalid_token\""));
	client_close(env, &c);

	client_request(env, &c, port, REQ("/metrics", "Authorization: Bearer " AUTH_TOKEN "x\r\n"));
	CHECK_EQ_U64(status_of(&c), 401);
	client_close(env, &c);

	client_request(env, &c, port, REQ("/metrics", "Authorization: Basic " AUTH_TOKEN "\r\n"));
	CHECK_EQ_U64(status_of(&c), 401);
	client_close(env, &c);

	client_request(env, &c, port, REQ("/metrics", "Authorization: Bearer " AUTH_TOKEN "\r\n"));
	CHECK_EQ_U64(status_of(&c), 200);
	CHECK(strstr(c.resp.buf, "sonde_http_responses_total{code=\"401\"} 4") != NULL);
	client_close(env, &c);

	client_request(env, &c, port, REQ("/debug/pprof/", ""));
	CHECK_EQ_U64(status_of(&c), 401);
	client_close(env, &c);

	/* Liveness probes carry no token: /healthz stays open. */
	client_request(env, &c, port, REQ("/healthz", ""));
	CHECK_EQ_U64(status_of(&c), 200);
	client_close(env, &c);

	/* Refused before a profile starts: no session is opened, nothing is waited for. */
	client_request(env, &c, port, REQ("/debug/pprof/profile?seconds=5", ""));
	CHECK_EQ_U64(status_of(&c), 401);
	collector__stats(env->coll, &cs);
	CHECK_EQ_U64(cs.sessions_open, 0);
	client_close(env, &c);

	/* A body is not read before the answer. */
	client_request(env, &c, port,
		       "POST /debug/pprof/profile HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
		       "Content-Length: 5\r\n\r\nhello");
	CHECK_EQ_U64(status_of(&c), 401);
	client_close(env, &c);

	/* A reload that drops the token opens the server; the old token comes back to free. */
	CHECK(http__set_auth(srv, NULL) == a);
	client_request(env, &c, port, REQ("/metrics", ""));
	CHECK_EQ_U64(status_of(&c), 200);
	client_close(env, &c);
	CHECK(http__set_auth(srv, a) == NULL);
	client_request(env, &c, port, REQ("/metrics", ""));
	CHECK_EQ_U64(status_of(&c), 401);
	client_close(env, &c);

	CHECK(http__loopback_only(srv));
	http__free(srv);
	auth__free(a);

	/* The wildcard address is not loopback. */
	CHECK(http__new(&deps, "0.0.0.0", 0, &srv, err, sizeof(err)) == 0);
	CHECK(!http__loopback_only(srv));
	http__free(srv);
	CHECK(http__new(&deps, "::1", 0, &srv, err, sizeof(err)) == 0);
	CHECK(http__loopback_only(srv));
	http__free(srv);
}

static void inject_blockio(struct env *env, uint32_t pid, int n)
{
	struct sonde_blockio_done done = {.kind = SONDE_EV_BLOCKIO_DONE, .bytes = 4096};
	struct sonde_sample ev;
	uint64_t now;

	for (int i = 0; i < n; i++) {
		/* A request's start record, then its completion 80 us later. */
		now = collector__now_ns();
		memset(&ev, 0, sizeof(ev));
		ev.hdr.kind = SONDE_EV_BLOCKIO;
		ev.hdr.pid = pid;
		ev.hdr.tid = pid;
		ev.hdr.ts_ns = now - 80000;
		ev.hdr.aux = 0x1000 + (uint64_t)i; /* the request's address */
		ev.hdr.info = SONDE_BIO_OP_READ | SONDE_BIO_SYNC;
		ev.hdr.info2 = 254u << 20;
		memcpy(ev.hdr.comm, "db", 3);
		memcpy(ev.hdr.thread_name, "db-io", 6);
		ev.hdr.ustack_sz = 8;
		ev.frames[0] = 0x401000;
		collector__handle_event(env->coll, &ev, sizeof(ev.hdr) + 8);
		done.rq = ev.hdr.aux;
		done.start_ns = ev.hdr.ts_ns;
		done.end_ns = now;
		collector__handle_event(env->coll, &done, sizeof(done));
	}
}

/* /debug/pprof/blockio: 404 with the reason when off; the block-I/O shape when on. */
static void test_blockio_endpoint(struct env *env)
{
	struct http_deps deps = {
		.loop = env->loop,
		.collector = env->coll,
		.max_seconds = 3600,
		.max_sessions = 2,
		.period = 10101010,
		.blockio = true,
	};
	Perftools__Profiles__Profile *p;
	struct collector_stats cs0, cs1;
	struct env on = *env;
	struct client c;
	size_t len = 0;
	int64_t total[3] = {0};
	char err[256] = "";

	/* The shared server runs without block I/O. */
	collector__stats(env->coll, &cs0);
	CHECK(client_open(env, &c, "GET", "/debug/pprof/blockio?seconds=1") == 0);
	client_wait(env, &c);
	CHECK_EQ_U64(status_of(&c), 404);
	CHECK(has_header(&c, "X-Go-Pprof: 1"));
	CHECK(body_of(&c, &len) && strstr(body_of(&c, &len), "--no-blockio") != NULL);
	client_close(env, &c);
	collector__stats(env->coll, &cs1);
	CHECK_EQ_U64(cs1.sessions_total, cs0.sessions_total);

	on.srv = NULL;
	CHECK(http__new(&deps, "127.0.0.1", 0, &on.srv, err, sizeof(err)) == 0);
	if (!on.srv)
		return;
	CHECK(client_open(&on, &c, "GET", "/debug/pprof/") == 0);
	client_wait(&on, &c);
	CHECK(c.resp.buf && strstr(c.resp.buf, "blockio?seconds=") != NULL);
	client_close(&on, &c);
	CHECK(client_open(&on, &c, "POST", "/debug/pprof/blockio") == 0);
	client_wait(&on, &c);
	CHECK_EQ_U64(status_of(&c), 405);
	client_close(&on, &c);
	CHECK(client_open(&on, &c, "GET", "/debug/pprof/blockio?seconds=0") == 0);
	client_wait(&on, &c);
	CHECK_EQ_U64(status_of(&c), 400);
	client_close(&on, &c);

	CHECK(client_open(&on, &c, "GET", "/debug/pprof/blockio?seconds=1&pid=4242") == 0);
	run_until_sessions(&on, 1);
	inject_blockio(&on, 4242, 12);
	inject_blockio(&on, 4243, 5); /* another process: filtered out */
	inject(&on, 4242, 7);	      /* on-CPU samples: not this profile's kind */
	client_wait(&on, &c);
	CHECK_EQ_U64(status_of(&c), 200);
	CHECK(has_header(&c, "Content-Type: application/octet-stream"));
	p = decode(&c);
	CHECK(p != NULL);
	if (p) {
		CHECK_EQ_U64(p->n_sample_type, 3);
		CHECK_STR(p->string_table[p->default_sample_type], "io_latency");
		for (size_t i = 0; i < p->n_sample; i++) {
			for (size_t j = 0; j < 3 && j < p->sample[i]->n_value; j++)
				total[j] += p->sample[i]->value[j];
			CHECK_STR(label_of(p, p->sample[i], "pid"), "4242");
			CHECK_STR(label_of(p, p->sample[i], "device"), "254:0");
			CHECK_STR(label_of(p, p->sample[i], "op"), "read");
			CHECK_STR(label_of(p, p->sample[i], "sync"), "true");
			CHECK_STR(label_of(p, p->sample[i], "thread_name"), "db-io");
		}
		CHECK_EQ_U64(total[0], 12);
		CHECK_EQ_U64(total[1], 12 * 4096);
		CHECK_EQ_U64(total[2], 12 * 80000);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	client_close(&on, &c);
	http__free(on.srv);
}

int main(void)
{
	struct http_deps deps = {0};
	struct env env = {0};
	char err[256];

	test_query_parser();
	test_params_parser();
	env.loop = evloop__new();
	CHECK(env.loop != NULL);
	CHECK(collector__new(-1, &env.coll) == 0);
	deps.loop = env.loop;
	deps.collector = env.coll;
	deps.max_seconds = 3600;
	deps.max_sessions = 2;
	deps.period = 10101010;
	deps.wall_period_ns = 10000000; /* unlike period, so the test tells them apart */
	deps.offcpu = true;
	deps.idle_timeout_s = 1;
	if (http__new(&deps, "127.0.0.1", 0, &env.srv, err, sizeof(err))) {
		fprintf(stderr, "http__new: %s\n", err);
		return 1;
	}
	test_simple_endpoints(&env);
	test_bad_queries(&env);
	test_profile(&env);
	test_flamegraph(&env);
	test_offcpu_methods(&env);
	test_offcpu_and_wall(&env);
	test_offcpu_disabled(&env);
	test_pid_filter_and_concurrency(&env);
	test_client_leaves(&env);
	test_session_limit(&env);
	test_longer_than_idle_timeout(&env);
	test_listen_errors(&env);
	test_bearer_token(&env);
	test_blockio_endpoint(&env);
	http__free(env.srv);
	collector__free(env.coll);
	evloop__free(env.loop);
	return test__finish("test_http");
}
