/* kpa_test.c: the autoscaler's decision replayed on load traces (one sample
 * a second, the replicas following each decision), the gateways' answer
 * parser and the rate of a counter. */
#include "../fx_test.h"
#include "controller/controller.h"

#include <errno.h>
#include <string.h>

static struct fx_scale scale(int64_t min, int64_t max, int64_t target)
{
	struct fx_scale s = {.min = min,
	                     .max = max,
	                     .metric = FX_METRIC_CONCURRENCY,
	                     .target = target,
	                     .window_ms = 60000,
	                     .panic_window_ms = 6000};
	return s;
}

/* Replays load[i] at second from + i + 1 (NAN: no sample that second, a
 * poll without every gateway), starting at *current; the service follows
 * each decision. Fills out[i] with the decision of that second. */
static void replay_from(struct kpa *k, const struct fx_scale *s, int64_t from, const double *load,
                        size_t n, int64_t *current, int64_t *out, struct kpa_decision *last)
{
	for (size_t i = 0; i < n; i++) {
		int64_t t = (from + (int64_t)i + 1) * 1000;
		if (load[i] == load[i]) /* not NAN */
			kpa_observe(k, s, t, load[i]);
		*current = kpa_decide(k, s, *current, t, last);
		out[i] = *current;
	}
}

#define replay(k, s, load, n, cur, out, d) replay_from(k, s, 0, load, n, cur, out, d)

START_TEST(step_up_within_a_second)
{
	struct fx_scale s = scale(1, 20, 10);
	struct kpa k;
	struct kpa_decision d;
	double load[12];
	int64_t cur = 1, out[12];
	kpa_init(&k);
	/* 1 in flight for 5 s, then a step to 35 (needs 4 replicas). */
	for (size_t i = 0; i < 12; i++)
		load[i] = i < 5 ? 1 : 35;
	replay(&k, &s, load, 12, &cur, out, &d);
	ck_assert_int_eq(out[4], 1);
	/* The first second of the step: the panic window's average (1,1,1,1,1,35
	 * -> 6.67) would want 1 replica; its last second wants 4, a panic (4 >=
	 * 2 x 1): 4 at once, and it stays. */
	ck_assert_int_eq(out[5], 4);
	ck_assert_int_eq(out[11], 4);
	ck_assert(!d.panicking);
	ck_assert_int_eq(d.reason, KPA_HOLD);
	ck_assert_double_eq_tol(d.panic, 35, 1e-9);
}
END_TEST

START_TEST(panic_scales_up_at_once_and_holds)
{
	struct fx_scale s = scale(1, 50, 10);
	struct kpa k;
	struct kpa_decision d;
	double load[40];
	int64_t cur = 2, out[40];
	kpa_init(&k);
	/* From nothing to 200 in flight: the panic window wants 20 >= 2 x 2. */
	for (size_t i = 0; i < 40; i++)
		load[i] = i < 10 ? 200 : 5;
	replay(&k, &s, load, 1, &cur, out, &d);
	ck_assert_int_eq(out[0], 20);
	ck_assert(d.panicking);
	ck_assert_int_eq(d.reason, KPA_PANIC_UP);
	replay_from(&k, &s, 1, load + 1, 9, &cur, out + 1, &d);
	/* The load drops to 5 (1 replica): the busiest second of the stable
	 * window still asks for 20, so no scale-down. */
	replay_from(&k, &s, 10, load + 10, 30, &cur, out + 10, &d);
	for (size_t i = 10; i < 40; i++)
		ck_assert_int_eq(out[i], 20);
	ck_assert(!d.panicking);
	ck_assert_int_eq(d.reason, KPA_HOLD);
}
END_TEST

START_TEST(stable_window_scale_down)
{
	struct fx_scale s = scale(1, 20, 10);
	struct kpa k;
	struct kpa_decision d;
	double load[200];
	int64_t cur = 1, out[200];
	size_t first_down = 0;
	kpa_init(&k);
	/* 30 in flight for 70 s (3 replicas), then idle. */
	for (size_t i = 0; i < 200; i++)
		load[i] = i < 70 ? 30 : 0;
	replay(&k, &s, load, 200, &cur, out, &d);
	ck_assert_int_eq(out[69], 3);
	for (size_t i = 70; i < 200 && first_down == 0; i++)
		if (out[i] < 3)
			first_down = i;
	/* The load stops at second 71 (out[70]); 3 stands while the 60 s window
	 * holds a busy second, then down at once: at second 130 the window
	 * (71..130) is idle, out[129]. */
	ck_assert_int_eq(first_down, 129);
	ck_assert_int_eq(out[128], 3);
	ck_assert_int_eq(out[129], 1); /* min, never 0 */
	ck_assert_int_eq(out[199], 1);
	ck_assert_int_eq(d.reason, KPA_HOLD);
}
END_TEST

START_TEST(down_delay_holds)
{
	struct fx_scale s = scale(1, 20, 10);
	struct kpa k;
	struct kpa_decision d;
	double load[100];
	int64_t cur = 4, out[100];
	kpa_init(&k);
	s.window_ms = 10000;
	s.panic_window_ms = 2000;
	s.down_delay_ms = 30000;
	for (size_t i = 0; i < 100; i++)
		load[i] = 0;
	replay(&k, &s, load, 100, &cur, out, &d);
	/* The stable window is full at 10 s, the desire is below 4 from the
	 * first decision: down after 30 s below, not before. */
	ck_assert_int_eq(out[28], 4);
	ck_assert_int_eq(out[40], 1);
}
END_TEST

START_TEST(a_count_set_by_hand_stands_a_stable_window)
{
	struct fx_scale s = scale(1, 20, 10);
	struct kpa k;
	struct kpa_decision d;
	double load[100];
	int64_t cur = 1, out[100];
	kpa_init(&k);
	for (size_t i = 0; i < 100; i++)
		load[i] = 0;
	replay(&k, &s, load, 70, &cur, out, &d);
	ck_assert_int_eq(out[69], 1);
	/* The scale API sets 3 at second 71: no load, but it stands 60 s. */
	cur = 3;
	replay_from(&k, &s, 70, load, 30, &cur, out, &d);
	ck_assert_int_eq(out[29], 3);
	ck_assert_int_eq(d.reason, KPA_DOWN_WAIT);
	for (int64_t t = 101000; t <= 131000; t += 1000) {
		kpa_observe(&k, &s, t, 0);
		cur = kpa_decide(&k, &s, cur, t, &d);
	}
	ck_assert_int_eq(cur, 1);
}
END_TEST

START_TEST(clamps)
{
	struct fx_scale s = scale(2, 5, 10);
	struct kpa k;
	struct kpa_decision d;
	double load[130];
	int64_t cur = 2, out[130];
	kpa_init(&k);
	for (size_t i = 0; i < 130; i++)
		load[i] = i < 60 ? 1000 : 0;
	replay(&k, &s, load, 130, &cur, out, &d);
	ck_assert_int_eq(out[0], 5); /* max */
	/* The load stops at second 61: 5 stands until the 60 s window holds no
	 * busy second (second 120), then down to min. */
	ck_assert_int_eq(out[118], 5);
	ck_assert_int_eq(out[119], 2); /* min */
	ck_assert_int_eq(out[129], 2);
	/* Asleep (scaled to 0 by the idle path): the autoscaler leaves it. */
	ck_assert_int_eq(kpa_decide(&k, &s, 0, 131000, &d), 0);
	ck_assert_int_eq(d.reason, KPA_ASLEEP);
}
END_TEST

START_TEST(missing_gateway_holds_samples)
{
	struct fx_scale s = scale(1, 20, 10);
	struct kpa k;
	struct kpa_decision d;
	double nan = 0.0 / 0.0;
	/* 25 in flight over two gateways; a poll where one did not answer is not
	 * recorded (autoscale.c holds it), so the average stays whole. */
	double load[12] = {25, 25, 25, 25, 25, 25, nan, nan, 25, 25, nan, 25};
	int64_t cur = 3, out[12];
	kpa_init(&k);
	replay(&k, &s, load, 12, &cur, out, &d);
	for (size_t i = 0; i < 12; i++)
		ck_assert_int_eq(out[i], 3);
	ck_assert_double_eq_tol(d.stable, 25, 1e-9);
	/* No sample at all in the panic window: no decision, the count stays. */
	ck_assert_int_eq(kpa_decide(&k, &s, 3, 30000, &d), 3);
	ck_assert_int_eq(d.reason, KPA_NO_DATA);
}
END_TEST

START_TEST(rps_mode)
{
	struct fx_scale s = scale(1, 20, 100);
	struct kpa k;
	struct kpa_decision d;
	double load[10];
	int64_t cur = 1, out[10];
	s.metric = FX_METRIC_RPS;
	kpa_init(&k);
	/* Two gateways' counters, one second apart: 120 + 130 requests/s. */
	ck_assert_double_eq_tol(kpa_rate(1000, 1120, 1000) + kpa_rate(50, 180, 1000), 250, 1e-9);
	ck_assert_double_eq_tol(kpa_rate(1000, 1500, 2000), 250, 1e-9);
	ck_assert_double_eq_tol(kpa_rate(1000, 40, 1000), 40, 1e-9); /* restarted */
	ck_assert_double_eq_tol(kpa_rate(1, 2, 0), 0, 1e-9);
	for (size_t i = 0; i < 10; i++)
		load[i] = 250;
	replay(&k, &s, load, 10, &cur, out, &d);
	ck_assert_int_eq(out[0], 3); /* ceil(250 / 100), a panic (3 >= 2 x 1) */
	ck_assert_int_eq(out[9], 3);
}
END_TEST

START_TEST(parse_gateway)
{
	static const char ok[] =
	    "{\"functions\":[{\"name\":\"echo\",\"inflight\":3,\"requests\":120},"
	    "{\"name\":\"Bad\",\"inflight\":1,\"requests\":1},"
	    "{\"name\":\"neg\",\"inflight\":-1,\"requests\":1},"
	    "{\"name\":\"str\",\"inflight\":\"1\",\"requests\":1},"
	    "{\"name\":\"sleep\",\"inflight\":0,\"requests\":7}]}";
	struct kpa_reading *v = NULL;
	size_t n = 0;
	char *err = NULL;
	ck_assert_int_eq(kpa_parse_gateway(ok, strlen(ok), &v, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].name, "echo");
	ck_assert_int_eq(v[0].inflight, 3);
	ck_assert_uint_eq(v[0].requests, 120);
	ck_assert_str_eq(v[1].name, "sleep");
	ck_assert_int_eq(v[0].inflight_us, -1); /* not given: the instant counts */
	ck_assert_int_eq(v[0].time_us, -1);
	free(v);
	ck_assert_int_eq(kpa_parse_gateway("[]", 2, &v, &n, &err), -EINVAL);
	ck_assert_ptr_nonnull(err);
	free(err);
	err = NULL;
	ck_assert_int_eq(kpa_parse_gateway("{\"functions\":", 13, &v, &n, &err), -EINVAL);
	free(err);
}
END_TEST

START_TEST(average_concurrency_between_polls)
{
	static const char a1[] = "{\"time_us\":1000000,\"functions\":[{\"name\":\"echo\","
	                         "\"inflight\":0,\"inflight_us\":500000,\"requests\":10}]}";
	static const char a2[] = "{\"time_us\":2000000,\"functions\":[{\"name\":\"echo\","
	                         "\"inflight\":1,\"inflight_us\":3000000,\"requests\":90}]}";
	static const char bad[] = "{\"time_us\":\"x\",\"functions\":[{\"name\":\"echo\","
	                          "\"inflight\":2,\"inflight_us\":-5,\"requests\":1}]}";
	struct kpa_reading *p = NULL, *q = NULL, *r = NULL;
	size_t n = 0;
	char *err = NULL;
	ck_assert_int_eq(kpa_parse_gateway(a1, strlen(a1), &p, &n, &err), 0);
	ck_assert_int_eq(kpa_parse_gateway(a2, strlen(a2), &q, &n, &err), 0);
	ck_assert_int_eq(q[0].time_us, 2000000);
	ck_assert_int_eq(q[0].inflight_us, 3000000);
	/* 2.5 request-seconds over 1 s: 2.5 in flight on average, though the
	 * poll caught only 1 at its instant. */
	ck_assert_double_eq_tol(kpa_concurrency(p, q), 2.5, 1e-9);
	/* No earlier answer, a restarted gateway (area went back), an answer
	 * without the area: the instant's count. */
	ck_assert_double_eq_tol(kpa_concurrency(NULL, q), 1, 1e-9);
	ck_assert_double_eq_tol(kpa_concurrency(q, p), 0, 1e-9);
	ck_assert_int_eq(kpa_parse_gateway(bad, strlen(bad), &r, &n, &err), 0);
	ck_assert_int_eq(r[0].inflight_us, -1);
	ck_assert_double_eq_tol(kpa_concurrency(q, r), 2, 1e-9);
	free(p);
	free(q);
	free(r);
}
END_TEST

START_TEST(alerts_leave_autoscaled_functions)
{
	struct fx_scale s = scale(1, 20, 10);
	struct alert a = {.function = "echo", .firing = true};
	const char *why = NULL;
	s.factor = 20;
	ck_assert_int_eq(alert_decide(&a, &s, 1, &why), -1);
	ck_assert_ptr_nonnull(why);
	s.metric = FX_METRIC_ALERTS;
	ck_assert_int_eq(alert_decide(&a, &s, 1, &why), 5);
	/* The idle alert is the way to zero for either metric. */
	s.metric = FX_METRIC_CONCURRENCY;
	s.zero = true;
	a.idle = true;
	ck_assert_int_eq(alert_decide(&a, &s, 3, &why), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kpa");
	TCase *tc = tcase_create("kpa");
	tcase_add_test(tc, step_up_within_a_second);
	tcase_add_test(tc, panic_scales_up_at_once_and_holds);
	tcase_add_test(tc, stable_window_scale_down);
	tcase_add_test(tc, down_delay_holds);
	tcase_add_test(tc, a_count_set_by_hand_stands_a_stable_window);
	tcase_add_test(tc, clamps);
	tcase_add_test(tc, missing_gateway_holds_samples);
	tcase_add_test(tc, rps_mode);
	tcase_add_test(tc, parse_gateway);
	tcase_add_test(tc, average_concurrency_between_polls);
	tcase_add_test(tc, alerts_leave_autoscaled_functions);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
