/* proxy.c: one proxied HTTP/1.1 exchange without blocking (see proxy.h). */
#include "proxy.h"

#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#define OUT_HIGH     (256u << 10) /* request bytes waiting before the client pauses */
#define OUT_MAX      (1u << 20)   /* request head + bytes waiting */
#define HEAD_MAX     (32u << 10)  /* the answer's head */
#define IBUF_BODY    (32u << 10)  /* answer bytes in flight */
#define REQ_HEAD_MAX (64u << 10)  /* the request head built for the upstream */
#define BODY_MAX     (1u << 20)   /* body held before the start (hold is below it) */
#define COLLECT_MAX  (32u << 20)
#define CLIENT_WATCH 10 /* ms suspended before the client's socket is watched */

static void up_failed(struct fx_px *x, int err);
static void parse_buffered(struct fx_px *x);

static bool has(const struct fx_px *x, unsigned f)
{
	return (x->flags & f) != 0;
}

static void set(struct fx_px *x, unsigned f, bool on)
{
	x->flags = on ? x->flags | f : x->flags & ~f;
}

struct fx_px *fx_px_next(struct fx_px *x)
{
	return x->next;
}

void fx_px_init(struct fx_px *x, const struct fx_px_ops *ops, struct fx_loop *l,
                struct MHD_Connection *c)
{
	struct fx_px **head = l != NULL ? fx_loop_exchanges(l) : NULL;

	memset(x, 0, sizeof(*x));
	x->ops = ops;
	x->loop = l;
	x->refs = 1;
	x->fd = -1;
	x->client_fd = -1;
	x->hold = FX_PX_HOLD;
	x->connect_ms = 2000;
	x->ev_client.kind = FX_EV_CLIENT;
	x->ev_client.px = x;
	fx_buf_init(&x->head, REQ_HEAD_MAX);
	fx_buf_init(&x->body, BODY_MAX);
	fx_buf_init(&x->out, OUT_MAX);
	fx_buf_init(&x->collect, COLLECT_MAX);
	if (c != NULL) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		x->c = c;
		x->client_fd = ci != NULL ? ci->connect_fd : -1;
	}
	if (head == NULL)
		return; /* tests and fuzzing: no loop */
	x->next = *head;
	if (*head != NULL)
		(*head)->prev = x;
	*head = x;
}

/* ---- the client side --------------------------------------------------- */

static void watch_client(struct fx_px *x, bool on)
{
	if (x->client_fd < 0 || on == has(x, FX_PXF_WATCHED))
		return;
	if (fx_loop_watch(x->loop, x->client_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, EPOLLRDHUP,
	                  &x->ev_client) == 0 ||
	    !on)
		set(x, FX_PXF_WATCHED, on);
}

/* Only from a libmicrohttpd callback (the handler or the body reader). While
 * suspended, libmicrohttpd does not watch the client: the loop does, from
 * the first tick after CLIENT_WATCH (most waits end sooner, without any
 * epoll_ctl). */
static void suspend(struct fx_px *x)
{
	if (has(x, FX_PXF_SUSPENDED) || x->c == NULL)
		return;
	set(x, FX_PXF_SUSPENDED, true);
	x->suspended_at = fx_now_ms();
	MHD_suspend_connection(x->c);
}

void fx_px_resume(struct fx_px *x)
{
	if (!has(x, FX_PXF_SUSPENDED))
		return;
	set(x, FX_PXF_SUSPENDED, false);
	watch_client(x, false);
	MHD_resume_connection(x->c);
	fx_loop_kick(x->loop);
}

/* ---- the upstream connection ------------------------------------------- */

static void set_events(struct fx_px *x, uint32_t ev)
{
	if (x->uc != NULL)
		fx_uconn_events(x->loop, x->uc, ev);
}

static void let_go(struct fx_px *x, bool keep, bool tell)
{
	if (x->uc == NULL)
		return;
	fx_uconn_release(x->loop, x->uc, keep);
	x->uc = NULL;
	x->fd = -1;
	if (tell && x->ops->released != NULL)
		x->ops->released(x);
}

static void close_upstream(struct fx_px *x, bool keep)
{
	let_go(x, keep, true);
}

void fx_px_drop_upstream(struct fx_px *x)
{
	close_upstream(x, false);
}

bool fx_px_park(struct fx_px *x)
{
	if (has(x, FX_PXF_BUILT) && !has(x, FX_PXF_WHOLE))
		return false;
	close_upstream(x, false);
	x->st = FX_PX_IDLE;
	return true;
}

static void unref(struct fx_px *x)
{
	struct fx_px **head;

	if (--x->refs > 0)
		return;
	close_upstream(x, false);
	watch_client(x, false);
	head = x->loop != NULL ? fx_loop_exchanges(x->loop) : &x->prev; /* no loop: unlinked */
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		*head = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	fx_buf_release(&x->head);
	fx_buf_release(&x->body);
	fx_buf_release(&x->out);
	fx_buf_release(&x->collect);
	free(x->ibuf);
	x->ibuf = NULL;
	x->ops->free(x);
}

void fx_px_fail(struct fx_px *x, int status, const char *msg)
{
	close_upstream(x, false);
	x->st = FX_PX_DONE;
	if (x->err_status == 0) {
		x->err_status = status;
		x->err_msg = msg;
		x->status = status;
	}
	fx_px_resume(x);
}

/* The answer was cut short (after its head went out). */
static void cut(struct fx_px *x)
{
	set(x, FX_PXF_CUT, true);
	close_upstream(x, false);
	x->st = FX_PX_DONE;
	if (has(x, FX_PXF_READER)) {
		set(x, FX_PXF_READER, false);
		fx_px_resume(x);
	}
}

static void refresh(struct fx_px *x)
{
	if (x->idle_ms > 0)
		x->due = fx_now_ms() + x->idle_ms;
}

/* ---- the request ------------------------------------------------------- */

int fx_px_head_line(struct fx_px *x, const char *method, const char *target1, const char *target2)
{
	static const char *const bodyless[] = {"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"};
	int rc = fx_buf_puts(&x->head, method);

	rc = rc ? rc : fx_buf_append(&x->head, " ", 1);
	rc = rc ? rc : fx_buf_puts(&x->head, target1);
	rc = rc ? rc : fx_buf_puts(&x->head, target2 != NULL ? target2 : "");
	rc = rc ? rc : fx_buf_puts(&x->head, " HTTP/1.1\r\n");
	set(x, FX_PXF_HEAD_REQ, strcmp(method, "HEAD") == 0);
	x->flags |= FX_PXF_ZERO_CL;
	for (size_t i = 0; i < sizeof(bodyless) / sizeof(bodyless[0]); i++)
		if (strcmp(method, bodyless[i]) == 0)
			set(x, FX_PXF_ZERO_CL, false);
	return rc;
}

/* No printf: this runs for every header of every request. */
int fx_px_head_add(struct fx_px *x, const char *name, const char *value)
{
	int rc = fx_buf_puts(&x->head, name);

	rc = rc ? rc : fx_buf_append(&x->head, ": ", 2);
	rc = rc ? rc : fx_buf_puts(&x->head, value);
	return rc ? rc : fx_buf_append(&x->head, "\r\n", 2);
}

struct copy_ctx {
	struct fx_px *x;
	const char *connection;
	bool (*skip)(void *cls, const char *name, const char *value);
	void *cls;
	size_t max_value;
	int rc;
};

static enum MHD_Result copy_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                size_t key_size, const char *value, size_t value_size)
{
	struct copy_ctx *k = cls;

	(void)kind;
	if (value == NULL)
		value = "";
	if (key == NULL || strlen(key) != key_size || strlen(value) != value_size ||
	    !fx_http1_token(key, key_size) || !fx_http1_value_ok(value, value_size)) {
		k->rc = -EBADMSG;
		return MHD_NO;
	}
	if (fx_http1_hop(key, k->connection) || strcasecmp(key, "Content-Length") == 0 ||
	    strcasecmp(key, "Expect") == 0 || strcasecmp(key, "X-Forwarded-For") == 0 ||
	    value_size > k->max_value || (k->skip != NULL && k->skip(k->cls, key, value)))
		return MHD_YES;
	k->rc = fx_px_head_add(k->x, key, value);
	return k->rc == 0 ? MHD_YES : MHD_NO;
}

int fx_px_head_copy(struct fx_px *x, struct MHD_Connection *c,
                    bool (*skip)(void *cls, const char *name, const char *value), void *cls,
                    size_t max_value)
{
	struct copy_ctx k = {
	    .x = x,
	    .connection = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection"),
	    .skip = skip,
	    .cls = cls,
	    .max_value = max_value,
	};

	MHD_get_connection_values_n(c, MHD_HEADER_KIND, copy_one, &k);
	return k.rc;
}

int fx_px_head_forwarded(struct fx_px *x, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	char ip[INET6_ADDRSTRLEN] = "";
	int rc;

	if (ci != NULL && ci->client_addr != NULL) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET,
			          &((const struct sockaddr_in *)(const void *)sa)->sin_addr, ip,
			          sizeof(ip));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
			          &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, ip,
			          sizeof(ip));
	}
	if (xff != NULL && (strlen(xff) > 4096 || !fx_http1_value_ok(xff, strlen(xff))))
		xff = NULL;
	if (xff == NULL && ip[0] == '\0')
		return 0;
	rc = fx_buf_puts(&x->head, "X-Forwarded-For: ");
	if (rc == 0 && xff != NULL)
		rc = fx_buf_puts(&x->head, xff);
	if (rc == 0 && xff != NULL && ip[0] != '\0')
		rc = fx_buf_append(&x->head, ", ", 2);
	rc = rc ? rc : fx_buf_puts(&x->head, ip);
	return rc ? rc : fx_buf_append(&x->head, "\r\n", 2);
}

void fx_px_framing(struct fx_px *x, struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
	uint64_t v = 0;

	if (te != NULL) {
		set(x, FX_PXF_ANNOUNCED, true);
		return; /* chunked: libmicrohttpd decodes it, the length is unknown */
	}
	if (cl == NULL || fx_http1_content_length(cl, &v) < 0)
		return;
	set(x, FX_PXF_ANNOUNCED | FX_PXF_LEN_KNOWN, true);
	x->body_len = v;
}

/* Appends body bytes to out, framed as a chunk when the length is unknown.
 * Past HOLD the request is no longer kept whole: sent bytes are dropped. */
static int out_body(struct fx_px *x, const char *p, size_t n)
{
	char line[24];
	int rc = 0;

	if (n == 0)
		return 0;
	if (!has(x, FX_PXF_WHOLE) && x->out_off >= (64u << 10)) {
		memmove(x->out.data, x->out.data + x->out_off, x->out.len - x->out_off);
		x->out.len -= x->out_off;
		x->out.data[x->out.len] = '\0'; /* fx_buf's invariant */
		x->out_off = 0;
	}
	if (has(x, FX_PXF_WHOLE) && x->out.len + n + 32 > FX_PX_HOLD)
		set(x, FX_PXF_WHOLE, false);
	if (has(x, FX_PXF_CHUNKED)) {
		int k = snprintf(line, sizeof(line), "%zx\r\n", n);
		rc = fx_buf_append(&x->out, line, (size_t)k);
	}
	rc = rc ? rc : fx_buf_append(&x->out, p, n);
	if (rc == 0 && has(x, FX_PXF_CHUNKED))
		rc = fx_buf_append(&x->out, "\r\n", 2);
	return rc;
}

/* out = head, framing, the body held so far. */
static int build_out(struct fx_px *x)
{
	bool stream = !has(x, FX_PXF_UPLOADED);
	char line[48];
	int rc;

	fx_buf_reset(&x->out);
	x->out_off = 0;
	set(x, FX_PXF_STREAM, stream);
	set(x, FX_PXF_CHUNKED, stream && !has(x, FX_PXF_LEN_KNOWN) && has(x, FX_PXF_ANNOUNCED));
	set(x, FX_PXF_WHOLE, true);
	rc = fx_buf_append(&x->out, x->head.data, x->head.len);
	if (rc == 0) {
		int k = 0;
		if (has(x, FX_PXF_CHUNKED))
			rc = fx_buf_puts(&x->out, "Transfer-Encoding: chunked\r\n\r\n");
		else if (stream && has(x, FX_PXF_LEN_KNOWN))
			k = snprintf(line, sizeof(line), "Content-Length: %llu\r\n\r\n",
			             (unsigned long long)x->body_len);
		else if (x->body.len > 0 || has(x, FX_PXF_ANNOUNCED) || has(x, FX_PXF_ZERO_CL))
			k = snprintf(line, sizeof(line), "Content-Length: %zu\r\n\r\n",
			             x->body.len);
		else
			rc = fx_buf_append(&x->out, "\r\n", 2);
		if (k > 0)
			rc = fx_buf_append(&x->out, line, (size_t)k);
	}
	rc = rc ? rc : out_body(x, x->body.data, x->body.len);
	fx_buf_release(&x->body);
	return rc;
}

static void do_send(struct fx_px *x)
{
	while (x->out_off < x->out.len) {
		ssize_t w = send(x->fd, x->out.data + x->out_off, x->out.len - x->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			x->out_off += (size_t)w;
			refresh(x);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_events(x, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
			return;
		}
		up_failed(x, w < 0 ? errno : EPIPE);
		return;
	}
	if (!has(x, FX_PXF_WHOLE)) { /* sent bytes are not needed again */
		fx_buf_reset(&x->out);
		x->out_off = 0;
	}
	set_events(x, EPOLLIN | EPOLLRDHUP);
	if (has(x, FX_PXF_UPLOADED)) {
		if (x->st == FX_PX_SEND) {
			x->st = FX_PX_HEAD;
			refresh(x);
		}
	} else {
		fx_px_resume(x); /* more body, please */
	}
}

int fx_px_start(struct fx_px *x, void *peer, unsigned gen, const struct sockaddr *sa,
                socklen_t salen)
{
	struct fx_uconn *u = NULL;

	if (!has(x, FX_PXF_BUILT)) {
		if (!has(x, FX_PXF_ANNOUNCED) || (has(x, FX_PXF_LEN_KNOWN) && x->body_len == 0))
			set(x, FX_PXF_UPLOADED, true); /* no body: the head is the whole request */
		if (build_out(x) < 0)
			return -ENOMEM;
		set(x, FX_PXF_BUILT, true);
	} else if (!has(x, FX_PXF_WHOLE)) {
		return -ESPIPE; /* part of the request is gone: it cannot be sent again */
	}
	/* Sent again to the same peer: the program is not told (it is the same try). */
	let_go(x, false, peer != x->peer);
	if (peer != x->peer)
		set(x, FX_PXF_FRESH, false);
	x->peer = peer;
	x->gen = gen;
	if (salen > sizeof(x->sa))
		return -EINVAL;
	memcpy(&x->sa, sa, salen);
	x->salen = salen;
	x->out_off = 0;
	x->ilen = x->ioff = 0;
	set(x, FX_PXF_GOT_BYTES | FX_PXF_HEAD_READY | FX_PXF_KEEP | FX_PXF_REUSED, false);
	if (!has(x, FX_PXF_FRESH))
		u = fx_uconn_get(x->loop, peer, gen);
	if (u == NULL) {
		int one = 1,
		    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
			int e = errno;
			close(fd);
			return -e;
		}
		u = fx_uconn_new(fd, peer, gen);
		if (u == NULL)
			return -ENOMEM;
	} else {
		set(x, FX_PXF_REUSED, true);
	}
	u->ev.px = x;
	x->uc = u;
	x->fd = u->fd;
	if (has(x, FX_PXF_REUSED)) {
		x->st = FX_PX_SEND;
		refresh(x);
		do_send(x);
	} else {
		x->st = FX_PX_CONNECT;
		x->due = fx_now_ms() + x->connect_ms;
		set_events(x, EPOLLOUT);
	}
	return 0;
}

static void up_failed(struct fx_px *x, int err)
{
	bool connecting = x->st == FX_PX_CONNECT;

	if (!has(x, FX_PXF_GOT_BYTES) && has(x, FX_PXF_REUSED) && !has(x, FX_PXF_FRESH) &&
	    has(x, FX_PXF_WHOLE) && (err == EPIPE || err == ECONNRESET || err == 0)) {
		/* A pooled connection the upstream had closed meanwhile: the whole
		 * request is still here, once more on a fresh connection. */
		int rc;
		set(x, FX_PXF_FRESH, true);
		rc = fx_px_start(x, x->peer, x->gen, (const struct sockaddr *)&x->sa, x->salen);
		if (rc == 0)
			return;
		err = -rc;
	}
	if (has(x, FX_PXF_HEAD_READY)) {
		cut(x);
		return;
	}
	close_upstream(x, false);
	x->st = FX_PX_DONE;
	x->ops->failed(x, err, connecting);
	if (x->st == FX_PX_DONE && x->err_status == 0)
		fx_px_fail(x, 502, "the upstream closed the connection");
}

/* ---- the answer -------------------------------------------------------- */

static bool pass_header(struct fx_px *x, const char *name, const char *value,
                        const char *connection)
{
	if (fx_http1_hop(name, connection) || strcasecmp(name, "Content-Length") == 0 ||
	    strcasecmp(name, "Date") == 0)
		return false; /* libmicrohttpd frames the answer and dates it */
	return x->ops->pass_header == NULL || x->ops->pass_header(x, name, value);
}

static const char *header_of(const struct fx_http1_head *h, const char *name)
{
	for (size_t i = 0; i < h->nhdr; i++)
		if (strcasecmp(h->hdr[i].name, name) == 0)
			return h->hdr[i].value;
	return NULL;
}

/* Takes decoded body bytes from ibuf into out. 1 at the end, 0 more to come,
 * -EBADMSG. */
static int take_body(struct fx_px *x, char *out, size_t max, size_t *n)
{
	size_t used = 0;
	int st =
	    fx_http1_body_take(&x->ans, x->ibuf + x->ioff, x->ilen - x->ioff, &used, out, max, n);

	x->ioff += used;
	return st;
}

/* The answer is complete: the connection goes back to the pool if it can. */
static void body_finished(struct fx_px *x)
{
	bool keep = has(x, FX_PXF_KEEP) && x->ioff == x->ilen && !x->ans.eof &&
	            !has(x, FX_PXF_EARLY) && x->out_off == x->out.len;
	close_upstream(x, keep);
	x->st = FX_PX_DONE;
}

long fx_px_take(struct fx_px *x, char *out, size_t max)
{
	size_t n = 0;
	int st;

	if (x->ibuf == NULL) {
		if (has(x, FX_PXF_CUT))
			return -2;
		return x->st == FX_PX_DONE ? -1 : 0;
	}
	st = take_body(x, out, max, &n);
	if (st < 0) {
		cut(x);
		return -2;
	}
	if (st == 1 && x->st != FX_PX_DONE)
		body_finished(x);
	if (x->uc != NULL && !(x->uc->events & EPOLLIN) && x->ilen - x->ioff < x->icap)
		set_events(x, EPOLLIN | EPOLLRDHUP); /* room again */
	if (n > 0)
		return (long)n;
	if (st == 1)
		return -1;
	if (has(x, FX_PXF_CUT) || x->st == FX_PX_DONE)
		return -2; /* the upstream side ended before the body did */
	return 0;
}

static ssize_t body_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct fx_px *x = cls;
	long n;

	(void)pos;
	if (has(x, FX_PXF_GONE))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = fx_px_take(x, out, max);
	if (n > 0)
		return n;
	if (n == -1)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n == -2)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	set(x, FX_PXF_READER, true); /* nothing yet: sleep until the upstream sends more */
	suspend(x);
	return 0;
}

static void reader_free(void *cls)
{
	unref(cls);
}

static void collected(struct fx_px *x)
{
	struct MHD_Response *resp;

	body_finished(x);
	resp = x->ops->collected(x, x->collect.data != NULL ? x->collect.data : "", x->collect.len);
	if (resp == NULL) {
		fx_px_fail(x, 503, "out of memory");
		return;
	}
	x->resp = resp;
	fx_px_resume(x);
}

/* COLLECT: moves what is buffered into collect; done at the end. */
static void collect_more(struct fx_px *x)
{
	char tmp[16384];

	for (;;) {
		size_t n = 0;
		int st = take_body(x, tmp, sizeof(tmp), &n);
		if (st < 0 || fx_buf_append(&x->collect, tmp, n) < 0) {
			fx_px_fail(x, 502, "invalid answer from the upstream");
			return;
		}
		if (st == 1 || (x->ans.eof && x->ioff == x->ilen)) {
			collected(x);
			return;
		}
		if (n == 0)
			return;
	}
}

static void handle_head(struct fx_px *x)
{
	struct fx_http1_head *h = &x->h;
	enum fx_px_verdict v = x->ops->head != NULL ? x->ops->head(x, h) : FX_PX_PASS;
	const char *connection;
	struct MHD_Response *resp;
	bool complete;

	if (v == FX_PX_AGAIN)
		return;
	x->status = h->status;
	x->ans = (struct fx_http1_body){.framing = h->framing, .left = h->content_length};
	set(x, FX_PXF_KEEP, h->keep_alive);
	x->ioff = h->head_len;
	x->st = FX_PX_BODY;
	set(x, FX_PXF_HEAD_READY, true);
	refresh(x);
	if (!has(x, FX_PXF_UPLOADED)) {
		/* An answer before the whole body (e.g. 413): the rest of the body is
		 * read and dropped, the answer goes out once it is in (libmicrohttpd
		 * answers only after the request). */
		set(x, FX_PXF_EARLY, true);
		fx_buf_reset(&x->out);
		x->out_off = 0;
	}
	if (v == FX_PX_COLLECT) {
		set(x, FX_PXF_COLLECT, true);
		collect_more(x);
		return;
	}
	complete = h->framing == FX_BODY_NONE ||
	           (h->framing == FX_BODY_LENGTH && x->ilen - x->ioff >= h->content_length);
	if (complete) {
		size_t blen = h->framing == FX_BODY_NONE ? 0 : (size_t)h->content_length;
		resp =
		    MHD_create_response_from_buffer(blen, x->ibuf + x->ioff, MHD_RESPMEM_MUST_COPY);
		x->ioff += blen;
		x->ans.left = 0;
	} else {
		resp = MHD_create_response_from_callback(
		    h->framing == FX_BODY_LENGTH ? h->content_length : MHD_SIZE_UNKNOWN, 32u << 10,
		    body_reader, x, reader_free);
		if (resp != NULL)
			x->refs++; /* the response's hold on x, dropped in reader_free */
	}
	if (resp == NULL) {
		fx_px_fail(x, 503, "out of memory");
		return;
	}
	connection = header_of(h, "Connection");
	for (size_t i = 0; i < h->nhdr; i++)
		if (pass_header(x, h->hdr[i].name, h->hdr[i].value, connection))
			MHD_add_response_header(resp, h->hdr[i].name, h->hdr[i].value);
	if (x->ops->decorate != NULL)
		x->ops->decorate(x, resp);
	x->resp = resp;
	if (complete) { /* nothing more to read: give the buffer back now */
		body_finished(x);
		free(x->ibuf);
		x->ibuf = NULL;
		x->icap = x->ilen = x->ioff = 0;
	}
	fx_px_resume(x);
}

/* Parses the heads buffered in ibuf: interim 1xx answers are dropped and
 * whatever follows them in the same read is parsed at once. */
static void parse_buffered(struct fx_px *x)
{
	while (!has(x, FX_PXF_HEAD_READY) && x->st != FX_PX_DONE && x->ilen > 0) {
		int rc = fx_http1_head_parse(x->ibuf, x->ilen, has(x, FX_PXF_HEAD_REQ), &x->h);
		if (rc == -EAGAIN) {
			if (x->ilen >= HEAD_MAX)
				fx_px_fail(x, 502, "the upstream's answer head is too large");
			return;
		}
		if (rc < 0) {
			fx_px_fail(x, 502, "invalid answer from the upstream");
			return;
		}
		if (x->h.status < 200) { /* 100 Continue and friends: dropped */
			memmove(x->ibuf, x->ibuf + x->h.head_len, x->ilen - x->h.head_len);
			x->ilen -= x->h.head_len;
			continue;
		}
		handle_head(x);
		return;
	}
}

/* Room for more in ibuf: false when full (the client must take some first). */
static bool make_room(struct fx_px *x)
{
	size_t ncap;
	char *nb;

	if (x->ibuf == NULL) {
		x->icap = 4096;
		x->ibuf = malloc(x->icap);
		if (x->ibuf == NULL) {
			fx_px_fail(x, 503, "out of memory");
			return false;
		}
	}
	if (has(x, FX_PXF_HEAD_READY) && x->ioff > 0) { /* compact */
		memmove(x->ibuf, x->ibuf + x->ioff, x->ilen - x->ioff);
		x->ilen -= x->ioff;
		x->ioff = 0;
	}
	if (x->ilen < x->icap)
		return true;
	ncap = has(x, FX_PXF_HEAD_READY) ? IBUF_BODY : x->icap * 2;
	if (x->icap >= ncap || (!has(x, FX_PXF_HEAD_READY) && x->icap >= HEAD_MAX)) {
		if (!has(x, FX_PXF_HEAD_READY))
			fx_px_fail(x, 502, "the upstream's answer head is too large");
		else
			set_events(x, EPOLLRDHUP); /* full: wait for the client to take some */
		return false;
	}
	nb = realloc(x->ibuf, ncap);
	if (nb == NULL) {
		fx_px_fail(x, 503, "out of memory");
		return false;
	}
	x->ibuf = nb;
	x->icap = ncap;
	return true;
}

/* After new bytes: heads, collection, a waiting body reader. */
static void after_bytes(struct fx_px *x)
{
	if (!has(x, FX_PXF_HEAD_READY)) {
		parse_buffered(x);
		if (!has(x, FX_PXF_HEAD_READY))
			return;
	} else if (has(x, FX_PXF_COLLECT) && x->st != FX_PX_DONE) {
		collect_more(x);
	}
	if (has(x, FX_PXF_READER) && (x->ilen > x->ioff || x->ans.eof || x->st == FX_PX_DONE)) {
		set(x, FX_PXF_READER, false);
		fx_px_resume(x);
	}
}

void fx_px_feed(struct fx_px *x, const char *data, size_t n)
{
	while (n > 0 && x->st != FX_PX_DONE && make_room(x)) {
		size_t k = x->icap - x->ilen < n ? x->icap - x->ilen : n;
		memcpy(x->ibuf + x->ilen, data, k);
		x->ilen += k;
		data += k;
		n -= k;
		set(x, FX_PXF_GOT_BYTES, true);
		after_bytes(x);
		if (x->st == FX_PX_DONE || x->ibuf == NULL)
			return;
	}
}

/* Reads what the upstream sent. */
static void do_read(struct fx_px *x)
{
	while (x->fd >= 0 && make_room(x)) {
		ssize_t n = recv(x->fd, x->ibuf + x->ilen, x->icap - x->ilen, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (n == 0 && has(x, FX_PXF_HEAD_READY) &&
			    x->ans.framing == FX_BODY_CLOSE) {
				x->ans.eof = true;
				set_events(x, 0);
				after_bytes(x);
				return;
			}
			up_failed(x, n == 0 ? 0 : errno);
			return;
		}
		x->ilen += (size_t)n;
		set(x, FX_PXF_GOT_BYTES, true);
		refresh(x);
		after_bytes(x);
		if (x->ibuf == NULL || x->st == FX_PX_DONE)
			return;
	}
}

/* ---- driving it -------------------------------------------------------- */

void fx_px_abort(struct fx_px *x)
{
	set(x, FX_PXF_GONE, true);
	close_upstream(x, false);
	x->st = FX_PX_DONE;
	set(x, FX_PXF_READER, false);
	fx_px_resume(x);
}

void fx_px_event(struct fx_px *x, int kind, uint32_t events)
{
	if (kind == FX_EV_CLIENT) {
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			if (x->ops->gone != NULL)
				x->ops->gone(x);
			fx_px_abort(x); /* the client hung up while we waited */
		}
		return;
	}
	if (x->fd < 0)
		return;
	if (x->st == FX_PX_CONNECT) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err != 0) {
			up_failed(x, err);
			return;
		}
		x->st = FX_PX_SEND;
		refresh(x);
		do_send(x);
		return;
	}
	if ((events & EPOLLOUT) && x->out_off < x->out.len) {
		do_send(x);
		if (x->fd < 0)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		do_read(x);
}

void fx_px_tick(struct fx_px *x, int64_t now)
{
	if (has(x, FX_PXF_SUSPENDED) && !has(x, FX_PXF_WATCHED) &&
	    now - x->suspended_at >= CLIENT_WATCH)
		watch_client(x, true);
	if (x->st == FX_PX_IDLE || x->st == FX_PX_DONE) {
		if (x->ops->tick != NULL && x->st == FX_PX_IDLE)
			x->ops->tick(x, now);
		return;
	}
	if (x->deadline != 0 && now >= x->deadline) {
		if (has(x, FX_PXF_HEAD_READY) && !has(x, FX_PXF_COLLECT))
			cut(x);
		else
			up_failed(x, ETIMEDOUT);
		return;
	}
	if (x->st == FX_PX_CONNECT && now >= x->due) {
		up_failed(x, ETIMEDOUT);
		return;
	}
	if (x->idle_ms <= 0 || now < x->due)
		return;
	if ((x->st == FX_PX_SEND || x->st == FX_PX_HEAD) && has(x, FX_PXF_UPLOADED)) {
		up_failed(x, ETIMEDOUT);
	} else if (x->st == FX_PX_BODY) {
		if (x->resp == NULL && !has(x, FX_PXF_READER) && !has(x, FX_PXF_COLLECT) &&
		    x->ilen - x->ioff > 0) {
			x->due =
			    now + x->idle_ms; /* the client is slow to read: not the upstream */
		} else if (has(x, FX_PXF_COLLECT)) {
			fx_px_fail(x, 504, "the upstream did not answer in time");
		} else {
			cut(x);
		}
	}
}

enum fx_px_next fx_px_upload(struct fx_px *x, const char *data, size_t *size,
                             struct MHD_Response **resp)
{
	set(x, FX_PXF_SUSPENDED, false); /* a call means libmicrohttpd resumed us */
	watch_client(x, false);
	if (has(x, FX_PXF_GONE))
		return FX_PX_ABORT;
	if (*size > 0) {
		size_t n = *size;
		if (x->err_status != 0 || x->st == FX_PX_DONE || has(x, FX_PXF_EARLY)) {
			x->body_seen += n;
			*size = 0; /* not wanted: dropped, the answer goes out at the end */
			return FX_PX_MORE;
		}
		if (x->st == FX_PX_IDLE) {
			if (x->body.len >= x->hold) {
				suspend(x); /* waiting for the program to start */
				return FX_PX_MORE;
			}
			*size = 0;
			x->body_seen += n;
			if (fx_buf_append(&x->body, data, n) < 0) {
				fx_px_fail(x, 503, "out of memory");
				return FX_PX_MORE;
			}
			if (x->body.len >= x->hold && x->ops->ready != NULL)
				x->ops->ready(x);
			return FX_PX_MORE;
		}
		if (x->out.len - x->out_off > OUT_HIGH) {
			suspend(x); /* the upstream is slower than the client: wait */
			return FX_PX_MORE;
		}
		*size = 0;
		x->body_seen += n;
		if (out_body(x, data, n) < 0) {
			fx_px_fail(x, 503, "out of memory");
			return FX_PX_MORE;
		}
		if (x->fd >= 0 && x->st != FX_PX_CONNECT)
			do_send(x);
		return FX_PX_MORE;
	}
	if (!has(x, FX_PXF_UPLOADED)) { /* the whole request is in */
		set(x, FX_PXF_UPLOADED, true);
		if (x->st == FX_PX_IDLE) {
			if (x->ops->ready != NULL && x->err_status == 0)
				x->ops->ready(x);
		} else if (x->st != FX_PX_DONE && !has(x, FX_PXF_EARLY)) {
			if (has(x, FX_PXF_CHUNKED) && fx_buf_append(&x->out, "0\r\n\r\n", 5) < 0)
				fx_px_fail(x, 503, "out of memory");
			else if (x->fd >= 0 && x->st == FX_PX_SEND)
				do_send(x);
		}
	}
	if (x->err_status != 0)
		return FX_PX_ERROR;
	if (x->resp != NULL) {
		*resp = x->resp;
		x->resp = NULL;
		return FX_PX_ANSWER;
	}
	suspend(x); /* until the answer's head (or an error) */
	return FX_PX_MORE;
}

void fx_px_done(struct fx_px *x)
{
	if (x == NULL)
		return;
	set(x, FX_PXF_SUSPENDED, false);
	watch_client(x, false);
	x->c = NULL;
	if (x->st != FX_PX_DONE)
		close_upstream(x, false); /* the client left: abort the upstream's request */
	x->st = FX_PX_DONE;
	if (x->resp != NULL) { /* never queued; a callback response drops its ref in reader_free */
		struct MHD_Response *r = x->resp;
		x->resp = NULL;
		MHD_destroy_response(r);
	}
	unref(x);
}
