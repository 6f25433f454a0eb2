/* The exchange's answer side (common/proxy.c) without sockets: bytes fed as
 * if read from the upstream, the body taken as the body reader does. */
#include "../fx_test.h"
#include "proxy.h"

#include <string.h>

static int freed, failures;
static char seen[256];

static void t_failed(struct fx_px *x, int err, bool connecting)
{
	(void)err;
	(void)connecting;
	failures++;
	fx_px_fail(x, 502, "failed");
}

static bool t_pass(struct fx_px *x, const char *name, const char *value)
{
	(void)x;
	(void)value;
	strncat(seen, name, sizeof(seen) - strlen(seen) - 2);
	strcat(seen, ",");
	return true;
}

static void t_free(struct fx_px *x)
{
	(void)x;
	freed++;
}

static const struct fx_px_ops ops = {.failed = t_failed, .pass_header = t_pass, .free = t_free};

static void start(struct fx_px *x)
{
	freed = failures = 0;
	seen[0] = '\0';
	fx_px_init(x, &ops, NULL, NULL);
	x->flags |= FX_PXF_UPLOADED;
	x->st = FX_PX_HEAD; /* as if the request had gone out */
}

static void feed(struct fx_px *x, const char *s)
{
	fx_px_feed(x, s, strlen(s));
}

/* #17 item 7: an interim answer and the final one in the same read. */
START_TEST(continue_then_answer_in_one_read)
{
	struct fx_px x;

	start(&x);
	feed(&x, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
	         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
	ck_assert_int_eq(x.status, 200);
	ck_assert_ptr_nonnull(x.resp);
	ck_assert_int_eq(x.st, FX_PX_DONE); /* the whole answer was in */
	ck_assert_int_eq(x.err_status, 0);
	fx_px_done(&x);
	ck_assert_int_eq(freed, 1);
}
END_TEST

START_TEST(hop_by_hop_answer_headers)
{
	struct fx_px x;

	start(&x);
	feed(&x, "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n"
	         "Keep-Alive: timeout=5\r\nX-Kept: 2\r\nContent-Length: 0\r\n\r\n");
	ck_assert_str_eq(seen, "X-Kept,");
	fx_px_done(&x);
}
END_TEST

START_TEST(chunked_answer_streams)
{
	struct fx_px x;
	char out[4], all[32] = "";
	long n;

	start(&x);
	feed(&x, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
	ck_assert_int_eq(x.st, FX_PX_BODY);
	while ((n = fx_px_take(&x, out, sizeof(out))) > 0)
		strncat(all, out, (size_t)n);
	ck_assert_int_eq(n, 0); /* more to come */
	feed(&x, "lo\r\n0\r\n\r\n");
	while ((n = fx_px_take(&x, out, sizeof(out))) > 0)
		strncat(all, out, (size_t)n);
	ck_assert_int_eq(n, -1);
	ck_assert_str_eq(all, "hello");
	fx_px_done(&x); /* the response (holding a reference) is destroyed here */
	ck_assert_int_eq(freed, 1);
}
END_TEST

START_TEST(malformed_answer_is_502)
{
	struct fx_px x;

	start(&x);
	feed(&x, "HTTP/1.1 200 OK\r\nX\rY: 1\r\n\r\n");
	ck_assert_int_eq(x.err_status, 502);
	ck_assert_ptr_null(x.resp);
	fx_px_done(&x);
	ck_assert_int_eq(freed, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("common_proxy");
	TCase *t = tcase_create("proxy");
	tcase_add_test(t, continue_then_answer_in_one_read);
	tcase_add_test(t, hop_by_hop_answer_headers);
	tcase_add_test(t, chunked_answer_streams);
	tcase_add_test(t, malformed_answer_is_502);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
