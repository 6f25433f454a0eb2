/* watchdog.h: the map of fwatchdog, the HTTP server in every function replica.
 *
 *   main.c     parse the settings, run the server
 *   config.c   the settings table (env, flags, --help) and its validation   (pure)
 *   env.c      request -> Http_* environment, URL splitting                 (pure)
 *   status.c   method filter and exit-status -> HTTP status mapping          (pure)
 *   child.c    spawn a process group, pump its pipes, kill and reap it
 *   proxy.c    http mode: the long-running process, and each exchange with
 *              it (common/proxy.c's engine, with the watchdog's rules)
 *   server.c   libmicrohttpd: routing, fork/streaming/http handlers, health,
 *              metrics, lock file, SIGTERM drain, --healthcheck; a thread per
 *              connection in fork and streaming modes (handlers block on the
 *              child's pipes), common/loop.c's event loops in http mode
 */
#ifndef WD_WATCHDOG_H
#define WD_WATCHDOG_H

#include "buf.h"
#include "clock.h"

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

/* ---- proxy.c ----------------------------------------------------------- */

struct MHD_Connection;
struct wd_proxy;
struct fx_loop;
struct fx_px;

/* Starts the http-mode process (restarted with backoff when it dies) and its
 * supervisor thread. NULL on failure (logged). */
struct wd_proxy *wd_proxy_new(const struct wd_config *cfg);
void wd_proxy_free(struct wd_proxy *p);
/* True when the upstream accepts a connection. */
bool wd_proxy_ready(struct wd_proxy *p);
/* The current upstream generation (bumped when the process goes down):
 * pooled connections made for an earlier one are not used. */
unsigned wd_proxy_gen(struct wd_proxy *p);

/* One proxied exchange (common/proxy.h) on loop l, for the client
 * connection c, at its first handler call: the request head is built
 * (hop-by-hop headers dropped, X-Forwarded-For appended) and sent on a pooled
 * or new upstream connection. deadline_ms: exec_timeout's end, 0 none.
 * Returns the exchange (the caller drives it with fx_px_upload and ends it
 * with fx_px_done), or NULL with *status 400 (a header that cannot be
 * forwarded), 502 (upstream not ready or not reachable) or 503 (out of
 * memory). */
struct fx_px *wd_px_new(struct wd_proxy *px, struct fx_loop *l, struct MHD_Connection *c,
                        const char *method, const char *target, int64_t deadline_ms, int *status);

/* ---- server.c ---------------------------------------------------------- */

/* Runs until SIGTERM/SIGINT and the drain. Returns the exit code. */
int wd_server_run(struct wd_config *cfg);
/* --healthcheck: GET 127.0.0.1:port/_/health within 2 s; 0 when 200, else 1. */
int wd_healthcheck(const struct wd_config *cfg);

#endif
