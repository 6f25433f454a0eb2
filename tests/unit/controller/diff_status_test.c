/* diff_status_test.c: the unified diff of canonical texts, and status and
 * conditions from Swarm tasks. */
#include "../fx_test.h"
#include "controller/controller.h"

#include <string.h>

START_TEST(diff)
{
	char *d = diff_unified("a\nb\nc\n", "a\nb\nc\n", "live", "applied");
	ck_assert_str_eq(d, "");
	free(d);
	d = diff_unified("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n",
	                 "live", "applied");
	ck_assert_str_eq(d,
	                 "--- live\n+++ applied\n@@ -2,9 +2,10 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
	                 " i\n j\n+k\n");
	free(d);
	d = diff_unified("", "x\ny\n", "live", "applied");
	ck_assert_str_eq(d, "--- live\n+++ applied\n@@ -0,0 +1,2 @@\n+x\n+y\n");
	free(d);
	/* two distant changes: two hunks */
	d = diff_unified("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n",
	                 "X\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\nY\n", "a", "b");
	ck_assert_str_eq(d, "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-1\n+X\n 2\n 3\n 4\n@@ -12,4 +12,4 @@\n"
	                    " 12\n 13\n 14\n-15\n+Y\n");
	free(d);
}
END_TEST

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	ck_assert_ptr_nonnull(o);
	return o;
}

START_TEST(status_from_tasks)
{
	struct json_object *svc =
	    parse("{\"ID\":\"s1\",\"Spec\":{\"Labels\":{\"faas.generation\":\"3\"},"
	          "\"Mode\":{\"Replicated\":{\"Replicas\":2}}}}");
	struct json_object *ok = parse(
	    "[{\"ID\":\"t1\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"running\","
	    "\"Timestamp\":\"2026-01-01T00:00:01Z\"}},{\"ID\":\"t2\",\"DesiredState\":\"running\","
	    "\"Status\":{\"State\":\"running\",\"Timestamp\":\"2026-01-01T00:00:02Z\"}},"
	    "{\"ID\":\"t0\",\"DesiredState\":\"shutdown\",\"Status\":{\"State\":\"failed\","
	    "\"Err\":\"old failure\",\"Timestamp\":\"2026-01-01T00:00:00Z\"}}]");
	struct json_object *noimg = parse(
	    "[{\"ID\":\"t3\",\"DesiredState\":\"shutdown\",\"Status\":{\"State\":\"rejected\","
	    "\"Err\":\"No such image: faas/nope:1\",\"Timestamp\":\"2026-01-01T00:00:05Z\"}},"
	    "{\"ID\":\"t4\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"pending\","
	    "\"Timestamp\":\"2026-01-01T00:00:06Z\"}}]");
	struct json_object *nonode =
	    parse("[{\"ID\":\"t5\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"pending\","
	          "\"Err\":\"no suitable node (scheduling constraints not satisfied on 1 node)\","
	          "\"Timestamp\":\"2026-01-01T00:00:06Z\"}}]");
	struct fn_status st;

	status_compute(svc, ok, NULL, &st);
	ck_assert_int_eq(st.observed_generation, 3);
	ck_assert_int_eq(st.replicas, 2);
	ck_assert_int_eq(st.available_replicas, 2);
	ck_assert_str_eq(st.degraded_reason, ""); /* old failures do not count once healthy */
	struct json_object *j = status_to_json("f", &st, ok, NULL, 0);
	const char *t = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	ck_assert_ptr_nonnull(strstr(t, "{\"type\":\"Ready\",\"status\":\"True\""));
	ck_assert_ptr_nonnull(strstr(t, "{\"type\":\"Degraded\",\"status\":\"False\""));
	ck_assert_ptr_null(strstr(t, "nodeName"));
	json_object_put(j);

	/* With the nodes: a task's node gets its host name; an unknown node none. */
	struct json_object *nodes =
	    parse("[{\"ID\":\"n1\",\"Description\":{\"Hostname\":\"worker-1\"}},"
	          "{\"ID\":\"n2\",\"Description\":{}}]");
	json_object_object_add(json_object_array_get_idx(ok, 0), "NodeID",
	                       json_object_new_string("n1"));
	json_object_object_add(json_object_array_get_idx(ok, 1), "NodeID",
	                       json_object_new_string("n2"));
	j = status_to_json("f", &st, ok, nodes, 0);
	t = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	ck_assert_ptr_nonnull(strstr(t, "\"node\":\"n1\",\"nodeName\":\"worker-1\""));
	ck_assert_ptr_nonnull(strstr(t, "\"node\":\"n2\",\"state\""));
	ck_assert_ptr_null(strstr(t, "\"node\":\"\",\"nodeName\""));
	json_object_put(j);
	json_object_put(nodes);

	status_compute(svc, noimg, NULL, &st);
	ck_assert_int_eq(st.available_replicas, 0);
	ck_assert_str_eq(st.degraded_reason, "ImageNotFound");
	ck_assert_str_eq(st.degraded_message, "No such image: faas/nope:1");
	j = status_to_json("f", &st, noimg, NULL, 0);
	t = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	ck_assert_ptr_nonnull(strstr(t, "{\"type\":\"Ready\",\"status\":\"False\""));
	ck_assert_ptr_nonnull(strstr(t, "{\"type\":\"Progressing\",\"status\":\"True\""));
	ck_assert_ptr_nonnull(
	    strstr(t, "{\"type\":\"Degraded\",\"status\":\"True\",\"reason\":\"ImageNotFound\""));
	json_object_put(j);

	status_compute(svc, nonode, NULL, &st);
	ck_assert_str_eq(st.degraded_reason, "Unschedulable");

	status_compute(NULL, NULL, "secret \"x\" not found", &st);
	ck_assert_str_eq(st.degraded_reason, "SecretNotFound");
	ck_assert_int_eq(st.observed_generation, 0);

	json_object_put(svc);
	json_object_put(ok);
	json_object_put(noimg);
	json_object_put(nonode);
}
END_TEST

static bool started_a(const char *container, void *arg)
{
	(void)arg;
	return strcmp(container, "ca") == 0;
}

/* Only started tasks of this function, on this network, with the prefix length cut. */
START_TEST(endpoints_from_tasks)
{
	struct json_object *tasks = parse(
	    "[{\"ID\":\"a\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"starting\","
	    "\"ContainerStatus\":{\"ContainerID\":\"ca\"}},"
	    "\"Spec\":{\"ContainerSpec\":{\"Labels\":{\"faas.function\":\"echo\"}}},"
	    "\"NetworksAttachments\":[{\"Network\":{\"Spec\":{\"Name\":\"ingress\"}},"
	    "\"Addresses\":[\"10.0.0.9/24\"]},{\"Network\":{\"Spec\":{\"Name\":\"func_net\"}},"
	    "\"Addresses\":[\"10.0.2.14/24\"]}]},"
	    /* still preparing: no container yet */
	    "{\"ID\":\"b\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"preparing\"},"
	    "\"Spec\":{\"ContainerSpec\":{\"Labels\":{\"faas.function\":\"echo\"}}},"
	    "\"NetworksAttachments\":[{\"Network\":{\"Spec\":{\"Name\":\"func_net\"}},"
	    "\"Addresses\":[\"10.0.2.15/24\"]}]},"
	    /* starting, its container not started yet */
	    "{\"ID\":\"a2\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"starting\","
	    "\"ContainerStatus\":{\"ContainerID\":\"cb\"}},"
	    "\"Spec\":{\"ContainerSpec\":{\"Labels\":{\"faas.function\":\"echo\"}}},"
	    "\"NetworksAttachments\":[{\"Network\":{\"Spec\":{\"Name\":\"func_net\"}},"
	    "\"Addresses\":[\"10.0.2.19/24\"]}]},"
	    /* being shut down */
	    "{\"ID\":\"c\",\"DesiredState\":\"shutdown\",\"Status\":{\"State\":\"running\"},"
	    "\"Spec\":{\"ContainerSpec\":{\"Labels\":{\"faas.function\":\"echo\"}}},"
	    "\"NetworksAttachments\":[{\"Network\":{\"Spec\":{\"Name\":\"func_net\"}},"
	    "\"Addresses\":[\"10.0.2.16/24\"]}]},"
	    /* not ours: no faas.function label */
	    "{\"ID\":\"d\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"running\"},"
	    "\"Spec\":{\"ContainerSpec\":{}},"
	    "\"NetworksAttachments\":[{\"Network\":{\"Spec\":{\"Name\":\"func_net\"}},"
	    "\"Addresses\":[\"10.0.2.17/24\"]}]},"
	    /* running, address without a prefix length; a hostile entry with no address */
	    "{\"ID\":\"e\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"running\"},"
	    "\"Spec\":{\"ContainerSpec\":{\"Labels\":{\"faas.function\":\"echo\"}}},"
	    "\"NetworksAttachments\":[{\"Network\":{\"Spec\":{\"Name\":\"func_net\"}},"
	    "\"Addresses\":[\"10.0.2.18\"]},{\"Network\":{\"Spec\":{\"Name\":\"func_net\"}},"
	    "\"Addresses\":[]}]},7,null]");
	struct json_object *e = status_endpoints(tasks, "echo", "func_net", started_a, NULL);
	ck_assert_str_eq(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN),
	                 "[{\"ip\":\"10.0.2.14\",\"task\":\"a\",\"state\":\"starting\"},"
	                 "{\"ip\":\"10.0.2.18\",\"task\":\"e\",\"state\":\"running\"}]");
	json_object_put(e);
	e = status_endpoints(tasks, "other", "func_net", started_a, NULL);
	ck_assert_uint_eq(json_object_array_length(e), 0);
	json_object_put(e);
	e = status_endpoints(NULL, "echo", "func_net", started_a, NULL);
	ck_assert_uint_eq(json_object_array_length(e), 0);
	json_object_put(e);
	json_object_put(tasks);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("diff_status");
	TCase *tc = tcase_create("diff_status");
	tcase_add_test(tc, diff);
	tcase_add_test(tc, status_from_tasks);
	tcase_add_test(tc, endpoints_from_tasks);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
