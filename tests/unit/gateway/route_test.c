#include "../fx_test.h"
#include "gateway/gateway.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(names)
{
	ck_assert(gw_name_valid("echo", 4));
	ck_assert(gw_name_valid("a-b-1", 5));
	ck_assert(!gw_name_valid("", 0));
	ck_assert(!gw_name_valid("-a", 2));
	ck_assert(!gw_name_valid("a-", 2));
	ck_assert(!gw_name_valid("Echo", 4));
	ck_assert(!gw_name_valid("..", 2));
	ck_assert(!gw_name_valid("a.b", 3));
	ck_assert(!gw_name_valid("a\0b", 3));
	char n64[65];
	memset(n64, 'a', 64);
	n64[64] = '\0';
	ck_assert(gw_name_valid(n64, 63));
	ck_assert(!gw_name_valid(n64, 64));
}
END_TEST

START_TEST(routes)
{
	struct gw_route r;

	gw_route_parse("GET", "/function/echo/a/b?x=1", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_FUNCTION);
	ck_assert_str_eq(r.name, "echo");
	ck_assert_str_eq(r.target, "/a/b?x=1");
	ck_assert(!r.target_root);

	gw_route_parse("POST", "/function/echo?q=2", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_FUNCTION);
	ck_assert_str_eq(r.target, "?q=2");
	ck_assert(r.target_root);

	gw_route_parse("GET", "/function/echo", NULL, &r);
	ck_assert_str_eq(r.target, "");
	ck_assert(r.target_root);

	/* OpenFaaS: NAME.NAMESPACE */
	gw_route_parse("GET", "/function/echo.openfaas-fn/x?y", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_FUNCTION);
	ck_assert_str_eq(r.name, "echo");
	ck_assert_str_eq(r.ns, "openfaas-fn");
	ck_assert_str_eq(r.target, "/x?y");
	gw_route_parse("GET", "/function/echo", NULL, &r);
	ck_assert_str_eq(r.ns, "");

	/* a name that is not valid names no function: 404 with a message */
	const char *none[] = {"/function/../system/functions",
	                      "/function/ECHO",
	                      "/function/",
	                      "/function/a%2fb",
	                      "/function/.openfaas-fn",
	                      "/function/echo.",
	                      "/function/echo.Bad",
	                      "/function/a.b.c",
	                      "/function",
	                      "/function/."};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		gw_route_parse("GET", none[i], NULL, &r);
		ck_assert_msg(r.kind == GW_ROUTE_NOT_FOUND && r.err != NULL, "%s", none[i]);
		ck_assert_ptr_nonnull(strstr(r.err, "function not found"));
	}
	char longname[128] = "/function/";
	memset(longname + 10, 'a', 64);
	gw_route_parse("GET", longname, NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_NOT_FOUND);
	gw_route_parse("GET", "/function/e\x01", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_BAD);
	gw_route_parse("GET", "http://x/", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_BAD);

	gw_route_parse("GET", "/any/path?z", "wc", &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_FUNCTION);
	ck_assert_str_eq(r.name, "wc");
	ck_assert_str_eq(r.target, "/any/path?z");
	gw_route_parse("GET", "/", "bad/name", &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_BAD);

	gw_route_parse("GET", "/system/functions", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_SYSTEM);
	gw_route_parse("PUT", "/apis/faas/v1/functions/x?dryRun=true", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_SYSTEM);
	gw_route_parse("GET", "/systemd", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_NOT_FOUND);
	gw_route_parse("GET", "/ui", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_UI_REDIRECT);
	gw_route_parse("GET", "/ui/app.js?v=1", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_UI);
	ck_assert_uint_eq(r.ui_path_len, 6);
	ck_assert(strncmp(r.ui_path, "app.js", 6) == 0);
	gw_route_parse("GET", "/ui/history/echo?x=1", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_HISTORY);
	ck_assert_str_eq(r.name, "echo");
	gw_route_parse("GET", "/ui/history/", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_BAD);
	gw_route_parse("GET", "/ui/history/Echo", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_BAD);
	gw_route_parse("GET", "/ui/history/echo/x", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_BAD);
	gw_route_parse("GET", "/healthz", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_HEALTHZ);
	gw_route_parse("GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_METRICS);
	gw_route_parse("GET", "/_/concurrency?x", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_CONCURRENCY);
	gw_route_parse("GET", "/_/concurrency/x", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_NOT_FOUND);
	gw_route_parse("POST", "/_/starting/echo", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_STARTING);
	ck_assert_str_eq(r.name, "echo");
	gw_route_parse("POST", "/_/starting/Echo", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_BAD);
	gw_route_parse("POST", "/_/starting/", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_BAD);
	gw_route_parse("POST", "/", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_ALEXA);
	gw_route_parse("GET", "/nothing", NULL, &r);
	ck_assert_int_eq(r.kind, GW_ROUTE_NOT_FOUND);
}
END_TEST

/* #17: a function never sees the UI's credentials, nor acts on the UI's. */
START_TEST(function_headers)
{
	ck_assert(gw_credentials_browser("Basic YWRtaW46cHc="));
	ck_assert(gw_credentials_browser("  basic x"));
	ck_assert(gw_credentials_browser("Digest username=\"a\""));
	ck_assert(!gw_credentials_browser("Bearer abc"));
	ck_assert(!gw_function_header_ok("WWW-Authenticate", "Basic realm=\"faas\"", true));
	ck_assert(!gw_function_header_ok("www-authenticate", "Bearer, basic realm=x", true));
	ck_assert(!gw_function_header_ok("WWW-Authenticate", "Digest realm=x", true));
	ck_assert(gw_function_header_ok("WWW-Authenticate", "Bearer realm=\"api\"", true));
	ck_assert(!gw_function_header_ok("Clear-Site-Data", "\"*\"", true));
	ck_assert(!gw_function_header_ok("Set-Cookie", "s=1; Path=/ui/", true));
	ck_assert(!gw_function_header_ok("Set-Cookie", "s=1; Path=/", true));
	ck_assert(!gw_function_header_ok("Set-Cookie", "s=1; path=/system", true));
	ck_assert(!gw_function_header_ok("Set-Cookie", "s=1; Path=/functions", true));
	ck_assert(!gw_function_header_ok("Set-Cookie", "s=1; Path=/function/../ui", true));
	ck_assert(!gw_function_header_ok("Set-Cookie", "s=1; Path=/function/%2e%2e/ui", true));
	ck_assert(!gw_function_header_ok("Set-Cookie", "s=1; Path=/function/a; Path=/", true));
	ck_assert(gw_function_header_ok("Set-Cookie", "s=1; Path=/function/echo; HttpOnly", true));
	ck_assert(gw_function_header_ok("Set-Cookie", "s=1; Path=/function", true));
	ck_assert(gw_function_header_ok("Set-Cookie", "s=1; Secure", true));
	ck_assert(
	    !gw_function_header_ok("Set-Cookie", "s=1; Secure", false)); /* default path "/" */
	ck_assert(gw_function_header_ok("Content-Type", "text/html", true));
}
END_TEST

START_TEST(alexa)
{
	char name[GW_NAME_MAX + 1];
	const char *ok = "{\"version\":\"1.0\",\"request\":{\"type\":\"IntentRequest\","
	                 "\"intent\":{\"name\":\"WordCount\",\"slots\":{}}}}";
	ck_assert_int_eq(gw_alexa_intent(ok, strlen(ok), name), 0);
	ck_assert_str_eq(name, "wordcount");
	const char *bad[] = {"",
	                     "{",
	                     "[]",
	                     "{\"request\":{}}",
	                     "{\"request\":{\"intent\":{\"name\":5}}}",
	                     "{\"request\":{\"intent\":{\"name\":\"a/b\"}}}",
	                     "{\"request\":{\"intent\":{\"name\":\"..\"}}}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(gw_alexa_intent(bad[i], strlen(bad[i]), name), -EINVAL);
	const char nul[] = "{\"request\":{\"intent\":{\"name\":\"a\\u0000b\"}}}";
	ck_assert_int_eq(gw_alexa_intent(nul, strlen(nul), name), -EINVAL);
}
END_TEST

START_TEST(basic_auth)
{
	/* admin:secret */
	ck_assert(gw_basic_auth_ok("Basic YWRtaW46c2VjcmV0", "admin", "secret"));
	ck_assert(gw_bearer_ok("Bearer tok", "tok"));
	ck_assert(gw_bearer_ok("bearer  tok", "tok"));
	ck_assert(!gw_bearer_ok("Bearer to", "tok"));
	ck_assert(!gw_bearer_ok("Bearer tokk", "tok"));
	ck_assert(!gw_bearer_ok("Basic tok", "tok"));
	ck_assert(!gw_bearer_ok(NULL, "tok"));
	ck_assert(gw_basic_auth_ok("basic YWRtaW46c2VjcmV0", "admin", "secret"));
	ck_assert(!gw_basic_auth_ok("Basic YWRtaW46c2VjcmV1", "admin", "secret"));
	ck_assert(!gw_basic_auth_ok("Basic YWRtaW46c2VjcmV0", "admin", "secre"));
	ck_assert(!gw_basic_auth_ok("Bearer YWRtaW46c2VjcmV0", "admin", "secret"));
	ck_assert(!gw_basic_auth_ok("Basic !!!!", "admin", "secret"));
	ck_assert(!gw_basic_auth_ok("Basic YWRtaW4=", "admin", "")); /* no colon */
	ck_assert(!gw_basic_auth_ok(NULL, "admin", "secret"));
	char huge[4000];
	memset(huge, 'Q', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	memcpy(huge, "Basic ", 6);
	ck_assert(!gw_basic_auth_ok(huge, "admin", "secret"));
}
END_TEST

START_TEST(mime)
{
	ck_assert_str_eq(gw_mime_type("index.html"), "text/html; charset=utf-8");
	ck_assert_str_eq(gw_mime_type("app.js"), "text/javascript; charset=utf-8");
	ck_assert_str_eq(gw_mime_type("app.css"), "text/css; charset=utf-8");
	ck_assert_str_eq(gw_mime_type("x.svg"), "image/svg+xml");
	ck_assert_str_eq(gw_mime_type("noext"), "application/octet-stream");
}
END_TEST

struct seen {
	int n;
	char names[4][64];
	size_t naddr[4];
};

static int add(const struct gw_static_fn *fn, void *arg)
{
	struct seen *s = arg;
	if (s->n < 4) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", fn->name);
		s->naddr[s->n] = fn->naddr;
	}
	s->n++;
	return 0;
}

START_TEST(cross_site)
{
	const char *ok = NULL;
	/* clients that are not browsers: no Origin, no Sec-Fetch-*, no Referer */
	struct gw_browser curl = {.host = "gw:8080",
	                          .content_type = "application/x-www-form-urlencoded"};
	ck_assert_ptr_eq(gw_cross_site_refused("POST", &curl), ok);
	curl.content_type = "text/plain";
	ck_assert_ptr_eq(gw_cross_site_refused("DELETE", &curl), ok);
	curl.content_type = NULL;
	ck_assert_ptr_eq(gw_cross_site_refused("PUT", &curl), ok);

	/* the UI: same origin, JSON or YAML */
	struct gw_browser ui = {.host = "127.0.0.1:8080",
	                        .origin = "http://127.0.0.1:8080",
	                        .fetch_site = "same-origin",
	                        .fetch_mode = "cors",
	                        .content_type = "application/yaml"};
	ck_assert_ptr_eq(gw_cross_site_refused("PUT", &ui), ok);
	ui.content_type = "application/json";
	ck_assert_ptr_eq(gw_cross_site_refused("POST", &ui), ok);
	ui.content_type = NULL;
	ck_assert_ptr_eq(gw_cross_site_refused("DELETE", &ui), ok);
	/* behind a proxy that rewrites Host: Sec-Fetch-Site decides */
	ui.host = "backend:8080";
	ck_assert_ptr_eq(gw_cross_site_refused("DELETE", &ui), ok);
	/* an older browser: no Sec-Fetch-*, its Origin names Host */
	struct gw_browser old = {.host = "GW.example:8080",
	                         .origin = "https://gw.example:8080",
	                         .content_type = "application/json"};
	ck_assert_ptr_eq(gw_cross_site_refused("POST", &old), ok);

	/* from another site */
	struct gw_browser evil = {.host = "127.0.0.1:8080",
	                          .origin = "https://evil.example",
	                          .fetch_site = "cross-site",
	                          .content_type = "text/plain"};
	ck_assert_ptr_nonnull(gw_cross_site_refused("POST", &evil));
	evil.content_type = "application/json";
	ck_assert_ptr_nonnull(gw_cross_site_refused("DELETE", &evil));
	evil.fetch_site = "same-site"; /* another port of the same host is another origin */
	ck_assert_ptr_nonnull(gw_cross_site_refused("PUT", &evil));
	evil.fetch_site = NULL;
	ck_assert_ptr_nonnull(gw_cross_site_refused("POST", &evil));
	static const char *const origins[] = {"null",
	                                      "http://127.0.0.1:8081",
	                                      "http://127.0.0.1",
	                                      "ftp://127.0.0.1:8080",
	                                      "127.0.0.1:8080",
	                                      "http://127.0.0.1:8080.evil.example",
	                                      ""};
	for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++) {
		evil.origin = origins[i];
		ck_assert_msg(gw_cross_site_refused("POST", &evil) != NULL, "allowed %s",
		              origins[i]);
	}
	evil.origin = "http://127.0.0.1:8080";
	evil.host = NULL;
	ck_assert_ptr_nonnull(gw_cross_site_refused("POST", &evil));

	/* a form from the same origin (or a browser without Origin) is refused too */
	static const char *const forms[] = {"text/plain", "TEXT/PLAIN; charset=utf-8",
	                                    " multipart/form-data; boundary=x",
	                                    "application/x-www-form-urlencoded"};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct gw_browser f = {.host = "h", .origin = "http://h", .content_type = forms[i]};
		ck_assert_msg(gw_cross_site_refused("POST", &f) != NULL, "allowed %s", forms[i]);
		f.origin = NULL;
		f.referer = "http://h/ui/";
		ck_assert_msg(gw_cross_site_refused("POST", &f) != NULL, "allowed %s", forms[i]);
		f.referer = NULL;
		f.fetch_dest = "document";
		ck_assert_msg(gw_cross_site_refused("POST", &f) != NULL, "allowed %s", forms[i]);
	}

	/* reads are left to CORS (no Access-Control-Allow-Origin is ever sent) */
	evil.host = "127.0.0.1:8080";
	evil.origin = "https://evil.example";
	ck_assert_ptr_eq(gw_cross_site_refused("GET", &evil), ok);
	ck_assert_ptr_eq(gw_cross_site_refused("HEAD", &evil), ok);
	ck_assert_ptr_eq(gw_cross_site_refused("OPTIONS", &evil), ok);
}
END_TEST

START_TEST(static_table)
{
	struct seen s = {0};
	char *err = NULL;
	ck_assert_int_eq(gw_static_parse("echo=127.0.0.1:3001, 127.0.0.1:3002;wc=127.0.0.1:3003\n"
	                                 "# comment\nempty=",
	                                 add, &s, &err),
	                 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.names[0], "echo");
	ck_assert_uint_eq(s.naddr[0], 2);
	ck_assert_str_eq(s.names[1], "wc");
	ck_assert_uint_eq(s.naddr[2], 0);
	ck_assert_int_eq(gw_static_parse("Bad=1.2.3.4:5", add, &s, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "invalid function name"));
	free(err);
	ck_assert_int_eq(gw_static_parse("a=1.2.3.4", add, &s, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "invalid address"));
	free(err);
	ck_assert_int_eq(gw_static_parse("a=1.2.3.4:70000", add, &s, &err), -EINVAL);
	free(err);
	ck_assert_int_eq(gw_static_parse("noequals", add, &s, &err), -EINVAL);
	free(err);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gateway_route");
	TCase *t = tcase_create("route");
	tcase_add_test(t, names);
	tcase_add_test(t, routes);
	tcase_add_test(t, function_headers);
	tcase_add_test(t, alexa);
	tcase_add_test(t, basic_auth);
	tcase_add_test(t, mime);
	tcase_add_test(t, static_table);
	tcase_add_test(t, cross_site);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
