/* proxy.c: one request through the gateway, without blocking.
 *
 * Everything here runs on the loop thread that owns the client's connection
 * (loop.c): libmicrohttpd calls the handler and the body reader, the loop
 * calls gw_req_event() when the replica's socket is ready and gw_req_tick()
 * every few milliseconds. A request waits for the replica by suspending its
 * client connection and is resumed when there is something to do.
 *
 * Body bytes are kept until PREFIX (64 KiB) so a request that fits can be
 * sent again to another replica when it cannot have run (see docs/api.md);
 * beyond that the body streams to the replica with backpressure (the client
 * connection is suspended while OUT_HIGH bytes wait). The answer streams back
 * through a 32 KiB buffer, also with backpressure both ways. */
#include "gateway.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PREFIX           (64u << 10) /* request body kept for retries */
#define OUT_HIGH         (256u << 10) /* request bytes waiting for the replica before the client pauses */
#define HEAD_MAX         (32u << 10) /* an upstream response head */
#define IBUF_BODY        (32u << 10) /* answer bytes in flight */
#define ALEXA_MAX        (256u << 10)
#define INJECT_MAX       (32u << 20)
#define MAX_TRIES        8
#define WAIT_REGISTRY_MS 1500
#define WAIT_DNS_MS      3000

enum state {
	ST_NEW,     /* routed, body arriving, no replica yet */
	ST_WAIT,    /* waiting for the registry, DNS or a scale from zero */
	ST_CONNECT, /* connecting */
	ST_SEND,    /* sending the request */
	ST_HEAD,    /* request sent, reading the answer's head */
	ST_BODY,    /* answer's body flowing */
	ST_DONE,    /* upstream finished (or failed, see err_status / body_error) */
};

enum wait_kind { W_REGISTRY, W_DNS, W_READY };

struct gw_req {
	struct gw_loop *loop;
	int refs; /* the request (until completed) and the body reader's response */
	struct gw_req *lprev, *lnext; /* the loop's list of requests */
	char *uri;
	bool started;
	const char *method; /* borrowed from libmicrohttpd, valid for the request */
	struct MHD_Connection *c;
	struct gw_route route;
	struct gw_fn *fn;
	bool system, inject, alexa, is_head, body_announced, client_len_known;
	uint64_t client_len;
	struct fx_buf head; /* request head without framing and final CRLF */
	struct fx_buf body; /* body bytes before the replica is chosen (alexa, wait) */
	struct fx_buf out;  /* bytes for the replica: framed head and body */
	size_t out_off;
	bool streaming;   /* out started before the body ended: framing chosen */
	bool upload_done; /* the handler saw the end of the body */
	uint64_t body_total;
	int client_fd;
	struct gw_replica *cand[MAX_TRIES];
	size_t ncand, next;
	struct gw_replica *rep; /* the one in use (a ref in cand[]) */
	struct gw_uconn *uc;    /* its connection */
	int fd;                 /* uc->fd, or -1 */
	bool reused, inflight;
	struct gw_ev ev_client;
	bool client_watched;
	enum state st;
	enum wait_kind wait;
	int64_t deadline, wait_until;
	int64_t wake_until; /* a request waits for a ready replica until then, in all */
	uint64_t wait_seq;
	unsigned err_status;
	const char *err_msg;
	int64_t suspended_at;
	bool suspended, reader_waiting, client_gone, body_error, answered_early;
	/* the answer */
	char *ibuf;
	size_t icap, ilen, ioff;
	struct fx_http1_head h;
	bool head_ready, keep_alive;
	struct fx_http1_body ans;  /* framing, what is left, end of stream */
	struct fx_buf all;         /* inject: the whole body */
	struct MHD_Response *resp; /* ready to queue */
	int retries;
	bool fresh_retry;
	int status; /* for metrics */
	struct timespec t0;
	char call_id[80];
	char start_time[32];
};

static void try_next(struct gw_req *r);
static void start_upstream(struct gw_req *r);
static void upstream_failed(struct gw_req *r, int err);

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void new_call_id(char out[80])
{
	static __thread uint64_t s[2];
	if (!s[0] && !s[1]) {
		if (getrandom(s, sizeof(s), 0) != sizeof(s)) {
			s[0] = now_ns();
			s[1] = (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15u;
		}
		s[0] |= 1;
	}
	uint64_t a[2];
	for (int i = 0; i < 2; i++) { /* xorshift128+ */
		uint64_t x = s[0], y = s[1];
		s[0] = y;
		x ^= x << 23;
		s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
		a[i] = s[1] + y;
	}
	snprintf(out, 80, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a[0] >> 32),
	         (unsigned)(a[0] >> 16) & 0xffff, (unsigned)a[0] & 0xfff,
	         (unsigned)((a[1] >> 48) & 0x3fff) | 0x8000,
	         (unsigned long long)(a[1] & 0xffffffffffffull));
}

struct gw_req *gw_req_new(struct gw_loop *loop, const char *uri)
{
	struct gw_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->uri = strdup(uri);
	if (!r->uri) {
		free(r);
		return NULL;
	}
	r->loop = loop;
	r->refs = 1;
	r->fd = -1;
	r->client_fd = -1;
	r->ev_client.kind = GW_EV_CLIENT;
	r->ev_client.req = r;
	fx_buf_init(&r->head, 64u << 10);
	fx_buf_init(&r->body, PREFIX + ALEXA_MAX);
	fx_buf_init(&r->out, PREFIX + OUT_HIGH + (64u << 10) + (128u << 10));
	fx_buf_init(&r->all, INJECT_MAX);
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	struct gw_req **head = gw_loop_reqs(loop);
	r->lnext = *head;
	if (*head)
		(*head)->lprev = r;
	*head = r;
	return r;
}

/* ---- the replica's socket ---- */

static void set_events(struct gw_req *r, uint32_t ev)
{
	if (r->uc)
		gw_uconn_events(r->loop, r->uc, ev);
}

static uint32_t events_of(const struct gw_req *r)
{
	return r->uc ? r->uc->events : 0;
}

static void close_upstream(struct gw_req *r, bool keep)
{
	if (r->uc) {
		gw_uconn_release(r->loop, r->uc, keep);
		r->uc = NULL;
		r->fd = -1;
	}
	if (r->inflight) {
		gw_inflight(r->rep, -1);
		r->inflight = false;
	}
}

static void watch_client(struct gw_req *r, bool on)
{
	if (r->client_fd < 0 || on == r->client_watched)
		return;
	if (gw_loop_watch(r->loop, r->client_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, EPOLLRDHUP,
	                  &r->ev_client) == 0 ||
	    !on)
		r->client_watched = on;
}

/* While suspended, libmicrohttpd does not watch the client: the loop does,
 * from the first tick on (most waits end sooner, without any epoll_ctl). */
static void suspend(struct gw_req *r)
{
	if (r->suspended)
		return;
	r->suspended = true;
	r->suspended_at = gw_now_ms();
	MHD_suspend_connection(r->c);
}

static void resume(struct gw_req *r)
{
	if (!r->suspended)
		return;
	r->suspended = false;
	watch_client(r, false);
	MHD_resume_connection(r->c);
	gw_loop_kick(r->loop);
}

static void release_cands(struct gw_req *r)
{
	for (size_t i = 0; i < r->ncand; i++)
		gw_replica_release(r->cand[i]);
	r->ncand = 0;
	r->next = 0;
	r->rep = NULL;
}

static void unref(struct gw_req *r)
{
	if (--r->refs > 0)
		return;
	close_upstream(r, false);
	watch_client(r, false);
	release_cands(r);
	struct gw_req **head = gw_loop_reqs(r->loop);
	if (r->lprev)
		r->lprev->lnext = r->lnext;
	else
		*head = r->lnext;
	if (r->lnext)
		r->lnext->lprev = r->lprev;
	fx_buf_release(&r->head);
	fx_buf_release(&r->body);
	fx_buf_release(&r->out);
	fx_buf_release(&r->all);
	free(r->ibuf);
	free(r->uri);
	free(r);
}

void gw_req_completed(struct gw_req *r)
{
	struct timespec t1;
	if (!r)
		return;
	if (r->fn && r->status) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double s =
		    (double)(t1.tv_sec - r->t0.tv_sec) + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9;
		gw_metrics_done(r->fn->metrics, r->status, s);
	}
	r->c = NULL;
	r->suspended = false;
	watch_client(r, false);
	if (r->st != ST_DONE && r->fd >= 0)
		close_upstream(r, false); /* the client left: abort the replica's request */
	if (r->resp) { /* never queued; a callback response drops its ref in reader_free */
		struct MHD_Response *x = r->resp;
		r->resp = NULL;
		MHD_destroy_response(x);
	}
	unref(r);
}

/* ---- answers ---- */

static void add_ids(struct MHD_Response *resp, struct gw_req *r)
{
	if (r->call_id[0])
		MHD_add_response_header(resp, "X-Call-Id", r->call_id);
	if (r->start_time[0])
		MHD_add_response_header(resp, "X-Start-Time", r->start_time);
}

static enum MHD_Result fail(struct MHD_Connection *c, struct gw_req *r, unsigned status,
                            const char *msg)
{
	char body[512];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg ? msg : "upstream error");
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (status == 503)
		MHD_add_response_header(resp, "Retry-After", "1");
	if (status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"faas\"");
	add_ids(resp, r);
	r->status = (int)status;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* An error found before the body is read: answered at the final call when no
 * body comes, so the connection stays open (keep-alive). */
static enum MHD_Result early(struct MHD_Connection *c, struct gw_req *r, unsigned status,
                             const char *msg)
{
	if (r->body_announced)
		return fail(c, r, status, msg);
	r->err_status = status;
	r->err_msg = msg;
	return MHD_YES;
}

/* Ends the upstream side with an error answer (sent by the handler). */
static void req_error(struct gw_req *r, unsigned status, const char *msg)
{
	close_upstream(r, false);
	r->st = ST_DONE;
	if (!r->err_status) {
		r->err_status = status;
		r->err_msg = msg;
	}
	resume(r);
}

/* ---- building the request ---- */

struct hdr_ctx {
	struct gw_req *r;
	const char *connection;
	int rc;
};

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	struct hdr_ctx *h = cls;
	(void)kind;
	if (!value)
		value = "";
	if (gw_header_is_hop(key, h->connection) || strcasecmp(key, "X-Forwarded-For") == 0 ||
	    strcasecmp(key, "X-Forwarded-Host") == 0 || strcasecmp(key, "X-Call-Id") == 0 ||
	    strcasecmp(key, "X-Start-Time") == 0)
		return MHD_YES;
	if (h->r->system && strcasecmp(key, "Authorization") == 0)
		return MHD_YES;
	if (!gw_header_value_ok(value, 16384))
		return MHD_YES;
	if (h->rc == 0)
		h->rc = fx_buf_appendf(&h->r->head, "%s: %s\r\n", key, value);
	return MHD_YES;
}

static int build_head(struct MHD_Connection *c, struct gw_req *r)
{
	const union MHD_ConnectionInfo *ci;
	char ip[INET6_ADDRSTRLEN] = "";
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	struct hdr_ctx h = {
	    .r = r, .connection = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection")};
	int rc;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		if (ci->client_addr->sa_family == AF_INET)
			inet_ntop(
			    AF_INET,
			    &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
			    ip, sizeof(ip));
		else if (ci->client_addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
			          &((const struct sockaddr_in6 *)(const void *)ci->client_addr)
			               ->sin6_addr,
			          ip, sizeof(ip));
	}
	if (host && !gw_header_value_ok(host, 1024))
		host = NULL;
	if (xff && !gw_header_value_ok(xff, 4096))
		xff = NULL;
	if (r->system)
		rc = fx_buf_appendf(&r->head, "%s %s HTTP/1.1\r\nHost: %s\r\n", r->method, r->uri,
		                    gw_cfg.controller_hostport);
	else
		rc = fx_buf_appendf(&r->head, "%s %s%s HTTP/1.1\r\nHost: %s\r\n", r->method,
		                    r->route.target_root ? "/" : "", r->route.target,
		                    host ? host : "gateway");
	if (rc == 0)
		MHD_get_connection_values(c, MHD_HEADER_KIND, copy_header, &h);
	rc = rc ? rc : h.rc;
	if (rc == 0)
		rc = fx_buf_appendf(&r->head, "X-Forwarded-For: %s%s%s\r\n", xff ? xff : "",
		                    xff ? ", " : "", ip);
	if (rc == 0 && host)
		rc = fx_buf_appendf(&r->head, "X-Forwarded-Host: %s\r\n", host);
	if (rc == 0 && !r->system)
		rc = fx_buf_appendf(&r->head, "X-Call-Id: %s\r\nX-Start-Time: %s\r\n", r->call_id,
		                    r->start_time);
	if (rc == 0 && r->system && gw_cfg.token)
		rc = fx_buf_appendf(&r->head, "Authorization: Bearer %s\r\n", gw_cfg.token);
	return rc;
}

/* Appends body bytes to out, framed as chunks when the length is unknown. */
static int out_body(struct gw_req *r, const char *p, size_t n)
{
	int rc = 0;
	if (n == 0)
		return 0;
	if (r->streaming && r->out_off >= (64u << 10)) { /* drop what was sent */
		memmove(r->out.data, r->out.data + r->out_off, r->out.len - r->out_off);
		r->out.len -= r->out_off;
		r->out.data[r->out.len] = '\0'; /* keep fx_buf's invariant */
		r->out_off = 0;
	}
	if (r->streaming && !r->client_len_known)
		rc = fx_buf_appendf(&r->out, "%zx\r\n", n);
	if (rc == 0)
		rc = fx_buf_append(&r->out, p, n);
	if (rc == 0 && r->streaming && !r->client_len_known)
		rc = fx_buf_puts(&r->out, "\r\n");
	return rc;
}

/* Fills out with the head and the body so far. streaming: more body follows. */
static int build_out(struct gw_req *r, bool streaming)
{
	int rc;

	fx_buf_reset(&r->out);
	r->out_off = 0;
	r->streaming = streaming;
	rc = fx_buf_append(&r->out, r->head.data, r->head.len);
	if (rc == 0) {
		if (streaming && !r->client_len_known)
			rc = fx_buf_puts(&r->out, "Transfer-Encoding: chunked\r\n\r\n");
		else if (streaming)
			rc = fx_buf_appendf(&r->out, "Content-Length: %llu\r\n\r\n",
			                    (unsigned long long)r->client_len);
		else if (r->body.len || r->body_announced)
			rc = fx_buf_appendf(&r->out, "Content-Length: %zu\r\n\r\n", r->body.len);
		else
			rc = fx_buf_puts(&r->out, "\r\n");
	}
	if (rc == 0)
		rc = out_body(r, r->body.data, r->body.len);
	if (rc == 0 && r->upload_done && streaming && !r->client_len_known)
		rc = fx_buf_puts(&r->out, "0\r\n\r\n");
	if (streaming)
		fx_buf_reset(&r->body); /* no retries once the body streams */
	return rc;
}

/* ---- talking to the replica ---- */

static bool refused(int e)
{
	return e == ECONNREFUSED || e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH ||
	       e == EHOSTDOWN || e == ECONNRESET || e == ECONNABORTED;
}

static bool idempotent(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0 ||
	       strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0;
}

static void do_send(struct gw_req *r)
{
	while (r->out_off < r->out.len) {
		ssize_t w = send(r->fd, r->out.data + r->out_off, r->out.len - r->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			r->out_off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_events(r, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
			return;
		}
		upstream_failed(r, w < 0 ? errno : EPIPE);
		return;
	}
	if (r->streaming) { /* sent bytes are not needed again */
		fx_buf_reset(&r->out);
		r->out_off = 0;
	}
	if (r->upload_done) {
		if (r->st == ST_SEND) {
			r->st = ST_HEAD;
			r->deadline = gw_now_ms() + gw_cfg.upstream_timeout_ms;
		}
		set_events(r, EPOLLIN | EPOLLRDHUP);
	} else {
		set_events(r, EPOLLIN | EPOLLRDHUP);
		resume(r); /* more body, please */
	}
}

/* Leaves r waiting (W_READY) for a ready replica of its function, woken by
 * the registry's thread; scale: ask the controller for one replica first. One
 * bound for the whole request, however often it comes back here. */
static void wait_ready(struct gw_req *r, bool scale)
{
	if (!r->wake_until)
		r->wake_until = gw_now_ms() + 1000 +
		                (scale ? gw_cfg.scale_timeout_ms : gw_cfg.start_timeout_ms);
	release_cands(r);
	gw_wake_start(r->fn, scale);
	r->st = ST_WAIT;
	r->wait = W_READY;
	r->wait_until = r->wake_until;
}

/* Every replica refused the connection (the request was not sent): they are
 * being stopped (a scale to zero) or restarted. A function that may wake or
 * has replicas waits for a ready one, as for a cold start, until wake_until. */
static bool wait_after_refusals(struct gw_req *r)
{
	struct gw_fn *f = r->fn;
	if (r->system || !f || r->streaming || !r->upload_done || !gw_cfg.controller_host[0] ||
	    (!f->zero && f->replicas == 0) || (r->wake_until && gw_now_ms() >= r->wake_until))
		return false;
	wait_ready(r, f->zero && f->replicas == 0);
	log_info("replicas_refused_waiting", "function=%s", f->name);
	return true;
}

/* Connects to candidate r->next (pooled connection first). */
static void start_upstream(struct gw_req *r)
{
	while (r->next < r->ncand) {
		struct gw_replica *rep = r->cand[r->next];
		/* A pooled connection the replica closed meanwhile shows up as a
		 * connection closed before any answer: sent again on a fresh one. */
		struct gw_uconn *u = r->fresh_retry ? NULL : gw_uconn_get(r->loop, rep);
		r->rep = rep;
		r->reused = u != NULL;
		r->out_off = 0;
		if (u) {
			r->st = ST_SEND;
			r->deadline = gw_now_ms() + gw_cfg.upstream_timeout_ms;
		} else {
			int one = 1;
			int fd = socket(rep->sa.ss_family,
			                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0) {
				req_error(r, 503, "out of sockets");
				return;
			}
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			if (connect(fd, (const struct sockaddr *)&rep->sa, rep->salen) < 0 &&
			    errno != EINPROGRESS) {
				int e = errno;
				close(fd);
				if (refused(e)) {
					gw_replica_mark_down(rep);
					r->next++;
					continue;
				}
				req_error(r, 502, "cannot connect to the replica");
				return;
			}
			u = gw_uconn_new(fd, rep);
			if (!u) {
				req_error(r, 503, "out of memory");
				return;
			}
			r->st = ST_CONNECT;
			r->deadline = gw_now_ms() + gw_cfg.connect_timeout_ms;
		}
		u->ev.req = r;
		r->uc = u;
		r->fd = u->fd;
		gw_inflight(rep, 1);
		r->inflight = true;
		if (r->st == ST_CONNECT)
			set_events(r, EPOLLOUT);
		else
			do_send(r);
		return;
	}
	if (wait_after_refusals(r))
		return;
	log_warn("upstream_unreachable", "uri=%.200s", r->uri);
	req_error(r, 502,
	          r->system ? "controller unreachable" : "no replica of the function is reachable");
}

static void try_next(struct gw_req *r)
{
	close_upstream(r, false);
	r->fresh_retry = false;
	r->next++;
	start_upstream(r);
}

static void upstream_failed(struct gw_req *r, int err)
{
	bool before_answer = !r->head_ready && r->ilen == 0;

	if (r->st == ST_CONNECT && refused(err)) {
		gw_replica_mark_down(r->rep);
		try_next(r);
		return;
	}
	if (before_answer && !r->streaming && r->retries < MAX_TRIES &&
	    (err == EPIPE || err == ECONNRESET || err == 0)) {
		/* Closed before any answer: a pooled connection the replica had closed
		 * (same replica, fresh connection), or a replica that died (idempotent
		 * methods only, as nginx's proxy_next_upstream: the next one). */
		r->retries++;
		if (r->reused && !r->fresh_retry) {
			close_upstream(r, false);
			r->fresh_retry = true;
			r->st = ST_SEND;
			start_upstream(r);
			return;
		}
		if (r->reused || idempotent(r->method)) {
			gw_replica_mark_down(r->rep);
			try_next(r);
			return;
		}
	}
	if (!r->head_ready) {
		req_error(r, 502, "the replica closed the connection");
		return;
	}
	/* In the body: the answer is cut short. */
	r->body_error = true;
	close_upstream(r, false);
	r->st = ST_DONE;
	if (r->reader_waiting) {
		r->reader_waiting = false;
		resume(r);
	}
}

static bool skip_resp_header(const char *name)
{
	static const char *const skip[] = {"Connection",       "Keep-Alive", "Transfer-Encoding",
	                                   "Content-Length",   "Trailer",    "Upgrade",
	                                   "Proxy-Connection", "TE",         "Proxy-Authenticate"};
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strcasecmp(name, skip[i]) == 0)
			return true;
	return false;
}

static bool draining_answer(const struct fx_http1_head *h)
{
	for (size_t i = 0; i < h->nhdr; i++)
		if (strcasecmp(h->hdr[i].name, "X-Faas-Draining") == 0)
			return true;
	return false;
}

static ssize_t body_reader(void *cls, uint64_t pos, char *out, size_t max);
static void reader_free(void *cls);

/* Takes decoded body bytes from ibuf into out; sets *done at the end. */
static size_t take_body(struct gw_req *r, char *out, size_t max, bool *done, bool *bad)
{
	size_t used = 0, n = 0;
	int st =
	    fx_http1_body_take(&r->ans, r->ibuf + r->ioff, r->ilen - r->ioff, &used, out, max, &n);

	r->ioff += used;
	*bad = st < 0;
	*done = st == 1;
	return n;
}

/* The body is complete: the connection goes back to the pool if it can. */
static void body_finished(struct gw_req *r)
{
	bool keep = r->keep_alive && r->ioff == r->ilen && !r->ans.eof;
	close_upstream(r, keep);
	r->st = ST_DONE;
}

static void handle_head(struct gw_req *r)
{
	struct fx_http1_head *h = &r->h;
	struct MHD_Response *resp = NULL;

	r->status = h->status;
	r->ans.framing = h->framing;
	r->ans.left = h->content_length;
	r->keep_alive = h->keep_alive;
	r->ioff = h->head_len;
	r->st = ST_BODY;
	r->deadline = gw_now_ms() + gw_cfg.upstream_timeout_ms;

	if (r->inject && h->status == 200) {
		/* Whole body first (gw_req_event keeps reading); built in inject_done. */
		r->head_ready = true;
		return;
	}
	bool complete = h->framing == FX_BODY_NONE ||
	                (h->framing == FX_BODY_LENGTH && r->ilen - r->ioff >= h->content_length);
	if (complete) {
		size_t blen = h->framing == FX_BODY_NONE ? 0 : (size_t)h->content_length;
		resp =
		    MHD_create_response_from_buffer(blen, r->ibuf + r->ioff, MHD_RESPMEM_MUST_COPY);
		r->ioff += blen;
		r->ans.left = 0;
		body_finished(r);
	} else {
		resp = MHD_create_response_from_callback(
		    h->framing == FX_BODY_LENGTH ? h->content_length : MHD_SIZE_UNKNOWN, 32u << 10,
		    body_reader, r, reader_free);
		if (resp)
			r->refs++; /* the response's hold on r, dropped in reader_free */
	}
	if (!resp) {
		req_error(r, 503, "out of memory");
		return;
	}
	for (size_t i = 0; i < h->nhdr; i++)
		if (!skip_resp_header(h->hdr[i].name))
			MHD_add_response_header(resp, h->hdr[i].name, h->hdr[i].value);
	if (!r->system)
		add_ids(resp, r);
	r->resp = resp;
	r->head_ready = true;
	if (complete) { /* nothing more to read: give the buffer back now */
		free(r->ibuf);
		r->ibuf = NULL;
		r->icap = r->ilen = r->ioff = 0;
	}
	resume(r);
}

static void inject_done(struct gw_req *r)
{
	size_t olen = 0;
	char *o = gw_registry_inject_counts(r->all.data ? r->all.data : "", r->all.len, &olen);
	struct MHD_Response *resp;

	if (o)
		resp = MHD_create_response_from_buffer(olen, o, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(
		    r->all.len, r->all.data ? r->all.data : (void *)(uintptr_t) "",
		    MHD_RESPMEM_MUST_COPY);
	body_finished(r);
	if (!resp) {
		req_error(r, 503, "out of memory");
		return;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	r->resp = resp;
	resume(r);
}

/* Reads what the replica sent. */
static void do_read(struct gw_req *r)
{
	for (;;) {
		if (!r->ibuf) {
			r->icap = 4096;
			r->ibuf = malloc(r->icap);
			if (!r->ibuf) {
				req_error(r, 503, "out of memory");
				return;
			}
		}
		if (r->head_ready && r->ioff > 0) { /* compact */
			memmove(r->ibuf, r->ibuf + r->ioff, r->ilen - r->ioff);
			r->ilen -= r->ioff;
			r->ioff = 0;
		}
		if (r->ilen == r->icap) {
			size_t ncap = r->head_ready ? IBUF_BODY : r->icap * 2;
			if (r->icap >= ncap || (!r->head_ready && r->icap >= HEAD_MAX)) {
				if (!r->head_ready) {
					req_error(r, 502, "the replica's answer head is too large");
					return;
				}
				set_events(r,
				           EPOLLRDHUP); /* full: wait for the client to take some */
				break;
			}
			char *nb = realloc(r->ibuf, ncap);
			if (!nb) {
				req_error(r, 503, "out of memory");
				return;
			}
			r->ibuf = nb;
			r->icap = ncap;
		}
		ssize_t n = recv(r->fd, r->ibuf + r->ilen, r->icap - r->ilen, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			if (n == 0 && r->head_ready && r->ans.framing == FX_BODY_CLOSE) {
				r->ans.eof = true;
				break;
			}
			upstream_failed(r, n == 0 ? 0 : errno);
			return;
		}
		r->ilen += (size_t)n;
		r->deadline = gw_now_ms() + gw_cfg.upstream_timeout_ms;
		if (!r->head_ready) {
			int rc = fx_http1_head_parse(r->ibuf, r->ilen, r->is_head, &r->h);
			if (rc == -EAGAIN)
				continue;
			if (rc < 0) {
				req_error(r, 502, "invalid answer from the replica");
				return;
			}
			if (r->h.status < 200) { /* 1xx: drop it */
				memmove(r->ibuf, r->ibuf + r->h.head_len, r->ilen - r->h.head_len);
				r->ilen -= r->h.head_len;
				continue;
			}
			if (r->h.status == 503 && draining_answer(&r->h) && !r->streaming &&
			    r->retries < MAX_TRIES) {
				/* The replica is shutting down and did not run the request. */
				r->retries++;
				r->ilen = 0;
				gw_replica_mark_down(r->rep);
				try_next(r);
				return;
			}
			if (!r->upload_done) {
				/* An answer before the whole body (e.g. 413): the rest of the body
				 * is not wanted; it is read and dropped, and the answer goes out
				 * once it is in (libmicrohttpd answers only after the request). */
				r->answered_early = true;
				fx_buf_reset(&r->out);
				r->out_off = 0;
			}
			handle_head(r);
			if (r->st == ST_DONE)
				return;
			continue;
		}
		if (r->inject)
			break;
	}
	if (!r->head_ready)
		return;
	if (r->inject && r->resp == NULL) {
		/* accumulate the whole body */
		char tmp[16384];
		bool done, bad;
		for (;;) {
			size_t n = take_body(r, tmp, sizeof(tmp), &done, &bad);
			if (bad || fx_buf_append(&r->all, tmp, n) < 0) {
				req_error(r, 502, "invalid answer from the controller");
				return;
			}
			if (done) {
				inject_done(r);
				return;
			}
			if (n == 0)
				break;
		}
		if (r->ans.eof) {
			inject_done(r);
			return;
		}
		return;
	}
	if (r->reader_waiting && (r->ilen > r->ioff || r->ans.eof)) {
		r->reader_waiting = false;
		resume(r);
	}
}

void gw_req_event(struct gw_req *r, int kind, uint32_t events)
{
	if (kind == GW_EV_CLIENT) {
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			/* The client hung up while we waited: abort the replica's request. */
			r->client_gone = true;
			close_upstream(r, false);
			r->st = ST_DONE;
			r->reader_waiting = false;
			resume(r);
		}
		return;
	}
	if (r->fd < 0)
		return;
	if (r->st == ST_CONNECT) {
		int err = 0;
		socklen_t l = sizeof(err);
		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
			err = errno;
		if (err) {
			upstream_failed(r, err);
			return;
		}
		r->st = ST_SEND;
		r->deadline = gw_now_ms() + gw_cfg.upstream_timeout_ms;
		do_send(r);
		return;
	}
	if ((events & EPOLLOUT) && r->out_off < r->out.len) {
		do_send(r);
		if (r->fd < 0)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		do_read(r);
}

/* Called every few ms: deadlines and waits. */
void gw_req_tick(struct gw_req *r, int64_t now)
{
	if (r->suspended && !r->client_watched && now - r->suspended_at >= 10)
		watch_client(r, true);
	if (r->st == ST_CONNECT && now > r->deadline) {
		gw_replica_mark_down(r->rep);
		try_next(r);
	} else if ((r->st == ST_HEAD || r->st == ST_SEND) && r->upload_done && now > r->deadline) {
		log_warn("upstream_timeout", "uri=%.200s replica=%s", r->uri,
		         r->rep ? r->rep->addr : "?");
		req_error(r, 504, "the function did not answer in time");
	} else if (r->st == ST_BODY && now > r->deadline && !r->reader_waiting && r->resp) {
		/* the client is slow to read: not the replica's fault; wait */
		r->deadline = now + gw_cfg.upstream_timeout_ms;
	} else if (r->st == ST_BODY && now > r->deadline) {
		log_warn("upstream_timeout", "uri=%.200s replica=%s phase=body", r->uri,
		         r->rep ? r->rep->addr : "?");
		if (r->resp || r->inject)
			upstream_failed(r, ETIMEDOUT);
		else
			req_error(r, 504, "the function did not answer in time");
	} else if (r->st == ST_WAIT) {
		gw_req_retry_wait(r, now);
	}
}

void gw_reqs_tick(struct gw_req *head, int64_t now)
{
	for (struct gw_req *r = head, *nx; r; r = nx) {
		nx = r->lnext;
		gw_req_tick(r, now);
	}
}

void gw_reqs_abort(struct gw_req *head)
{
	for (struct gw_req *r = head; r; r = r->lnext) {
		r->client_gone = true;
		close_upstream(r, false);
		r->st = ST_DONE;
		r->reader_waiting = false;
		resume(r);
	}
}

/* ---- the body reader (libmicrohttpd pulls the answer) ---- */

static ssize_t body_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct gw_req *r = cls;
	bool done, bad;
	(void)pos;

	if (r->client_gone)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = take_body(r, out, max, &done, &bad);
	if (bad)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (done && r->st != ST_DONE)
		body_finished(r);
	if (r->fd >= 0 && !(events_of(r) & EPOLLIN) && r->ilen - r->ioff < r->icap)
		set_events(r, EPOLLIN | EPOLLRDHUP); /* room again */
	if (n > 0)
		return (ssize_t)n;
	if (done)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (r->body_error || r->fd < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	/* Nothing yet: sleep until the replica sends more. */
	r->reader_waiting = true;
	suspend(r);
	return 0;
}

static void reader_free(void *cls)
{
	unref(cls);
}

/* ---- request flow ---- */

static bool is_inject_path(const char *uri)
{
	size_t n = strcspn(uri, "?");
	static const char *const exact[] = {"/system/functions", "/apis/faas/v1/functions"};
	static const char *const prefix[] = {"/system/function/", "/apis/faas/v1/functions/"};
	for (size_t i = 0; i < 2; i++) {
		if (strlen(exact[i]) == n && strncmp(uri, exact[i], n) == 0)
			return true;
		size_t pl = strlen(prefix[i]);
		if (n > pl && strncmp(uri, prefix[i], pl) == 0 && !memchr(uri + pl, '/', n - pl))
			return true;
	}
	return false;
}

static bool auth_ok(struct MHD_Connection *c)
{
	if (!gw_cfg.basic_auth)
		return true;
	return gw_basic_auth_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
	                        gw_cfg.auth_user, gw_cfg.auth_password);
}

static const char *cross_site(struct MHD_Connection *c, const char *method)
{
#define H(name) MHD_lookup_connection_value(c, MHD_HEADER_KIND, name)
	const struct gw_browser b = {H("Host"),           H("Origin"),         H("Sec-Fetch-Site"),
	                             H("Sec-Fetch-Mode"), H("Sec-Fetch-Dest"), H("Referer"),
	                             H("Content-Type")};
#undef H
	return gw_cross_site_refused(method, &b);
}

/* Ready to talk to a replica: connect if the body allows it already. */
static void maybe_start(struct gw_req *r)
{
	if (r->st != ST_NEW || r->err_status)
		return;
	if (r->upload_done) {
		if (build_out(r, false) < 0) {
			req_error(r, 503, "out of memory");
			return;
		}
		start_upstream(r);
	} else if (r->body.len >= PREFIX) {
		if (build_out(r, true) < 0) {
			req_error(r, 503, "out of memory");
			return;
		}
		start_upstream(r);
	}
}

/* Finds the function and its replicas; may leave r waiting (ST_WAIT). */
static void resolve_function(struct gw_req *r, const char *name, bool first)
{
	struct gw_fn *f = r->fn;
	uint64_t seq;
	int64_t now = gw_now_ms();

	if (!f) {
		if (!gw_registry_loaded()) {
			req_error(r, 503, "the function registry is not loaded yet");
			return;
		}
		f = gw_registry_lookup(name, &seq);
		if (!f) {
			if (first && gw_registry_poll_soon()) {
				r->st = ST_WAIT;
				r->wait = W_REGISTRY;
				r->wait_seq = seq;
				r->wait_until = now + WAIT_REGISTRY_MS;
				return;
			}
			req_error(r, 404, "function not found");
			return;
		}
		r->fn = f;
		gw_metrics_started(f->metrics);
	}
	size_t n = gw_pick(f, r->cand, MAX_TRIES);
	if (n == GW_PICK_PENDING) {
		if (r->st != ST_WAIT || r->wait != W_DNS) {
			r->st = ST_WAIT;
			r->wait = W_DNS;
			r->wait_until = now + WAIT_DNS_MS;
		}
		return;
	}
	r->ncand = n;
	bool none =
	    n == 0 || (gw_cfg.static_discovery && gw_cfg.controller_host[0] && f->replicas == 0);
	/* No ready replica: wait for one when the function is at zero (scaled up
	 * now) or starting (it has replicas, none past its health check yet). */
	bool scale = f->zero, starting = f->replicas > 0 && !gw_cfg.static_discovery;
	if (none && (scale || starting) && gw_cfg.controller_host[0] &&
	    !(r->st == ST_WAIT && r->wait == W_READY)) {
		wait_ready(r, scale && !starting);
		return;
	}
	if (none) {
		release_cands(r);
		req_error(r, 503, "the function has no ready replicas");
		return;
	}
	r->st = ST_NEW;
	maybe_start(r);
}

void gw_req_retry_wait(struct gw_req *r, int64_t now)
{
	if (r->st != ST_WAIT)
		return;
	switch (r->wait) {
	case W_REGISTRY:
		if (gw_registry_seq() == r->wait_seq && now < r->wait_until)
			return;
		resolve_function(r, r->route.name, false);
		break;
	case W_DNS:
		if (now > r->wait_until) {
			req_error(r, 503, "the function's replicas could not be resolved");
			return;
		}
		resolve_function(r, r->route.name, false);
		break;
	case W_READY: {
		int s = gw_wake_state(r->fn);
		if (s == 0 && now < r->wait_until)
			return;
		if (s != 1) {
			req_error(
			    r, 503,
			    r->fn->zero && r->fn->replicas == 0
			        ? "the function has no ready replicas (scale from zero timed out)"
			        : "the function has no ready replicas (none became ready in time)");
			return;
		}
		r->st = ST_NEW;
		size_t n = gw_pick(r->fn, r->cand, MAX_TRIES);
		if (n == 0 || n == GW_PICK_PENDING) {
			req_error(r, 503, "the function has no ready replicas");
			return;
		}
		r->ncand = n;
		maybe_start(r);
		break;
	}
	}
	if (r->st != ST_WAIT && r->st != ST_NEW)
		resume(r);
	else if (r->st == ST_NEW && r->suspended)
		resume(r);
}

static int req_first(struct MHD_Connection *c, struct gw_req *r, const char *method)
{
	const char *xf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Function");
	const char *cid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Call-Id");
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
	const union MHD_ConnectionInfo *ci;
	const char *why;

	r->c = c;
	r->method = method;
	r->is_head = strcmp(method, "HEAD") == 0;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	r->client_fd = ci ? ci->connect_fd : -1;
	gw_route_parse(method, r->uri, xf, &r->route);

	if (cl) {
		uint64_t v = 0;
		const char *p = cl;
		for (; *p >= '0' && *p <= '9' && v < (UINT64_MAX / 10 - 9); p++)
			v = v * 10 + (uint64_t)(*p - '0');
		r->client_len_known = *p == '\0' && p != cl;
		r->client_len = v;
		r->body_announced = true;
	}
	if (te) {
		r->client_len_known = false;
		r->body_announced = true;
	}

	switch (r->route.kind) {
	case GW_ROUTE_BAD:
		return early(c, r, 400, r->route.err);
	case GW_ROUTE_NOT_FOUND:
		return early(c, r, 404, "not found");
	case GW_ROUTE_SYSTEM:
		/* Before auth: a refused page gets no login prompt either. */
		if ((why = cross_site(c, method)) != NULL) {
			log_warn("cross_site_refused", "method=%s uri=%.200s", method, r->uri);
			return fail(c, r, 403, why);
		}
		if (!auth_ok(c))
			return fail(c, r, 401, "unauthorized");
		if (!gw_cfg.controller_host[0])
			return fail(c, r, 404, "no controller configured");
		r->system = true;
		r->inject = strcmp(method, "GET") == 0 && is_inject_path(r->uri);
		r->cand[0] = gw_controller_replica();
		if (!r->cand[0])
			return fail(c, r, 502, "controller unreachable");
		r->ncand = 1;
		break;
	case GW_ROUTE_UI:
	case GW_ROUTE_UI_REDIRECT:
		if (r->route.kind == GW_ROUTE_UI && !auth_ok(c))
			return fail(c, r, 401, "unauthorized");
		return gw_serve_local(c, &r->route, method);
	case GW_ROUTE_HEALTHZ:
	case GW_ROUTE_METRICS:
		return gw_serve_local(c, &r->route, method);
	case GW_ROUTE_ALEXA:
		r->alexa = true;
		break;
	case GW_ROUTE_FUNCTION:
		break;
	}

	if (!r->system) {
		if (cid && cid[0] && gw_header_value_ok(cid, 64) && !strpbrk(cid, " \t"))
			snprintf(r->call_id, sizeof(r->call_id), "%s", cid);
		else
			new_call_id(r->call_id);
		snprintf(r->start_time, sizeof(r->start_time), "%llu",
		         (unsigned long long)now_ns());
	}
	if (gw_cfg.max_body && r->client_len_known && r->client_len > gw_cfg.max_body)
		return fail(c, r, 413, "request body too large");
	if (!r->alexa && build_head(c, r) < 0)
		return fail(c, r, 431, "request headers too large");
	r->st = ST_NEW;
	if (r->route.kind == GW_ROUTE_FUNCTION) {
		resolve_function(r, r->route.name, true);
		if (r->err_status) {
			unsigned st = r->err_status;
			r->err_status = 0;
			return early(c, r, st, r->err_msg);
		}
	}
	return MHD_YES;
}

static int proxy_body(struct MHD_Connection *c, struct gw_req *r, const char *upload,
                      size_t *upload_size)
{
	if (r->client_gone)
		return MHD_NO;
	if (*upload_size > 0) {
		size_t n = *upload_size;
		if (r->err_status || r->st == ST_DONE || r->answered_early) {
			*upload_size = 0; /* discard; the answer goes out at the end */
			return MHD_YES;
		}
		if (gw_cfg.max_body && r->body_total + n > gw_cfg.max_body) {
			log_warn("body_too_large", "uri=%.200s", r->uri);
			close_upstream(r, false);
			return MHD_NO; /* a chunked body past the cap: close the connection */
		}
		if (r->alexa) {
			*upload_size = 0;
			r->body_total += n;
			if (fx_buf_append(&r->body, upload, n) < 0 || r->body.len > ALEXA_MAX) {
				r->err_status = 413;
				r->err_msg = "request body too large";
			}
			return MHD_YES;
		}
		if (r->streaming) {
			if (r->out.len - r->out_off > OUT_HIGH) {
				suspend(r); /* the replica is slower than the client: wait */
				return MHD_YES;
			}
			*upload_size = 0;
			r->body_total += n;
			if (out_body(r, upload, n) < 0) {
				req_error(r, 503, "out of memory");
				return MHD_YES;
			}
			if (r->fd >= 0 && r->st != ST_CONNECT)
				do_send(r);
			return MHD_YES;
		}
		if (r->body.len >= PREFIX) { /* waiting for a replica: hold the client */
			suspend(r);
			return MHD_YES;
		}
		*upload_size = 0;
		r->body_total += n;
		if (fx_buf_append(&r->body, upload, n) < 0) {
			req_error(r, 503, "out of memory");
			return MHD_YES;
		}
		maybe_start(r);
		return MHD_YES;
	}

	/* The whole request is in (or we were resumed). */
	if (!r->upload_done) {
		r->upload_done = true;
		if (r->alexa && !r->err_status) {
			char name[GW_NAME_MAX + 1];
			if (gw_alexa_intent(r->body.data ? r->body.data : "", r->body.len, name) <
			    0)
				return fail(c, r, 404,
				            "not found (not an Alexa request with an intent name)");
			r->route.target = "";
			r->route.target_root = true;
			snprintf(r->route.name, sizeof(r->route.name), "%s", name);
			if (build_head(c, r) < 0)
				return fail(c, r, 431, "request headers too large");
			r->st = ST_NEW;
			resolve_function(r, name, true);
		} else if (r->answered_early) {
			/* nothing more to send */
		} else if (r->streaming && !r->client_len_known && r->st != ST_DONE) {
			if (fx_buf_puts(&r->out, "0\r\n\r\n") < 0)
				req_error(r, 503, "out of memory");
			else if (r->fd >= 0 && r->st != ST_CONNECT)
				do_send(r);
		} else if (r->streaming && r->fd >= 0 && r->st == ST_SEND &&
		           r->out_off == r->out.len) {
			do_send(r); /* all sent: now wait for the head */
		} else {
			maybe_start(r);
		}
	}
	if (r->err_status)
		return fail(c, r, r->err_status, r->err_msg);
	if (r->resp) {
		enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, r->resp);
		MHD_destroy_response(r->resp);
		r->resp = NULL;
		return ret;
	}
	suspend(r); /* until the answer's head (or an error) */
	return MHD_YES;
}

int gw_proxy_dispatch(struct MHD_Connection *c, struct gw_req *r, const char *method,
                      const char *upload, size_t *upload_size)
{
	r->suspended = false; /* a call means libmicrohttpd resumed us */
	watch_client(r, false);
	if (!r->started) {
		r->started = true;
		return req_first(c, r, method);
	}
	return proxy_body(c, r, upload, upload_size);
}
