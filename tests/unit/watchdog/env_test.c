/* Request -> environment mapping, including hostile header names and values. */
#include "../fx_test.h"
#include "watchdog/watchdog.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (char **p = env; *p != NULL; p++)
		if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

static size_t count(char **env, const char *name)
{
	size_t n = strlen(name), k = 0;
	for (char **p = env; *p != NULL; p++)
		if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
			k++;
	return k;
}

START_TEST(header_names)
{
	char out[200];

	ck_assert(wd_env_header_name("X-Request-Id", out, sizeof(out)));
	ck_assert_str_eq(out, "Http_X_Request_Id");
	ck_assert(wd_env_header_name("x-request-id", out, sizeof(out)));
	ck_assert_str_eq(out, "Http_X_Request_Id");
	ck_assert(wd_env_header_name("CONTENT-TYPE", out, sizeof(out)));
	ck_assert_str_eq(out, "Http_Content_Type");
	ck_assert(wd_env_header_name("a", out, sizeof(out)));
	ck_assert_str_eq(out, "Http_A");
	snprintf(out, sizeof(out), "untouched");
	ck_assert(!wd_env_header_name("", out, sizeof(out)));
	ck_assert(!wd_env_header_name("X_Under", out, sizeof(out)));
	ck_assert(!wd_env_header_name("LD_PRELOAD", out, sizeof(out)));
	ck_assert(!wd_env_header_name("A=B", out, sizeof(out)));
	ck_assert(!wd_env_header_name("A\nB", out, sizeof(out)));
	ck_assert(!wd_env_header_name("A B", out, sizeof(out)));
	ck_assert(!wd_env_header_name("caf\xc3\xa9", out, sizeof(out)));
	ck_assert(!wd_env_header_name("X.Y", out, sizeof(out)));
	ck_assert_str_eq(out, "untouched");
	char longname[200];
	memset(longname, 'a', 129);
	longname[129] = '\0';
	ck_assert(!wd_env_header_name(longname, out, sizeof(out)));
	longname[128] = '\0';
	ck_assert(wd_env_header_name(longname, out, sizeof(out)));
	ck_assert(!wd_env_header_name("abc", out, 8)); /* does not fit */
}
END_TEST

START_TEST(values)
{
	ck_assert(wd_env_value_ok(""));
	ck_assert(wd_env_value_ok("text/plain; charset=utf-8"));
	ck_assert(wd_env_value_ok("tab\there"));
	ck_assert(wd_env_value_ok("caf\xc3\xa9"));
	ck_assert(!wd_env_value_ok("a\nLD_PRELOAD=/x.so"));
	ck_assert(!wd_env_value_ok("a\rb"));
	ck_assert(!wd_env_value_ok("bell\a"));
	ck_assert(!wd_env_value_ok("del\x7f"));
	char *big = malloc(WD_ENV_MAX_VALUE + 2);
	memset(big, 'v', WD_ENV_MAX_VALUE + 1);
	big[WD_ENV_MAX_VALUE + 1] = '\0';
	ck_assert(!wd_env_value_ok(big));
	big[WD_ENV_MAX_VALUE] = '\0';
	ck_assert(wd_env_value_ok(big));
	free(big);
}
END_TEST

START_TEST(build_env)
{
	char *base[] = {(char[]){"PATH=/usr/bin:/bin"},
	                (char[]){"HOME=/root"},
	                (char[]){"Http_Method=FROM_BASE"},
	                (char[]){"NOEQUALS"},
	                (char[]){"Http_Api_Key=from-the-container"},
	                NULL};
	struct wd_kv h[] = {
	    {"X-Request-Id", "abc-123"},
	    {"Content-Type", "application/json"},
	    {"Host", "evil.example"},
	    {"LD_PRELOAD", "/tmp/evil.so"},
	    {"PATH", "/tmp"},
	    {"X-Inject", "ok\nLD_PRELOAD=/tmp/evil.so"},
	    {"Method", "SPOOFED"},
	    {"x-request-id", "second"},
	    {"A=B", "c"},
	    {"Api-Key", "from-the-request"},
	};
	struct wd_reqinfo ri = {.method = "POST",
	                        .path = "/fn/a b",
	                        .query = "q=1&r=%20",
	                        .host = "127.0.0.1:8080",
	                        .content_length = 42,
	                        .headers = h,
	                        .nheaders = sizeof(h) / sizeof(h[0])};
	size_t dropped = 99;
	char **env = wd_env_build(base, &ri, &dropped);

	ck_assert_ptr_nonnull(env);
	ck_assert_str_eq(get(env, "Http_Method"), "POST");
	ck_assert_uint_eq(count(env, "Http_Method"), 1);
	ck_assert_str_eq(get(env, "Http_Path"), "/fn/a b");
	ck_assert_str_eq(get(env, "Http_Query"), "q=1&r=%20");
	ck_assert_str_eq(get(env, "Http_Host"), "127.0.0.1:8080");
	ck_assert_str_eq(get(env, "Http_ContentLength"), "42");
	ck_assert_str_eq(get(env, "Http_X_Request_Id"), "abc-123");
	ck_assert_uint_eq(count(env, "Http_X_Request_Id"), 1);
	ck_assert_str_eq(get(env, "Http_Content_Type"), "application/json");
	ck_assert_str_eq(get(env, "PATH"), "/usr/bin:/bin");
	ck_assert_str_eq(get(env, "HOME"), "/root");
	ck_assert_ptr_null(get(env, "LD_PRELOAD"));
	ck_assert_ptr_null(get(env, "Http_Ld_preload"));
	ck_assert_ptr_null(get(env, "Http_X_Inject"));
	for (char **p = env; *p != NULL; p++) {
		ck_assert_ptr_null(strchr(*p, '\n'));
		ck_assert_ptr_nonnull(strchr(*p, '='));
		ck_assert(strncmp(*p, "LD_", 3) != 0);
	}
	/* a container variable that starts with Http_ is not the request's to set */
	ck_assert_str_eq(get(env, "Http_Api_Key"), "from-the-container");
	ck_assert_uint_eq(count(env, "Http_Api_Key"), 1);
	ck_assert_uint_eq(dropped, 6); /* LD_PRELOAD, PATH, X-Inject, Method, A=B, Api-Key */
	wd_env_free(env);
}
END_TEST

START_TEST(build_env_minimal_and_caps)
{
	struct wd_reqinfo ri = {.method = "GET", .path = "/", .content_length = -1};
	size_t dropped = 7;
	char **env = wd_env_build(NULL, &ri, &dropped);
	ck_assert_ptr_nonnull(env);
	ck_assert_ptr_null(get(env, "Http_Query"));
	ck_assert_ptr_null(get(env, "Http_ContentLength"));
	ck_assert_ptr_null(get(env, "Http_Host"));
	ck_assert_uint_eq(dropped, 0);
	wd_env_free(env);

	/* 500 distinct headers: only WD_ENV_MAX_HEADERS are mapped. */
	struct wd_kv *h = calloc(500, sizeof(*h));
	char(*names)[16] = calloc(500, 16);
	for (int i = 0; i < 500; i++) {
		snprintf(names[i], 16, "X-H%d", i);
		h[i] = (struct wd_kv){names[i], "v"};
	}
	ri.headers = h;
	ri.nheaders = 500;
	env = wd_env_build(NULL, &ri, &dropped);
	ck_assert_ptr_nonnull(env);
	ck_assert_uint_eq(dropped, 500 - WD_ENV_MAX_HEADERS);
	size_t n = 0;
	for (char **p = env; *p != NULL; p++)
		n++;
	ck_assert_uint_eq(n, 2 + WD_ENV_MAX_HEADERS);
	wd_env_free(env);

	/* Big values: the total stays under WD_ENV_MAX_BYTES. */
	char *big = malloc(8001);
	memset(big, 'x', 8000);
	big[8000] = '\0';
	for (int i = 0; i < 100; i++)
		h[i].value = big;
	ri.nheaders = 100;
	env = wd_env_build(NULL, &ri, &dropped);
	size_t bytes = 0;
	for (char **p = env; *p != NULL; p++)
		bytes += strlen(*p) + 1;
	ck_assert(bytes <= WD_ENV_MAX_BYTES);
	ck_assert(dropped > 0);
	wd_env_free(env);
	wd_env_free(NULL);
	free(big);
	free(names);
	free(h);
}
END_TEST

START_TEST(url_split)
{
	char path[32];
	const char *q = (const char *)1;

	ck_assert(wd_url_split("/a%20b/c?x=1&y=%20", path, sizeof(path), &q));
	ck_assert_str_eq(path, "/a b/c");
	ck_assert_str_eq(q, "x=1&y=%20");
	ck_assert(wd_url_split("/plain", path, sizeof(path), &q));
	ck_assert_str_eq(path, "/plain");
	ck_assert_ptr_null(q);
	ck_assert(wd_url_split("/nul%00and%0a%zz%4", path, sizeof(path), &q));
	ck_assert_str_eq(path, "/nul%00and%0a%zz%4"); /* NUL/controls/invalid stay escaped */
	ck_assert(wd_url_split("/?", path, sizeof(path), &q));
	ck_assert_str_eq(q, "");
	ck_assert(
	    !wd_url_split("/0123456789012345678901234567890123456789", path, sizeof(path), &q));
	ck_assert(wd_url_split("", path, sizeof(path), &q));
	ck_assert_str_eq(path, "");
}
END_TEST

/* Random hostile names and values (a fixed seed, so a failure replays): the
 * environment holds only NAME=VALUE entries whose names are the container's
 * or Http_[A-Za-z0-9_]+, and no value carries a control character. */
START_TEST(hostile_random)
{
	unsigned seed = 20261126;
	char *base[] = {(char[]){"PATH=/bin"}, (char[]){"HOME=/"}, NULL};

	for (int iter = 0; iter < 1500; iter++) {
		char names[8][48], vals[8][72], raw[96], path[128];
		struct wd_kv h[8];
		const char *q;

		for (int i = 0; i < 8; i++) {
			int nl = rand_r(&seed) % 40, vl = rand_r(&seed) % 64;
			for (int k = 0; k < nl; k++) {
				int pick = rand_r(&seed) % 4;
				names[i][k] =
				    (char)(pick == 0   ? 1 + rand_r(&seed) % 255
				           : pick == 1 ? "=_-\n\r LD_PRELOAD"[rand_r(&seed) % 17]
				                       : 'a' + rand_r(&seed) % 26);
			}
			names[i][nl] = '\0';
			for (int k = 0; k < vl; k++)
				vals[i][k] =
				    (char)(rand_r(&seed) % 3 == 0 ? 1 + rand_r(&seed) % 255
				                                  : 'A' + rand_r(&seed) % 26);
			vals[i][vl] = '\0';
			h[i] = (struct wd_kv){names[i], vals[i]};
		}
		struct wd_reqinfo ri = {.method = "POST",
		                        .path = "/",
		                        .content_length = -1,
		                        .headers = h,
		                        .nheaders = 8};
		char **env = wd_env_build(base, &ri, NULL);
		ck_assert_ptr_nonnull(env);
		for (char **p = env; *p != NULL; p++) {
			const char *eq = strchr(*p, '=');
			ck_assert_ptr_nonnull(eq);
			size_t nlen = (size_t)(eq - *p);
			bool container = (nlen == 4 && strncmp(*p, "PATH", 4) == 0) ||
			                 (nlen == 4 && strncmp(*p, "HOME", 4) == 0);
			if (!container) {
				ck_assert_msg(strncmp(*p, "Http_", 5) == 0, "bad name in '%s'", *p);
				for (size_t k = 0; k < nlen; k++)
					ck_assert(isalnum((unsigned char)(*p)[k]) ||
					          (*p)[k] == '_');
			}
			for (const char *c = eq + 1; *c != '\0'; c++)
				ck_assert((unsigned char)*c >= 0x20 || *c == '\t');
		}
		ck_assert_str_eq(get(env, "Http_Method"), "POST");
		ck_assert_str_eq(get(env, "PATH"), "/bin");
		wd_env_free(env);

		int rl = rand_r(&seed) % 95;
		for (int k = 0; k < rl; k++)
			raw[k] = (char)(rand_r(&seed) % 3 == 0 ? "%0a?/"[rand_r(&seed) % 5]
			                                       : 1 + rand_r(&seed) % 255);
		raw[rl] = '\0';
		if (wd_url_split(raw, path, sizeof(path), &q)) {
			for (const char *c = path; *c != '\0'; c++)
				ck_assert(*c != '?');
			ck_assert(strlen(path) <= strlen(raw));
		}
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("watchdog env");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, header_names);
	tcase_add_test(tc, values);
	tcase_add_test(tc, build_env);
	tcase_add_test(tc, build_env_minimal_and_caps);
	tcase_add_test(tc, url_split);
	tcase_add_test(tc, hostile_random);
	tcase_set_timeout(tc, 60); /* the machine may be shared and busy */
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
