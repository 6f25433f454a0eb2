/* queue_test.c: the work queue: dedup, one worker per key, backoff. */
#include "../fx_test.h"
#include "controller/controller.h"

#include <errno.h>
#include <string.h>

START_TEST(dedup_and_order)
{
	struct wq *q = wq_new(8, 100, 60000);
	char key[FX_SPEC_MAX_NAME + 1];
	/* wq_add stamps keys with the clock: ask a second later, so a slow
	 * machine cannot make them not due yet */
	int64_t wait, now = fx_now_ms() + 1000;
	ck_assert_int_eq(wq_add(q, "a", 0), 0);
	ck_assert_int_eq(wq_add(q, "b", 0), 0);
	ck_assert_int_eq(wq_add(q, "a", 0), 0);
	ck_assert_int_eq(wq_depth(q), 2);
	ck_assert_int_eq(wq_try_get(q, now, key, &wait), 0);
	ck_assert_str_eq(key, "a");
	/* a is being processed: added again, it waits until done */
	ck_assert_int_eq(wq_add(q, "a", 0), 0);
	ck_assert_int_eq(wq_try_get(q, now, key, &wait), 0);
	ck_assert_str_eq(key, "b");
	ck_assert_int_eq(wq_try_get(q, now, key, &wait), -EAGAIN);
	ck_assert_int_eq(wq_done(q, "a", true, now), 0);
	ck_assert_int_eq(wq_try_get(q, now, key, &wait), 0);
	ck_assert_str_eq(key, "a");
	wq_done(q, "a", true, now);
	wq_done(q, "b", true, now);
	ck_assert_int_eq(wq_depth(q), 0);
	wq_free(q);
}
END_TEST

START_TEST(backoff)
{
	struct wq *q = wq_new(8, 100, 1000);
	char key[FX_SPEC_MAX_NAME + 1];
	int64_t wait, t = fx_now_ms();
	static const int64_t steps[] = {100, 200, 400, 800, 1000, 1000};
	wq_add(q, "x", 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		ck_assert_int_eq(wq_try_get(q, t + 10, key, &wait), 0);
		ck_assert_int_eq(wq_done(q, "x", false, t + 10), steps[i]);
		/* not due before the backoff */
		ck_assert_int_eq(wq_try_get(q, t + 10 + steps[i] - 1, key, &wait), -EAGAIN);
		ck_assert_int_eq(wait, 1);
		t += 10 + steps[i];
	}
	/* success resets it */
	ck_assert_int_eq(wq_try_get(q, t, key, &wait), 0);
	ck_assert_int_eq(wq_done(q, "x", true, t), 0);
	wq_add(q, "x", 0);
	ck_assert_int_eq(wq_try_get(q, fx_now_ms() + 1, key, &wait), 0);
	ck_assert_int_eq(wq_done(q, "x", false, t), 100);
	wq_free(q);
}
END_TEST

START_TEST(cap)
{
	struct wq *q = wq_new(2, 100, 1000);
	ck_assert_int_eq(wq_add(q, "a", 0), 0);
	ck_assert_int_eq(wq_add(q, "b", 0), 0);
	ck_assert_int_eq(wq_add(q, "c", 0), -ENOSPC);
	ck_assert_int_eq(wq_add(q, "a", 0), 0);
	char long_key[100];
	memset(long_key, 'a', 99);
	long_key[99] = '\0';
	ck_assert_int_eq(wq_add(q, long_key, 0), -EINVAL);
	wq_stop(q);
	char key[FX_SPEC_MAX_NAME + 1];
	ck_assert_int_eq(wq_get(q, key), -ECANCELED);
	wq_free(q);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("queue");
	tcase_add_test(tc, dedup_and_order);
	tcase_add_test(tc, backoff);
	tcase_add_test(tc, cap);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
