/* proxy.c: http mode. One long-running fprocess (restarted with backoff when
 * it dies) serving HTTP at upstream_url, supervised by a thread of its own;
 * and each exchange with it, driven without blocking on the loop thread that
 * owns the client's connection (loop.c), as the gateway does with replicas.
 *
 * An exchange: the request head is built at the first handler call and goes
 * out on a pooled keep-alive connection (or a new one) at once; body bytes
 * follow as they arrive. Up to HOLD bytes of the request are kept, so a
 * pooled connection the upstream had closed meanwhile can be retried once on
 * a fresh one; past that the body streams with backpressure (the client is
 * suspended while OUT_HIGH bytes wait). The client is suspended until the
 * answer's head; a small answer goes out from one buffer, a larger one
 * streams through a 32 KiB buffer, the client suspended whenever it is empty.
 * exec_timeout -> 504 (or a cut answer once it has started); an upstream that
 * cannot be reached or closes before answering -> 502. */
#include "watchdog.h"

#include "http1.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define HOLD           (64u << 10)  /* request bytes kept for a retry */
#define OUT_HIGH       (256u << 10) /* request bytes waiting before the client pauses */
#define OUT_MAX        (1u << 20)   /* request head + bytes waiting */
#define HEAD_MAX       (32u << 10)  /* the answer's head */
#define IBUF_BODY      (32u << 10)  /* answer bytes in flight */
#define CONNECT_MS     2000
#define CLIENT_WATCH   10 /* ms suspended before the client's socket is watched */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define STABLE_MS      10000 /* a run this long resets the backoff */

struct wd_proxy {
	const struct wd_config *cfg;
	struct sockaddr_storage addr;
	socklen_t alen;
	atomic_bool ready, stop;
	atomic_uint gen; /* bumped whenever the upstream goes down */
	pthread_t th;
	bool th_started;
	struct wd_child child;
};

/* ---- connections ------------------------------------------------------- */

static int resolve_numeric(struct wd_proxy *p, const char *host, uint16_t pn)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&p->addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&p->addr;

	memset(&p->addr, 0, sizeof(p->addr));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(pn);
		p->alen = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(pn);
		p->alen = sizeof(*a6);
		return 0;
	}
	return -EINVAL;
}

/* fwatchdog is a static binary (no NSS): a name is looked up in /etc/hosts,
 * which Docker writes; the usual upstream_url is localhost or an address. */
static int hosts_lookup(struct wd_proxy *p, const char *host, uint16_t pn)
{
	FILE *f = fopen("/etc/hosts", "re");
	char line[512];
	int rc = -EHOSTUNREACH;

	if (f == NULL)
		return rc;
	while (rc != 0 && fgets(line, sizeof(line), f) != NULL) {
		char *w = line, *addr = NULL;
		line[strcspn(line, "#\n")] = '\0';
		while (*w != '\0') {
			size_t n;
			w += strspn(w, " \t");
			n = strcspn(w, " \t");
			if (n == 0)
				break;
			if (w[n] != '\0')
				w[n++] = '\0';
			if (addr == NULL)
				addr = w;
			else if (strcasecmp(w, host) == 0 && resolve_numeric(p, addr, pn) == 0) {
				rc = 0;
				break;
			}
			w += n;
		}
	}
	fclose(f);
	return rc;
}

static int resolve(struct wd_proxy *p, const char *host, const char *port)
{
	uint16_t pn = (uint16_t)strtoul(port, NULL, 10);

	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (resolve_numeric(p, host, pn) == 0)
		return 0;
	return hosts_lookup(p, host, pn);
}

static int wait_fd(int fd, short ev, int client_fd, int64_t deadline_ms)
{
	for (;;) {
		struct pollfd pf[2] = {{.fd = fd, .events = ev},
		                       {.fd = client_fd, .events = POLLRDHUP}};
		int t = -1, r;

		if (deadline_ms != 0) {
			int64_t left = deadline_ms - wd_now_ms();
			if (left <= 0)
				return WD_PUMP_TIMEOUT;
			t = left > 60000 ? 60000 : (int)left;
		}
		r = poll(pf, client_fd >= 0 ? 2 : 1, t);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue;
		if (client_fd >= 0 && (pf[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return WD_PUMP_CLIENT_GONE;
		if (pf[0].revents)
			return 0;
	}
}

static int dial(struct wd_proxy *p, int64_t deadline_ms)
{
	int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
	int err = 0, r;
	socklen_t el = sizeof(err);
	int64_t dl = wd_now_ms() + 2000; /* connect at most 2 s, within the deadline */

	if (fd < 0)
		return -errno;
	if (deadline_ms != 0 && deadline_ms < dl)
		dl = deadline_ms;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&p->addr, p->alen) < 0) {
		if (errno != EINPROGRESS) {
			r = -errno;
			close(fd);
			return r;
		}
		r = wait_fd(fd, POLLOUT, -1, dl);
		if (r < 0) {
			close(fd);
			return r == WD_PUMP_TIMEOUT && dl != deadline_ms ? -EHOSTUNREACH : r;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
			close(fd);
			return -(err ? err : EIO);
		}
	}
	return fd;
}

/* ---- the supervised process -------------------------------------------- */

/* Not ready (health 503, requests 502) until it answers again; connections
 * made for this process are dropped when next seen (wd_upconn_get). */
static void go_down(struct wd_proxy *p)
{
	atomic_store(&p->ready, false);
	atomic_fetch_add(&p->gen, 1);
}

static bool probe(struct wd_proxy *p)
{
	int fd = dial(p, wd_now_ms() + 1000);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Sleeps ms, or less when stopping. */
static void nap(struct wd_proxy *p, int64_t ms)
{
	int64_t end = wd_now_ms() + ms;
	while (!atomic_load(&p->stop) && wd_now_ms() < end)
		usleep(20000);
}

static void *supervise(void *arg)
{
	struct wd_proxy *p = arg;
	int64_t backoff = BACKOFF_MIN_MS;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&p->stop)) {
		int64_t started = wd_now_ms(), last_probe = 0;
		int fails = 0, st = 0, rc;

		rc = wd_child_spawn(&p->child, p->cfg->exec_path, p->cfg->argv, environ, false,
		                    true);
		if (rc < 0) {
			log_error("upstream start failed",
			          "fprocess=\"%s\" err=\"%s\" retry_ms=%lld", p->cfg->fprocess,
			          strerror(-rc), (long long)backoff);
			nap(p, backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		log_info("upstream started", "pid=%d fprocess=\"%s\"", (int)p->child.pid,
		         p->cfg->fprocess);
		while (!atomic_load(&p->stop)) {
			struct pollfd pf = {.fd = p->child.pidfd, .events = POLLIN};
			bool up = atomic_load(&p->ready);
			int64_t now = wd_now_ms();

			/* Not ready: probe every 50 ms so a cold start is quick.
			 * Ready: probe every healthcheck_interval; three misses in a
			 * row mark it not ready (health 503) until it answers again. */
			if (!up || now - last_probe >= p->cfg->healthcheck_interval_ms) {
				last_probe = now;
				if (probe(p)) {
					fails = 0;
					if (!up) {
						atomic_store(&p->ready, true);
						log_info("upstream ready", "pid=%d ms=%lld",
						         (int)p->child.pid,
						         (long long)(now - started));
					}
				} else if (up && ++fails >= 3) {
					go_down(p);
					log_warn("upstream not answering", "pid=%d",
					         (int)p->child.pid);
				}
			}
			if (poll(&pf, 1, up ? 100 : 50) > 0)
				break; /* it exited */
		}
		go_down(p);
		if (atomic_load(&p->stop))
			break;
		wd_child_finish(&p->child, wd_now_ms() + 1000, &st);
		if (wd_now_ms() - started >= STABLE_MS)
			backoff = BACKOFF_MIN_MS;
		if (WIFEXITED(st))
			log_warn("upstream exited", "pid=%d exit=%d restart_in_ms=%lld",
			         (int)p->child.pid, WEXITSTATUS(st), (long long)backoff);
		else
			log_warn("upstream exited", "pid=%d signal=%d restart_in_ms=%lld",
			         (int)p->child.pid, WIFSIGNALED(st) ? WTERMSIG(st) : 0,
			         (long long)backoff);
		nap(p, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

struct wd_proxy *wd_proxy_new(const struct wd_config *cfg)
{
	struct wd_proxy *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->cfg = cfg;
	wd_child_init(&p->child);
	if (resolve(p, cfg->upstream_host, cfg->upstream_port) < 0) {
		log_error("upstream_url: cannot resolve", "host=%s", cfg->upstream_host);
		free(p);
		return NULL;
	}
	if (pthread_create(&p->th, NULL, supervise, p) != 0) {
		log_error("cannot start the supervisor thread", NULL);
		free(p);
		return NULL;
	}
	p->th_started = true;
	return p;
}

void wd_proxy_free(struct wd_proxy *p)
{
	int st;

	if (p == NULL)
		return;
	atomic_store(&p->stop, true);
	if (p->child.pid > 0 && !p->child.reaped)
		kill(-p->child.pid, SIGTERM);
	if (p->th_started)
		pthread_join(p->th, NULL);
	if (p->child.pid > 0 && !p->child.reaped)
		wd_child_finish(&p->child, wd_now_ms() + 2000, &st); /* then SIGKILL */
	free(p);
}

bool wd_proxy_ready(struct wd_proxy *p)
{
	return p != NULL && atomic_load(&p->ready);
}

unsigned wd_proxy_gen(struct wd_proxy *p)
{
	return atomic_load(&p->gen);
}

/* ---- one exchange ------------------------------------------------------ */

enum state {
	ST_CONNECT, /* connecting */
	ST_SEND,    /* sending the request (the body may still be arriving) */
	ST_HEAD,    /* request sent, reading the answer's head */
	ST_BODY,    /* the answer's body flowing */
	ST_DONE,    /* the upstream side is over (or failed: err_status, body_error) */
};

struct wd_pxreq {
	struct wd_proxy *px;
	struct wd_loop *loop;
	struct MHD_Connection *c;     /* NULL once the client's request ended */
	int refs;                     /* the exchange, and its body reader's response */
	struct wd_pxreq *prev, *next; /* the loop's list */
	struct wd_upconn *uc;         /* the upstream connection in use */
	int fd;                       /* uc->fd, or -1 */
	enum state st;
	bool reused, retried, got_bytes;
	struct fx_buf out; /* request bytes for the upstream: head, then body */
	size_t out_off;    /* of out, already sent */
	bool streamed;     /* past HOLD: sent bytes are let go, no retry */
	bool chunked_up, upload_done, answered_early;
	int64_t deadline; /* exec_timeout (CLOCK_MONOTONIC ms), 0: none */
	int64_t connect_by;
	int err_status;
	const char *err_text;
	struct wd_ev ev_client;
	int client_fd;
	bool client_watched, suspended, reader_waiting, client_gone;
	int64_t suspended_at;
	/* the answer */
	char *ibuf;
	size_t icap, ilen, ioff;
	struct fx_http1_head h;
	bool head_ready, keep_alive, body_error;
	struct fx_http1_body ans;  /* framing, what is left, end of stream */
	struct MHD_Response *resp; /* made, not yet handed to the handler */
	int status;
};

static void up_failed(struct wd_pxreq *r, int err);
static void do_read(struct wd_pxreq *r);

struct wd_pxreq *wd_px_next_of(struct wd_pxreq *r)
{
	return r->next;
}

static void set_events(struct wd_pxreq *r, uint32_t ev)
{
	if (r->uc != NULL)
		wd_upconn_events(r->loop, r->uc, ev);
}

static void close_upstream(struct wd_pxreq *r, bool keep)
{
	if (r->uc != NULL) {
		wd_upconn_release(r->loop, r->uc, keep);
		r->uc = NULL;
		r->fd = -1;
	}
}

static void watch_client(struct wd_pxreq *r, bool on)
{
	if (r->client_fd < 0 || on == r->client_watched)
		return;
	if (wd_loop_watch(r->loop, r->client_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, EPOLLRDHUP,
	                  &r->ev_client) == 0 ||
	    !on)
		r->client_watched = on;
}

/* Only from a libmicrohttpd callback (the handler or the body reader).
 * While suspended, libmicrohttpd does not watch the client: the loop does,
 * from the first tick after CLIENT_WATCH (most waits end sooner, without any
 * epoll_ctl). */
static void suspend(struct wd_pxreq *r)
{
	if (r->suspended || r->c == NULL)
		return;
	r->suspended = true;
	r->suspended_at = wd_now_ms();
	MHD_suspend_connection(r->c);
}

static void resume(struct wd_pxreq *r)
{
	if (!r->suspended)
		return;
	r->suspended = false;
	watch_client(r, false);
	MHD_resume_connection(r->c);
	wd_loop_kick(r->loop);
}

static void unref(struct wd_pxreq *r)
{
	struct wd_pxreq **head;

	if (--r->refs > 0)
		return;
	close_upstream(r, false);
	watch_client(r, false);
	head = wd_loop_reqs(r->loop);
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		*head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	fx_buf_release(&r->out);
	free(r->ibuf);
	free(r);
}

/* Ends the upstream side; the handler answers status with text. */
static void fail_req(struct wd_pxreq *r, int status, const char *text)
{
	close_upstream(r, false);
	r->st = ST_DONE;
	if (r->err_status == 0) {
		r->err_status = status;
		r->err_text = text;
	}
	resume(r);
}

/* The answer was cut short (after its head went out). */
static void cut(struct wd_pxreq *r)
{
	r->body_error = true;
	close_upstream(r, false);
	r->st = ST_DONE;
	if (r->reader_waiting) {
		r->reader_waiting = false;
		resume(r);
	}
}

/* ---- the request ------------------------------------------------------- */

static bool hop_by_hop(const char *n)
{
	static const char *const h[] = {"Connection",
	                                "Keep-Alive",
	                                "Proxy-Connection",
	                                "TE",
	                                "Trailer",
	                                "Transfer-Encoding",
	                                "Upgrade",
	                                "Proxy-Authenticate",
	                                "Proxy-Authorization",
	                                "Content-Length"};
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		if (strcasecmp(n, h[i]) == 0)
			return true;
	return false;
}

/* "Name: value\r\n" (no printf: this runs for every header of every request). */
static int put_header(struct fx_buf *b, const char *name, const char *value)
{
	int rc = fx_buf_puts(b, name);
	rc |= fx_buf_append(b, ": ", 2);
	rc |= fx_buf_puts(b, value);
	return rc | fx_buf_append(b, "\r\n", 2);
}

static int build_head(struct wd_pxreq *r, const char *method, const char *target,
                      const struct wd_kv *hdrs, size_t nhdrs, int64_t body_len, const char *ip)
{
	const struct wd_config *cfg = r->px->cfg;
	bool host = false, xff = false;
	int rc = fx_buf_appendf(&r->out, "%s %s HTTP/1.1\r\n", method, target);

	for (size_t i = 0; i < nhdrs; i++) {
		if (hop_by_hop(hdrs[i].name))
			continue;
		if (strcasecmp(hdrs[i].name, "Host") == 0)
			host = true;
		if (strcasecmp(hdrs[i].name, "X-Forwarded-For") == 0 && ip[0] != '\0' && !xff) {
			/* the client's address appended, as Go's ReverseProxy does */
			rc |= fx_buf_appendf(&r->out, "%s: %s, %s\r\n", hdrs[i].name, hdrs[i].value,
			                     ip);
			xff = true;
			continue;
		}
		rc |= put_header(&r->out, hdrs[i].name, hdrs[i].value);
	}
	if (!xff && ip[0] != '\0')
		rc |= fx_buf_appendf(&r->out, "X-Forwarded-For: %s\r\n", ip);
	if (!host)
		rc |= fx_buf_appendf(&r->out, "Host: %s:%s\r\n", cfg->upstream_host,
		                     cfg->upstream_port);
	if (body_len > 0)
		rc |= fx_buf_appendf(&r->out, "Content-Length: %lld\r\n", (long long)body_len);
	else if (body_len < 0)
		rc |= fx_buf_puts(&r->out, "Transfer-Encoding: chunked\r\n");
	else if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0)
		rc |= fx_buf_puts(&r->out, "Content-Length: 0\r\n");
	rc |= fx_buf_puts(&r->out, "\r\n");
	return rc;
}

/* Appends body bytes (framed as chunks for a chunked body). Past HOLD the
 * request is no longer kept whole: sent bytes are dropped as it goes. */
static int append_body(struct wd_pxreq *r, const char *p, size_t n)
{
	int rc = 0;

	if (r->streamed && r->out_off >= (64u << 10)) {
		memmove(r->out.data, r->out.data + r->out_off, r->out.len - r->out_off);
		r->out.len -= r->out_off;
		r->out.data[r->out.len] = '\0'; /* fx_buf's invariant */
		r->out_off = 0;
	}
	if (!r->streamed && r->out.len + n + 32 > HOLD)
		r->streamed = true;
	if (r->chunked_up)
		rc = fx_buf_appendf(&r->out, "%zx\r\n", n);
	if (rc == 0)
		rc = fx_buf_append(&r->out, p, n);
	if (rc == 0 && r->chunked_up)
		rc = fx_buf_puts(&r->out, "\r\n");
	return rc;
}

static void do_send(struct wd_pxreq *r)
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
		up_failed(r, w < 0 ? errno : EPIPE);
		return;
	}
	if (r->streamed) { /* sent bytes are not needed again */
		fx_buf_reset(&r->out);
		r->out_off = 0;
	}
	set_events(r, EPOLLIN | EPOLLRDHUP);
	if (r->upload_done) {
		if (r->st == ST_SEND)
			r->st = ST_HEAD;
	} else {
		resume(r); /* more body, please */
	}
}

/* Takes a pooled connection (pool) or connects a new one, and starts sending. */
static int start_upstream(struct wd_pxreq *r, bool pool)
{
	struct wd_proxy *px = r->px;
	unsigned gen = wd_proxy_gen(px);
	struct wd_upconn *u = pool ? wd_upconn_get(r->loop, gen) : NULL;
	int64_t now = wd_now_ms();

	r->out_off = 0;
	r->reused = u != NULL;
	if (u == NULL) {
		int one = 1,
		    fd = socket(px->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&px->addr, px->alen) < 0 &&
		    errno != EINPROGRESS) {
			int e = errno;
			close(fd);
			return -e;
		}
		u = wd_upconn_new(fd, gen);
		if (u == NULL)
			return -ENOMEM;
	}
	u->ev.req = r;
	r->uc = u;
	r->fd = u->fd;
	if (!r->reused) {
		r->st = ST_CONNECT;
		r->connect_by = now + CONNECT_MS;
		set_events(r, EPOLLOUT);
	} else {
		r->st = ST_SEND;
		do_send(r);
	}
	return 0;
}

static void up_failed(struct wd_pxreq *r, int err)
{
	if (!r->got_bytes && r->reused && !r->retried && !r->streamed &&
	    (err == EPIPE || err == ECONNRESET || err == 0)) {
		/* A pooled connection the upstream had closed: the whole request
		 * is still here, once more on a fresh connection. */
		int rc;
		r->retried = true;
		close_upstream(r, false);
		rc = start_upstream(r, false);
		if (rc < 0)
			err = -rc;
		else
			return;
	}
	if (!r->head_ready) {
		log_warn("upstream unreachable", "upstream=%s err=\"%s\"", r->px->cfg->upstream_url,
		         err ? strerror(err) : "closed before answering");
		fail_req(r, 502, "upstream unreachable\n");
		return;
	}
	log_warn("upstream body", "err=\"%s\"", err ? strerror(err) : "closed early");
	cut(r);
}

struct wd_pxreq *wd_px_new(struct wd_proxy *px, struct wd_loop *l, struct MHD_Connection *c,
                           const char *method, const char *target, const struct wd_kv *hdrs,
                           size_t nhdrs, int64_t body_len, const char *client_ip,
                           int64_t deadline_ms, int *status)
{
	struct wd_pxreq *r, **head;
	const union MHD_ConnectionInfo *ci;
	int rc;

	if (!wd_proxy_ready(px)) {
		log_warn("upstream unreachable", "upstream=%s err=\"not ready\"",
		         px->cfg->upstream_url);
		*status = 502;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		*status = 503;
		return NULL;
	}
	r->px = px;
	r->loop = l;
	r->c = c;
	r->refs = 1;
	r->fd = -1;
	r->deadline = deadline_ms;
	r->chunked_up = body_len < 0;
	r->upload_done = body_len == 0; /* no body: the head is the whole request */
	r->ev_client.kind = WD_EV_CLIENT;
	r->ev_client.req = r;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	r->client_fd = ci != NULL ? ci->connect_fd : -1;
	fx_buf_init(&r->out, OUT_MAX);
	head = wd_loop_reqs(l);
	r->next = *head;
	if (*head != NULL)
		(*head)->prev = r;
	*head = r;
	if (build_head(r, method, target, hdrs, nhdrs, body_len, client_ip) != 0) {
		*status = 503;
		unref(r);
		return NULL;
	}
	rc = start_upstream(r, true);
	if (rc < 0) {
		log_warn("upstream unreachable", "upstream=%s err=\"%s\"", px->cfg->upstream_url,
		         strerror(-rc));
		*status = rc == -ENOMEM ? 503 : 502;
		unref(r);
		return NULL;
	}
	return r;
}

/* ---- the answer -------------------------------------------------------- */

static bool skip_resp_header(const struct wd_pxreq *r, const char *name)
{
	if (hop_by_hop(name) || strcasecmp(name, "Date") == 0)
		return true; /* libmicrohttpd frames the answer and dates it */
	return r->px->cfg->content_type != NULL && strcasecmp(name, "Content-Type") == 0;
}

/* Takes decoded body bytes from ibuf into out; sets *done at the end. */
static size_t take_body(struct wd_pxreq *r, char *out, size_t max, bool *done, bool *bad)
{
	size_t used = 0, n = 0;
	int st =
	    fx_http1_body_take(&r->ans, r->ibuf + r->ioff, r->ilen - r->ioff, &used, out, max, &n);

	r->ioff += used;
	*bad = st < 0;
	*done = st == 1;
	return n;
}

/* The answer is complete: the connection goes back to the pool if it can. */
static void body_finished(struct wd_pxreq *r)
{
	bool keep = r->keep_alive && r->ioff == r->ilen && !r->ans.eof && !r->answered_early &&
	            r->out_off == r->out.len;
	close_upstream(r, keep);
	r->st = ST_DONE;
}

static ssize_t body_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct wd_pxreq *r = cls;
	bool done, bad;
	size_t n;

	(void)pos;
	if (r->client_gone)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = take_body(r, out, max, &done, &bad);
	if (bad) {
		log_warn("upstream body", "err=\"bad chunked framing\"");
		cut(r);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (done && r->st != ST_DONE)
		body_finished(r);
	if (r->uc != NULL && !(r->uc->events & EPOLLIN) && r->ilen - r->ioff < r->icap)
		set_events(r, EPOLLIN | EPOLLRDHUP); /* room again */
	if (n > 0)
		return (ssize_t)n;
	if (done)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (r->body_error || r->uc == NULL)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	r->reader_waiting = true; /* nothing yet: sleep until the upstream sends more */
	suspend(r);
	return 0;
}

static void reader_free(void *cls)
{
	unref(cls);
}

static void handle_head(struct wd_pxreq *r)
{
	struct fx_http1_head *h = &r->h;
	struct MHD_Response *resp;
	bool complete;

	r->status = h->status;
	r->ans.framing = h->framing;
	r->ans.left = h->content_length;
	r->keep_alive = h->keep_alive;
	r->ioff = h->head_len;
	r->st = ST_BODY;
	complete = h->framing == FX_BODY_NONE ||
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
		if (resp != NULL)
			r->refs++; /* the response's hold on r, dropped in reader_free */
	}
	if (resp == NULL) {
		fail_req(r, 503, "out of memory\n");
		return;
	}
	for (size_t i = 0; i < h->nhdr; i++)
		if (!skip_resp_header(r, h->hdr[i].name))
			MHD_add_response_header(resp, h->hdr[i].name, h->hdr[i].value);
	if (r->px->cfg->content_type != NULL)
		MHD_add_response_header(resp, "Content-Type", r->px->cfg->content_type);
	r->resp = resp;
	r->head_ready = true;
	if (complete) { /* nothing more to read: give the buffer back now */
		free(r->ibuf);
		r->ibuf = NULL;
		r->icap = r->ilen = r->ioff = 0;
	}
	resume(r);
}

/* Reads what the upstream sent. */
static void do_read(struct wd_pxreq *r)
{
	for (;;) {
		ssize_t n;

		if (r->ibuf == NULL) {
			r->icap = 4096;
			r->ibuf = malloc(r->icap);
			if (r->ibuf == NULL) {
				fail_req(r, 503, "out of memory\n");
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
			char *nb;
			if (r->icap >= ncap || (!r->head_ready && r->icap >= HEAD_MAX)) {
				if (!r->head_ready) {
					log_warn("upstream answer", "err=\"head over 32 KiB\"");
					fail_req(r, 502, "upstream answer head too large\n");
					return;
				}
				set_events(r, 0); /* full: wait for the client to take some */
				break;
			}
			nb = realloc(r->ibuf, ncap);
			if (nb == NULL) {
				fail_req(r, 503, "out of memory\n");
				return;
			}
			r->ibuf = nb;
			r->icap = ncap;
		}
		n = recv(r->fd, r->ibuf + r->ilen, r->icap - r->ilen, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			if (n == 0 && r->head_ready && r->ans.framing == FX_BODY_CLOSE) {
				r->ans.eof = true;
				set_events(r, 0);
				break;
			}
			up_failed(r, n == 0 ? 0 : errno);
			return;
		}
		r->got_bytes = true;
		r->ilen += (size_t)n;
		if (!r->head_ready) {
			int rc = fx_http1_head_parse(r->ibuf, r->ilen, false, &r->h);
			if (rc == -EAGAIN)
				continue;
			if (rc < 0) {
				log_warn("upstream answer", "err=\"malformed head\"");
				fail_req(r, 502, "invalid answer from the upstream\n");
				return;
			}
			if (r->h.status < 200) { /* 100 Continue and friends: drop it */
				memmove(r->ibuf, r->ibuf + r->h.head_len, r->ilen - r->h.head_len);
				r->ilen -= r->h.head_len;
				continue;
			}
			if (!r->upload_done) {
				/* An answer before the whole body: the rest of the body is
				 * read and dropped, the answer goes out once it is in. */
				r->answered_early = true;
				fx_buf_reset(&r->out);
				r->out_off = 0;
			}
			handle_head(r);
			if (r->st == ST_DONE)
				return;
		}
	}
	if (r->head_ready && r->reader_waiting && (r->ilen > r->ioff || r->ans.eof)) {
		r->reader_waiting = false;
		resume(r);
	}
}

/* ---- driving it -------------------------------------------------------- */

void wd_px_event(struct wd_pxreq *r, int kind, uint32_t events)
{
	if (kind == WD_EV_CLIENT) {
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			/* The client hung up while we waited: abort the upstream's request. */
			log_warn("client gone", "upstream=%s action=aborted",
			         r->px->cfg->upstream_url);
			wd_px_abort(r);
		}
		return;
	}
	if (r->fd < 0)
		return;
	if (r->st == ST_CONNECT) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err != 0) {
			up_failed(r, err);
			return;
		}
		r->st = ST_SEND;
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

void wd_px_tick(struct wd_pxreq *r, int64_t now)
{
	if (r->suspended && !r->client_watched && now - r->suspended_at >= CLIENT_WATCH)
		watch_client(r, true);
	if (r->st == ST_DONE)
		return;
	if (r->deadline != 0 && now >= r->deadline) {
		log_warn("exec_timeout", "upstream=%s phase=%s", r->px->cfg->upstream_url,
		         r->head_ready ? "body" : "head");
		if (r->head_ready)
			cut(r);
		else
			fail_req(r, 504, "exec_timeout reached waiting for the upstream\n");
	} else if (r->st == ST_CONNECT && now >= r->connect_by) {
		up_failed(r, ETIMEDOUT);
	}
}

void wd_px_abort(struct wd_pxreq *r)
{
	r->client_gone = true;
	close_upstream(r, false);
	r->st = ST_DONE;
	r->reader_waiting = false;
	resume(r);
}

enum wd_px_next wd_px_step(struct wd_pxreq *r, const char *data, size_t *size,
                           struct MHD_Response **resp, int *status, const char **text)
{
	(void)data;
	r->suspended = false; /* a call means libmicrohttpd resumed us */
	watch_client(r, false);
	if (r->client_gone)
		return WD_PX_ABORT;
	if (*size > 0) {
		if (r->err_status != 0 || r->st == ST_DONE || r->answered_early) {
			*size = 0; /* not wanted: dropped, the answer goes out at the end */
			return WD_PX_MORE;
		}
		if (r->out.len - r->out_off > OUT_HIGH) {
			suspend(r); /* the upstream is slower than the client: wait */
			return WD_PX_MORE;
		}
		if (append_body(r, data, *size) < 0) {
			*size = 0;
			fail_req(r, 503, "out of memory\n");
			return WD_PX_MORE;
		}
		*size = 0;
		if (r->fd >= 0 && r->st != ST_CONNECT)
			do_send(r);
		return WD_PX_MORE;
	}
	if (!r->upload_done) { /* the whole request is in */
		r->upload_done = true;
		if (r->st != ST_DONE && !r->answered_early) {
			if (r->chunked_up && fx_buf_puts(&r->out, "0\r\n\r\n") < 0)
				fail_req(r, 503, "out of memory\n");
			else if (r->fd >= 0 && r->st == ST_SEND)
				do_send(r);
		}
	}
	if (r->err_status != 0) {
		*status = r->err_status;
		*text = r->err_text;
		return WD_PX_ERROR;
	}
	if (r->resp != NULL) {
		*resp = r->resp;
		r->resp = NULL;
		*status = r->status;
		return WD_PX_ANSWER;
	}
	suspend(r); /* until the answer's head (or an error) */
	return WD_PX_MORE;
}

void wd_px_done(struct wd_pxreq *r)
{
	if (r == NULL)
		return;
	r->suspended = false;
	watch_client(r, false);
	r->c = NULL;
	if (r->st != ST_DONE)
		close_upstream(r, false); /* the client left: abort the upstream's request */
	if (r->resp != NULL) {            /* never queued */
		MHD_destroy_response(r->resp);
		r->resp = NULL;
	}
	unref(r);
}
