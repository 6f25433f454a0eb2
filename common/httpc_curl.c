/* httpc_curl.c: https:// for fx_http_do, through libcurl. Only a program that
 * calls fx_http_global_init links this file, and so libcurl (httpc.h). */
#include "httpc.h"
#include "buf.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct transfer {
	const struct fx_http_req *req;
	struct fx_http_resp *resp;
	size_t max;
	int failed; /* -E2BIG when over max */
	int stopped;
};

static int curl_do(const struct fx_http_req *req, struct fx_http_resp *resp, char **err);

int fx_http_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	fx_http_tls_do = curl_do;
	return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	size_t n = size * nmemb;

	if (t->req->on_data != NULL) {
		if (t->req->on_data(p, n, t->req->arg) != 0) {
			t->stopped = 1;
			return 0;
		}
		return n;
	}
	if (t->resp->body.len + n > t->max) {
		t->failed = -E2BIG;
		return 0;
	}
	if (fx_buf_append(&t->resp->body, p, n) < 0) {
		t->failed = -ENOMEM;
		return 0;
	}
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	size_t n = size * nmemb;

	/* A new status line (after a 100 Continue or a redirect) starts over. */
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0)
		fx_buf_reset(&t->resp->headers);
	if (fx_buf_append(&t->resp->headers, p, n) < 0) {
		t->failed = -E2BIG;
		return 0;
	}
	return n;
}

/* resp is initialised by fx_http_do (fx_http_resp_init). */
static int curl_do(const struct fx_http_req *req, struct fx_http_resp *resp, char **err)
{
	struct transfer t = {.req = req, .resp = resp};
	struct curl_slist *hdrs = NULL;
	const char *method = req->method ? req->method : "GET";
	CURL *c;
	CURLcode rc;
	int r = 0;

	*err = NULL;
	t.max = resp->body.max;

	c = curl_easy_init();
	if (c == NULL) {
		*err = fx_strdupf("out of memory");
		return -ENOMEM;
	}
	for (const char *const *h = req->headers; h != NULL && *h != NULL; h++) {
		struct curl_slist *n = curl_slist_append(hdrs, *h);
		if (n == NULL) {
			r = -ENOMEM;
			*err = fx_strdupf("out of memory");
			goto out_headers;
		}
		hdrs = n;
	}
	/* curl would otherwise wait a second for a 100 Continue on large bodies. */
	hdrs = curl_slist_append(hdrs, "Expect:");

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	if (req->unix_socket != NULL)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (req->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
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
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	                 req->connect_timeout_ms ? req->connect_timeout_ms : 5000L);
	if (req->timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	if (req->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
	if (req->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}

	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && t.stopped))
		goto out_headers;
	if (t.failed == -E2BIG) {
		r = -E2BIG;
		*err = fx_strdupf("%s %s: response larger than %zu bytes", method, req->url, t.max);
	} else if (t.failed) {
		r = t.failed;
		*err = fx_strdupf("%s %s: out of memory", method, req->url);
	} else {
		const char *where = req->unix_socket ? req->unix_socket : req->url;
		switch (rc) {
		case CURLE_COULDNT_CONNECT:
			r = req->unix_socket ? -ENOENT : -ECONNREFUSED;
			break;
		case CURLE_OPERATION_TIMEDOUT:
			r = -ETIMEDOUT;
			break;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
			r = -EKEYREJECTED;
			break;
		case CURLE_SSL_CONNECT_ERROR:
			r = -EPROTO;
			break;
		default:
			r = -EIO;
			break;
		}
		*err = fx_strdupf("%s %s: cannot reach %s: %s", method, req->url, where,
		                  curl_easy_strerror(rc));
	}
out_headers:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return r;
}
