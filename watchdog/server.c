/* server.c: the HTTP side of fwatchdog (libmicrohttpd). In fork and
 * streaming modes a thread per connection, so a handler may block on its
 * child's pipes; in http mode the event loops of loop.c (one daemon per loop
 * in external epoll mode), where nothing blocks: proxy.c suspends the
 * client's connection while it waits for the upstream.
 *
 * A request's life: uri_log() allocates its context and keeps the raw target
 * (Http_Query must be raw); the first handler() call routes it and starts the
 * process (or opens the upstream exchange); body chunks are written to the
 * child's STDIN as they arrive; the last call answers (fork: buffered output;
 * streaming: a chunked response read from STDOUT; http: the upstream's
 * answer streamed through, see proxy.c). completed() kills and reaps whatever is still
 * running (client gone, timeout) and records the metrics. */
#include "watchdog.h"

#include "log.h"
#include "loop.h"
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_HEADERS     200        /* more request headers: 431 */
#define MAX_URI         8192       /* longer request target: 414 */
#define ERR_CAP         (64 << 10) /* STDERR kept per request for the log */
#define DISCARD_CAP     (16 << 20) /* body read and dropped after an early answer */
#define IDLE_MAX        256u       /* idle upstream connections (http mode), all loops */
#define HEAD_TIMEOUT_MS 10000      /* a request head must be in within this (http mode) */

/* SIGTERM: the watchdog exits once no request came for this long. */
#define DRAIN_QUIET_MS 500

static struct {
	struct wd_config *cfg;
	struct MHD_Daemon *d;
	char lock_path[4096];
	bool lock_written;
	bool lock_failed; /* e.g. a read-only root: health follows readiness */
	atomic_bool listening, draining;
	atomic_long inflight; /* function requests running */
	atomic_long active;   /* every request between uri_log and completed */
	/* when the latest request began (the drain's quiet time) */
	atomic_llong last_start_ms;
	atomic_ulong by_code[600];
	atomic_ulong buckets[WD_NBUCKETS + 1];
	atomic_ullong sum_us;
	struct wd_proxy *px;
} S;

enum kind { K_FN, K_HEALTH, K_METRICS };

struct req {
	char *uri; /* raw target, owned */
	enum kind kind;
	bool started, counted, has_child, streaming;
	int code, fail;
	int64_t t0, t0_us, deadline;
	int client_fd;
	uint64_t body;
	struct wd_child ch;
	struct fx_buf out, err;
	size_t out_pos; /* streaming: bytes of out already sent */
	bool over;
	struct fx_px *px; /* http mode */
	int pend_code;    /* answer decided at the first call, sent once the body is read */
	const char *pend_text;
};

/* Answers given after the body (if any) has been read keep the connection
 * alive; answering at the first call would make libmicrohttpd close it. */
static enum MHD_Result defer(struct req *r, int code, const char *text)
{
	r->pend_code = code;
	r->pend_text = text;
	return MHD_YES;
}

/* ---- responses --------------------------------------------------------- */

/* X-Duration-Seconds: time since the request began, "0.001234" (integers
 * only: no floating-point printf on every answer). */
static void add_duration(struct MHD_Response *resp, const struct req *r)
{
	int64_t us = fx_now_us() - r->t0_us;
	char d[32];

	snprintf(d, sizeof(d), "%lld.%06lld", (long long)(us / 1000000), (long long)(us % 1000000));
	MHD_add_response_header(resp, "X-Duration-Seconds", d);
}

/* While draining, every answer ends its connection and says so, so clients
 * (the gateway) move on to other replicas. */
static void closing(struct MHD_Response *resp)
{
	if (atomic_load(&S.draining)) {
		MHD_add_response_header(resp, "Connection", "close");
		MHD_add_response_header(resp, "X-Faas-Draining", "true");
	}
}

static enum MHD_Result reply(struct MHD_Connection *c, struct req *r, int code, char *body,
                             size_t len, bool take, const char *ctype)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(
	    len, body, take ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		if (take)
			free(body);
		return MHD_NO;
	}
	if (ctype != NULL)
		MHD_add_response_header(resp, "Content-Type", ctype);
	if (code == 405)
		MHD_add_response_header(resp, "Allow", "GET, POST, PUT, PATCH, DELETE");
	if (r != NULL && r->kind == K_FN)
		add_duration(resp, r);
	if (r != NULL)
		r->code = code;
	closing(resp);
	ret = MHD_queue_response(c, (unsigned)code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, struct req *r, int code,
                                  const char *text)
{
	return reply(c, r, code, (char *)(uintptr_t)text, strlen(text), false,
	             "text/plain; charset=utf-8");
}

/* ---- health, metrics, lock --------------------------------------------- */

static bool healthy(void)
{
	if (!atomic_load(&S.listening) || atomic_load(&S.draining))
		return false;
	if (!S.cfg->suppress_lock && !S.lock_failed && access(S.lock_path, F_OK) != 0)
		return false;
	if (S.cfg->mode == WD_MODE_HTTP && !wd_proxy_ready(S.px))
		return false;
	return true;
}

static enum MHD_Result metrics(struct MHD_Connection *c, struct req *r)
{
	struct fx_buf b;
	unsigned long long cum = 0;
	int rc = 0;

	fx_buf_init(&b, 256 << 10);
	rc |= fx_buf_puts(&b, "# HELP http_requests_total Function requests by status code.\n"
	                      "# TYPE http_requests_total counter\n");
	for (int code = 100; code < 600; code++) {
		unsigned long v = atomic_load(&S.by_code[code]);
		if (v != 0)
			rc |= fx_buf_appendf(&b, "http_requests_total{code=\"%d\"} %lu\n", code, v);
	}
	rc |= fx_buf_puts(&b, "# HELP http_request_duration_seconds Function request duration.\n"
	                      "# TYPE http_request_duration_seconds histogram\n");
	for (int i = 0; i <= WD_NBUCKETS; i++) {
		cum += atomic_load(&S.buckets[i]);
		if (i < WD_NBUCKETS)
			rc |= fx_buf_appendf(
			    &b, "http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			    wd_buckets[i], cum);
		else
			rc |= fx_buf_appendf(
			    &b, "http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
	}
	rc |= fx_buf_appendf(&b, "http_request_duration_seconds_sum %.6f\n",
	                     (double)atomic_load(&S.sum_us) / 1e6);
	rc |= fx_buf_appendf(&b, "http_request_duration_seconds_count %llu\n", cum);
	rc |= fx_buf_appendf(&b,
	                     "# HELP http_requests_in_flight Function requests being served.\n"
	                     "# TYPE http_requests_in_flight gauge\nhttp_requests_in_flight %ld\n",
	                     atomic_load(&S.inflight));
	if (rc != 0 || b.data == NULL) {
		fx_buf_release(&b);
		return reply_text(c, r, 503, "out of memory\n");
	}
	{
		size_t len;
		char *s = fx_buf_detach(&b, &len);
		if (s == NULL)
			return reply_text(c, r, 503, "out of memory\n");
		return reply(c, r, 200, s, len, true, "text/plain; version=0.0.4");
	}
}

static void record(const struct req *r)
{
	int64_t us;
	double s;
	int i;

	if (r->kind != K_FN || r->code < 100 || r->code > 599)
		return;
	atomic_fetch_add(&S.by_code[r->code], 1);
	us = fx_now_us() - r->t0_us;
	atomic_fetch_add(&S.sum_us, (unsigned long long)us);
	s = (double)us / 1e6;
	for (i = 0; i < WD_NBUCKETS && s > wd_buckets[i]; i++)
		;
	atomic_fetch_add(&S.buckets[i], 1);
}

/* ---- request context --------------------------------------------------- */

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *r = calloc(1, sizeof(*r));

	(void)cls;
	(void)c;
	if (r == NULL)
		return NULL;
	r->uri = strndup(uri, MAX_URI + 1);
	r->t0 = fx_now_ms();
	r->t0_us = fx_now_us();
	r->client_fd = -1;
	wd_child_init(&r->ch);
	fx_buf_init(&r->out, (size_t)S.cfg->max_output);
	fx_buf_init(&r->err, ERR_CAP);
	atomic_fetch_add(&S.active, 1);
	atomic_store(&S.last_start_ms, r->t0);
	return r;
}

static void log_stderr(const struct req *r, const char *what)
{
	if (r->err.len > 0)
		log_warn(what, "pid=%d stderr=\"%.*s\"", (int)r->ch.pid,
		         (int)(r->err.len > 2048 ? 2048 : r->err.len), r->err.data);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)c;
	if (r == NULL)
		return;
	if (r->has_child && !r->ch.reaped) {
		if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
			log_warn("client gone", "pid=%d reason=%d action=killed", (int)r->ch.pid,
			         (int)toe);
		wd_child_kill(&r->ch);
		log_stderr(r, "process stderr");
	}
	fx_px_done(r->px);
	if (r->kind == K_FN && r->started) {
		if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->code == 0)
			r->code = 499; /* nginx's "client closed request", for the metrics */
		record(r);
	}
	if (r->counted)
		atomic_fetch_sub(&S.inflight, 1);
	if (S.cfg->write_debug)
		log_info("request done", "uri=\"%.200s\" code=%d ms=%lld", r->uri ? r->uri : "",
		         r->code, (long long)(fx_now_ms() - r->t0));
	fx_buf_release(&r->out);
	fx_buf_release(&r->err);
	free(r->uri);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&S.active, 1);
}

/* ---- fork and streaming ------------------------------------------------ */

struct hdrs {
	struct wd_kv kv[MAX_HEADERS];
	size_t n, seen;
	bool nul; /* a NUL byte inside a header name or value */
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                               const char *value, size_t value_size)
{
	struct hdrs *h = cls;

	(void)kind;
	h->seen++;
	if (key == NULL || strlen(key) != key_size ||
	    (value != NULL && strlen(value) != value_size))
		h->nul = true;
	if (h->n < MAX_HEADERS)
		h->kv[h->n++] = (struct wd_kv){key, value ? value : ""};
	return MHD_YES;
}

static int64_t content_length(struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	char *end;
	long long n;

	if (v == NULL)
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0)
		return -1;
	return n;
}

static int start_child(struct MHD_Connection *c, struct req *r, const char *method,
                       const char *path, const char *query, const struct hdrs *h)
{
	struct wd_reqinfo ri = {
	    .method = method,
	    .path = path,
	    .query = query,
	    .host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"),
	    .content_length = content_length(c),
	    .headers = h->kv,
	    .nheaders = h->n,
	};
	size_t dropped = 0;
	char **env = wd_env_build(environ, &ri, &dropped);
	int rc;

	if (env == NULL)
		return -ENOMEM;
	if (dropped > 0)
		log_warn("headers dropped",
		         "count=%zu reason=\"not a valid environment name or value, "
		         "or over the caps\"",
		         dropped);
	rc = wd_child_spawn(&r->ch, S.cfg->exec_path, S.cfg->argv, env, S.cfg->combine_output,
	                    false);
	wd_env_free(env);
	if (rc < 0)
		return rc;
	r->has_child = true;
	if (S.cfg->write_debug)
		log_info("process started", "pid=%d method=%s path=\"%.200s\"", (int)r->ch.pid,
		         method, path);
	return 0;
}

static const char *resp_ctype(struct MHD_Connection *c)
{
	const char *ct = S.cfg->content_type;
	if (ct == NULL)
		ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	return ct;
}

static enum MHD_Result fork_finish(struct MHD_Connection *c, struct req *r)
{
	int rc, st = 0, code;
	size_t len;
	char *body;

	rc = wd_child_pump(&r->ch, NULL, 0, true, &r->out, &r->err, &r->over, r->deadline,
	                   r->client_fd);
	if (rc == WD_PUMP_CLIENT_GONE) {
		log_warn("client gone", "pid=%d action=killed", (int)r->ch.pid);
		wd_child_kill(&r->ch);
		return MHD_NO;
	}
	if (rc == 0)
		rc = wd_child_finish(&r->ch, r->deadline, &st);
	else
		wd_child_kill(&r->ch);
	log_stderr(r, "process stderr");
	if (rc == WD_PUMP_TIMEOUT) {
		log_warn("exec_timeout", "pid=%d action=killed", (int)r->ch.pid);
		return reply_text(c, r, 504, "exec_timeout reached: the process was killed\n");
	}
	if (rc < 0) {
		log_error("process i/o", "pid=%d err=%d", (int)r->ch.pid, rc);
		return reply_text(c, r, 500, "process i/o failed\n");
	}
	if (r->over) {
		log_warn("output too large", "pid=%d max_output=%llu", (int)r->ch.pid,
		         (unsigned long long)S.cfg->max_output);
		return reply_text(c, r, 500, "output over max_output\n");
	}
	code = wd_status_for_exit(st, false);
	if (code != 200) {
		if (WIFEXITED(st))
			log_warn("process failed", "pid=%d exit=%d", (int)r->ch.pid,
			         WEXITSTATUS(st));
		else
			log_warn("process failed", "pid=%d signal=%d", (int)r->ch.pid,
			         WTERMSIG(st));
		if (!S.cfg->combine_output || r->out.len == 0) {
			char msgb[64];
			if (WIFEXITED(st))
				snprintf(msgb, sizeof(msgb), "exit status %d\n", WEXITSTATUS(st));
			else
				snprintf(msgb, sizeof(msgb), "killed by signal %d\n", WTERMSIG(st));
			fx_buf_reset(&r->out);
			fx_buf_puts(&r->out, msgb);
		}
	}
	body = fx_buf_detach(&r->out, &len);
	if (body == NULL)
		return reply_text(c, r, 503, "out of memory\n");
	return reply(c, r, code, body, len, true, code == 200 ? resp_ctype(c) : "text/plain");
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *r = cls;
	ssize_t n;
	int st = 0;

	(void)pos;
	/* Output held back while the body was being written goes first. */
	if (r->out_pos < r->out.len) {
		size_t k = r->out.len - r->out_pos < max ? r->out.len - r->out_pos : max;
		memcpy(buf, r->out.data + r->out_pos, k);
		r->out_pos += k;
		if (r->out_pos == r->out.len) {
			fx_buf_release(&r->out);
			r->out_pos = 0;
		}
		return (ssize_t)k;
	}
	n = wd_child_read(&r->ch, buf, max, &r->err, r->deadline, r->client_fd);
	if (n > 0)
		return n;
	if (n == 0) {
		int rc = wd_child_finish(&r->ch, r->deadline, &st);
		log_stderr(r, "process stderr");
		if (rc == WD_PUMP_TIMEOUT) {
			log_warn("exec_timeout", "pid=%d action=killed", (int)r->ch.pid);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (wd_status_for_exit(st, false) != 200)
			log_warn("process failed", "pid=%d status=%d (after a streamed 200)",
			         (int)r->ch.pid, st);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (n == WD_PUMP_TIMEOUT)
		log_warn("exec_timeout", "pid=%d action=killed", (int)r->ch.pid);
	else
		log_warn("client gone", "pid=%d action=killed", (int)r->ch.pid);
	wd_child_kill(&r->ch);
	log_stderr(r, "process stderr");
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

static enum MHD_Result stream_start(struct MHD_Connection *c, struct req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *ct = resp_ctype(c);

	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 << 10, stream_read, r, NULL);
	if (resp == NULL)
		return MHD_NO;
	if (ct != NULL)
		MHD_add_response_header(resp, "Content-Type", ct);
	r->code = 200;
	closing(resp);
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- http mode --------------------------------------------------------- */

/* The upstream's answer, with the watchdog's own headers. */
static enum MHD_Result px_answer(struct MHD_Connection *c, struct req *r, struct MHD_Response *resp,
                                 int status)
{
	enum MHD_Result ret;

	add_duration(resp, r);
	r->code = status;
	closing(resp);
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Every call after the first, in http mode (the exchange decides). */
static enum MHD_Result px_call(struct MHD_Connection *c, struct req *r, const char *data,
                               size_t *size)
{
	struct MHD_Response *resp = NULL;
	size_t n = *size;
	char *text;

	if (n > 0 && r->body + n > S.cfg->max_body) {
		fx_px_done(r->px); /* the upstream's request is abandoned */
		r->px = NULL;
		r->body += n;
		*size = 0;
		return defer(r, 413, "request body over max_body\n");
	}
	switch (fx_px_upload(r->px, data, size, &resp)) {
	case FX_PX_MORE:
		r->body += n - *size;
		return MHD_YES;
	case FX_PX_ANSWER:
		return px_answer(c, r, resp, r->px->status);
	case FX_PX_ERROR:
		text = fx_strdupf("%s\n", r->px->err_msg);
		if (text == NULL)
			return MHD_NO;
		return reply(c, r, r->px->err_status, text, strlen(text), true,
		             "text/plain; charset=utf-8");
	case FX_PX_ABORT:
		break;
	}
	return MHD_NO;
}

/* ---- the handler ------------------------------------------------------- */

static enum MHD_Result first_call(struct fx_loop *loop, struct MHD_Connection *c, struct req *r,
                                  const char *method, struct hdrs *h)
{
	char path[MAX_URI + 1];
	const char *query = NULL;
	const union MHD_ConnectionInfo *ci;
	int64_t cl;
	int rc;

	r->started = true;
	if (r->uri == NULL || strlen(r->uri) > MAX_URI)
		return reply_text(c, r, 414, "request target too long\n");
	if (!wd_url_split(r->uri, path, sizeof(path), &query))
		return reply_text(c, r, 414, "request target too long\n");
	if (strcmp(path, "/_/health") == 0) {
		r->kind = K_HEALTH;
		return healthy() ? defer(r, 200, "OK\n") : defer(r, 503, "not ready\n");
	}
	if (strcmp(path, "/metrics") == 0 && strcmp(method, "GET") == 0) {
		r->kind = K_METRICS;
		return defer(r, 200, NULL);
	}
	r->kind = K_FN;
	if (!wd_method_allowed(method))
		return defer(r, 405, "method not allowed\n");
	/* Draining: requests are still served (answered with Connection: close
	 * and X-Faas-Draining, see closing()) until the listener closes, once
	 * quiet (wd_server_run). */
	if (h->seen > MAX_HEADERS)
		return reply_text(c, r, 431, "too many headers\n");
	if (h->nul)
		return reply_text(c, r, 400, "NUL byte in a header\n");
	r->counted = true;
	if (atomic_fetch_add(&S.inflight, 1) >= S.cfg->max_inflight && S.cfg->max_inflight > 0)
		return defer(r, 429, "concurrency limit (max_inflight) reached\n");
	cl = content_length(c);
	if (cl >= 0 && (uint64_t)cl > S.cfg->max_body)
		return reply_text(c, r, 413, "request body over max_body\n");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	r->client_fd = ci ? ci->connect_fd : -1;
	r->deadline = S.cfg->exec_timeout_ms > 0 ? r->t0 + S.cfg->exec_timeout_ms : 0;
	if (S.cfg->mode == WD_MODE_HTTP) {
		int status = 0;

		r->px = wd_px_new(S.px, loop, c, method, r->uri, r->deadline, &status);
		if (r->px == NULL)
			return defer(r, status,
			             status == 503   ? "out of memory\n"
			             : status == 400 ? "a header cannot be forwarded\n"
			                             : "upstream unreachable\n");
		return MHD_YES;
	}
	rc = start_child(c, r, method, path, query, h);
	if (rc < 0) {
		log_error("process start failed", "fprocess=\"%s\" err=\"%s\"", S.cfg->fprocess,
		          strerror(-rc));
		return reply_text(c, r, rc == -ENOMEM ? 503 : 500, "could not start the process\n");
	}
	return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls)
{
	struct req *r = *con_cls;
	struct hdrs *h;
	enum MHD_Result ret;

	(void)url;
	if (r == NULL)
		return reply_text(c, NULL, 503, "out of memory\n");
	if (!r->started) {
		/* The event loops' daemons check the head themselves (common/loop.c). */
		if (S.cfg->mode != WD_MODE_HTTP && !fx_server_head_ok(c, version, &ret))
			return ret;
		h = malloc(sizeof(*h));
		if (h == NULL)
			return reply_text(c, r, 503, "out of memory\n");
		h->n = h->seen = 0;
		h->nul = false;
		MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect, h);
		ret = first_call(cls, c, r, method, h);
		free(h);
		return ret;
	}
	if (r->px != NULL && r->code == 0 && r->pend_code == 0)
		return px_call(c, r, data, size);
	if (r->code != 0 || r->pend_code != 0) { /* answered or decided: drop the body */
		if (*size > 0 || r->code != 0) {
			r->body += *size;
			*size = 0;
			/* libmicrohttpd 0.9 cannot answer before the body is read: the
			 * rest is discarded, but not forever. */
			if (r->code == 0 && r->body > S.cfg->max_body + DISCARD_CAP)
				return MHD_NO;
			return MHD_YES;
		}
		if (r->kind == K_METRICS)
			return metrics(c, r);
		return reply_text(c, r, r->pend_code, r->pend_text);
	}
	if (*size > 0) {
		size_t n = *size;
		int rc = 0;

		*size = 0;
		r->body += n;
		if (r->body > S.cfg->max_body) {
			if (r->has_child)
				wd_child_kill(&r->ch);
			return defer(r, 413, "request body over max_body\n");
		}
		/* libmicrohttpd answers only once the body is in: output written
		 * before that (an echo-like function) is held, up to max_output. */
		rc = wd_child_pump(&r->ch, data, n, false, &r->out, &r->err, &r->over, r->deadline,
		                   r->client_fd);
		if (rc == WD_PUMP_CLIENT_GONE) {
			log_warn("client gone", "pid=%d action=killed", (int)r->ch.pid);
			wd_child_kill(&r->ch);
			return MHD_NO;
		}
		if (rc == WD_PUMP_TIMEOUT) {
			wd_child_kill(&r->ch);
			log_warn("exec_timeout", "pid=%d action=killed", (int)r->ch.pid);
			return defer(r, 504, "exec_timeout reached: the process was killed\n");
		}
		return MHD_YES;
	}
	if (S.cfg->mode == WD_MODE_STREAMING)
		return stream_start(c, r);
	return fork_finish(c, r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (line[i] == '"' || (unsigned char)line[i] < 0x20)
			line[i] = '\'';
	log_debug("httpd", "detail=\"%s\"", line);
}

/* ---- run --------------------------------------------------------------- */

static void write_lock(void)
{
	int fd;

	if (S.cfg->suppress_lock)
		return;
	fd = open(S.lock_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_warn("lock file not written: health follows readiness only",
		         "path=%s err=\"%s\"", S.lock_path, strerror(errno));
		S.lock_failed = true;
		return;
	}
	close(fd);
	S.lock_written = true;
}

/* http mode: the daemons' options, in this one place (common/loop.c adds
 * external epoll, suspend/resume and the request-head checks). */
static struct fx_server_conf http_conf;

static struct MHD_Daemon *http_daemon(struct fx_loop *l, int listen_fd, int set, void *arg)
{
	(void)set;
	(void)arg;
	return fx_server_daemon(l, listen_fd, &http_conf);
}

static struct fx_loop_ops loop_ops = {.daemon = http_daemon};

/* fork and streaming modes: a thread per connection. */
static int start_threaded(struct wd_config *cfg, int *port)
{
	unsigned read_s = (unsigned)((cfg->read_timeout_ms + 999) / 1000);
	const union MHD_DaemonInfo *di;

	S.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	                           MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
	                       (uint16_t)cfg->port, NULL, NULL, handler, NULL,
	                       MHD_OPTION_CONNECTION_TIMEOUT, read_s, MHD_OPTION_NOTIFY_COMPLETED,
	                       completed, NULL, MHD_OPTION_URI_LOG_CALLBACK, uri_log, NULL,
	                       MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 << 10),
	                       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 << 10),
	                       MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_STRICT_FOR_CLIENT,
	                       1, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (S.d == NULL) {
		log_error("cannot listen", "port=%lld", (long long)cfg->port);
		return -EIO;
	}
	di = MHD_get_daemon_info(S.d, MHD_DAEMON_INFO_BIND_PORT);
	*port = di ? di->port : (int)cfg->port;
	return 0;
}

/* http mode: one event loop per core (at most 4), as nginx's workers, each on
 * its own socket of one port (SO_REUSEPORT). */
static int start_loops(struct wd_config *cfg, int *port)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int n = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu, fds[4];
	char addr[80];

	http_conf = (struct fx_server_conf){
	    .handler = handler,
	    .uri_log = uri_log,
	    .completed = completed,
	    .log = mhd_log,
	    .idle_timeout_s = (unsigned)((cfg->read_timeout_ms + 999) / 1000),
	    .memory_limit = 32u << 10,
	    .head_timeout_ms = HEAD_TIMEOUT_MS,
	};
	loop_ops.pool_max = IDLE_MAX / (unsigned)n;
	loop_ops.pool_per_peer = loop_ops.pool_max;
	S.px = wd_proxy_new(cfg);
	if (S.px == NULL)
		return -EIO;
	*port = (int)cfg->port;
	for (int i = 0; i < n; i++) {
		fds[i] = fx_listen("0.0.0.0", *port, addr, sizeof(addr));
		if (fds[i] < 0) {
			log_error("cannot listen", "port=%lld err=\"%s\"", (long long)cfg->port,
			          strerror(-fds[i]));
			return fds[i];
		}
		*port = (int)strtol(strrchr(addr, ':') + 1, NULL, 10); /* the others share it */
	}
	const int *sets[1] = {fds};
	if (fx_loops_start(&loop_ops, sets, 1, n) < 0) {
		log_error("cannot start the event loops", NULL);
		return -EIO;
	}
	return 0;
}

int wd_server_run(struct wd_config *cfg)
{
	const char *tmp = getenv("TMPDIR");
	bool http = cfg->mode == WD_MODE_HTTP;
	sigset_t set;
	int sig = 0, port = 0;

	S.cfg = cfg;
	/* A thread per connection would otherwise get up to 8 malloc arenas per
	 * core, each with its own partly used pages. */
	mallopt(M_ARENA_MAX, 2);
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(S.lock_path, sizeof(S.lock_path), "%s/.lock", tmp);
	if (!cfg->suppress_lock)
		unlink(S.lock_path);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits it; main waits */

	if ((http ? start_loops(cfg, &port) : start_threaded(cfg, &port)) < 0) {
		wd_proxy_free(S.px);
		return 1;
	}
	write_lock();
	atomic_store(&S.listening, true);
	log_info("listening", "addr=0.0.0.0:%d mode=%s fprocess=\"%s\" lock=%s", port,
	         cfg->mode_name, cfg->fprocess, cfg->suppress_lock ? "suppressed" : S.lock_path);

	while (sigwait(&set, &sig) != 0)
		;
	atomic_store(&S.draining, true); /* before the log line: tests wait for it */
	log_info("draining", "signal=%d inflight=%ld write_timeout_ms=%lld", sig,
	         atomic_load(&S.active), (long long)cfg->write_timeout_ms);
	if (S.lock_written)
		unlink(S.lock_path);
	{
		/* Keep the listener open while requests still come: each is served
		 * and its answer says X-Faas-Draining and closes the connection, so a
		 * gateway stops sending here. Closing it at once would reset
		 * connections waiting in its backlog, whose requests may already be
		 * sent: a gateway could not tell them from requests that ran. Once
		 * nothing has run or arrived for DRAIN_QUIET_MS (counted from the
		 * signal at the earliest), stop accepting and let what was accepted
		 * meanwhile finish. All within write_timeout. */
		int64_t end = fx_now_ms() + cfg->write_timeout_ms;
		atomic_store(&S.last_start_ms, fx_now_ms()); /* quiet counts from now */
		while (fx_now_ms() < end &&
		       (atomic_load(&S.active) > 0 ||
		        fx_now_ms() - atomic_load(&S.last_start_ms) < DRAIN_QUIET_MS))
			usleep(10000);
		if (http) {
			fx_loops_quiesce();
		} else {
			MHD_socket fd = MHD_quiesce_daemon(S.d);
			if (fd != MHD_INVALID_SOCKET)
				close(fd);
		}
		while (atomic_load(&S.active) > 0 && fx_now_ms() < end)
			usleep(10000);
		if (atomic_load(&S.active) > 0)
			log_warn("drain timeout", "active=%ld", atomic_load(&S.active));
	}
	if (http)
		fx_loops_stop();
	else
		MHD_stop_daemon(S.d);
	wd_proxy_free(S.px);
	log_info("stopped", NULL);
	return 0;
}

int wd_healthcheck(const struct wd_config *cfg)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
	static const char req[] = "GET /_/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	char buf[64];
	size_t got = 0;
	int fd, fl;
	int64_t end = fx_now_ms() + 2000;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
		goto fail;
	{
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t el = sizeof(err);
		if (poll(&p, 1, 2000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 ||
		    err != 0)
			goto fail;
	}
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1))
		goto fail;
	while (got < 12) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int64_t left = end - fx_now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			goto fail;
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			goto fail;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return strncmp(buf + 8, " 200", 4) == 0 ? 0 : 1;
fail:
	close(fd);
	return 1;
}
