#include "../fx_test.h"
#include "faasctl/faasctl.h"

#include <string.h>

static const char live_json[] =
    "[{\"metadata\":{\"name\":\"a\",\"labels\":{\"faas.applyset\":\"repo\"}}},"
    " {\"metadata\":{\"name\":\"b\",\"labels\":{\"faas.applyset\":\"repo\"}}},"
    " {\"metadata\":{\"name\":\"c\",\"labels\":{\"faas.applyset\":\"other\"}}},"
    " {\"metadata\":{\"name\":\"d\",\"labels\":{}}},"
    " {\"metadata\":{\"name\":\"e\"}},"
    " {\"metadata\":{\"name\":\"f\",\"labels\":{\"faas.applyset\":\"repo-2\"}}},"
    " {\"metadata\":{\"name\":\"g\",\"labels\":{\"faas.applyset\":7}}},"
    " {\"metadata\":{\"labels\":{\"faas.applyset\":\"repo\"}}},"
    " {\"metadata\":{\"name\":\"h\",\"labels\":{\"faas.applyset\":\"repo\"}}}]";

START_TEST(prune_set)
{
	struct json_object *live = json_tokener_parse(live_json), *out = json_object_new_array();
	const char *local[] = {"b", "x"};

	ck_assert_uint_eq(fctl_prune_set(live, "repo", local, 2, out), 2);
	ck_assert_str_eq(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN),
	                 "[\"a\",\"h\"]");
	json_object_put(out);

	/* Another set: only its own. Nothing local: everything of the set. */
	out = json_object_new_array();
	ck_assert_uint_eq(fctl_prune_set(live, "other", NULL, 0, out), 1);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(out, 0)), "c");
	json_object_put(out);

	/* Everything still in the files: nothing to prune. */
	out = json_object_new_array();
	const char *all[] = {"a", "b", "h"};
	ck_assert_uint_eq(fctl_prune_set(live, "repo", all, 3, out), 0);
	/* No set, or a list that is not a list: nothing. */
	ck_assert_uint_eq(fctl_prune_set(live, "", NULL, 0, out), 0);
	ck_assert_uint_eq(fctl_prune_set(NULL, "repo", NULL, 0, out), 0);
	ck_assert_uint_eq(fctl_prune_set(json_object_array_get_idx(live, 0), "repo", NULL, 0, out),
	                  0);
	ck_assert_uint_eq(json_object_array_length(out), 0);
	json_object_put(out);
	json_object_put(live);
}
END_TEST

START_TEST(default_name)
{
	char b[64];
	fctl_applyset_default("functions/", NULL, true, b, sizeof(b));
	ck_assert_str_eq(b, "functions");
	fctl_applyset_default(".", "/home/me/My Repo", true, b, sizeof(b));
	ck_assert_str_eq(b, "my-repo");
	fctl_applyset_default("./", "/srv/gitops/", true, b, sizeof(b));
	ck_assert_str_eq(b, "gitops");
	fctl_applyset_default("/", "/", true, b, sizeof(b));
	ck_assert_str_eq(b, "root");
	fctl_applyset_default("dir/one.yaml", NULL, false, b, sizeof(b));
	ck_assert_str_eq(b, "one");
	fctl_applyset_default("stack.yml", NULL, false, b, sizeof(b));
	ck_assert_str_eq(b, "stack");
	fctl_applyset_default("-", NULL, false, b, sizeof(b));
	ck_assert_str_eq(b, "stdin");
	fctl_applyset_default("a/./", NULL, true, b, sizeof(b));
	ck_assert_str_eq(b, "a");
	char small[4];
	fctl_applyset_default("functions", NULL, true, small, sizeof(small));
	ck_assert_str_eq(small, "fun");
	char longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[199] = '\0';
	fctl_applyset_default(longp, NULL, true, b, sizeof(b));
	ck_assert_uint_eq(strlen(b), 63);
	ck_assert(fctl_applyset_valid(b));

	ck_assert(fctl_applyset_valid("prod.v1_A-2"));
	ck_assert(!fctl_applyset_valid(""));
	ck_assert(!fctl_applyset_valid("a b"));
	ck_assert(!fctl_applyset_valid("a/b"));
	ck_assert(!fctl_applyset_valid(longp));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("faasctl_applyset");
	TCase *t = tcase_create("applyset");
	tcase_add_test(t, prune_set);
	tcase_add_test(t, default_name);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
