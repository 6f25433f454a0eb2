/* gateway.h: the map of faas-gateway. One section per file; everything else is static.
 *
 * Data path: loop.c runs one event loop per worker thread, each with its own
 * libmicrohttpd daemon (server.c) in external-epoll mode; proxy.c routes each
 * request (route.c), finds the function in the registry and its replicas
 * (registry.c: controller poll or static table, DNS tasks.NAME or static
 * addresses), then streams the request to a replica over a pooled keep-alive
 * connection and the answer back without blocking, parsing HTTP/1.1 with
 * common/http1.c. /system and /apis go to the controller the same way. metrics.c
 * counts; ui.c serves the web UI embedded at build time. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include "buf.h"
#include "http1.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct MHD_Connection;

#define GW_NAME_MAX   63
#define GW_MAX_PROBED 8 /* started replicas of one function probed while it starts */

/* ---- route.c: pure request classification and small parsers (no I/O) ---- */

enum gw_route_kind {
	GW_ROUTE_NOT_FOUND,
	GW_ROUTE_FUNCTION, /* name + upstream target */
	GW_ROUTE_SYSTEM,   /* /system/..., /apis/...: the controller */
	GW_ROUTE_UI,       /* /ui/...: file in ui_path */
	GW_ROUTE_UI_REDIRECT,
	GW_ROUTE_HEALTHZ,
	GW_ROUTE_METRICS,
	GW_ROUTE_ALEXA, /* POST / without X-Function: the body names the function */
	GW_ROUTE_BAD,   /* 400: message in err */
};

struct gw_route {
	enum gw_route_kind kind;
	char name[GW_NAME_MAX + 1];
	const char *target;  /* borrowed from uri: what the upstream gets ("/rest?q"), or NULL */
	bool target_root;    /* target is "/" + query (target points at the query or "") */
	const char *ui_path; /* borrowed: file name below /ui/ ("" for the index) */
	size_t ui_path_len;
	const char *err; /* static message for GW_ROUTE_BAD */
};

/* DNS-1123 label of at most 63 characters. */
bool gw_name_valid(const char *s, size_t n);
/* Classifies a raw request target (path and query as received) given the
 * method and the X-Function header (NULL if absent). Never fails: bad input
 * yields GW_ROUTE_BAD or GW_ROUTE_NOT_FOUND. */
void gw_route_parse(const char *method, const char *uri, const char *xfunction,
                    struct gw_route *out);
/* True for headers that must not be forwarded (hop-by-hop, RFC 9110 7.6.1),
 * including any listed in the request's Connection header (may be NULL). */
bool gw_header_is_hop(const char *name, const char *connection);
/* Alexa SDK request: lower-cased request.intent.name into out (a valid name).
 * 0, -EINVAL (not an Alexa request or not a valid name). */
int gw_alexa_intent(const char *body, size_t len, char out[GW_NAME_MAX + 1]);
/* Checks an "Authorization: Basic ..." value against user and password in
 * constant time (for equal lengths). */
bool gw_basic_auth_ok(const char *authorization, const char *user, const char *password);
/* The headers that tell a browser's request from another client's (NULL when
 * absent), and the Host it was sent to. */
struct gw_browser {
	const char *host, *origin, *fetch_site, *fetch_mode, *fetch_dest, *referer, *content_type;
};
/* Cross-site request forgery guard for the controller's routes (/system/...,
 * /apis/...): a request that changes something (not GET, HEAD or OPTIONS) and
 * comes from a browser (Origin, Sec-Fetch-* or Referer present) must come
 * from the gateway's own origin (Sec-Fetch-Site same-origin, else an Origin
 * naming Host) and must not carry a form's content type (text/plain,
 * application/x-www-form-urlencoded, multipart/form-data). Clients that are
 * not browsers send none of these headers and always pass. NULL: allowed;
 * else a static reason for a 403. */
const char *gw_cross_site_refused(const char *method, const struct gw_browser *b);
/* Content type for a file name by extension. */
const char *gw_mime_type(const char *name);
/* A header value safe to copy into a request head: printable, no CR/LF, <= max. */
bool gw_header_value_ok(const char *v, size_t max);

/* Static table "echo=127.0.0.1:3001,127.0.0.1:3002;wc=127.0.0.1:3003" (also
 * newlines as separators, '#' comments). Calls add() once per function with its
 * addresses (n may be 0). 0, or -EINVAL with *err (caller frees). */
struct gw_static_fn {
	char name[GW_NAME_MAX + 1];
	size_t naddr;
	char addr[16][64]; /* "host:port" */
};
int gw_static_parse(const char *text, int (*add)(const struct gw_static_fn *fn, void *arg),
                    void *arg, char **err);

/* ---- metrics.c ---- */

struct gw_fn_metrics;
struct gw_fn_metrics *gw_metrics_new(void);
void gw_metrics_free(struct gw_fn_metrics *m);
void gw_metrics_started(struct gw_fn_metrics *m);
void gw_metrics_done(struct gw_fn_metrics *m, int code, double seconds);
uint64_t gw_metrics_total(struct gw_fn_metrics *m);
/* Appends this function's series in Prometheus text format. */
int gw_metrics_format(struct gw_fn_metrics *m, const char *name, int64_t replicas,
                      struct fx_buf *out, int part);
/* part: 0 invocation_total, 1 seconds histogram, 2 started, 3 service_count */
#define GW_METRIC_PARTS 4
int gw_metrics_header(int part, struct fx_buf *out);

/* ---- registry.c: which functions exist, and their replicas ---- */

struct gw_replica {
	char addr[64]; /* "ip:port" */
	struct sockaddr_storage sa;
	socklen_t salen;
	int refs;     /* lists holding it + requests using it; freed at 0 (registry lock) */
	int inflight; /* requests in progress (registry lock) */
	int64_t down_until_ms;
};

struct gw_fn {
	char name[GW_NAME_MAX + 1];
	bool present;     /* in the registry now */
	int64_t replicas; /* from the controller, or the static count */
	int64_t available;
	bool zero;         /* may scale to zero; scale from zero on a request */
	int async_retries; /* com.openfaas.async.retries, -1: the default */
	struct gw_fn_metrics *metrics;
	/* discovery */
	struct gw_replica **reps;
	size_t nreps;
	int64_t resolved_ms;
	int64_t used_ms;
	unsigned rr;
	/* waiting for a ready replica (scale from zero, or a function starting) */
	bool waking;
	bool wake_scale; /* ask the controller for one replica first */
	/* replicas found by probing started tasks before Docker's DNS lists them */
	struct sockaddr_storage probed[GW_MAX_PROBED];
	size_t nprobed;
	int64_t probed_until;
	struct gw_fn *next; /* hash chain */
};

struct gw_config {
	const char *bind;
	int64_t port;
	const char *discovery; /* dns | static */
	const char *static_functions;
	const char *static_functions_file;
	int64_t function_port;
	int64_t dns_ttl_ms;
	const char *controller_url;
	const char *controller_token_file;
	int64_t registry_interval_ms;
	bool basic_auth;
	const char *basic_auth_user_file;
	const char *basic_auth_password_file;
	int64_t upstream_timeout_ms;
	int64_t connect_timeout_ms;
	int64_t client_timeout_ms;
	uint64_t max_body;
	uint64_t max_header_size;
	int64_t max_connections;
	const char *balance;
	int64_t pool_size;
	int64_t scale_timeout_ms;
	int64_t start_timeout_ms;
	int64_t drain_timeout_ms;
	int64_t workers;
	const char *log_level;
	/* asynchronous calls (async.c) */
	const char *nats_url; /* "" : off */
	uint64_t async_max_body;
	int64_t async_publishers;
	int64_t async_queue;
	int64_t async_publish_timeout_ms;
	/* derived at start-up */
	bool static_discovery;
	bool least_inflight;
	char *static_text; /* owned */
	char *token;       /* owned; NULL: none */
	char *auth_user;   /* owned */
	char *auth_password;
	char controller_host[256];
	char controller_hostport[300]; /* Host header */
	int controller_port;
};

extern struct gw_config gw_cfg;

int64_t gw_now_ms(void);
/* Starts discovery and the registry poller. 0 or negative errno (logged). */
int gw_registry_start(char **err);
void gw_registry_stop(void);
/* Looks up a function present in the registry; NULL if unknown. Entries live
 * until exit. seq (may be NULL) gets the poll sequence number. Never blocks. */
struct gw_fn *gw_registry_lookup(const char *name, uint64_t *seq);
/* Asks the poller for a poll now (at most once a second); true if asked. */
bool gw_registry_poll_soon(void);
/* Incremented after every poll (successful or not). */
uint64_t gw_registry_seq(void);
/* True once the registry has been loaded at least once. */
bool gw_registry_loaded(void);
/* Calls fn for each function that is present (registry lock held: be quick). */
void gw_registry_each(void (*fn)(struct gw_fn *f, void *arg), void *arg);
/* Adds invocationCount to a /system/functions or /apis FunctionList/Function JSON
 * text. Returns a new string (caller frees) or NULL if the text is not one. */
char *gw_registry_inject_counts(const char *json, size_t len, size_t *outlen);

/* Picks replicas in the order to try: fills out[] (refs taken), returns how many.
 * 0: no replicas; GW_PICK_PENDING: never resolved yet (or an empty answer is
 * stale), the resolver thread was asked (try again after gw_loops_wake).
 * Never blocks. */
#define GW_PICK_PENDING ((size_t)-1)
size_t gw_pick(struct gw_fn *f, struct gw_replica **out, size_t max);
void gw_replica_release(struct gw_replica *r);
void gw_replica_mark_down(struct gw_replica *r);
void gw_replica_ref(struct gw_replica *r);
/* Refused a connection in the last 2 s? */
bool gw_replica_down(struct gw_replica *r);
void gw_inflight(struct gw_replica *r, int delta);
/* The controller as a replica (resolved by the poller), ref taken; NULL if none. */
struct gw_replica *gw_controller_replica(void);
/* Starts (once) a thread that waits, bounded, until f has a ready replica;
 * gw_loops_wake() when done. scale: f is at zero, ask the controller for one
 * replica first (scale_from_zero_timeout); else f is starting (start_timeout). */
void gw_wake_start(struct gw_fn *f, bool scale);
/* 0 waiting, 1 replicas ready, -1 finished without replicas. */
int gw_wake_state(struct gw_fn *f);

/* ---- loop.c: event loops (one per worker thread) ---- */

struct gw_loop;
struct gw_req;
enum { GW_EV_UPSTREAM, GW_EV_CLIENT, GW_EV_MHD, GW_EV_WAKE, GW_EV_DEAD };
struct gw_ev {
	int kind;
	struct gw_req *req;
};
/* A connection to a replica. It stays in its loop's epoll set for its whole
 * life (no epoll_ctl per request); between requests it waits in the loop's
 * idle list (ev.req NULL), where an event means the replica closed it. */
struct gw_uconn {
	struct gw_ev ev; /* kind GW_EV_UPSTREAM; ev.req: the request using it */
	int fd;
	uint32_t events;        /* registered mask, 0: not registered */
	struct gw_replica *rep; /* ref held */
	struct gw_uconn *next;  /* idle list or graveyard */
};
/* An idle connection of this loop to rep, or NULL. */
struct gw_uconn *gw_uconn_get(struct gw_loop *l, struct gw_replica *rep);
/* Wraps a new connected/connecting socket (takes a ref on rep); NULL: ENOMEM (fd closed). */
struct gw_uconn *gw_uconn_new(int fd, struct gw_replica *rep);
/* Sets the epoll mask (registers on first use). 0 or negative errno. */
int gw_uconn_events(struct gw_loop *l, struct gw_uconn *u, uint32_t events);
/* Done with it: keep → the idle list (when there is room), else closed. */
void gw_uconn_release(struct gw_loop *l, struct gw_uconn *u, bool keep);
/* Starts n loops, each with its own libmicrohttpd daemon on its own listening
 * socket (SO_REUSEPORT on one port). 0 or negative errno. */
int gw_loops_start(const int *listen_fds, int n);
/* Stops accepting (SIGTERM), waits up to drain_ms for requests, stops. */
void gw_loops_stop(int64_t drain_ms);
/* Wakes every loop (registry, DNS or scale news). Any thread. */
void gw_loops_wake(void);
/* Adds/modifies/removes fd in the loop's epoll set. 0 or negative errno. */
int gw_loop_watch(struct gw_loop *l, int fd, int op, uint32_t events, struct gw_ev *ev);
/* libmicrohttpd has work to do on this loop (e.g. a connection was resumed). */
void gw_loop_kick(struct gw_loop *l);
/* Any thread: the loop runs libmicrohttpd at once (after a connection was
 * resumed from another thread, e.g. by an async publisher). */
void gw_loop_poke(struct gw_loop *l);
/* The loop's list of requests (owned by proxy.c). */
struct gw_req **gw_loop_reqs(struct gw_loop *l);

/* ---- proxy.c: one proxied request, on its loop's thread ---- */

/* A request's state, made when its target is known (raw, as received). */
struct gw_req *gw_req_new(struct gw_loop *loop, const char *uri);
/* Every access-handler call of a request lands here. Returns an MHD_Result. */
int gw_proxy_dispatch(struct MHD_Connection *c, struct gw_req *r, const char *method,
                      const char *upload, size_t *upload_size);
/* Records the request's metrics and lets go of it. */
void gw_req_completed(struct gw_req *r);
/* A watched socket is ready. */
void gw_req_event(struct gw_req *r, int kind, uint32_t events);
void gw_req_tick(struct gw_req *r, int64_t now);
void gw_req_retry_wait(struct gw_req *r, int64_t now);
/* Deadlines and waits of every request in a list. */
void gw_reqs_tick(struct gw_req *head, int64_t now);
/* Ends every request of a list (shutdown). */
void gw_reqs_abort(struct gw_req *head);

/* ---- server.c ---- */

/* Queues a small response (JSON error when status >= 400). Returns an MHD_Result. */
int gw_respond(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
               size_t len);
int gw_respond_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
extern volatile int gw_draining;
/* /healthz, /metrics, /ui/ (and the redirect to it). */
int gw_serve_local(struct MHD_Connection *c, const struct gw_route *rt, const char *method);
struct MHD_Daemon;
/* Starts a daemon for loop l on a bound, listening socket; NULL on failure. */
struct MHD_Daemon *gw_server_start(struct gw_loop *l, int listen_fd, int nloops);
/* Requests in progress (all loops). */
int gw_server_active(void);

/* ---- async.c: POST /async-function/NAME, stored in NATS JetStream, then 202 ---- */

struct gw_async;
/* True for a request target below /async-function/. */
bool gw_async_uri(const char *uri);
/* A request's state (uri copied); NULL on ENOMEM. Freed by gw_async_completed. */
struct gw_async *gw_async_new(struct gw_loop *loop, const char *uri);
/* Every access-handler call of an async request lands here. Returns an MHD_Result. */
int gw_async_dispatch(struct MHD_Connection *c, struct gw_async *a, const char *method,
                      const char *upload, size_t *upload_size);
void gw_async_completed(struct gw_async *a);
/* Connects to nats_url (when set; a server that is down is retried in the
 * background) and starts the publisher threads. 0 or negative errno, *err. */
int gw_async_start(char **err);
/* Publishes what is queued, then stops the publishers (before the loops stop). */
void gw_async_stop(void);
/* Closes the NATS connection (after the loops stopped). */
void gw_async_release(void);
/* Appends the async series in Prometheus text format. 0 or -ENOMEM. */
int gw_async_metrics(struct fx_buf *out);

/* ---- ui.c ---- */

struct gw_asset {
	const char *name; /* "index.html" */
	const unsigned char *data;
	size_t len;
};
extern const struct gw_asset gw_ui_assets[]; /* generated by gateway/embed-ui.sh */
extern const size_t gw_ui_nassets;
const struct gw_asset *gw_ui_find(const char *path, size_t len);

#endif
