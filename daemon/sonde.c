// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "blockdev.h"
#include "collector.h"
#include "evloop.h"
#include "http.h"
#include "ksymwatch.h"
#include "loader.h"
#include "auth.h"
#include "log.h"
#include "notify.h"
#include "sonde.h"
#include "prom.h"
#include "recorder.h"
#include "symbolizer.h"
#include "unwinder.h"
#include "tls.h"

/* How often the ring buffer is drained when BPF has not woken us sooner. */
#define DRAIN_INTERVAL_MS 200

struct sonde {
	struct config cfg;
	struct evloop *loop;
	struct loader *loader;
	struct collector *collector;
	struct symbolizer *sym;
	struct unwinder *unwinder; /* NULL when no stack is copied (--unwind-stack-bytes 0) */
	struct ksymwatch *ksyms;   /* BPF programs loaded and unloaded; NULL if unavailable */
	struct blockdev *blockdev;
	struct http_server *http;
	struct notifier *notify; /* from sonde__run on */
	struct auth *auth;	 /* owned here, lent to http; replaced on reload */
	struct tls_creds *tls;
	sonde_reload_fn reload_fn;
	void *reload_ctx;
	struct cgroups *cg;
	struct recorder *recorder;
	int signal_fd;
	int drain_fd;
	sigset_t old_mask;
	int exit_code;
};

/* "serving on https://[::1]:6060/debug/pprof/" */
static void serving_line(const struct sonde *s, char *buf, size_t len)
{
	bool v6 = strchr(s->cfg.listen_host, ':') != NULL;

	snprintf(buf, len, "serving on %s://%s%s%s:%u/debug/pprof/", s->tls ? "https" : "http",
		 v6 ? "[" : "", s->cfg.listen_host, v6 ? "]" : "", http__port(s->http));
}

static void on_hangup(struct sonde *s)
{
	struct config *next = malloc(sizeof(*next));
	char err[512], status[320];
	int rc;

	if (!s->reload_fn || !next) {
		log_warn("received SIGHUP, but %s",
			 next ? "there is nothing to reload" : "out of memory");
		free(next);
		return;
	}
	log_info("received SIGHUP, reloading the settings");
	notify__reloading(s->notify);
	rc = s->reload_fn(s->reload_ctx, next, err, sizeof(err));
	if (rc)
		log_error("reload failed, the running settings stay: %s", err);
	else
		sonde__reload(s, next);
	free(next);
	serving_line(s, status, sizeof(status));
	notify__ready(s->notify, status);
}

static void on_signal(void *ctx, uint32_t events)
{
	struct sonde *s = ctx;
	struct signalfd_siginfo si;

	(void)events;
	if (read(s->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		on_hangup(s);
		return;
	}
	log_info("received %s, stopping", strsignal((int)si.ssi_signo));
	evloop__stop(s->loop);
}

static void on_ringbuf(void *ctx, uint32_t events)
{
	struct sonde *s = ctx;

	(void)events;
	collector__drain(s->collector);
}

/* A process's first sample in a new address space: read its maps while it runs. */
static void on_new_address_space(void *ctx, uint32_t pid, uint64_t start_ns)
{
	struct sonde *s = ctx;

	(void)symbolizer__prefetch(s->sym, pid, start_ns);
}

/* What the unwinder learnt of a thread's stack top, for the BPF programs' next copies. */
static void on_stack_top(void *ctx, uint32_t tid, uint64_t mm_tag, uint64_t top)
{
	struct sonde *s = ctx;
	int rc;

	rc = top ? loader__set_stack_top(s->loader, tid, mm_tag, top)
		 : loader__clear_stack_top(s->loader, tid);
	if (rc && rc != -ENOENT)
		log_debug("stack top of thread %u: %s", tid, strerror(-rc));
}

static void on_drain_timer(void *ctx, uint32_t events)
{
	struct sonde *s = ctx;
	uint64_t ticks;

	(void)events;
	if (read(s->drain_fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	ksymwatch__drain(s->ksyms);
	collector__drain(s->collector);
}

static void on_ksymbol(void *ctx, uint64_t addr, uint32_t len, const char *name, bool bpf,
		       bool gone)
{
	struct sonde *s = ctx;

	(void)bpf;
	(void)symbolizer__ksymbol(s->sym, addr, len, name, gone);
}

static void on_ksymbol_lost(void *ctx)
{
	struct sonde *s = ctx;

	symbolizer__ksyms_stale(s->sym);
}

/* A counter or gauge family with one unlabelled sample. */
struct plain_metric {
	const char *name;
	const char *type;
	const char *help;
	uint64_t value;
};

/* A family whose samples differ by one label. */
struct labelled_metric {
	const char *name;
	const char *type;
	const char *help;
	const char *label;
	size_t n;
	struct {
		const char *label_value;
		uint64_t value;
	} samples[6];
};

static int render_plain(struct strbuf *out, const struct plain_metric *m, size_t n)
{
	int err = 0;

	for (size_t i = 0; !err && i < n; i++)
		err = prom__metric(out, m[i].name, m[i].type, m[i].help, m[i].value);
	return err;
}

static int render_labelled(struct strbuf *out, const struct labelled_metric *m, size_t n)
{
	char labels[64];
	int err = 0;

	for (size_t i = 0; !err && i < n; i++) {
		err = prom__family(out, m[i].name, m[i].type, m[i].help);
		for (size_t j = 0; !err && j < m[i].n; j++) {
			snprintf(labels, sizeof(labels), "%s=\"%s\"", m[i].label,
				 m[i].samples[j].label_value);
			err = prom__sample(out, m[i].name, labels, m[i].samples[j].value);
		}
	}
	return err;
}

static int render_bpf_stats(struct sonde *s, struct strbuf *out)
{
	static const char *const names[LOADER_PROG__MAX] = {
		[LOADER_PROG_ONCPU] = "oncpu",
		[LOADER_PROG_OFFCPU] = "offcpu",
		[LOADER_PROG_BLOCKIO] = "blockio",
	};
	struct loader_bpf_stats bs[LOADER_PROG__MAX] = {0};
	char labels[48];
	int err;

	for (int p = 0; p < LOADER_PROG__MAX; p++)
		loader__bpf_stats(s->loader, (enum loader_prog)p, &bs[p]);
	err = prom__family(out, "sonde_bpf_run_time_seconds_total", "counter",
			   "CPU time of sonde's BPF programs (needs sysctl "
			   "kernel.bpf_stats_enabled=1).");
	for (int p = 0; !err && p < LOADER_PROG__MAX; p++) {
		snprintf(labels, sizeof(labels), "program=\"%s\"", names[p]);
		err = prom__sample_f(out, "sonde_bpf_run_time_seconds_total", labels,
				     (double)bs[p].run_time_ns / 1e9);
	}
	err = err
		      ?: prom__family(out, "sonde_bpf_run_count_total", "counter",
				      "Runs of sonde's BPF programs (needs "
				      "kernel.bpf_stats_enabled=1).");
	for (int p = 0; !err && p < LOADER_PROG__MAX; p++) {
		snprintf(labels, sizeof(labels), "program=\"%s\"", names[p]);
		err = prom__sample(out, "sonde_bpf_run_count_total", labels, bs[p].run_cnt);
	}
	return err;
}

static int render_metrics(void *ctx, struct strbuf *out)
{
	struct sonde *s = ctx;
	uint64_t bpf[SONDE_CNT__MAX] = {0}, off[SONDE_OFF__MAX] = {0}, bio[SONDE_BIO__MAX] = {0};
	struct collector_stats cs;
	struct symbolizer_stats ss;
	struct unwinder_stats us = {0};
	struct ksymwatch_stats ks;
	uint64_t unmatched;
	int err;

	loader__read_counters(s->loader, bpf);
	loader__read_offcpu_counters(s->loader, off);
	loader__read_blockio_counters(s->loader, bio);
	/*
	 * A completion without a record was either left out by sampling or not
	 * seen starting; the difference counts the latter (exact once the
	 * sampled-out requests in flight have completed).
	 */
	unmatched = bio[SONDE_BIO_NO_RECORD] > bio[SONDE_BIO_SAMPLED_OUT]
			    ? bio[SONDE_BIO_NO_RECORD] - bio[SONDE_BIO_SAMPLED_OUT]
			    : 0;
	collector__stats(s->collector, &cs);
	symbolizer__stats(s->sym, &ss);
	if (s->unwinder)
		unwinder__stats(s->unwinder, &us);
	ksymwatch__stats(s->ksyms, &ks);

	const struct plain_metric plain[] = {
		{"sonde_bpf_samples_total", "counter",
		 "Perf-event samples seen by the BPF program.", bpf[SONDE_CNT_SAMPLES]},
		{"sonde_bpf_idle_skipped_total", "counter",
		 "Samples of the idle task, skipped on purpose.", bpf[SONDE_CNT_IDLE_SKIPPED]},
		{"sonde_ringbuf_drops_total", "counter",
		 "On-CPU samples lost because the BPF ring buffer was full.",
		 bpf[SONDE_CNT_RB_DROPS]},
		{"sonde_kernel_stack_errors_total", "counter",
		 "On-CPU kernel stacks that could not be read.", bpf[SONDE_CNT_KSTACK_ERR]},
		{"sonde_user_stack_errors_total", "counter",
		 "On-CPU user stacks that could not be read.", bpf[SONDE_CNT_USTACK_ERR]},
		{"sonde_offcpu_waits_total", "counter",
		 "Threads that blocked (switched out not runnable), timestamped by the scheduler "
		 "hook.",
		 off[SONDE_OFF_BLOCKED]},
		{"sonde_offcpu_events_total", "counter",
		 "Off-CPU records written to the ring buffer.", off[SONDE_OFF_EMITTED]},
		{"sonde_offcpu_early_stacks_total", "counter",
		 "Switch-outs outside a system call (preemption in user mode, page faults), "
		 "whose stacks are read at once.",
		 off[SONDE_OFF_EARLY]},
		{"sonde_offcpu_sampled_total", "counter",
		 "Waits shorter than --offcpu-min kept by sampling (and weighted up).",
		 off[SONDE_OFF_SHORT_KEPT]},
		{"sonde_offcpu_filtered_total", "counter",
		 "Waits shorter than --offcpu-min left out by sampling (accounted for by the "
		 "weight of the kept ones).",
		 off[SONDE_OFF_FILTERED]},
		{"sonde_samples_received_total", "counter",
		 "Records read from the ring buffers (on- and off-CPU).", cs.events},
		{"sonde_offcpu_records_received_total", "counter",
		 "Off-CPU records read from the ring buffer.", cs.offcpu_events},
		{"sonde_blockio_started_total", "counter",
		 "Block-I/O requests seen starting by the block-layer hook.",
		 bio[SONDE_BIO_STARTED]},
		{"sonde_blockio_events_total", "counter",
		 "Block-I/O completion records (kept requests completed) written to the ring "
		 "buffer.",
		 bio[SONDE_BIO_EMITTED]},
		{"sonde_blockio_sampled_out_total", "counter",
		 "Block-I/O requests left out by rate sampling above --blockio-max-rate "
		 "(accounted for by the weight of the kept ones).",
		 bio[SONDE_BIO_SAMPLED_OUT]},
		{"sonde_blockio_unmatched_total", "counter",
		 "Block-I/O completions of requests not seen starting (e.g. started before sonde "
		 "attached).",
		 unmatched},
		{"sonde_blockio_replaced_total", "counter",
		 "Pending block-I/O records replaced because their request's slot started a new "
		 "request: the first ended unseen, typically merged into another request.",
		 bio[SONDE_BIO_STALE]},
		{"sonde_blockio_records_received_total", "counter",
		 "Block-I/O records (starts and completions) read from the ring buffer.",
		 cs.blockio_events},
		{"sonde_blockio_pending_records", "gauge",
		 "Block-I/O start records waiting in the daemon for their request's completion.",
		 cs.blockio_pending},
		{"sonde_blockio_attached", "gauge",
		 "1 while the block-I/O hooks are attached; 0 when off or paused by a reload.",
		 loader__blockio_attached(s->loader)},
		{"sonde_samples_malformed_total", "counter",
		 "Ring-buffer records of unexpected size or kind, dropped.", cs.malformed},
		{"sonde_ringbuf_read_errors_total", "counter", "Failed reads of the ring buffers.",
		 cs.read_errors},
		{"sonde_agg_overflow_total", "counter",
		 "Samples folded into a profile's overflow entry because its table was full.",
		 cs.agg_overflow},
		{"sonde_sessions_open", "gauge",
		 "Collector sessions open: profile requests, and the history's current window.",
		 cs.sessions_open},
		{"sonde_symbolize_kernel_lookups_total", "counter", "Kernel frames looked up.",
		 ss.kernel_lookups},
		{"sonde_symbolize_user_lookups_total", "counter", "User frames looked up.",
		 ss.user_lookups},
		{"sonde_symbol_cache_hits_total", "counter", "ELF symbol-table cache hits.",
		 ss.elf_cache_hits},
		{"sonde_symbol_cache_misses_total", "counter", "ELF symbol-table cache misses.",
		 ss.elf_cache_misses},
		{"sonde_symbol_cache_evictions_total", "counter",
		 "ELF symbol tables evicted (LRU).", ss.elf_cache_evictions},
		{"sonde_symbol_cache_files", "gauge", "ELF symbol tables held.", ss.elf_cached},
		{"sonde_process_cache_evictions_total", "counter",
		 "Process mapping tables evicted (LRU).", ss.proc_cache_evictions},
		{"sonde_process_cache_entries", "gauge", "Process mapping tables held.",
		 ss.proc_cached},
		{"sonde_process_prefetches_total", "counter",
		 "Process maps read at the first sample of a new address space.", ss.prefetches},
		{"sonde_process_prefetch_failures_total", "counter",
		 "Maps or files unreadable when read ahead, mostly processes gone before.",
		 ss.prefetch_failures},
		{"sonde_process_exited_kept_total", "counter",
		 "Exited processes whose maps were kept to name their frames.", ss.exited_kept},
		{"sonde_process_pid_reuses_total", "counter",
		 "Processes that took the pid of an exited one whose maps were kept apart.",
		 ss.pid_reuses},
		{"sonde_process_exited_lookups_total", "counter",
		 "Frames named from the kept maps of exited processes.", ss.exited_hits},
		{"sonde_debug_files_total", "counter",
		 "Stripped files named from a separate debug file (build ID or debuglink).",
		 ss.debug_files},
		{"sonde_kernel_code_announced_total", "counter",
		 "BPF programs (and other kernel code) seen loading, from PERF_RECORD_KSYMBOL.",
		 ks.registered},
		{"sonde_kernel_code_gone_total", "counter",
		 "BPF programs (and other kernel code) seen unloading.", ks.unregistered},
		{"sonde_kernel_code_lost_total", "counter",
		 "PERF_RECORD_KSYMBOL records the kernel lost; kallsyms is read again after.",
		 ks.lost},
		{"sonde_kernel_code_malformed_total", "counter",
		 "PERF_RECORD_KSYMBOL records that could not be parsed, skipped.", ks.malformed},
		{"sonde_kernel_code_dropped_total", "counter",
		 "Announced kernel symbols not kept: 65536 live ones are held already.",
		 ss.ksymbols_dropped},
		{"sonde_kernel_code_lookups_total", "counter",
		 "Kernel frames named from announced code rather than the kallsyms snapshot.",
		 ss.ksymbol_hits},
		{"sonde_minidebug_files_total", "counter",
		 "Stripped files named from their own MiniDebugInfo (.gnu_debugdata).",
		 ss.minidebug_files},
		{"sonde_minidebug_errors_total", "counter",
		 "MiniDebugInfo sections corrupt, over 32 MiB compressed or 64 MiB decompressed.",
		 ss.minidebug_errors},
		{"sonde_perfmap_loads_total", "counter",
		 "JIT perf maps (/tmp/perf-PID.map) read, again when they changed.",
		 ss.perfmap_loads},
		{"sonde_perfmap_lookups_total", "counter", "JIT frames named from a perf map.",
		 ss.perfmap_hits},
		{"sonde_perfmap_errors_total", "counter",
		 "Perf maps unreadable, over 16 MiB, or over the 128 MiB budget of all of them.",
		 ss.perfmap_errors},
		{"sonde_perfmap_bad_lines_total", "counter", "Malformed perf-map lines skipped.",
		 ss.perfmap_bad_lines},
		{"sonde_symbolize_lines_total", "counter",
		 "Named user frames given a source file and line from DWARF.", ss.line_hits},
		{"sonde_symbolize_lines_missing_total", "counter",
		 "Named user frames left without a line: their file has no DWARF, or it has no "
		 "line for them.",
		 ss.line_misses},
		{"sonde_dwarf_errors_total", "counter",
		 "Files whose DWARF could not be opened: unreadable, corrupt, or a debug "
		 "file whose build ID changed.",
		 ss.dwarf_errors},
		{"sonde_dwarf_closed_total", "counter",
		 "Files whose DWARF was closed to keep the open debug sections under their cap "
		 "(least recently used first; opened again for an address never named).",
		 ss.dwarf_closed},
		{"sonde_dwarf_bytes", "gauge", "Debug sections of the DWARF held open.",
		 ss.dwarf_bytes},
		{"sonde_line_cache_hits_total", "counter",
		 "Line look-ups answered from the cache of (file, address) lines, without DWARF.",
		 ss.line_cache_hits},
		{"sonde_line_cache_evictions_total", "counter",
		 "Addresses whose cached lines were dropped for room (least recently used).",
		 ss.line_cache_evictions},
		{"sonde_line_cache_entries", "gauge", "Addresses whose source lines are cached.",
		 ss.line_cache_entries},
		{"sonde_line_cache_bytes", "gauge", "Memory held by the cache of source lines.",
		 ss.line_cache_bytes},
		{"sonde_frame_cache_hits_total", "counter",
		 "User frames named from the cache of (file, offset) names, across profiles.",
		 ss.frame_cache_hits},
		{"sonde_frame_cache_misses_total", "counter",
		 "User frames in a file named through the symbol tables and DWARF.",
		 ss.frame_cache_misses},
		{"sonde_frame_cache_evictions_total", "counter",
		 "Cached names of (file, offset) dropped for room (least recently used).",
		 ss.frame_cache_evictions},
		{"sonde_frame_cache_entries", "gauge", "File offsets whose names are cached.",
		 ss.frame_cache_entries},
		{"sonde_frame_cache_bytes", "gauge", "Memory held by the cache of frame names.",
		 ss.frame_cache_bytes},
		{"sonde_dwarf_scope_walks_total", "counter",
		 "Line look-ups that searched a whole compile unit for inlined calls, its "
		 "functions being over the index's cap.",
		 ss.line_scope_walks},
		{"sonde_unwind_stacks_total", "counter",
		 "User stacks unwound with CFI from the stack copy of their record.", us.stacks},
		{"sonde_offcpu_unwind_capped_total", "counter",
		 "Off-CPU records sent without a user-stack copy, over its rate caps (2000 a "
		 "second per CPU, 1000 of one process): their user stacks are frame-pointer walks.",
		 off[SONDE_OFF_UCOPY_CAPPED]},
		{"sonde_unwind_copies_to_top_total", "counter",
		 "Stack copies cut at their thread's learnt stack top, without a frame-pointer "
		 "walk in BPF.",
		 cs.copies_to_top},
		{"sonde_unwind_stack_tops_learnt_total", "counter",
		 "Thread stack tops handed to BPF after a copy unwound to the outermost frame.",
		 cs.stack_tops_learnt},
		{"sonde_unwind_stack_tops_cleared_total", "counter",
		 "Learnt stack tops withdrawn: a copy cut at one did not reach the outermost "
		 "frame.",
		 cs.stack_tops_cleared},
		{"sonde_unwind_no_copy_total", "counter",
		 "Records with a copy but no usable registers or stack: frame pointers only.",
		 us.no_copy},
		{"sonde_unwind_rule_cache_hits_total", "counter", "CFI rows found compiled.",
		 us.rule_hits},
		{"sonde_unwind_rule_cache_misses_total", "counter",
		 "CFI rows looked up with libdw.", us.rule_misses},
		{"sonde_unwind_rule_cache_evictions_total", "counter",
		 "Compiled CFI rows evicted (least recently used first).", us.rule_evictions},
		{"sonde_unwind_rules_cached", "gauge", "Compiled CFI rows held.", us.rules_cached},
		{"sonde_unwind_files_cached", "gauge", "ELF files held open for their CFI.",
		 us.files_cached},
		{"sonde_unwind_file_evictions_total", "counter",
		 "ELF files closed to make room (least recently used first).", us.file_evictions},
		{"sonde_unwind_file_bytes", "gauge",
		 "CFI sections read into memory by the files held open (capped, LRU).",
		 us.file_bytes},
		{"sonde_unwind_maps_rereads_total", "counter",
		 "Process maps read again (at most every 250 ms) for a pc in no mapping.",
		 us.maps_rereads},
		{"sonde_unwind_file_errors_total", "counter",
		 "Mapped files that could not be opened or had no CFI.", us.file_errors},
	};
	const struct labelled_metric labelled[] = {
		{"sonde_symbolize_failures_total",
		 "counter",
		 "Frames that could not be named, by cause.",
		 "cause",
		 5,
		 {{"kernel_no_symbol", ss.kernel_failures},
		  {"no_mapping", ss.user_no_mapping},
		  {"no_symbol", ss.user_no_symbol},
		  {"maps_unreadable", ss.maps_read_errors},
		  {"elf_unreadable", ss.elf_errors}}},
		{"sonde_unwind_stops_total",
		 "counter",
		 "CFI-unwound stacks by how the CFI walk ended: complete (outermost frame), "
		 "truncated (ran off the stack copy), no_cfi (a pc with no mapping, file or CFI "
		 "row), bad_rule (a read error or an unsupported rule); all but complete continue "
		 "with frame pointers where they can.",
		 "cause",
		 4,
		 {{"complete", us.complete},
		  {"truncated", us.truncated},
		  {"no_cfi", us.no_cfi},
		  {"bad_rule", us.bad_rule}}},
		{"sonde_unwind_frames_total",
		 "counter",
		 "User frames recovered by the unwinder, by method.",
		 "method",
		 2,
		 {{"cfi", us.frames_cfi}, {"frame_pointer", us.frames_fp}}},
		{"sonde_offcpu_dropped_total",
		 "counter",
		 "Off-CPU waits that were to be recorded but were lost, by reason.",
		 "reason",
		 4,
		 {{"rate_cap", off[SONDE_OFF_RATE_LIMITED]},
		  {"slot_busy", off[SONDE_OFF_SLOT_BUSY]},
		  {"ringbuf_full", off[SONDE_OFF_RB_DROPS]},
		  {"no_thread_state", off[SONDE_OFF_STORAGE_ERR]}}},
		{"sonde_offcpu_incomplete_total",
		 "counter",
		 "Off-CPU records sent without a stack they should have, by reason.",
		 "reason",
		 4,
		 {{"kernel_stack", off[SONDE_OFF_KSTACK_ERR]},
		  {"user_stack", off[SONDE_OFF_USTACK_ERR]},
		  {"task_work", off[SONDE_OFF_TASK_WORK_ERR]},
		  {"stale", off[SONDE_OFF_STALE]}}},
		{"sonde_blockio_dropped_total",
		 "counter",
		 "Block-I/O requests that were to be recorded but were lost, by reason.",
		 "reason",
		 2,
		 {{"table_full", bio[SONDE_BIO_TABLE_FULL]},
		  {"ringbuf_full", bio[SONDE_BIO_RB_DROPS]}}},
		{"sonde_blockio_incomplete_total",
		 "counter",
		 "Block-I/O records sent without a stack they should have, by reason (the user "
		 "stack's walk stops where its frames end, and has no failure to count).",
		 "reason",
		 1,
		 {{"kernel_stack", bio[SONDE_BIO_KSTACK_ERR]}}},
		{"sonde_blockio_join_failures_total",
		 "counter",
		 "Block-I/O records the daemon could not join: start records dropped before "
		 "their completion (evicted, oldest first, when 4096 wait: mostly requests merged "
		 "away, which never complete; no_memory), and completions without a start record "
		 "(no_start).",
		 "reason",
		 3,
		 {{"evicted", cs.blockio_evicted},
		  {"no_memory", cs.blockio_nomem},
		  {"no_start", cs.blockio_unmatched}}},
	};

	err = render_plain(out, plain, sizeof(plain) / sizeof(plain[0]));
	err = err ?: render_labelled(out, labelled, sizeof(labelled) / sizeof(labelled[0]));
	err = err ?: render_bpf_stats(s, out);
	err = err ?: recorder__render_metrics(s->recorder, out);
	return err;
}

static const char *name_device(void *ctx, uint32_t dev, char *buf, size_t len)
{
	return blockdev__name(ctx, dev, buf, len);
}

int sonde__new(const struct config *cfg, struct sonde **out, char *err, size_t err_len)
{
	struct loader_opts lopts = {
		.event = cfg->event,
		.frequency = cfg->frequency,
		.include_idle = cfg->include_idle,
		.ringbuf_bytes = cfg->ringbuf_kib * 1024u,
		.offcpu = cfg->offcpu,
		.offcpu_min_ns = cfg->offcpu_min_ns,
		.offcpu_max_rate = cfg->offcpu_max_rate,
		.offcpu_hook = cfg->offcpu_hook,
		.blockio = cfg->blockio,
		.blockio_hook = cfg->blockio_hook,
		.blockio_max_rate = cfg->blockio_max_rate,
		.unwind_stack_bytes = cfg->unwind_stack_bytes,
	};
	struct symbolizer_opts sopts = {.proc_root = "/proc", .keep_exited_ns = cfg->retention_ns};
	struct recorder_opts ropts = {0};
	struct http_deps deps = {0};
	char status[320];
	struct sonde *s;
	sigset_t mask;
	int rc;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->signal_fd = -1;
	s->drain_fd = -1;

	/* Files named by the settings first, so that a bad one fails before BPF is loaded. */
	if (cfg->auth_token_file[0]) {
		rc = auth__new(cfg->auth_token_file, &s->auth, err, err_len);
		if (rc)
			goto err_free_creds;
	}
	if (cfg->tls_cert[0]) {
		rc = tls__load(cfg->tls_cert, cfg->tls_key, &s->tls, err, err_len);
		if (rc)
			goto err_free_creds;
	}
	s->loop = evloop__new();
	if (!s->loop) {
		rc = -ENOMEM;
		snprintf(err, err_len, "cannot create the event loop");
		goto err_free_creds;
	}
	rc = loader__new(&lopts, &s->loader, err, err_len);
	if (rc)
		goto err_free_loop;
	rc = collector__new(loader__ringbuf_fd(s->loader), &s->collector);
	if (rc) {
		snprintf(err, err_len, "cannot read the ring buffer: %s", strerror(-rc));
		goto err_free_loader;
	}
	if (loader__offcpu_ringbuf_fd(s->loader) >= 0) {
		rc = collector__add_ringbuf(s->collector, loader__offcpu_ringbuf_fd(s->loader));
		if (rc) {
			snprintf(err, err_len, "cannot read the off-CPU ring buffer: %s",
				 strerror(-rc));
			goto err_free_collector;
		}
	}
	if (loader__blockio_ringbuf_fd(s->loader) >= 0) {
		rc = collector__add_ringbuf(s->collector, loader__blockio_ringbuf_fd(s->loader));
		if (rc) {
			snprintf(err, err_len, "cannot read the block-I/O ring buffer: %s",
				 strerror(-rc));
			goto err_free_collector;
		}
	}
	s->sym = symbolizer__new(&sopts);
	s->blockdev = blockdev__new("/sys");
	if (!s->sym || !s->blockdev) {
		rc = -ENOMEM;
		snprintf(err, err_len, "cannot create the symbolizer");
		goto err_free_sym;
	}
	collector__set_new_mm_fn(s->collector, on_new_address_space, s);
	if (cfg->unwind_stack_bytes) {
		s->unwinder = unwinder__new(s->sym, NULL);
		if (!s->unwinder) {
			rc = -ENOMEM;
			snprintf(err, err_len, "cannot create the unwinder");
			goto err_free_sym;
		}
		collector__set_unwinder(s->collector, s->unwinder);
		collector__set_stack_top_fn(s->collector, on_stack_top, s);
	}
	/* Without it (kernels before 5.1), BPF programs are named from kallsyms alone. */
	rc = ksymwatch__new(on_ksymbol, on_ksymbol_lost, s, &s->ksyms);
	if (rc)
		log_warn("BPF programs loaded from now on may be misnamed: no PERF_RECORD_KSYMBOL "
			 "(%s)",
			 strerror(-rc));

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, &s->old_mask);
	sigdelset(&mask, SIGPIPE);
	s->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->signal_fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "signalfd: %s", strerror(errno));
		goto err_restore_mask;
	}
	s->drain_fd = evloop__timerfd(DRAIN_INTERVAL_MS, 1);
	if (s->drain_fd < 0) {
		rc = s->drain_fd;
		snprintf(err, err_len, "timerfd: %s", strerror(-rc));
		goto err_close_signal;
	}
	if ((rc = evloop__add(s->loop, s->signal_fd, EPOLLIN, on_signal, s)) ||
	    (rc = evloop__add(s->loop, s->drain_fd, EPOLLIN, on_drain_timer, s)) ||
	    (rc = evloop__add(s->loop, collector__fd(s->collector), EPOLLIN, on_ringbuf, s))) {
		snprintf(err, err_len, "cannot watch the daemon's fds: %s", strerror(-rc));
		goto err_close_drain;
	}

	deps.loop = s->loop;
	deps.collector = s->collector;
	deps.sym = s->sym;
	deps.max_seconds = cfg->max_seconds;
	deps.max_sessions = cfg->max_sessions;
	deps.agg_max_entries = cfg->agg_max_entries;
	deps.cycles = cfg->event == SONDE_EVENT_CYCLES;
	deps.period = deps.cycles ? 0 : loader__period_ns(s->loader);
	deps.wall_period_ns = 1000000000ull / cfg->frequency;
	deps.offcpu = cfg->offcpu;
	deps.offcpu_preempted = cfg->offcpu_preempted;
	deps.blockio = cfg->blockio;
	deps.blockdev = s->blockdev;
	s->cg = cgroups__new(NULL);
	if (!s->cg) {
		rc = -ENOMEM;
		snprintf(err, err_len, "cannot create the cgroup resolver");
		goto err_close_drain;
	}
	ropts.loop = s->loop;
	ropts.collector = s->collector;
	ropts.sym = s->sym;
	ropts.cg = s->cg;
	ropts.window_ns = cfg->window_ns;
	ropts.retention_ns = cfg->retention_ns;
	ropts.max_bytes = cfg->max_memory;
	ropts.max_rss = cfg->max_memory;
	ropts.agg_max_entries = cfg->agg_max_entries;
	ropts.kinds = COLLECTOR_ONCPU | (cfg->offcpu ? COLLECTOR_OFFCPU : 0) |
		      (cfg->blockio ? COLLECTOR_BLOCKIO : 0);
	ropts.period = loader__period_ns(s->loader);
	ropts.cycles = cfg->event == SONDE_EVENT_CYCLES;
	ropts.wall_period_ns = 1000000000ull / cfg->frequency;
	ropts.labels = cfg->labels;
	ropts.device_name = name_device;
	ropts.device_ctx = s->blockdev;
	ropts.push_url = cfg->pyroscope_url;
	ropts.push_app = cfg->pyroscope_app;
	ropts.push_tags = cfg->push_tags;
	rc = recorder__new(&ropts, &s->recorder, err, err_len);
	if (rc)
		goto err_free_cgroups;
	deps.history = recorder__history(s->recorder);
	deps.cg = s->cg;
	deps.labels = cfg->labels;
	deps.render_metrics = render_metrics;
	deps.metrics_ctx = s;
	deps.auth = s->auth;
	deps.tls = s->tls;
	rc = http__new(&deps, cfg->listen_host, cfg->listen_port, &s->http, err, err_len);
	if (rc)
		goto err_free_recorder;

	/* The first line logged: every failure before it is a single line on stderr. */
	log_info("on-CPU sampling at %u Hz with %s on %u CPUs, ring buffer %u KiB", cfg->frequency,
		 config__event_name(cfg->event), loader__n_cpus(s->loader),
		 loader__ringbuf_bytes(s->loader) / 1024);
	if (cfg->offcpu)
		log_info("off-CPU: %s; waits under %llu us sampled, at most %u records/s per CPU",
			 loader__offcpu_mode(s->loader),
			 (unsigned long long)(cfg->offcpu_min_ns / 1000), cfg->offcpu_max_rate);
	if (cfg->blockio && cfg->blockio_max_rate)
		log_info("block I/O: %s; above %u requests/s per CPU, one in k kept with its "
			 "stacks and weighted by k",
			 loader__blockio_mode(s->loader), cfg->blockio_max_rate);
	else if (cfg->blockio)
		log_info("block I/O: %s; every request kept with its stacks",
			 loader__blockio_mode(s->loader));
	if (cfg->unwind_stack_bytes)
		log_info("unwinding user stacks with CFI from a %u-byte stack copy per on-CPU and "
			 "off-CPU sample; frame pointers where CFI is missing",
			 cfg->unwind_stack_bytes);
	else
		log_info("user stacks: frame pointers only (--unwind-stack-bytes 0)");
	log_info("history: %llu s windows kept %llu s within %llu MiB%s%s",
		 (unsigned long long)(cfg->window_ns / 1000000000ull),
		 (unsigned long long)(cfg->retention_ns / 1000000000ull),
		 (unsigned long long)(cfg->max_memory >> 20),
		 cfg->pyroscope_url[0] ? ", pushed to " : "", cfg->pyroscope_url);
	serving_line(s, status, sizeof(status));
	log_info("%s", status);
	if (!http__loopback_only(s->http) && !s->auth)
		log_warn("listening beyond loopback without auth-token-file: anyone who can reach "
			 "the port can read the stacks of every process on this host");
	if (!http__loopback_only(s->http) && !s->tls)
		log_warn("listening beyond loopback without tls-cert/tls-key: profiles%s cross the "
			 "network in clear text",
			 s->auth ? " and the bearer token" : "");
	*out = s;
	return 0;

err_free_recorder:
	recorder__free(s->recorder);
err_free_cgroups:
	cgroups__free(s->cg);
err_close_drain:
	close(s->drain_fd);
err_close_signal:
	close(s->signal_fd);
err_restore_mask:
	sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
err_free_sym:
	ksymwatch__free(s->ksyms);
	blockdev__free(s->blockdev);
	unwinder__free(s->unwinder);
	symbolizer__free(s->sym);
err_free_collector:
	collector__free(s->collector);
err_free_loader:
	loader__free(s->loader);
err_free_loop:
	evloop__free(s->loop);
err_free_creds:
	tls__free(s->tls);
	auth__free(s->auth);
	free(s);
	return rc;
}

int sonde__run(struct sonde *s)
{
	char status[320];
	int rc;

	rc = notify__new(s->loop, &s->notify);
	if (rc)
		return rc;
	serving_line(s, status, sizeof(status));
	notify__ready(s->notify, status);
	rc = evloop__run(s->loop);
	notify__stopping(s->notify);
	return rc;
}

void sonde__free(struct sonde *s)
{
	if (!s)
		return;
	notify__free(s->notify);
	http__free(s->http);
	recorder__free(s->recorder);
	cgroups__free(s->cg);
	close(s->drain_fd);
	close(s->signal_fd);
	collector__free(s->collector);
	loader__free(s->loader);
	blockdev__free(s->blockdev);
	ksymwatch__free(s->ksyms);
	unwinder__free(s->unwinder);
	symbolizer__free(s->sym);
	evloop__free(s->loop);
	tls__free(s->tls);
	auth__free(s->auth);
	sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
	free(s);
}

void sonde__set_reload(struct sonde *s, sonde_reload_fn fn, void *ctx)
{
	s->reload_fn = fn;
	s->reload_ctx = ctx;
}

/*
 * Pauses or resumes the block-I/O hooks, which cost a little on every disk
 * request: an operator may switch them off on an I/O-bound host without a
 * restart. Hooks that were not loaded at start-up need one.
 */
static void reload_blockio(struct sonde *s, bool on)
{
	char err[256];
	int rc;

	rc = loader__set_blockio(s->loader, on, err, sizeof(err));
	if (rc == -ENOENT) {
		log_warn("block-I/O profiling was off at start-up; turning it on takes a restart");
		return;
	}
	if (rc) {
		log_error("block-I/O profiling stays paused: %s", err);
		s->cfg.blockio = false;
		return;
	}
	s->cfg.blockio = on;
	log_info("block-I/O profiling %s", on ? "resumed" : "paused");
}

int sonde__reload(struct sonde *s, const struct config *next)
{
	struct config rest = *next;
	struct auth *a = NULL, *old;
	char err[512];
	int rc = 0;

	if (next->log_level != s->cfg.log_level) {
		/* Said at the more verbose of the two levels, so that it shows. */
		if (next->log_level < s->cfg.log_level)
			log_info("log level is now %s", log__level_name(next->log_level));
		log__set_level(next->log_level);
		if (next->log_level > s->cfg.log_level)
			log_info("log level is now %s", log__level_name(next->log_level));
		s->cfg.log_level = next->log_level;
	}
	/* The token file is read again even under the same name: that is how tokens rotate. */
	if (next->auth_token_file[0]) {
		rc = auth__new(next->auth_token_file, &a, err, sizeof(err));
		if (rc)
			log_error("%s; the previous token stays in force", err);
	} else if (s->auth) {
		log_warn("auth-token-file is no longer set: the server asks for no token");
	}
	if (!rc) {
		old = http__set_auth(s->http, a);
		auth__free(old);
		s->auth = a;
		memcpy(s->cfg.auth_token_file, next->auth_token_file,
		       sizeof(s->cfg.auth_token_file));
		if (a)
			log_info("bearer token read from %s", next->auth_token_file);
	}
	if (next->blockio != s->cfg.blockio)
		reload_blockio(s, next->blockio);
	/* Everything else is fixed at start-up. */
	rest.blockio = s->cfg.blockio;
	rest.log_level = s->cfg.log_level;
	rest.check_config = s->cfg.check_config;
	memcpy(rest.auth_token_file, s->cfg.auth_token_file, sizeof(rest.auth_token_file));
	if (memcmp(&rest, &s->cfg, sizeof(rest)))
		log_warn("settings other than log-level and auth-token-file changed; they take "
			 "effect at the next restart");
	return rc;
}
