// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "labels.h"

void config__defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	config__parse_listen(CONFIG_DEFAULT_LISTEN, cfg->listen_host, sizeof(cfg->listen_host),
			     &cfg->listen_port);
	cfg->frequency = CONFIG_DEFAULT_FREQUENCY;
	cfg->event = SONDE_EVENT_CPU_CLOCK;
	cfg->max_seconds = CONFIG_DEFAULT_MAX_SECONDS;
	cfg->max_sessions = CONFIG_MAX_SESSIONS;
	cfg->agg_max_entries = 64 * 1024;
	cfg->offcpu = true;
	cfg->offcpu_min_ns = CONFIG_DEFAULT_OFFCPU_MIN_NS;
	cfg->offcpu_max_rate = CONFIG_DEFAULT_OFFCPU_MAX_RATE;
	cfg->offcpu_hook = OFFCPU_HOOK_AUTO;
	cfg->blockio = true;
	cfg->blockio_hook = BLOCKIO_HOOK_AUTO;
	cfg->blockio_max_rate = CONFIG_DEFAULT_BLOCKIO_MAX_RATE;
	cfg->unwind_stack_bytes = CONFIG_DEFAULT_UNWIND_STACK_BYTES;
	cfg->window_ns = CONFIG_DEFAULT_WINDOW_S * 1000000000ull;
	cfg->retention_ns = CONFIG_DEFAULT_RETENTION_S * 1000000000ull;
	cfg->max_memory = (uint64_t)CONFIG_DEFAULT_MAX_MEMORY_MB << 20;
	cfg->labels = LABELS_DEFAULT;
	snprintf(cfg->pyroscope_app, sizeof(cfg->pyroscope_app), "sonde");
	cfg->log_level = LOG_LVL_INFO;
}

int config__parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int config__parse_listen(const char *s, char *host, size_t host_len, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hlen;
	uint64_t p;

	if (!s)
		return -EINVAL;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL; /* a bare IPv6 address needs brackets */
		hlen = (size_t)(colon - s);
	}
	if (config__parse_u64(colon + 1, 0, 65535, &p))
		return -EINVAL;
	if (hlen >= host_len)
		return -EINVAL;
	if (hlen == 0) {
		snprintf(host, host_len, "0.0.0.0");
	} else {
		memcpy(host, h, hlen);
		host[hlen] = '\0';
	}
	*port = (uint16_t)p;
	return 0;
}

int config__parse_duration_ns(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {{"ns", 1},
		     {"us", 1000},
		     {"ms", 1000000},
		     {"s", 1000000000ull},
		     {"m", 60000000000ull},
		     {"h", 3600000000000ull}};
	char digits[32];
	size_t n = 0;
	uint64_t v;
	int err;

	if (!s)
		return -EINVAL;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n >= sizeof(digits))
		return -EINVAL;
	memcpy(digits, s, n);
	digits[n] = '\0';
	err = config__parse_u64(digits, 0, UINT64_MAX, &v);
	if (err)
		return err == -ERANGE ? -ERANGE : -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s + n, units[i].unit))
			continue;
		if (v > UINT64_MAX / units[i].ns)
			return -ERANGE;
		v *= units[i].ns;
		if (v < min_ns || v > max_ns)
			return -ERANGE;
		*out = v;
		return 0;
	}
	return -EINVAL;
}

bool config__valid_push_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

const char *config__event_name(enum sonde_event ev)
{
	return ev == SONDE_EVENT_CYCLES ? "cycles" : "cpu-clock";
}

const char *config__offcpu_hook_name(enum offcpu_hook hook)
{
	switch (hook) {
	case OFFCPU_HOOK_TP_BTF:
		return "tp_btf";
	case OFFCPU_HOOK_RAW_TP:
		return "raw_tp";
	default:
		return "auto";
	}
}

const char *config__blockio_hook_name(enum blockio_hook hook)
{
	switch (hook) {
	case BLOCKIO_HOOK_TP_BTF:
		return "tp_btf";
	case BLOCKIO_HOOK_RAW_TP:
		return "raw_tp";
	default:
		return "auto";
	}
}

void config__usage(FILE *f)
{
	fprintf(f,
		"Usage: sonde [OPTION]...\n"
		"An eBPF continuous profiler that serves pprof profiles over HTTP.\n"
		"\n"
		"  -l, --listen ADDR:PORT   address to serve on (default %s);\n"
		"                           IPv6 as [ADDR]:PORT, all addresses as :PORT\n"
		"  -F, --frequency HZ       samples per second per CPU, 1..%u (default %u)\n"
		"  -e, --event EVENT        cpu-clock (default, works without a PMU) or cycles\n"
		"      --include-idle       keep samples of the idle task\n"
		"      --ringbuf-size KIB   BPF ring buffer size in KiB, a power of two\n"
		"                           (default: sized from CPUs and frequency)\n"
		"      --max-seconds N      upper bound on ?seconds= (default %u)\n"
		"      --max-entries N      distinct stacks kept per profile (default 65536)\n"
		"      --no-offcpu          no off-CPU or wall-clock profiles (no scheduler hook)\n"
		"      --offcpu-min DUR     waits shorter than DUR (1us..1s, default 1ms) are\n"
		"                           sampled with probability wait/DUR and weighted up\n"
		"      --offcpu-max-rate N  off-CPU records a second per CPU, 0 for no cap\n"
		"                           (default %u); waits over the cap are counted, not "
		"kept\n"
		"      --offcpu-preempted   /offcpu also shows time spent runnable after "
		"preemption\n"
		"                           (state R; /wall always includes it)\n"
		"      --offcpu-hook HOOK   auto (default), tp_btf or raw_tp (the fallback)\n"
		"      --no-blockio         no block-I/O profile (no block-layer hooks)\n"
		"      --blockio-hook HOOK  auto (default), tp_btf (block_io_start) or raw_tp\n"
		"                           (block_rq_insert/issue, the fallback)\n"
		"      --blockio-max-rate N block-I/O requests recorded with their stacks a\n"
		"                           second per CPU (default %u), 0 for every one; above\n"
		"                           it one in k is kept and weighted by k\n"
		"      --unwind-stack-bytes N user stack copied per on-CPU and off-CPU sample\n"
		"                           to unwind it with the binaries' CFI (default %u,\n"
		"                           at most %u); 0 for frame pointers only\n"
		"      --window DUR         length of a history window, 1s..1h (default 10s)\n"
		"      --retention DUR      how long windows are kept (default 10m, at most 7 "
		"days)\n"
		"      --max-memory MIB     resident memory of the daemon (default 256); the\n"
		"                           history's oldest windows go first when it is reached\n"
		"      --labels LIST        labels on samples: pid,comm,thread_name,tid,cgroup,\n"
		"                           container_id,unit or none (default pid,comm,\n"
		"                           thread_name,container_id,unit)\n"
		"      --pyroscope-url URL  push every window of every kind to Pyroscope /ingest\n"
		"      --pyroscope-app NAME application name of the pushes (default sonde)\n"
		"      --pyroscope-tag K=V  a static tag on every push (repeatable)\n"
		"      --log-level LEVEL    error, warn, info or debug (default info)\n"
		"      --config FILE        settings file, 'key = value' lines with keys named\n"
		"                           like the long options (default " CONFIG_DEFAULT_FILE
		");\n"
		"                           SONDE_* variables (SONDE_FREQUENCY=49) override it\n"
		"                           and options override both\n"
		"      --check-config       validate the settings and exit: 0, or 2 and the "
		"reason\n"
		"      --auth-token-file F  require 'Authorization: Bearer TOKEN', TOKEN being\n"
		"                           the first line of F (/healthz stays open)\n"
		"      --tls-cert FILE      serve HTTPS with this PEM certificate (chain)\n"
		"      --tls-key FILE       and this PEM private key\n"
		"      --user NAME          after start-up run as user NAME, keeping only the\n"
		"                           capabilities profiling needs\n"
		"  -h, --help               show this help and exit\n"
		"  -V, --version            show the version and exit\n"
		"\n"
		"Endpoints: /debug/pprof/{profile,offcpu,wall,blockio}?seconds=N or ?last=5m or\n"
		"?start=T&end=T, filters pid= comm= cgroup= container= unit=, format=folded;\n"
		"/debug/pprof/, /metrics, /healthz\n",
		CONFIG_DEFAULT_LISTEN, CONFIG_MAX_FREQUENCY, CONFIG_DEFAULT_FREQUENCY,
		CONFIG_DEFAULT_MAX_SECONDS, CONFIG_DEFAULT_OFFCPU_MAX_RATE,
		CONFIG_DEFAULT_BLOCKIO_MAX_RATE, CONFIG_DEFAULT_UNWIND_STACK_BYTES,
		CONFIG_MAX_UNWIND_STACK_BYTES);
}

enum {
	OPT_INCLUDE_IDLE = 256,
	OPT_RINGBUF_SIZE,
	OPT_MAX_SECONDS,
	OPT_MAX_ENTRIES,
	OPT_LOG_LEVEL,
	OPT_NO_OFFCPU,
	OPT_OFFCPU_MIN,
	OPT_OFFCPU_MAX_RATE,
	OPT_OFFCPU_PREEMPTED,
	OPT_OFFCPU_HOOK,
	OPT_CONFIG,
	OPT_CHECK_CONFIG,
	OPT_AUTH_TOKEN_FILE,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_USER,
	OPT_NO_BLOCKIO,
	OPT_BLOCKIO_HOOK,
	OPT_BLOCKIO_MAX_RATE,
	OPT_UNWIND_STACK_BYTES,
	OPT_WINDOW,
	OPT_RETENTION,
	OPT_MAX_MEMORY,
	OPT_LABELS,
	OPT_PYROSCOPE_URL,
	OPT_PYROSCOPE_APP,
	OPT_PYROSCOPE_TAG,
};

static const struct option long_opts[] = {
	{"listen", required_argument, NULL, 'l'},
	{"frequency", required_argument, NULL, 'F'},
	{"event", required_argument, NULL, 'e'},
	{"include-idle", no_argument, NULL, OPT_INCLUDE_IDLE},
	{"ringbuf-size", required_argument, NULL, OPT_RINGBUF_SIZE},
	{"max-seconds", required_argument, NULL, OPT_MAX_SECONDS},
	{"max-entries", required_argument, NULL, OPT_MAX_ENTRIES},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"no-offcpu", no_argument, NULL, OPT_NO_OFFCPU},
	{"offcpu-min", required_argument, NULL, OPT_OFFCPU_MIN},
	{"offcpu-max-rate", required_argument, NULL, OPT_OFFCPU_MAX_RATE},
	{"offcpu-preempted", no_argument, NULL, OPT_OFFCPU_PREEMPTED},
	{"offcpu-hook", required_argument, NULL, OPT_OFFCPU_HOOK},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
	{"auth-token-file", required_argument, NULL, OPT_AUTH_TOKEN_FILE},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"user", required_argument, NULL, OPT_USER},
	{"no-blockio", no_argument, NULL, OPT_NO_BLOCKIO},
	{"blockio-hook", required_argument, NULL, OPT_BLOCKIO_HOOK},
	{"blockio-max-rate", required_argument, NULL, OPT_BLOCKIO_MAX_RATE},
	{"unwind-stack-bytes", required_argument, NULL, OPT_UNWIND_STACK_BYTES},
	{"window", required_argument, NULL, OPT_WINDOW},
	{"retention", required_argument, NULL, OPT_RETENTION},
	{"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
	{"labels", required_argument, NULL, OPT_LABELS},
	{"pyroscope-url", required_argument, NULL, OPT_PYROSCOPE_URL},
	{"pyroscope-app", required_argument, NULL, OPT_PYROSCOPE_APP},
	{"pyroscope-tag", required_argument, NULL, OPT_PYROSCOPE_TAG},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* The options whose value is a file name or a user name, kept as given. */
static int set_string_option(struct config *cfg, int opt, const char *value, char *err,
			     size_t err_len)
{
	const struct {
		int opt;
		const char *name;
		char *dst;
		size_t size;
	} strs[] = {
		{OPT_CONFIG, "config", cfg->config_file, sizeof(cfg->config_file)},
		{OPT_AUTH_TOKEN_FILE, "auth-token-file", cfg->auth_token_file,
		 sizeof(cfg->auth_token_file)},
		{OPT_TLS_CERT, "tls-cert", cfg->tls_cert, sizeof(cfg->tls_cert)},
		{OPT_TLS_KEY, "tls-key", cfg->tls_key, sizeof(cfg->tls_key)},
		{OPT_USER, "user", cfg->user, sizeof(cfg->user)},
	};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		size_t len = strlen(value);

		if (strs[i].opt != opt)
			continue;
		if (len == 0 || len >= strs[i].size) {
			snprintf(err, err_len, "invalid --%s: expected a %s of 1 to %zu characters",
				 strs[i].name, opt == OPT_USER ? "user name" : "file name",
				 strs[i].size - 1);
			return -EINVAL;
		}
		for (const char *p = value; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				snprintf(err, err_len,
					 "invalid --%s: the value contains a control character",
					 strs[i].name);
				return -EINVAL;
			}
		}
		memcpy(strs[i].dst, value, len + 1);
		return 0;
	}
	return -EINVAL;
}

int config__parse_args(struct config *cfg, int argc, char **argv, char *err, size_t err_len)
{
	uint64_t v;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":l:F:e:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (config__parse_listen(optarg, cfg->listen_host, sizeof(cfg->listen_host),
						 &cfg->listen_port)) {
				snprintf(err, err_len,
					 "invalid --listen '%s': expected ADDR:PORT with a port "
					 "from 0 (any free port) to 65535",
					 optarg);
				return -EINVAL;
			}
			break;
		case 'F':
			if (config__parse_u64(optarg, 1, CONFIG_MAX_FREQUENCY, &v)) {
				snprintf(err, err_len,
					 "invalid --frequency '%s': expected an integer from 1 to "
					 "%u",
					 optarg, CONFIG_MAX_FREQUENCY);
				return -EINVAL;
			}
			cfg->frequency = (uint32_t)v;
			break;
		case 'e':
			if (strcmp(optarg, "cpu-clock") == 0) {
				cfg->event = SONDE_EVENT_CPU_CLOCK;
			} else if (strcmp(optarg, "cycles") == 0) {
				cfg->event = SONDE_EVENT_CYCLES;
			} else {
				snprintf(err, err_len,
					 "invalid --event '%s': expected cpu-clock or cycles",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_INCLUDE_IDLE:
			cfg->include_idle = true;
			break;
		case OPT_RINGBUF_SIZE:
			if (config__parse_u64(optarg, 4, 1024 * 1024, &v) || (v & (v - 1))) {
				snprintf(
					err, err_len,
					"invalid --ringbuf-size '%s': expected a power of two from "
					"4 to 1048576 (KiB)",
					optarg);
				return -EINVAL;
			}
			cfg->ringbuf_kib = (uint32_t)v;
			break;
		case OPT_MAX_SECONDS:
			if (config__parse_u64(optarg, 1, 86400, &v)) {
				snprintf(
					err, err_len,
					"invalid --max-seconds '%s': expected an integer from 1 to "
					"86400",
					optarg);
				return -EINVAL;
			}
			cfg->max_seconds = (uint32_t)v;
			break;
		case OPT_MAX_ENTRIES:
			if (config__parse_u64(optarg, 16, 16 * 1024 * 1024, &v)) {
				snprintf(err, err_len,
					 "invalid --max-entries '%s': expected an integer from 16 "
					 "to "
					 "16777216",
					 optarg);
				return -EINVAL;
			}
			cfg->agg_max_entries = (uint32_t)v;
			break;
		case OPT_LOG_LEVEL:
			if (log__parse_level(optarg, &cfg->log_level)) {
				snprintf(err, err_len,
					 "invalid --log-level '%s': expected error, warn, info or "
					 "debug",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_NO_OFFCPU:
			cfg->offcpu = false;
			break;
		case OPT_OFFCPU_MIN:
			if (config__parse_duration_ns(optarg, 1000, 1000000000,
						      &cfg->offcpu_min_ns)) {
				snprintf(err, err_len,
					 "invalid --offcpu-min '%s': expected a duration from 1us "
					 "to 1s with a unit (ns, us, ms, s), e.g. 500us",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_OFFCPU_MAX_RATE:
			if (config__parse_u64(optarg, 0, 10000000, &v)) {
				snprintf(err, err_len,
					 "invalid --offcpu-max-rate '%s': expected an integer from "
					 "0 (no cap) to 10000000",
					 optarg);
				return -EINVAL;
			}
			cfg->offcpu_max_rate = (uint32_t)v;
			break;
		case OPT_OFFCPU_PREEMPTED:
			cfg->offcpu_preempted = true;
			break;
		case OPT_OFFCPU_HOOK:
			if (strcmp(optarg, "auto") == 0) {
				cfg->offcpu_hook = OFFCPU_HOOK_AUTO;
			} else if (strcmp(optarg, "tp_btf") == 0) {
				cfg->offcpu_hook = OFFCPU_HOOK_TP_BTF;
			} else if (strcmp(optarg, "raw_tp") == 0) {
				cfg->offcpu_hook = OFFCPU_HOOK_RAW_TP;
			} else {
				snprintf(err, err_len,
					 "invalid --offcpu-hook '%s': expected auto, tp_btf or "
					 "raw_tp",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_NO_BLOCKIO:
			cfg->blockio = false;
			break;
		case OPT_BLOCKIO_HOOK:
			if (strcmp(optarg, "auto") == 0) {
				cfg->blockio_hook = BLOCKIO_HOOK_AUTO;
			} else if (strcmp(optarg, "tp_btf") == 0) {
				cfg->blockio_hook = BLOCKIO_HOOK_TP_BTF;
			} else if (strcmp(optarg, "raw_tp") == 0) {
				cfg->blockio_hook = BLOCKIO_HOOK_RAW_TP;
			} else {
				snprintf(err, err_len,
					 "invalid --blockio-hook '%s': expected auto, tp_btf or "
					 "raw_tp",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_WINDOW:
			if (config__parse_duration_ns(optarg, 1000000000ull, 3600000000000ull,
						      &cfg->window_ns)) {
				snprintf(err, err_len,
					 "invalid --window '%s': expected a duration from 1s to 1h "
					 "with a unit, e.g. 10s",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_BLOCKIO_MAX_RATE:
			if (config__parse_u64(optarg, 0, 10000000, &v)) {
				snprintf(err, err_len,
					 "invalid --blockio-max-rate '%s': expected an integer "
					 "from 0 (every request) to 10000000",
					 optarg);
				return -EINVAL;
			}
			cfg->blockio_max_rate = (uint32_t)v;
			break;
		case OPT_UNWIND_STACK_BYTES:
			if (config__parse_u64(optarg, 0, CONFIG_MAX_UNWIND_STACK_BYTES, &v)) {
				snprintf(err, err_len,
					 "invalid --unwind-stack-bytes '%s': expected an integer "
					 "from 0 (frame pointers only) to %u",
					 optarg, CONFIG_MAX_UNWIND_STACK_BYTES);
				return -EINVAL;
			}
			/* Whole words: the unwinder reads the copy 8 bytes at a time. */
			cfg->unwind_stack_bytes = (uint32_t)(v & ~7ull);
			break;
		case OPT_CONFIG:
		case OPT_AUTH_TOKEN_FILE:
		case OPT_TLS_CERT:
		case OPT_TLS_KEY:
		case OPT_USER:
			if (set_string_option(cfg, c, optarg, err, err_len))
				return -EINVAL;
			break;
		case OPT_CHECK_CONFIG:
			cfg->check_config = true;
			break;
		case OPT_RETENTION:
			if (config__parse_duration_ns(optarg, 1000000000ull, 604800000000000ull,
						      &cfg->retention_ns)) {
				snprintf(err, err_len,
					 "invalid --retention '%s': expected a duration from 1s to "
					 "7 days with a unit, e.g. 10m",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_MAX_MEMORY:
			if (config__parse_u64(optarg, 1, 1024 * 1024, &v)) {
				snprintf(
					err, err_len,
					"invalid --max-memory '%s': expected MiB from 1 to 1048576",
					optarg);
				return -EINVAL;
			}
			cfg->max_memory = v << 20;
			break;
		case OPT_LABELS: {
			char why[160];

			if (labels__parse(optarg, &cfg->labels, why, sizeof(why))) {
				snprintf(err, err_len, "invalid --labels: %s", why);
				return -EINVAL;
			}
			cfg->labels |= LABEL_EXPLICIT;
			break;
		}
		case OPT_PYROSCOPE_URL:
			if ((strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8)) ||
			    strlen(optarg) >= sizeof(cfg->pyroscope_url)) {
				snprintf(err, err_len,
					 "invalid --pyroscope-url: expected http:// or https:// "
					 "and at most %zu bytes",
					 sizeof(cfg->pyroscope_url) - 1);
				return -EINVAL;
			}
			snprintf(cfg->pyroscope_url, sizeof(cfg->pyroscope_url), "%s", optarg);
			break;
		case OPT_PYROSCOPE_APP:
			if (!config__valid_push_name(optarg) ||
			    strlen(optarg) >= sizeof(cfg->pyroscope_app)) {
				snprintf(err, err_len,
					 "invalid --pyroscope-app '%.64s': expected 1 to 127 of "
					 "[A-Za-z0-9._-]",
					 optarg);
				return -EINVAL;
			}
			snprintf(cfg->pyroscope_app, sizeof(cfg->pyroscope_app), "%s", optarg);
			break;
		case OPT_PYROSCOPE_TAG: {
			const char *eq = strchr(optarg, '=');
			size_t used = strlen(cfg->push_tags);
			char key[64];

			if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof(key) ||
			    !config__valid_push_name(eq + 1)) {
				snprintf(err, err_len,
					 "invalid --pyroscope-tag '%.64s': expected KEY=VALUE of "
					 "[A-Za-z0-9._-]",
					 optarg);
				return -EINVAL;
			}
			memcpy(key, optarg, (size_t)(eq - optarg));
			key[eq - optarg] = '\0';
			if (!config__valid_push_name(key) ||
			    used + strlen(optarg) + 2 > sizeof(cfg->push_tags)) {
				snprintf(err, err_len,
					 "invalid --pyroscope-tag '%.64s': bad key, or too many "
					 "tags",
					 optarg);
				return -EINVAL;
			}
			snprintf(cfg->push_tags + used, sizeof(cfg->push_tags) - used, "%s%s",
				 used ? "," : "", optarg);
			break;
		}
		case 'h':
			return CONFIG_HELP;
		case 'V':
			return CONFIG_VERSION;
		case ':':
			snprintf(err, err_len, "option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			snprintf(err, err_len, "unknown option '%s' (see --help)",
				 argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (cfg->retention_ns < cfg->window_ns) {
		snprintf(err, err_len, "--retention must be at least one --window");
		return -EINVAL;
	}
	if (optind < argc) {
		snprintf(err, err_len, "unexpected argument '%s' (see --help)", argv[optind]);
		return -EINVAL;
	}
	return CONFIG_RUN;
}

int config__option_arg(const char *name)
{
	for (const struct option *o = long_opts; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o->has_arg == no_argument ? 0 : 1;
	return -ENOENT;
}
