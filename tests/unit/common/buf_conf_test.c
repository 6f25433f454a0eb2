#include "../fx_test.h"
#include "buf.h"
#include "conf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

START_TEST(buf_cap)
{
	struct fx_buf b;
	size_t len;
	char *s;

	fx_buf_init(&b, 10);
	ck_assert_int_eq(fx_buf_puts(&b, "hello"), 0);
	ck_assert_int_eq(fx_buf_appendf(&b, "%d", 1234), 0);
	ck_assert_str_eq(b.data, "hello1234");
	ck_assert_int_eq(fx_buf_error(&b), 0);
	s = fx_buf_detach(&b, &len);
	ck_assert_str_eq(s, "hello1234");
	ck_assert_uint_eq(len, 9);
	ck_assert_ptr_null(b.data);
	free(s);

	/* A failed append sticks: later ones fail too, and the text is refused. */
	ck_assert_int_eq(fx_buf_puts(&b, "hello1234"), 0);
	ck_assert_int_eq(fx_buf_puts(&b, "xx"), -E2BIG);
	ck_assert_str_eq(b.data, "hello1234");          /* nothing appended */
	ck_assert_int_eq(fx_buf_puts(&b, "x"), -E2BIG); /* would fit, but failed */
	ck_assert_int_eq(fx_buf_appendf(&b, "%s", ""), -E2BIG);
	ck_assert_int_eq(fx_buf_error(&b), -E2BIG);
	errno = 0;
	ck_assert_ptr_null(fx_buf_detach(&b, &len));
	ck_assert_int_eq(errno, E2BIG);
	ck_assert_ptr_null(b.data); /* released */

	/* reset clears the error and keeps the buffer usable */
	ck_assert_int_eq(fx_buf_puts(&b, "0123456789"), 0);
	ck_assert_int_eq(fx_buf_puts(&b, "!"), -E2BIG);
	fx_buf_reset(&b);
	ck_assert_int_eq(fx_buf_error(&b), 0);
	ck_assert_int_eq(fx_buf_puts(&b, "ok"), 0);
	ck_assert_str_eq(b.data, "ok");
	fx_buf_release(&b);
	fx_buf_release(NULL);
}
END_TEST

static const char *s_name;
static int64_t s_count;
static bool s_flag;
static int64_t s_timeout;
static uint64_t s_size;

static const struct fx_setting table[] = {
    {"name", FX_CONF_STRING, "def", "a name", &s_name, 0, 0, 0},
    {"count", FX_CONF_INT, "3", "a count", &s_count, 0, 10, 0},
    {"flag", FX_CONF_BOOL, "false", "a flag", &s_flag, 0, 0, 0},
    {"read_timeout", FX_CONF_DURATION, "10s", "a timeout", &s_timeout, 0, 0, 0},
    {"max_body", FX_CONF_SIZE, "16Mi", "a size", &s_size, 1, 1 << 30, 0},
};
#define N (sizeof(table) / sizeof(table[0]))

START_TEST(conf_precedence)
{
	char *err = NULL;
	char *argv[] = {(char[]){"prog"},   (char[]){"--read-timeout"}, (char[]){"500ms"},
	                (char[]){"--flag"}, (char[]){"--count=7"},      NULL};

	unsetenv("name");
	setenv("count", "5", 1);
	setenv("read_timeout", "2s", 1);
	ck_assert_int_eq(fx_conf_load(table, N, 1, argv, NULL, &err), 0);
	ck_assert_str_eq(s_name, "def");
	ck_assert_int_eq(s_count, 5);
	ck_assert_int_eq(s_timeout, 2000);
	ck_assert_uint_eq(s_size, 16u << 20);
	ck_assert_int_eq(fx_conf_load(table, N, 5, argv, NULL, &err), 0);
	ck_assert_int_eq(s_count, 7);
	ck_assert_int_eq(s_timeout, 500);
	ck_assert(s_flag);
	unsetenv("count");
	unsetenv("read_timeout");
}
END_TEST

START_TEST(conf_errors)
{
	char *err = NULL;
	char *argv1[] = {(char[]){"prog"}, (char[]){"--nope"}, NULL};
	char *argv2[] = {(char[]){"prog"}, (char[]){"--count"}, NULL};
	char *argv3[] = {(char[]){"prog"}, (char[]){"positional"}, NULL};
	char *argv4[] = {(char[]){"prog"}, (char[]){"--help"}, NULL};

	setenv("read_timeout", "ten", 1);
	ck_assert_int_eq(fx_conf_load(table, N, 1, argv1, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "read_timeout (environment): invalid value \"ten\""));
	free(err);
	unsetenv("read_timeout");
	setenv("count", "11", 1);
	ck_assert_int_eq(fx_conf_load(table, N, 1, argv1, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "out of range, expected 0 to 10"));
	free(err);
	unsetenv("count");
	ck_assert_int_eq(fx_conf_load(table, N, 2, argv1, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown flag \"--nope\""));
	free(err);
	ck_assert_int_eq(fx_conf_load(table, N, 2, argv2, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "needs a value"));
	free(err);
	ck_assert_int_eq(fx_conf_load(table, N, 2, argv3, NULL, &err), -EINVAL);
	free(err);
	int rest = -1;
	ck_assert_int_eq(fx_conf_load(table, N, 2, argv3, &rest, &err), 0);
	ck_assert_int_eq(rest, 1);
	ck_assert_int_eq(fx_conf_load(table, N, 2, argv4, NULL, &err), 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("buf_conf");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, buf_cap);
	tcase_add_test(tc, conf_precedence);
	tcase_add_test(tc, conf_errors);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
