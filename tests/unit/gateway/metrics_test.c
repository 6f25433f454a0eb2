#include "../fx_test.h"
#include "gateway/gateway.h"

#include <errno.h>
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
	tcase_add_test(t, inject);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
