/* openfaas_test.c: the OpenFaaS shapes: a FunctionDeployment becomes our
 * Function (the image's own mode and timeouts, labels kept, the scale labels
 * typed), a Function reads back as a FunctionStatus with what was written;
 * logs "since" and secret names. */
#include "../fx_test.h"
#include "controller/controller.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* deployment JSON -> Function through the schema; 0 or the schema's rc. */
static int deploy(const char *json, struct fx_function *fn, char **err)
{
	struct json_object *in = json_tokener_parse(json), *f;
	struct fx_spec_errs errs = {0};
	int rc;
	ck_assert_ptr_nonnull(in);
	f = of_deployment_to_spec(in, err);
	json_object_put(in);
	if (f == NULL)
		return -1;
	rc = fx_spec_from_json(f, NULL, fn, &errs);
	if (rc < 0 && errs.n > 0)
		*err = fx_spec_err_format(&errs.v[0]);
	fx_spec_errs_release(&errs);
	json_object_put(f);
	return rc;
}

START_TEST(deployment_round_trip)
{
	/* What faas-cli sends for an of-watchdog function (written from the
	 * faas-provider FunctionDeployment type). */
	static const char in[] =
	    "{\"service\":\"nodeinfo\",\"image\":\"docker.io/functions/nodeinfo:latest\","
	    "\"namespace\":\"openfaas-fn\",\"envProcess\":\"node index.js\","
	    "\"envVars\":{\"mode\":\"http\",\"upstream_url\":\"http://127.0.0.1:3000\","
	    "\"exec_timeout\":\"30\"},"
	    "\"labels\":{\"com.openfaas.scale.min\":\"2\",\"com.openfaas.scale.max\":\"5\","
	    "\"com.openfaas.scale.zero\":\"true\",\"com.openfaas.scale.zero-duration\":\"15m\","
	    "\"team\":\"a\"},"
	    "\"annotations\":{\"topic\":\"nodes\"},\"secrets\":[\"api-key\"],"
	    "\"constraints\":[\"node.role==worker\"],"
	    "\"limits\":{\"memory\":\"5Mi\",\"cpu\":\"100m\"},"
	    "\"requests\":{\"memory\":\"5M\",\"cpu\":\"0.05\"},\"readOnlyRootFilesystem\":true}";
	struct fx_function fn;
	struct json_object *st, *v;
	char *err = NULL;
	ck_assert_msg(deploy(in, &fn, &err) == 0, "%s", err ? err : "");
	ck_assert_str_eq(fn.image, "docker.io/functions/nodeinfo:latest");
	ck_assert_str_eq(fn.fprocess, "node index.js");
	ck_assert_int_eq(fn.mode, FX_MODE_IMAGE);
	ck_assert_int_eq(fn.timeouts.exec_ms, 0);
	ck_assert_int_eq(fn.scale.min, 2);
	ck_assert_int_eq(fn.scale.max, 5);
	ck_assert(fn.scale.zero);
	ck_assert_int_eq(fn.scale.zero_duration_ms, 15 * 60000);
	ck_assert_uint_eq(fn.labels.n, 5); /* the scale labels stay labels */
	ck_assert_uint_eq(fn.limits.memory, 5u << 20);
	ck_assert_uint_eq(fn.requests.memory, 5000000u);
	ck_assert_int_eq(fn.requests.cpu_milli, 50);

	st = of_function_status(&fn, "openfaas-fn", "2026-12-04T21:00:00Z", 2, 1, false);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(st, "image")),
	                 "docker.io/functions/nodeinfo:latest");
	v = json_object_object_get(st, "limits");
	ck_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
	                 "{\"memory\":\"5Mi\",\"cpu\":\"100m\"}");
	v = json_object_object_get(st, "requests");
	ck_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
	                 "{\"memory\":\"5M\",\"cpu\":\"0.05\"}");
	v = json_object_object_get(st, "envVars");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(v, "mode")), "http");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(v, "exec_timeout")), "30");
	v = json_object_object_get(st, "labels");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(v, "faas_function")),
	                 "nodeinfo");
	ck_assert_str_eq(
	    json_object_get_string(json_object_object_get(v, "com.openfaas.scale.min")), "2");
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(st, "replicas")), 2);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(st, "namespace")),
	                 "openfaas-fn");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(st, "createdAt")),
	                 "2026-12-04T21:00:00Z");
	json_object_put(st);

	/* the service: no mode, no timeouts from us; the user's env as given */
	{
		const char *names[] = {"api-key"}, *ids[] = {"sec1"};
		struct svc_ctx ctx = {.network_id = "n",
		                      .network_name = "func_net",
		                      .generation = "1",
		                      .secret_names = names,
		                      .secret_ids = ids,
		                      .nsecrets = 1};
		struct json_object *svc = svc_build(&fn, &ctx, 2, NULL);
		const char *env = json_object_to_json_string_ext(
		    json_object_object_get(
		        json_object_object_get(json_object_object_get(svc, "TaskTemplate"),
		                               "ContainerSpec"),
		        "Env"),
		    JSON_C_TO_STRING_PLAIN);
		ck_assert_ptr_nonnull(strstr(env, "\"mode=http\""));
		ck_assert_ptr_nonnull(strstr(env, "\"exec_timeout=30\""));
		ck_assert_ptr_null(strstr(env, "read_timeout"));
		ck_assert_ptr_null(strstr(env, "mode=fork"));
		/* 5Mi is under Docker's minimum: raised to 6Mi on the service */
		ck_assert_ptr_nonnull(
		    strstr(json_object_to_json_string_ext(svc, JSON_C_TO_STRING_PLAIN),
		           "\"Limits\":{\"NanoCPUs\":100000000,\"MemoryBytes\":6291456}"));
		json_object_put(svc);
	}
	fx_function_release(&fn);
}
END_TEST

START_TEST(deployment_minimal)
{
	struct fx_function fn;
	struct json_object *st;
	char *err = NULL;
	ck_assert_int_eq(deploy("{\"service\":\"a\",\"image\":\"b\"}", &fn, &err), 0);
	st = of_function_status(&fn, "openfaas-fn", "t", -1, -1, true);
	/* nothing sent, nothing read back: no envVars {}, no limits {} */
	ck_assert(!json_object_object_get_ex(st, "envVars", NULL));
	ck_assert(!json_object_object_get_ex(st, "limits", NULL));
	ck_assert(!json_object_object_get_ex(st, "annotations", NULL));
	ck_assert_str_eq(json_object_to_json_string_ext(json_object_object_get(st, "labels"),
	                                                JSON_C_TO_STRING_PLAIN),
	                 "{\"faas_function\":\"a\"}");
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(st, "replicas")), 0);
	ck_assert(json_object_get_boolean(json_object_object_get(st, "zero"))); /* asleep */
	json_object_put(st);
	fx_function_release(&fn);
}
END_TEST

START_TEST(deployment_refused)
{
	/* label values that are not strings: a clear 400, never a crash */
	static const char *const bad[] = {
	    "{\"service\":\"a\",\"image\":\"b\",\"labels\":{\"com.openfaas.scale.zero\":null}}",
	    "{\"service\":\"a\",\"image\":\"b\",\"labels\":{\"com.openfaas.scale.min\":null}}",
	    "{\"service\":\"a\",\"image\":\"b\",\"labels\":{\"com.openfaas.scale.max\":{}}}",
	    "{\"service\":\"a\",\"image\":\"b\",\"labels\":{\"com.openfaas.scale.factor\":\"x\"}}",
	    "{\"service\":\"a\",\"image\":\"b\",\"labels\":{\"com.openfaas.scale.zero\":\"maybe\"}"
	    "}",
	    "{\"service\":\"a\",\"image\":\"b\",\"labels\":{\"com.openfaas.scale.zero-duration\":"
	    "15}}",
	    "{\"image\":\"b\"}",
	    "{\"service\":5,\"image\":\"b\"}",
	    "[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fx_function fn;
		char *err = NULL;
		ck_assert_msg(deploy(bad[i], &fn, &err) != 0, "%s", bad[i]);
		ck_assert_ptr_nonnull(err);
		free(err);
	}
	/* what the schema refuses: envVars mode when a field sets it is fine
	 * here (mode is null), but a bad name, a tiny cpu or a bad image are not */
	static const char *const schema[] = {
	    "{\"service\":\"Bad\",\"image\":\"b\"}",
	    "{\"service\":\"a\",\"image\":\"b\",\"limits\":{\"cpu\":\"0\"}}",
	    "{\"service\":\"a\",\"image\":\"b\",\"limits\":{\"memory\":\"lots\"}}",
	    "{\"service\":\"a\",\"image\":\"b\",\"envVars\":{\"1x\":\"y\"}}",
	    "{\"service\":\"a\",\"image\":\"b\",\"labels\":{\"faas.function\":\"x\"}}",
	    "{\"service\":\"a\",\"image\":\"b\",\"labels\":{\"com.openfaas.scale.zero-duration\":"
	    "\"soon\"}}",
	};
	for (size_t i = 0; i < sizeof(schema) / sizeof(schema[0]); i++) {
		struct fx_function fn;
		char *err = NULL;
		ck_assert_msg(deploy(schema[i], &fn, &err) == -EINVAL, "%s", schema[i]);
		free(err);
	}
}
END_TEST

START_TEST(since)
{
	int64_t t = -1;
	ck_assert_int_eq(of_parse_since("1700000000", &t), 0);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_int_eq(of_parse_since("2026-11-26T00:02:03Z", &t), 0);
	ck_assert_int_eq(t, 1795651323);
	ck_assert_int_eq(of_parse_since("2026-11-26T01:02:03+01:00", &t), 0);
	ck_assert_int_eq(t, 1795651323);
	ck_assert_int_eq(of_parse_since("2026-11-25T23:02:03.123456789-01:00", &t), 0);
	ck_assert_int_eq(t, 1795651323);
	static const char *const bad[] = {
	    "",
	    "yesterday",
	    "2026-11-26",
	    "2026-11-26T00:02:03",
	    "2026-02-31T00:00:00Z",
	    "2026-11-26T24:00:00Z",
	    "2026-11-26T00:02:03.Z",
	    "2026-11-26T00:02:03Zjunk",
	    "2026-11-26T00:02:03+1:00",
	    "2026-11-26T00:02:03+",
	    "2026-11-26T00:02:03-01",
	    "2026-11-26T00:02:03+01:00:00",
	    "-5",
	    "99999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(of_parse_since(bad[i], &t) == -EINVAL, "%s", bad[i]);
}
END_TEST

START_TEST(secret_names)
{
	ck_assert(of_secret_name_valid("api-key"));
	ck_assert(of_secret_name_valid("A.b_c-1"));
	static const char *const bad[] = {"",   ".",  "..",  "../x", "a/b", "-a",
	                                  "_a", ".a", "a b", "a%2f", "é"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!of_secret_name_valid(bad[i]), "%s", bad[i]);
	char long_name[64];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[OF_SECRET_NAME_MAX] = '\0';
	ck_assert(of_secret_name_valid(long_name));
	long_name[OF_SECRET_NAME_MAX] = 'a';
	long_name[OF_SECRET_NAME_MAX + 1] = '\0';
	ck_assert(!of_secret_name_valid(long_name));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("openfaas");
	TCase *tc = tcase_create("openfaas");
	tcase_add_test(tc, deployment_round_trip);
	tcase_add_test(tc, deployment_minimal);
	tcase_add_test(tc, deployment_refused);
	tcase_add_test(tc, since);
	tcase_add_test(tc, secret_names);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
