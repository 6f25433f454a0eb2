/* watchdog.h: the map of fwatchdog, the HTTP server in every function replica.
 *
 *   main.c     parse the settings, run the server
 *   config.c   the settings table (env, flags, --help) and its validation   (pure)
 *   env.c      request -> Http_* environment, URL splitting                 (pure)
 *   status.c   method filter and exit-status -> HTTP status mapping          (pure)
 *   child.c    spawn a process group, pump its pipes, kill and reap it
 *   proxy.c    http mode: the long-running process, and each exchange with
 *              it driven without blocking (parsing with common/http1.c)
 *   loop.c     http mode: event loops (epoll, libmicrohttpd in external
 *              mode, the keep-alive pool), one per worker thread
 *   server.c   libmicrohttpd: routing, fork/streaming/http handlers, health,
 *              metrics, lock file, SIGTERM drain, --healthcheck; a thread per
 *              connection in fork and streaming modes (handlers block on the
 *              child's pipes), the event loops in http mode
 */
#ifndef WD_WATCHDOG_H
#define WD_WATCHDOG_H

#include "buf.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- config.c ---------------------------------------------------------- */

enum wd_mode { WD_MODE_FORK, WD_MODE_STREAMING, WD_MODE_HTTP };

struct wd_config {
	const char *fprocess; /* borrowed from env/argv */
	char **argv;          /* fprocess split on spaces (owned) */
	enum wd_mode mode;
	const char *mode_name;
	const char *upstream_url;
	char upstream_host[256]; /* from upstream_url (http mode) */
	char upstream_port[8];
	char *exec_path; /* argv[0] found on PATH at start (owned); NULL: look up per spawn */
	int64_t read_timeout_ms, write_timeout_ms, exec_timeout_ms; /* 0: no limit (exec) */
	int64_t healthcheck_interval_ms;
	bool write_debug, combine_output, suppress_lock, healthcheck;
	bool no_new_privileges;   /* PR_SET_NO_NEW_PRIVS before anything starts */
	const char *content_type; /* NULL: the request's */
	int64_t max_inflight;     /* 0: unlimited */
	int64_t port;
	uint64_t max_body, max_output;
	const char *log_level;
};

/* Loads defaults < environment < flags into *cfg. Returns 0, 1 for --help
 * (help printed to out), or -EINVAL with *err (caller frees) naming the
 * setting and what is expected. */
int wd_config_load(struct wd_config *cfg, int argc, char *const *argv, char **err);
void wd_config_release(struct wd_config *cfg);
void wd_config_help(FILE *out);
/* The absolute path of an executable name found on path (a PATH value), or
 * NULL; a name holding '/' is returned as is. Caller frees. */
char *wd_find_exec(const char *name, const char *path);
/* Splits s on spaces (runs of spaces, no quoting, no shell) into a
 * NULL-terminated vector (caller frees with wd_argv_free). NULL when s holds no
 * word or on ENOMEM. */
char **wd_argv_split(const char *s);
void wd_argv_free(char **v);
/* "http://host:port[/]" -> host, port. 0 or -EINVAL. */
int wd_parse_upstream(const char *url, char *host, size_t hn, char *port, size_t pn);

/* ---- env.c ------------------------------------------------------------- */

#define WD_ENV_MAX_HEADERS 128         /* headers mapped per request, more dropped */
#define WD_ENV_MAX_VALUE   8192        /* longer header values dropped */
#define WD_ENV_MAX_BYTES   (256 << 10) /* total request environment */

struct wd_kv {
	const char *name, *value; /* borrowed */
};

struct wd_reqinfo {
	const char *method, *path, *query, *host; /* query/host may be NULL */
	int64_t content_length;                   /* -1: none */
	const struct wd_kv *headers;
	size_t nheaders;
};

/* "x-request-id" -> "Http_X_Request_Id" (Go's canonical form, '-' -> '_').
 * Returns false (out untouched) for a name that is not [A-Za-z0-9-]{1,128}. */
bool wd_env_header_name(const char *header, char *out, size_t n);
/* A value without control characters (TAB allowed) and within the cap. */
bool wd_env_value_ok(const char *v);
/* The child's environment: base (borrowed, e.g. environ) plus the request's
 * Http_* variables, which win over base entries of the same name. Hostile or
 * surplus headers are dropped and counted in *dropped. Returns a vector that the
 * caller frees with wd_env_free, or NULL on ENOMEM. */
char **wd_env_build(char *const *base, const struct wd_reqinfo *ri, size_t *dropped);
void wd_env_free(char **env);
/* Splits a raw request target at '?': the path is percent-decoded into path
 * (NUL-terminated, "%00" and invalid escapes left as written); *query points
 * into raw after '?' or is NULL. Returns false when path does not fit. */
bool wd_url_split(const char *raw, char *path, size_t pn, const char **query);

/* ---- status.c ---------------------------------------------------------- */

/* GET, POST, PUT, PATCH, DELETE. */
bool wd_method_allowed(const char *m);
/* wait(2) status -> 200 (exit 0), 500 (non-zero exit or signal), or 504 when
 * exec_timeout killed it. */
int wd_status_for_exit(int wstatus, bool timed_out);
/* Histogram bucket bounds (seconds) of the duration histogram. */
extern const double wd_buckets[];
#define WD_NBUCKETS 12

/* ---- child.c ----------------------------------------------------------- */

struct wd_child {
	pid_t pid;               /* also the process group; 0: none */
	int in, out, err, pidfd; /* -1 when closed */
	bool exited, killed;     /* leader exited / we killed the group */
	int wstatus;             /* valid once reaped */
	bool reaped;
};

enum { WD_PUMP_CLIENT_GONE = -ECANCELED, WD_PUMP_TIMEOUT = -ETIMEDOUT };

void wd_child_init(struct wd_child *c);
/* Starts path (or, when NULL, argv[0] looked up on PATH) in its own process
 * group with env; stdin, stdout
 * and stderr are pipes (stderr shares stdout when combine). io_stdio: inherit
 * the watchdog's stdout/stderr and /dev/null stdin instead (http mode).
 * Returns 0 or a negative errno. */
int wd_child_spawn(struct wd_child *c, const char *path, char *const *argv, char *const *env,
                   bool combine, bool io_stdio);
/* Writes in[0..n) to stdin (stops quietly if the child closed it) while
 * collecting stdout into out and stderr into err (bytes over their caps are
 * discarded and *over set). n == 0 with finish: closes stdin, then reads until
 * both pipes end. deadline_ms: CLOCK_MONOTONIC ms, 0 none. client_fd >= 0 is
 * watched for hang-up. Returns 0, WD_PUMP_TIMEOUT, WD_PUMP_CLIENT_GONE or
 * a negative errno. */
int wd_child_pump(struct wd_child *c, const char *in, size_t n, bool finish, struct fx_buf *out,
                  struct fx_buf *err, bool *over, int64_t deadline_ms, int client_fd);
/* Streaming: reads up to max bytes of stdout into buf (stderr goes to err).
 * Returns bytes read, 0 at end, or WD_PUMP_TIMEOUT / WD_PUMP_CLIENT_GONE /
 * negative errno. */
ssize_t wd_child_read(struct wd_child *c, char *buf, size_t max, struct fx_buf *err,
                      int64_t deadline_ms, int client_fd);
/* Kills the group (when kill or deadline passes), reaps the leader, closes
 * every descriptor. Returns 0 with *wstatus, or WD_PUMP_TIMEOUT (killed). */
int wd_child_finish(struct wd_child *c, int64_t deadline_ms, int *wstatus);
/* Kills the whole group and reaps; safe on a finished or empty child. */
void wd_child_kill(struct wd_child *c);

int64_t wd_now_ms(void);
int64_t wd_now_us(void);

/* ---- proxy.c ----------------------------------------------------------- */

struct MHD_Connection;
struct MHD_Response;
struct wd_proxy;
struct wd_pxreq;
struct wd_loop;

/* Starts the http-mode process (restarted with backoff when it dies) and its
 * supervisor thread. NULL on failure (logged). */
struct wd_proxy *wd_proxy_new(const struct wd_config *cfg);
void wd_proxy_free(struct wd_proxy *p);
/* True when the upstream accepts a connection. */
bool wd_proxy_ready(struct wd_proxy *p);

/* One proxied exchange, on the loop thread that owns the client connection c.
 * Never blocks: the client connection is suspended while the upstream is
 * waited for. Builds the request head (hop-by-hop headers dropped,
 * X-Forwarded-For appended) and takes a pooled or new upstream connection.
 * body_len: -1 chunked body, 0 none, else Content-Length. client_ip may be "".
 * Returns the exchange, or NULL with *status 502 (upstream not ready or not
 * reachable) or 503 (out of memory). */
struct wd_pxreq *wd_px_new(struct wd_proxy *px, struct wd_loop *l, struct MHD_Connection *c,
                           const char *method, const char *target, const struct wd_kv *hdrs,
                           size_t nhdrs, int64_t body_len, const char *client_ip,
                           int64_t deadline_ms, int *status);

enum wd_px_next {
	WD_PX_MORE,   /* MHD_YES: wait for the next call (perhaps suspended) */
	WD_PX_ABORT,  /* MHD_NO: the client is gone */
	WD_PX_ANSWER, /* *resp (caller queues and destroys it) with *status */
	WD_PX_ERROR,  /* answer *status (502, 503, 504) with *text */
};
/* Every later access-handler call of the exchange: body bytes (consumed by
 * setting *size to 0, or left while the upstream is slower than the client)
 * and the final call. */
enum wd_px_next wd_px_step(struct wd_pxreq *r, const char *data, size_t *size,
                           struct MHD_Response **resp, int *status, const char **text);
/* The client's request ended (answered or not): aborts what is still going
 * on and lets go of r (the response body reader may hold it a little longer). */
void wd_px_done(struct wd_pxreq *r);
/* Loop callbacks: a watched socket is ready; deadlines, every few ms. */
void wd_px_event(struct wd_pxreq *r, int kind, uint32_t events);
void wd_px_tick(struct wd_pxreq *r, int64_t now);
/* The next exchange in the loop's list (for ticks and shutdown). */
struct wd_pxreq *wd_px_next_of(struct wd_pxreq *r);
/* Ends an exchange at shutdown (its client is answered with an error). */
void wd_px_abort(struct wd_pxreq *r);

/* ---- loop.c: http mode's event loops ------------------------------------ */

/* One loop per worker thread: an epoll set with its own libmicrohttpd daemon
 * (external epoll, suspend/resume) on its own SO_REUSEPORT socket, the
 * upstream sockets of its exchanges, its idle keep-alive connections and an
 * eventfd. An exchange lives on one loop: no locks. */
enum { WD_EV_MHD, WD_EV_WAKE, WD_EV_UP, WD_EV_CLIENT, WD_EV_DEAD };
struct wd_ev {
	int kind;
	struct wd_pxreq *req; /* NULL for an idle upstream connection */
};
/* A connection to the upstream. It stays in its loop's epoll set for its
 * whole life; idle (ev.req NULL), an event means the upstream closed it. */
struct wd_upconn {
	struct wd_ev ev; /* first member: an event's pointer is the connection */
	int fd;
	uint32_t events; /* the mask asked for */
	bool watched;    /* in the epoll set */
	unsigned gen;    /* the upstream process it was made for */
	struct wd_upconn *next;
};

/* Starts n loops listening on port (0: any; the loops share the port it
 * gets, written to *bound). 0 or a negative errno (logged). */
int wd_loops_start(int n, int64_t port, int *bound);
/* Stops accepting (SIGTERM); requests in progress go on. */
void wd_loops_quiesce(void);
/* Ends what is left and joins the loops. */
void wd_loops_stop(void);
int wd_loop_watch(struct wd_loop *l, int fd, int op, uint32_t events, struct wd_ev *ev);
/* libmicrohttpd has work to do (a connection was resumed). */
void wd_loop_kick(struct wd_loop *l);
/* The loop's list of exchanges (owned by proxy.c). */
struct wd_pxreq **wd_loop_reqs(struct wd_loop *l);
/* An idle connection made for upstream generation gen, or NULL (older ones
 * are closed on the way). */
struct wd_upconn *wd_upconn_get(struct wd_loop *l, unsigned gen);
/* Wraps a connecting socket; NULL on ENOMEM (fd closed). */
struct wd_upconn *wd_upconn_new(int fd, unsigned gen);
/* Sets the epoll mask (registers on first use). 0 or a negative errno. */
int wd_upconn_events(struct wd_loop *l, struct wd_upconn *u, uint32_t events);
/* Done with it: keep -> the idle list (when there is room), else closed. */
void wd_upconn_release(struct wd_loop *l, struct wd_upconn *u, bool keep);
/* The current upstream generation (bumped when the process goes down). */
unsigned wd_proxy_gen(struct wd_proxy *p);

/* ---- server.c ---------------------------------------------------------- */

/* Runs until SIGTERM/SIGINT and the drain. Returns the exit code. */
struct MHD_Daemon;
/* http mode: the daemon of loop l on its listening socket; NULL on failure. */
struct MHD_Daemon *wd_server_daemon(struct wd_loop *l, int listen_fd);
int wd_server_run(struct wd_config *cfg);
/* --healthcheck: GET 127.0.0.1:port/_/health within 2 s; 0 when 200, else 1. */
int wd_healthcheck(const struct wd_config *cfg);

#endif
