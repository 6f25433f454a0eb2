/* run.c: the worker threads: fetch one call, run it through the gateway, then
 * ack, retry later (NAK with a delay) or dead-letter it. See worker.h. */
#include "worker.h"

#include "jsq.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define HEAD_MAX (64u << 10)

static pthread_t *threads;
static int nthreads;

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static const char *hdr(natsMsg *m, const char *key)
{
	const char *v = NULL;
	if (natsMsgHeader_Get(m, key, &v) != NATS_OK)
		return NULL;
	return v;
}

/* ---- one invocation through the gateway ---- */

struct call {
	natsMsg *msg;
	struct qw_answer ans;
	int64_t last_progress;
	bool truncated;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	if (fx_buf_append(&c->ans.body, p, size * n) < 0)
		c->truncated = true; /* the rest is dropped; the status stands */
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	size_t len = size * n;
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
		fx_buf_reset(&c->ans.headers); /* a new head (after 1xx) */
	if (fx_buf_append(&c->ans.headers, p, len) < 0) {
		/* headers past the cap are not passed on */
	}
	return len;
}

static void keepalive(void *arg)
{
	natsMsg *m = arg;
	natsMsg_InProgress(m, NULL);
}

/* Tells the server the message is still being worked on, every third of the ack wait. */
static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c2, curl_off_t d)
{
	struct call *c = arg;
	int64_t now = mono_ms();
	(void)a;
	(void)b;
	(void)c2;
	(void)d;
	if (now - c->last_progress >= qw_cfg.ack_wait_ms / 3) {
		c->last_progress = now;
		keepalive(c->msg);
	}
	return qw_stopping > 1; /* a second signal aborts */
}

static int add_hdr(struct curl_slist **h, const char *line)
{
	struct curl_slist *t = curl_slist_append(*h, line);
	if (!t)
		return -ENOMEM;
	*h = t;
	return 0;
}

/* Request headers: the original ones (H-*), the call id, the attempt. */
static struct curl_slist *request_headers(natsMsg *m, const char *call_id, uint64_t attempt)
{
	const char **keys = NULL;
	int nkeys = 0, rc = 0;
	struct curl_slist *h = NULL;
	char line[8448];
	bool ctype = false;
	size_t plen = strlen(FX_JSQ_HDR_PREFIX);

	if (natsMsgHeader_Keys(m, &keys, &nkeys) == NATS_OK) {
		for (int i = 0; i < nkeys && rc == 0; i++) {
			const char **vals = NULL;
			int nv = 0;
			if (strncmp(keys[i], FX_JSQ_HDR_PREFIX, plen) != 0 || !keys[i][plen])
				continue;
			if (strcasecmp(keys[i] + plen, "Content-Type") == 0)
				ctype = true;
			if (natsMsgHeader_Values(m, keys[i], &vals, &nv) != NATS_OK)
				continue;
			for (int j = 0; j < nv && rc == 0; j++) {
				if (strpbrk(vals[j], "\r\n"))
					continue;
				snprintf(line, sizeof(line), "%s: %s", keys[i] + plen, vals[j]);
				rc = add_hdr(&h, line);
			}
			free((void *)vals);
		}
		free((void *)keys);
	}
	snprintf(line, sizeof(line), "X-Call-Id: %s", call_id);
	rc |= add_hdr(&h, line);
	snprintf(line, sizeof(line), "X-Faas-Async-Attempt: %llu", (unsigned long long)attempt);
	rc |= add_hdr(&h, line);
	rc |= add_hdr(&h, "Expect:");
	if (!ctype)
		rc |= add_hdr(&h, "Content-Type:");
	if (rc < 0) {
		curl_slist_free_all(h);
		return NULL;
	}
	return h;
}

/* Runs the call; c->ans.status 0 when the gateway could not be reached. */
static void invoke(CURL *curl, struct call *c, const char *method, const char *url,
                   struct curl_slist *h, char errbuf[CURL_ERROR_SIZE])
{
	const void *data = natsMsg_GetData(c->msg);
	int len = natsMsg_GetDataLength(c->msg);
	int64_t t0 = mono_ms();

	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, data ? data : "");
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(len > 0 ? len : 0));
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)qw_cfg.invoke_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	errbuf[0] = '\0';
	c->last_progress = t0;
	CURLcode rc = curl_easy_perform(curl);
	c->ans.status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->ans.status);
	else if (!errbuf[0])
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
	c->ans.seconds = (double)(mono_ms() - t0) / 1000.0;
}

/* ---- outcomes ---- */

static uint64_t rnd64(void)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint64_t)mono_ms();
	return r;
}

static void retry_later(natsMsg *m, const char *fn, uint64_t attempt)
{
	int64_t d = fx_jsq_backoff_ms(qw_cfg.retry_backoff_ms, qw_cfg.retry_backoff_max_ms, attempt,
	                              rnd64());
	natsMsg_NakWithDelay(m, d, NULL);
	log_debug("retry_scheduled", "function=%s attempt=%llu delay_ms=%lld", fn,
	          (unsigned long long)attempt, (long long)d);
}

/* Copies m to the dead-letter stream with why. 0 or negative errno. */
static int dead_letter(natsMsg *m, const char *fn, const char *reason, long status,
                       uint64_t attempt, uint64_t seq)
{
	char subj[128], num[32], id[160];
	const char **keys = NULL;
	int nkeys = 0, rc = 0;
	natsMsg *d = NULL;
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	const char *cid = hdr(m, FX_JSQ_H_CALL_ID);

	snprintf(subj, sizeof(subj), FX_JSQ_DLQ_SUBJECT "%s", fn);
	if (natsMsg_Create(&d, subj, NULL, natsMsg_GetData(m), natsMsg_GetDataLength(m)) != NATS_OK)
		return -ENOMEM;
	if (natsMsgHeader_Keys(m, &keys, &nkeys) == NATS_OK) {
		for (int i = 0; i < nkeys && rc == 0; i++) {
			const char **vals = NULL;
			int nv = 0;
			if (strcasecmp(keys[i], FX_JSQ_MSG_ID) == 0 ||
			    strcasecmp(keys[i], FX_JSQ_H_REASON) == 0 ||
			    strcasecmp(keys[i], FX_JSQ_H_STATUS) == 0 ||
			    strcasecmp(keys[i], FX_JSQ_H_ATTEMPTS) == 0 ||
			    strncasecmp(keys[i], "Nats-", 5) == 0)
				continue;
			if (natsMsgHeader_Values(m, keys[i], &vals, &nv) != NATS_OK)
				continue;
			for (int j = 0; j < nv && rc == 0; j++)
				rc =
				    natsMsgHeader_Add(d, keys[i], vals[j]) == NATS_OK ? 0 : -ENOMEM;
			free((void *)vals);
		}
		free((void *)keys);
	}
	rc |= natsMsgHeader_Set(d, FX_JSQ_H_REASON, reason) == NATS_OK ? 0 : -ENOMEM;
	snprintf(num, sizeof(num), "%ld", status);
	rc |= natsMsgHeader_Set(d, FX_JSQ_H_STATUS, num) == NATS_OK ? 0 : -ENOMEM;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)attempt);
	rc |= natsMsgHeader_Set(d, FX_JSQ_H_ATTEMPTS, num) == NATS_OK ? 0 : -ENOMEM;
	if (rc < 0) {
		natsMsg_Destroy(d);
		return -ENOMEM;
	}
	/* The same message dead-lettered twice (an ack lost) is stored once. */
	snprintf(id, sizeof(id), "%.80s:dead:%llu", cid ? cid : "-", (unsigned long long)seq);
	jsPubOptions_Init(&po);
	po.MsgId = id;
	po.MaxWait = 5000;
	s = js_PublishMsg(&pa, qw_js, d, &po, &jerr);
	natsMsg_Destroy(d);
	jsPubAck_Destroy(pa);
	if (s != NATS_OK) {
		log_warn("dead_letter_failed",
		         "function=%s call_id=%s err=\"%s\" jetstream_error=%d", fn,
		         cid ? cid : "-", natsStatus_GetText(s), (int)jerr);
		return -EIO;
	}
	return 0;
}

static void handle(CURL *curl, natsMsg *m)
{
	const char *subject = natsMsg_GetSubject(m);
	const char *fn = fx_jsq_function_of(subject);
	const char *method = hdr(m, FX_JSQ_H_METHOD), *path = hdr(m, FX_JSQ_H_PATH);
	const char *query = hdr(m, FX_JSQ_H_QUERY), *cid = hdr(m, FX_JSQ_H_CALL_ID);
	const char *cb = hdr(m, FX_JSQ_H_CALLBACK);
	int retries = fx_jsq_parse_retries(hdr(m, FX_JSQ_H_RETRIES));
	jsMsgMetaData *meta = NULL;
	uint64_t attempt = 1, seq = 0;
	char target[4096], url[4608], errbuf[CURL_ERROR_SIZE], reason[512];
	struct call c = {.msg = m};

	if (!fn) {
		log_warn("message_dropped",
		         "subject=\"%.100s\" reason=\"not a function's subject\"",
		         subject ? subject : "");
		natsMsg_Term(m, NULL);
		return;
	}
	if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
		attempt = meta->NumDelivered;
		seq = meta->Sequence.Stream;
		jsMsgMetaData_Destroy(meta);
	}
	if (retries < 0)
		retries = FX_JSQ_DEFAULT_RETRIES;
	if (!cid || !cid[0])
		cid = "-";
	if (!method || !method[0] || strlen(method) > 15 || strpbrk(method, " \t\r\n") ||
	    qw_target(subject, path ? path : "/", query, target, sizeof(target)) < 0) {
		if (dead_letter(m, fn, "invalid message (method or path)", 0, attempt, seq) == 0) {
			qw_metrics_count(fn, QW_C_DEAD, 0);
			natsMsg_Ack(m, NULL);
		} else {
			retry_later(m, fn, attempt);
		}
		return;
	}
	snprintf(url, sizeof(url), "%s%s", qw_cfg.gateway_url, target);

	struct curl_slist *h = request_headers(m, cid, attempt);
	if (!h) {
		retry_later(m, fn, attempt);
		return;
	}
	fx_buf_init(&c.ans.headers, HEAD_MAX);
	fx_buf_init(&c.ans.body, qw_cfg.max_response);
	qw_metrics_inflight(fn, 1);
	invoke(curl, &c, method, url, h, errbuf);
	qw_metrics_inflight(fn, -1);
	curl_slist_free_all(h);

	switch (qw_plan(c.ans.status, attempt, retries)) {
	case QW_ACK:
		qw_metrics_count(fn, QW_C_COMPLETED, c.ans.status);
		log_debug("call_done", "function=%s call_id=%s status=%ld attempt=%llu", fn, cid,
		          c.ans.status, (unsigned long long)attempt);
		if (cb)
			qw_callback(cb, fn, cid, &c.ans, false, keepalive, m);
		natsMsg_Ack(m, NULL);
		break;
	case QW_RETRY:
		qw_metrics_count(fn, QW_C_RETRIED, c.ans.status);
		log_info("call_failed",
		         "function=%s call_id=%s status=%ld attempt=%llu retries=%d "
		         "err=\"%s\" next=retry",
		         fn, cid, c.ans.status, (unsigned long long)attempt, retries,
		         c.ans.status ? "status" : errbuf);
		retry_later(m, fn, attempt);
		break;
	case QW_DEAD:
		if (c.ans.status)
			snprintf(reason, sizeof(reason), "status %ld after %llu attempts",
			         c.ans.status, (unsigned long long)attempt);
		else
			snprintf(reason, sizeof(reason), "unreachable (%.300s) after %llu attempts",
			         errbuf, (unsigned long long)attempt);
		if (dead_letter(m, fn, reason, c.ans.status, attempt, seq) < 0) {
			retry_later(m, fn, attempt); /* not stored: keep it */
			break;
		}
		qw_metrics_count(fn, QW_C_DEAD, c.ans.status);
		log_warn("call_dead_lettered", "function=%s call_id=%s reason=\"%s\"", fn, cid,
		         reason);
		if (cb)
			qw_callback(cb, fn, cid, &c.ans, true, keepalive, m);
		natsMsg_Ack(m, NULL);
		break;
	}
	fx_buf_release(&c.ans.headers);
	fx_buf_release(&c.ans.body);
}

/* ---- the threads ---- */

static natsSubscription *subscribe(void)
{
	natsSubscription *sub = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	char *err = NULL;

	if (!fx_jsq_connected(qw_nc))
		return NULL;
	if (fx_jsq_ensure(qw_js, qw_cfg.ack_wait_ms, &err) < 0) {
		log_warn("nats_setup_failed", "err=\"%s\"", err ? err : "?");
		free(err);
		return NULL;
	}
	jsSubOptions_Init(&so);
	so.Stream = FX_JSQ_STREAM;
	so.Consumer = FX_JSQ_CONSUMER;
	if (js_PullSubscribe(&sub, qw_js, FX_JSQ_SUBJECT "*", FX_JSQ_CONSUMER, NULL, &so, &jerr) !=
	    NATS_OK) {
		log_warn("subscribe_failed", "err=\"%s\" jetstream_error=%d",
		         nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "?", (int)jerr);
		return NULL;
	}
	return sub;
}

static void *worker(void *arg)
{
	natsSubscription *sub = NULL;
	CURL *curl = curl_easy_init();
	int failures = 0;
	(void)arg;

	if (!curl) {
		log_error("worker_failed", "err=\"curl_easy_init\"");
		return NULL;
	}
	while (!qw_stopping) {
		natsMsgList list = {0};
		jsErrCode jerr = 0;
		natsStatus s;

		if (!sub && !(sub = subscribe())) {
			sleep_ms(500);
			continue;
		}
		s = natsSubscription_Fetch(&list, sub, 1, 1000, &jerr);
		if (s == NATS_TIMEOUT)
			continue;
		if (s != NATS_OK) {
			if (++failures % 20 == 1)
				log_warn("fetch_failed", "err=\"%s\" jetstream_error=%d",
				         natsStatus_GetText(s), (int)jerr);
			if (failures >= 10) { /* the consumer may be gone: set up again */
				natsSubscription_Destroy(sub);
				sub = NULL;
				failures = 0;
			}
			sleep_ms(250);
			continue;
		}
		failures = 0;
		for (int i = 0; i < list.Count; i++)
			handle(curl, list.Msgs[i]);
		natsMsgList_Destroy(&list);
	}
	natsSubscription_Destroy(sub);
	curl_easy_cleanup(curl);
	return NULL;
}

int qw_run_start(void)
{
	threads = calloc((size_t)qw_cfg.concurrency, sizeof(*threads));
	if (!threads)
		return -ENOMEM;
	for (nthreads = 0; nthreads < qw_cfg.concurrency; nthreads++)
		if (pthread_create(&threads[nthreads], NULL, worker, NULL) != 0)
			return -EAGAIN;
	return 0;
}

void qw_run_stop(void)
{
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	threads = NULL;
	nthreads = 0;
}
