/* svcspec_test.c: the ServiceSpec made from a Function, and the diff of
 * desired against observed (the drift key), with a spec as Docker returns it. */
#include "../fx_test.h"
#include "controller/controller.h"

#include <stdio.h>
#include <string.h>

static const char yaml[] = "apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: ctl-smoke\n"
                           "  labels: {team: ctl}\nspec:\n  image: ctl-e2e/fn:v1\n"
                           "  fprocess: cat\n  env: {LANG: C}\n"
                           "  limits: {memory: 64Mi, cpu: 250m}\n  scale: {min: 2, max: 5}\n";

/* What Docker 20.10 returned for the service made from yaml (hash filled in below). */
static const char observed_fmt[] =
    "{\"Name\":\"ctl-smoke\",\"Labels\":{\"faas.function\":\"ctl-smoke\",\"faas.generation\":\"1\","
    "\"faas.managed-by\":\"faas-controller\",\"faas.network\":\"func_net\","
    "\"faas.spec-hash\":\"%s\",\"team\":\"ctl\"},"
    "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"ctl-e2e/"
    "fn:v1\",\"Labels\":{\"faas.function\":"
    "\"ctl-smoke\"},\"Env\":[\"fprocess=cat\",\"mode=fork\",\"read_timeout=10s\",\"write_timeout="
    "10s\",\"exec_timeout=10s\",\"LANG=C\"],\"StopGracePeriod\":12000000000,\"DNSConfig\":{},"
    "\"Isolation\":\"default\"},\"Resources\":{\"Limits\":{\"NanoCPUs\":250000000,\"MemoryBytes\":"
    "67108864},\"Reservations\":{}},\"RestartPolicy\":{\"Condition\":\"any\",\"Delay\":"
    "1000000000,\"MaxAttempts\":0},\"Placement\":{},\"Networks\":[{\"Target\":\"net1\",\"Aliases\":"
    "[\"ctl-smoke\"]}],\"ForceUpdate\":0,\"Runtime\":\"container\"},\"Mode\":{\"Replicated\":{"
    "\"Replicas\":%d}},\"UpdateConfig\":{\"Parallelism\":1,\"FailureAction\":\"pause\",\"Monitor\":"
    "5000000000,\"MaxFailureRatio\":0,\"Order\":\"start-first\"},\"RollbackConfig\":{"
    "\"Parallelism\":1,\"FailureAction\":\"pause\",\"Monitor\":5000000000,\"MaxFailureRatio\":0,"
    "\"Order\":\"start-first\"},\"EndpointSpec\":{\"Mode\":\"dnsrr\"}}";

static struct fx_function load(const char *text)
{
	struct fx_function fn;
	struct fx_spec_errs errs = {0};
	ck_assert_int_eq(fx_spec_load_one(text, strlen(text), "t", &fn, &errs), 0);
	return fn;
}

static const struct svc_ctx ctx = {
    .network_id = "net1", .network_name = "func_net", .generation = "1"};

START_TEST(shape)
{
	struct fx_function fn = load(yaml);
	struct json_object *s = svc_build(&fn, &ctx, 2, NULL), *v;
	const char *txt = json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN);
	ck_assert_ptr_nonnull(strstr(txt, "\"faas.managed-by\":\"faas-controller\""));
	ck_assert_ptr_nonnull(strstr(txt,
	                             "\"Env\":[\"fprocess=cat\",\"mode=fork\",\"read_timeout=10s\","
	                             "\"write_timeout=10s\",\"exec_timeout=10s\",\"LANG=C\"]"));
	ck_assert_ptr_nonnull(strstr(txt, "\"EndpointSpec\":{\"Mode\":\"dnsrr\"}"));
	ck_assert_ptr_nonnull(strstr(txt, "\"Order\":\"start-first\""));
	ck_assert_ptr_nonnull(
	    strstr(txt, "\"Limits\":{\"NanoCPUs\":250000000,\"MemoryBytes\":67108864}"));
	ck_assert_ptr_nonnull(strstr(txt, "\"Target\":\"net1\""));
	ck_assert_int_eq(svc_replicas(s), 2);
	ck_assert_str_eq(svc_label(s, FX_LABEL_GENERATION), "1");
	ck_assert_str_eq(svc_label(s, "team"), "ctl");
	ck_assert(json_object_object_get_ex(s, "Labels", &v));
	char hash[65];
	fx_spec_hash(&fn, hash);
	ck_assert_str_eq(svc_label(s, FX_LABEL_SPEC_HASH), hash);
	json_object_put(s);
	fx_function_release(&fn);
}
END_TEST

START_TEST(secrets_and_readonly)
{
	static const char y[] =
	    "apiVersion: faas/v1\nkind: Function\nmetadata: {name: s}\n"
	    "spec: {image: x, secrets: [api-key], readOnlyRootFilesystem: true}\n";
	struct fx_function fn = load(y);
	const char *names[] = {"other", "api-key"}, *ids[] = {"id0", "id1"}, *missing = NULL;
	struct svc_ctx c2 = ctx;
	struct json_object *s = svc_build(&fn, &c2, 1, &missing);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(missing, "api-key");
	c2.secret_names = names;
	c2.secret_ids = ids;
	c2.nsecrets = 2;
	s = svc_build(&fn, &c2, 1, &missing);
	ck_assert_ptr_nonnull(s);
	const char *txt = json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN);
	ck_assert_ptr_nonnull(
	    strstr(txt, "\"File\":{\"Name\":\"\\/var\\/openfaas\\/secrets\\/api-key\""));
	ck_assert_ptr_nonnull(strstr(txt, "\"SecretID\":\"id1\""));
	ck_assert_ptr_nonnull(strstr(txt, "\"ReadOnly\":true"));
	ck_assert_ptr_nonnull(strstr(txt, "\"Type\":\"tmpfs\",\"Target\":\"\\/tmp\""));
	/* no fprocess: not in env, so the image's own is used */
	ck_assert_ptr_null(strstr(txt, "fprocess="));
	json_object_put(s);
	fx_function_release(&fn);
}
END_TEST

START_TEST(user)
{
	static const char y[] = "apiVersion: faas/v1\nkind: Function\nmetadata: {name: u}\n"
	                        "spec: {image: x, user: \"1000:1000\"}\n";
	struct fx_function fn = load(y), plain = load(yaml);
	struct json_object *s = svc_build(&fn, &ctx, 1, NULL),
	                   *p = svc_build(&plain, &ctx, 1, NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN),
	                             "\"User\":\"1000:1000\""));
	/* not set: the image's user, and no User key at all */
	ck_assert_ptr_null(
	    strstr(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN), "\"User\""));
	/* a user changed by hand is drift */
	char *k1 = svc_drift_key(s), *k2;
	struct json_object *cs =
	    json_object_object_get(json_object_object_get(s, "TaskTemplate"), "ContainerSpec");
	json_object_object_add(cs, "User", json_object_new_string("0"));
	k2 = svc_drift_key(s);
	ck_assert_str_ne(k1, k2);
	free(k1);
	free(k2);
	json_object_put(s);
	json_object_put(p);
	fx_function_release(&fn);
	fx_function_release(&plain);
}
END_TEST

static struct json_object *observed(const char *hash, int replicas)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), observed_fmt, hash, replicas);
	struct json_object *o = json_tokener_parse(buf);
	ck_assert_ptr_nonnull(o);
	return o;
}

START_TEST(drift)
{
	struct fx_function fn = load(yaml);
	char hash[65];
	fx_spec_hash(&fn, hash);
	struct json_object *want = svc_build(&fn, &ctx, 2, NULL);
	struct json_object *obs = observed(hash, 7);
	char *k1 = svc_drift_key(want), *k2 = svc_drift_key(obs);
	/* Docker's read-back (extra fields, other replicas) is no drift */
	ck_assert_str_eq(k1, k2);
	free(k2);
	/* an env edited by hand is */
	struct json_object *env;
	json_object_object_get_ex(
	    json_object_object_get(json_object_object_get(obs, "TaskTemplate"), "ContainerSpec"),
	    "Env", &env);
	json_object_array_add(env, json_object_new_string("HACK=1"));
	k2 = svc_drift_key(obs);
	ck_assert_str_ne(k1, k2);
	free(k2);
	json_object_put(obs);
	/* a new spec (other image) changes the hash label, hence the key */
	obs = observed("0000", 2);
	k2 = svc_drift_key(obs);
	ck_assert_str_ne(k1, k2);
	free(k2);
	json_object_put(obs);
	free(k1);
	json_object_put(want);
	fx_function_release(&fn);
}
END_TEST

START_TEST(clamp)
{
	struct fx_scale s = {.min = 2, .max = 5};
	ck_assert_int_eq(svc_clamp(&s, 9), 5);
	ck_assert_int_eq(svc_clamp(&s, 1), 2);
	ck_assert_int_eq(svc_clamp(&s, 3), 3);
	ck_assert_int_eq(svc_clamp(&s, 0), 0); /* asleep, whatever zero says */
	s.zero = true;
	ck_assert_int_eq(svc_clamp(&s, 0), 0);
	ck_assert_int_eq(svc_clamp(&s, 1), 2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("svcspec");
	TCase *tc = tcase_create("svcspec");
	tcase_add_test(tc, shape);
	tcase_add_test(tc, secrets_and_readonly);
	tcase_add_test(tc, user);
	tcase_add_test(tc, drift);
	tcase_add_test(tc, clamp);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
