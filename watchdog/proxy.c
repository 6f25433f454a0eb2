/* proxy.c: http mode. One long-running fprocess (restarted with backoff when
 * it dies) serving HTTP at upstream_url, and a small HTTP/1.1 client with a
 * pool of keep-alive connections to it. Each exchange is driven by the
 * connection's thread in server.c: head and body out, response head in, body
 * streamed back through libmicrohttpd's content reader. */
#include "watchdog.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define POOL_MAX       256        /* idle keep-alive connections kept */
#define RBUF           (32 << 10) /* response read buffer; the head must fit */
#define SEND_BATCH     (64 << 10) /* request bytes held before writing (retry window) */
#define HEAD_MAX       (1 << 20)  /* request head + held body */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define STABLE_MS      10000 /* a run this long resets the backoff */

struct wd_proxy {
	const struct wd_config *cfg;
	struct sockaddr_storage addr;
	socklen_t alen;
	pthread_mutex_t mu;
	int pool[POOL_MAX];
	size_t npool;
	atomic_bool ready, stop;
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

/* A pooled connection the upstream has closed (or that has stray bytes) is
 * dropped here instead of failing the request. */
static int pool_get(struct wd_proxy *p, bool check)
{
	for (;;) {
		int fd = -1;
		char c;
		ssize_t n;

		pthread_mutex_lock(&p->mu);
		if (p->npool > 0)
			fd = p->pool[--p->npool];
		pthread_mutex_unlock(&p->mu);
		if (fd < 0 || !check)
			return fd;
		n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return fd;
		close(fd);
	}
}

static void pool_put(struct wd_proxy *p, int fd)
{
	pthread_mutex_lock(&p->mu);
	if (p->npool < POOL_MAX && atomic_load(&p->ready)) {
		p->pool[p->npool++] = fd;
		fd = -1;
	}
	pthread_mutex_unlock(&p->mu);
	if (fd >= 0)
		close(fd);
}

static void pool_flush(struct wd_proxy *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->npool > 0)
		close(p->pool[--p->npool]);
	pthread_mutex_unlock(&p->mu);
}

/* ---- the supervised process -------------------------------------------- */

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
					atomic_store(&p->ready, false);
					pool_flush(p);
					log_warn("upstream not answering", "pid=%d",
					         (int)p->child.pid);
				}
			}
			if (poll(&pf, 1, up ? 100 : 50) > 0)
				break; /* it exited */
		}
		atomic_store(&p->ready, false);
		pool_flush(p);
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
	pthread_mutex_init(&p->mu, NULL);
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
	pool_flush(p);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

bool wd_proxy_ready(struct wd_proxy *p)
{
	return p != NULL && atomic_load(&p->ready);
}

/* ---- one exchange ------------------------------------------------------ */

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

static int send_all(struct wd_pxreq *r, const char *d, size_t n)
{
	while (n > 0) {
		ssize_t w = send(r->fd, d, n, MSG_NOSIGNAL);
		if (w > 0) {
			d += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(r->fd, POLLOUT, r->client_fd, r->deadline_ms);
			if (rc < 0)
				return rc;
			continue;
		}
		return w < 0 ? -errno : -EPIPE;
	}
	return 0;
}

/* Writes what is held; past SEND_BATCH the held bytes are let go (and with
 * them the chance to retry on another connection). */
static int flush(struct wd_pxreq *r, bool force)
{
	int rc;

	if (!force && r->head.len < SEND_BATCH)
		return 0;
	rc = send_all(r, r->head.data + r->sent, r->head.len - r->sent);
	if (rc < 0)
		return rc;
	if (r->head.len >= SEND_BATCH) {
		fx_buf_reset(&r->head);
		r->sent = 0;
		r->streamed = true;
	} else {
		r->sent = r->head.len; /* sent, and kept for a retry */
	}
	return 0;
}

int wd_px_begin(struct wd_pxreq *r, struct wd_proxy *px, const char *method, const char *target,
                const struct wd_kv *hdrs, size_t nhdrs, int64_t body_len, int64_t deadline_ms)
{
	bool host = false, xff = false;
	int rc = 0;
	int client_fd = r->client_fd;
	char ip[sizeof(r->client_ip)];

	memcpy(ip, r->client_ip, sizeof(ip));
	ip[sizeof(ip) - 1] = '\0';
	memset(r, 0, sizeof(*r));
	r->client_fd = client_fd;
	memcpy(r->client_ip, ip, sizeof(ip));
	r->px = px;
	r->fd = -1;
	r->deadline_ms = deadline_ms;
	r->resp_len = -1;
	fx_buf_init(&r->head, HEAD_MAX);
	if (!wd_proxy_ready(px))
		return -ECONNREFUSED;
	rc |= fx_buf_appendf(&r->head, "%s %s HTTP/1.1\r\n", method, target);
	for (size_t i = 0; i < nhdrs; i++) {
		if (hop_by_hop(hdrs[i].name))
			continue;
		if (strcasecmp(hdrs[i].name, "Host") == 0)
			host = true;
		if (strcasecmp(hdrs[i].name, "X-Forwarded-For") == 0 && ip[0] != '\0' && !xff) {
			/* the client's address appended, as Go's ReverseProxy does */
			rc |= fx_buf_appendf(&r->head, "%s: %s, %s\r\n", hdrs[i].name,
			                     hdrs[i].value, ip);
			xff = true;
			continue;
		}
		rc |= fx_buf_appendf(&r->head, "%s: %s\r\n", hdrs[i].name, hdrs[i].value);
	}
	if (!xff && ip[0] != '\0')
		rc |= fx_buf_appendf(&r->head, "X-Forwarded-For: %s\r\n", ip);
	if (!host)
		rc |= fx_buf_appendf(&r->head, "Host: %s:%s\r\n", px->cfg->upstream_host,
		                     px->cfg->upstream_port);
	if (body_len > 0)
		rc |= fx_buf_appendf(&r->head, "Content-Length: %lld\r\n", (long long)body_len);
	else if (body_len < 0)
		rc |= fx_buf_puts(&r->head, "Transfer-Encoding: chunked\r\n");
	else if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0)
		rc |= fx_buf_puts(&r->head, "Content-Length: 0\r\n");
	rc |= fx_buf_puts(&r->head, "\r\n");
	if (rc != 0)
		return -E2BIG;
	r->chunked_up = body_len < 0;
	/* A request that fits the retry window needs no liveness check: if the
	 * pooled connection turns out stale it is sent again on a fresh one. */
	r->fd = pool_get(px, body_len < 0 || body_len > SEND_BATCH / 2);
	r->reused = r->fd >= 0;
	if (r->fd < 0) {
		r->fd = dial(px, deadline_ms);
		if (r->fd < 0) {
			rc = r->fd;
			r->fd = -1;
			return rc;
		}
	}
	return 0;
}

int wd_px_send_body(struct wd_pxreq *r, const char *data, size_t n)
{
	int rc = 0;

	if (n == 0)
		return 0;
	if (r->chunked_up)
		rc = fx_buf_appendf(&r->head, "%zx\r\n", n);
	if (rc == 0 && r->head.len + n + 2 > HEAD_MAX) {
		rc = flush(r, true);
		if (rc < 0)
			return rc;
	}
	if (rc == 0)
		rc = fx_buf_append(&r->head, data, n);
	if (rc == 0 && r->chunked_up)
		rc = fx_buf_puts(&r->head, "\r\n");
	if (rc < 0)
		return rc == -E2BIG ? -ENOMEM : rc;
	return flush(r, false);
}

/* Reads into rbuf after what it holds; 0 at end of stream. */
static ssize_t fill(struct wd_pxreq *r)
{
	for (;;) {
		ssize_t n;

		if (r->rlen == RBUF) {
			if (r->rpos == 0)
				return -EPROTO; /* a line or head longer than the buffer */
			memmove(r->rbuf, r->rbuf + r->rpos, r->rlen - r->rpos);
			r->rlen -= r->rpos;
			r->rpos = 0;
		}
		n = recv(r->fd, r->rbuf + r->rlen, RBUF - r->rlen, 0);
		if (n > 0) {
			r->got_bytes = true;
			r->rlen += (size_t)n;
			return n;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int rc = wait_fd(r->fd, POLLIN, r->client_fd, r->deadline_ms);
			if (rc < 0)
				return rc;
			continue;
		}
		return -errno;
	}
}

static const char *find_crlf(const char *s, size_t n)
{
	const char *p = memchr(s, '\n', n);
	return p;
}

/* Parses the response head in rbuf[0..end). */
static int parse_head(struct wd_pxreq *r, size_t end)
{
	char *h = r->rbuf, *line, *next;
	bool http10;

	if (end < 12 || strncmp(h, "HTTP/1.", 7) != 0 || (h[7] != '0' && h[7] != '1') ||
	    h[8] != ' ')
		return -EPROTO;
	http10 = h[7] == '0';
	if (h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9')
		return -EPROTO;
	r->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
	r->resp_close = http10;
	free(r->hdrtext);
	r->hdrtext = strndup(h, end);
	if (r->hdrtext == NULL)
		return -ENOMEM;
	r->resp_len = -1;
	r->resp_chunked = false;
	for (line = r->hdrtext; line != NULL; line = next) {
		char *colon, *v;
		next = strchr(line, '\n');
		if (next != NULL)
			next++;
		if (line == r->hdrtext)
			continue; /* status line */
		colon = strchr(line, ':');
		if (colon == NULL || (next != NULL && colon > next))
			continue;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strncasecmp(line, "Content-Length:", 15) == 0) {
			char *e;
			long long n = strtoll(v, &e, 10);
			if (e == v || n < 0)
				return -EPROTO;
			r->resp_len = n;
		} else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
			if (strncasecmp(v, "chunked", 7) == 0 || strstr(v, "chunked") != NULL)
				r->resp_chunked = true;
		} else if (strncasecmp(line, "Connection:", 11) == 0) {
			if (strncasecmp(v, "close", 5) == 0)
				r->resp_close = true;
			else if (strncasecmp(v, "keep-alive", 10) == 0)
				r->resp_close = false;
		}
	}
	if (r->resp_chunked)
		r->resp_len = -1;
	if (r->status == 204 || r->status == 304)
		r->resp_len = 0, r->resp_chunked = false;
	if (!r->resp_chunked && r->resp_len < 0)
		r->resp_close = true; /* until close */
	r->left = r->resp_chunked ? 0 : r->resp_len;
	if (r->resp_len == 0)
		r->resp_done = true;
	return 0;
}

static int read_head(struct wd_pxreq *r)
{
	if (r->rbuf == NULL) {
		r->rbuf = malloc(RBUF);
		if (r->rbuf == NULL)
			return -ENOMEM;
	}
	r->rpos = r->rlen = 0;
	{ /* the answer is not there yet: wait before the first recv */
		int rc = wait_fd(r->fd, POLLIN, r->client_fd, r->deadline_ms);
		if (rc < 0)
			return rc;
	}
	for (;;) {
		char *e = r->rlen ? memmem(r->rbuf, r->rlen, "\r\n\r\n", 4) : NULL;
		ssize_t n;

		if (e != NULL) {
			size_t end = (size_t)(e - r->rbuf) + 4;
			int rc = parse_head(r, end);
			if (rc < 0)
				return rc;
			memmove(r->rbuf, r->rbuf + end, r->rlen - end);
			r->rlen -= end;
			if (r->status >= 100 && r->status < 200)
				continue; /* 100 Continue and friends: the real head follows */
			return 0;
		}
		if (r->rlen == RBUF)
			return -EPROTO;
		n = fill(r);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ECONNRESET;
	}
}

int wd_px_finish_request(struct wd_pxreq *r)
{
	int rc;

	if (r->chunked_up && fx_buf_puts(&r->head, "0\r\n\r\n") < 0)
		return -ENOMEM;
	rc = flush(r, true);
	if (rc == 0)
		rc = read_head(r);
	if (rc < 0 && rc != WD_PUMP_TIMEOUT && rc != WD_PUMP_CLIENT_GONE && r->reused &&
	    !r->streamed && !r->got_bytes) {
		/* The pooled connection was stale: once more on a fresh one. */
		close(r->fd);
		r->reused = false;
		r->fd = dial(r->px, r->deadline_ms);
		if (r->fd < 0) {
			rc = r->fd;
			r->fd = -1;
			return rc;
		}
		r->sent = 0;
		rc = flush(r, true);
		if (rc == 0)
			rc = read_head(r);
	}
	if (rc < 0)
		r->broken = true;
	return rc;
}

bool wd_px_body_ready(struct wd_pxreq *r, const char **data, size_t *len)
{
	size_t avail = r->rlen - r->rpos;

	if (r->resp_chunked || r->resp_len < 0 || (uint64_t)r->resp_len > avail)
		return false;
	*data = r->rbuf + r->rpos;
	*len = (size_t)r->resp_len;
	r->rpos += (size_t)r->resp_len;
	r->left = 0;
	r->resp_done = true;
	return true;
}

size_t wd_px_headers(struct wd_pxreq *r, struct wd_kv *out, size_t max)
{
	size_t n = 0;
	char *line, *next;

	if (r->hdrtext == NULL)
		return 0;
	for (line = r->hdrtext; line != NULL && *line != '\0'; line = next) {
		char *colon, *v, *end;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		end = line + strlen(line);
		while (end > line && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (line == r->hdrtext)
			continue;
		colon = strchr(line, ':');
		if (colon == NULL || colon == line)
			continue;
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (hop_by_hop(line) || strcasecmp(line, "Date") == 0)
			continue;
		if (n < max)
			out[n++] = (struct wd_kv){line, v};
	}
	return n;
}

/* Reads one CRLF-terminated line from rbuf into *line (NUL-terminated in
 * place), refilling as needed. */
static int read_line(struct wd_pxreq *r, char **line)
{
	for (;;) {
		const char *nl = find_crlf(r->rbuf + r->rpos, r->rlen - r->rpos);
		ssize_t n;
		if (nl != NULL) {
			size_t end = (size_t)(nl - r->rbuf);
			*line = r->rbuf + r->rpos;
			r->rbuf[end] = '\0';
			if (end > r->rpos && r->rbuf[end - 1] == '\r')
				r->rbuf[end - 1] = '\0';
			r->rpos = end + 1;
			return 0;
		}
		if (r->rlen - r->rpos > 4096)
			return -EPROTO;
		n = fill(r);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPROTO;
	}
}

ssize_t wd_px_read_body(struct wd_pxreq *r, char *buf, size_t max)
{
	size_t avail, k;
	ssize_t n;

	if (r->resp_done)
		return 0;
	if (r->resp_chunked && r->left == 0) {
		char *line, *e;
		int rc;
		if (r->crlf_due) {
			rc = read_line(r, &line);
			if (rc < 0 || line[0] != '\0')
				return rc < 0 ? rc : -EPROTO;
			r->crlf_due = false;
		}
		rc = read_line(r, &line);
		if (rc < 0)
			return rc;
		errno = 0;
		r->left = (int64_t)strtoull(line, &e, 16);
		if (e == line || errno != 0 || r->left < 0)
			return -EPROTO;
		if (r->left == 0) {
			do { /* trailers, up to the empty line */
				rc = read_line(r, &line);
				if (rc < 0)
					return rc;
			} while (line[0] != '\0');
			r->resp_done = true;
			return 0;
		}
	}
	avail = r->rlen - r->rpos;
	if (avail == 0) {
		/* Straight into the caller's buffer: no copy for large bodies. */
		size_t want = max;
		if (r->left > 0 && (uint64_t)r->left < want)
			want = (size_t)r->left;
		for (;;) {
			n = recv(r->fd, buf, want, 0);
			if (n > 0)
				break;
			if (n == 0) {
				if (r->resp_len < 0 && !r->resp_chunked) {
					r->resp_done = true; /* until close */
					return 0;
				}
				return -ECONNRESET;
			}
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				int rc = wait_fd(r->fd, POLLIN, r->client_fd, r->deadline_ms);
				if (rc < 0)
					return rc;
				continue;
			}
			return -errno;
		}
		k = (size_t)n;
	} else {
		k = avail < max ? avail : max;
		if (r->left > 0 && (uint64_t)r->left < k)
			k = (size_t)r->left;
		memcpy(buf, r->rbuf + r->rpos, k);
		r->rpos += k;
		if (r->rpos == r->rlen)
			r->rpos = r->rlen = 0;
	}
	if (r->resp_chunked || r->resp_len >= 0) {
		r->left -= (int64_t)k;
		if (r->left == 0) {
			if (r->resp_chunked)
				r->crlf_due = true;
			else
				r->resp_done = true;
		}
	}
	return (ssize_t)k;
}

void wd_px_release(struct wd_pxreq *r)
{
	if (r->fd >= 0) {
		if (r->resp_done && !r->resp_close && !r->broken && r->rpos == r->rlen)
			pool_put(r->px, r->fd);
		else
			close(r->fd);
		r->fd = -1;
	}
	free(r->rbuf);
	r->rbuf = NULL;
	free(r->hdrtext);
	r->hdrtext = NULL;
	fx_buf_release(&r->head);
}
