// SPDX-License-Identifier: GPL-2.0
/*
 * TLS credentials: a certificate and key made here with openssl load; a key
 * of another certificate, a file that is not PEM, a missing file and a key in
 * place of the certificate are refused with one line. Serving HTTPS is
 * tested end to end with curl in tests/integration/security.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "tls.h"

static char dir[64];

static int make_cert(const char *name)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-days 1 -subj /CN=localhost -keyout '%s/%s.key' -out '%s/%s.crt' "
		 ">/dev/null 2>&1 && chmod 0600 '%s/%s.key' '%s/%s.crt'",
		 dir, name, dir, name, dir, name, dir, name);
	return system(cmd);
}

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void expect_refused(const char *cert, const char *key, const char *want)
{
	struct tls_creds *tls = NULL;
	char c[128], k[128], err[512] = "";

	path_of(c, sizeof(c), cert);
	path_of(k, sizeof(k), key);
	CHECK(tls__load(c, k, &tls, err, sizeof(err)) < 0);
	CHECK(tls == NULL);
	CHECK(strchr(err, '\n') == NULL);
	if (strstr(err, want)) {
		test__passed++;
	} else {
		test__failed++;
		fprintf(stderr, "%s + %s: expected \"%s\" in \"%s\"\n", cert, key, want, err);
	}
}

int main(void)
{
	struct tls_creds *tls = NULL;
	char c[128], k[128], err[512] = "", cmd[256];
	FILE *f;

	CHECK(tls__supported()); /* Debian's libmicrohttpd is built with GnuTLS */
	snprintf(dir, sizeof(dir), "/tmp/sonde-test-tls.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	if (make_cert("a") || make_cert("b")) {
		fprintf(stderr, "openssl could not make a certificate; make test installs it\n");
		return 1;
	}
	path_of(c, sizeof(c), "a.crt");
	path_of(k, sizeof(k), "a.key");
	CHECK(tls__load(c, k, &tls, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	CHECK(tls && strstr(tls__cert_pem(tls), "-----BEGIN CERTIFICATE-----") != NULL);
	CHECK(tls && strstr(tls__key_pem(tls), "PRIVATE KEY-----") != NULL);
	tls__free(tls);
	tls__free(NULL);

	path_of(c, sizeof(c), "junk.pem");
	f = fopen(c, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
		      f);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "cp '%s/a.key' '%s/open.key' && chmod 0644 '%s/open.key'", dir,
		 dir, dir);
	CHECK(system(cmd) == 0);
	expect_refused("a.crt", "open.key", "every user may read it (chmod o-rwx it)");
	expect_refused("a.crt", "b.key", "not usable together");
	expect_refused("junk.pem", "a.key", "not usable together");
	expect_refused("a.key", "a.key", "is not a PEM certificate");
	expect_refused("a.crt", "a.crt", "is not a PEM private key");
	expect_refused("missing.crt", "a.key", "cannot read the TLS certificate");
	expect_refused("a.crt", "missing.key", "cannot read the TLS key");
	expect_refused("", "a.key", "not a regular file"); /* the directory itself */

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return test__finish("test_tls");
}
