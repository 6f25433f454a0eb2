#include "../fx_test.h"
#include "jsq.h"
#include "queue-worker/worker.h"

#include <errno.h>
#include <string.h>

START_TEST(plan_decides)
{
	/* done or a client error: acknowledged, never retried */
	ck_assert_int_eq(qw_plan(200, 1, 3), QW_ACK);
	ck_assert_int_eq(qw_plan(202, 4, 3), QW_ACK);
	ck_assert_int_eq(qw_plan(404, 1, 3), QW_ACK);
	ck_assert_int_eq(qw_plan(400, 1, 3), QW_ACK);
	/* 5xx, 429 and no answer: retried up to the limit, then dead */
	ck_assert_int_eq(qw_plan(500, 1, 3), QW_RETRY);
	ck_assert_int_eq(qw_plan(503, 3, 3), QW_RETRY);
	ck_assert_int_eq(qw_plan(502, 4, 3), QW_DEAD);
	ck_assert_int_eq(qw_plan(429, 2, 3), QW_RETRY);
	ck_assert_int_eq(qw_plan(0, 1, 3), QW_RETRY);
	ck_assert_int_eq(qw_plan(0, 1, 0), QW_DEAD);
	ck_assert_int_eq(qw_plan(500, 1, -5), QW_DEAD);
	ck_assert_int_eq(qw_plan(500, 101, 100), QW_DEAD);
}
END_TEST

START_TEST(targets)
{
	char out[64];
	ck_assert_int_eq(qw_target("faas.async.echo", "/", NULL, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/function/echo");
	ck_assert_int_eq(qw_target("faas.async.echo", "/a/b", "x=1", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/function/echo/a/b?x=1");
	ck_assert_int_eq(qw_target("faas.async.echo", "a", NULL, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(qw_target("faas.async.echo", "/a b", NULL, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(qw_target("faas.async.echo", "/a\r\nX: y", NULL, out, sizeof(out)),
	                 -EINVAL);
	ck_assert_int_eq(qw_target("faas.async.echo", "/", "a\nb", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(qw_target("faas.async.Echo", "/", NULL, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(qw_target("faas.other.echo", "/", NULL, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(qw_target("faas.async.echo", NULL, NULL, out, sizeof(out)), -EINVAL);
	char longpath[80];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[79] = '\0';
	ck_assert_int_eq(qw_target("faas.async.echo", longpath, NULL, out, sizeof(out)), -E2BIG);
}
END_TEST

START_TEST(jsq_helpers)
{
	ck_assert_str_eq(fx_jsq_function_of("faas.async.echo"), "echo");
	ck_assert_str_eq(fx_jsq_function_of("faas.dlq.wc-2"), "wc-2");
	ck_assert_ptr_null(fx_jsq_function_of("faas.async."));
	ck_assert_ptr_null(fx_jsq_function_of("faas.async.a.b"));
	ck_assert_ptr_null(fx_jsq_function_of("faas.async.a/b"));
	ck_assert_ptr_null(fx_jsq_function_of("faas.async.-a"));
	ck_assert_ptr_null(fx_jsq_function_of(NULL));
	ck_assert_ptr_null(fx_jsq_function_of(
	    "faas.async.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));

	ck_assert_int_eq(fx_jsq_parse_retries("0"), 0);
	ck_assert_int_eq(fx_jsq_parse_retries("3"), 3);
	ck_assert_int_eq(fx_jsq_parse_retries("100"), 100);
	ck_assert_int_eq(fx_jsq_parse_retries("101"), -1);
	ck_assert_int_eq(fx_jsq_parse_retries("-1"), -1);
	ck_assert_int_eq(fx_jsq_parse_retries(""), -1);
	ck_assert_int_eq(fx_jsq_parse_retries("3x"), -1);
	ck_assert_int_eq(fx_jsq_parse_retries("99999999999"), -1);
	ck_assert_int_eq(fx_jsq_parse_retries(NULL), -1);

	/* 1 s doubling, capped at 60 s, up to 10 % jitter */
	ck_assert_int_eq(fx_jsq_backoff_ms(1000, 60000, 1, 0), 1000);
	ck_assert_int_eq(fx_jsq_backoff_ms(1000, 60000, 2, 0), 2000);
	ck_assert_int_eq(fx_jsq_backoff_ms(1000, 60000, 4, 0), 8000);
	ck_assert_int_eq(fx_jsq_backoff_ms(1000, 60000, 10, 0), 60000);
	ck_assert_int_eq(fx_jsq_backoff_ms(1000, 60000, UINT64_MAX, 0), 60000);
	for (uint64_t r = 0; r < 1000; r += 7) {
		int64_t d = fx_jsq_backoff_ms(1000, 60000, 3, r);
		ck_assert(d >= 4000 && d <= 4400);
	}
	ck_assert(fx_jsq_retryable(0) && fx_jsq_retryable(429) && fx_jsq_retryable(500) &&
	          fx_jsq_retryable(599));
	ck_assert(!fx_jsq_retryable(200) && !fx_jsq_retryable(404) && !fx_jsq_retryable(600));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("queue-worker");
	TCase *tc = tcase_create("plan");
	tcase_add_test(tc, plan_decides);
	tcase_add_test(tc, targets);
	tcase_add_test(tc, jsq_helpers);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
