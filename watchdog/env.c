/* env.c: the request as environment variables, as the classic watchdog sets
 * them. Pure: no I/O. Header names are untrusted: only [A-Za-z0-9-] names are
 * mapped, and always under the Http_ prefix, so no request can set LD_PRELOAD,
 * PATH or a name holding '=' or a newline. */
#include "watchdog.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool wd_env_header_name(const char *header, char *out, size_t n)
{
	size_t len = strlen(header);
	bool up = true;

	if (len == 0 || len > 128 || n < len + 6)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)header[i];
		if (!(isascii(c) && (isalnum(c) || c == '-')))
			return false;
	}
	memcpy(out, "Http_", 5);
	for (size_t i = 0; i < len; i++) {
		char c = header[i];
		if (c == '-') {
			out[5 + i] = '_';
			up = true;
			continue;
		}
		out[5 + i] = (char)(up ? toupper((unsigned char)c) : tolower((unsigned char)c));
		up = false;
	}
	out[5 + len] = '\0';
	return true;
}

bool wd_env_value_ok(const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
		if (i >= WD_ENV_MAX_VALUE)
			return false;
	}
	return true;
}

struct envb {
	char **v;
	size_t n, cap, bytes;
	bool oom;
};

/* Adds "name=value" unless name is already set (earlier entries win). */
static bool env_has(const struct envb *e, const char *name, size_t nl)
{
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->v[i], name, nl) == 0 && e->v[i][nl] == '=')
			return true;
	return false;
}

static bool env_add(struct envb *e, const char *name, size_t nl, const char *value)
{
	size_t vl = strlen(value);
	char *s;

	if (env_has(e, name, nl))
		return false;
	if (e->n + 2 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		char **v = realloc(e->v, cap * sizeof(*v));
		if (v == NULL) {
			e->oom = true;
			return false;
		}
		e->v = v;
		e->cap = cap;
	}
	s = malloc(nl + vl + 2);
	if (s == NULL) {
		e->oom = true;
		return false;
	}
	memcpy(s, name, nl);
	s[nl] = '=';
	memcpy(s + nl + 1, value, vl + 1);
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
	e->bytes += nl + vl + 2;
	return true;
}

static void env_set(struct envb *e, const char *name, const char *value)
{
	if (value != NULL && wd_env_value_ok(value))
		env_add(e, name, strlen(name), value);
}

static bool reserved(const char *name)
{
	static const char *const r[] = {"Http_Method", "Http_Path", "Http_Query", "Http_Host",
	                                "Http_ContentLength"};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (strcmp(name, r[i]) == 0)
			return true;
	return false;
}

/* Does the container's environment already set name? */
static bool base_has(char *const *base, const char *name)
{
	size_t nl = strlen(name);
	for (char *const *p = base; p != NULL && *p != NULL; p++)
		if (strncmp(*p, name, nl) == 0 && (*p)[nl] == '=')
			return true;
	return false;
}

char **wd_env_build(char *const *base, const struct wd_reqinfo *ri, size_t *dropped)
{
	struct envb e = {0};
	size_t drop = 0, mapped = 0;
	char name[160], num[32];

	/* The watchdog's own variables first: a header cannot shadow them. */
	env_set(&e, "Http_Method", ri->method);
	env_set(&e, "Http_Path", ri->path);
	if (ri->query != NULL && ri->query[0] != '\0')
		env_set(&e, "Http_Query", ri->query);
	if (ri->host != NULL)
		env_set(&e, "Http_Host", ri->host);
	if (ri->content_length >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)ri->content_length);
		env_set(&e, "Http_ContentLength", num);
	}
	for (size_t i = 0; i < ri->nheaders; i++) {
		const struct wd_kv *h = &ri->headers[i];
		if (h->name == NULL || h->value == NULL)
			continue;
		if (strcasecmp(h->name, "Host") == 0) /* Http_Host above, as Go's r.Host */
			continue;
		if (mapped >= WD_ENV_MAX_HEADERS ||
		    !wd_env_header_name(h->name, name, sizeof(name)) ||
		    !wd_env_value_ok(h->value) ||
		    e.bytes + strlen(name) + strlen(h->value) + 2 > WD_ENV_MAX_BYTES) {
			drop++;
			continue;
		}
		/* A header cannot shadow the watchdog's own variables (Http_Method from
		 * a "Method" header), nor one the container sets itself (an image's or
		 * the spec's Http_Api_Key from an "Api-Key" header); a repeated one
		 * keeps its first value, as Go's r.Header[k][0] does. */
		if (reserved(name) || base_has(base, name)) {
			drop++;
			continue;
		}
		if (env_add(&e, name, strlen(name), h->value))
			mapped++;
		if (e.oom)
			goto fail;
	}
	for (char *const *p = base; p != NULL && *p != NULL; p++) {
		const char *eq = strchr(*p, '=');
		if (eq == NULL)
			continue;
		env_add(&e, *p, (size_t)(eq - *p), eq + 1);
		if (e.oom)
			goto fail;
	}
	if (e.oom)
		goto fail;
	if (e.v == NULL) {
		e.v = calloc(1, sizeof(*e.v));
		if (e.v == NULL)
			return NULL;
	}
	if (dropped != NULL)
		*dropped = drop;
	return e.v;
fail:
	for (size_t i = 0; i < e.n; i++)
		free(e.v[i]);
	free(e.v);
	return NULL;
}

void wd_env_free(char **env)
{
	if (env == NULL)
		return;
	for (char **p = env; *p != NULL; p++)
		free(*p);
	free(env);
}

bool wd_url_split(const char *raw, char *path, size_t pn, const char **query)
{
	const char *q = strchr(raw, '?');
	size_t end = q ? (size_t)(q - raw) : strlen(raw), o = 0;

	if (pn == 0)
		return false;
	for (size_t i = 0; i < end; i++) {
		char c = raw[i];
		if (c == '%' && i + 2 < end && fx_hexval(raw[i + 1]) >= 0 &&
		    fx_hexval(raw[i + 2]) >= 0) {
			int v = fx_hexval(raw[i + 1]) * 16 + fx_hexval(raw[i + 2]);
			if (v != 0 && v >= 0x20 && v != 0x7f) { /* no NUL or controls in a path */
				c = (char)v;
				i += 2;
			}
		}
		if (o + 1 >= pn)
			return false;
		path[o++] = c;
	}
	path[o] = '\0';
	*query = q ? q + 1 : NULL;
	return true;
}
