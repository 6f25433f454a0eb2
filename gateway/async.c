/* async.c: POST /async-function/NAME[/rest][?query]: the call is stored in
 * NATS JetStream (common/jsq.h) and answered 202 + X-Call-Id once the server
 * has acknowledged the publish; the queue worker (queue-worker/) runs it later.
 *
 * Threads: the loop thread that owns the client connection reads the request
 * (method, path, query, headers, body) into a struct gw_async, then suspends
 * the connection and hands the call to a bounded queue. A small pool of
 * publisher threads makes the blocking libnats calls (the function lookup
 * that may wait for a registry poll, the publish and its acknowledgement)
 * and resumes the connection with the outcome; the loop thread answers. So
 * no loop thread ever waits on NATS.
 *
 * Statuses: 202 stored; 400 bad name or X-Callback-Url; 404 unknown function;
 * 405 not POST; 413 body over async_max_body (or the server's max_payload);
 * 501 no nats_url configured; 503 + Retry-After when NATS is down, the publish
 * was not acknowledged in time, or the queue of calls to publish is full. A 503
 * carries X-Call-Id: resending with it within 2 minutes cannot store the call
 * twice (the call id is the message's Nats-Msg-Id). */
#include "http1.h"
#include "gateway.h"

#include "jsq.h"
#include "log.h"

#include <errno.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define PREFIX       "/async-function/"
#define SYS_PREFIX   "/system/async/"
#define DLQ_MAX      1000        /* dead letters listed or replayed by one request */
#define HDRS_MAX     (64u << 10) /* copied request headers */
#define CALLBACK_MAX 2048
#define WAIT_REG_MS  1500
#define MAX_FUNCS    4096 /* metric series kept */

enum astate { A_NEW, A_BODY, A_QUEUED, A_DONE };
enum akind { K_CALL, K_DLQ_LIST, K_DLQ_REPLAY };

struct gw_async {
	struct fx_loop *loop;
	struct MHD_Connection *c;
	struct fx_resume resume;
	char *uri;
	enum astate st;
	enum akind kind;
	char name[GW_NAME_MAX + 1]; /* the function; "" for every function (dead letters) */
	char ns[GW_NAME_MAX + 1];   /* NAME.NAMESPACE: the namespace; "" when not given */
	uint64_t seq;               /* dead letters: only this one (0: any) */
	int limit_items;            /* dead letters: at most this many */
	struct fx_buf out;          /* dead letters: the JSON answer */
	char *path;                 /* "/rest" (decoded as received: raw) */
	char *query;                /* without '?', NULL when none */
	char method[16];
	char call_id[80];
	char callback[CALLBACK_MAX + 1];
	struct fx_buf hdrs; /* "name\0value\0" pairs */
	struct fx_buf body;
	uint64_t limit;
	unsigned status; /* the answer once known */
	const char *msg; /* static error message */
	int retry_after;
	struct gw_async *next; /* publish queue */
};

static natsConnection *nc;
static jsCtx *js;
static struct fx_jsq_opts jopts;
static atomic_bool need_ensure = true;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct gw_async *qhead, *qtail;
static size_t qlen;
static atomic_bool stopping;
static pthread_t *pubs;
static int npubs;

/* metrics */
static atomic_ullong rejected[4]; /* unavailable, too_large, unknown, full */
static const char *const reject_reason[4] = {"unavailable", "too_large", "unknown_function",
                                             "queue_full"};
struct fcount {
	char name[GW_NAME_MAX + 1];
	unsigned long long n;
	struct fcount *next;
};
static struct fcount *queued_by_fn;
static size_t nqueued_fns;

static void count_queued(const char *name)
{
	struct fcount *f;
	pthread_mutex_lock(&mu);
	for (f = queued_by_fn; f && strcmp(f->name, name) != 0; f = f->next)
		;
	if (!f && nqueued_fns < MAX_FUNCS && (f = calloc(1, sizeof(*f)))) {
		snprintf(f->name, sizeof(f->name), "%s", name);
		f->next = queued_by_fn;
		queued_by_fn = f;
		nqueued_fns++;
	}
	if (f)
		f->n++;
	pthread_mutex_unlock(&mu);
}

bool gw_async_uri(const char *uri)
{
	return strncmp(uri, PREFIX, sizeof(PREFIX) - 1) == 0 ||
	       strncmp(uri, SYS_PREFIX, sizeof(SYS_PREFIX) - 1) == 0;
}

struct gw_async *gw_async_new(struct fx_loop *loop, const char *uri)
{
	struct gw_async *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->uri = strdup(uri);
	if (!a->uri) {
		free(a);
		return NULL;
	}
	a->loop = loop;
	fx_buf_init(&a->hdrs, HDRS_MAX);
	fx_buf_init(&a->out, 16u << 20);
	return a;
}

void gw_async_completed(struct gw_async *a)
{
	if (!a)
		return;
	fx_buf_release(&a->hdrs);
	fx_buf_release(&a->body);
	fx_buf_release(&a->out);
	free(a->path);
	free(a->query);
	free(a->uri);
	free(a);
}

/* ---- the answer ---- */

static enum MHD_Result answer(struct gw_async *a)
{
	char body[320];
	int n;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (a->status == 200 && a->out.data)
		resp =
		    MHD_create_response_from_buffer(a->out.len, a->out.data, MHD_RESPMEM_MUST_COPY);
	else {
		if (a->status == 202)
			n = snprintf(body, sizeof(body), "{\"callId\":\"%s\"}\n", a->call_id);
		else
			n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n",
			             a->msg ? a->msg : "error");
		resp = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (a->call_id[0] && a->kind == K_CALL)
		MHD_add_response_header(resp, "X-Call-Id", a->call_id);
	if (a->status == 405)
		MHD_add_response_header(resp, "Allow", a->kind == K_DLQ_LIST ? "GET" : "POST");
	if (a->status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"faas\"");
	if (a->retry_after > 0) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%d", a->retry_after);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	ret = MHD_queue_response(a->c, a->status, resp);
	MHD_destroy_response(resp);
	a->st = A_DONE;
	return ret;
}

static void set_error(struct gw_async *a, unsigned status, const char *msg, int retry_after)
{
	if (a->status)
		return; /* the first error wins */
	a->status = status;
	a->msg = msg;
	a->retry_after = retry_after;
	if (strncmp(a->uri, SYS_PREFIX, sizeof(SYS_PREFIX) - 1) == 0)
		return; /* the counters are about calls */
	if (status == 503 && strncmp(msg, "too many", 8) == 0)
		atomic_fetch_add(&rejected[3], 1);
	else if (status == 503)
		atomic_fetch_add(&rejected[0], 1);
	else if (status == 413)
		atomic_fetch_add(&rejected[1], 1);
	else if (status == 404)
		atomic_fetch_add(&rejected[2], 1);
}

/* ---- reading the request (loop thread) ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void new_call_id(char out[80])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		uint64_t t = now_ns() ^ (uint64_t)(uintptr_t)out;
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 37);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 80, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

struct hctx {
	struct gw_async *a;
	const char *connection;
	bool full;
};

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	struct hctx *h = cls;
	(void)kind;
	if (!key || !value || fx_http1_hop(key, h->connection) || strcasecmp(key, "Host") == 0 ||
	    strcasecmp(key, "Content-Length") == 0 || strcasecmp(key, "X-Callback-Url") == 0 ||
	    strcasecmp(key, "X-Call-Id") == 0 || strcasecmp(key, "Expect") == 0)
		return MHD_YES;
	/* NATS header names are tokens without ':' and values one line */
	if (!key[0] || strpbrk(key, ": \t\r\n") || strlen(value) > 8192 ||
	    !fx_http1_value_ok(value, strlen(value)))
		return MHD_YES;
	if (fx_buf_append(&h->a->hdrs, key, strlen(key) + 1) < 0 ||
	    fx_buf_append(&h->a->hdrs, value, strlen(value) + 1) < 0) {
		h->full = true;
		return MHD_NO;
	}
	return MHD_YES;
}

/* Splits "/async-function/NAME[.NAMESPACE][/rest][?query]"; false for a bad
 * name (as for /function/: no function has it, so 404). */
static bool parse_uri(struct gw_async *a)
{
	const char *p = a->uri + sizeof(PREFIX) - 1;
	size_t n = strcspn(p, "/?");
	const char *q, *dot = memchr(p, '.', n);
	size_t nn = dot ? (size_t)(dot - p) : n;

	if (!gw_name_valid(p, nn) || (dot && !gw_name_valid(dot + 1, n - nn - 1)))
		return false;
	memcpy(a->name, p, nn);
	a->name[nn] = '\0';
	if (dot) {
		memcpy(a->ns, dot + 1, n - nn - 1);
		a->ns[n - nn - 1] = '\0';
	}
	p += n;
	q = strchr(p, '?');
	if (q) {
		a->path = q == p ? strdup("/") : strndup(p, (size_t)(q - p));
		a->query = q[1] ? strdup(q + 1) : NULL;
	} else {
		a->path = strdup(p[0] ? p : "/");
	}
	return a->path != NULL;
}

/* /system/async/dead-letters[/replay]?function=NAME&seq=N&limit=N (basic auth). */
static enum MHD_Result system_call(struct MHD_Connection *c, struct gw_async *a, const char *method)
{
	const char *fn = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "function");
	const char *seq = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "seq");
	const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	size_t plen = strcspn(a->uri, "?");
	char *end;

#define H(name) MHD_lookup_connection_value(c, MHD_HEADER_KIND, name)
	const struct gw_browser b = {H("Host"),           H("Origin"),         H("Sec-Fetch-Site"),
	                             H("Sec-Fetch-Mode"), H("Sec-Fetch-Dest"), H("Referer"),
	                             H("Content-Type")};
#undef H
	const char *why = gw_cross_site_refused(method, &b);

	/* As for the controller's routes (proxy.c): before auth, a refused page
	 * gets no login prompt either. */
	if (why) {
		log_warn("cross_site_refused", "method=%s uri=%.200s", method, a->uri);
		return set_error(a, 403, why, 0), answer(a);
	}
	if (gw_cfg.basic_auth &&
	    !gw_basic_auth_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
	                      gw_cfg.auth_user, gw_cfg.auth_password))
		return set_error(a, 401, "unauthorized", 0), answer(a);
	if (plen == strlen(SYS_PREFIX "dead-letters") &&
	    strncmp(a->uri, SYS_PREFIX "dead-letters", plen) == 0)
		a->kind = K_DLQ_LIST;
	else if (plen == strlen(SYS_PREFIX "dead-letters/replay") &&
	         strncmp(a->uri, SYS_PREFIX "dead-letters/replay", plen) == 0)
		a->kind = K_DLQ_REPLAY;
	else
		return set_error(a, 404, "not found", 0), answer(a);
	if (strcmp(method, a->kind == K_DLQ_LIST ? "GET" : "POST") != 0)
		return set_error(a, 405, "method not allowed", 0), answer(a);
	if (!nc)
		return set_error(a, 501, "asynchronous calls are not configured (nats_url)", 0),
		       answer(a);
	if (fn && fn[0]) {
		if (!gw_name_valid(fn, strlen(fn)))
			return set_error(a, 400, "invalid function name", 0), answer(a);
		snprintf(a->name, sizeof(a->name), "%s", fn);
	}
	a->limit_items = a->kind == K_DLQ_LIST ? 100 : DLQ_MAX;
	if (lim) {
		long v = strtol(lim, &end, 10);
		if (*end || end == lim || v < 1 || v > DLQ_MAX)
			return set_error(a, 400, "limit: expected 1 to 1000", 0), answer(a);
		a->limit_items = (int)v;
	}
	if (seq) {
		unsigned long long v = strtoull(seq, &end, 10);
		if (*end || end == seq || v == 0 || seq[0] == '-')
			return set_error(a, 400, "seq: expected a positive sequence number", 0),
			       answer(a);
		a->seq = v;
	}
	return MHD_YES;
}

static enum MHD_Result first_call(struct MHD_Connection *c, struct gw_async *a, const char *method)
{
	const char *cid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Call-Id");
	const char *cb = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Callback-Url");
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	struct hctx h = {a, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection"), false};

	a->c = c;
	a->st = A_BODY;
	snprintf(a->method, sizeof(a->method), "%s", method);
	if (strncmp(a->uri, SYS_PREFIX, sizeof(SYS_PREFIX) - 1) == 0) {
		fx_buf_init(&a->body, 0); /* a body is read and dropped */
		a->limit = 0;
		return system_call(c, a, method);
	}
	if (cid && cid[0] && strlen(cid) <= 64 && fx_http1_value_ok(cid, strlen(cid)) &&
	    !strpbrk(cid, " \t"))
		snprintf(a->call_id, sizeof(a->call_id), "%s", cid);
	else
		new_call_id(a->call_id);
	a->limit = gw_cfg.async_max_body;
	if (gw_cfg.max_body && gw_cfg.max_body < a->limit)
		a->limit = gw_cfg.max_body;
	fx_buf_init(&a->body, a->limit);

	if (strcmp(method, "POST") != 0)
		return set_error(a, 405, "method not allowed (asynchronous calls are POST)", 0),
		       answer(a);
	if (!parse_uri(a))
		return set_error(a, 404,
		                 "function not found (not a valid name: NAME or NAME.NAMESPACE)",
		                 0),
		       answer(a);
	if (!nc)
		return set_error(a, 501, "asynchronous calls are not configured (nats_url)", 0),
		       answer(a);
	if (cb) {
		bool ok =
		    strlen(cb) <= CALLBACK_MAX && fx_http1_value_ok(cb, strlen(cb)) &&
		    !strpbrk(cb, " \t") &&
		    (strncasecmp(cb, "http://", 7) == 0 || strncasecmp(cb, "https://", 8) == 0);
		if (!ok)
			return set_error(a, 400,
			                 "X-Callback-Url must be an http:// or https:// URL", 0),
			       answer(a);
		snprintf(a->callback, sizeof(a->callback), "%s", cb);
	}
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(cl, &end, 10);
		if (!errno && *end == '\0' && end != cl && v > a->limit)
			return set_error(a, 413, "request body too large", 0), answer(a);
	}
	MHD_get_connection_values(c, MHD_HEADER_KIND, copy_header, &h);
	if (h.full)
		return set_error(a, 431, "request headers too large", 0), answer(a);
	return MHD_YES;
}

/* Queues a for the publishers, its connection suspended; a publisher hands it
 * back through fx_loop_resume (the loop's own thread resumes it, after this
 * handler has returned). false: full. */
static bool enqueue(struct gw_async *a)
{
	bool ok;
	pthread_mutex_lock(&mu);
	ok = !stopping && qlen < (size_t)gw_cfg.async_queue;
	if (ok) {
		a->st = A_QUEUED;
		MHD_suspend_connection(a->c);
		a->next = NULL;
		if (qtail)
			qtail->next = a;
		else
			qhead = a;
		qtail = a;
		qlen++;
		pthread_cond_signal(&cv);
	}
	pthread_mutex_unlock(&mu);
	return ok;
}

int gw_async_dispatch(struct MHD_Connection *c, struct gw_async *a, const char *method,
                      const char *upload, size_t *upload_size)
{
	switch (a->st) {
	case A_NEW:
		return first_call(c, a, method);
	case A_BODY:
		if (*upload_size > 0) {
			size_t n = *upload_size;
			*upload_size = 0;
			if (!a->status && a->kind == K_CALL &&
			    fx_buf_append(&a->body, upload, n) < 0)
				set_error(a, a->body.len + n > a->limit ? 413 : 503,
				          a->body.len + n > a->limit ? "request body too large"
				                                     : "out of memory",
				          0);
			return MHD_YES;
		}
		if (a->status)
			return answer(a);
		/* The whole request is in: publish it on another thread. */
		if (!enqueue(a)) {
			if (atomic_load(&stopping))
				set_error(a, 503, "the gateway is shutting down", 1);
			else
				set_error(a, 503,
				          "too many asynchronous calls waiting to be stored", 1);
			return answer(a);
		}
		return MHD_YES;
	case A_QUEUED:
		return answer(a); /* resumed by a publisher: status is set */
	case A_DONE:
		break;
	}
	*upload_size = 0;
	return MHD_YES;
}

/* ---- publishing (publisher threads) ---- */

static void on_disconnect(void *arg)
{
	(void)arg;
	log_warn("nats_disconnected", "url=%s", gw_cfg.nats_url);
}

static void on_reconnect(void *arg)
{
	(void)arg;
	atomic_store(&need_ensure, true);
	log_info("nats_connected", "url=%s", gw_cfg.nats_url);
}

static bool ensure(void)
{
	char *err = NULL;
	if (!atomic_load(&need_ensure))
		return true;
	if (fx_jsq_ensure(js, 0, &err) < 0) {
		log_warn("nats_stream_setup_failed", "err=\"%s\"", err ? err : "?");
		free(err);
		return false;
	}
	atomic_store(&need_ensure, false);
	log_info("nats_streams_ready", "stream=%s", FX_JSQ_STREAM);
	return true;
}

/* Waits (bounded) for a registry poll when the name is unknown. */
static struct gw_fn *find_function(const char *name)
{
	uint64_t seq;
	struct gw_fn *f = gw_registry_lookup(name, &seq);
	if (f || !gw_registry_poll_soon())
		return f;
	for (int i = 0; i < WAIT_REG_MS / 20; i++) {
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
		if (gw_registry_seq() != seq)
			return gw_registry_lookup(name, NULL);
	}
	return NULL;
}

static int add_header(natsMsg *m, const char *k, const char *v)
{
	return natsMsgHeader_Add(m, k, v) == NATS_OK ? 0 : -ENOMEM;
}

static void publish(struct gw_async *a)
{
	natsMsg *m = NULL;
	jsPubAck *pa = NULL;
	jsPubOptions po;
	jsErrCode jerr = 0;
	natsStatus s;
	char subj[sizeof(FX_JSQ_SUBJECT) + GW_NAME_MAX], num[32], key[300];
	int retries, rc = 0;

	if (!gw_registry_loaded()) {
		set_error(a, 503, "the function registry is not loaded yet", 1);
		return;
	}
	struct gw_fn *f = find_function(a->name);
	if (f && a->ns[0] && strcmp(a->ns, f->ns) != 0)
		f = NULL; /* NAME.NAMESPACE of another install */
	if (!f) {
		set_error(a, 404, "function not found", 0);
		return;
	}
	retries = f->async_retries >= 0 ? f->async_retries : FX_JSQ_DEFAULT_RETRIES;
	if (!fx_jsq_connected(nc) || !ensure()) {
		set_error(a, 503, "the queue (NATS) is unavailable", 2);
		return;
	}
	if (a->body.len + a->hdrs.len + 4096 > (size_t)natsConnection_GetMaxPayload(nc)) {
		set_error(a, 413, "request body too large for the queue (max_payload)", 0);
		return;
	}
	snprintf(subj, sizeof(subj), FX_JSQ_SUBJECT "%s", a->name);
	if (natsMsg_Create(&m, subj, NULL, a->body.data ? a->body.data : "", (int)a->body.len) !=
	    NATS_OK) {
		set_error(a, 503, "out of memory", 1);
		return;
	}
	snprintf(num, sizeof(num), "%d", retries);
	rc |= add_header(m, FX_JSQ_H_METHOD, a->method);
	rc |= add_header(m, FX_JSQ_H_PATH, a->path);
	if (a->query)
		rc |= add_header(m, FX_JSQ_H_QUERY, a->query);
	rc |= add_header(m, FX_JSQ_H_CALL_ID, a->call_id);
	if (a->callback[0])
		rc |= add_header(m, FX_JSQ_H_CALLBACK, a->callback);
	rc |= add_header(m, FX_JSQ_H_RETRIES, num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)now_ns());
	rc |= add_header(m, FX_JSQ_H_QUEUED, num);
	for (size_t off = 0; off < a->hdrs.len && rc == 0;) {
		const char *k = a->hdrs.data + off;
		const char *v = k + strlen(k) + 1;
		off += strlen(k) + strlen(v) + 2;
		snprintf(key, sizeof(key), FX_JSQ_HDR_PREFIX "%s", k);
		rc |= add_header(m, key, v);
	}
	if (rc < 0) {
		natsMsg_Destroy(m);
		set_error(a, 503, "out of memory", 1);
		return;
	}
	jsPubOptions_Init(&po);
	po.MaxWait = gw_cfg.async_publish_timeout_ms;
	po.MsgId = a->call_id;
	s = js_PublishMsg(&pa, js, m, &po, &jerr);
	if (s == NATS_NO_RESPONDERS) { /* the stream is gone (a new server): make it again */
		atomic_store(&need_ensure, true);
		if (ensure())
			s = js_PublishMsg(&pa, js, m, &po, &jerr);
	}
	natsMsg_Destroy(m);
	if (s == NATS_OK) {
		a->status = 202;
		count_queued(a->name);
		jsPubAck_Destroy(pa);
		return;
	}
	log_warn("async_publish_failed", "function=%s call_id=%s err=\"%s\" jetstream_error=%d",
	         a->name, a->call_id, natsStatus_GetText(s), (int)jerr);
	if (s == NATS_MAX_PAYLOAD)
		set_error(a, 413, "request body too large for the queue (max_payload)", 0);
	else
		set_error(a, 503, "the queue (NATS) did not store the call", 2);
}

/* ---- the dead-letter stream (publisher threads) ---- */

static const char *mhdr(natsMsg *m, const char *k)
{
	const char *v = NULL;
	return natsMsgHeader_Get(m, k, &v) == NATS_OK ? v : NULL;
}

static uint64_t msg_seq(natsMsg *m)
{
	uint64_t seq = natsMsg_GetSequence(m);
	const char *v = mhdr(m, "Nats-Sequence");
	return seq ? seq : (v ? strtoull(v, NULL, 10) : 0);
}

/* Calls fn for each dead letter of a->name (or all), from sequence 1 or
 * only a->seq, at most a->limit_items. 0, or -EIO when the stream could not
 * be read. */
static int dlq_each(struct gw_async *a, int (*fn)(struct gw_async *a, natsMsg *m, void *arg),
                    void *arg)
{
	char subj[sizeof(FX_JSQ_DLQ_SUBJECT) + GW_NAME_MAX];
	uint64_t seq = a->seq ? a->seq : 1;
	jsOptions o;

	snprintf(subj, sizeof(subj), FX_JSQ_DLQ_SUBJECT "%s", a->name[0] ? a->name : "*");
	jsOptions_Init(&o);
	o.Wait = 3000;
	for (int n = 0; n < a->limit_items; n++) {
		jsDirectGetMsgOptions dg;
		natsMsg *m = NULL;
		natsStatus s;
		jsDirectGetMsgOptions_Init(&dg);
		dg.Sequence = seq;
		if (!a->seq)
			dg.NextBySubject = subj;
		s = js_DirectGetMsg(&m, js, FX_JSQ_DLQ_STREAM, &o, &dg);
		if (s == NATS_NOT_FOUND)
			return 0;
		if (s != NATS_OK) {
			log_warn("dead_letters_read_failed", "err=\"%s\"", natsStatus_GetText(s));
			return -EIO;
		}
		uint64_t got = msg_seq(m);
		const char *f = fx_jsq_function_of(natsMsg_GetSubject(m));
		int rc = 0;
		if (f && (!a->name[0] || strcmp(f, a->name) == 0))
			rc = fn(a, m, arg);
		natsMsg_Destroy(m);
		if (rc < 0)
			return rc;
		if (a->seq || got == 0)
			return 0;
		seq = got + 1;
	}
	return 0;
}

static void jstr(struct json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static int list_one(struct gw_async *a, natsMsg *m, void *arg)
{
	struct json_object *arr = arg, *o = json_object_new_object();
	const char *v;
	(void)a;
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "seq", json_object_new_uint64(msg_seq(m)));
	jstr(o, "function", fx_jsq_function_of(natsMsg_GetSubject(m)));
	jstr(o, "callId", mhdr(m, FX_JSQ_H_CALL_ID));
	jstr(o, "reason", mhdr(m, FX_JSQ_H_REASON));
	if ((v = mhdr(m, FX_JSQ_H_STATUS)))
		json_object_object_add(o, "status", json_object_new_int(atoi(v)));
	if ((v = mhdr(m, FX_JSQ_H_ATTEMPTS)))
		json_object_object_add(o, "attempts", json_object_new_int(atoi(v)));
	v = mhdr(m, FX_JSQ_H_REPLAYS);
	json_object_object_add(o, "replays", json_object_new_int(v ? atoi(v) : 0));
	jstr(o, "method", mhdr(m, FX_JSQ_H_METHOD));
	jstr(o, "path", mhdr(m, FX_JSQ_H_PATH));
	jstr(o, "query", mhdr(m, FX_JSQ_H_QUERY));
	jstr(o, "callbackUrl", mhdr(m, FX_JSQ_H_CALLBACK));
	if ((v = mhdr(m, FX_JSQ_H_QUEUED))) {
		char ts[40];
		time_t t = (time_t)(strtoull(v, NULL, 10) / 1000000000u);
		struct tm tm;
		if (gmtime_r(&t, &tm) && strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm))
			jstr(o, "queuedAt", ts);
	}
	json_object_object_add(o, "bodyBytes", json_object_new_int(natsMsg_GetDataLength(m)));
	json_object_array_add(arr, o);
	return 0;
}

static void dlq_list(struct gw_async *a)
{
	struct json_object *arr = json_object_new_array();
	const char *txt;
	if (!arr) {
		set_error(a, 503, "out of memory", 1);
		return;
	}
	if (dlq_each(a, list_one, arr) < 0) {
		set_error(a, 503, "the dead-letter stream could not be read", 2);
	} else {
		txt = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
		if (fx_buf_puts(&a->out, txt) < 0 || fx_buf_puts(&a->out, "\n") < 0)
			set_error(a, 503, "out of memory", 1);
		else
			a->status = 200;
	}
	json_object_put(arr);
}

struct replay_count {
	int replayed, failed;
};

/* Stores the call again in FAAS_ASYNC, then removes the dead letter. */
static int replay_one(struct gw_async *a, natsMsg *m, void *arg)
{
	struct replay_count *rc = arg;
	const char *fn = fx_jsq_function_of(natsMsg_GetSubject(m));
	const char *cid = mhdr(m, FX_JSQ_H_CALL_ID), *rp = mhdr(m, FX_JSQ_H_REPLAYS);
	const char **keys = NULL;
	int nkeys = 0, err = 0;
	uint64_t seq = msg_seq(m);
	char subj[sizeof(FX_JSQ_SUBJECT) + GW_NAME_MAX], id[160], num[16];
	natsMsg *n = NULL;
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	(void)a;

	snprintf(subj, sizeof(subj), FX_JSQ_SUBJECT "%s", fn);
	if (natsMsg_Create(&n, subj, NULL, natsMsg_GetData(m), natsMsg_GetDataLength(m)) != NATS_OK)
		return -ENOMEM;
	if (natsMsgHeader_Keys(m, &keys, &nkeys) == NATS_OK) {
		for (int i = 0; i < nkeys && !err; i++) {
			const char **vals = NULL;
			int nv = 0;
			if (strncasecmp(keys[i], "Nats-", 5) == 0 ||
			    strcasecmp(keys[i], FX_JSQ_H_REASON) == 0 ||
			    strcasecmp(keys[i], FX_JSQ_H_STATUS) == 0 ||
			    strcasecmp(keys[i], FX_JSQ_H_ATTEMPTS) == 0 ||
			    strcasecmp(keys[i], FX_JSQ_H_REPLAYS) == 0)
				continue;
			if (natsMsgHeader_Values(m, keys[i], &vals, &nv) != NATS_OK)
				continue;
			for (int j = 0; j < nv && !err; j++)
				err = natsMsgHeader_Add(n, keys[i], vals[j]) != NATS_OK;
			free((void *)vals);
		}
		free((void *)keys);
	}
	snprintf(num, sizeof(num), "%d", (rp ? atoi(rp) : 0) + 1);
	err |= natsMsgHeader_Set(n, FX_JSQ_H_REPLAYS, num) != NATS_OK;
	if (err) {
		natsMsg_Destroy(n);
		return -ENOMEM;
	}
	/* Replaying the same dead letter twice stores it once. */
	snprintf(id, sizeof(id), "%.80s:replay:%llu", cid ? cid : "-", (unsigned long long)seq);
	jsPubOptions_Init(&po);
	po.MsgId = id;
	po.MaxWait = gw_cfg.async_publish_timeout_ms;
	natsStatus s = js_PublishMsg(&pa, js, n, &po, &jerr);
	natsMsg_Destroy(n);
	jsPubAck_Destroy(pa);
	if (s != NATS_OK) {
		rc->failed++;
		log_warn("dead_letter_replay_failed", "function=%s seq=%llu err=\"%s\"", fn,
		         (unsigned long long)seq, natsStatus_GetText(s));
		return 0;
	}
	if (js_DeleteMsg(js, FX_JSQ_DLQ_STREAM, seq, NULL, &jerr) != NATS_OK)
		log_warn("dead_letter_delete_failed", "function=%s seq=%llu", fn,
		         (unsigned long long)seq);
	rc->replayed++;
	return 0;
}

static void dlq_replay(struct gw_async *a)
{
	struct replay_count rc = {0, 0};
	if (dlq_each(a, replay_one, &rc) < 0 && rc.replayed == 0) {
		set_error(a, 503, "the dead-letter stream could not be read", 2);
		return;
	}
	log_info("dead_letters_replayed", "function=%s replayed=%d failed=%d",
	         a->name[0] ? a->name : "*", rc.replayed, rc.failed);
	if (fx_buf_appendf(&a->out, "{\"replayed\":%d,\"failed\":%d}\n", rc.replayed, rc.failed) <
	    0)
		set_error(a, 503, "out of memory", 1);
	else
		a->status = 200;
}

static void run_job(struct gw_async *a)
{
	if (a->kind == K_CALL) {
		publish(a);
		return;
	}
	if (!fx_jsq_connected(nc) || !ensure()) {
		set_error(a, 503, "the queue (NATS) is unavailable", 2);
		return;
	}
	if (a->kind == K_DLQ_LIST)
		dlq_list(a);
	else
		dlq_replay(a);
}

static void *publisher(void *arg)
{
	(void)arg;
	for (;;) {
		struct gw_async *a;
		pthread_mutex_lock(&mu);
		while (!qhead && !stopping)
			pthread_cond_wait(&cv, &mu);
		a = qhead;
		if (!a) { /* stopping and nothing left */
			pthread_mutex_unlock(&mu);
			return NULL;
		}
		qhead = a->next;
		if (!qhead)
			qtail = NULL;
		qlen--;
		pthread_mutex_unlock(&mu);

		run_job(a);
		/* a belongs to its connection again: its loop resumes it and answers */
		a->resume.c = a->c;
		fx_loop_resume(a->loop, &a->resume); /* after this, a may be gone */
	}
}

int gw_async_start(char **err)
{
	int rc;

	if (!gw_cfg.nats_url || !gw_cfg.nats_url[0])
		return 0;
	jopts.url = gw_cfg.nats_url;
	jopts.name = "faas-gateway";
	jopts.on_disconnect = on_disconnect;
	jopts.on_reconnect = on_reconnect;
	rc = fx_jsq_connect(&jopts, &nc, &js, err);
	if (rc < 0)
		return rc;
	pubs = calloc((size_t)gw_cfg.async_publishers, sizeof(*pubs));
	if (!pubs) {
		*err = fx_strdupf("out of memory");
		return -ENOMEM;
	}
	for (npubs = 0; npubs < gw_cfg.async_publishers; npubs++)
		if (pthread_create(&pubs[npubs], NULL, publisher, NULL) != 0) {
			*err = fx_strdupf("cannot start the publisher threads");
			return -EAGAIN;
		}
	if (fx_jsq_connected(nc))
		ensure();
	return 0;
}

void gw_async_stop(void)
{
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < npubs; i++)
		pthread_join(pubs[i], NULL);
	npubs = 0;
	free(pubs);
	pubs = NULL;
}

void gw_async_release(void)
{
	fx_jsq_close(nc, js);
	nc = NULL;
	js = NULL;
}

int gw_async_metrics(struct fx_buf *out)
{
	int rc = 0;
	if (!gw_cfg.nats_url || !gw_cfg.nats_url[0])
		return 0;
	rc |=
	    fx_buf_puts(out, "# HELP gateway_async_queued_total Asynchronous calls stored in the "
	                     "queue (answered 202).\n# TYPE gateway_async_queued_total counter\n");
	pthread_mutex_lock(&mu);
	for (struct fcount *f = queued_by_fn; f; f = f->next)
		rc |= fx_buf_appendf(out, "gateway_async_queued_total{function_name=\"%s\"} %llu\n",
		                     f->name, f->n);
	pthread_mutex_unlock(&mu);
	rc |= fx_buf_puts(out, "# HELP gateway_async_rejected_total Asynchronous calls not stored, "
	                       "by reason.\n# TYPE gateway_async_rejected_total counter\n");
	for (int i = 0; i < 4; i++)
		rc |=
		    fx_buf_appendf(out, "gateway_async_rejected_total{reason=\"%s\"} %llu\n",
		                   reject_reason[i], (unsigned long long)atomic_load(&rejected[i]));
	rc |= fx_buf_appendf(out,
	                     "# HELP gateway_async_nats_connected 1 while the gateway is connected "
	                     "to NATS.\n# TYPE gateway_async_nats_connected gauge\n"
	                     "gateway_async_nats_connected %d\n",
	                     fx_jsq_connected(nc) ? 1 : 0);
	return rc < 0 ? -ENOMEM : 0;
}
