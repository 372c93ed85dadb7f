/* SPDX-License-Identifier: GPL-2.0 */
/* Command-line configuration. Parsing never exits; main() decides. */
#ifndef SONDE_CONFIG_H
#define SONDE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

enum sonde_event {
	SONDE_EVENT_CPU_CLOCK = 0, /* software timer: works everywhere, period in ns */
	SONDE_EVENT_CYCLES,	   /* hardware cycles: needs a PMU */
};

#define CONFIG_DEFAULT_LISTEN	   "127.0.0.1:6060"
#define CONFIG_DEFAULT_FREQUENCY   99
#define CONFIG_MAX_FREQUENCY	   10000
#define CONFIG_DEFAULT_MAX_SECONDS 3600
#define CONFIG_MAX_SESSIONS	   32
#define CONFIG_DEFAULT_FILE	   "/etc/sonde/sonde.conf"
#define CONFIG_PATH_MAX		   1024
#define CONFIG_USER_MAX		   64

/* Off-CPU waits shorter than this are sampled (docs/offcpu.md explains the choice). */
#define CONFIG_DEFAULT_OFFCPU_MIN_NS   1000000ull
#define CONFIG_DEFAULT_OFFCPU_MAX_RATE 5000

/* Continuous profiling. */
#define CONFIG_DEFAULT_WINDOW_S	     10
#define CONFIG_DEFAULT_RETENTION_S   600
#define CONFIG_DEFAULT_MAX_MEMORY_MB 256
#define CONFIG_MAX_PUSH_TAGS	     16

enum offcpu_hook {
	OFFCPU_HOOK_AUTO = 0, /* tp_btf, falling back to raw_tp */
	OFFCPU_HOOK_TP_BTF,
	OFFCPU_HOOK_RAW_TP,
};

/* Block-I/O request starts kept with their stacks, a second per CPU (docs/blockio.md). */
#define CONFIG_DEFAULT_BLOCKIO_MAX_RATE 200

/* User stack copied per sample for CFI unwinding (docs/unwinding.md); 0: frame pointers only. */
#define CONFIG_DEFAULT_UNWIND_STACK_BYTES 8192
#define CONFIG_MAX_UNWIND_STACK_BYTES	  16384

enum blockio_hook {
	BLOCKIO_HOOK_AUTO = 0, /* tp_btf (block_io_start), falling back to raw_tp */
	BLOCKIO_HOOK_TP_BTF,
	BLOCKIO_HOOK_RAW_TP, /* block_rq_insert and block_rq_issue */
};

struct config {
	char listen_host[256]; /* numeric IPv4/IPv6 address or host name */
	uint16_t listen_port;
	uint32_t frequency; /* samples per second per CPU */
	enum sonde_event event;
	bool include_idle;
	uint32_t ringbuf_kib;  /* 0: sized from CPU count and frequency */
	uint32_t max_seconds;  /* upper bound on ?seconds= */
	uint32_t max_sessions; /* concurrent profile requests */
	uint32_t agg_max_entries;
	bool offcpu;		  /* off-CPU (and so wall-clock) profiling */
	uint64_t offcpu_min_ns;	  /* waits shorter than this are sampled */
	uint32_t offcpu_max_rate; /* off-CPU records a second per CPU; 0: no cap */
	bool offcpu_preempted;	  /* /offcpu shows time runnable after preemption (wall always) */
	enum offcpu_hook offcpu_hook;
	bool blockio; /* block-I/O profiling */
	enum blockio_hook blockio_hook;
	uint32_t blockio_max_rate; /* request starts kept a second per CPU; 0: every one */
	uint64_t window_ns;	   /* length of a history window */
	uint64_t retention_ns;	   /* how long windows are kept */
	uint64_t max_memory;	   /* the daemon's RSS cap, bytes; the history gives way */
	uint32_t labels;	   /* enum label_bit mask */
	char pyroscope_url[512];   /* "" : no push */
	char pyroscope_app[128];   /* application name in pushes */
	char push_tags[1024];	   /* "k=v,k2=v2": static tags of every push */
	/* User stack copied per on-CPU and off-CPU sample for CFI unwinding; 0: none. */
	uint32_t unwind_stack_bytes;
	enum log_level log_level;
	/* Service and security. Empty strings: not set. */
	char config_file[CONFIG_PATH_MAX];     /* --config: the settings file to read */
	bool check_config;		       /* --check-config: validate and exit */
	char auth_token_file[CONFIG_PATH_MAX]; /* bearer token required when set */
	char tls_cert[CONFIG_PATH_MAX];	       /* HTTPS when both are set */
	char tls_key[CONFIG_PATH_MAX];
	char user[CONFIG_USER_MAX]; /* switch to this user after start-up */
};

enum config_action {
	CONFIG_RUN = 0,
	CONFIG_HELP,
	CONFIG_VERSION,
};

void config__defaults(struct config *cfg);
/*
 * Parses argv into cfg. Returns the action (>= 0), or -EINVAL with a one-line
 * reason in err.
 */
int config__parse_args(struct config *cfg, int argc, char **argv, char *err, size_t err_len);
/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT". 0 or -EINVAL. */
int config__parse_listen(const char *s, char *host, size_t host_len, uint16_t *port);
/* Parses a decimal integer in [min, max] with nothing after it. 0 or -EINVAL / -ERANGE. */
int config__parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Parses a duration with a unit: ns, us, ms, s, m or h ("500us", "10m"), into
 * nanoseconds within [min_ns, max_ns]. 0 or -EINVAL / -ERANGE.
 */
int config__parse_duration_ns(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *out);

void config__usage(FILE *f);
/*
 * Whether the long option NAME takes a value: 1 if it does, 0 for a switch
 * (--include-idle), -ENOENT when there is no such option.
 */
int config__option_arg(const char *name);
const char *config__event_name(enum sonde_event ev);
const char *config__offcpu_hook_name(enum offcpu_hook hook);
const char *config__blockio_hook_name(enum blockio_hook hook);
/* Names and tag values of Pyroscope pushes: non-empty [A-Za-z0-9._-]. */
bool config__valid_push_name(const char *s);

#endif
