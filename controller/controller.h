/* controller.h: the map of faas-controller, file by file.
 *
 *   main.c       settings, start-up, threads
 *   docker.c     Docker Engine API v1.41 client (unix socket or tcp, DOCKER_HOST)
 *   store.c      desired state: one Docker config per function generation
 *   svcspec.c    pure: Function -> Swarm ServiceSpec JSON; drift key; replicas clamp
 *   status.c     pure: status and conditions from a service and its tasks
 *   scale.c      pure: alert scaling formula, Alertmanager payload, deduplication
 *   kpa.c        pure: the autoscaler's decision from live load, the gateways' answers
 *   autoscale.c  the autoscaler thread: polls every gateway, decides, scales
 *   queue.c      work queue keyed by function: dedup, per-key exponential backoff
 *   reconcile.c  one key's reconcile, the resync, the events watcher
 *   metrics.c    counters and the reconcile duration histogram
 *   secrets.c    the functions' secrets: labelled, scoped, versioned Docker secrets
 *   openfaas.c   pure: the OpenFaaS provider API's shapes (FunctionDeployment,
 *                FunctionStatus, Secret, logs Message) and parsers
 *   api.c        HTTP API (libmicrohttpd): routes, replies, /system/info, the server
 *   api_functions.c  the functions' reads (kubectl-style and OpenFaaS) and apply
 *   api_openfaas.c   OpenFaaS deploy, update and delete (/system/functions)
 *   api_alerts.c     scale-function and the Alertmanager webhook (/alerts)
 *   api_secrets.c    /system/secrets
 *   api_logs.c       /system/logs, streamed
 */
#ifndef FX_CONTROLLER_H
#define FX_CONTROLLER_H

#include "buf.h"
#include "clock.h"
#include "spec.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_MAX_FUNCTIONS     4096
#define CTL_ANNOTATION_PREFIX "faas.annotation."
#define CTL_SECRETS_DIR       "/var/openfaas/secrets/"
/* The functions' network is the controller's namespace: configs and services
 * carry faas.network=<network>, and a controller touches only its own, so
 * several installs (or test runs) can share one swarm without fighting. */
#define CTL_LABEL_NETWORK "faas.network"

/* ---- docker.c ---- */

struct docker {
	char *socket; /* unix socket path; NULL for tcp */
	char *base;   /* "http://localhost/v1.41" */
	char *where;  /* DOCKER_HOST as given, for messages */
};

/* host: DOCKER_HOST value (unix:///path or tcp://host:port); NULL or "" means
 * unix:///var/run/docker.sock. 0 or -EINVAL with *err (caller frees). */
int docker_init(struct docker *d, const char *host, char **err);
void docker_release(struct docker *d);
/* Member k of object o (borrowed), NULL when o is not an object or has no k. */
struct json_object *docker_jget(struct json_object *o, const char *k);
/* String member k of o (borrowed), "" when absent or not a string. */
const char *docker_jstr(struct json_object *o, const char *k);
/* One call. path starts with "/" (e.g. "/services?filters=..."); body may be NULL.
 * Returns the HTTP status (2xx) with *out the parsed JSON reply (caller puts; NULL
 * for an empty body), or a negative errno with *err (caller frees), a clear message:
 *   -EHOSTDOWN daemon not reachable, -EPERM not a swarm manager, -ENOENT 404,
 *   -EAGAIN update out of sequence, -EEXIST 409 conflict, -EINVAL 400, -EIO others. */
int docker_call(struct docker *d, const char *method, const char *path, const char *body,
                struct json_object **out, char **err);
/* Streams GET path (/events, logs), calling on_data for each chunk until it
 * returns non-zero, the connection ends or *cancel (may be NULL) turns
 * non-zero. 0 or negative errno with *err. */
int docker_stream(struct docker *d, const char *path, int (*on_data)(const char *, size_t, void *),
                  void *arg, const volatile int *cancel, char **err);
/* "?filters=" + URL-encoded {"key":["v1",...]} built from key/value pairs
 * (NULL-terminated: key, value, key, value, NULL). Caller frees. */
char *docker_filters(const char *first_key, ...);

/* ---- svcspec.c (pure) ---- */

struct svc_ctx {
	const char *network_id;   /* func_net's id */
	const char *network_name; /* func_net: the faas.network label */
	const char *generation;   /* decimal */
	/* Secret ids by name, borrowed; n entries. secret_refs (may be NULL):
	 * the Docker names of those secrets (a version's), else the names. */
	const char *const *secret_names;
	const char *const *secret_ids;
	const char *const *secret_refs;
	size_t nsecrets;
};

/* The ServiceSpec for fn with the given replicas. New reference; NULL on ENOMEM
 * or when a secret of fn is missing from ctx (then *missing names it, borrowed). */
struct json_object *svc_build(const struct fx_function *fn, const struct svc_ctx *ctx,
                              int64_t replicas, const char **missing);
/* A text that changes iff a field the controller manages changes (image, env,
 * labels, resources, secrets, mounts, constraints, networks, modes); replicas
 * excluded. Works on a ServiceSpec we built and on one read back from Docker.
 * Caller frees; NULL on ENOMEM. */
char *svc_drift_key(struct json_object *spec);
/* Replicas of a ServiceSpec (Mode.Replicated.Replicas), -1 when absent. */
int64_t svc_replicas(struct json_object *spec);
/* Clamp a replica count into [min, max]; 0 stays 0 (asleep: scaled to zero by the
 * idle alert or the API; the gateway wakes it on a request). */
int64_t svc_clamp(const struct fx_scale *s, int64_t replicas);
/* Docker's ServiceSpec.Labels value, borrowed from spec, or NULL. */
const char *svc_label(struct json_object *spec, const char *key);

/* ---- status.c (pure) ---- */

struct fn_status {
	int64_t observed_generation;
	int64_t replicas;           /* desired by the service */
	int64_t available_replicas; /* running tasks */
	bool updating;
	char degraded_reason[64];
	char degraded_message[512];
	char progress_message[256];
};

/* service: a Docker Service object (with Spec, UpdateStatus) or NULL when
 * missing; tasks: an array of Task objects of that service (may be NULL).
 * reconcile_error: the last reconcile error for this function, or NULL. */
void status_compute(struct json_object *service, struct json_object *tasks,
                    const char *reconcile_error, struct fn_status *out);
/* The "status" object of the API (conditions with lastTransitionTime from the
 * in-memory transition table, keyed by function). nodes (borrowed, may be
 * NULL): Docker Node objects; a task on one of them gets "nodeName", the
 * node's host name. New reference. */
struct json_object *status_to_json(const char *name, const struct fn_status *st,
                                   struct json_object *tasks, struct json_object *nodes,
                                   int64_t invocations);

/* The addresses on network of fn's tasks whose container has been started
 * (state running, or starting and started(container id, arg) says so; desired
 * running): what a gateway probes to reach a replica before Docker's DNS lists
 * it (which waits for its first passing HEALTHCHECK). A JSON array of
 * {"ip","task","state"}; new reference. */
struct json_object *status_endpoints(struct json_object *tasks, const char *fn, const char *network,
                                     bool (*started)(const char *container, void *arg), void *arg);

/* ---- scale.c (pure) ---- */

/* firing: min(max, current + ceil(max * factor / 100)); resolved: min.
 * factor 0 (alert scaling disabled) gives min either way, like OpenFaaS. */
int64_t scale_compute(bool firing, int64_t current, int64_t min, int64_t max, int64_t factor);

/* The alertname that asks for scale to zero (alerts/rules/idle.yml). */
#define ALERT_IDLE "FunctionIdle"

struct alert {
	char function[64];
	bool firing;
	bool idle;        /* alertname FunctionIdle: scale to zero, not a step */
	char key[256];    /* fingerprint (or labels) + startsAt: one incident */
	int64_t starts_s; /* startsAt in Unix seconds; 0 when absent or not RFC 3339 */
	bool bad_start;   /* startsAt missing or not RFC 3339: not acted upon */
};

/* An RFC 3339 timestamp as Alertmanager writes startsAt
 * ("2026-11-26T10:00:00.123Z", "...+01:00"). */
bool alert_time_valid(const char *s);

/* Parses an Alertmanager webhook body (version 4; unknown fields ignored).
 * Alerts without a function_name label are skipped. Returns the count (>= 0) with
 * *out (caller frees), or -EINVAL with *err (caller frees). At most 1000 alerts. */
int alerts_parse(const char *body, size_t len, struct alert **out, char **err);

/* Deduplication: remembers per function the last step and the incidents resolved. */
struct alert_memory;
struct alert_memory *alert_memory_new(void);
void alert_memory_free(struct alert_memory *m);
/* Should this firing alert step the function now? If it returns true the caller
 * steps and must call alert_memory_stepped. cooldown_ms from the spec. */
bool alert_memory_should_step(struct alert_memory *m, const struct alert *a, int64_t now_ms,
                              int64_t cooldown_ms);
void alert_memory_stepped(struct alert_memory *m, const struct alert *a, int64_t now_ms);
void alert_memory_resolved(struct alert_memory *m, const struct alert *a, int64_t now_ms);

/* What one alert asks of a function whose service has current replicas:
 *   high rate (any alertname but FunctionIdle): firing steps up
 *     (scale_compute); resolved returns to min, except that a function at 0
 *     with zero: true stays there (the gateway brings it back on a request).
 *   FunctionIdle: firing scales to 0 when the spec says zero: true; resolved
 *     does nothing.
 * Returns the replicas to set, or -1 to leave the function alone with *why (a
 * static string) saying why. Pure. */
int64_t alert_decide(const struct alert *a, const struct fx_scale *s, int64_t current,
                     const char **why);
/* Idle deduplication: an idle incident (key) scales to zero at most once, and
 * not within cooldown_ms of the last step up. The caller calls
 * alert_memory_zeroed after scaling. */
bool alert_memory_should_zero(struct alert_memory *m, const struct alert *a, int64_t now_ms,
                              int64_t cooldown_ms);
void alert_memory_zeroed(struct alert_memory *m, const struct alert *a, int64_t now_ms);
/* Has the function of an idle alert been idle long enough to scale to
 * zero? It has been idle since startsAt - window (the rule's window);
 * zero_duration_ms (its spec's, 0: the window) is how long it must be.
 * An alert without startsAt counts as idle for the window only. Pure. */
bool alert_idle_long_enough(const struct alert *a, int64_t zero_duration_ms, int64_t window_ms,
                            int64_t now_s);
/* True the first time an ignored alert's incident is seen (log it at info
 * level then, at debug level for Alertmanager's repeats). */
bool alert_memory_first_ignore(struct alert_memory *m, const struct alert *a);

/* ---- kpa.c (pure): the autoscaler's decision, KPA-like ---- */

/* Samples kept per window: buckets of window / KPA_BUCKETS (at least 1 s). */
#define KPA_BUCKETS 60

struct kpa_bucket {
	int64_t slot; /* time / width */
	double sum;
	int64_t n;
};
struct kpa_ring {
	struct kpa_bucket b[KPA_BUCKETS];
};

/* One function's autoscaler memory. Embedded; kpa_init. */
struct kpa {
	struct kpa_ring stable, panic;
	int64_t first_ms;       /* first sample; 0: none yet */
	int64_t below_since_ms; /* the stable desire has been below current since; -1 */
	bool panicking;
	int64_t panic_since_ms;  /* last time the panic window wanted >= 2x current */
	int64_t panic_peak;      /* highest count asked while panicking */
	int64_t last_current;    /* the count at the last decision */
	int64_t steady_since_ms; /* ...since then */
	double last_value;
};

enum kpa_reason {
	KPA_HOLD,      /* keeps the count */
	KPA_UP,        /* a window wants more */
	KPA_PANIC_UP,  /* the panic window wants >= 2x current: up at once */
	KPA_DOWN,      /* the stable window wants fewer, for long enough */
	KPA_DOWN_WAIT, /* wants fewer, waiting for the stable window or downDelay */
	KPA_NO_DATA,   /* no sample in a window (no gateway answered) */
	KPA_ASLEEP,    /* at 0: the gateway wakes it on a request */
	KPA_REASONS
};
extern const char *const kpa_reason_names[KPA_REASONS];

struct kpa_decision {
	int64_t current, desired;
	double stable, panic; /* the windows' averages (the metric's unit) */
	bool panicking;
	enum kpa_reason reason;
};

void kpa_init(struct kpa *k);
/* Records the function's summed load (concurrency or requests/s) at now_ms. */
void kpa_observe(struct kpa *k, const struct fx_scale *s, int64_t now_ms, double value);
/* The replicas a function with current replicas should have at now_ms:
 * ceil(average / s->target) over the stable window, and over the panic
 * window to scale up fast; down only after a whole stable window of
 * samples and of a count set by another hand (the scale API), and
 * s->down_delay_ms below it; within [min, max]; 0 stays 0. Fills *d (why). */
int64_t kpa_decide(struct kpa *k, const struct fx_scale *s, int64_t current, int64_t now_ms,
                   struct kpa_decision *d);
/* Requests per second between two readings of a counter dt_ms apart (a
 * counter that went back restarted from 0). */
double kpa_rate(uint64_t prev, uint64_t now, int64_t dt_ms);

/* One function in a gateway's GET /_/concurrency answer. */
struct kpa_reading {
	char name[FX_SPEC_MAX_NAME + 1];
	int64_t inflight;
	uint64_t requests; /* completed since the gateway started */
};
/* Parses {"functions":[{"name","inflight","requests"}...]} (at most
 * CTL_MAX_FUNCTIONS; malformed entries skipped). 0 with *out (caller frees)
 * and *n, or -EINVAL / -ENOMEM with *err (caller frees; NULL on ENOMEM). */
int kpa_parse_gateway(const char *body, size_t len, struct kpa_reading **out, size_t *n,
                      char **err);

/* ---- autoscale.c ---- */

struct ctl;

struct autoscale_conf {
	const char *gateway_urls; /* "http://h:p,..." (tests); NULL or "": DNS */
	const char *gateway_dns;  /* "tasks.gateway": every A record is one gateway */
	int64_t gateway_port;
	int64_t interval_ms;
	int64_t timeout_ms; /* per gateway, per poll */
	const char *token;  /* bearer sent to the gateways (borrowed), or NULL */
};
/* Starts the autoscaler thread (it reads c's scale cache; it lives until
 * exit). 0 or negative errno. */
int autoscale_start(struct ctl *c, const struct autoscale_conf *conf);
/* Prometheus text of the autoscaler's gauges and counters, appended to b. */
void autoscale_metrics(struct fx_buf *b);

/* ---- queue.c ---- */

struct wq;
/* max: keys held at most (a full queue refuses new keys: -ENOSPC). */
struct wq *wq_new(size_t max, int64_t backoff_min_ms, int64_t backoff_max_ms);
void wq_free(struct wq *q);
/* Queues key to run after delay_ms (sooner wins if it is already queued). */
int wq_add(struct wq *q, const char *key, int64_t delay_ms);
/* Blocks until a key is due and not being processed, copies it into key
 * (size FX_SPEC_MAX_NAME + 1). Returns 0, or -ECANCELED once wq_stop was called. */
int wq_get(struct wq *q, char *key);
/* Non-blocking form for tests: 0 with key, or -EAGAIN; *wait_ms: time to the next due key (-1
 * none). */
int wq_try_get(struct wq *q, int64_t now_ms, char *key, int64_t *wait_ms);
/* Ends processing of key: ok resets its backoff; otherwise it is re-queued after
 * the next backoff step (min * 2^failures, capped at max). A key added while it
 * was processed runs again. Returns the delay used (0 when not re-queued). */
int64_t wq_done(struct wq *q, const char *key, bool ok, int64_t now_ms);
size_t wq_depth(struct wq *q);
void wq_stop(struct wq *q);

/* ---- metrics.c ---- */

enum metric_counter {
	M_RECONCILES,
	M_RECONCILE_ERRORS,
	M_SERVICE_CREATES,
	M_SERVICE_UPDATES,
	M_SERVICE_DELETES,
	M_ALERTS_RECEIVED,
	M_SCALE_EVENTS,
	M_EVENTS_RECEIVED,
	M_COUNTERS
};
void metrics_inc(enum metric_counter c);
void metrics_observe_reconcile(double seconds);
/* Prometheus text (caller frees). */
char *metrics_render(size_t queue_depth, size_t functions);

/* ---- store.c (desired state) ---- */

struct stored {
	struct fx_function fn;
	int64_t generation;
	char created[40]; /* RFC 3339 of generation 1 */
	char config_id[80];
	size_t nconfigs; /* generations found (store_get): > 1 after a crashed write */
};

/* The namespace (network name) every call below is scoped to; borrowed. */
void store_set_network(const char *network);
/* "faas.network=<network>", for label filters. */
const char *store_network_label(void);
/* All functions (sorted by name). Older generations left by a crash are
 * ignored (the reconcile deletes them). 0 or negative errno with *err. */
int store_list(struct docker *d, struct stored **out, size_t *n, char **err);
/* One function: 0, -ENOENT when absent, or another negative errno with *err. */
int store_get(struct docker *d, const char *name, struct stored *out, char **err);
/* Writes fn as generation prev+1 (prev may be NULL: generation 1), then removes
 * prev's config. out_created (40 bytes, may be NULL) gets creationTimestamp. 0 or negative errno
 * with *err. out_generation may be NULL. */
int store_put(struct docker *d, const struct fx_function *fn, const struct stored *prev,
              int64_t *out_generation, char *out_created, char **err);
/* Removes every generation: 0, -ENOENT when there was none. */
int store_delete(struct docker *d, const char *name, char **err);
/* Removes generations of name older than keep (crash leftovers). */
void store_prune_old(struct docker *d, const char *name, int64_t keep);
void stored_release(struct stored *s);
void stored_list_release(struct stored *v, size_t n);

/* ---- reconcile.c ---- */

struct ctl {
	struct docker docker;
	struct wq *queue;
	const char *network; /* "func_net" */
	pthread_mutex_t mu;  /* guards the fields below */
	char network_id[80];
	struct alert_memory *alerts;
	/* last reconcile error per function (for Degraded) */
	struct ctl_err {
		char name[FX_SPEC_MAX_NAME + 1];
		char msg[512];
	} * errors;
	size_t nerrors;
	struct ctl_scale {
		char name[FX_SPEC_MAX_NAME + 1];
		struct fx_scale scale;
	} * scales;
	size_t nscales;
	volatile int stopping;
	int64_t resync_ms;
};

/* Reconciles one function key. 0 or negative errno (the caller backs off). */
int reconcile_one(struct ctl *c, const char *name);
/* Lists desired and observed state in two calls and queues every key that
 * differs (or all keys when force). 0 or negative errno. */
int reconcile_resync(struct ctl *c, bool force);
/* Thread bodies. */
void *reconcile_worker(void *arg);
void *reconcile_events(void *arg);
void *reconcile_resync_loop(void *arg);
/* Makes sure the overlay network exists; fills c->network_id. */
int reconcile_ensure_network(struct ctl *c, char **err);
/* Reconcile error memory for status (msg NULL clears). */
void ctl_set_error(struct ctl *c, const char *name, const char *msg);
/* Copies the error for name into buf (size n); false when none. */
bool ctl_get_error(struct ctl *c, const char *name, char *buf, size_t n);
/* Sets the replicas of a managed service to target(current) (one read, one
 * update; re-read and retried on "update out of sequence"). *previous and
 * *result (may be NULL) get the counts before and after.
 * 0, -ENOENT (no managed service), or a negative errno with *err. */
int reconcile_set_replicas(struct ctl *c, const char *name,
                           int64_t (*target)(int64_t current, void *arg), void *arg,
                           int64_t *previous, int64_t *result, char **err);
/* Desired scale settings cached from the last read of the desired state
 * (writes, reconciles, resyncs), so alerts need no extra Docker call. */
void ctl_cache_scale(struct ctl *c, const char *name, const struct fx_scale *s);
bool ctl_cached_scale(struct ctl *c, const char *name, struct fx_scale *out);

/* ---- secrets.c ---- */

#define CTL_LABEL_SECRET         "faas.secret"
#define CTL_LABEL_SECRET_VERSION "faas.secret.version"
#define CTL_MAX_SECRETS          4096

struct secret_ver {
	char name[64];         /* the function's name for it: /var/openfaas/secrets/<name> */
	char docker_name[128]; /* this version's Docker name */
	char id[96];
	int64_t version; /* 0 for a secret labelled by hand without a version */
};

struct secret_set {
	struct secret_ver *v; /* sorted by name, newest version first */
	size_t n;
};

/* This controller's secrets (labelled faas.secret=<valid name> and
 * faas.network=<its network>), every version. 0 or negative errno with *err. */
int secrets_load(struct docker *d, struct secret_set *out, char **err);
void secret_set_release(struct secret_set *s);
/* The newest version of name (borrowed from s), NULL when there is none. */
const struct secret_ver *secrets_newest(const struct secret_set *s, const char *name);
/* Creates version `version` of name holding data[0..len); fills *out.
 * 0 or negative errno with *err (-EEXIST: that version exists). */
int secrets_create(struct docker *d, const char *name, int64_t version, const void *data,
                   size_t len, struct secret_ver *out, char **err);
/* Removes one version (by id). 0 or negative errno with *err (-EINVAL or -EIO
 * while a service mounts it: Docker says "in use"). */
int secrets_remove(struct docker *d, const struct secret_ver *s, char **err);

/* ---- openfaas.c (pure) ---- */

/* A logs "since": Unix seconds or RFC 3339 (any offset, fraction ignored).
 * 0 with *out_sec, or -EINVAL. */
int of_parse_since(const char *s, int64_t *out_sec);
/* Secret names: letters, digits, '-', '_', '.', starting with a letter or a
 * digit (so never "." or ".."), at most OF_SECRET_NAME_MAX (room for the
 * version suffix Docker's name gets on an update). */
#define OF_SECRET_NAME_MAX 48
bool of_secret_name_valid(const char *s);
#define OF_LABEL_SCALE    "com.openfaas.scale."
#define OF_LABEL_FUNCTION "faas_function"
/* A FunctionDeployment (borrowed) as our Function JSON, for fx_spec_from_json
 * to validate: service -> metadata.name, labels and annotations as they are
 * (com.openfaas.scale.min|max|factor|zero also become spec.scale),
 * envProcess -> fprocess, envVars -> env, and mode and timeouts null (the
 * image's own). New reference, or NULL with *err (caller frees). */
struct json_object *of_deployment_to_spec(struct json_object *in, char **err);
/* The FunctionStatus of fn: limits as written, envVars, annotations,
 * secrets, constraints, limits and requests left out when empty, labels plus
 * faas_function=<name>, "zero" (ours) when a request may wake it (its spec,
 * or asleep: at 0). New reference. */
struct json_object *of_function_status(const struct fx_function *fn, const char *ns,
                                       const char *created, int64_t replicas, int64_t available,
                                       bool asleep);

/* ---- api.c: routes, replies, the server ---- */

struct api_conf {
	const char *bind;
	int64_t port;
	const char *token; /* NULL: mutating routes refused (503) */
	size_t max_body;
	const char *namespace_; /* the OpenFaaS name of this install's namespace ("openfaas-fn") */
	int64_t idle_window_ms; /* FunctionIdle's window (alerts/rules/idle.yml) */
};
/* Starts the HTTP server; logs msg=listening. NULL on failure (logged). */
struct MHD_Daemon *api_start(struct ctl *c, const struct api_conf *conf);

/* What the api*.c files share. Set once by api_start, before any request. */
extern struct ctl *api_ctl;
extern struct api_conf api_cfg;
/* Writes of the desired state are serialised (generation n+1 needs n). */
extern pthread_mutex_t api_write_mu;

struct MHD_Connection;

/* One request's answer, filled by a handler; on_request sends it. */
struct reply {
	unsigned status;
	char *body; /* owned */
	const char *type;
	const char *result;        /* X-Faas-Result */
	struct MHD_Response *resp; /* a streamed answer (logs), instead of body */
};

/* Each sets r (status, type, body); o, details, text and err are taken
 * (owned), msg is copied. */
void api_reply_json(struct reply *r, unsigned status, struct json_object *o);
void api_reply_error(struct reply *r, unsigned status, const char *msg,
                     struct json_object *details);
void api_reply_text(struct reply *r, unsigned status, const char *type, char *text);
/* A Docker failure: transient ones 503, 404, 409, the rest 502. */
void api_reply_docker(struct reply *r, int rc, char *err);
/* 400 with the first error as the message and all of them as details;
 * releases errs. */
void api_reply_spec_errors(struct reply *r, struct fx_spec_errs *errs);
/* Is a JSON body's "namespace" member (absent, null or a string) this
 * install's? If not, replies (400 or 404) and returns false. */
bool api_ns_body_ours(struct reply *r, struct json_object *in);
/* The body as one JSON object (strict: no trailing bytes, no duplicate keys);
 * NULL after answering 400 (or 503). New reference. */
struct json_object *api_parse_json_body(struct reply *r, const char *body, size_t len);

/* ---- api_functions.c: reading the functions, apply ---- */

/* Managed services (with ServiceStatus) and, when tasks is set, their tasks. */
int api_observe(struct json_object **svcs, struct json_object **tasks, char **err);
/* The service of function name in svcs (borrowed), or NULL. */
struct json_object *api_service_named(struct json_object *svcs, const char *name);
/* GET of every function, or of one; openfaas: as FunctionStatus. */
void api_get_functions(struct reply *r, bool openfaas);
void api_get_function(struct reply *r, const char *name, bool openfaas);
/* GET /apis/faas/v1/functions/{name}/endpoints. */
void api_get_endpoints(struct reply *r, const char *name);
/* How a write treats an existing function: the kubectl-style PUT creates
 * or configures; OpenFaaS's POST only creates and its PUT only updates. */
enum apply_how { APPLY_ANY, APPLY_CREATE, APPLY_UPDATE };

/* Applies fn (validated). dry: only diff. Fills r. */
void api_apply(struct reply *r, const struct fx_function *fn, bool dry, enum apply_how how);
/* PUT /apis/faas/v1/functions/{name} (?dryRun=true: dry). */
void api_put_function(struct reply *r, const char *name, const char *body, size_t len, bool dry);
void api_delete_function(struct reply *r, const char *name, bool openfaas);

/* ---- api_openfaas.c: POST, PUT, DELETE /system/functions ---- */

/* An OpenFaaS deployment body (POST/PUT /system/functions) as a Function: the
 * JSON read strictly, the com.openfaas.scale.* labels turned into spec.scale,
 * the rest mapped onto the schema and validated by it. No I/O. 0 with *out
 * (caller releases); -EINVAL with errs filled (caller releases); -ENOMEM. */
int api_openfaas_function(const char *body, size_t len, struct fx_function *out,
                          struct fx_spec_errs *errs);
/* POST creates (409 when it exists), PUT updates (404 when it does not). */
void api_deploy_openfaas(struct reply *r, const char *body, size_t len, bool create);
void api_delete_openfaas(struct reply *r, const char *body, size_t len);

/* ---- api_alerts.c: scaling by hand, the Alertmanager webhook ---- */

/* POST /system/scale-function/{name}. */
void api_scale_function(struct reply *r, const char *name, const char *body, size_t len);
/* POST /alerts, /system/alert. */
void api_alerts(struct reply *r, const char *body, size_t len);

/* ---- api_secrets.c ---- */

/* /system/secrets: method is GET, POST, PUT or DELETE. */
void api_secrets(struct reply *r, const char *method, const char *body, size_t len);

/* ---- api_logs.c ---- */

/* GET /system/logs: a streamed answer (r->resp). */
void api_logs(struct reply *r, struct MHD_Connection *conn);

#endif
