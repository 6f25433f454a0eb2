/* loop.c: http mode's event loops, after the gateway's (gateway/loop.c).
 * Each worker thread owns an epoll set holding its libmicrohttpd daemon
 * (external epoll mode, suspend/resume), the upstream sockets of its
 * exchanges and of its idle keep-alive connections, and an eventfd to be
 * woken. All of an exchange's work happens on its loop's thread, so nothing
 * is locked; the kernel spreads clients over the loops (SO_REUSEPORT). */
#include "watchdog.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define TICK_MS  20
#define IDLE_MAX 256 /* idle upstream connections, all loops together */

struct wd_loop {
	int ep, wake_fd, listen_fd;
	struct MHD_Daemon *d;
	struct wd_ev ev_mhd, ev_wake;
	struct wd_pxreq *reqs;
	struct wd_upconn *idle; /* kept-alive connections to the upstream */
	int nidle;
	struct wd_upconn *dead; /* closed this turn, freed at its end */
	pthread_t th;
	bool kick;
	atomic_bool quiesce, stop;
};

static struct wd_loop *loops;
static int nloops;

void wd_loop_kick(struct wd_loop *l)
{
	l->kick = true;
}

struct wd_pxreq **wd_loop_reqs(struct wd_loop *l)
{
	return &l->reqs;
}

int wd_loop_watch(struct wd_loop *l, int fd, int op, uint32_t events, struct wd_ev *ev)
{
	struct epoll_event e = {.events = events, .data.ptr = ev};
	return epoll_ctl(l->ep, op, fd, op == EPOLL_CTL_DEL ? NULL : &e) < 0 ? -errno : 0;
}

/* ---- upstream connections ---------------------------------------------- */

struct wd_upconn *wd_upconn_new(int fd, unsigned gen)
{
	struct wd_upconn *u = calloc(1, sizeof(*u));

	if (u == NULL) {
		close(fd);
		return NULL;
	}
	u->ev.kind = WD_EV_UP;
	u->fd = fd;
	u->gen = gen;
	return u;
}

int wd_upconn_events(struct wd_loop *l, struct wd_upconn *u, uint32_t events)
{
	int rc;

	if (u->fd < 0 || (u->watched && events == u->events))
		return 0;
	rc = wd_loop_watch(l, u->fd, u->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, events, &u->ev);
	if (rc == 0) {
		u->events = events;
		u->watched = true;
	}
	return rc;
}

static void upconn_close(struct wd_loop *l, struct wd_upconn *u)
{
	if (u->fd >= 0)
		close(u->fd); /* leaves the epoll set with it */
	u->fd = -1;
	u->events = 0;
	u->watched = false;
	u->ev.kind = WD_EV_DEAD; /* an event of this turn still pointing here is ignored */
	u->ev.req = NULL;
	u->next = l->dead;
	l->dead = u;
}

struct wd_upconn *wd_upconn_get(struct wd_loop *l, unsigned gen)
{
	while (l->idle != NULL) {
		struct wd_upconn *u = l->idle;
		l->idle = u->next;
		u->next = NULL;
		l->nidle--;
		if (u->gen == gen)
			return u;
		upconn_close(l, u); /* made for an upstream process that is gone */
	}
	return NULL;
}

void wd_upconn_release(struct wd_loop *l, struct wd_upconn *u, bool keep)
{
	u->ev.req = NULL;
	if (keep && l->nidle < IDLE_MAX / nloops &&
	    wd_upconn_events(l, u, EPOLLIN | EPOLLRDHUP) == 0) {
		u->next = l->idle;
		l->idle = u;
		l->nidle++;
		return;
	}
	upconn_close(l, u);
}

/* An idle connection had an event: the upstream closed it (or sent junk). */
static void idle_event(struct wd_loop *l, struct wd_upconn *u)
{
	for (struct wd_upconn **pp = &l->idle; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			l->nidle--;
			break;
		}
	}
	upconn_close(l, u);
}

static void bury(struct wd_loop *l)
{
	while (l->dead != NULL) {
		struct wd_upconn *u = l->dead;
		l->dead = u->next;
		free(u);
	}
}

/* ---- the loop ---------------------------------------------------------- */

static void ticks(struct wd_loop *l, int64_t now)
{
	for (struct wd_pxreq *r = l->reqs, *nx; r != NULL; r = nx) {
		nx = wd_px_next_of(r);
		wd_px_tick(r, now);
	}
}

static void wake(struct wd_loop *l)
{
	uint64_t one = 1;

	if (write(l->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the loop is awake anyway */
	}
}

static void *loop_main(void *arg)
{
	struct wd_loop *l = arg;
	struct epoll_event evs[128];
	int64_t last_tick = wd_now_ms();
	bool quiesced = false;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&l->stop)) {
		MHD_UNSIGNED_LONG_LONG mt;
		int timeout = l->reqs != NULL ? TICK_MS : 1000, n;
		bool run;
		int64_t now;

		if (MHD_get_timeout(l->d, &mt) == MHD_YES && mt < (MHD_UNSIGNED_LONG_LONG)timeout)
			timeout = (int)mt;
		if (l->kick)
			timeout = 0;
		run = timeout == 0;
		n = epoll_wait(l->ep, evs, 128, timeout);
		for (int i = 0; i < n; i++) {
			struct wd_ev *ev = evs[i].data.ptr;
			if (ev->kind == WD_EV_WAKE) {
				uint64_t v;
				if (read(l->wake_fd, &v, sizeof(v)) < 0) {
					/* nothing to read: fine */
				}
			} else if (ev->kind == WD_EV_UP && ev->req == NULL) {
				idle_event(l, (struct wd_upconn *)(void *)ev);
			} else if (ev->kind == WD_EV_UP || ev->kind == WD_EV_CLIENT) {
				wd_px_event(ev->req, ev->kind, evs[i].events);
			} else if (ev->kind == WD_EV_MHD) {
				run = true;
			}
		}
		if (n == 0 || run || l->kick) {
			/* An answer queued by this run is usually sent by the next
			 * one: run again at once rather than after another epoll_wait. */
			for (int k = 0; k < 2; k++) {
				l->kick = false;
				MHD_run(l->d);
				if (!l->kick && (MHD_get_timeout(l->d, &mt) != MHD_YES || mt != 0))
					break;
			}
		}
		now = wd_now_ms();
		if (now - last_tick >= TICK_MS) {
			last_tick = now;
			ticks(l, now);
		}
		bury(l);
		if (atomic_load(&l->quiesce) && !quiesced) {
			int fd = MHD_quiesce_daemon(l->d);
			quiesced = true;
			if (fd >= 0)
				close(fd);
		}
	}
	/* Shutdown: whatever is left ends now. */
	for (struct wd_pxreq *r = l->reqs; r != NULL; r = wd_px_next_of(r))
		wd_px_abort(r);
	for (int i = 0; i < 5; i++)
		MHD_run(l->d);
	MHD_stop_daemon(l->d);
	while (l->idle != NULL) {
		struct wd_upconn *u = l->idle;
		l->idle = u->next;
		upconn_close(l, u);
	}
	bury(l);
	return NULL;
}

/* A listening socket on 0.0.0.0:port that other loops may share. */
static int listen_on(int64_t port, int *bound)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1, e;

	if (fd < 0)
		return -errno;
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	*bound = ntohs(a.sin_port);
	return fd;
}

int wd_loops_start(int n, int64_t port, int *bound)
{
	loops = calloc((size_t)n, sizeof(*loops));
	if (loops == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct wd_loop *l = &loops[i];
		const union MHD_DaemonInfo *info;
		int rc;

		l->ep = epoll_create1(EPOLL_CLOEXEC);
		l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (l->ep < 0 || l->wake_fd < 0)
			return -errno;
		l->listen_fd = listen_on(i == 0 ? port : *bound, bound);
		if (l->listen_fd < 0) {
			log_error("cannot listen", "port=%lld err=\"%s\"", (long long)port,
			          strerror(-l->listen_fd));
			return l->listen_fd;
		}
		l->d = wd_server_daemon(l, l->listen_fd);
		if (l->d == NULL) {
			log_error("cannot start the http daemon", "loop=%d", i);
			return -EIO;
		}
		info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
		l->ev_mhd.kind = WD_EV_MHD;
		l->ev_wake.kind = WD_EV_WAKE;
		if (info == NULL ||
		    (rc = wd_loop_watch(l, info->epoll_fd, EPOLL_CTL_ADD, EPOLLIN, &l->ev_mhd)) <
		        0 ||
		    (rc = wd_loop_watch(l, l->wake_fd, EPOLL_CTL_ADD, EPOLLIN, &l->ev_wake)) < 0) {
			log_error("cannot start the event loop", "loop=%d", i);
			return -EIO;
		}
		nloops = i + 1;
	}
	for (int i = 0; i < n; i++)
		if (pthread_create(&loops[i].th, NULL, loop_main, &loops[i]) != 0) {
			log_error("cannot start a loop thread", "loop=%d", i);
			return -EAGAIN;
		}
	return 0;
}

void wd_loops_quiesce(void)
{
	for (int i = 0; i < nloops; i++) {
		atomic_store(&loops[i].quiesce, true);
		wake(&loops[i]);
	}
}

void wd_loops_stop(void)
{
	for (int i = 0; i < nloops; i++) {
		atomic_store(&loops[i].stop, true);
		wake(&loops[i]);
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
