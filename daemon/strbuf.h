/* SPDX-License-Identifier: GPL-2.0 */
/* A growable byte buffer, used for response bodies and encoded profiles. */
#ifndef SONDE_STRBUF_H
#define SONDE_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *buf; /* NUL-terminated when len > 0 or after any append */
	size_t len;
	size_t cap;
};

#define STRBUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Each returns 0 or -ENOMEM; on failure the buffer is left as it was. */
int strbuf__reserve(struct strbuf *sb, size_t extra);
int strbuf__append(struct strbuf *sb, const void *data, size_t len);
int strbuf__appends(struct strbuf *sb, const char *s);
int strbuf__appendf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the buffer to the caller (free() it) and resets sb. */
char *strbuf__detach(struct strbuf *sb, size_t *len);
void strbuf__release(struct strbuf *sb);

#endif
