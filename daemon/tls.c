// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "tls.h"

/* Certificate chains and keys are a few KiB; anything this big is not one. */
#define TLS_FILE_MAX (1024 * 1024)

struct tls_creds {
	char *cert;
	char *key;
	size_t key_len;
};

bool tls__supported(void)
{
	return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

/*
 * Reads a whole file into a NUL-terminated buffer. 0, -EINVAL when it is not
 * a regular file of a sensible size, -EPERM when it is secret and every user
 * may read it, or -errno.
 */
static int read_pem(const char *path, bool secret, char **out, size_t *out_len)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto err_close_fd;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > TLS_FILE_MAX) {
		rc = -EINVAL;
		goto err_close_fd;
	}
	if (secret && (st.st_mode & (S_IROTH | S_IWOTH))) {
		rc = -EPERM;
		goto err_close_fd;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto err_close_fd;
	}
	while (got < (size_t)st.st_size && (n = read(fd, buf + got, (size_t)st.st_size - got))) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto err_free_buf;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	*out = buf;
	*out_len = got;
	return 0;

err_free_buf:
	explicit_bzero(buf, got);
	free(buf);
err_close_fd:
	close(fd);
	return rc;
}

struct mhd_error {
	char msg[256];
};

/* Keeps libmicrohttpd's first complaint, which says what GnuTLS disliked. */
static void keep_first_error(void *cls, const char *fmt, va_list ap)
{
	struct mhd_error *e = cls;
	size_t n;

	if (e->msg[0])
		return;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	n = strlen(e->msg);
	while (n && (e->msg[n - 1] == '\n' || e->msg[n - 1] == '.'))
		e->msg[--n] = '\0';
}

static enum MHD_Result refuse_all(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	(void)cls, (void)conn, (void)url, (void)method, (void)version, (void)upload_data;
	(void)upload_data_size, (void)con_cls;
	return MHD_NO;
}

/* Starts a daemon that listens nowhere with these credentials: GnuTLS checks them. */
static int check_with_mhd(const struct tls_creds *tls, char *err, size_t err_len)
{
	struct mhd_error e = {{0}};
	struct MHD_Daemon *d;

	d = MHD_start_daemon(MHD_USE_TLS | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, NULL,
			     NULL, refuse_all, NULL, MHD_OPTION_EXTERNAL_LOGGER, keep_first_error,
			     &e, MHD_OPTION_HTTPS_MEM_CERT, tls->cert, MHD_OPTION_HTTPS_MEM_KEY,
			     tls->key, MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_END);
	if (!d) {
		snprintf(err, err_len, "the TLS certificate and key are not usable together: %s",
			 e.msg[0] ? e.msg : "libmicrohttpd refused them");
		return -EINVAL;
	}
	MHD_stop_daemon(d);
	return 0;
}

int tls__load(const char *cert_path, const char *key_path, struct tls_creds **out, char *err,
	      size_t err_len)
{
	struct tls_creds *tls;
	size_t cert_len = 0;
	int rc;

	if (!tls__supported()) {
		snprintf(err, err_len, "this libmicrohttpd was built without TLS (GnuTLS) support");
		return -EOPNOTSUPP;
	}
	tls = calloc(1, sizeof(*tls));
	if (!tls)
		return -ENOMEM;
	rc = read_pem(cert_path, false, &tls->cert, &cert_len);
	if (rc) {
		snprintf(err, err_len, "cannot read the TLS certificate %s: %s", cert_path,
			 rc == -EINVAL ? "not a regular file of 1 byte to 1 MiB" : strerror(-rc));
		goto err_free_tls;
	}
	rc = read_pem(key_path, true, &tls->key, &tls->key_len);
	if (rc) {
		snprintf(err, err_len, "cannot read the TLS key %s: %s", key_path,
			 rc == -EINVAL	? "not a regular file of 1 byte to 1 MiB"
			 : rc == -EPERM ? "every user may read it (chmod o-rwx it)"
					: strerror(-rc));
		goto err_free_tls;
	}
	rc = -EINVAL;
	if (!strstr(tls->cert, "-----BEGIN CERTIFICATE-----")) {
		snprintf(err, err_len, "%s is not a PEM certificate (no BEGIN CERTIFICATE line)",
			 cert_path);
		goto err_free_tls;
	}
	if (!strstr(tls->key, "-----BEGIN ") || !strstr(tls->key, "PRIVATE KEY-----")) {
		snprintf(err, err_len,
			 "%s is not a PEM private key (no BEGIN ... PRIVATE KEY line)", key_path);
		goto err_free_tls;
	}
	rc = check_with_mhd(tls, err, err_len);
	if (rc)
		goto err_free_tls;
	*out = tls;
	return 0;

err_free_tls:
	tls__free(tls);
	return rc;
}

void tls__free(struct tls_creds *tls)
{
	if (!tls)
		return;
	if (tls->key)
		explicit_bzero(tls->key, tls->key_len);
	free(tls->key);
	free(tls->cert);
	free(tls);
}

const char *tls__cert_pem(const struct tls_creds *tls)
{
	return tls->cert;
}

const char *tls__key_pem(const struct tls_creds *tls)
{
	return tls->key;
}
