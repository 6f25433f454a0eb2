/* json_test.c: strict JSON reading (common/json.c). */
#include "../fx_test.h"
#include "json.h"

#include <errno.h>
#include <string.h>

struct cas {
	const char *in;
	size_t len;       /* 0: strlen */
	const char *want; /* a piece of the error message; NULL: accepted */
};

static void run(const struct cas *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = (struct json_object *)&o; /* untouched on failure */
		char *err = NULL;
		size_t len = v[i].len ? v[i].len : strlen(v[i].in);
		int rc = fx_json_parse(v[i].in, len, 32, &o, &err);
		if (v[i].want == NULL) {
			ck_assert_msg(rc == 0, "refused '%s': %s", v[i].in, err ? err : "");
			ck_assert_ptr_null(err);
			json_object_put(o);
			continue;
		}
		ck_assert_msg(rc == -EINVAL, "accepted '%s' (rc %d)", v[i].in, rc);
		ck_assert_ptr_eq(o, (struct json_object *)&o);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strncmp(err, "invalid JSON: ", 14) == 0, "message '%s'", err);
		ck_assert_msg(strstr(err, v[i].want) != NULL, "'%s': message '%s', want '%s'",
		              v[i].in, err, v[i].want);
		free(err);
	}
}

START_TEST(accepts_json)
{
	static const struct cas ok[] = {
	    {"{}", 0, NULL},
	    {" \t\r\n{\"a\":1} \n\n", 0, NULL},
	    /* the same key in different objects is fine */
	    {"{\"a\":{\"a\":1,\"b\":2},\"b\":[{\"a\":1},{\"a\":2}],\"c\":{}}", 0, NULL},
	    {"{\"a\":\"\\u0041\",\"A\":1,\"a\\\\\":2,\"a\\\"\":3}", 0, NULL},
	    {"{\"n\":[-0,0,1e5,1.5E-3,-12.25e+2,10]}", 0, NULL},
	    {"{\"s\":\"tab\\tnl\\n \\/ \\ud83d\\ude00\"}", 0, NULL},
	    {"[1,2,{\"x\":null,\"y\":true,\"z\":false}]", 0, NULL},
	    {"\"x\"", 0, NULL},
	    {"123", 0, NULL},
	    {"{\"k\":\"\xc3\xa9t\xc3\xa9\"}", 0, NULL},
	    {"{\"\":1,\" \":2}", 0, NULL},
	};
	run(ok, sizeof(ok) / sizeof(ok[0]));
}
END_TEST

START_TEST(refuses_trailing)
{
	static const struct cas bad[] = {
	    {"{\"a\":1}x", 0, "trailing data after the value at byte 7"},
	    {"{\"a\":1}{}", 0, "trailing data"},
	    {"{\"a\":1} \n junk", 0, "trailing data after the value at byte 10"},
	    {"{\"a\":1}\0", 8, "trailing data"},
	    {"[1] [2]", 0, "trailing data"},
	    {"", 0, "unexpected end"},
	    {"   ", 0, "unexpected end"},
	    {"{\"a\":1", 0, "unexpected end"},
	};
	run(bad, sizeof(bad) / sizeof(bad[0]));
}
END_TEST

START_TEST(refuses_duplicates)
{
	static const struct cas bad[] = {
	    {"{\"a\":1,\"a\":2}", 0, "duplicate key \"a\""},
	    {"{\"a\":1,\"b\":2,\"a\":{\"c\":1}}", 0, "duplicate key \"a\""},
	    /* an escape spells the same key */
	    {"{\"a\":1,\"\\u0061\":2}", 0, "duplicate key \"a\""},
	    {"{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", 0, "duplicate key"},
	    /* deep inside */
	    {"{\"x\":[{\"ok\":1},{\"k\":1,\"j\":2,\"k\":3}]}", 0, "duplicate key \"k\""},
	    {"{\"labels\":{\"com.openfaas.scale.zero\":\"true\",\"com.openfaas.scale.zero\":"
	     "\"false\"}}",
	     0, "duplicate key \"com.openfaas.scale.zero\""},
	    /* json-c would cut these keys at the NUL and merge them */
	    {"{\"a\\u0000b\":1,\"a\\u0000c\":2}", 0, "U+0000"},
	    {"{\"\":1,\"\":2}", 0, "duplicate key \"\""},
	};
	run(bad, sizeof(bad) / sizeof(bad[0]));
}
END_TEST

START_TEST(refuses_lenient_forms)
{
	static const struct cas bad[] = {
	    {"{'a':1}", 0, "double quotes"},
	    {"{\"a\":'x'}", 0, ""},
	    {"{\"a\":NaN}", 0, ""},
	    {"{\"a\":-Infinity}", 0, "not a JSON number"},
	    {"{\"a\":1.}", 0, "not a JSON number"},
	    {"{\"a\":01}", 0, ""},
	    {"{\"a\":1,}", 0, ""},
	    {"{\"a\":[1,]}", 0, ""},
	    {"{\"a\":1/*c*/}", 0, ""},
	    {"{\"a\":tRue}", 0, ""},
	    {"{\"a\":\"x\ny\"}", 0, "control character"},
	    {"{\"a\":\"\xff\"}", 0, ""},
	    {"{\"a\":\"\\x\"}", 0, ""},
	};
	run(bad, sizeof(bad) / sizeof(bad[0]));
}
END_TEST

START_TEST(depth_and_size)
{
	char deep[200];
	struct json_object *o = NULL;
	char *err = NULL;
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	ck_assert_int_eq(fx_json_parse(deep, sizeof(deep), 32, &o, &err), -EINVAL);
	ck_assert_ptr_nonnull(err);
	free(err);
	err = NULL;
	ck_assert_int_eq(fx_json_parse(deep + 70, 60, 32, &o, &err), 0);
	json_object_put(o);
	ck_assert_int_eq(fx_json_parse("{}", (size_t)FX_JSON_MAX_INPUT + 1, 32, &o, &err), -EINVAL);
	free(err);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("strict");
	tcase_add_test(tc, accepts_json);
	tcase_add_test(tc, refuses_trailing);
	tcase_add_test(tc, refuses_duplicates);
	tcase_add_test(tc, refuses_lenient_forms);
	tcase_add_test(tc, depth_and_size);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
