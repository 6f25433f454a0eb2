#include "../fx_test.h"
#include "gateway/gateway.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

START_TEST(snapshot_and_quantiles)
{
	struct gw_fn_metrics *m = gw_metrics_new();
	struct gw_metrics_snap s;
	gw_metrics_done(m, 200, 0.003); /* <= 0.005 */
	gw_metrics_done(m, 200, 0.02);  /* <= 0.025 */
	gw_metrics_done(m, 404, 0.02);
	gw_metrics_done(m, 502, 30); /* above the top bound */
	gw_metrics_snapshot(m, &s);
	ck_assert_uint_eq(s.count, 4);
	ck_assert_uint_eq(s.errors, 1);
	ck_assert_uint_eq(s.buckets[0], 1);
	ck_assert_uint_eq(s.buckets[2], 2);
	ck_assert_uint_eq(s.buckets[GW_METRIC_BUCKETS], 1);
	gw_metrics_free(m);

	/* 100 observations: 50 in (0, 0.005], 49 in (0.01, 0.025], 1 above 10 s */
	uint64_t b[GW_METRIC_BUCKETS + 1] = {50, 0, 49};
	b[GW_METRIC_BUCKETS] = 1;
	double p50 = gw_history_quantile(b, GW_METRIC_BUCKETS + 1, gw_metric_bounds, 0.5);
	ck_assert_double_eq_tol(p50, 0.005, 1e-9);
	double p90 = gw_history_quantile(b, GW_METRIC_BUCKETS + 1, gw_metric_bounds, 0.9);
	ck_assert_double_eq_tol(p90, 0.01 + 0.015 * 40.0 / 49.0, 1e-9);
	double p999 = gw_history_quantile(b, GW_METRIC_BUCKETS + 1, gw_metric_bounds, 0.999);
	ck_assert_double_eq_tol(p999, 10, 1e-9); /* the open top bucket: its lower bound */
	uint64_t none[GW_METRIC_BUCKETS + 1] = {0};
	ck_assert(isnan(gw_history_quantile(none, GW_METRIC_BUCKETS + 1, gw_metric_bounds, 0.5)));
}
END_TEST

START_TEST(history_empty)
{
	struct gw_fn f = {.name = "echo", .replicas = 1};
	struct fx_buf b;
	fx_buf_init(&b, 1 << 16);
	f.metrics = gw_metrics_new();
	ck_assert_int_eq(gw_history_json(&f, &b), 0);
	ck_assert_str_eq(b.data,
	                 "{\"function\":\"echo\",\"source\":\"gateway\",\"step_seconds\":10,"
	                 "\"t\":[],\"invocations_per_second\":[],\"error_ratio\":[],"
	                 "\"p50_seconds\":[],\"p99_seconds\":[],\"replicas\":[]}\n");
	fx_buf_release(&b);
	gw_metrics_free(f.metrics);
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
	Suite *s = suite_create("gateway_metrics");
	TCase *t = tcase_create("metrics");
	tcase_add_test(t, metrics_format);
	tcase_add_test(t, snapshot_and_quantiles);
	tcase_add_test(t, history_empty);
	tcase_add_test(t, inject);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
