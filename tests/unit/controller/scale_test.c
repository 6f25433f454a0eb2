/* scale_test.c: the alert scaling formula (reference values of the issue),
 * the Alertmanager payload parser and the deduplication of notifications. */
#include "../fx_test.h"
#include "controller/controller.h"

#include <errno.h>
#include <string.h>

START_TEST(formula_reference_values)
{
	/* max 20, factor 20: the step is ceil(20 * 20 / 100) = 4 */
	ck_assert_int_eq(scale_compute(true, 1, 1, 20, 20), 5);
	ck_assert_int_eq(scale_compute(true, 4, 1, 20, 20), 8);
	ck_assert_int_eq(scale_compute(true, 19, 1, 20, 20), 20);
	ck_assert_int_eq(scale_compute(true, 20, 1, 20, 20), 20);
	ck_assert_int_eq(scale_compute(false, 8, 1, 20, 20), 1);
	/* factor 0 disables alert scaling: min either way (as OpenFaaS) */
	ck_assert_int_eq(scale_compute(true, 4, 1, 20, 0), 1);
	ck_assert_int_eq(scale_compute(false, 4, 2, 20, 0), 2);
	/* ceil: max 5, factor 10 -> 0.5 -> 1 */
	ck_assert_int_eq(scale_compute(true, 2, 1, 5, 10), 3);
	/* from zero (scaled to zero): at least min, then the step */
	ck_assert_int_eq(scale_compute(true, 0, 1, 20, 20), 5);
	ck_assert_int_eq(scale_compute(true, 1, 1, 20, 100), 20);
}
END_TEST

static const char payload[] =
    "{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"x\\\"}\",\"status\":\"firing\","
    "\"receiver\":\"controller\",\"groupLabels\":{},\"commonLabels\":{},\"externalURL\":\"\","
    "\"truncatedAlerts\":0,\"unknownTopLevel\":{\"a\":[1,2]},"
    "\"alerts\":["
    "{\"status\":\"firing\",\"labels\":{\"alertname\":\"APIHighInvocationRate\","
    "\"function_name\":\"echo\"},\"annotations\":{},\"startsAt\":\"2026-11-26T10:00:00Z\","
    "\"endsAt\":\"0001-01-01T00:00:00Z\",\"generatorURL\":\"\",\"fingerprint\":\"f1\"},"
    "{\"status\":\"resolved\",\"labels\":{\"function_name\":\"wc\"},\"startsAt\":\"t2\","
    "\"fingerprint\":\"f2\"},"
    "{\"status\":\"firing\",\"labels\":{\"alertname\":\"NoFunction\"}},"
    "{\"status\":\"firing\",\"labels\":{\"function_name\":\"Not_A_Name\"}},"
    "{\"status\":\"weird\",\"labels\":{\"function_name\":\"echo\"}}"
    "]}";

START_TEST(parse_payload)
{
	struct alert *v = NULL;
	char *err = NULL;
	int n = alerts_parse(payload, strlen(payload), &v, &err);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(v[0].function, "echo");
	ck_assert(v[0].firing);
	ck_assert_str_eq(v[0].key, "f1|2026-11-26T10:00:00Z");
	ck_assert_str_eq(v[1].function, "wc");
	ck_assert(!v[1].firing);
	/* startsAt "t2" is not a time: the alert is parsed, and marked */
	ck_assert(!v[0].bad_start);
	ck_assert(v[1].bad_start);
	free(v);
}
END_TEST

START_TEST(alert_times)
{
	static const char *const ok[] = {
	    "2026-11-26T10:00:00Z",      "2026-11-26T10:00:00.123456789Z", "2026-11-26t10:00:00z",
	    "2026-11-26T10:00:00+01:00", "2026-11-26T10:00:00.5-08:30",    "0001-01-01T00:00:00Z",
	    "2024-02-29T23:59:60Z",
	};
	static const char *const bad[] = {
	    "",
	    "t1",
	    "2026-11-26",
	    "2026-11-26T10:00:00",
	    "2026-11-26 10:00:00Z",
	    "2026-13-01T10:00:00Z",
	    "2026-04-31T10:00:00Z",
	    "2026-11-26T24:00:00Z",
	    "2026-11-26T10:60:00Z",
	    "2026-11-26T10:00:00.Z",
	    "2026-11-26T10:00:00.1234567890Z",
	    "2026-11-26T10:00:00+1:00",
	    "2026-11-26T10:00:00+01:00x",
	    "2026-11-26T10:00:00ZZ",
	    "+2026-11-26T10:00:00Z",
	    "2026-11-26T10:00:00Z\n",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(alert_time_valid(ok[i]), "refused %s", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!alert_time_valid(bad[i]), "accepted %s", bad[i]);
	ck_assert(!alert_time_valid(NULL));
}
END_TEST

START_TEST(parse_rejects)
{
	static const char *const bad[] = {"",
	                                  "{",
	                                  "[]",
	                                  "{\"alerts\":{}}",
	                                  "{\"version\":\"4\"}",
	                                  "{\"alerts\":[1]}",
	                                  "null",
	                                  "\"x\"",
	                                  "{\"alerts\":[]} x",
	                                  "{\"alerts\":[],\"alerts\":[{}]}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct alert *v = NULL;
		char *err = NULL;
		int n = alerts_parse(bad[i], strlen(bad[i]), &v, &err);
		ck_assert_msg(n == -EINVAL, "accepted '%s'", bad[i]);
		ck_assert_ptr_nonnull(err);
		free(err);
	}
	/* an empty list is fine */
	struct alert *v = NULL;
	char *err = NULL;
	ck_assert_int_eq(alerts_parse("{\"alerts\":[]}", 13, &v, &err), 0);
	free(v);
}
END_TEST

START_TEST(dedup)
{
	struct alert_memory *m = alert_memory_new();
	struct alert a = {.function = "echo", .firing = true, .key = "f1|t1"};
	struct alert r = {.function = "echo", .firing = false, .key = "f1|t1"};
	struct alert b = {.function = "echo", .firing = true, .key = "f1|t2"};
	struct alert other = {.function = "wc", .firing = true, .key = "f9|t1"};
	const int64_t cd = 30000;

	ck_assert(alert_memory_should_step(m, &a, 1000, cd));
	alert_memory_stepped(m, &a, 1000);
	/* the same notification again (Alertmanager re-sends): no second step */
	ck_assert(!alert_memory_should_step(m, &a, 1500, cd));
	ck_assert(!alert_memory_should_step(m, &a, 30999, cd));
	/* another function is independent */
	ck_assert(alert_memory_should_step(m, &other, 1500, cd));
	/* still firing after the cooldown: step again (sustained load) */
	ck_assert(alert_memory_should_step(m, &a, 31000, cd));
	alert_memory_stepped(m, &a, 31000);
	/* resolved, then a late (reordered) firing of the same incident: ignored */
	alert_memory_resolved(m, &r, 32000);
	ck_assert(!alert_memory_should_step(m, &a, 32001, cd));
	ck_assert(!alert_memory_should_step(m, &a, 99999, cd));
	/* a new incident after the resolve steps at once, even within the cooldown */
	ck_assert(alert_memory_should_step(m, &b, 33000, cd));
	alert_memory_stepped(m, &b, 33000);
	ck_assert(!alert_memory_should_step(m, &b, 33001, cd));
	/* cooldown 0: every notification steps */
	ck_assert(alert_memory_should_step(m, &b, 33001, 0));
	alert_memory_free(m);
}
END_TEST

/* Hostile payloads: mutations of a valid one never crash (ASan + UBSan). */
START_TEST(garbage_never_crashes)
{
	size_t len = strlen(payload);
	char *buf = malloc(len + 1);
	unsigned seed = 7;
	for (int round = 0; round < 3000; round++) {
		struct alert *v = NULL;
		char *err = NULL;
		size_t cut = len;
		memcpy(buf, payload, len + 1);
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 8) % len] = (char)(seed >> 16);
		}
		if (round % 3 == 0)
			cut = (seed >> 4) % len;
		int n = alerts_parse(buf, cut, &v, &err);
		if (n >= 0)
			free(v);
		free(err);
	}
	free(buf);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("scale");
	TCase *tc = tcase_create("scale");
	tcase_add_test(tc, formula_reference_values);
	tcase_add_test(tc, parse_payload);
	tcase_add_test(tc, alert_times);
	tcase_add_test(tc, parse_rejects);
	tcase_add_test(tc, dedup);
	tcase_add_test(tc, garbage_never_crashes);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
