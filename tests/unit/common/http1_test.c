#include "../fx_test.h"
#include "http1.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *text, bool head, struct fx_http1_head *h, char *buf)
{
	size_t n = strlen(text);
	memcpy(buf, text, n + 1);
	return fx_http1_head_parse(buf, n, head, h);
}

START_TEST(heads)
{
	struct fx_http1_head h;
	char buf[1024];

	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b c \r\n\r\nhello",
	                       false, &h, buf),
	                 0);
	ck_assert_int_eq(h.status, 200);
	ck_assert_int_eq(h.framing, FX_BODY_LENGTH);
	ck_assert_uint_eq(h.content_length, 5);
	ck_assert(h.keep_alive);
	ck_assert_uint_eq(h.nhdr, 2);
	ck_assert_str_eq(h.hdr[1].name, "X-A");
	ck_assert_str_eq(h.hdr[1].value, "b c");
	ck_assert_uint_eq(h.head_len, 50);

	ck_assert_int_eq(
	    parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, &h, buf),
	    0);
	ck_assert_int_eq(h.framing, FX_BODY_CHUNKED);
	ck_assert_int_eq(parse("HTTP/1.0 200 OK\r\n\r\n", false, &h, buf), 0);
	ck_assert_int_eq(h.framing, FX_BODY_CLOSE);
	ck_assert(!h.keep_alive);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
	                       false, &h, buf),
	                 0);
	ck_assert(!h.keep_alive);
	ck_assert_int_eq(h.framing, FX_BODY_NONE);
	ck_assert_int_eq(parse("HTTP/1.1 204 No Content\r\n\r\n", false, &h, buf), 0);
	ck_assert_int_eq(h.framing, FX_BODY_NONE);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true, &h, buf), 0);
	ck_assert_int_eq(h.framing, FX_BODY_NONE);
	ck_assert_int_eq(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", false, &h, buf),
	                 0);
	ck_assert_int_eq(h.status, 100);

	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", false, &h, buf),
	                 -EAGAIN);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, &h, buf),
	                 -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	                       false, &h, buf),
	                 -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n", false, &h, buf), -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\n folded\r\n\r\n", false, &h, buf), -EBADMSG);
	/* control characters in a value, DEL among them (as in requests) */
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nX-A: a\x7f\r\n\r\n", false, &h, buf), -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nX-A: a\x01-b\r\n\r\n", false, &h, buf),
	                 -EBADMSG);
	ck_assert_int_eq(parse("HTTP/2 200 OK\r\n\r\n", false, &h, buf), -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 2x0 OK\r\n\r\n", false, &h, buf), -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	                       false, &h, buf),
	                 -EBADMSG);
}
END_TEST

START_TEST(too_many_headers)
{
	char *big = malloc(200 * 8 + 64), *p;
	struct fx_http1_head h;
	memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
	p = big + 17;
	for (int i = 0; i < 200; i++) {
		memcpy(p, "A: b\r\n", 6);
		p += 6;
	}
	memcpy(p, "\r\n", 3);
	ck_assert_int_eq(fx_http1_head_parse(big, strlen(big), false, &h), -E2BIG);
	free(big);
}
END_TEST

static int decode_all(const char *in, size_t step, char *out, size_t outcap, size_t *outlen)
{
	struct fx_http1_chunked c = {0};
	size_t i = 0, o = 0, len = strlen(in);
	int st = 0;
	while (i < len && st == 0) {
		size_t n = len - i < step ? len - i : step, used, made;
		char tmp[3];
		st = fx_http1_chunked_decode(&c, in + i, n, &used, tmp, sizeof(tmp), &made);
		if (st < 0)
			return st;
		if (o + made > outcap)
			return -E2BIG;
		memcpy(out + o, tmp, made);
		o += made;
		i += used;
		if (used == 0 && made == 0 && st == 0)
			return -EIO;
	}
	*outlen = o;
	return st;
}

START_TEST(chunked)
{
	char out[256];
	size_t n = 0;
	const char *ok = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
	for (size_t step = 1; step < 8; step++) {
		ck_assert_int_eq(decode_all(ok, step, out, sizeof(out), &n), 1);
		ck_assert_uint_eq(n, 11);
		ck_assert(memcmp(out, "hello world", 11) == 0);
	}
	ck_assert_int_eq(decode_all("A\r\n0123456789\r\n0\r\n\r\n", 100, out, sizeof(out), &n), 1);
	ck_assert_uint_eq(n, 10);
	ck_assert_int_eq(decode_all("5\r\nhello\r\n", 100, out, sizeof(out), &n), 0);
	ck_assert_int_eq(decode_all("zz\r\n", 100, out, sizeof(out), &n), -EBADMSG);
	ck_assert_int_eq(decode_all("5\r\nhelloXX", 100, out, sizeof(out), &n), -EBADMSG);
	ck_assert_int_eq(decode_all("11111111111111111\r\n", 100, out, sizeof(out), &n), -EBADMSG);
}
END_TEST

START_TEST(body_take)
{
	struct fx_http1_body b = {.framing = FX_BODY_LENGTH, .left = 5};
	char out[16];
	size_t used, made;

	ck_assert_int_eq(fx_http1_body_take(&b, "hel", 3, &used, out, sizeof(out), &made), 0);
	ck_assert_uint_eq(made, 3);
	ck_assert_int_eq(fx_http1_body_take(&b, "loXX", 4, &used, out, sizeof(out), &made), 1);
	ck_assert_uint_eq(used, 2); /* what follows the body is not taken */
	b = (struct fx_http1_body){.framing = FX_BODY_CLOSE};
	ck_assert_int_eq(fx_http1_body_take(&b, "abc", 3, &used, out, 2, &made), 0);
	ck_assert_uint_eq(made, 2);
	b.eof = true;
	ck_assert_int_eq(fx_http1_body_take(&b, "c", 1, &used, out, 2, &made), 1);
	b = (struct fx_http1_body){.framing = FX_BODY_CHUNKED};
	ck_assert_int_eq(
	    fx_http1_body_take(&b, "3\r\nabc\r\n0\r\n\r\n", 15, &used, out, sizeof(out), &made), 1);
	ck_assert_uint_eq(made, 3);
	ck_assert_int_eq(memcmp(out, "abc", 3), 0);
	b = (struct fx_http1_body){.framing = FX_BODY_CHUNKED};
	ck_assert_int_eq(fx_http1_body_take(&b, "zz\r\n", 4, &used, out, sizeof(out), &made),
	                 -EBADMSG);
	b = (struct fx_http1_body){.framing = FX_BODY_NONE};
	ck_assert_int_eq(fx_http1_body_take(&b, "x", 1, &used, out, sizeof(out), &made), 1);
	ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(hop_headers)
{
	ck_assert(fx_http1_hop("connection", NULL));
	ck_assert(fx_http1_hop("Keep-Alive", NULL));
	ck_assert(fx_http1_hop("Transfer-Encoding", NULL));
	ck_assert(fx_http1_hop("TE", NULL));
	ck_assert(fx_http1_hop("Upgrade", NULL));
	ck_assert(fx_http1_hop("Proxy-Authorization", NULL));
	ck_assert(fx_http1_hop("Proxy-Connection", NULL));
	ck_assert(!fx_http1_hop("Content-Type", NULL));
	ck_assert(!fx_http1_hop("X-Foo", "keep-alive"));
	ck_assert(fx_http1_hop("X-Foo", "keep-alive, x-foo"));
	ck_assert(fx_http1_hop("X-Foo", "close,X-FOO"));
	ck_assert(!fx_http1_hop("X-Foobar", "x-foo"));
	ck_assert(fx_http1_value_ok("abc\tdef", 7));
	ck_assert(!fx_http1_value_ok("abc\r\ndef", 8));
	ck_assert(!fx_http1_value_ok("a\x7f", 2));
	ck_assert(fx_http1_value_ok("caf\xc3\xa9", 5)); /* obs-text passes */
	ck_assert(fx_http1_token("X-Request-Id", 12));
	ck_assert(!fx_http1_token("Transfer-Encoding ", 18));
	ck_assert(!fx_http1_token("X\rY", 3));
	ck_assert(!fx_http1_token("", 0));
	ck_assert(!fx_http1_token("a:b", 3));
}
END_TEST

START_TEST(content_length)
{
	uint64_t v = 0;
	ck_assert_int_eq(fx_http1_content_length("42", &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(fx_http1_content_length("5, 5", &v), 0);
	ck_assert_uint_eq(v, 5);
	ck_assert_int_eq(fx_http1_content_length("5, 6", &v), -EBADMSG);
	ck_assert_int_eq(fx_http1_content_length("", &v), -EBADMSG);
	ck_assert_int_eq(fx_http1_content_length("-1", &v), -EBADMSG);
	ck_assert_int_eq(fx_http1_content_length("1e3", &v), -EBADMSG);
	ck_assert_int_eq(fx_http1_content_length("99999999999999999999999", &v), -EBADMSG);
}
END_TEST

#define F(n, v)                                                                                    \
	{                                                                                          \
		n, v, sizeof(n) - 1, sizeof(v) - 1                                                 \
	}
/* #17 item 8: RFC 9112's framing rules for a server behind another proxy. */
START_TEST(request_check)
{
	const char *why = NULL;
	struct fx_http1_field ok[] = {F("Host", "x"), F("Content-Length", "3")};
	struct fx_http1_field two_len[] = {F("Host", "x"), F("Content-Length", "3"),
	                                   F("Content-Length", "4")};
	struct fx_http1_field same_len[] = {F("Host", "x"), F("Content-Length", "3"),
	                                    F("Content-Length", "3")};
	struct fx_http1_field cl_te[] = {F("Host", "x"), F("Content-Length", "3"),
	                                 F("Transfer-Encoding", "chunked")};
	struct fx_http1_field te_gzip[] = {F("Host", "x"), F("Transfer-Encoding", "gzip, chunked")};
	struct fx_http1_field te_twice[] = {F("Host", "x"), F("Transfer-Encoding", "chunked"),
	                                    F("Transfer-Encoding", "chunked")};
	struct fx_http1_field te_ok[] = {F("Host", "x"), F("transfer-encoding", "Chunked")};
	struct fx_http1_field no_host[] = {F("Accept", "*/*")};
	struct fx_http1_field two_hosts[] = {F("Host", "a"), F("Host", "b")};
	struct fx_http1_field bad_name[] = {F("Host", "x"), F("Transfer-Encoding ", "chunked")};
	struct fx_http1_field cr_name[] = {F("Host", "x"), F("X\rA", "1")};
	struct fx_http1_field ctl_value[] = {F("Host", "x"), F("X-A", "a\001b")};
	struct fx_http1_field nul_value[] = {{"Host", "x", 4, 1}, {"X-A", "a", 3, 3}};

	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", ok, 2, &why), 0);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", two_len, 3, &why), 400);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", same_len, 3, &why), 0);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", cl_te, 3, &why), 400);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", te_gzip, 2, &why), 501);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", te_twice, 3, &why), 400);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", te_ok, 2, &why), 0);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", no_host, 1, &why), 400);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.0", no_host, 1, &why), 0);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", two_hosts, 2, &why), 400);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", bad_name, 2, &why), 400);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", cr_name, 2, &why), 400);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", ctl_value, 2, &why), 400);
	ck_assert_int_eq(fx_http1_request_check("HTTP/1.1", nul_value, 2, &why), 400);
	ck_assert_ptr_nonnull(why);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("common_http1");
	TCase *t = tcase_create("http1");
	tcase_add_test(t, heads);
	tcase_add_test(t, too_many_headers);
	tcase_add_test(t, chunked);
	tcase_add_test(t, body_take);
	tcase_add_test(t, hop_headers);
	tcase_add_test(t, content_length);
	tcase_add_test(t, request_check);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
