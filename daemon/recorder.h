/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The always-on part of the daemon: one collector session per kind of record
 * for the current window; when the window ends (a timerfd on the event
 * loop) its tables go into the history, and, if a Pyroscope URL is set, one
 * profile per kind is pushed.
 */
#ifndef SONDE_RECORDER_H
#define SONDE_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroups.h"
#include "collector.h"
#include "evloop.h"
#include "history.h"
#include "profile.h"
#include "strbuf.h"
#include "symbolizer.h"

struct recorder;

struct recorder_opts {
	struct evloop *loop;
	struct collector *collector;
	struct symbolizer *sym; /* for pushed profiles */
	struct cgroups *cg;	/* labels of pushed profiles; may be NULL */
	uint64_t window_ns;
	uint64_t retention_ns;
	size_t max_bytes; /* memory of the history */
	/*
	 * The daemon's resident memory cap (0: none): at every window's end, when
	 * the daemon is over it, the history gives up its oldest windows.
	 */
	size_t max_rss;
	uint32_t agg_max_entries; /* per table */
	uint32_t kinds;		  /* COLLECTOR_* mask of the kinds collected */
	/* What pushed profiles need to know about on-CPU samples and labels. */
	uint64_t period;
	bool cycles;
	uint64_t wall_period_ns;
	uint32_t labels;
	profile_device_name_fn device_name; /* names disks in pushed block-I/O profiles */
	void *device_ctx;
	/* Pyroscope push; url NULL or "": none. */
	const char *push_url;
	const char *push_app;
	const char *push_tags; /* "k=v,k2=v2" or "" */
};

struct recorder_stats {
	uint64_t windows_closed;
	uint64_t rss_bytes;    /* the daemon's resident memory at the last window's end */
	uint64_t rss_over;     /* windows' ends that found the daemon over max_rss */
	uint64_t rss_shrunk;   /* bytes of history tables dropped for it */
	uint64_t pushes_built; /* profiles built for pushing */
	uint64_t push_build_errors;
};

/* 0 or -errno with a one-line reason in err. */
int recorder__new(const struct recorder_opts *opts, struct recorder **out, char *err,
		  size_t err_len);
/* Drops the current window and what is queued for pushing. Accepts NULL. */
void recorder__free(struct recorder *r);

struct history *recorder__history(struct recorder *r);

/* Ends the current window now and starts the next (the timer does this every window). */
void recorder__rotate(struct recorder *r);

void recorder__stats(const struct recorder *r, struct recorder_stats *out);
/* Appends sonde_history_* and sonde_push_* metrics. 0 or -ENOMEM. */
int recorder__render_metrics(const struct recorder *r, struct strbuf *out);

#endif
