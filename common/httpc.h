/* httpc.h: a small blocking HTTP client, for the controller's Docker Engine
 * API calls (unix socket or tcp, the events stream) and its autoscaler's polls
 * of the gateways, the gateway's calls to the controller and faasctl's calls
 * to the gateway. Not for the data path: the gateway proxies without it.
 *
 * libcurl does the work (httpc.c), http:// and https://. Each thread keeps one
 * connection cache, so repeated calls from a thread reuse kept-alive
 * connections. Call fx_http_global_init() once at start-up, before any thread
 * starts (curl_global_init is not safe to race with other threads). */
#ifndef FX_HTTPC_H
#define FX_HTTPC_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

struct fx_http_req {
	const char *method;         /* "GET" when NULL */
	const char *url;            /* e.g. "http://localhost/v1.41/services" */
	const char *unix_socket;    /* NULL: TCP; else the socket path (DOCKER_HOST) */
	const char *const *headers; /* NULL-terminated "Name: value" list, or NULL;
	                               "Name:" with no value is left out (curl's way) */
	const char *body;           /* borrowed; may be NULL */
	size_t body_len;
	const char *user; /* basic auth "user:password", or NULL */
	/* https: the server's certificate is verified against ca_file (PEM) when
	 * set, else the system's store; insecure skips the verification. */
	const char *ca_file;
	bool insecure;
	long connect_timeout_ms; /* 0: 5 s */
	long timeout_ms;         /* 0: no overall limit (streams) */
	size_t max_response;     /* 0: 16 MiB; a longer body fails with -E2BIG */
	/* When set, body bytes go here as they arrive instead of into resp->body;
	 * return 0 to continue, non-zero to stop the transfer (not an error). */
	int (*on_data)(const char *p, size_t n, void *arg);
	void *arg;
	/* When set, the transfer stops with -ECANCELED once *cancel is non-zero
	 * (checked at least once a second while nothing arrives). */
	const volatile int *cancel;
};

struct fx_http_resp {
	long status;
	struct fx_buf headers; /* raw head (status line, header lines, blank line) of the
	                          final response; capped at FX_HTTP_HEAD_MAX */
	struct fx_buf body;
};

#define FX_HTTP_HEAD_MAX (256u << 10)

/* Initialises libcurl once (later calls return the first result): 0, or
 * -ENOMEM. fx_http_do calls it too, but a program calls it first, alone. */
int fx_http_global_init(void);
/* Performs the request. Returns 0 with resp filled (any HTTP status), or a
 * negative errno with *err (caller frees): -ECONNREFUSED / -ENOENT (socket
 * missing), -ETIMEDOUT, -E2BIG (body over max_response, head over
 * FX_HTTP_HEAD_MAX or a header line over libcurl's 100 KiB), -EIO (malformed
 * or truncated response, other network errors), -EHOSTUNREACH (name not
 * resolved), -EINVAL (bad URL, method or header), -ECANCELED (*cancel set),
 * -EKEYREJECTED (https: the server's certificate is not trusted or does not
 * name it), -EPROTO (https: no TLS handshake, e.g. the server speaks plain
 * HTTP or no common protocol version). Redirects are not followed. resp must
 * be released by the caller in every case. */
int fx_http_do(const struct fx_http_req *req, struct fx_http_resp *resp, char **err);
/* A connection kept by a caller whose calls come from short-lived threads
 * (the autoscaler starts one per gateway per poll): fx_http_do_on uses its
 * easy handle instead of the thread's, so the kept-alive connection outlives
 * the thread. One call at a time on a conn. fx_http_conn_new: NULL when out
 * of memory (or libcurl not initialised); fx_http_conn_free(NULL) is a no-op. */
struct fx_http_conn;
struct fx_http_conn *fx_http_conn_new(void);
void fx_http_conn_free(struct fx_http_conn *conn);
/* fx_http_do on conn; conn NULL: the thread's handle, as fx_http_do. */
int fx_http_do_on(struct fx_http_conn *conn, const struct fx_http_req *req,
                  struct fx_http_resp *resp, char **err);
void fx_http_resp_release(struct fx_http_resp *resp);
/* Value of header name in resp (case-insensitive), caller frees; NULL if absent. */
char *fx_http_resp_header(const struct fx_http_resp *resp, const char *name);

#endif
