/* Gateway request classification and small parsers (gateway/route.c). Input:
 *   line 1 method, line 2 request target, line 3 X-Function ("-": absent),
 *   line 4 Connection, line 5 Authorization, then header names, one a line.
 * The whole input is also parsed as a static_functions table.
 * Invariants: a function route names a valid DNS-1123 label and its target
 * and UI paths point inside the request target. */
#include "fuzz.h"
#include "gateway/gateway.h"

#include <errno.h>

static int add(const struct gw_static_fn *fn, void *arg)
{
	FZ_ASSERT(gw_name_valid(fn->name, strlen(fn->name)));
	FZ_ASSERT(fn->naddr <= 16);
	for (size_t i = 0; i < fn->naddr; i++)
		FZ_ASSERT(strchr(fn->addr[i], ':') != NULL);
	++*(int *)arg;
	return *(int *)arg > 1000 ? -E2BIG : 0;
}

static bool inside(const char *p, const char *s)
{
	return p >= s && p <= s + strlen(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_str(data, size), *rest = s, *line, *err = NULL;
	const char *method, *uri, *xf, *conn, *auth;
	struct gw_route r;
	int n = 0;

	if (gw_static_parse(s, add, &n, &err) < 0) {
		FZ_ASSERT(err != NULL);
		free(err);
	}

	method = fz_field(&rest, '\n');
	uri = fz_field(&rest, '\n');
	xf = fz_field(&rest, '\n');
	conn = fz_field(&rest, '\n');
	auth = fz_field(&rest, '\n');
	if (uri == NULL)
		uri = "/";
	if (xf != NULL && strcmp(xf, "-") == 0)
		xf = NULL;
	gw_route_parse(method, uri, xf, &r);
	switch (r.kind) {
	case GW_ROUTE_FUNCTION:
		FZ_ASSERT(gw_name_valid(r.name, strlen(r.name)));
		FZ_ASSERT(r.target != NULL && inside(r.target, uri));
		break;
	case GW_ROUTE_SYSTEM:
		FZ_ASSERT(r.target != NULL && inside(r.target, uri));
		break;
	case GW_ROUTE_UI:
		FZ_ASSERT(inside(r.ui_path, uri) && inside(r.ui_path + r.ui_path_len, uri));
		(void)gw_mime_type(r.ui_path);
		break;
	case GW_ROUTE_BAD:
		FZ_ASSERT(r.err != NULL);
		break;
	default:
		break;
	}
	(void)gw_basic_auth_ok(auth, "admin", "secret");
	(void)gw_bearer_ok(auth, "secret");
	if (auth != NULL) {
		(void)fx_http1_value_ok(auth, strlen(auth));
		(void)gw_credentials_browser(auth);
	}
	while ((line = fz_field(&rest, '\n')) != NULL) {
		(void)fx_http1_hop(line, conn);
		(void)gw_mime_type(line);
		(void)gw_function_header_ok("Set-Cookie", line, true);
		(void)gw_function_header_ok("WWW-Authenticate", line, false);
	}
	free(s);
	return 0;
}
