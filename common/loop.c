/* loop.c: the data path's event loops and their daemons (see loop.h). */
#include "loop.h"

#include "clock.h"
#include "http1.h"
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define TICK_MS      20  /* exchanges' deadlines and waits */
#define HEAD_SCAN_MS 250 /* slow request heads */
#define MAX_EVENTS   256
#define MAX_FIELDS   256 /* request header fields checked; more: 431 */

/* One of a loop's daemons (a listening socket: HTTP, HTTPS). */
struct srv {
	struct fx_ev ev; /* first member: FX_EV_MHD, an event's pointer is the srv */
	struct fx_loop *l;
	struct MHD_Daemon *d;
	const struct fx_server_conf *conf;
	int listen_fd;
	/* A TLS daemon (MHD_USE_TLS): libmicrohttpd 0.9.75 keeps a connection in
	 * the middle of its handshake "ready" (GnuTLS reads the socket itself,
	 * so the daemon never sees EAGAIN) and asks for a 0 timeout until the
	 * client's next flight arrives. */
	bool tls;
	bool run;     /* its epoll descriptor had an event this turn */
	bool stopped; /* quiesced */
};

/* A client connection (libmicrohttpd's socket context). */
struct sconn {
	struct srv *srv;
	struct fx_loop *l;
	struct MHD_Connection *c;
	int64_t head_by; /* the request head must be in by then; 0: not reading one */
	struct sconn *prev, *next;
	struct sockaddr_storage addr; /* counted in the per-address table when counted */
	bool counted;
	bool fresh; /* the next handler call is a request's first */
};

struct fx_loop {
	int ep, wake_fd;
	struct srv srv[FX_LOOP_DAEMONS];
	int nsrv;
	unsigned spins; /* turns in a row with a 0 timeout that found nothing to do */
	struct fx_ev ev_wake;
	struct fx_px *pxs;     /* exchanges (proxy.c) */
	struct fx_uconn *idle; /* the pool */
	unsigned nidle;
	struct fx_uconn *dead; /* closed this turn, freed at its end */
	struct sconn *conns;   /* client connections */
	int64_t next_head_scan;
	pthread_t th;
	bool kick; /* libmicrohttpd has work (a resumed connection) */
	pthread_mutex_t resume_mu;
	struct fx_resume *resumes; /* fx_loop_resume: for this thread to resume */
	atomic_bool quiesce, stop;
};

static struct fx_loop *loops;
static int nloops;
static const struct fx_loop_ops *lops;
static atomic_ullong head_timeouts, ip_refusals;

void fx_loop_kick(struct fx_loop *l)
{
	l->kick = true;
}

struct fx_px **fx_loop_exchanges(struct fx_loop *l)
{
	return &l->pxs;
}

int fx_loop_watch(struct fx_loop *l, int fd, int op, uint32_t events, struct fx_ev *ev)
{
	struct epoll_event e = {.events = events, .data.ptr = ev};

	return epoll_ctl(l->ep, op, fd, op == EPOLL_CTL_DEL ? NULL : &e) < 0 ? -errno : 0;
}

/* ---- the pool of upstream connections ---------------------------------- */

struct fx_uconn *fx_uconn_new(int fd, void *peer, unsigned gen)
{
	struct fx_uconn *u = calloc(1, sizeof(*u));

	if (u == NULL) {
		close(fd);
		return NULL;
	}
	u->ev.kind = FX_EV_UPSTREAM;
	u->fd = fd;
	u->peer = peer;
	u->gen = gen;
	if (peer != NULL && lops->peer_ref != NULL)
		lops->peer_ref(peer);
	return u;
}

int fx_uconn_events(struct fx_loop *l, struct fx_uconn *u, uint32_t events)
{
	int rc;

	if (u->fd < 0 || (u->watched && events == u->events))
		return 0;
	rc = fx_loop_watch(l, u->fd, u->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, events, &u->ev);
	if (rc == 0) {
		u->events = events;
		u->watched = true;
	}
	return rc;
}

static void uconn_close(struct fx_loop *l, struct fx_uconn *u)
{
	if (u->fd >= 0)
		close(u->fd); /* leaves the epoll set with it */
	u->fd = -1;
	u->events = 0;
	u->watched = false;
	u->ev.kind = FX_EV_DEAD; /* an event of this turn still pointing here is ignored */
	u->ev.px = NULL;
	u->next = l->dead;
	l->dead = u;
}

struct fx_uconn *fx_uconn_get(struct fx_loop *l, void *peer, unsigned gen)
{
	for (struct fx_uconn **pp = &l->idle; *pp != NULL;) {
		struct fx_uconn *u = *pp;
		if (u->peer != peer) {
			pp = &u->next;
			continue;
		}
		*pp = u->next;
		u->next = NULL;
		l->nidle--;
		if (u->gen == gen)
			return u;
		uconn_close(l, u); /* made for an earlier generation of the peer */
	}
	return NULL;
}

void fx_uconn_release(struct fx_loop *l, struct fx_uconn *u, bool keep)
{
	unsigned same = 0;

	u->ev.px = NULL;
	if (keep && l->nidle < lops->pool_max &&
	    (u->peer == NULL || lops->peer_usable == NULL || lops->peer_usable(u->peer)) &&
	    fx_uconn_events(l, u, EPOLLIN | EPOLLRDHUP) == 0) {
		for (struct fx_uconn *i = l->idle; i != NULL && same < lops->pool_per_peer;
		     i = i->next)
			same += i->peer == u->peer;
		if (same < lops->pool_per_peer) {
			u->next = l->idle;
			l->idle = u;
			l->nidle++;
			return;
		}
	}
	uconn_close(l, u);
}

/* An idle connection had an event: the peer closed it (or sent junk). */
static void idle_event(struct fx_loop *l, struct fx_uconn *u)
{
	for (struct fx_uconn **pp = &l->idle; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			l->nidle--;
			break;
		}
	}
	uconn_close(l, u);
}

static void bury(struct fx_loop *l)
{
	while (l->dead != NULL) {
		struct fx_uconn *u = l->dead;
		l->dead = u->next;
		if (u->peer != NULL && lops->peer_unref != NULL)
			lops->peer_unref(u->peer);
		free(u);
	}
}

/* ---- the loops --------------------------------------------------------- */

static void wake_one(struct fx_loop *l)
{
	uint64_t one = 1;

	if (write(l->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the loop is awake anyway */
	}
}

void fx_loop_resume(struct fx_loop *l, struct fx_resume *n)
{
	pthread_mutex_lock(&l->resume_mu);
	n->next = l->resumes;
	l->resumes = n;
	pthread_mutex_unlock(&l->resume_mu);
	wake_one(l);
}

/* The loop's thread: resumes what other threads handed back. */
static void take_resumes(struct fx_loop *l)
{
	struct fx_resume *n;

	pthread_mutex_lock(&l->resume_mu);
	n = l->resumes;
	l->resumes = NULL;
	pthread_mutex_unlock(&l->resume_mu);
	while (n != NULL) {
		struct fx_resume *next = n->next; /* n may be freed once resumed */
		MHD_resume_connection(n->c);
		l->kick = true;
		n = next;
	}
}

void fx_loops_wake(void)
{
	for (int i = 0; i < nloops; i++)
		wake_one(&loops[i]);
}

static void tick_all(struct fx_loop *l, int64_t now)
{
	for (struct fx_px *x = l->pxs, *nx; x != NULL; x = nx) {
		nx = fx_px_next(x);
		fx_px_tick(x, now);
	}
}

/* Client connections still reading a request head past its time: shut down
 * (libmicrohttpd then sees the end of the connection and closes it). */
static void scan_heads(struct fx_loop *l, int64_t now)
{
	if (now < l->next_head_scan)
		return;
	l->next_head_scan = now + HEAD_SCAN_MS;
	for (struct sconn *s = l->conns; s != NULL; s = s->next) {
		const union MHD_ConnectionInfo *ci;
		if (s->head_by == 0 || now < s->head_by)
			continue;
		s->head_by = 0;
		ci = MHD_get_connection_info(s->c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci != NULL && ci->connect_fd >= 0) {
			shutdown(ci->connect_fd, SHUT_RDWR);
			atomic_fetch_add(&head_timeouts, 1);
			l->kick = true;
		}
	}
}

/* The epoll_wait timeout: the loop's own ticks, bounded by what the daemons ask. */
static int loop_timeout(struct fx_loop *l)
{
	int timeout = l->pxs != NULL ? TICK_MS : l->conns != NULL ? HEAD_SCAN_MS : 1000;

	for (int i = 0; i < l->nsrv; i++) {
		MHD_UNSIGNED_LONG_LONG mt;
		if (MHD_get_timeout(l->srv[i].d, &mt) != MHD_YES)
			continue;
		/* A TLS handshake waiting for the client (struct srv): after two
		 * turns in a row that found nothing at all to do, wait up to 1 ms
		 * instead of spinning (it took 4x nginx's CPU per new HTTPS
		 * connection); the daemon's epoll descriptor still wakes the loop at
		 * once when data comes. */
		if (mt == 0 && l->srv[i].tls && l->spins >= 2)
			mt = 1;
		if (mt < (MHD_UNSIGNED_LONG_LONG)timeout)
			timeout = (int)mt;
	}
	return l->kick ? 0 : timeout;
}

/* Runs the daemons that have work (an event, a kick, a timeout). An answer
 * queued by a run is usually sent by the next one: run again at once rather
 * than after another epoll_wait. A kick during the runs (a connection
 * resumed) makes the next turn start at once. */
static void run_daemons(struct fx_loop *l, bool all)
{
	bool kicked = l->kick, again = false;

	l->kick = false;
	for (int i = 0; i < l->nsrv; i++) {
		struct srv *s = &l->srv[i];
		if (!all && !kicked && !s->run)
			continue;
		s->run = false;
		for (int k = 0; k < 2; k++) {
			MHD_UNSIGNED_LONG_LONG mt;
			bool kick;
			MHD_run(s->d);
			kick = l->kick;
			l->kick = false;
			again = again || kick;
			if (!kick && (MHD_get_timeout(s->d, &mt) != MHD_YES || mt != 0))
				break;
		}
	}
	l->kick = again;
}

static void quiesce_daemons(struct fx_loop *l)
{
	for (int i = 0; i < l->nsrv; i++) {
		struct srv *s = &l->srv[i];
		int fd;
		if (s->stopped)
			continue;
		s->stopped = true;
		fd = MHD_quiesce_daemon(s->d);
		if (fd >= 0)
			close(fd);
	}
}

static void *loop_main(void *arg)
{
	struct fx_loop *l = arg;
	struct epoll_event evs[MAX_EVENTS];
	int64_t last_tick = fx_now_ms();
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the main thread's */
	while (!atomic_load(&l->stop)) {
		int timeout = loop_timeout(l), n;
		bool kicked = l->kick;
		int64_t now;

		n = epoll_wait(l->ep, evs, MAX_EVENTS, timeout);
		for (int i = 0; i < n; i++) {
			struct fx_ev *ev = evs[i].data.ptr;
			if (ev->kind == FX_EV_WAKE) {
				uint64_t v;
				if (read(l->wake_fd, &v, sizeof(v)) < 0) {
					/* nothing to read: fine */
				}
				take_resumes(l);
				tick_all(l, fx_now_ms());
			} else if (ev->kind == FX_EV_UPSTREAM && ev->px == NULL) {
				idle_event(l, (struct fx_uconn *)(void *)ev);
			} else if (ev->kind == FX_EV_UPSTREAM || ev->kind == FX_EV_CLIENT) {
				fx_px_event(ev->px, ev->kind, evs[i].events);
			} else if (ev->kind == FX_EV_MHD) {
				((struct srv *)(void *)ev)->run = true;
			}
		}
		/* n == 0: a timeout, some daemon's among them. */
		run_daemons(l, n == 0 || timeout == 0);
		if (n != 0 || timeout != 0 || kicked)
			l->spins = 0;
		else if (l->spins < 2)
			l->spins++;
		now = fx_now_ms();
		if (now - last_tick >= TICK_MS) {
			last_tick = now;
			tick_all(l, now);
		}
		scan_heads(l, now);
		bury(l);
		if (atomic_load(&l->quiesce))
			quiesce_daemons(l);
	}
	/* Shutdown: whatever is left ends now. */
	for (struct fx_px *x = l->pxs; x != NULL; x = fx_px_next(x))
		fx_px_abort(x);
	for (int i = 0; i < 5; i++)
		for (int k = 0; k < l->nsrv; k++)
			MHD_run(l->srv[k].d);
	for (int k = 0; k < l->nsrv; k++)
		MHD_stop_daemon(l->srv[k].d);
	while (l->idle != NULL) {
		struct fx_uconn *u = l->idle;
		l->idle = u->next;
		uconn_close(l, u);
	}
	bury(l);
	return NULL;
}

int fx_loops_start(const struct fx_loop_ops *ops, const int *const *listen_fds, int nsets, int n)
{
	if (nsets < 1 || nsets > FX_LOOP_DAEMONS)
		return -EINVAL;
	lops = ops;
	loops = calloc((size_t)n, sizeof(*loops));
	if (loops == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct fx_loop *l = &loops[i];

		pthread_mutex_init(&l->resume_mu, NULL);
		l->ep = epoll_create1(EPOLL_CLOEXEC);
		l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (l->ep < 0 || l->wake_fd < 0)
			return -errno;
		nloops = i + 1;
		for (int k = 0; k < nsets; k++) {
			struct srv *s = &l->srv[k];
			const union MHD_DaemonInfo *info;
			s->ev.kind = FX_EV_MHD;
			s->l = l;
			s->listen_fd = listen_fds[k][i];
			l->nsrv = k + 1;
			s->d = ops->daemon(l, s->listen_fd, k, ops->arg);
			if (s->d == NULL)
				return -EIO;
			info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
			if (info == NULL ||
			    fx_loop_watch(l, info->epoll_fd, EPOLL_CTL_ADD, EPOLLIN, &s->ev) < 0)
				return -EIO;
		}
		l->ev_wake.kind = FX_EV_WAKE;
		if (fx_loop_watch(l, l->wake_fd, EPOLL_CTL_ADD, EPOLLIN, &l->ev_wake) < 0)
			return -EIO;
	}
	for (int i = 0; i < n; i++)
		if (pthread_create(&loops[i].th, NULL, loop_main, &loops[i]) != 0)
			return -EAGAIN;
	return 0;
}

void fx_loops_quiesce(void)
{
	for (int i = 0; i < nloops; i++) {
		atomic_store(&loops[i].quiesce, true);
		wake_one(&loops[i]);
	}
}

void fx_loops_stop(void)
{
	for (int i = 0; i < nloops; i++) {
		atomic_store(&loops[i].stop, true);
		wake_one(&loops[i]);
	}
	for (int i = 0; i < nloops; i++) {
		pthread_join(loops[i].th, NULL);
		close(loops[i].ep);
		close(loops[i].wake_fd);
	}
	free(loops);
	loops = NULL;
	nloops = 0;
}

int fx_listen(const char *bind_addr, int port, char *addr, size_t n)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	char host[INET6_ADDRSTRLEN] = "";
	int fd, one = 1, e;

	if (port < 0 || port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, bind_addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, bind_addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(addr, n, "[%s]:%d", host, ntohs(s6->sin6_port));
	} else {
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(addr, n, "%s:%d", host, ntohs(s4->sin_port));
	}
	return fd;
}

/* ---- connections per client address (all loops) ------------------------- */

#define IP_BUCKETS 1024

struct ipcount {
	unsigned char key[16];
	unsigned n;
	struct ipcount *next;
};

static struct {
	pthread_mutex_t mu;
	struct ipcount *b[IP_BUCKETS];
} ipt = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The address as 16 bytes (IPv4 as IPv4-mapped IPv6); false for other families. */
static bool ip_key(const struct sockaddr *sa, unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

static unsigned ip_hash(const unsigned char key[16])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % IP_BUCKETS;
}

/* delta +1 / -1 / 0 (look only); returns the count after it. */
static unsigned ip_count(const struct sockaddr *sa, int delta)
{
	unsigned char key[16];
	struct ipcount **pp, *e;
	unsigned n = 0;

	if (!ip_key(sa, key))
		return 0;
	pthread_mutex_lock(&ipt.mu);
	for (pp = &ipt.b[ip_hash(key)]; *pp != NULL && memcmp((*pp)->key, key, 16) != 0;
	     pp = &(*pp)->next)
		;
	e = *pp;
	if (e == NULL && delta > 0) {
		e = calloc(1, sizeof(*e));
		if (e != NULL) {
			memcpy(e->key, key, 16);
			*pp = e;
		}
	}
	if (e != NULL) {
		if (delta > 0)
			e->n++;
		else if (delta < 0 && e->n > 0)
			e->n--;
		n = e->n;
		if (n == 0) {
			*pp = e->next;
			free(e);
		}
	}
	pthread_mutex_unlock(&ipt.mu);
	return n;
}

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	const struct srv *sv = cls;

	(void)addrlen;
	if (sv->conf->per_ip_limit == 0 || ip_count(addr, 0) < sv->conf->per_ip_limit)
		return MHD_YES;
	atomic_fetch_add(&ip_refusals, 1);
	return MHD_NO;
}

/* ---- the daemon -------------------------------------------------------- */

static void notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
	struct srv *sv = cls;
	struct fx_loop *l = sv->l;
	const struct fx_server_conf *conf = sv->conf;
	struct sconn *s = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci;
		if (conf->started != NULL)
			conf->started(c);
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return; /* no limits for this one; nothing else depends on it */
		s->srv = sv;
		s->l = l;
		s->c = c;
		s->fresh = true;
		if (conf->head_timeout_ms > 0)
			s->head_by = fx_now_ms() + conf->head_timeout_ms;
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (conf->per_ip_limit > 0 && ci != NULL && ci->client_addr != NULL &&
		    (ci->client_addr->sa_family == AF_INET ||
		     ci->client_addr->sa_family == AF_INET6)) {
			memcpy(&s->addr, ci->client_addr,
			       ci->client_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
			                                             : sizeof(struct sockaddr_in6));
			ip_count((const struct sockaddr *)&s->addr, +1);
			s->counted = true;
		}
		s->next = l->conns;
		if (l->conns != NULL)
			l->conns->prev = s;
		l->conns = s;
		*socket_context = s;
		return;
	}
	if (s == NULL)
		return;
	if (s->counted)
		ip_count((const struct sockaddr *)&s->addr, -1);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		l->conns = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s);
	*socket_context = NULL;
}

static struct sconn *sconn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

static enum MHD_Result answer_close(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(msg), (void *)(uintptr_t)msg, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "Connection", "close");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

struct fields {
	struct fx_http1_field f[MAX_FIELDS];
	size_t n, seen;
};

static enum MHD_Result field(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                             const char *value, size_t value_size)
{
	struct fields *fs = cls;

	(void)kind;
	if (fs->n < MAX_FIELDS)
		fs->f[fs->n++] = (struct fx_http1_field){key, value, key_size, value_size};
	fs->seen++;
	return MHD_YES;
}

/* The request's head against RFC 9112's rules (http1.c), before the program
 * sees it. true when it passes; otherwise it is answered here (*ret) and its
 * connection closed. */
bool fx_server_head_ok(struct MHD_Connection *c, const char *version, enum MHD_Result *ret)
{
	struct fields fs;
	const char *why = NULL;
	char msg[128];
	int st;

	fs.n = fs.seen = 0;
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, field, &fs);
	if (fs.seen > MAX_FIELDS) {
		*ret = answer_close(c, 431, "too many header fields\n");
		return false;
	}
	st = fx_http1_request_check(version, fs.f, fs.n, &why);
	if (st == 0)
		return true;
	snprintf(msg, sizeof(msg), "%s\n", why);
	*ret = answer_close(c, (unsigned)st, msg);
	return false;
}

/* Every handler call; the first of a request checks its head. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct srv *sv = cls;
	struct sconn *s = sconn_of(c);
	enum MHD_Result ret;

	if (s == NULL) /* its state could not be allocated: nothing could be checked */
		return answer_close(c, 503, "out of memory\n");
	if (s->fresh) {
		s->fresh = false;
		s->head_by = 0;
		if (!fx_server_head_ok(c, version, &ret))
			return ret;
	}
	return sv->conf->handler(sv->l, c, url, method, version, upload, upload_size, con_cls);
}

/* A request ended: a kept-alive connection may sit idle for idle_timeout,
 * then has head_timeout for the next head. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	const struct srv *sv = cls;
	const struct fx_server_conf *conf = sv->conf;
	struct sconn *s = sconn_of(c);

	if (conf->completed != NULL)
		conf->completed(sv->l, c, con_cls, toe);
	if (s != NULL)
		s->fresh = true;
	if (s != NULL && conf->head_timeout_ms > 0)
		s->head_by =
		    fx_now_ms() + (int64_t)conf->idle_timeout_s * 1000 + conf->head_timeout_ms;
}

struct MHD_Daemon *fx_server_daemon(struct fx_loop *l, int listen_fd,
                                    const struct fx_server_conf *conf)
{
	static const struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
	unsigned flags = MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
	                 MHD_USE_ERROR_LOG | conf->extra_flags;
	struct srv *sv = NULL;

	for (int i = 0; i < l->nsrv; i++)
		if (l->srv[i].listen_fd == listen_fd && l->srv[i].d == NULL)
			sv = &l->srv[i];
	if (sv == NULL)
		return NULL; /* not one of the loop's listening sockets */
	sv->conf = conf;
	sv->tls = (conf->extra_flags & MHD_USE_TLS) != 0;
	return MHD_start_daemon(
	    flags, 0, accept_policy, sv, on_request, sv, MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_CONNECTION_TIMEOUT, conf->idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    conf->memory_limit, MHD_OPTION_CONNECTION_LIMIT,
	    conf->connection_limit ? conf->connection_limit : (unsigned)FD_SETSIZE - 4,
	    MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_NOTIFY_CONNECTION, notify_conn, sv,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, sv, MHD_OPTION_URI_LOG_CALLBACK,
	    conf->uri_log, l, MHD_OPTION_EXTERNAL_LOGGER, conf->log, NULL, MHD_OPTION_ARRAY,
	    conf->extra ? conf->extra : none, MHD_OPTION_END);
}

uint64_t fx_server_head_timeouts(void)
{
	return atomic_load(&head_timeouts);
}

uint64_t fx_server_ip_refusals(void)
{
	return atomic_load(&ip_refusals);
}
