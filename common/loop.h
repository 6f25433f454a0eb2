/* loop.h: the data path's event loops, shared by faas-gateway and fwatchdog's
 * http mode.
 *
 * One loop per worker thread: an epoll set holding the loop's libmicrohttpd
 * daemons (external epoll mode, suspend/resume), each on its own SO_REUSEPORT
 * listening socket (the gateway's HTTP and HTTPS ports: one per set of
 * sockets given to fx_loops_start), the upstream sockets of its exchanges (proxy.h), its idle
 * keep-alive upstream connections and an eventfd to be woken. All of an
 * exchange's work happens on its loop's thread, so nothing is locked; the
 * kernel spreads clients over the loops.
 *
 * The loop does not know which program it serves: the program gives it an
 * fx_loop_ops (how to make the daemon; what an upstream peer is) and the
 * exchanges bring their own ops (proxy.h). Every client connection is also
 * held to two limits here (fx_server_conf): a total time for a request's head
 * and a number of connections per client address. */
#ifndef FX_LOOP_H
#define FX_LOOP_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct fx_loop;
struct fx_px;

/* What an epoll event points at. */
enum fx_ev_kind { FX_EV_MHD, FX_EV_WAKE, FX_EV_UPSTREAM, FX_EV_CLIENT, FX_EV_DEAD };
struct fx_ev {
	int kind;
	struct fx_px *px; /* FX_EV_UPSTREAM, FX_EV_CLIENT: the exchange; NULL: idle */
};

/* A connection to an upstream peer. It stays in its loop's epoll set for its
 * whole life (no epoll_ctl per request); idle (ev.px NULL) in the loop's pool,
 * where an event means the peer closed it. */
struct fx_uconn {
	struct fx_ev ev; /* first member: an event's pointer is the connection */
	int fd;
	uint32_t events; /* the mask asked for */
	bool watched;    /* in the epoll set */
	void *peer;      /* borrowed, with a reference taken through fx_loop_ops */
	unsigned gen;    /* the peer's generation it was made for */
	struct fx_uconn *next;
};

struct fx_loop_ops {
	/* The daemon of loop l on its bound, listening socket of set `set`
	 * (fx_loops_start) with the program's libmicrohttpd options, through
	 * fx_server_daemon. NULL on failure. */
	struct MHD_Daemon *(*daemon)(struct fx_loop *l, int listen_fd, int set, void *arg);
	/* Pool peers (each may be NULL): take and drop a reference; may an idle
	 * connection to peer be kept? */
	void (*peer_ref)(void *peer);
	void (*peer_unref)(void *peer);
	bool (*peer_usable)(void *peer);
	unsigned pool_per_peer; /* idle connections kept per peer and loop */
	unsigned pool_max;      /* idle connections kept per loop */
	void *arg;
};

#define FX_LOOP_DAEMONS 2 /* listening sockets (daemons) per loop */
/* Starts n loops (ops borrowed, must outlive them); loop i has a daemon on
 * listen_fds[set][i] for each of the nsets (1..FX_LOOP_DAEMONS) sets of
 * sockets. 0 or a negative errno. */
int fx_loops_start(const struct fx_loop_ops *ops, const int *const *listen_fds, int nsets, int n);
/* Stops accepting (SIGTERM): each daemon closes its listening socket;
 * requests in progress go on. Any thread. */
void fx_loops_quiesce(void);
/* Ends what is left (exchanges aborted) and joins the loops. */
void fx_loops_stop(void);
/* Wakes every loop: each ticks its exchanges (registry, DNS or scale news).
 * Any thread. */
void fx_loops_wake(void);

/* Adds/modifies/removes fd in the loop's epoll set. 0 or a negative errno. */
int fx_loop_watch(struct fx_loop *l, int fd, int op, uint32_t events, struct fx_ev *ev);
/* libmicrohttpd has work to do on this loop (a connection was resumed). */
void fx_loop_kick(struct fx_loop *l);
/* A connection suspended on a loop, handed back from another thread (the
 * gateway's async publishers). The caller owns the node; the loop is done
 * with it once the connection is resumed. */
struct fx_resume {
	struct MHD_Connection *c;
	struct fx_resume *next;
};
/* Any thread: loop l's own thread resumes n->c and runs its daemons. (A
 * resume from another thread can race libmicrohttpd's suspend of a handler
 * still running on the loop, and be lost: the client then waits forever.) */
void fx_loop_resume(struct fx_loop *l, struct fx_resume *n);
/* The head of the loop's list of exchanges (owned by proxy.c). */
struct fx_px **fx_loop_exchanges(struct fx_loop *l);

/* An idle connection of this loop to peer made for generation gen, or NULL
 * (idle connections to peer of another generation are closed on the way). */
struct fx_uconn *fx_uconn_get(struct fx_loop *l, void *peer, unsigned gen);
/* Wraps a connected or connecting socket (takes a reference on peer); NULL
 * on ENOMEM (fd closed). */
struct fx_uconn *fx_uconn_new(int fd, void *peer, unsigned gen);
/* Sets the epoll mask (registers on first use). 0 or a negative errno. */
int fx_uconn_events(struct fx_loop *l, struct fx_uconn *u, uint32_t events);
/* Done with it: keep -> the pool (when there is room), else closed. */
void fx_uconn_release(struct fx_loop *l, struct fx_uconn *u, bool keep);

/* A non-blocking listening socket on bind:port (numeric address; port 0:
 * any) that other loops may share (SO_REUSEPORT). Writes "addr:port" (IPv6
 * in brackets) into addr. The fd, or -EINVAL (bind is not an address), or
 * another negative errno. */
int fx_listen(const char *bind, int port, char *addr, size_t n);

/* ---- the client side: libmicrohttpd's daemon options, in one place ------ */

/* Everything a program says about its daemons. The common part (external
 * epoll, suspend/resume, the limits below) is added by fx_server_daemon. */
struct fx_server_conf {
	/* The program's callbacks; cls is the loop (struct fx_loop *) for each. */
	MHD_AccessHandlerCallback handler;
	void *(*uri_log)(void *cls, const char *uri, struct MHD_Connection *c);
	MHD_RequestCompletedCallback completed;
	MHD_LogCallback log; /* libmicrohttpd's messages; NULL: none */
	/* A client connection was accepted (NULL: nothing to do), e.g. to set
	 * up its TLS session (MHD_CONNECTION_INFO_GNUTLS_SESSION). */
	void (*started)(struct MHD_Connection *c);
	unsigned idle_timeout_s;   /* a connection with no traffic is closed */
	size_t memory_limit;       /* per connection: the request head must fit */
	unsigned connection_limit; /* per loop; 0: libmicrohttpd's default */
	unsigned per_ip_limit;     /* connections per client address, all loops; 0: none */
	int64_t head_timeout_ms;   /* a request head must be in within this; 0: none */
	/* more MHD_FLAG bits; MHD_USE_TLS: an HTTPS daemon (the loop then also
	 * bounds the busy wait of a handshake in progress, see loop.c) */
	unsigned extra_flags;
	const struct MHD_OptionItem *extra; /* more options, ended by MHD_OPTION_END; may be NULL */
};

/* Starts a daemon for loop l on listen_fd (the one fx_loop_ops.daemon was
 * called with) with conf (borrowed, must outlive the daemon). Used by the
 * program's fx_loop_ops.daemon. NULL on failure. */
struct MHD_Daemon *fx_server_daemon(struct fx_loop *l, int listen_fd,
                                    const struct fx_server_conf *conf);
/* A request's head against RFC 9112's rules (common/http1.c), at its first
 * handler call: true when it passes; otherwise it was answered (*ret, 400,
 * 431 or 501) and its connection will close. fx_server_daemon's daemons do
 * it themselves; a program's other daemons call it. */
bool fx_server_head_ok(struct MHD_Connection *c, const char *version, enum MHD_Result *ret);
/* Connections closed for a slow request head, and refused over the per-address
 * cap, since the start (all loops). */
uint64_t fx_server_head_timeouts(void);
uint64_t fx_server_ip_refusals(void);

#endif
