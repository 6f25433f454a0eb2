/* Request -> child environment (watchdog/env.c). The input is a request:
 *   line 1: the raw request target ("/path?query"), line 2: the method,
 *   then one header per line, "Name: value" (values may hold any byte but NUL).
 * Invariants: every variable added by the request is "Http_<[A-Za-z0-9_]>=..."
 * without control characters; the base's PATH and fprocess survive. */
#include "fuzz.h"
#include "watchdog/watchdog.h"

#include <ctype.h>
#include <strings.h>

static bool name_ok(const char *e)
{
	if (strncmp(e, "Http_", 5) != 0)
		return false;
	for (e += 5; *e != '='; e++)
		if (*e == '\0' || !(isalnum((unsigned char)*e) || *e == '_'))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char e0[] = "PATH=/usr/bin:/bin", e1[] = "fprocess=cat", e2[] = "Http_Method=base";
	static char *const base[] = {e0, e1, e2, NULL};
	struct wd_kv hdr[WD_ENV_MAX_HEADERS + 8];
	struct wd_reqinfo ri = {0};
	char *s = fz_str(data, size), *rest = s, *target, *line, path[1024];
	const char *query = NULL;
	size_t nh = 0, dropped = 0;
	char **env;

	target = fz_field(&rest, '\n');
	ri.method = fz_field(&rest, '\n');
	if (ri.method == NULL)
		ri.method = "POST";
	if (wd_url_split(target, path, sizeof(path), &query)) {
		FZ_ASSERT(strlen(path) < sizeof(path));
		ri.path = path;
		ri.query = query;
	} else {
		ri.path = "/";
	}
	ri.content_length = (int64_t)size - 1;
	while (nh < sizeof(hdr) / sizeof(hdr[0]) && (line = fz_field(&rest, '\n')) != NULL) {
		char *v = strchr(line, ':'), out[200];
		if (v == NULL)
			continue;
		*v++ = '\0';
		while (*v == ' ')
			v++;
		hdr[nh].name = line;
		hdr[nh].value = v;
		if (wd_env_header_name(line, out, sizeof(out)))
			FZ_ASSERT(strncmp(out, "Http_", 5) == 0 && strchr(out, '=') == NULL);
		if (strcasecmp(line, "host") == 0)
			ri.host = v;
		(void)wd_env_value_ok(v);
		nh++;
	}
	ri.headers = hdr;
	ri.nheaders = nh;

	env = wd_env_build(base, &ri, &dropped);
	FZ_ASSERT(env != NULL);
	{
		bool has_path = false, has_fprocess = false;
		for (size_t i = 0; env[i] != NULL; i++) {
			const char *e = env[i];
			FZ_ASSERT(strchr(e, '=') != NULL);
			for (const char *p = e; *p; p++)
				FZ_ASSERT(((unsigned char)*p >= 0x20 || *p == '\t') && *p != 0x7f);
			if (strcmp(e, base[0]) == 0)
				has_path = true;
			else if (strcmp(e, base[1]) == 0)
				has_fprocess = true;
			else
				FZ_ASSERT(name_ok(e)); /* the request adds Http_* only */
		}
		FZ_ASSERT(has_path && has_fprocess);
	}
	wd_env_free(env);
	free(s);
	return 0;
}
