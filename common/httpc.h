/* httpc.h: a small blocking HTTP client over libcurl, for the controller's
 * Docker Engine API calls (unix socket) and faasctl's calls to the gateway.
 * Not for the data path: the gateway proxies without it.
 * Call fx_http_global_init() once at start-up, before any thread starts. */
#ifndef FX_HTTPC_H
#define FX_HTTPC_H

#include "buf.h"

#include <stddef.h>

struct fx_http_req {
	const char *method;         /* "GET" when NULL */
	const char *url;            /* e.g. "http://localhost/v1.41/services" */
	const char *unix_socket;    /* NULL: TCP; else the socket path (DOCKER_HOST) */
	const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
	const char *body;           /* borrowed; may be NULL */
	size_t body_len;
	const char *user;        /* basic auth "user:password", or NULL */
	long connect_timeout_ms; /* 0: 5 s */
	long timeout_ms;         /* 0: no overall limit (streams) */
	size_t max_response;     /* 0: 16 MiB; a longer body fails with -E2BIG */
	/* When set, body bytes go here as they arrive instead of into resp->body;
	 * return 0 to continue, non-zero to stop the transfer (not an error). */
	int (*on_data)(const char *p, size_t n, void *arg);
	void *arg;
};

struct fx_http_resp {
	long status;
	struct fx_buf headers; /* raw response header lines of the final response */
	struct fx_buf body;
};

/* 0 once curl is ready; -ENOMEM otherwise. */
int fx_http_global_init(void);
/* Performs the request. Returns 0 with resp filled (any HTTP status), or a
 * negative errno with *err (caller frees): -ECONNREFUSED / -ENOENT (socket missing),
 * -ETIMEDOUT, -E2BIG, -EIO. resp must be released by the caller in every case. */
int fx_http_do(const struct fx_http_req *req, struct fx_http_resp *resp, char **err);
void fx_http_resp_release(struct fx_http_resp *resp);
/* Value of header name in resp (case-insensitive), caller frees; NULL if absent. */
char *fx_http_resp_header(const struct fx_http_resp *resp, const char *name);

#endif
