/* config.c: the settings table of fwatchdog (classic watchdog names). */
#include "watchdog.h"

#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct wd_config C;

#define MS(x) ((int64_t)(x))
static const struct fx_setting table[] = {
    {"fprocess", FX_CONF_STRING, NULL,
     "the function process, split on spaces (no shell), e.g. \"wc -l\"", &C.fprocess, 0, 0, 0},
    {"mode", FX_CONF_STRING, "fork",
     "fork (a process per request), streaming (fork, output chunked as written) or http",
     &C.mode_name, 0, 0, 0},
    {"upstream_url", FX_CONF_STRING, NULL,
     "http mode: where fprocess serves HTTP, e.g. http://127.0.0.1:5000", &C.upstream_url, 0, 0, 0},
    {"read_timeout", FX_CONF_DURATION, "10s",
     "idle limit while reading a request (whole seconds, rounded up)", &C.read_timeout_ms, 1,
     MS(3600000), 0},
    {"write_timeout", FX_CONF_DURATION, "10s", "how long SIGTERM waits for requests in flight",
     &C.write_timeout_ms, 1, MS(3600000), 0},
    {"exec_timeout", FX_CONF_DURATION, "10s",
     "a request's process (or upstream call) is killed after this: 504; 0: no limit",
     &C.exec_timeout_ms, 0, MS(86400000), 0},
    {"healthcheck_interval", FX_CONF_DURATION, "1s",
     "http mode: how often the upstream is probed while it is down", &C.healthcheck_interval_ms, 10,
     MS(3600000), 0},
    {"write_debug", FX_CONF_BOOL, "false", "log each request and the process's output",
     &C.write_debug, 0, 0, 0},
    {"content_type", FX_CONF_STRING, NULL, "Content-Type of responses (default: the request's)",
     &C.content_type, 0, 0, 0},
    {"combine_output", FX_CONF_BOOL, "true",
     "fork/streaming: STDERR goes into the response with STDOUT (else only logged)",
     &C.combine_output, 0, 0, 0},
    {"max_inflight", FX_CONF_INT, "0", "requests handled at once, more get 429; 0: no limit",
     &C.max_inflight, 0, 1000000, 0},
    {"suppress_lock", FX_CONF_BOOL, "false",
     "do not write $TMPDIR/.lock (health then follows readiness only)", &C.suppress_lock, 0, 0, 0},
    {"port", FX_CONF_INT, "8080", "TCP port on all addresses (0: any free port)", &C.port, 0, 65535,
     0},
    {"max_body", FX_CONF_SIZE, "16Mi", "largest request body, more gets 413", &C.max_body, 0,
     INT64_MAX, 0},
    {"max_output", FX_CONF_SIZE, "64Mi",
     "fork mode: largest response body buffered (use streaming for more): 500", &C.max_output, 1,
     INT64_MAX, 0},
    {"log_level", FX_CONF_STRING, "info", "debug, info, warn or error", &C.log_level, 0, 0, 0},
    {"no_new_privileges", FX_CONF_BOOL, "true",
     "set no_new_privs before starting anything: the function cannot gain privileges through "
     "setuid or file capabilities",
     &C.no_new_privileges, 0, 0, 0},
    {"healthcheck", FX_CONF_BOOL, NULL,
     "probe 127.0.0.1:$port/_/health and exit 0 (healthy) or 1 (for HEALTHCHECK)", &C.healthcheck,
     0, 0, FX_CONF_NO_ENV},
};
#define NTAB (sizeof(table) / sizeof(table[0]))

static char *msg(const char *a, const char *b)
{
	char *s = NULL;
	if (asprintf(&s, "%s%s", a, b ? b : "") < 0)
		return NULL;
	return s;
}

char **wd_argv_split(const char *s)
{
	size_t words = 0, i = 0;
	char **v;
	const char *p;

	if (s == NULL)
		return NULL;
	for (p = s; *p != '\0';) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		words++;
		while (*p != '\0' && *p != ' ')
			p++;
	}
	if (words == 0)
		return NULL;
	v = calloc(words + 1, sizeof(*v));
	if (v == NULL)
		return NULL;
	for (p = s; *p != '\0';) {
		const char *w;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		w = p;
		while (*p != '\0' && *p != ' ')
			p++;
		v[i] = strndup(w, (size_t)(p - w));
		if (v[i] == NULL) {
			wd_argv_free(v);
			return NULL;
		}
		i++;
	}
	return v;
}

char *wd_find_exec(const char *name, const char *path)
{
	const char *p = path;

	if (name == NULL || name[0] == '\0')
		return NULL;
	if (strchr(name, '/') != NULL)
		return strdup(name);
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ':');
		size_t dl = end ? (size_t)(end - p) : strlen(p);
		char *full = NULL;

		if (dl > 0 && asprintf(&full, "%.*s/%s", (int)dl, p, name) > 0) {
			if (access(full, X_OK) == 0)
				return full;
		}
		free(full);
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

void wd_argv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

int wd_parse_upstream(const char *url, char *host, size_t hn, char *port, size_t pn)
{
	const char *h, *colon, *end;
	size_t hl, pl;

	if (url == NULL || strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	h = url + 7;
	end = h + strcspn(h, "/?#");
	if (*end != '\0' && strcmp(end, "/") != 0)
		return -EINVAL;
	colon = memchr(h, ':', (size_t)(end - h));
	if (colon == NULL || colon == h)
		return -EINVAL;
	hl = (size_t)(colon - h);
	pl = (size_t)(end - colon - 1);
	if (hl >= hn || pl == 0 || pl >= pn || pl > 5)
		return -EINVAL;
	for (size_t i = 0; i < pl; i++)
		if (colon[1 + i] < '0' || colon[1 + i] > '9')
			return -EINVAL;
	if (strtol(colon + 1, NULL, 10) < 1 || strtol(colon + 1, NULL, 10) > 65535)
		return -EINVAL;
	for (size_t i = 0; i < hl; i++)
		if (h[i] == '@' || h[i] == ' ')
			return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, colon + 1, pl);
	port[pl] = '\0';
	return 0;
}

int wd_config_load(struct wd_config *cfg, int argc, char *const *argv, char **err)
{
	int r;

	memset(&C, 0, sizeof(C));
	r = fx_conf_load(table, NTAB, argc, argv, NULL, err);
	if (r != 0)
		return r;
	if (strcmp(C.mode_name, "fork") == 0)
		C.mode = WD_MODE_FORK;
	else if (strcmp(C.mode_name, "streaming") == 0)
		C.mode = WD_MODE_STREAMING;
	else if (strcmp(C.mode_name, "http") == 0)
		C.mode = WD_MODE_HTTP;
	else {
		*err =
		    msg("mode: invalid value, expected fork, streaming or http, got ", C.mode_name);
		return -EINVAL;
	}
	if (C.content_type != NULL && C.content_type[0] == '\0')
		C.content_type = NULL;
	if (C.content_type != NULL && strpbrk(C.content_type, "\r\n") != NULL) {
		*err = msg("content_type: expected a media type without line breaks", NULL);
		return -EINVAL;
	}
	if (!C.healthcheck) {
		C.argv = wd_argv_split(C.fprocess);
		if (C.argv == NULL) {
			*err = msg("fprocess: required, expected the command to run, e.g. \"cat\"",
			           NULL);
			return -EINVAL;
		}
		C.exec_path = wd_find_exec(C.argv[0], getenv("PATH"));
		if (C.mode == WD_MODE_HTTP) {
			if (C.upstream_url == NULL ||
			    wd_parse_upstream(C.upstream_url, C.upstream_host,
			                      sizeof(C.upstream_host), C.upstream_port,
			                      sizeof(C.upstream_port)) < 0) {
				wd_argv_free(C.argv);
				C.argv = NULL;
				free(C.exec_path);
				C.exec_path = NULL;
				*err = msg("upstream_url: mode=http needs http://HOST:PORT, got ",
				           C.upstream_url ? C.upstream_url : "nothing");
				return -EINVAL;
			}
		}
	}
	*cfg = C;
	return 0;
}

void wd_config_release(struct wd_config *cfg)
{
	if (cfg == NULL)
		return;
	wd_argv_free(cfg->argv);
	cfg->argv = NULL;
	free(cfg->exec_path);
	cfg->exec_path = NULL;
}

void wd_config_help(FILE *out)
{
	fprintf(out, "usage: fwatchdog [--SETTING=VALUE ...] [--healthcheck]\n"
	             "Runs fprocess for each HTTP request (or proxies to it in http mode).\n"
	             "Settings come from the environment or flags (flags win).\n\n");
	fx_conf_help(table, NTAB, out);
	fprintf(out, "\nExit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.\n");
}
