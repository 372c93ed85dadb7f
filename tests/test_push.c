// SPDX-License-Identifier: GPL-2.0
/*
 * The Pyroscope pusher against a loopback receiver started here (libmicrohttpd
 * in its own thread), with the pusher on a real event loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "evloop.h"
#include "push.h"
#include "testutil.h"

struct receiver {
	struct MHD_Daemon *mhd;
	uint16_t port;
	pthread_mutex_t lock;
	int requests;
	int fail_first; /* answer 503 to this many requests first */
	int always_fail;
	char method[16], url[64], name[256], from[32], until[32], format[32];
	char body[256];
	size_t body_len;
};

struct upload {
	char buf[256];
	size_t len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct receiver *r = cls;
	struct upload *up = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *v;
	int status;

	(void)version;
	if (!up) {
		up = calloc(1, sizeof(*up));
		*con_cls = up;
		return up ? MHD_YES : MHD_NO;
	}
	if (*data_size) {
		size_t n = *data_size;

		if (n > sizeof(up->buf) - up->len)
			n = sizeof(up->buf) - up->len;
		memcpy(up->buf + up->len, data, n);
		up->len += n;
		*data_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&r->lock);
	r->requests++;
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->url, sizeof(r->url), "%s", url);
	v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
	snprintf(r->name, sizeof(r->name), "%s", v ? v : "");
	v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from");
	snprintf(r->from, sizeof(r->from), "%s", v ? v : "");
	v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "until");
	snprintf(r->until, sizeof(r->until), "%s", v ? v : "");
	v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
	snprintf(r->format, sizeof(r->format), "%s", v ? v : "");
	memcpy(r->body, up->buf, up->len);
	r->body_len = up->len;
	status = r->always_fail || r->requests <= r->fail_first ? 503 : 200;
	pthread_mutex_unlock(&r->lock);

	resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static int receiver_start(struct receiver *r)
{
	const union MHD_DaemonInfo *info;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				  NULL, on_request, r, MHD_OPTION_NOTIFY_COMPLETED, on_completed, r,
				  MHD_OPTION_END);
	if (!r->mhd)
		return -1;
	info = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_BIND_PORT);
	r->port = info ? info->port : 0;
	return r->port ? 0 : -1;
}

static void receiver_stop(struct receiver *r)
{
	MHD_stop_daemon(r->mhd);
	pthread_mutex_destroy(&r->lock);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until the pusher has nothing queued, or timeout_ms passes. */
static void run_until_idle(struct evloop *loop, struct pusher *p, uint64_t timeout_ms)
{
	uint64_t end = ms_now() + timeout_ms;
	struct push_stats st;

	do {
		evloop__run_once(loop, 50);
		pusher__stats(p, &st);
	} while (st.queue_len && ms_now() < end);
}

static char *body_of(const char *s)
{
	return strdup(s);
}

static void test_url(void)
{
	char buf[256];

	CHECK(pusher__ingest_url("http://h:4040/", "app.cpu{env=prod,host=a b}", 10, 20, buf,
				 sizeof(buf)) == 0);
	CHECK_STR(buf, "http://h:4040/ingest?name=app.cpu%7Benv%3Dprod%2Chost%3Da%20b%7D&from=10"
		       "&until=20&format=pprof&spyName=sonde");
	CHECK(pusher__ingest_url("http://h", "x", 1, 2, buf, 30) == -ENAMETOOLONG);
}

static void test_delivery_and_retry(void)
{
	struct push_opts o = {.backoff_ms = 20, .max_attempts = 4, .timeout_s = 5};
	struct evloop *loop = evloop__new();
	struct receiver r;
	struct push_stats st;
	struct pusher *p = NULL;
	char url[64], err[256];

	CHECK(receiver_start(&r) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", r.port);
	o.url = url;
	CHECK(pusher__new(loop, &o, &p, err, sizeof(err)) == 0);

	/* Delivered at once. */
	CHECK(pusher__push(p, "app.cpu{k=v}", 100, 110, body_of("PPROF-1"), 7) == 0);
	run_until_idle(loop, p, 5000);
	pusher__stats(p, &st);
	CHECK_EQ_U64(st.sent, 1);
	CHECK_EQ_U64(st.attempts, 1);
	CHECK_EQ_U64(st.bytes_sent, 7);
	CHECK_STR(r.method, "POST");
	CHECK_STR(r.url, "/ingest");
	CHECK_STR(r.name, "app.cpu{k=v}");
	CHECK_STR(r.from, "100");
	CHECK_STR(r.until, "110");
	CHECK_STR(r.format, "pprof");
	CHECK(r.body_len == 7 && memcmp(r.body, "PPROF-1", 7) == 0);

	/* Two 503s, then delivered on the third attempt after backoff. */
	r.fail_first = r.requests + 2;
	CHECK(pusher__push(p, "app.cpu", 110, 120, body_of("PPROF-2"), 7) == 0);
	run_until_idle(loop, p, 5000);
	pusher__stats(p, &st);
	CHECK_EQ_U64(st.sent, 2);
	CHECK_EQ_U64(st.failures, 2);
	CHECK_EQ_U64(st.attempts, 4);
	CHECK_EQ_U64(st.queue_len, 0);

	/* Always failing: given up after max_attempts, and counted. */
	r.always_fail = 1;
	CHECK(pusher__push(p, "app.cpu", 120, 130, body_of("PPROF-3"), 7) == 0);
	run_until_idle(loop, p, 5000);
	pusher__stats(p, &st);
	CHECK_EQ_U64(st.dropped_gave_up, 1);
	CHECK_EQ_U64(st.sent, 2);
	CHECK_EQ_U64(st.queued, 3);

	pusher__free(p);
	receiver_stop(&r);
	evloop__free(loop);
}

static void test_queue_bound_and_errors(void)
{
	struct push_opts o = {.url = "http://127.0.0.1:1", .max_queue = 1, .backoff_ms = 60000};
	struct evloop *loop = evloop__new();
	struct push_stats st;
	struct pusher *p = NULL;
	char err[256] = "";

	/* Port 1 refuses: the first profile waits in backoff, the second finds the queue full. */
	CHECK(pusher__new(loop, &o, &p, err, sizeof(err)) == 0);
	CHECK(pusher__push(p, "a", 1, 2, body_of("x"), 1) == 0);
	for (int i = 0; i < 20; i++)
		evloop__run_once(loop, 20);
	CHECK(pusher__push(p, "a", 2, 3, body_of("y"), 1) == -ENOSPC);
	pusher__stats(p, &st);
	CHECK_EQ_U64(st.dropped_full, 1);
	CHECK_EQ_U64(st.queue_len, 1);
	CHECK(st.failures >= 1);
	/* Freeing with a profile queued counts it as given up. */
	pusher__free(p);
	pusher__free(NULL);

	o.url = "ftp://x";
	p = NULL;
	CHECK(pusher__new(loop, &o, &p, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "http://") != NULL);
	CHECK(p == NULL);
	evloop__free(loop);
}

int main(void)
{
	test_url();
	test_delivery_and_retry();
	test_queue_bound_and_errors();
	return test__finish("test_push");
}
