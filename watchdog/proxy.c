/* proxy.c: http mode. One long-running fprocess (restarted with backoff when
 * it dies) serving HTTP at upstream_url, supervised by a thread of its own;
 * and each exchange with it: common/proxy.c's engine (the gateway's too) on
 * the event loops of common/loop.c, with the watchdog's rules as its ops.
 *
 * An exchange: the request head is built at the first handler call and goes
 * out on a pooled keep-alive connection (or a new one) at once; body bytes
 * follow as they arrive (see common/proxy.h for the streaming, backpressure
 * and the one resend of a request whose pooled connection was found closed).
 * exec_timeout -> 504 (or a cut answer once it has started); an upstream that
 * cannot be reached or closes before answering -> 502. */
#include "watchdog.h"

#include "log.h"
#include "proxy.h"

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

#define CONNECT_MS     2000
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
			int64_t left = deadline_ms - fx_now_ms();
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
	int64_t dl = fx_now_ms() + 2000; /* connect at most 2 s, within the deadline */

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
	int fd = dial(p, fx_now_ms() + 1000);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Sleeps ms, or less when stopping. */
static void nap(struct wd_proxy *p, int64_t ms)
{
	int64_t end = fx_now_ms() + ms;
	while (!atomic_load(&p->stop) && fx_now_ms() < end)
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
		int64_t started = fx_now_ms(), last_probe = 0;
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
			int64_t now = fx_now_ms();

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
		wd_child_finish(&p->child, fx_now_ms() + 1000, &st);
		if (fx_now_ms() - started >= STABLE_MS)
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
		wd_child_finish(&p->child, fx_now_ms() + 2000, &st); /* then SIGKILL */
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

/* ---- one exchange (common/proxy.c drives it) ----------------------------- */

struct wd_px {
	struct fx_px x; /* first member */
	struct wd_proxy *px;
};

static struct wd_px *of(struct fx_px *x)
{
	return (struct wd_px *)(void *)x;
}

static void px_failed(struct fx_px *x, int err, bool connecting)
{
	struct wd_proxy *p = of(x)->px;

	if (err == ETIMEDOUT && !connecting) {
		log_warn("exec_timeout", "upstream=%s phase=head", p->cfg->upstream_url);
		fx_px_fail(x, 504, "exec_timeout reached waiting for the upstream");
		return;
	}
	log_warn("upstream unreachable", "upstream=%s err=\"%s\"", p->cfg->upstream_url,
	         err ? strerror(err) : "closed before answering");
	fx_px_fail(x, 502, "upstream unreachable");
}

static bool px_pass_header(struct fx_px *x, const char *name, const char *value)
{
	(void)value;
	return of(x)->px->cfg->content_type == NULL || strcasecmp(name, "Content-Type") != 0;
}

static void px_decorate(struct fx_px *x, struct MHD_Response *resp)
{
	if (of(x)->px->cfg->content_type != NULL)
		MHD_add_response_header(resp, "Content-Type", of(x)->px->cfg->content_type);
}

static void px_gone(struct fx_px *x)
{
	log_warn("client gone", "upstream=%s action=aborted", of(x)->px->cfg->upstream_url);
}

static void px_free(struct fx_px *x)
{
	free(of(x));
}

static const struct fx_px_ops px_ops = {
    .failed = px_failed,
    .pass_header = px_pass_header,
    .decorate = px_decorate,
    .gone = px_gone,
    .free = px_free,
};

struct fx_px *wd_px_new(struct wd_proxy *px, struct fx_loop *l, struct MHD_Connection *c,
                        const char *method, const char *target, int64_t deadline_ms, int *status)
{
	struct wd_px *w;
	struct fx_px *x;
	int rc;

	if (!wd_proxy_ready(px)) {
		log_warn("upstream unreachable", "upstream=%s err=\"not ready\"",
		         px->cfg->upstream_url);
		*status = 502;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		*status = 503;
		return NULL;
	}
	x = &w->x;
	fx_px_init(x, &px_ops, l, c);
	w->px = px;
	x->deadline = deadline_ms;
	x->connect_ms = CONNECT_MS;
	fx_px_framing(x, c);
	rc = fx_px_head_line(x, method, target, NULL);
	rc = rc ? rc : fx_px_head_copy(x, c, NULL, NULL, SIZE_MAX);
	rc = rc ? rc : fx_px_head_forwarded(x, c);
	if (rc == 0 && MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host") == NULL) {
		char host[300];
		snprintf(host, sizeof(host), "%s:%s", px->cfg->upstream_host,
		         px->cfg->upstream_port);
		rc = fx_px_head_add(x, "Host", host);
	}
	if (rc < 0) {
		*status = rc == -EBADMSG ? 400 : 503;
		fx_px_done(x);
		return NULL;
	}
	/* The body (if any) follows as it arrives: start at once. */
	rc = fx_px_start(x, px, wd_proxy_gen(px), (const struct sockaddr *)&px->addr, px->alen);
	if (rc < 0) {
		log_warn("upstream unreachable", "upstream=%s err=\"%s\"", px->cfg->upstream_url,
		         strerror(-rc));
		*status = rc == -ENOMEM ? 503 : 502;
		fx_px_done(x);
		return NULL;
	}
	return x;
}
