// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "log.h"
#include "push.h"

#define MAX_IN_FLIGHT 2
#define URL_MAX	      2048

struct push_item {
	char url[URL_MAX];
	char *body;
	size_t len;
	uint32_t attempts;
	uint64_t not_before_ns; /* CLOCK_MONOTONIC; 0: now */
	CURL *easy;		/* set while in flight */
	struct push_item *next;
};

/* One socket curl asked us to watch. */
struct push_sock {
	struct pusher *p;
	curl_socket_t fd;
};

struct pusher {
	struct evloop *loop;
	struct push_opts opts;
	char base[URL_MAX];
	CURLM *multi;
	struct curl_slist *headers;
	int curl_timer_fd;  /* curl's own timeouts */
	int retry_timer_fd; /* the next backoff that ends */
	struct push_item *head, *tail;
	size_t n_items;
	int in_flight;
	struct push_stats stats;
};

static void arm_timer(int fd, int64_t ms)
{
	struct itimerspec its = {0};

	if (ms >= 0) {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(fd, 0, &its, NULL);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

int pusher__ingest_url(const char *base, const char *name, int64_t from_s, int64_t until_s,
		       char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n, blen = strlen(base);
	int w;

	while (blen && base[blen - 1] == '/')
		blen--;
	w = snprintf(buf, len, "%.*s/ingest?name=", (int)blen, base);
	if (w < 0 || (size_t)w >= len)
		return -ENAMETOOLONG;
	n = (size_t)w;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if (n + 4 >= len)
			return -ENAMETOOLONG;
		if (unreserved(*c)) {
			buf[n++] = (char)*c;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[*c >> 4];
			buf[n++] = hex[*c & 15];
		}
	}
	w = snprintf(buf + n, len - n, "&from=%lld&until=%lld&format=pprof&spyName=sonde",
		     (long long)from_s, (long long)until_s);
	if (w < 0 || (size_t)w >= len - n)
		return -ENAMETOOLONG;
	return 0;
}

static void item_free(struct push_item *it)
{
	if (!it)
		return;
	free(it->body);
	free(it);
}

static void unlink_item(struct pusher *p, struct push_item *it)
{
	struct push_item **pp = &p->head, *prev = NULL;

	while (*pp && *pp != it) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = it->next;
	if (p->tail == it)
		p->tail = prev;
	p->n_items--;
}

static int start_transfer(struct pusher *p, struct push_item *it)
{
	CURL *e = curl_easy_init();

	if (!e)
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_URL, it->url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, it->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)p->opts.timeout_s);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)p->opts.timeout_s);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, it);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sonde");
	if (curl_multi_add_handle(p->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		return -EIO;
	}
	it->easy = e;
	it->attempts++;
	p->in_flight++;
	p->stats.attempts++;
	return 0;
}

/* Starts what may start now and arms the retry timer for the first backoff to end. */
static void kick(struct pusher *p)
{
	uint64_t now = clock__monotonic_ns(), next = 0;

	for (struct push_item *it = p->head; it; it = it->next) {
		if (it->easy)
			continue;
		if (it->not_before_ns > now) {
			if (!next || it->not_before_ns < next)
				next = it->not_before_ns;
			continue;
		}
		if (p->in_flight >= MAX_IN_FLIGHT)
			break;
		if (start_transfer(p, it))
			break;
	}
	arm_timer(p->retry_timer_fd, next ? (int64_t)((next - now) / 1000000 + 1) : -1);
}

static void finish_transfer(struct pusher *p, CURL *e, CURLcode result)
{
	struct push_item *it = NULL;
	long code = 0;
	uint64_t delay_ms;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&it);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_multi_remove_handle(p->multi, e);
	curl_easy_cleanup(e);
	p->in_flight--;
	if (!it)
		return;
	it->easy = NULL;
	if (result == CURLE_OK && code >= 200 && code < 300) {
		p->stats.sent++;
		p->stats.bytes_sent += it->len;
		unlink_item(p, it);
		item_free(it);
		return;
	}
	p->stats.failures++;
	if (it->attempts >= p->opts.max_attempts) {
		log_warn("push: giving up on a profile after %u attempts (last: %s, HTTP %ld)",
			 it->attempts, curl_easy_strerror(result), code);
		p->stats.dropped_gave_up++;
		unlink_item(p, it);
		item_free(it);
		return;
	}
	delay_ms = p->opts.backoff_ms;
	for (uint32_t i = 1; i < it->attempts && delay_ms < p->opts.max_backoff_ms; i++)
		delay_ms *= 2;
	if (delay_ms > p->opts.max_backoff_ms)
		delay_ms = p->opts.max_backoff_ms;
	log_debug("push: attempt %u failed (%s, HTTP %ld); retrying in %llu ms", it->attempts,
		  curl_easy_strerror(result), code, (unsigned long long)delay_ms);
	it->not_before_ns = clock__monotonic_ns() + delay_ms * 1000000ull;
}

static void check_done(struct pusher *p)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(p->multi, &left)))
		if (msg->msg == CURLMSG_DONE)
			finish_transfer(p, msg->easy_handle, msg->data.result);
	kick(p);
}

static void on_socket(void *ctx, uint32_t events)
{
	struct push_sock *ps = ctx;
	struct pusher *p = ps->p;
	int flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(p->multi, ps->fd, flags, &running);
	check_done(p);
}

static int socket_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct pusher *p = userp;
	struct push_sock *ps = socketp;
	uint32_t events = 0;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		evloop__del(p->loop, fd);
		free(ps);
		curl_multi_assign(p->multi, fd, NULL);
		return 0;
	}
	if (!ps) {
		ps = calloc(1, sizeof(*ps));
		if (!ps)
			return -1;
		ps->p = p;
		ps->fd = fd;
		curl_multi_assign(p->multi, fd, ps);
	} else {
		evloop__del(p->loop, fd);
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EPOLLOUT;
	return evloop__add(p->loop, fd, events, on_socket, ps) ? -1 : 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct pusher *p = userp;

	(void)multi;
	arm_timer(p->curl_timer_fd, timeout_ms);
	return 0;
}

static void on_curl_timer(void *ctx, uint32_t events)
{
	struct pusher *p = ctx;
	uint64_t ticks;
	int running;

	(void)events;
	if (read(p->curl_timer_fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(p);
}

static void on_retry_timer(void *ctx, uint32_t events)
{
	struct pusher *p = ctx;
	uint64_t ticks;

	(void)events;
	if (read(p->retry_timer_fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	kick(p);
}

int pusher__new(struct evloop *loop, const struct push_opts *opts, struct pusher **out, char *err,
		size_t err_len)
{
	struct pusher *p;
	int rc;

	if (!opts->url || (strncmp(opts->url, "http://", 7) && strncmp(opts->url, "https://", 8))) {
		snprintf(err, err_len, "the Pyroscope URL must start with http:// or https://");
		return -EINVAL;
	}
	if (strlen(opts->url) >= URL_MAX / 2) {
		snprintf(err, err_len, "the Pyroscope URL is too long");
		return -EINVAL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, err_len, "libcurl cannot initialize");
		return -EIO;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		rc = -ENOMEM;
		goto err_cleanup_curl;
	}
	p->loop = loop;
	p->opts = *opts;
	snprintf(p->base, sizeof(p->base), "%s", opts->url);
	p->opts.url = p->base;
	if (!p->opts.max_queue)
		p->opts.max_queue = 64;
	if (!p->opts.max_attempts)
		p->opts.max_attempts = 5;
	if (!p->opts.backoff_ms)
		p->opts.backoff_ms = 1000;
	if (!p->opts.max_backoff_ms)
		p->opts.max_backoff_ms = 60000;
	if (!p->opts.timeout_s)
		p->opts.timeout_s = 10;
	p->curl_timer_fd = -1;
	p->retry_timer_fd = -1;

	p->multi = curl_multi_init();
	p->headers = curl_slist_append(NULL, "Content-Type: application/octet-stream");
	if (!p->multi || !p->headers) {
		rc = -ENOMEM;
		goto err_free_multi;
	}
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);

	p->curl_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	p->retry_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->curl_timer_fd < 0 || p->retry_timer_fd < 0) {
		rc = -errno;
		goto err_close_timers;
	}
	rc = evloop__add(loop, p->curl_timer_fd, EPOLLIN, on_curl_timer, p);
	if (rc)
		goto err_close_timers;
	rc = evloop__add(loop, p->retry_timer_fd, EPOLLIN, on_retry_timer, p);
	if (rc)
		goto err_del_curl_timer;
	*out = p;
	return 0;

err_del_curl_timer:
	evloop__del(loop, p->curl_timer_fd);
err_close_timers:
	if (p->curl_timer_fd >= 0)
		close(p->curl_timer_fd);
	if (p->retry_timer_fd >= 0)
		close(p->retry_timer_fd);
err_free_multi:
	curl_slist_free_all(p->headers);
	if (p->multi)
		curl_multi_cleanup(p->multi);
	free(p);
err_cleanup_curl:
	curl_global_cleanup();
	snprintf(err, err_len, "cannot set up the Pyroscope pusher: %s", strerror(-rc));
	return rc;
}

void pusher__free(struct pusher *p)
{
	struct push_item *it;

	if (!p)
		return;
	while ((it = p->head)) {
		if (it->easy) {
			curl_multi_remove_handle(p->multi, it->easy);
			curl_easy_cleanup(it->easy);
		}
		p->stats.dropped_gave_up++;
		p->head = it->next;
		item_free(it);
	}
	evloop__del(p->loop, p->curl_timer_fd);
	evloop__del(p->loop, p->retry_timer_fd);
	close(p->curl_timer_fd);
	close(p->retry_timer_fd);
	curl_multi_cleanup(p->multi);
	curl_slist_free_all(p->headers);
	free(p);
	curl_global_cleanup();
}

int pusher__push(struct pusher *p, const char *name, int64_t from_s, int64_t until_s, char *body,
		 size_t len)
{
	struct push_item *it;
	int rc;

	if (p->n_items >= p->opts.max_queue) {
		p->stats.dropped_full++;
		free(body);
		return -ENOSPC;
	}
	it = calloc(1, sizeof(*it));
	if (!it) {
		free(body);
		return -ENOMEM;
	}
	rc = pusher__ingest_url(p->base, name, from_s, until_s, it->url, sizeof(it->url));
	if (rc) {
		free(body);
		free(it);
		return -EINVAL;
	}
	it->body = body;
	it->len = len;
	if (p->tail)
		p->tail->next = it;
	else
		p->head = it;
	p->tail = it;
	p->n_items++;
	p->stats.queued++;
	kick(p);
	return 0;
}

void pusher__stats(const struct pusher *p, struct push_stats *out)
{
	*out = p->stats;
	out->queue_len = p->n_items;
}
