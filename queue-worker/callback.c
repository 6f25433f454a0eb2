/* callback.c: POSTs a call's answer to its X-Callback-Url. */
#include "worker.h"

#include "log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* The function's answer headers worth passing on (not framing, not ours). */
static bool pass_header(const char *line, size_t len)
{
	static const char *const skip[] = {
	    "content-length:", "transfer-encoding:", "connection:", "keep-alive:", "x-call-id:",
	    "date:",           "x-duration-seconds:"};
	if (len < 3 || strncasecmp(line, "HTTP/", 5) == 0 || !memchr(line, ':', len))
		return false;
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strncasecmp(line, skip[i], strlen(skip[i])) == 0)
			return false;
	return true;
}

static struct curl_slist *headers_for(const char *fn, const char *call_id,
                                      const struct qw_answer *a, bool dead)
{
	struct curl_slist *h = NULL, *t;
	char line[512];
	bool ok = true;

#define ADD(s)                                                                                     \
	do {                                                                                       \
		t = curl_slist_append(h, (s));                                                     \
		if (!t)                                                                            \
			ok = false;                                                                \
		else                                                                               \
			h = t;                                                                     \
	} while (0)
	snprintf(line, sizeof(line), "X-Call-Id: %s", call_id);
	ADD(line);
	snprintf(line, sizeof(line), "X-Function-Name: %s", fn);
	ADD(line);
	snprintf(line, sizeof(line), "X-Function-Status: %ld", a->status);
	ADD(line);
	snprintf(line, sizeof(line), "X-Duration-Seconds: %.6f", a->seconds);
	ADD(line);
	if (dead)
		ADD("X-Faas-Dead-Letter: true");
	ADD("Expect:");
	bool ctype = false;
	const char *p = a->headers.data ? a->headers.data : "";
	while (*p && ok) {
		const char *e = strstr(p, "\r\n");
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len && len < sizeof(line) - 1 && pass_header(p, len)) {
			memcpy(line, p, len);
			line[len] = '\0';
			if (strncasecmp(line, "content-type:", 13) == 0)
				ctype = true;
			ADD(line);
		}
		p += len + (e ? 2 : 0);
	}
	if (!ctype)
		ADD("Content-Type:"); /* not curl's form type */
#undef ADD
	if (!ok) {
		curl_slist_free_all(h);
		return NULL;
	}
	return h;
}

bool qw_callback(const char *url, const char *fn, const char *call_id, const struct qw_answer *a,
                 bool dead, void (*keepalive)(void *), void *arg)
{
	struct curl_slist *h = headers_for(fn, call_id, a, dead);
	CURL *c = curl_easy_init();
	bool delivered = false;
	long status = 0;
	int64_t delay = 500;

	if (!h || !c) {
		log_warn("callback_failed", "function=%s call_id=%s err=\"out of memory\"", fn,
		         call_id);
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, a->body.data ? a->body.data : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->body.len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)qw_cfg.callback_timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	for (int64_t i = 0; i <= qw_cfg.callback_retries && !qw_stopping; i++) {
		if (i > 0) {
			struct timespec ts = {(time_t)(delay / 1000),
			                      (long)(delay % 1000) * 1000000L};
			nanosleep(&ts, NULL);
			delay *= 2;
		}
		if (keepalive)
			keepalive(arg);
		CURLcode rc = curl_easy_perform(c);
		status = 0;
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		/* An answer other than 5xx or 429 is final: retrying cannot help. */
		if (rc == CURLE_OK && status < 500 && status != 429) {
			delivered = true;
			break;
		}
		log_warn("callback_retry",
		         "function=%s call_id=%s attempt=%lld status=%ld err=\"%s\"", fn, call_id,
		         (long long)i + 1, status,
		         rc == CURLE_OK ? "status" : curl_easy_strerror(rc));
	}
	if (delivered)
		log_debug("callback", "function=%s call_id=%s status=%ld", fn, call_id, status);
	else
		log_warn("callback_failed", "function=%s call_id=%s url=\"%.200s\" status=%ld", fn,
		         call_id, url, status);
out:
	qw_metrics_callback(delivered);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return delivered;
}
