/* httpc.c: fx_http_do through libcurl, for http:// and https://, over TCP or
 * a unix socket (CURLOPT_UNIX_SOCKET_PATH). Each thread keeps one easy handle
 * (a pthread key frees it when the thread ends), so a thread that calls
 * repeatedly reuses its kept-alive connections; handles are never shared
 * between threads, which is what libcurl asks of an easy handle. */
#include "httpc.h"
#include "buf.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTPC_DEFAULT_MAX (16u << 20)
#define HTTPC_CONNECT_MS  5000L

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t handle_key;
static int init_rc = -ENOMEM;

static void handle_free(void *c)
{
	curl_easy_cleanup(c);
}

static void global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return;
	if (pthread_key_create(&handle_key, handle_free) != 0) {
		curl_global_cleanup();
		return;
	}
	init_rc = 0;
}

int fx_http_global_init(void)
{
	pthread_once(&once, global_init);
	return init_rc;
}

/* The calling thread's easy handle, reset to no options but with its
 * connection and DNS caches; NULL when out of memory. */
static CURL *thread_handle(void)
{
	CURL *c;

	if (fx_http_global_init() < 0)
		return NULL;
	c = pthread_getspecific(handle_key);
	if (c != NULL) {
		curl_easy_reset(c);
		return c;
	}
	c = curl_easy_init();
	if (c != NULL && pthread_setspecific(handle_key, c) != 0) {
		curl_easy_cleanup(c);
		c = NULL;
	}
	return c;
}

struct fx_http_conn {
	CURL *c;
};

struct fx_http_conn *fx_http_conn_new(void)
{
	struct fx_http_conn *k;

	if (fx_http_global_init() < 0)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->c = curl_easy_init();
	if (k->c == NULL) {
		free(k);
		return NULL;
	}
	return k;
}

void fx_http_conn_free(struct fx_http_conn *k)
{
	if (k == NULL)
		return;
	curl_easy_cleanup(k->c);
	free(k);
}

/* ---- checks done before anything is sent (libcurl is lenient) ---- */

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!printable(s + i, 1) || strchr("()<>@,;:\\\"/[]?={}", s[i]) != NULL)
			return false;
	return true;
}

/* http:// or https://, a host with no user info, nothing unprintable.
 * libcurl checks the rest (ports, brackets) and would otherwise guess a
 * scheme for "host:80/". */
static bool url_ok(const char *u)
{
	size_t skip, auth;

	if (u == NULL)
		return false;
	if (strncasecmp(u, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(u, "https://", 8) == 0)
		skip = 8;
	else
		return false;
	auth = strcspn(u + skip, "/?#");
	return auth > 0 && memchr(u + skip, '@', auth) == NULL && printable(u, strlen(u));
}

/* "Name: value" with a token name and no line break. */
static bool header_ok(const char *h)
{
	const char *c = strchr(h, ':');
	return c != NULL && token(h, (size_t)(c - h)) && strpbrk(h, "\r\n") == NULL;
}

/* ---- the transfer ---- */

struct transfer {
	const struct fx_http_req *req;
	struct fx_http_resp *resp;
	int failed;     /* -E2BIG or -ENOMEM from a callback */
	bool stopped;   /* on_data asked to stop */
	bool head_done; /* the blank line after the last head's header lines came */
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	size_t n = size * nmemb;
	int rc;

	if (t->req->on_data != NULL) {
		if (t->req->on_data(p, n, t->req->arg) != 0) {
			t->stopped = true;
			return 0;
		}
		return n;
	}
	rc = fx_buf_append(&t->resp->body, p, n);
	if (rc < 0) {
		t->failed = rc;
		return 0;
	}
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	size_t n = size * nmemb;
	int rc;

	/* A new status line (after a 1xx) starts the head over; trailers after
	 * a chunked body are not part of it. */
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		fx_buf_reset(&t->resp->headers);
		t->head_done = false;
	} else if (t->head_done) {
		return n;
	}
	if ((n == 2 && p[0] == '\r' && p[1] == '\n') || (n == 1 && p[0] == '\n'))
		t->head_done = true;
	rc = fx_buf_append(&t->resp->headers, p, n);
	if (rc < 0) {
		t->failed = rc;
		return 0;
	}
	return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct transfer *t = arg;
	(void)dt, (void)dn, (void)ut, (void)un;
	return *t->req->cancel != 0;
}

/* The errno for a failed transfer, and the words for *err. */
static int failure(CURL *c, CURLcode rc, const struct transfer *t, const char *errbuf,
                   const char **why, bool *reach)
{
	long os = 0;

	*reach = false;
	*why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	if (t->failed == -E2BIG || rc == CURLE_FILESIZE_EXCEEDED) {
		bool head = t->failed == -E2BIG && t->resp->headers.err == -E2BIG;
		*why = head ? "response head larger than 256 KiB"
		            : "response body larger than the limit";
		return -E2BIG;
	}
	if (t->failed < 0) {
		*why = "out of memory";
		return t->failed;
	}
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		*reach = true;
		curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os);
		if (os == ENOENT) {
			*why = "no such socket";
			return -ENOENT;
		}
		if (os == ECONNREFUSED || os == 0) {
			*why = "connection refused";
			return -ECONNREFUSED;
		}
		*why = strerror((int)os);
		return -(int)os;
	case CURLE_COULDNT_RESOLVE_HOST:
		*reach = true;
		*why = "host name not resolved";
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		/* "Connection timed out": the peer was never reached. */
		*reach = strncmp(*why, "Connection", 10) == 0;
		*why = "timed out";
		return -ETIMEDOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		*why = "cancelled";
		return -ECANCELED;
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		/* libcurl 7.88 reports a header line over its own cap (100 KiB) so. */
		if (!t->head_done) {
			*why = "response head too large (or out of memory)";
			return -E2BIG;
		}
		return -ENOMEM;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return -EKEYREJECTED;
	case CURLE_SSL_CONNECT_ERROR:
		return -EPROTO;
	default:
		return -EIO;
	}
}

int fx_http_do(const struct fx_http_req *req, struct fx_http_resp *resp, char **err)
{
	return fx_http_do_on(NULL, req, resp, err);
}

int fx_http_do_on(struct fx_http_conn *conn, const struct fx_http_req *req,
                  struct fx_http_resp *resp, char **err)
{
	const char *method = req->method ? req->method : "GET", *why = NULL;
	struct transfer t = {.req = req, .resp = resp};
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	bool has_type = false, reach = false;
	CURL *c;
	CURLcode rc;
	int r = 0;

	*err = NULL;
	resp->status = 0;
	fx_buf_init(&resp->headers, FX_HTTP_HEAD_MAX);
	fx_buf_init(&resp->body, req->max_response ? req->max_response : HTTPC_DEFAULT_MAX);
	if (!url_ok(req->url)) {
		*err = fx_strdupf("%s %s: not an http:// or https:// URL", method,
		                  req->url ? req->url : "(null)");
		return -EINVAL;
	}
	if (!token(method, strlen(method))) {
		*err = fx_strdupf("%s: invalid method", req->url);
		return -EINVAL;
	}
	if (req->user != NULL && strpbrk(req->user, "\r\n") != NULL) {
		*err = fx_strdupf("%s %s: invalid user", method, req->url);
		return -EINVAL;
	}
	for (const char *const *h = req->headers; h != NULL && *h != NULL; h++) {
		struct curl_slist *n;
		if (!header_ok(*h)) {
			*err = fx_strdupf("%s %s: invalid request header", method, req->url);
			r = -EINVAL;
			goto out_headers;
		}
		if (strncasecmp(*h, "Content-Type:", 13) == 0)
			has_type = true;
		n = curl_slist_append(hdrs, *h);
		if (n == NULL)
			goto oom;
		hdrs = n;
	}
	{
		/* No "Expect: 100-continue" wait on large bodies; no form type
		 * libcurl would add to a body the caller did not type. */
		struct curl_slist *n = curl_slist_append(hdrs, "Expect:");
		if (n == NULL)
			goto oom;
		hdrs = n;
		if (!has_type) {
			n = curl_slist_append(hdrs, "Content-Type:");
			if (n == NULL)
				goto oom;
			hdrs = n;
		}
	}
	if (conn != NULL) {
		c = conn->c;
		curl_easy_reset(c); /* options only: its connection cache stays */
	} else {
		c = thread_handle();
	}
	if (c == NULL)
		goto oom;

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (req->unix_socket != NULL)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		/* A body, or an empty one announced (Content-Length: 0) where the
		 * method expects one. */
		if (req->body != NULL || strcmp(method, "POST") == 0 ||
		    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			                 (curl_off_t)(req->body ? req->body_len : 0));
		}
	}
	if (req->user != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, req->user);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	                 req->connect_timeout_ms > 0 ? req->connect_timeout_ms : HTTPC_CONNECT_MS);
	if (req->timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	if (req->on_data == NULL)
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)resp->body.max);
	if (req->cancel != NULL) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	if (req->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
	if (req->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}

	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	/* The handle outlives this call: drop what points into it. */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	if (rc == CURLE_OK && !t.head_done) {
		/* libcurl takes a head cut by the end of the connection as a whole. */
		r = -EIO;
		*err = fx_strdupf("%s %s: connection closed in the middle of the response head",
		                  method, req->url);
		goto out_headers;
	}
	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && t.stopped && t.failed == 0))
		goto out_headers;
	r = failure(c, rc, &t, errbuf, &why, &reach);
	if (reach)
		*err = fx_strdupf("%s %s: cannot reach %s: %s", method, req->url,
		                  req->unix_socket ? req->unix_socket : req->url, why);
	else
		*err = fx_strdupf("%s %s: %s", method, req->url, why);
	goto out_headers;
oom:
	r = -ENOMEM;
	*err = fx_strdupf("%s %s: out of memory", method, req->url);
out_headers:
	curl_slist_free_all(hdrs);
	return r;
}

void fx_http_resp_release(struct fx_http_resp *resp)
{
	if (resp == NULL)
		return;
	fx_buf_release(&resp->headers);
	fx_buf_release(&resp->body);
}

char *fx_http_resp_header(const struct fx_http_resp *resp, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = resp->headers.data;

	while (p != NULL && *p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
			const char *v = p + nlen + 1;
			const char *end = p + len;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == '\r' || end[-1] == ' '))
				end--;
			return strndup(v, (size_t)(end - v));
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}
