#include "../fx_test.h"
#include "units.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

START_TEST(duration_forms)
{
	static const struct {
		const char *in;
		int64_t ms;
	} ok[] = {
	    {"500ms", 500}, {"10s", 10000}, {"1m", 60000}, {"2h", 7200000}, {"1m30s", 90000},
	    {"1.5s", 1500}, {"0", 0},       {"30", 30000}, {"0.25s", 250},  {"1h1m1s1ms", 3661001},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t v = -1;
		ck_assert_int_eq(fx_parse_duration_ms(ok[i].in, &v), 0);
		ck_assert_int_eq(v, ok[i].ms);
	}
}
END_TEST

START_TEST(duration_rejects)
{
	static const char *const bad[] = {"",    "s",  "10",   "-1s", "10x",
	                                  "1 s", "ms", "1.s5", "abc", ".s"};
	int64_t v = 42;
	/* "10" is valid (seconds); check the rest. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (strcmp(bad[i], "10") == 0)
			continue;
		ck_assert_msg(fx_parse_duration_ms(bad[i], &v) == -EINVAL, "accepted \"%s\"",
		              bad[i]);
	}
	ck_assert_int_eq(v, 42); /* untouched on failure */
	ck_assert_int_eq(fx_parse_duration_ms("99999999999999999999s", &v), -ERANGE);
	ck_assert_int_eq(fx_parse_duration_ms("9999999999999999", &v), -ERANGE);
	ck_assert_int_eq(fx_parse_duration_ms(NULL, &v), -EINVAL);
}
END_TEST

START_TEST(size_forms)
{
	uint64_t v;
	ck_assert_int_eq(fx_parse_size("1024", &v), 0);
	ck_assert_uint_eq(v, 1024);
	ck_assert_int_eq(fx_parse_size("16Mi", &v), 0);
	ck_assert_uint_eq(v, 16u << 20);
	ck_assert_int_eq(fx_parse_size("16MiB", &v), 0);
	ck_assert_uint_eq(v, 16u << 20);
	ck_assert_int_eq(fx_parse_size("128M", &v), 0);
	ck_assert_uint_eq(v, 128000000u);
	ck_assert_int_eq(fx_parse_size("1.5Gi", &v), 0);
	ck_assert_uint_eq(v, 3ull << 29);
	ck_assert_int_eq(fx_parse_size("64k", &v), 0);
	ck_assert_uint_eq(v, 64000);
	ck_assert_int_eq(fx_parse_size("16Xi", &v), -EINVAL);
	ck_assert_int_eq(fx_parse_size("Mi", &v), -EINVAL);
	ck_assert_int_eq(fx_parse_size("-1", &v), -EINVAL);
	ck_assert_int_eq(fx_parse_size("99999999999Ti", &v), -ERANGE);
}
END_TEST

START_TEST(cpu_forms)
{
	int64_t v;
	ck_assert_int_eq(fx_parse_cpu_milli("500m", &v), 0);
	ck_assert_int_eq(v, 500);
	ck_assert_int_eq(fx_parse_cpu_milli("0.5", &v), 0);
	ck_assert_int_eq(v, 500);
	ck_assert_int_eq(fx_parse_cpu_milli("2", &v), 0);
	ck_assert_int_eq(v, 2000);
	ck_assert_int_eq(fx_parse_cpu_milli("1.5m", &v), -EINVAL);
	ck_assert_int_eq(fx_parse_cpu_milli("2 cores", &v), -EINVAL);
}
END_TEST

START_TEST(bool_and_int)
{
	bool b;
	int64_t i;
	ck_assert_int_eq(fx_parse_bool("TRUE", &b), 0);
	ck_assert(b);
	ck_assert_int_eq(fx_parse_bool("off", &b), 0);
	ck_assert(!b);
	ck_assert_int_eq(fx_parse_bool("maybe", &b), -EINVAL);
	ck_assert_int_eq(fx_parse_int("-12", -100, 100, &i), 0);
	ck_assert_int_eq(i, -12);
	ck_assert_int_eq(fx_parse_int("101", -100, 100, &i), -ERANGE);
	ck_assert_int_eq(fx_parse_int("12a", 0, 100, &i), -EINVAL);
	ck_assert_int_eq(fx_parse_int("-9223372036854775808", INT64_MIN, INT64_MAX, &i), 0);
	ck_assert(i == INT64_MIN);
	ck_assert_int_eq(fx_parse_int("9223372036854775808", INT64_MIN, INT64_MAX, &i), -ERANGE);
}
END_TEST

START_TEST(format_round_trip)
{
	char buf[32];
	int64_t ms;
	static const int64_t values[] = {0, 1, 500, 1000, 90000, 60000, 3600000, 3601000};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		fx_format_duration(values[i], buf, sizeof(buf));
		ck_assert_int_eq(fx_parse_duration_ms(buf, &ms), 0);
		ck_assert_int_eq(ms, values[i]);
	}
	fx_format_duration(90000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1m30s");
	fx_format_size(128u << 20, buf, sizeof(buf));
	ck_assert_str_eq(buf, "128Mi");
	fx_format_size(1000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1000");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, duration_forms);
	tcase_add_test(tc, duration_rejects);
	tcase_add_test(tc, size_forms);
	tcase_add_test(tc, cpu_forms);
	tcase_add_test(tc, bool_and_int);
	tcase_add_test(tc, format_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
