/* gateway.h: the map of faas-gateway. One section per file; everything else is static.
 *
 * Data path: common/loop.c runs one event loop per worker thread, each with
 * its own libmicrohttpd daemon (options set in server.c); proxy.c routes each
 * request (route.c), finds the function in the registry and its replicas
 * (wait.c; registry.c: controller poll or static table, DNS tasks.NAME or
 * static addresses), then hands it to common/proxy.c's exchange, which
 * streams the request to a replica over a pooled keep-alive connection and
 * the answer back without blocking. /system and /apis go to the controller
 * the same way. metrics.c counts; ui.c serves the web UI embedded at build
 * time. The loop and the exchange know nothing of the gateway: they call the
 * ops that proxy.c and server.c give them. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include "buf.h"
#include "http1.h"
#include "loop.h"
#include "proxy.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct MHD_Connection;
struct MHD_Response;

#define GW_NAME_MAX   63
#define GW_MAX_PROBED 8 /* started replicas of one function probed while it starts */

/* ---- route.c: pure request classification and small parsers (no I/O) ---- */

enum gw_route_kind {
	GW_ROUTE_NOT_FOUND, /* 404: message in err, or NULL */
	GW_ROUTE_FUNCTION,  /* name + upstream target */
	GW_ROUTE_SYSTEM,    /* /system/..., /apis/...: the controller */
	GW_ROUTE_UI,        /* /ui/...: file in ui_path */
	GW_ROUTE_UI_REDIRECT,
	GW_ROUTE_HISTORY, /* /ui/history/{name}: name */
	GW_ROUTE_HEALTHZ,
	GW_ROUTE_METRICS,
	GW_ROUTE_CONCURRENCY, /* GET /_/concurrency: live load per function (controller) */
	GW_ROUTE_STARTING,    /* POST /_/starting/{name}: scaled up, probe its new replicas */
	GW_ROUTE_ALEXA,       /* POST / without X-Function: the body names the function */
	GW_ROUTE_BAD,         /* 400: message in err */
};

struct gw_route {
	enum gw_route_kind kind;
	char name[GW_NAME_MAX + 1];
	char ns[GW_NAME_MAX + 1]; /* /function/NAME.NAMESPACE: the namespace; "" when not given */
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
/* Credentials a browser keeps and sends by itself (Basic, Digest): the kind
 * the gateway's UI and API use, never passed to a function. */
bool gw_credentials_browser(const char *authorization);
/* May a function's answer header reach the browser? Not a challenge for
 * browser-kept credentials (WWW-Authenticate Basic or Digest), not
 * Clear-Site-Data, not a cookie whose Path reaches beyond /function/ (one
 * without a Path only when the request was under /function/: under_function). */
bool gw_function_header_ok(const char *name, const char *value, bool under_function);
/* Alexa SDK request: lower-cased request.intent.name into out (a valid name).
 * 0, -EINVAL (not an Alexa request or not a valid name). */
int gw_alexa_intent(const char *body, size_t len, char out[GW_NAME_MAX + 1]);
/* Checks an "Authorization: Basic ..." value against user and password in
 * constant time (for equal lengths). */
bool gw_basic_auth_ok(const char *authorization, const char *user, const char *password);
/* Does authorization say "Bearer <token>"? Constant time in the token's length. */
bool gw_bearer_ok(const char *authorization, const char *token);
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
/* The latency histogram's upper bounds (s), GW_METRIC_BUCKETS of them. */
#define GW_METRIC_BUCKETS 11
extern const double gw_metric_bounds[GW_METRIC_BUCKETS];
/* Counters since start, over every status code. */
struct gw_metrics_snap {
	uint64_t count;
	uint64_t errors; /* status >= 500 */
	uint64_t
	    buckets[GW_METRIC_BUCKETS + 1]; /* per bucket (not cumulative); last: above the top */
};
void gw_metrics_snapshot(struct gw_fn_metrics *m, struct gw_metrics_snap *out);

/* ---- history.c: the last 15 minutes of each function (UI charts) ---- */

#define GW_HISTORY_STEP_S 10
#define GW_HISTORY_POINTS 90 /* 15 minutes */
struct gw_fn;
struct gw_history;
void gw_history_free(struct gw_history *h);
/* Samples every function present (main thread, every GW_HISTORY_STEP_S). */
void gw_history_sample(int64_t now_ms);
/* {"function","source":"gateway","step_seconds","t":[unix s...],
 * "invocations_per_second","error_ratio","p50_seconds","p99_seconds","replicas"}:
 * arrays oldest first, null where there is no value. 0 or -ENOMEM. */
int gw_history_json(struct gw_fn *f, struct fx_buf *out);
/* The q quantile of per-bucket counts b[nb] (b[nb-1]: above upper[nb-2]); NAN if empty. */
double gw_history_quantile(const uint64_t *b, size_t nb, const double *upper, double q);

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
	bool zero;                /* may scale to zero; scale from zero on a request */
	int async_retries;        /* com.openfaas.async.retries, -1: the default */
	char ns[GW_NAME_MAX + 1]; /* its namespace as the controller names it; "" unknown */
	struct gw_fn_metrics *metrics;
	struct gw_history *history; /* NULL until its first sample (main thread) */
	/* discovery */
	struct gw_replica **reps;
	size_t nreps;
	int64_t resolved_ms;
	int64_t used_ms;
	unsigned rr;
	/* load: requests in progress, and that count integrated over time */
	int64_t inflight;
	uint64_t inflight_us; /* request-microseconds since the gateway started */
	int64_t inflight_since_us;
	/* waiting for a ready replica (scale from zero, or a function starting) */
	bool waking;
	bool wake_scale; /* ask the controller for one replica first */
	bool wake_join;  /* scaling up: probe until every replica asked for is in */
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
	int64_t max_connections_per_ip;
	int64_t header_timeout_ms;
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
	const char *tls; /* auto | on | off */
	int64_t tls_port;
	const char *tls_cert_file;
	const char *tls_key_file;
	bool https_only;
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
	int tls_port_bound; /* the HTTPS port once listening (tls_port 0: any) */
};

extern struct gw_config gw_cfg;

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
 * stale), the resolver thread was asked (try again after fx_loops_wake).
 * Never blocks. */
#define GW_PICK_PENDING ((size_t)-1)
size_t gw_pick(struct gw_fn *f, struct gw_replica **out, size_t max);
void gw_replica_release(struct gw_replica *r);
void gw_replica_mark_down(struct gw_replica *r);
void gw_replica_ref(struct gw_replica *r);
/* Refused a connection in the last 2 s? */
bool gw_replica_down(struct gw_replica *r);
/* A request to f (NULL: the controller) starts (+1) or ends (-1) on r. */
void gw_inflight(struct gw_fn *f, struct gw_replica *r, int delta);
/* Requests in progress to f now, and their count integrated over time up to
 * now_us (fx_now_us) in request-microseconds: the load between two readings
 * is the difference over the time (registry lock held, as in
 * gw_registry_each). */
int64_t gw_fn_inflight(const struct gw_fn *f);
uint64_t gw_fn_inflight_us(struct gw_fn *f, int64_t now_us);
/* The replicas of f that take its requests now: DNS's answer and the ones
 * probed ready, less those that refused a connection lately (lock held). */
size_t gw_fn_routed(const struct gw_fn *f);
/* The controller as a replica (resolved by the poller), ref taken; NULL if none. */
struct gw_replica *gw_controller_replica(void);
/* Starts (once) a thread that waits, bounded, until f has a ready replica;
 * fx_loops_wake() when done. GW_WAKE_SCALE: f is at zero, ask the controller
 * for one replica first (scale_from_zero_timeout); GW_WAKE_START: f is
 * starting (start_timeout); GW_WAKE_JOIN: the controller scaled f up, probe
 * its started tasks until all it asked for take requests (start_timeout),
 * rather than wait for Docker's DNS. */
enum gw_wake { GW_WAKE_START, GW_WAKE_SCALE, GW_WAKE_JOIN };
void gw_wake_start(struct gw_fn *f, enum gw_wake how);
/* 0 waiting, 1 replicas ready, -1 finished without replicas. */
int gw_wake_state(struct gw_fn *f);

/* ---- proxy.c: one request, a state machine on common/proxy.c's exchange ---- */

#define GW_MAX_TRIES 8 /* replicas tried, and resends, per request */

enum gw_req_state {
	GW_REQ_NEW,       /* created at the request line, not routed yet */
	GW_REQ_LOCAL_DUE, /* the gateway answers it itself at the final call (keep-alive) */
	GW_REQ_LOCAL,     /* answered by the gateway itself (UI, health, metrics, errors) */
	GW_REQ_ROUTED,    /* a function or the controller; candidates may be known */
	GW_REQ_WAITING,   /* waiting for the registry, DNS or a ready replica (wait.c) */
	GW_REQ_PROXYING,  /* the exchange runs on candidate `next` */
};
enum gw_wait_kind { GW_WAIT_REGISTRY, GW_WAIT_DNS, GW_WAIT_READY };
/* Flag bits (struct gw_req.flags). */
enum {
	GW_RF_SYSTEM = 1u << 0,   /* /system or /apis: the controller */
	GW_RF_INJECT = 1u << 1,   /* a function list: invocation counts are added */
	GW_RF_ALEXA = 1u << 2,    /* POST /: the body names the function */
	GW_RF_INFLIGHT = 1u << 3, /* counted in cand[next]'s inflight */
	GW_RF_TLS = 1u << 4,      /* the client's connection is HTTPS */
};

struct gw_req {
	struct fx_px x; /* first member: the exchange (common/proxy.h) */
	enum gw_req_state st;
	unsigned flags;
	char *uri;          /* owned: the raw target */
	const char *method; /* borrowed from libmicrohttpd, valid for the request */
	struct gw_route route;
	struct gw_fn *fn;
	struct gw_replica *cand[GW_MAX_TRIES]; /* refs held */
	size_t ncand, next;
	int retries;
	enum gw_wait_kind wait;
	int64_t wait_until;
	int64_t wake_until; /* a request waits for a ready replica until then, in all */
	uint64_t wait_seq;
	int status; /* for metrics */
	int64_t t0_us;
	char call_id[80];
	char start_time[32];
};

/* A request's state, made when its target is known (raw, as received). */
struct gw_req *gw_req_new(struct fx_loop *loop, const char *uri, struct MHD_Connection *c);
/* Every access-handler call of a request lands here. Returns an MHD_Result. */
int gw_proxy_dispatch(struct MHD_Connection *c, struct gw_req *r, const char *method,
                      const char *upload, size_t *upload_size);
/* Records the request's metrics and lets go of it. */
void gw_req_completed(struct gw_req *r);
/* Starts the exchange on candidate `next` (then the following ones), or waits
 * (wait.c), or fails the request. */
void gw_req_start(struct gw_req *r);
/* Starts when candidates are known and the body allows it already. */
void gw_req_maybe_start(struct gw_req *r);
void gw_req_release_cands(struct gw_req *r);

/* ---- wait.c: finding a function's replicas, and waiting for them ---- */

/* Finds the function and its replicas; may leave r GW_REQ_WAITING, or fail it. */
void gw_resolve_function(struct gw_req *r, bool first);
/* A waiting request, on each tick. */
void gw_wait_tick(struct gw_req *r, int64_t now);
/* Every candidate refused the connection (the request was not sent): they
 * are being stopped (a scale to zero) or restarted. A function that may wake
 * or has replicas waits for a ready one, as for a cold start, until
 * wake_until. True when r now waits. */
bool gw_wait_after_refusals(struct gw_req *r);

/* ---- server.c ---- */

/* The security headers of the gateway's own answers (UI and API):
 * Content-Security-Policy (ui: the UI's pages; else nothing may load),
 * X-Frame-Options: DENY, X-Content-Type-Options: nosniff, Referrer-Policy. */
void gw_secure_headers(struct MHD_Response *resp, bool ui);
/* One of those (an upstream's own is replaced). */
bool gw_secure_header(const char *name);

/* Queues a small response (JSON error when status >= 400). Returns an MHD_Result. */
int gw_respond(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
               size_t len);
int gw_respond_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
extern volatile int gw_draining;
/* /healthz, /metrics, /ui/ (and the redirect to it), /ui/history/{name}. */
int gw_serve_local(struct MHD_Connection *c, const struct gw_route *rt, const char *method);
/* Starts the event loops (common/loop.c), one per listening socket, each with
 * its daemon, and a second, HTTPS, daemon on tls_fds[i] when tls_fds is not
 * NULL. 0 or a negative errno. */
int gw_server_start(const int *listen_fds, const int *tls_fds, int n);
/* Stops accepting (SIGTERM), waits up to drain_ms for requests, stops. */
void gw_server_stop(int64_t drain_ms);
/* Requests in progress (all loops). */
int gw_server_active(void);
/* Requests completed since start (all loops). */
uint64_t gw_server_completed(void);

/* ---- tls.c: HTTPS (GnuTLS through libmicrohttpd) ---- */

/* Loads the certificate and key when tls is on (or auto and both files
 * exist). 0 (gw_tls_enabled says whether HTTPS is served) or a negative errno
 * with *err (caller frees). Start-up, before the loops. */
int gw_tls_init(char **err);
bool gw_tls_enabled(void);
/* The files changed? Loads and switches to the new pair for the next
 * handshakes (connections in progress keep theirs). Main thread, once a second. */
void gw_tls_check(int64_t now_ms);
/* A TLS connection was made (libmicrohttpd's notify callback): session tickets on. */
void gw_tls_connection_started(struct MHD_Connection *c);
/* The GnuTLS priority string: TLS 1.2 and 1.3, AEAD ciphers, ECDHE. */
extern const char gw_tls_priorities[];
/* libmicrohttpd's MHD_OPTION_HTTPS_CERT_CALLBACK (a gnutls_certificate_retrieve_function2). */
void *gw_tls_retrieve(void);
/* Did this request come over TLS? */
bool gw_conn_tls(struct MHD_Connection *c);

/* ---- async.c: POST /async-function/NAME, stored in NATS JetStream, then 202 ---- */

struct gw_async;
/* True for a request target below /async-function/. */
bool gw_async_uri(const char *uri);
/* A request's state (uri copied); NULL on ENOMEM. Freed by gw_async_completed. */
struct gw_async *gw_async_new(struct fx_loop *loop, const char *uri);
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
