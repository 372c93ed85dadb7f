// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "loader_internal.h"
#include "log.h"
#include "oncpu.skel.h"

#define CAP_PERFMON_BIT	  38
#define CAP_BPF_BIT	  39
#define CAP_SYS_ADMIN_BIT 21

struct loader {
	struct oncpu_bpf *skel;
	struct bpf_link **links;
	uint32_t n_links;
	uint32_t n_cpus;
	uint32_t ringbuf_bytes;
	uint64_t period_ns;
	struct loader_offcpu off;
	struct loader_blockio bio;
};

/*
 * libbpf hands over whole multi-line messages (a verifier log is kilobytes):
 * format on the heap and log each line on its own so that nothing is cut.
 */
static void libbpf_emit(enum log_level lvl, const char *fmt, va_list ap)
{
	char *text, *line, *save = NULL;

	if (vasprintf(&text, fmt, ap) < 0)
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log__msg(lvl, "libbpf: %s", line);
	free(text);
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && log__level() < LOG_LVL_DEBUG)
		return 0;
	libbpf_emit(level == LIBBPF_WARN ? LOG_LVL_WARN : LOG_LVL_DEBUG, fmt, ap);
	return 0;
}

/*
 * While an attempt that has a fallback runs, libbpf's complaints are only
 * evidence for the debug log: the caller reports the outcome in one line.
 */
static int libbpf_log_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (log__level() < LOG_LVL_DEBUG)
		return 0;
	libbpf_emit(LOG_LVL_DEBUG, fmt, ap);
	return 0;
}

void loader__libbpf_quiet(bool quiet)
{
	libbpf_set_print(quiet ? libbpf_log_quiet : libbpf_log);
}

static bool has_cap(const struct __user_cap_data_struct data[2], int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

int loader__check_environment(char *err, size_t err_len)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {0};

	if (syscall(SYS_capget, &hdr, data)) {
		int e = errno;

		snprintf(err, err_len, "cannot read capabilities: %s", strerror(e));
		return -e;
	}
	if (!has_cap(data, CAP_SYS_ADMIN_BIT) &&
	    !(has_cap(data, CAP_BPF_BIT) && has_cap(data, CAP_PERFMON_BIT))) {
		snprintf(err, err_len,
			 "needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run as root");
		return -EPERM;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		snprintf(err, err_len,
			 "the kernel has no BPF ring buffer (Linux 5.8 or later is needed)");
		return -EOPNOTSUPP;
	}
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_PERF_EVENT, NULL) != 1) {
		snprintf(err, err_len, "the kernel cannot attach BPF programs to perf events");
		return -EOPNOTSUPP;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, err_len,
			 "kernel BTF not found at /sys/kernel/btf/vmlinux: the kernel needs "
			 "CONFIG_DEBUG_INFO_BTF=y");
		return -ENOENT;
	}
	return 0;
}

int loader__parse_cpulist(const char *s, bool *cpus, size_t n)
{
	int count = 0;

	memset(cpus, 0, n * sizeof(*cpus));
	while (*s && *s != '\n') {
		char *end;
		unsigned long a, b;

		errno = 0;
		a = strtoul(s, &end, 10);
		if (end == s || errno)
			return -EINVAL;
		b = a;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || errno || b < a)
				return -EINVAL;
		}
		if (b >= n)
			return -EINVAL;
		for (unsigned long i = a; i <= b; i++) {
			if (!cpus[i])
				count++;
			cpus[i] = true;
		}
		s = end;
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return -EINVAL;
	}
	return count;
}

int loader__online_cpus(bool *cpus, size_t n)
{
	char buf[4096];
	size_t len;
	FILE *f;

	f = fopen("/sys/devices/system/cpu/online", "re");
	if (!f)
		return -errno;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	return loader__parse_cpulist(buf, cpus, n);
}

static uint32_t default_ringbuf_bytes(uint32_t n_cpus, uint32_t freq, uint32_t ucopy)
{
	/* One second of samples from every CPU, at least 4 MiB, at most 256 MiB. */
	uint64_t per = sizeof(struct sonde_sample) +
		       (ucopy ? sizeof(struct sonde_ustack_copy) + ucopy : 0);
	uint64_t want = (uint64_t)n_cpus * freq * per;
	uint64_t size = 4u << 20;

	while (size < want && size < (256u << 20))
		size <<= 1;
	return (uint32_t)size;
}

static int open_perf_event(const struct loader_opts *opts, int cpu)
{
	struct perf_event_attr attr = {0};
	int fd;

	attr.size = sizeof(attr);
	if (opts->event == SONDE_EVENT_CYCLES) {
		attr.type = PERF_TYPE_HARDWARE;
		attr.config = PERF_COUNT_HW_CPU_CYCLES;
		attr.freq = 1;
		attr.sample_freq = opts->frequency;
	} else {
		/* A fixed period in nanoseconds: every sample weighs exactly 1e9/Hz. */
		attr.type = PERF_TYPE_SOFTWARE;
		attr.config = PERF_COUNT_SW_CPU_CLOCK;
		attr.sample_period = 1000000000ull / opts->frequency;
	}
	fd = (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int attach_all(struct loader *ld, const struct loader_opts *opts, const bool *cpus, int n,
		      char *err, size_t err_len)
{
	int fd;

	ld->links = calloc((size_t)n, sizeof(*ld->links));
	if (!ld->links)
		return -ENOMEM;
	for (int cpu = 0; cpu < 4096; cpu++) {
		struct bpf_link *link;

		if (!cpus[cpu])
			continue;
		fd = open_perf_event(opts, cpu);
		if (fd == -ENODEV)
			continue; /* went offline since we read the list */
		if (fd < 0) {
			if (opts->event == SONDE_EVENT_CYCLES &&
			    (fd == -ENOENT || fd == -EOPNOTSUPP))
				snprintf(err, err_len,
					 "hardware cycles are not available here (no PMU): use "
					 "--event cpu-clock");
			else
				snprintf(err, err_len, "perf_event_open on CPU %d: %s", cpu,
					 strerror(-fd));
			return fd;
		}
		link = bpf_program__attach_perf_event(ld->skel->progs.sonde_oncpu, fd);
		if (!link) {
			int e = -errno;

			close(fd);
			snprintf(err, err_len, "attaching to the perf event of CPU %d: %s", cpu,
				 strerror(-e));
			return e;
		}
		/* The link owns fd from now on and closes it when destroyed. */
		ld->links[ld->n_links++] = link;
	}
	ld->n_cpus = ld->n_links;
	return 0;
}

int loader__new(const struct loader_opts *opts, struct loader **out, char *err, size_t err_len)
{
	struct loader *ld;
	bool cpus[4096];
	int n_cpus, err_code;

	libbpf_set_print(libbpf_log);
	ld = calloc(1, sizeof(*ld));
	if (!ld)
		return -ENOMEM;

	ld->skel = oncpu_bpf__open();
	if (!ld->skel) {
		err_code = -errno;
		snprintf(err, err_len, "opening the on-CPU BPF object: %s", strerror(errno));
		goto err_free_loader;
	}

	n_cpus = loader__online_cpus(cpus, 4096);
	if (n_cpus <= 0) {
		err_code = n_cpus < 0 ? n_cpus : -ENODEV;
		snprintf(err, err_len, "cannot read /sys/devices/system/cpu/online");
		goto err_destroy_skel;
	}
	ld->ringbuf_bytes = opts->ringbuf_bytes
				    ? opts->ringbuf_bytes
				    : default_ringbuf_bytes((uint32_t)n_cpus, opts->frequency,
							    opts->unwind_stack_bytes);
	ld->period_ns = opts->event == SONDE_EVENT_CPU_CLOCK ? 1000000000ull / opts->frequency : 0;
	ld->skel->rodata->include_idle = opts->include_idle;
	ld->skel->rodata->ucopy_bytes = opts->unwind_stack_bytes;
	/* Wake the daemon early only when a quarter of the buffer is in use. */
	ld->skel->rodata->wakeup_bytes = ld->ringbuf_bytes / 4;
	err_code = bpf_map__set_max_entries(ld->skel->maps.events, ld->ringbuf_bytes);
	if (err_code) {
		snprintf(err, err_len, "sizing the ring buffer to %u bytes: %s", ld->ringbuf_bytes,
			 strerror(-err_code));
		goto err_destroy_skel;
	}

	err_code = oncpu_bpf__load(ld->skel);
	if (err_code) {
		snprintf(err, err_len,
			 "loading the on-CPU BPF program: %s (run with "
			 "--log-level debug for the verifier log)",
			 strerror(-err_code));
		goto err_destroy_skel;
	}

	err_code = attach_all(ld, opts, cpus, n_cpus, err, err_len);
	if (err_code)
		goto err_destroy_links;

	if (opts->offcpu) {
		err_code =
			loader_offcpu__load(&ld->off, opts, ld->ringbuf_bytes,
					    bpf_map__fd(ld->skel->maps.stack_tops), err, err_len);
		if (err_code)
			goto err_destroy_links;
	}
	if (opts->blockio) {
		/*
		 * Block-I/O start records are capped at --blockio-max-rate a second
		 * per CPU, so the ring is sized without the stack copy: even with a
		 * full copy each, a 200 ms drain of the default rate fits it.
		 */
		err_code = loader_blockio__load(
			&ld->bio, opts,
			opts->ringbuf_bytes
				? opts->ringbuf_bytes
				: default_ringbuf_bytes((uint32_t)n_cpus, opts->frequency, 0),
			bpf_map__fd(ld->skel->maps.stack_tops), err, err_len);
		if (err_code)
			goto err_unload_offcpu;
	}

	*out = ld;
	return 0;

err_unload_offcpu:
	loader_offcpu__unload(&ld->off);
err_destroy_links:
	for (uint32_t i = 0; i < ld->n_links; i++)
		bpf_link__destroy(ld->links[i]);
	free(ld->links);
err_destroy_skel:
	oncpu_bpf__destroy(ld->skel);
err_free_loader:
	free(ld);
	return err_code;
}

void loader__free(struct loader *ld)
{
	if (!ld)
		return;
	loader_blockio__unload(&ld->bio);
	loader_offcpu__unload(&ld->off);
	for (uint32_t i = 0; i < ld->n_links; i++)
		bpf_link__destroy(ld->links[i]);
	free(ld->links);
	oncpu_bpf__destroy(ld->skel);
	free(ld);
}

int loader__ringbuf_fd(const struct loader *ld)
{
	return bpf_map__fd(ld->skel->maps.events);
}

int loader__set_stack_top(struct loader *ld, uint32_t tid, uint64_t mm_tag, uint64_t top)
{
	struct sonde_stack_top v = {.top = top, .mm_tag = mm_tag};

	if (bpf_map_update_elem(bpf_map__fd(ld->skel->maps.stack_tops), &tid, &v, BPF_ANY))
		return -errno;
	return 0;
}

int loader__clear_stack_top(struct loader *ld, uint32_t tid)
{
	if (bpf_map_delete_elem(bpf_map__fd(ld->skel->maps.stack_tops), &tid))
		return -errno;
	return 0;
}

uint32_t loader__ringbuf_bytes(const struct loader *ld)
{
	return ld->ringbuf_bytes;
}

uint32_t loader__n_cpus(const struct loader *ld)
{
	return ld->n_cpus;
}

uint64_t loader__period_ns(const struct loader *ld)
{
	return ld->period_ns;
}

int loader__offcpu_ringbuf_fd(const struct loader *ld)
{
	return loader_offcpu__ringbuf_fd(&ld->off);
}

const char *loader__offcpu_mode(const struct loader *ld)
{
	return ld->off.skel ? ld->off.mode : "off";
}

int loader__blockio_ringbuf_fd(const struct loader *ld)
{
	return loader_blockio__ringbuf_fd(&ld->bio);
}

const char *loader__blockio_mode(const struct loader *ld)
{
	return ld->bio.skel ? ld->bio.mode : "off";
}

int loader__set_blockio(struct loader *ld, bool on, char *err, size_t err_len)
{
	if (!ld->bio.skel) {
		snprintf(err, err_len, "the block-I/O hooks were not loaded at start-up");
		return -ENOENT;
	}
	if (on)
		return loader_blockio__attach(&ld->bio, err, err_len);
	loader_blockio__detach(&ld->bio);
	return 0;
}

bool loader__blockio_attached(const struct loader *ld)
{
	return ld->bio.skel && ld->bio.n_links > 0;
}

int loader__sum_percpu_counters(int map_fd, uint64_t *out, size_t n)
{
	int n_cpus = libbpf_num_possible_cpus();
	uint64_t *per_cpu;
	__u32 zero = 0;
	int err = 0;

	memset(out, 0, n * sizeof(*out));
	if (n_cpus <= 0)
		return -EINVAL;
	per_cpu = calloc((size_t)n_cpus * n, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(map_fd, &zero, per_cpu))
		err = -errno;
	for (int c = 0; !err && c < n_cpus; c++)
		for (size_t k = 0; k < n; k++)
			out[k] += per_cpu[(size_t)c * n + k];
	free(per_cpu);
	return err;
}

int loader__read_counters(const struct loader *ld, uint64_t out[SONDE_CNT__MAX])
{
	return loader__sum_percpu_counters(bpf_map__fd(ld->skel->maps.counters), out,
					   SONDE_CNT__MAX);
}

int loader__read_offcpu_counters(const struct loader *ld, uint64_t out[SONDE_OFF__MAX])
{
	return loader_offcpu__read_counters(&ld->off, out);
}

int loader__read_blockio_counters(const struct loader *ld, uint64_t out[SONDE_BIO__MAX])
{
	return loader_blockio__read_counters(&ld->bio, out);
}

int loader__add_prog_stats(int prog_fd, struct loader_bpf_stats *out)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	out->run_time_ns += info.run_time_ns;
	out->run_cnt += info.run_cnt;
	return 0;
}

int loader__bpf_stats(const struct loader *ld, enum loader_prog which, struct loader_bpf_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (which == LOADER_PROG_OFFCPU)
		return loader_offcpu__bpf_stats(&ld->off, out);
	if (which == LOADER_PROG_BLOCKIO)
		return loader_blockio__bpf_stats(&ld->bio, out);
	return loader__add_prog_stats(bpf_program__fd(ld->skel->progs.sonde_oncpu), out);
}
