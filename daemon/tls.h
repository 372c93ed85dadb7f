/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TLS credentials for the HTTP server: a PEM certificate (chain) and its
 * private key, read once at start-up (before privileges are dropped) and
 * handed to libmicrohttpd, which serves HTTPS through GnuTLS.
 */
#ifndef SONDE_TLS_H
#define SONDE_TLS_H

#include <stdbool.h>
#include <stddef.h>

/* GnuTLS priority string: TLS 1.2 and 1.3 only, GnuTLS's NORMAL choice of ciphers. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct tls_creds;

/* Whether this libmicrohttpd was built with TLS support. */
bool tls__supported(void);

/*
 * Reads both files and checks them the way the server will use them (PEM
 * that GnuTLS accepts, a key that matches the certificate). 0 or -errno with
 * a one-line reason in err.
 */
int tls__load(const char *cert_path, const char *key_path, struct tls_creds **out, char *err,
	      size_t err_len);
/* Wipes the key. Accepts NULL. */
void tls__free(struct tls_creds *tls);

/* NUL-terminated PEM, owned by tls. */
const char *tls__cert_pem(const struct tls_creds *tls);
const char *tls__key_pem(const struct tls_creds *tls);

#endif
