/* proxy.c: one request through the gateway.
 *
 * Runs in the client connection's own thread (libmicrohttpd thread-per-connection),
 * so it may block on the replica's socket. The first call routes; body chunks
 * are buffered up to PREFIX bytes (so a request that fits can be retried on
 * another connection), then streamed; the final call sends what is left and
 * reads the answer's head; the body is pulled by libmicrohttpd through
 * body_reader() while it writes to the client. */
#include "gateway.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define PREFIX      (64u << 10) /* request body kept for retries */
#define HEAD_MAX    (32u << 10) /* an upstream response head */
#define RBUF        (32u << 10)
#define ALEXA_MAX   (256u << 10)
#define INJECT_MAX  (32u << 20)
#define MAX_TRIES   8

struct gw_req {
	char *uri; /* raw request target (owned) */
	bool started;
	const char *method; /* borrowed from libmicrohttpd, valid for the request */
	struct gw_route route;
	struct gw_fn *fn;  /* function requests: registry entry */
	bool system;       /* to the controller */
	bool inject;       /* buffer the answer and add invocationCount */
	bool alexa;        /* body names the function */
	bool is_head;
	bool body_announced;
	bool client_len_known;
	uint64_t client_len;
	struct fx_buf head; /* request head without framing and final CRLF */
	struct fx_buf body; /* body bytes not yet sent */
	bool streaming;     /* head sent, body flowing */
	uint64_t body_total;
	int client_fd;
	struct gw_replica *cand[MAX_TRIES];
	size_t ncand, next;
	struct gw_replica *rep; /* connected one (ref in cand[]) */
	int fd;
	bool reused;
	bool inflight;
	unsigned err_status; /* deferred error, sent at the final call */
	const char *err_msg;
	int status; /* for metrics */
	struct timespec t0;
	char call_id[80];
	char start_time[32];
};

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
	/* xorshift128+ */
	uint64_t a[2];
	for (int i = 0; i < 2; i++) {
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

struct gw_req *gw_req_new(const char *uri)
{
	struct gw_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->uri = strdup(uri);
	if (!r->uri) {
		free(r);
		return NULL;
	}
	r->fd = -1;
	r->client_fd = -1;
	fx_buf_init(&r->head, 64u << 10);
	fx_buf_init(&r->body, PREFIX + (64u << 10));
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	return r;
}

static void drop_upstream(struct gw_req *r)
{
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	if (r->inflight) {
		gw_inflight(r->rep, -1);
		r->inflight = false;
	}
}

static void release_cands(struct gw_req *r)
{
	for (size_t i = 0; i < r->ncand; i++)
		gw_replica_release(r->cand[i]);
	r->ncand = 0;
	r->rep = NULL;
}

void gw_req_completed(struct gw_req *r)
{
	struct timespec t1;
	if (!r)
		return;
	if (r->fn && r->status) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double s = (double)(t1.tv_sec - r->t0.tv_sec) +
		           (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9;
		gw_metrics_done(r->fn->metrics, r->status, s);
	}
}

void gw_req_free(struct gw_req *r)
{
	if (!r)
		return;
	drop_upstream(r);
	release_cands(r);
	fx_buf_release(&r->head);
	fx_buf_release(&r->body);
	free(r->uri);
	free(r);
}

/* ---- responses ---- */

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
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);
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

/* ---- building the upstream request ---- */

struct hdr_ctx {
	struct gw_req *r;
	const char *connection;
	const char *xff;
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
	struct hdr_ctx h = {.r = r,
	                    .connection =
	                        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection")};
	int rc;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		if (ci->client_addr->sa_family == AF_INET)
			inet_ntop(AF_INET,
			          &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
			          ip, sizeof(ip));
		else if (ci->client_addr->sa_family == AF_INET6)
			inet_ntop(
			    AF_INET6,
			    &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr,
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

/* ---- sending ---- */

static int send_chunk(struct gw_req *r, const char *p, size_t n)
{
	char hdr[24];
	int rc;
	if (n == 0)
		return 0;
	if (!r->client_len_known) {
		int hn = snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
		rc = gw_write_more(r->fd, hdr, (size_t)hn, gw_cfg.upstream_timeout_ms, r->client_fd,
		                   true);
		if (rc == 0)
			rc = gw_write_more(r->fd, p, n, gw_cfg.upstream_timeout_ms, r->client_fd, true);
		if (rc == 0)
			rc = gw_write_all(r->fd, "\r\n", 2, gw_cfg.upstream_timeout_ms, r->client_fd);
		return rc;
	}
	return gw_write_all(r->fd, p, n, gw_cfg.upstream_timeout_ms, r->client_fd);
}

/* Sends head and buffered body on the connection r->fd. streaming: more body follows. */
static int send_start(struct gw_req *r, bool streaming)
{
	struct fx_buf out;
	int rc = 0;

	fx_buf_init(&out, (size_t)HEAD_MAX * 4 + PREFIX * 2);
	rc = fx_buf_append(&out, r->head.data, r->head.len);
	if (rc == 0) {
		if (streaming && !r->client_len_known)
			rc = fx_buf_puts(&out, "Transfer-Encoding: chunked\r\n\r\n");
		else if (streaming)
			rc = fx_buf_appendf(&out, "Content-Length: %llu\r\n\r\n",
			                    (unsigned long long)r->client_len);
		else if (r->body.len || r->body_announced)
			rc = fx_buf_appendf(&out, "Content-Length: %zu\r\n\r\n", r->body.len);
		else
			rc = fx_buf_puts(&out, "\r\n");
	}
	if (rc == 0 && !(streaming && !r->client_len_known))
		rc = fx_buf_append(&out, r->body.data, r->body.len);
	if (rc == 0)
		rc = gw_write_all(r->fd, out.data, out.len, gw_cfg.upstream_timeout_ms, r->client_fd);
	if (rc == 0 && streaming && !r->client_len_known)
		rc = send_chunk(r, r->body.data, r->body.len);
	fx_buf_release(&out);
	return rc;
}

static bool refused(int rc)
{
	return rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -EHOSTUNREACH ||
	       rc == -ENETUNREACH || rc == -EHOSTDOWN || rc == -ECONNRESET;
}

/* Connects to the next candidate and sends the start of the request. A replica
 * that refuses is skipped. 0, or an HTTP status for the error. */
static unsigned connect_and_send(struct gw_req *r, bool streaming, bool fresh_only)
{
	int last = 0;

	while (r->next < r->ncand) {
		struct gw_replica *rep = r->cand[r->next];
		int fd = fresh_only ? -1 : gw_pool_get(rep);
		while (fd >= 0 && !gw_conn_alive(fd)) {
			close(fd);
			fd = gw_pool_get(rep);
		}
		r->reused = fd >= 0;
		if (fd < 0) {
			fd = gw_connect((const struct sockaddr *)&rep->sa, rep->salen,
			                gw_cfg.connect_timeout_ms);
			if (fd < 0) {
				last = fd;
				if (refused(fd)) {
					log_debug("replica_refused", "addr=%s err=\"%s\"", rep->addr,
					          strerror(-fd));
					gw_replica_mark_down(rep);
					r->next++;
					continue;
				}
				break;
			}
		}
		r->fd = fd;
		r->rep = rep;
		gw_inflight(rep, 1);
		r->inflight = true;
		int rc = send_start(r, streaming);
		if (rc == 0)
			return 0;
		drop_upstream(r);
		if (rc == -ECONNABORTED)
			return 499;
		if (r->reused) {
			fresh_only = true; /* a stale pooled connection: retry this replica fresh */
			continue;
		}
		last = rc;
		if (rc == -ETIMEDOUT)
			return 504;
		r->next++;
		fresh_only = false;
	}
	if (r->system)
		r->err_msg = "controller unreachable";
	else
		r->err_msg = "no replica of the function is reachable";
	log_warn("upstream_unreachable", "uri=%.200s err=\"%s\"", r->uri,
	         last ? strerror(-last) : "no candidates");
	return 502;
}

/* ---- the answer's body ---- */

struct reader {
	int fd;
	struct gw_replica *rep; /* ref held */
	enum gw_framing framing;
	uint64_t left;
	struct gw_chunked ck;
	char *buf; /* raw bytes read past the head */
	size_t pos, len;
	int client_fd;
	bool keep_alive;
};

static void reader_done(struct reader *rd)
{
	if (rd->keep_alive && rd->pos == rd->len && rd->fd >= 0) {
		gw_pool_put(rd->rep, rd->fd);
		rd->fd = -1;
	}
}

static ssize_t body_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct reader *rd = cls;
	ssize_t n;
	(void)pos;

	if (rd->fd < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	for (;;) {
		if (rd->framing == GW_BODY_CHUNKED) {
			if (rd->pos < rd->len) {
				size_t used, made;
				int st = gw_chunked_decode(&rd->ck, rd->buf + rd->pos, rd->len - rd->pos,
				                           &used, out, max, &made);
				if (st < 0)
					return MHD_CONTENT_READER_END_WITH_ERROR;
				rd->pos += used;
				if (st == 1) {
					reader_done(rd);
					if (made)
						return (ssize_t)made;
					return MHD_CONTENT_READER_END_OF_STREAM;
				}
				if (made)
					return (ssize_t)made;
				if (rd->pos < rd->len)
					continue;
			}
			rd->pos = rd->len = 0;
			n = gw_read(rd->fd, rd->buf, RBUF, gw_cfg.upstream_timeout_ms, rd->client_fd);
			if (n <= 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			rd->len = (size_t)n;
			continue;
		}
		size_t want = max;
		if (rd->framing == GW_BODY_LENGTH && want > rd->left)
			want = (size_t)rd->left;
		if (want == 0) {
			reader_done(rd);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (rd->pos < rd->len) {
			n = (ssize_t)(rd->len - rd->pos < want ? rd->len - rd->pos : want);
			memcpy(out, rd->buf + rd->pos, (size_t)n);
			rd->pos += (size_t)n;
		} else {
			n = gw_read(rd->fd, out, want, gw_cfg.upstream_timeout_ms, rd->client_fd);
			if (n == 0 && rd->framing == GW_BODY_CLOSE) {
				close(rd->fd);
				rd->fd = -1;
				return MHD_CONTENT_READER_END_OF_STREAM;
			}
			if (n <= 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (rd->framing == GW_BODY_LENGTH) {
			rd->left -= (uint64_t)n;
			if (rd->left == 0)
				reader_done(rd);
		}
		return n;
	}
}

static void reader_free(void *cls)
{
	struct reader *rd = cls;
	if (rd->fd >= 0)
		close(rd->fd); /* unfinished (e.g. the client left): abort upstream */
	gw_inflight(rd->rep, -1);
	gw_replica_release(rd->rep);
	free(rd->buf);
	free(rd);
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

/* Reads the rest of a body into out (bounded), for answers we rewrite. */
static int read_all(struct gw_req *r, struct gw_resp_head *h, char *buf, size_t have,
                    struct fx_buf *out)
{
	struct reader rd = {.fd = r->fd, .framing = h->framing, .left = h->content_length,
	                    .client_fd = r->client_fd};
	char tmp[16384];
	ssize_t n;

	rd.buf = malloc(RBUF);
	if (!rd.buf)
		return -ENOMEM;
	memcpy(rd.buf, buf, have);
	rd.len = have;
	if (h->framing == GW_BODY_NONE)
		goto done;
	for (;;) {
		n = body_reader(&rd, 0, tmp, sizeof(tmp));
		if (n == MHD_CONTENT_READER_END_OF_STREAM)
			break;
		if (n < 0 || fx_buf_append(out, tmp, (size_t)n) < 0) {
			free(rd.buf);
			return -EIO;
		}
		if (h->framing == GW_BODY_LENGTH && rd.left == 0)
			break;
	}
done:
	free(rd.buf);
	return 0;
}

static bool idempotent(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0 ||
	       strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0;
}

/* A replica's "503, I am shutting down" (docs/api.md, X-Faas-Draining). */
static bool draining_answer(const struct gw_resp_head *h)
{
	for (size_t i = 0; i < h->nhdr; i++)
		if (strcasecmp(h->hdr[i].name, "X-Faas-Draining") == 0)
			return true;
	return false;
}

static enum MHD_Result respond_upstream(struct MHD_Connection *c, struct gw_req *r)
{
	char *buf = malloc(HEAD_MAX);
	size_t len = 0;
	struct gw_resp_head h;
	struct MHD_Response *resp = NULL;
	enum MHD_Result ret;
	bool fresh_retry = false;
	int retries = 0;
	int rc;

	if (!buf)
		return fail(c, r, 503, "out of memory");
	for (;;) {
		ssize_t n = gw_read(r->fd, buf + len, HEAD_MAX - len, gw_cfg.upstream_timeout_ms,
		                    r->client_fd);
		if (n == -ECONNABORTED) {
			free(buf);
			drop_upstream(r);
			r->status = 499;
			return MHD_NO; /* the client left: nothing to answer */
		}
		if ((n == 0 || n == -ECONNRESET || n == -EPIPE) && len == 0 && !r->streaming &&
		    retries < MAX_TRIES && (r->reused || idempotent(r->method))) {
			/* Closed before any answer: a pooled connection the replica had
			 * closed (the request was not processed: same replica, fresh
			 * connection), or a replica that died (idempotent methods only, as
			 * nginx's proxy_next_upstream: the next replica). */
			unsigned st;
			bool same = r->reused && !fresh_retry;
			drop_upstream(r);
			retries++;
			if (same) {
				fresh_retry = true;
				st = connect_and_send(r, false, true);
			} else {
				gw_replica_mark_down(r->rep);
				r->next++;
				st = connect_and_send(r, false, false);
			}
			if (st) {
				free(buf);
				return fail(c, r, st == 499 ? 502 : st,
				            r->err_msg ? r->err_msg : "upstream error");
			}
			continue;
		}
		if (n == -ETIMEDOUT) {
			free(buf);
			drop_upstream(r);
			log_warn("upstream_timeout", "uri=%.200s replica=%s", r->uri, r->rep->addr);
			return fail(c, r, 504, "the function did not answer in time");
		}
		if (n <= 0) {
			free(buf);
			drop_upstream(r);
			return fail(c, r, 502, "the replica closed the connection");
		}
		len += (size_t)n;
		rc = gw_resp_head_parse(buf, len, r->is_head, &h);
		if (rc == -EAGAIN && len < HEAD_MAX)
			continue;
		if (rc < 0) {
			free(buf);
			drop_upstream(r);
			return fail(c, r, 502, "invalid answer from the replica");
		}
		if (h.status == 503 && draining_answer(&h) && !r->streaming && retries < MAX_TRIES) {
			/* The replica is shutting down and did not run the request. */
			drop_upstream(r);
			gw_replica_mark_down(r->rep);
			r->next++;
			retries++;
			len = 0;
			unsigned st = connect_and_send(r, false, false);
			if (st) {
				free(buf);
				return fail(c, r, st == 499 ? 502 : st,
				            r->err_msg ? r->err_msg : "upstream error");
			}
			continue;
		}
		if (h.status < 200) { /* 1xx: drop it, read on */
			memmove(buf, buf + h.head_len, len - h.head_len);
			len -= h.head_len;
			continue;
		}
		break;
	}
	r->status = h.status;
	size_t have = len - h.head_len;
	char *rest = buf + h.head_len;

	if (r->inject && h.status == 200) {
		struct fx_buf all;
		fx_buf_init(&all, INJECT_MAX);
		if (read_all(r, &h, rest, have, &all) == 0) {
			size_t olen = 0;
			char *o = gw_registry_inject_counts(all.data ? all.data : "", all.len, &olen);
			if (o)
				resp = MHD_create_response_from_buffer(olen, o, MHD_RESPMEM_MUST_FREE);
			else
				resp = MHD_create_response_from_buffer(all.len, all.data,
				                                       MHD_RESPMEM_MUST_COPY);
		}
		fx_buf_release(&all);
		if (h.keep_alive && resp)
			gw_pool_put(r->rep, r->fd);
		else
			close(r->fd);
		r->fd = -1;
		gw_inflight(r->rep, -1);
		r->inflight = false;
		if (!resp) {
			free(buf);
			return fail(c, r, 502, "invalid answer from the controller");
		}
	} else if (h.framing == GW_BODY_NONE ||
	           (h.framing == GW_BODY_LENGTH && have >= h.content_length)) {
		size_t blen = h.framing == GW_BODY_NONE ? 0 : (size_t)h.content_length;
		resp = MHD_create_response_from_buffer(blen, rest, MHD_RESPMEM_MUST_COPY);
		if (h.keep_alive && have == blen)
			gw_pool_put(r->rep, r->fd);
		else
			close(r->fd);
		r->fd = -1;
		gw_inflight(r->rep, -1);
		r->inflight = false;
	} else {
		struct reader *rd = calloc(1, sizeof(*rd));
		char *rb = malloc(RBUF);
		if (rd && rb) {
			memcpy(rb, rest, have);
			rd->buf = rb;
			rd->len = have;
			rd->fd = r->fd;
			rd->rep = r->rep;
			rd->framing = h.framing;
			rd->left = h.content_length;
			rd->client_fd = r->client_fd;
			rd->keep_alive = h.keep_alive;
			resp = MHD_create_response_from_callback(
			    h.framing == GW_BODY_LENGTH ? h.content_length : MHD_SIZE_UNKNOWN, 32u << 10,
			    body_reader, rd, reader_free);
		}
		if (!resp) {
			free(rd);
			free(rb);
			free(buf);
			drop_upstream(r);
			return fail(c, r, 503, "out of memory");
		}
		/* The reader owns the connection, the in-flight count and a replica ref. */
		r->fd = -1;
		r->inflight = false;
		for (size_t i = 0; i < r->ncand; i++)
			if (r->cand[i] == r->rep) {
				r->cand[i] = r->cand[--r->ncand];
				break;
			}
	}
	if (!resp) {
		free(buf);
		return fail(c, r, 503, "out of memory");
	}
	for (size_t i = 0; i < h.nhdr; i++)
		if (!skip_resp_header(h.hdr[i].name))
			MHD_add_response_header(resp, h.hdr[i].name, h.hdr[i].value);
	if (!r->system)
		add_ids(resp, r);
	free(buf);
	ret = MHD_queue_response(c, (unsigned)h.status, resp);
	MHD_destroy_response(resp);
	return ret;
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

static unsigned setup_function(struct gw_req *r, const char *name)
{
	struct gw_fn *f;

	if (!gw_registry_loaded()) {
		r->err_msg = "the function registry is not loaded yet";
		return 503;
	}
	f = gw_registry_get(name);
	if (!f) {
		r->err_msg = "function not found";
		return 404;
	}
	r->fn = f;
	gw_metrics_started(f->metrics);
	r->ncand = gw_pick(f, r->cand, MAX_TRIES);
	bool none = r->ncand == 0 ||
	            (gw_cfg.static_discovery && gw_cfg.controller_host[0] && f->replicas == 0);
	if (none && f->zero && gw_cfg.controller_host[0]) {
		release_cands(r);
		if (gw_scale_from_zero(f))
			r->ncand = gw_pick(f, r->cand, MAX_TRIES);
		none = r->ncand == 0;
	}
	if (none) {
		release_cands(r);
		r->err_msg = "the function has no ready replicas";
		return 503;
	}
	return 0;
}

static bool auth_ok(struct MHD_Connection *c)
{
	if (!gw_cfg.basic_auth)
		return true;
	return gw_basic_auth_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
	                        gw_cfg.auth_user, gw_cfg.auth_password);
}

static int req_first(struct MHD_Connection *c, struct gw_req *r, const char *method)
{
	const char *xf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Function");
	const char *cid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Call-Id");
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
	const union MHD_ConnectionInfo *ci;
	unsigned st;

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
		snprintf(r->start_time, sizeof(r->start_time), "%llu", (unsigned long long)now_ns());
	}
	if (gw_cfg.max_body && r->client_len_known && r->client_len > gw_cfg.max_body)
		return fail(c, r, 413, "request body too large");
	if (r->route.kind == GW_ROUTE_FUNCTION) {
		st = setup_function(r, r->route.name);
		if (st)
			return early(c, r, st, r->err_msg);
	}
	if (!r->alexa && build_head(c, r) < 0)
		return fail(c, r, 431, "request headers too large");
	return MHD_YES;
}

static int proxy_body(struct MHD_Connection *c, struct gw_req *r, const char *upload,
                      size_t *upload_size)
{
	unsigned st;

	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (r->err_status)
			return MHD_YES; /* discard the rest; the error goes out at the end */
		r->body_total += n;
		if (gw_cfg.max_body && r->body_total > gw_cfg.max_body) {
			log_warn("body_too_large", "uri=%.200s", r->uri);
			drop_upstream(r);
			return MHD_NO; /* chunked body past the cap: close the connection */
		}
		if (r->alexa) {
			if (fx_buf_append(&r->body, upload, n) < 0 || r->body.len > ALEXA_MAX) {
				r->err_status = 413;
				r->err_msg = "request body too large";
			}
			return MHD_YES;
		}
		if (r->streaming) {
			int rc = send_chunk(r, upload, n);
			if (rc < 0) {
				drop_upstream(r);
				if (rc == -ECONNABORTED)
					return MHD_NO;
				r->err_status = rc == -ETIMEDOUT ? 504 : 502;
				r->err_msg = "the replica stopped reading the request";
			}
			return MHD_YES;
		}
		if (fx_buf_append(&r->body, upload, n) < 0) {
			r->err_status = 503;
			r->err_msg = "out of memory";
			return MHD_YES;
		}
		if (r->body.len >= PREFIX) {
			st = connect_and_send(r, true, false);
			if (st == 499)
				return MHD_NO;
			if (st) {
				r->err_status = st;
				if (!r->err_msg)
					r->err_msg = "upstream error";
			}
			r->streaming = true;
			fx_buf_reset(&r->body);
		}
		return MHD_YES;
	}

	/* The whole request is in. */
	if (r->err_status)
		return fail(c, r, r->err_status, r->err_msg);
	if (r->alexa) {
		char name[GW_NAME_MAX + 1];
		if (gw_alexa_intent(r->body.data ? r->body.data : "", r->body.len, name) < 0)
			return fail(c, r, 404, "not found (not an Alexa request with an intent name)");
		r->route.target = "";
		r->route.target_root = true;
		st = setup_function(r, name);
		if (st)
			return fail(c, r, st, r->err_msg);
		if (build_head(c, r) < 0)
			return fail(c, r, 431, "request headers too large");
	}
	if (!r->streaming) {
		st = connect_and_send(r, false, false);
		if (st == 499)
			return MHD_NO;
		if (st)
			return fail(c, r, st, r->err_msg ? r->err_msg : "upstream error");
	} else if (!r->client_len_known) {
		int rc = gw_write_all(r->fd, "0\r\n\r\n", 5, gw_cfg.upstream_timeout_ms, r->client_fd);
		if (rc < 0) {
			drop_upstream(r);
			if (rc == -ECONNABORTED)
				return MHD_NO;
			return fail(c, r, rc == -ETIMEDOUT ? 504 : 502, "the replica stopped reading");
		}
	}
	return respond_upstream(c, r);
}

int gw_proxy_dispatch(struct MHD_Connection *c, struct gw_req *r, const char *method,
                      const char *upload, size_t *upload_size)
{
	if (!r->started) {
		r->started = true;
		return req_first(c, r, method);
	}
	return proxy_body(c, r, upload, upload_size);
}
