/* loop.c: the gateway's event loops. Each worker thread owns one epoll set
 * holding its libmicrohttpd daemon (external epoll mode, suspend/resume), the
 * sockets to replicas of its requests and an eventfd to be woken. All of a
 * request's work happens on its loop's thread, so requests need no locks; the
 * kernel spreads clients over the loops (SO_REUSEPORT). */
#include "gateway.h"

#include "log.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define TICK_MS 20

struct gw_loop {
	int ep;
	int wake_fd;
	struct MHD_Daemon *d;
	int listen_fd;
	struct gw_ev ev_mhd, ev_wake;
	struct gw_req *reqs;
	struct gw_uconn *idle; /* kept-alive connections to replicas */
	int nidle;
	struct gw_uconn *dead; /* closed this turn, freed at its end */
	pthread_t th;
	atomic_bool kick; /* libmicrohttpd has work (a resumed connection) */
	volatile int quiesce, stop;
};

void gw_loop_kick(struct gw_loop *l)
{
	l->kick = true;
}

void gw_loop_poke(struct gw_loop *l)
{
	uint64_t one = 1;
	l->kick = true;
	if (write(l->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the loop is awake anyway */
	}
}

static struct gw_loop *loops;
static int nloops;

struct gw_req **gw_loop_reqs(struct gw_loop *l)
{
	return &l->reqs;
}

int gw_loop_watch(struct gw_loop *l, int fd, int op, uint32_t events, struct gw_ev *ev)
{
	struct epoll_event e = {.events = events, .data.ptr = ev};
	return epoll_ctl(l->ep, op, fd, op == EPOLL_CTL_DEL ? NULL : &e) < 0 ? -errno : 0;
}

#define MAX_IDLE 1024 /* per loop */

struct gw_uconn *gw_uconn_new(int fd, struct gw_replica *rep)
{
	struct gw_uconn *u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		return NULL;
	}
	u->ev.kind = GW_EV_UPSTREAM;
	u->fd = fd;
	u->rep = rep;
	gw_replica_ref(rep);
	return u;
}

int gw_uconn_events(struct gw_loop *l, struct gw_uconn *u, uint32_t events)
{
	if (u->fd < 0 || events == u->events)
		return 0;
	int rc = gw_loop_watch(l, u->fd, u->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, events, &u->ev);
	if (rc == 0)
		u->events = events;
	return rc;
}

static void uconn_close(struct gw_loop *l, struct gw_uconn *u)
{
	if (u->fd >= 0)
		close(u->fd); /* leaves the epoll set with it */
	u->fd = -1;
	u->events = 0;
	u->ev.kind = GW_EV_DEAD; /* an event of this turn still pointing here is ignored */
	u->ev.req = NULL;
	u->next = l->dead;
	l->dead = u;
}

struct gw_uconn *gw_uconn_get(struct gw_loop *l, struct gw_replica *rep)
{
	for (struct gw_uconn **pp = &l->idle; *pp; pp = &(*pp)->next) {
		struct gw_uconn *u = *pp;
		if (u->rep == rep) {
			*pp = u->next;
			u->next = NULL;
			l->nidle--;
			return u;
		}
	}
	return NULL;
}

void gw_uconn_release(struct gw_loop *l, struct gw_uconn *u, bool keep)
{
	int same = 0;

	u->ev.req = NULL;
	if (keep && l->nidle < MAX_IDLE && !gw_replica_down(u->rep) &&
	    gw_uconn_events(l, u, EPOLLIN | EPOLLRDHUP) == 0) {
		for (struct gw_uconn *i = l->idle; i; i = i->next)
			same += i->rep == u->rep;
		if (same < gw_cfg.pool_size) {
			u->next = l->idle;
			l->idle = u;
			l->nidle++;
			return;
		}
	}
	uconn_close(l, u);
}

/* An idle connection had an event: the replica closed it (or sent junk). */
static void idle_event(struct gw_loop *l, struct gw_uconn *u)
{
	for (struct gw_uconn **pp = &l->idle; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			l->nidle--;
			break;
		}
	}
	uconn_close(l, u);
}

static void bury(struct gw_loop *l)
{
	while (l->dead) {
		struct gw_uconn *u = l->dead;
		l->dead = u->next;
		gw_replica_release(u->rep);
		free(u);
	}
}

void gw_loops_wake(void)
{
	uint64_t one = 1;
	for (int i = 0; i < nloops; i++)
		if (write(loops[i].wake_fd, &one, sizeof(one)) < 0) {
			/* the counter is full: the loop is awake anyway */
		}
}

static void *loop_main(void *arg)
{
	struct gw_loop *l = arg;
	struct epoll_event evs[256];
	int64_t last_tick = gw_now_ms();
	bool quiesced = false;

	while (!l->stop) {
		MHD_UNSIGNED_LONG_LONG mt;
		int timeout = l->reqs ? TICK_MS : 1000; /* ticks only matter with requests */
		if (MHD_get_timeout(l->d, &mt) == MHD_YES && mt < (MHD_UNSIGNED_LONG_LONG)timeout)
			timeout = (int)mt;
		if (l->kick)
			timeout = 0;
		bool run = timeout == 0;
		int n = epoll_wait(l->ep, evs, 256, timeout);
		for (int i = 0; i < n; i++) {
			struct gw_ev *ev = evs[i].data.ptr;
			if (ev->kind == GW_EV_WAKE) {
				uint64_t v;
				if (read(l->wake_fd, &v, sizeof(v)) < 0) {
					/* nothing to read: fine */
				}
				gw_reqs_tick(l->reqs, gw_now_ms());
			} else if (ev->kind == GW_EV_UPSTREAM && !ev->req) {
				idle_event(
				    l, (struct gw_uconn *)(void *)ev); /* ev is its first member */
			} else if (ev->kind == GW_EV_UPSTREAM || ev->kind == GW_EV_CLIENT) {
				gw_req_event(ev->req, ev->kind, evs[i].events);
			} else if (ev->kind == GW_EV_MHD) {
				run = true;
			}
		}
		if (n == 0 || run || l->kick) {
			l->kick = false;
			MHD_run(l->d);
		}
		int64_t now = gw_now_ms();
		if (now - last_tick >= TICK_MS) {
			last_tick = now;
			gw_reqs_tick(l->reqs, now);
		}
		bury(l);
		if (l->quiesce && !quiesced) {
			quiesced = true;
			int fd = MHD_quiesce_daemon(l->d);
			if (fd >= 0)
				close(fd);
		}
	}
	/* Shutdown: whatever is left ends now. */
	gw_reqs_abort(l->reqs);
	for (int i = 0; i < 5; i++)
		MHD_run(l->d);
	MHD_stop_daemon(l->d);
	while (l->idle) {
		struct gw_uconn *u = l->idle;
		l->idle = u->next;
		uconn_close(l, u);
	}
	bury(l);
	return NULL;
}

int gw_loops_start(const int *listen_fds, int n)
{
	loops = calloc((size_t)n, sizeof(*loops));
	if (!loops)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct gw_loop *l = &loops[i];
		const union MHD_DaemonInfo *info;
		l->ep = epoll_create1(EPOLL_CLOEXEC);
		l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (l->ep < 0 || l->wake_fd < 0)
			return -errno;
		l->listen_fd = listen_fds[i];
		l->d = gw_server_start(l, listen_fds[i], n);
		if (!l->d)
			return -EIO;
		info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
		if (!info)
			return -EIO;
		l->ev_mhd.kind = GW_EV_MHD;
		l->ev_wake.kind = GW_EV_WAKE;
		if (gw_loop_watch(l, info->epoll_fd, EPOLL_CTL_ADD, EPOLLIN, &l->ev_mhd) < 0 ||
		    gw_loop_watch(l, l->wake_fd, EPOLL_CTL_ADD, EPOLLIN, &l->ev_wake) < 0)
			return -EIO;
		nloops = i + 1;
	}
	for (int i = 0; i < n; i++)
		if (pthread_create(&loops[i].th, NULL, loop_main, &loops[i]) != 0)
			return -EAGAIN;
	return 0;
}

void gw_loops_stop(int64_t drain_ms)
{
	int64_t deadline = gw_now_ms() + drain_ms;

	for (int i = 0; i < nloops; i++)
		loops[i].quiesce = 1;
	gw_loops_wake();
	while (gw_server_active() > 0 && gw_now_ms() < deadline)
		usleep(20 * 1000);
	log_info("stopped", "unfinished=%d", gw_server_active());
	for (int i = 0; i < nloops; i++)
		loops[i].stop = 1;
	gw_loops_wake();
	for (int i = 0; i < nloops; i++)
		pthread_join(loops[i].th, NULL);
}
