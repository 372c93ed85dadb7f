// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "profile.h"
#include "prom.h"
#include "push.h"
#include "recorder.h"

/* The kinds of record a window keeps a table for. */
static const enum sonde_event_kind window_kinds[] = {SONDE_EV_ONCPU, SONDE_EV_OFFCPU,
						     SONDE_EV_BLOCKIO};

#define N_WINDOW_KINDS (sizeof(window_kinds) / sizeof(window_kinds[0]))

struct recorder {
	struct recorder_opts opts;
	char push_app[128];
	char push_tags[1024];
	struct history *history;
	struct pusher *pusher;
	struct collector_session *sessions[HISTORY_KINDS];
	uint64_t start_ns;
	int64_t start_unix_ns;
	int timer_fd;
	struct recorder_stats stats;
};

/* Opens the sessions of a window starting at start_ns. 0 or -errno. */
static int open_window(struct recorder *r, uint64_t start_ns)
{
	struct agg_opts ao = {.max_entries = r->opts.agg_max_entries,
			      .max_bytes = r->opts.max_bytes / 4 ?: 1};
	int err;

	for (size_t i = 0; i < N_WINDOW_KINDS; i++) {
		enum sonde_event_kind k = window_kinds[i];

		if (!(r->opts.kinds & (1u << k)))
			continue;
		err = collector__session_open(r->opts.collector, start_ns, UINT64_MAX, 0, 1u << k,
					      &ao, &r->sessions[k]);
		if (err)
			return err;
	}
	r->start_ns = start_ns;
	r->start_unix_ns = clock__realtime_ns();
	return 0;
}

/* The Pyroscope name of a push: APP.KIND{tags}. */
static void push_name(const struct recorder *r, const char *kind, char *buf, size_t len)
{
	snprintf(buf, len, "%s.%s{%s}", r->push_app, kind, r->push_tags);
}

static void push_kind(struct recorder *r, enum profile_kind pk, uint32_t kinds, const char *kind,
		      uint64_t start_ns, uint64_t end_ns, int64_t start_unix_ns)
{
	struct agg_opts ao = {.max_entries = r->opts.agg_max_entries};
	struct profile_meta meta = {0};
	struct strbuf body = STRBUF_INIT;
	struct history_range covered;
	struct agg *agg = NULL;
	char name[1400];
	size_t len;
	int err;

	err = history__query(r->history, start_ns, end_ns, kinds, NULL, NULL, &ao, &agg, &covered);
	if (err || !covered.windows) {
		agg__free(agg);
		return; /* evicted at once: over the memory cap, and counted there */
	}
	meta.kind = pk;
	meta.time_nanos = start_unix_ns;
	meta.duration_nanos = (int64_t)(end_ns - start_ns);
	meta.period = pk == PROFILE_WALL ? r->opts.wall_period_ns : r->opts.period;
	meta.cycles = r->opts.cycles;
	meta.labels = r->opts.labels;
	meta.cg = r->opts.cg;
	meta.device_name = r->opts.device_name;
	meta.device_ctx = r->opts.device_ctx;
	err = profile__build(agg, r->opts.sym, &meta, &body, NULL);
	agg__free(agg);
	if (err) {
		strbuf__release(&body);
		r->stats.push_build_errors++;
		log_warn("push: building the %s profile failed: %s", kind, strerror(-err));
		return;
	}
	r->stats.pushes_built++;
	push_name(r, kind, name, sizeof(name));
	len = body.len;
	pusher__push(r->pusher, name, start_unix_ns / 1000000000ll,
		     (start_unix_ns + (int64_t)(end_ns - start_ns)) / 1000000000ll,
		     strbuf__detach(&body, &len), len);
}

/* The daemon's resident memory, from /proc/self/statm; 0 when unreadable. */
static size_t self_rss(void)
{
	unsigned long long pages, resident;
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &pages, &resident);
	fclose(f);
	return n == 2 ? (size_t)resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/*
 * Keeps the daemon under max_rss with the one part of its memory that can
 * give way: the history's oldest windows. The rest (ring buffers, symbol,
 * line, CFI and process caches) has caps of its own. The target leaves an
 * eighth of the cap for what a query builds and frees.
 */
static void fit_memory(struct recorder *r)
{
	size_t rss, target;

	/* Free memory goes back to the kernel, so that RSS counts what is in use. */
	malloc_trim(0);
	rss = self_rss();
	r->stats.rss_bytes = rss;
	if (!r->opts.max_rss || rss <= r->opts.max_rss)
		return;
	r->stats.rss_over++;
	target = r->opts.max_rss - r->opts.max_rss / 8;
	r->stats.rss_shrunk += history__shrink(r->history, rss - target);
	malloc_trim(0);
	r->stats.rss_bytes = self_rss();
}

void recorder__rotate(struct recorder *r)
{
	struct collector_session *old[HISTORY_KINDS];
	struct agg *tables[HISTORY_KINDS] = {0};
	uint64_t now = collector__now_ns(), start = r->start_ns;
	int64_t start_unix = r->start_unix_ns;
	int err;

	/* The next window opens before the drain so that no record falls between them. */
	memcpy(old, r->sessions, sizeof(old));
	memset(r->sessions, 0, sizeof(r->sessions));
	err = open_window(r, now);
	if (err)
		log_warn("history: cannot open the next window: %s", strerror(-err));
	for (int k = 0; k < HISTORY_KINDS; k++)
		if (old[k])
			collector__session_truncate(old[k], now);
	collector__drain(r->opts.collector);
	for (int k = 0; k < HISTORY_KINDS; k++)
		if (old[k])
			tables[k] = collector__session_close(r->opts.collector, old[k]);
	if (now <= start) {
		for (int k = 0; k < HISTORY_KINDS; k++)
			agg__free(tables[k]);
		return;
	}
	history__add(r->history, start, now, start_unix, tables);
	r->stats.windows_closed++;
	fit_memory(r);

	if (!r->pusher)
		return;
	if (r->opts.kinds & COLLECTOR_ONCPU)
		push_kind(r, PROFILE_CPU, COLLECTOR_ONCPU, "cpu", start, now, start_unix);
	if (r->opts.kinds & COLLECTOR_OFFCPU) {
		push_kind(r, PROFILE_OFFCPU, COLLECTOR_OFFCPU, "offcpu", start, now, start_unix);
		push_kind(r, PROFILE_WALL, COLLECTOR_ONCPU | COLLECTOR_OFFCPU, "wall", start, now,
			  start_unix);
	}
	if (r->opts.kinds & COLLECTOR_BLOCKIO)
		push_kind(r, PROFILE_BLOCKIO, COLLECTOR_BLOCKIO, "blockio", start, now, start_unix);
}

static void on_timer(void *ctx, uint32_t events)
{
	struct recorder *r = ctx;
	uint64_t ticks;

	(void)events;
	if (read(r->timer_fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	recorder__rotate(r);
}

int recorder__new(const struct recorder_opts *opts, struct recorder **out, char *err,
		  size_t err_len)
{
	struct history_opts ho = {
		.window_ns = opts->window_ns,
		.retention_ns = opts->retention_ns,
		.max_bytes = opts->max_bytes,
	};
	struct recorder *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->opts = *opts;
	r->timer_fd = -1;
	snprintf(r->push_app, sizeof(r->push_app), "%s",
		 opts->push_app && *opts->push_app ? opts->push_app : "sonde");
	snprintf(r->push_tags, sizeof(r->push_tags), "%s", opts->push_tags ? opts->push_tags : "");
	r->history = history__new(&ho);
	if (!r->history) {
		rc = -ENOMEM;
		snprintf(err, err_len, "cannot allocate the history");
		goto err_free_recorder;
	}
	if (opts->push_url && *opts->push_url) {
		struct push_opts po = {.url = opts->push_url};

		rc = pusher__new(opts->loop, &po, &r->pusher, err, err_len);
		if (rc)
			goto err_free_history;
	}
	rc = open_window(r, collector__now_ns());
	if (rc) {
		snprintf(err, err_len, "cannot open the first window: %s", strerror(-rc));
		goto err_close_sessions;
	}
	rc = evloop__timerfd(history__window_ns(r->history) / 1000000ull, 1);
	if (rc < 0) {
		snprintf(err, err_len, "timerfd: %s", strerror(-rc));
		goto err_close_sessions;
	}
	r->timer_fd = rc;
	rc = evloop__add(opts->loop, r->timer_fd, EPOLLIN, on_timer, r);
	if (rc) {
		snprintf(err, err_len, "cannot watch the window timer: %s", strerror(-rc));
		goto err_close_timer;
	}
	*out = r;
	return 0;

err_close_timer:
	close(r->timer_fd);
err_close_sessions:
	for (int k = 0; k < HISTORY_KINDS; k++)
		collector__session_cancel(opts->collector, r->sessions[k]);
	pusher__free(r->pusher);
err_free_history:
	history__free(r->history);
err_free_recorder:
	free(r);
	return rc;
}

void recorder__free(struct recorder *r)
{
	if (!r)
		return;
	if (r->timer_fd >= 0) {
		evloop__del(r->opts.loop, r->timer_fd);
		close(r->timer_fd);
	}
	for (int k = 0; k < HISTORY_KINDS; k++)
		collector__session_cancel(r->opts.collector, r->sessions[k]);
	pusher__free(r->pusher);
	history__free(r->history);
	free(r);
}

struct history *recorder__history(struct recorder *r)
{
	return r->history;
}

void recorder__stats(const struct recorder *r, struct recorder_stats *out)
{
	*out = r->stats;
}

int recorder__render_metrics(const struct recorder *r, struct strbuf *out)
{
	struct history_stats hs;
	struct push_stats ps = {0};
	int err;

	history__stats(r->history, &hs);
	if (r->pusher)
		pusher__stats(r->pusher, &ps);
	err = prom__metric(out, "sonde_history_windows", "gauge", "History windows held.",
			   hs.windows);
	err = err
		      ?: prom__metric(out, "sonde_history_bytes", "gauge",
				      "Memory held by the history's tables.", hs.bytes);
	err = err
		      ?: prom__metric(out, "sonde_history_windows_closed_total", "counter",
				      "Windows ended and added to the history.", hs.added);
	err = err
		      ?: prom__family(out, "sonde_history_evictions_total", "counter",
				      "Windows dropped from the history, by reason.");
	err = err
		      ?: prom__sample(out, "sonde_history_evictions_total", "reason=\"retention\"",
				      hs.expired);
	err = err
		      ?: prom__sample(out, "sonde_history_evictions_total", "reason=\"memory\"",
				      hs.evicted);
	err = err
		      ?: prom__sample(out, "sonde_history_evictions_total", "reason=\"rss\"",
				      hs.shrunk);
	err = err
		      ?: prom__metric(out, "sonde_memory_rss_bytes", "gauge",
				      "The daemon's resident memory at the end of the last window.",
				      r->stats.rss_bytes);
	err = err
		      ?: prom__metric(out, "sonde_memory_max_bytes", "gauge",
				      "The cap on the daemon's resident memory (--max-memory).",
				      r->opts.max_rss);
	err = err
		      ?: prom__metric(out, "sonde_memory_over_total", "counter",
				      "Windows' ends that found the daemon over --max-memory.",
				      r->stats.rss_over);
	err = err
		      ?: prom__metric(out, "sonde_history_shrunk_bytes_total", "counter",
				      "Bytes of history windows dropped to keep the daemon under "
				      "--max-memory.",
				      r->stats.rss_shrunk);
	err = err
		      ?: prom__metric(out, "sonde_push_queued_total", "counter",
				      "Profiles queued for Pyroscope.", ps.queued);
	err = err
		      ?: prom__metric(out, "sonde_push_sent_total", "counter",
				      "Profiles delivered to Pyroscope.", ps.sent);
	err = err
		      ?: prom__metric(out, "sonde_push_failures_total", "counter",
				      "Failed push attempts (each may be retried).", ps.failures);
	err = err
		      ?: prom__family(out, "sonde_push_dropped_total", "counter",
				      "Profiles that could not be delivered, by reason.");
	err = err
		      ?: prom__sample(out, "sonde_push_dropped_total", "reason=\"queue_full\"",
				      ps.dropped_full);
	err = err
		      ?: prom__sample(out, "sonde_push_dropped_total", "reason=\"gave_up\"",
				      ps.dropped_gave_up);
	err = err
		      ?: prom__metric(out, "sonde_push_queue_length", "gauge",
				      "Profiles waiting to be pushed.", ps.queue_len);
	err = err
		      ?: prom__metric(out, "sonde_push_build_errors_total", "counter",
				      "Pushed profiles that could not be built.",
				      r->stats.push_build_errors);
	return err;
}
