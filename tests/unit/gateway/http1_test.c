#include "../fx_test.h"
#include "gateway/gateway.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *text, bool head, struct gw_resp_head *h, char *buf)
{
	size_t n = strlen(text);
	memcpy(buf, text, n + 1);
	return gw_resp_head_parse(buf, n, head, h);
}

START_TEST(heads)
{
	struct gw_resp_head h;
	char buf[1024];

	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b c \r\n\r\nhello",
	                       false, &h, buf),
	                 0);
	ck_assert_int_eq(h.status, 200);
	ck_assert_int_eq(h.framing, GW_BODY_LENGTH);
	ck_assert_uint_eq(h.content_length, 5);
	ck_assert(h.keep_alive);
	ck_assert_uint_eq(h.nhdr, 2);
	ck_assert_str_eq(h.hdr[1].name, "X-A");
	ck_assert_str_eq(h.hdr[1].value, "b c");
	ck_assert_uint_eq(h.head_len, 50);

	ck_assert_int_eq(
	    parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, &h, buf),
	    0);
	ck_assert_int_eq(h.framing, GW_BODY_CHUNKED);
	ck_assert_int_eq(parse("HTTP/1.0 200 OK\r\n\r\n", false, &h, buf), 0);
	ck_assert_int_eq(h.framing, GW_BODY_CLOSE);
	ck_assert(!h.keep_alive);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
	                       false, &h, buf),
	                 0);
	ck_assert(!h.keep_alive);
	ck_assert_int_eq(h.framing, GW_BODY_NONE);
	ck_assert_int_eq(parse("HTTP/1.1 204 No Content\r\n\r\n", false, &h, buf), 0);
	ck_assert_int_eq(h.framing, GW_BODY_NONE);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true, &h, buf), 0);
	ck_assert_int_eq(h.framing, GW_BODY_NONE);
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
	struct gw_resp_head h;
	memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
	p = big + 17;
	for (int i = 0; i < 200; i++) {
		memcpy(p, "A: b\r\n", 6);
		p += 6;
	}
	memcpy(p, "\r\n", 3);
	ck_assert_int_eq(gw_resp_head_parse(big, strlen(big), false, &h), -E2BIG);
	free(big);
}
END_TEST

static int decode_all(const char *in, size_t step, char *out, size_t outcap, size_t *outlen)
{
	struct gw_chunked c = {0};
	size_t i = 0, o = 0, len = strlen(in);
	int st = 0;
	while (i < len && st == 0) {
		size_t n = len - i < step ? len - i : step, used, made;
		char tmp[3];
		st = gw_chunked_decode(&c, in + i, n, &used, tmp, sizeof(tmp), &made);
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

START_TEST(metrics_format)
{
	struct gw_fn_metrics *m = gw_metrics_new();
	struct fx_buf b;
	fx_buf_init(&b, 1 << 20);
	gw_metrics_started(m);
	gw_metrics_started(m);
	gw_metrics_done(m, 200, 0.003);
	gw_metrics_done(m, 200, 0.2);
	gw_metrics_done(m, 500, 20);
	ck_assert_uint_eq(gw_metrics_total(m), 3);
	for (int p = 0; p < GW_METRIC_PARTS; p++) {
		ck_assert_int_eq(gw_metrics_header(p, &b), 0);
		ck_assert_int_eq(gw_metrics_format(m, "echo", 2, &b, p), 0);
	}
	const char *want[] = {
	    "# TYPE gateway_function_invocation_total counter\n",
	    "gateway_function_invocation_total{code=\"200\",function_name=\"echo\"} 2\n",
	    "gateway_function_invocation_total{code=\"500\",function_name=\"echo\"} 1\n",
	    "# TYPE gateway_functions_seconds histogram\n",
	    "gateway_functions_seconds_bucket{code=\"200\",function_name=\"echo\",le=\"0.005\"} "
	    "1\n",
	    "gateway_functions_seconds_bucket{code=\"200\",function_name=\"echo\",le=\"0.25\"} 2\n",
	    "gateway_functions_seconds_bucket{code=\"500\",function_name=\"echo\",le=\"10\"} 0\n",
	    "gateway_functions_seconds_bucket{code=\"500\",function_name=\"echo\",le=\"+Inf\"} 1\n",
	    "gateway_functions_seconds_count{code=\"200\",function_name=\"echo\"} 2\n",
	    "gateway_function_invocation_started{function_name=\"echo\"} 2\n",
	    "# TYPE gateway_service_count gauge\n",
	    "gateway_service_count{function_name=\"echo\"} 2\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(b.data, want[i]), "missing: %s", want[i]);
	fx_buf_release(&b);
	gw_metrics_free(m);
}
END_TEST

START_TEST(inject)
{
	size_t n;
	char *o = gw_registry_inject_counts("[{\"name\":\"unknown\",\"replicas\":1}]", 33, &n);
	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_nonnull(strstr(o, "\"invocationCount\":0"));
	free(o);
	const char *list = "{\"kind\":\"FunctionList\",\"items\":[{\"metadata\":{\"name\":\"x\"},"
	                   "\"status\":{\"invocationCount\":7}}]}";
	o = gw_registry_inject_counts(list, strlen(list), &n);
	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_nonnull(strstr(o, "\"status\":{\"invocationCount\":0}"));
	free(o);
	ck_assert_ptr_null(gw_registry_inject_counts("not json", 8, &n));
	ck_assert_ptr_null(gw_registry_inject_counts("{\"error\":\"x\"}", 13, &n));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gateway_http1");
	TCase *t = tcase_create("http1");
	tcase_add_test(t, heads);
	tcase_add_test(t, too_many_headers);
	tcase_add_test(t, chunked);
	tcase_add_test(t, metrics_format);
	tcase_add_test(t, inject);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
