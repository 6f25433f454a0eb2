/* Settings parsing (env, flags, bad values) and status mapping. */
#include "../fx_test.h"
#include "watchdog/watchdog.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *const vars[] = {
    "fprocess",      "mode",        "upstream_url",         "read_timeout",   "write_timeout",
    "exec_timeout",  "write_debug", "content_type",         "combine_output", "max_inflight",
    "suppress_lock", "port",        "healthcheck_interval", "max_body",       "max_output",
    "log_level"};

static void clear(void)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static int load(struct wd_config *cfg, char **err, int argc, char **argv)
{
	char *def[] = {(char[]){"fwatchdog"}, NULL};
	return wd_config_load(cfg, argc ? argc : 1, argc ? argv : def, err);
}

START_TEST(defaults)
{
	struct wd_config cfg;
	char *err = NULL;

	clear();
	setenv("fprocess", "  wc   -l ", 1);
	ck_assert_int_eq(load(&cfg, &err, 0, NULL), 0);
	ck_assert_int_eq(cfg.mode, WD_MODE_FORK);
	ck_assert_str_eq(cfg.argv[0], "wc");
	ck_assert_str_eq(cfg.argv[1], "-l");
	ck_assert_ptr_null(cfg.argv[2]);
	ck_assert_int_eq(cfg.port, 8080);
	ck_assert_int_eq(cfg.read_timeout_ms, 10000);
	ck_assert_int_eq(cfg.exec_timeout_ms, 10000);
	ck_assert(cfg.combine_output);
	ck_assert(!cfg.suppress_lock);
	ck_assert(!cfg.write_debug);
	ck_assert_int_eq(cfg.max_inflight, 0);
	ck_assert_uint_eq(cfg.max_body, 16u << 20);
	ck_assert_ptr_null(cfg.content_type);
	wd_config_release(&cfg);
}
END_TEST

START_TEST(classic_env)
{
	struct wd_config cfg;
	char *err = NULL;

	clear();
	setenv("fprocess", "cat", 1);
	setenv("read_timeout", "500ms", 1);
	setenv("write_timeout", "1m", 1);
	setenv("exec_timeout", "3", 1); /* bare integer: seconds */
	setenv("max_inflight", "4", 1);
	setenv("combine_output", "false", 1);
	setenv("suppress_lock", "true", 1);
	setenv("content_type", "application/json", 1);
	setenv("max_body", "1Mi", 1);
	setenv("mode", "streaming", 1);
	ck_assert_int_eq(load(&cfg, &err, 0, NULL), 0);
	ck_assert_int_eq(cfg.read_timeout_ms, 500);
	ck_assert_int_eq(cfg.write_timeout_ms, 60000);
	ck_assert_int_eq(cfg.exec_timeout_ms, 3000);
	ck_assert_int_eq(cfg.max_inflight, 4);
	ck_assert(!cfg.combine_output);
	ck_assert(cfg.suppress_lock);
	ck_assert_str_eq(cfg.content_type, "application/json");
	ck_assert_uint_eq(cfg.max_body, 1u << 20);
	ck_assert_int_eq(cfg.mode, WD_MODE_STREAMING);
	wd_config_release(&cfg);

	/* flags win over the environment */
	char *argv[] = {(char[]){"fwatchdog"}, (char[]){"--port=0"}, (char[]){"--exec-timeout"},
	                (char[]){"250ms"}, NULL};
	ck_assert_int_eq(load(&cfg, &err, 4, argv), 0);
	ck_assert_int_eq(cfg.port, 0);
	ck_assert_int_eq(cfg.exec_timeout_ms, 250);
	wd_config_release(&cfg);
	clear();
}
END_TEST

static void expect_bad(const char *var, const char *value, const char *needle)
{
	struct wd_config cfg;
	char *err = NULL;

	clear();
	setenv("fprocess", "cat", 1);
	setenv(var, value, 1);
	ck_assert_int_eq(load(&cfg, &err, 0, NULL), -EINVAL);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, var) != NULL, "'%s' does not name %s", err, var);
	ck_assert_msg(strstr(err, needle) != NULL, "'%s' lacks '%s'", err, needle);
	free(err);
	clear();
}

START_TEST(bad_values)
{
	expect_bad("read_timeout", "soon", "duration");
	expect_bad("exec_timeout", "-1s", "exec_timeout");
	expect_bad("max_inflight", "lots", "integer");
	expect_bad("max_inflight", "-3", "range");
	expect_bad("port", "70000", "range");
	expect_bad("combine_output", "maybe", "true or false");
	expect_bad("max_body", "big", "size");
	expect_bad("mode", "cgi", "fork, streaming or http");
	expect_bad("fprocess", "   ", "required");
	expect_bad("content_type", "text/plain\r\nX-Evil: 1", "line breaks");

	struct wd_config cfg;
	char *err = NULL;
	clear();
	setenv("fprocess", "srv", 1);
	setenv("mode", "http", 1);
	ck_assert_int_eq(load(&cfg, &err, 0, NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "upstream_url"));
	free(err);
	setenv("upstream_url", "http://127.0.0.1:5000", 1);
	ck_assert_int_eq(load(&cfg, &err, 0, NULL), 0);
	ck_assert_str_eq(cfg.upstream_host, "127.0.0.1");
	ck_assert_str_eq(cfg.upstream_port, "5000");
	wd_config_release(&cfg);
	clear();

	char *help[] = {(char[]){"fwatchdog"}, (char[]){"--help"}, NULL};
	ck_assert_int_eq(load(&cfg, &err, 2, help), 1);
	char *unknown[] = {(char[]){"fwatchdog"}, (char[]){"--nope=1"}, NULL};
	setenv("fprocess", "cat", 1);
	ck_assert_int_eq(load(&cfg, &err, 2, unknown), -EINVAL);
	free(err);
	/* --healthcheck needs no fprocess */
	clear();
	char *hc[] = {(char[]){"fwatchdog"}, (char[]){"--healthcheck"}, NULL};
	ck_assert_int_eq(load(&cfg, &err, 2, hc), 0);
	ck_assert(cfg.healthcheck);
}
END_TEST

START_TEST(upstream_urls)
{
	char h[64], p[8];
	ck_assert_int_eq(wd_parse_upstream("http://localhost:8081/", h, sizeof(h), p, sizeof(p)),
	                 0);
	ck_assert_str_eq(h, "localhost");
	ck_assert_str_eq(p, "8081");
	ck_assert_int_eq(wd_parse_upstream("https://a:1", h, sizeof(h), p, sizeof(p)), -EINVAL);
	ck_assert_int_eq(wd_parse_upstream("http://a", h, sizeof(h), p, sizeof(p)), -EINVAL);
	ck_assert_int_eq(wd_parse_upstream("http://a:0", h, sizeof(h), p, sizeof(p)), -EINVAL);
	ck_assert_int_eq(wd_parse_upstream("http://a:99999", h, sizeof(h), p, sizeof(p)), -EINVAL);
	ck_assert_int_eq(wd_parse_upstream("http://a:80/path", h, sizeof(h), p, sizeof(p)),
	                 -EINVAL);
	ck_assert_int_eq(wd_parse_upstream("http://u@a:80", h, sizeof(h), p, sizeof(p)), -EINVAL);
	ck_assert_int_eq(wd_parse_upstream("http://:80", h, sizeof(h), p, sizeof(p)), -EINVAL);
	ck_assert_int_eq(wd_parse_upstream(NULL, h, sizeof(h), p, sizeof(p)), -EINVAL);
}
END_TEST

START_TEST(argv_split)
{
	char **v = wd_argv_split("python3  index.py --x");
	ck_assert_str_eq(v[0], "python3");
	ck_assert_str_eq(v[1], "index.py");
	ck_assert_str_eq(v[2], "--x");
	ck_assert_ptr_null(v[3]);
	wd_argv_free(v);
	ck_assert_ptr_null(wd_argv_split(""));
	ck_assert_ptr_null(wd_argv_split(NULL));
	v = wd_argv_split("sh -c 'echo hi'"); /* no shell quoting */
	ck_assert_str_eq(v[2], "'echo");
	wd_argv_free(v);
}
END_TEST

START_TEST(find_exec)
{
	char *p = wd_find_exec("sh", "/nonexistent:/usr/bin:/bin");
	ck_assert_ptr_nonnull(p);
	ck_assert(strcmp(p, "/usr/bin/sh") == 0 || strcmp(p, "/bin/sh") == 0);
	free(p);
	p = wd_find_exec("./local/prog", "/bin");
	ck_assert_str_eq(p, "./local/prog"); /* a path is used as given */
	free(p);
	ck_assert_ptr_null(wd_find_exec("no-such-program-xyz", "/usr/bin:/bin"));
	ck_assert_ptr_null(wd_find_exec("sh", NULL));
	ck_assert_ptr_null(wd_find_exec("sh", "::"));
	ck_assert_ptr_null(wd_find_exec("", "/bin"));
}
END_TEST

START_TEST(status_map)
{
	ck_assert_int_eq(wd_status_for_exit(0, false), 200);
	ck_assert_int_eq(wd_status_for_exit(1 << 8, false), 500);   /* exit 1 */
	ck_assert_int_eq(wd_status_for_exit(255 << 8, false), 500); /* exit 255 */
	ck_assert_int_eq(wd_status_for_exit(SIGSEGV, false), 500);  /* killed by a signal */
	ck_assert_int_eq(wd_status_for_exit(SIGKILL, true), 504);
	ck_assert_int_eq(wd_status_for_exit(0, true), 504);
	ck_assert(wd_method_allowed("GET"));
	ck_assert(wd_method_allowed("POST"));
	ck_assert(wd_method_allowed("PUT"));
	ck_assert(wd_method_allowed("PATCH"));
	ck_assert(wd_method_allowed("DELETE"));
	ck_assert(!wd_method_allowed("HEAD"));
	ck_assert(!wd_method_allowed("OPTIONS"));
	ck_assert(!wd_method_allowed("get"));
	ck_assert(!wd_method_allowed("TRACE"));
	ck_assert(!wd_method_allowed(""));
	ck_assert(!wd_method_allowed(NULL));
	for (int i = 1; i < WD_NBUCKETS; i++)
		ck_assert(wd_buckets[i] > wd_buckets[i - 1]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("watchdog config and status");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, classic_env);
	tcase_add_test(tc, bad_values);
	tcase_add_test(tc, upstream_urls);
	tcase_add_test(tc, argv_split);
	tcase_add_test(tc, find_exec);
	tcase_add_test(tc, status_map);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
