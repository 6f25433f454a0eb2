/* zero_test.c: idle scale to zero from the FunctionIdle alert: what each
 * alert asks of a function (alert_decide), the alertname in the payload, and
 * the deduplication that keeps a repeat from undoing a scale from zero. */
#include "../fx_test.h"
#include "controller/controller.h"

#include <stdio.h>
#include <string.h>

/* Alert-driven functions (scale.metric: alerts), as OpenFaaS scales them. */
static const struct fx_scale zero_on = {.min = 1,
                                        .max = 20,
                                        .factor = 20,
                                        .zero = true,
                                        .cooldown_ms = 30000,
                                        .metric = FX_METRIC_ALERTS};
static const struct fx_scale zero_off = {.min = 2,
                                         .max = 20,
                                         .factor = 20,
                                         .zero = false,
                                         .cooldown_ms = 30000,
                                         .metric = FX_METRIC_ALERTS};

static struct alert mk(bool idle, bool firing)
{
	struct alert a = {.function = "echo", .firing = firing, .idle = idle, .key = "f|t"};
	return a;
}

START_TEST(idle_firing_zeroes_only_with_zero_true)
{
	struct alert a = mk(true, true);
	const char *why = NULL;
	ck_assert_int_eq(alert_decide(&a, &zero_on, 3, &why), 0);
	ck_assert_int_eq(alert_decide(&a, &zero_on, 1, &why), 0);
	/* already at zero: asks for zero again (no update follows) */
	ck_assert_int_eq(alert_decide(&a, &zero_on, 0, &why), 0);
	/* zero: false: left alone, whatever the replicas, with a reason */
	ck_assert_int_eq(alert_decide(&a, &zero_off, 3, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "zero: false"));
	why = NULL;
	ck_assert_int_eq(alert_decide(&a, &zero_off, -1, &why), -1);
	ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(idle_resolved_does_nothing)
{
	struct alert a = mk(true, false);
	const char *why = NULL;
	ck_assert_int_eq(alert_decide(&a, &zero_on, 0, &why), -1);
	ck_assert_ptr_nonnull(why);
	why = NULL;
	ck_assert_int_eq(alert_decide(&a, &zero_on, 1, &why), -1);
	ck_assert_ptr_nonnull(why);
	why = NULL;
	ck_assert_int_eq(alert_decide(&a, &zero_off, 2, &why), -1);
	ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(load_alerts_unchanged_and_never_wake_a_zeroed_function)
{
	struct alert fire = mk(false, true), res = mk(false, true);
	const char *why = NULL;
	res.firing = false;
	/* the step formula as before: max 20, factor 20 -> step 4 */
	ck_assert_int_eq(alert_decide(&fire, &zero_on, 1, &why), 5);
	ck_assert_int_eq(alert_decide(&fire, &zero_off, 2, &why), 6);
	/* firing at zero (load came back): at least min, then the step */
	ck_assert_int_eq(alert_decide(&fire, &zero_on, 0, &why), 5);
	ck_assert_int_eq(alert_decide(&res, &zero_on, 8, &why), 1);
	ck_assert_int_eq(alert_decide(&res, &zero_off, 8, &why), 2);
	ck_assert_ptr_null(why);
	/* a late resolve after idle scaled to zero: stays at zero */
	ck_assert_int_eq(alert_decide(&res, &zero_on, 0, &why), -1);
	ck_assert_ptr_nonnull(why);
	/* unknown replicas (the pre-check before any Docker call): not ignored */
	why = NULL;
	ck_assert_int_eq(alert_decide(&res, &zero_on, -1, &why), 1);
	ck_assert_ptr_null(why);
}
END_TEST

static const char payload[] =
    "{\"version\":\"4\",\"status\":\"firing\",\"commonLabels\":{\"alertname\":\"FunctionIdle\"},"
    "\"alerts\":["
    "{\"status\":\"firing\",\"labels\":{\"alertname\":\"FunctionIdle\","
    "\"function_name\":\"idle-a\"},\"startsAt\":\"2026-11-26T10:00:00Z\",\"fingerprint\":\"a1\"},"
    "{\"status\":\"firing\",\"labels\":{\"function_name\":\"idle-b\"},\"startsAt\":\"2026-11-26T10:"
    "00:02Z\"},"
    "{\"status\":\"firing\",\"labels\":{\"alertname\":\"APIHighInvocationRate\","
    "\"function_name\":\"busy\"},\"startsAt\":\"2026-11-26T10:00:03.5Z\",\"fingerprint\":\"b1\"},"
    "{\"status\":\"resolved\",\"labels\":{\"alertname\":\"FunctionIdleish\","
    "\"function_name\":\"other\"},\"startsAt\":\"2026-11-26T11:00:04+01:00\",\"fingerprint\":"
    "\"c1\"}"
    "]}";

START_TEST(alertname_marks_idle)
{
	struct alert *v = NULL;
	char *err = NULL;
	int n = alerts_parse(payload, strlen(payload), &v, &err);
	ck_assert_int_eq(n, 4);
	ck_assert(v[0].idle && v[0].firing);
	ck_assert_str_eq(v[0].function, "idle-a");
	/* no alertname of its own: the group's common label names it */
	ck_assert(v[1].idle);
	ck_assert_str_eq(v[1].key, "FunctionIdle/idle-b|2026-11-26T10:00:02Z");
	for (int i = 0; i < n; i++)
		ck_assert(!v[i].bad_start);
	ck_assert(!v[2].idle);
	ck_assert(!v[3].idle && !v[3].firing);
	free(v);
}
END_TEST

START_TEST(idle_dedup)
{
	struct alert_memory *m = alert_memory_new();
	struct alert idle = mk(true, true), again = mk(true, true), load = mk(false, true);
	const int64_t cd = 30000;
	snprintf(idle.key, sizeof(idle.key), "i1|t1");
	snprintf(again.key, sizeof(again.key), "i1|t9");
	snprintf(load.key, sizeof(load.key), "l1|t1");

	ck_assert(alert_memory_should_zero(m, &idle, 1000, cd));
	alert_memory_zeroed(m, &idle, 1000);
	/* Alertmanager's repeat of the same incident: never again (a request may
	 * have scaled it from zero meanwhile) */
	ck_assert(!alert_memory_should_zero(m, &idle, 1500, cd));
	ck_assert(!alert_memory_should_zero(m, &idle, 10000000, cd));
	/* a new idle incident zeroes */
	ck_assert(alert_memory_should_zero(m, &again, 2000, cd));
	/* a step up within the cooldown holds the idle scale down */
	ck_assert(alert_memory_should_step(m, &load, 3000, cd));
	alert_memory_stepped(m, &load, 3000);
	ck_assert(!alert_memory_should_zero(m, &again, 3000 + cd - 1, cd));
	ck_assert(alert_memory_should_zero(m, &again, 3000 + cd, cd));
	/* and zeroing does not count as a step: load right after still steps */
	alert_memory_zeroed(m, &again, 3000 + cd);
	ck_assert(alert_memory_should_step(m, &load, 3000 + cd + 1, cd));
	/* other functions are independent */
	snprintf(idle.function, sizeof(idle.function), "wc");
	ck_assert(alert_memory_should_zero(m, &idle, 3000, cd));
	alert_memory_free(m);
}
END_TEST

START_TEST(ignored_logged_once_per_incident)
{
	struct alert_memory *m = alert_memory_new();
	struct alert a = mk(true, true), b = mk(true, true);
	snprintf(b.key, sizeof(b.key), "f|t2");
	ck_assert(alert_memory_first_ignore(m, &a));
	ck_assert(!alert_memory_first_ignore(m, &a));
	ck_assert(alert_memory_first_ignore(m, &b));
	ck_assert(alert_memory_first_ignore(m, &a));
	alert_memory_free(m);
}
END_TEST

START_TEST(reconcile_keeps_zero)
{
	/* the reconcile's clamp: 0 stays 0 (asleep; the API may put any function
	 * there, OpenFaaS-style, and the gateway wakes it) */
	ck_assert_int_eq(svc_clamp(&zero_on, 0), 0);
	ck_assert_int_eq(svc_clamp(&zero_off, 0), 0);
	ck_assert_int_eq(svc_clamp(&zero_off, 1), 2);
	ck_assert_int_eq(svc_clamp(&zero_on, 30), 20);
}
END_TEST

START_TEST(idle_long_enough)
{
	/* window 5m; the alert started at t=1000 s: idle since 1000 - 300 */
	struct alert a = mk(true, true);
	const int64_t W = 300000;
	a.starts_s = 1000;
	ck_assert(alert_idle_long_enough(&a, 0, W, 1000));       /* the platform's window */
	ck_assert(alert_idle_long_enough(&a, 60000, W, 1000));   /* shorter: the window */
	ck_assert(!alert_idle_long_enough(&a, 900000, W, 1000)); /* 15m: 10 more minutes */
	ck_assert(!alert_idle_long_enough(&a, 900000, W, 1599));
	ck_assert(alert_idle_long_enough(&a, 900000, W, 1600));
	/* no startsAt: only the window counts */
	a.starts_s = 0;
	ck_assert(alert_idle_long_enough(&a, 0, W, 5000));
	ck_assert(!alert_idle_long_enough(&a, 900000, W, 5000));
	/* startsAt is parsed from the payload */
	struct alert *v = NULL;
	char *err = NULL;
	const char *p = "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[{\"status\":"
	                "\"firing\",\"labels\":{\"alertname\":\"FunctionIdle\",\"function_name\":"
	                "\"echo\"},\"startsAt\":\"2026-11-26T00:02:03.5Z\"},{\"status\":"
	                "\"firing\",\"labels\":{\"alertname\":\"FunctionIdle\",\"function_name\":"
	                "\"echo\"},\"startsAt\":\"yesterday\"}]}";
	ck_assert_int_eq(alerts_parse(p, strlen(p), &v, &err), 2);
	ck_assert_int_eq(v[0].starts_s, 1795651323);
	ck_assert_int_eq(v[1].starts_s, 0);
	free(v);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("zero");
	TCase *tc = tcase_create("zero");
	tcase_add_test(tc, idle_firing_zeroes_only_with_zero_true);
	tcase_add_test(tc, idle_resolved_does_nothing);
	tcase_add_test(tc, load_alerts_unchanged_and_never_wake_a_zeroed_function);
	tcase_add_test(tc, alertname_marks_idle);
	tcase_add_test(tc, idle_dedup);
	tcase_add_test(tc, ignored_logged_once_per_incident);
	tcase_add_test(tc, reconcile_keeps_zero);
	tcase_add_test(tc, idle_long_enough);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
