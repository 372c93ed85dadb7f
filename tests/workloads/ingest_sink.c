// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for a Pyroscope server, for the push test: listens on
 * 127.0.0.1 (port 0 picks a free one, printed as "port N"), and for every
 * request writes DIR/N.req ("METHOD URL" and one "key=value" line per query
 * parameter) and DIR/N.body. Answers 200, or 503 to the first --fail N
 * requests. Runs until SIGTERM.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

struct sink {
	const char *dir;
	int fail;
	int n;
};

struct upload {
	char *buf;
	size_t len;
};

static enum MHD_Result print_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	(void)kind;
	fprintf(cls, "%s=%s\n", key, value ? value : "");
	return MHD_YES;
}

static void save(struct sink *s, struct MHD_Connection *c, const char *method, const char *url,
		 const struct upload *up)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d.body", s->dir, s->n);
	f = fopen(path, "we");
	if (f) {
		if (up->len)
			fwrite(up->buf, 1, up->len, f);
		fclose(f);
	}
	/* The .req file last: its presence says the request is complete. */
	snprintf(path, sizeof(path), "%s/%d.req.tmp", s->dir, s->n);
	f = fopen(path, "we");
	if (!f)
		return;
	fprintf(f, "%s %s\n", method, url);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, print_arg, f);
	fclose(f);
	{
		char final[4096];

		snprintf(final, sizeof(final), "%s/%d.req", s->dir, s->n);
		rename(path, final);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct sink *s = cls;
	struct upload *up = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned int status;

	(void)version;
	if (!up) {
		up = calloc(1, sizeof(*up));
		*con_cls = up;
		return up ? MHD_YES : MHD_NO;
	}
	if (*data_size) {
		char *p = realloc(up->buf, up->len + *data_size);

		if (!p)
			return MHD_NO;
		memcpy(p + up->len, data, *data_size);
		up->buf = p;
		up->len += *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	s->n++;
	status = s->n <= s->fail ? 503 : 200;
	if (status == 200)
		save(s, c, method, url, up);
	resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (up)
		free(up->buf);
	free(up);
	*con_cls = NULL;
}

int main(int argc, char **argv)
{
	struct sink s = {0};
	struct sockaddr_in addr = {.sin_family = AF_INET};
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			s.dir = argv[++i];
		else if (!strcmp(argv[i], "--fail") && i + 1 < argc)
			s.fail = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: ingest_sink --dir DIR [--fail N]\n");
			return 2;
		}
	}
	if (!s.dir) {
		fprintf(stderr, "usage: ingest_sink --dir DIR [--fail N]\n");
		return 2;
	}
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* One thread: requests are handled one at a time, so s needs no lock. */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, &s,
			     MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s, MHD_OPTION_SOCK_ADDR,
			     (struct sockaddr *)&addr, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "ingest_sink: cannot listen\n");
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("port %u\n", info ? info->port : 0);
	fflush(stdout);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
