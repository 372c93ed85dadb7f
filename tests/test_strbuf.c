// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "testutil.h"

int main(void)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len;
	char *p;

	CHECK(strbuf__appends(&sb, "abc") == 0);
	CHECK(strbuf__appendf(&sb, "-%d-%s", 42, "x") == 0);
	CHECK_STR(sb.buf, "abc-42-x");
	CHECK_EQ_U64(sb.len, 8);
	for (int i = 0; i < 10000; i++)
		CHECK(strbuf__append(&sb, "0123456789", 10) == 0);
	CHECK_EQ_U64(sb.len, 100008);
	CHECK(sb.buf[sb.len] == '\0');
	CHECK(strbuf__append(&sb, NULL, 0) == 0);
	CHECK(strbuf__reserve(&sb, (size_t)-1) < 0);
	CHECK_EQ_U64(sb.len, 100008);
	p = strbuf__detach(&sb, &len);
	CHECK(p != NULL && len == 100008);
	CHECK(sb.buf == NULL && sb.len == 0);
	free(p);
	strbuf__release(&sb);
	strbuf__release(NULL);
	return test__finish("test_strbuf");
}
