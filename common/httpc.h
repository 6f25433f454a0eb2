/* httpc.h: a small blocking HTTP client, for the controller's Docker Engine
 * API calls (unix socket or tcp) and faasctl's and the gateway's calls to
 * each other. Not for the data path: the gateway proxies without it.
 *
 * http:// is spoken here (httpc.c: plain HTTP/1.1, one connection per
 * request, no dependency). https:// goes to libcurl (httpc_curl.c), and only
 * in a program that called fx_http_global_init(): a program that never calls
 * it (faas-controller) links no libcurl and gets -EPROTONOSUPPORT for https.
 * Call fx_http_global_init() once at start-up, before any thread starts. */
#ifndef FX_HTTPC_H
#define FX_HTTPC_H

#include "buf.h"
#include "http1.h"

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
	 * (checked at least every 500 ms while nothing arrives). */
	const volatile int *cancel;
};

struct fx_http_resp {
	long status;
	struct fx_buf headers; /* raw head (status line, header lines, blank line) of the
	                          final response; capped at FX_HTTP_HEAD_MAX */
	struct fx_buf body;
};

#define FX_HTTP_HEAD_MAX (256u << 10)

/* Makes https:// available (libcurl). 0, or -ENOMEM. */
int fx_http_global_init(void);
/* Performs the request. Returns 0 with resp filled (any HTTP status), or a
 * negative errno with *err (caller frees): -ECONNREFUSED / -ENOENT (socket
 * missing), -ETIMEDOUT, -E2BIG (body over max_response, head over
 * FX_HTTP_HEAD_MAX or too many headers), -EIO (malformed or truncated
 * response, other network errors), -EHOSTUNREACH (name not resolved), -EINVAL
 * (bad URL, method or header), -EPROTONOSUPPORT (https without
 * fx_http_global_init), -EKEYREJECTED (https: the server's certificate is not
 * trusted or does not name it), -EPROTO (https: no TLS handshake, e.g. the
 * server speaks plain HTTP or no common protocol version). resp must be released by the caller in
 * every case. */
int fx_http_do(const struct fx_http_req *req, struct fx_http_resp *resp, char **err);
void fx_http_resp_release(struct fx_http_resp *resp);
/* Value of header name in resp (case-insensitive), caller frees; NULL if absent. */
char *fx_http_resp_header(const struct fx_http_resp *resp, const char *name);

/* ---- the response reader (no I/O): what fx_http_do does with the bytes it
 * receives, exposed for tests and the fuzz target. ---- */
struct fx_http_reader {
	const struct fx_http_req *req; /* borrowed: on_data, max_response */
	struct fx_http_resp *resp;     /* borrowed, initialised by fx_http_resp_init */
	bool head_request;
	bool in_body;
	int informational; /* 1xx heads skipped so far */
	enum fx_http1_framing framing;
	uint64_t left; /* FX_BODY_LENGTH: bytes still due */
	struct fx_http1_chunked chunked;
	struct fx_buf raw; /* head bytes until the head is complete */
};

/* Empties resp and sets its caps from req. */
void fx_http_resp_init(struct fx_http_resp *resp, const struct fx_http_req *req);
void fx_http_reader_init(struct fx_http_reader *r, const struct fx_http_req *req,
                         struct fx_http_resp *resp);
/* Feeds n received bytes; n == 0 means the peer closed the connection.
 * Returns 0 (more wanted), 1 (the response is complete, or on_data asked to
 * stop), or -EIO (malformed or truncated), -E2BIG, -ENOMEM with *err (a
 * static string naming what is wrong). Bytes past the end are ignored. */
int fx_http_reader_feed(struct fx_http_reader *r, const char *p, size_t n, const char **err);
void fx_http_reader_release(struct fx_http_reader *r);

/* For httpc_curl.c: performs an https:// request; set by fx_http_global_init. */
extern int (*fx_http_tls_do)(const struct fx_http_req *req, struct fx_http_resp *resp, char **err);

#endif
