/* spec.h: the Function definition (the user's YAML), shared by the controller
 * and faasctl. No I/O, no logging: errors come back as data.
 *
 *   apiVersion: faas/v1
 *   kind: Function
 *   metadata: {name, labels, annotations}
 *   spec: {image, fprocess, mode, env, secrets, constraints, limits, requests,
 *          scale, timeouts, readOnlyRootFilesystem, user}
 *
 * Loading is strict: unknown fields, wrong types, names that are not DNS-1123
 * labels, bad sizes/durations/cpu and fields that would escalate privileges
 * (privileged, mounts, volumes, host network, devices, ports...) are errors.
 * Every error is kept as data (struct fx_spec_err) and formats as
 *   file:line:col: field: message
 * (file omitted when unknown, line:col omitted for JSON input).
 *
 * The same loader reads OpenFaaS stack.yml files (provider + functions map);
 * com.openfaas.scale.{min,max,factor,zero,zero-duration} labels become
 * spec.scale.
 *
 * Canonical form: YAML text with every default filled in, keys in a fixed
 * order, maps sorted by key. It is what the controller stores, and its SHA-256
 * is the service label faas.spec-hash. Loading a canonical text gives back an
 * equal function (fx_spec_canonical is idempotent). */
#ifndef FX_SPEC_H
#define FX_SPEC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FX_SPEC_MAX_INPUT      (1024 * 1024) /* bytes of one buffer given to a loader */
#define FX_SPEC_MAX_DOCS       256           /* documents (functions) per buffer */
#define FX_SPEC_MAX_ERRORS     64            /* errors kept; later ones are counted only */
#define FX_SPEC_MAX_NAME       63
#define FX_SPEC_DEFAULT_MIN    1
#define FX_SPEC_DEFAULT_MAX    20
#define FX_SPEC_MAX_REPLICAS   1000
#define FX_SPEC_DEFAULT_FACTOR 20

/* Reserved service labels, set by the controller only (users may not set them). */
#define FX_LABEL_FUNCTION   "faas.function"
#define FX_LABEL_MANAGED_BY "faas.managed-by"
#define FX_LABEL_GENERATION "faas.generation"
#define FX_LABEL_SPEC_HASH  "faas.spec-hash"
#define FX_MANAGED_BY       "faas-controller"
/* The one faas.* label users may set (faasctl apply --prune's set); every
 * other faas.* label is the controller's. */
#define FX_LABEL_APPLYSET "faas.applyset"

/* FX_MODE_IMAGE: "mode: null", the image's own (its ENV, else the watchdog's
 * default): the controller writes no mode into the service. */
enum fx_mode { FX_MODE_FORK, FX_MODE_HTTP, FX_MODE_STREAMING, FX_MODE_IMAGE };

struct fx_kv {
	char *key;
	char *value;
};

/* A string map, always sorted by key, keys unique. */
struct fx_kvlist {
	struct fx_kv *v;
	size_t n;
};

struct fx_strlist {
	char **v;
	size_t n;
};

#define FX_QUANTITY_MAX 31 /* characters of a quantity as written */

struct fx_resources {
	uint64_t memory;   /* bytes; 0: not set */
	int64_t cpu_milli; /* millicores; 0: not set */
	/* As written ("5M", "128Mi", "0.5", "100m"), kept so that what was
	 * deployed reads back the same; "" when not set. */
	char memory_text[FX_QUANTITY_MAX + 1];
	char cpu_text[FX_QUANTITY_MAX + 1];
};

/* What scales a function: the controller's autoscaler on live concurrency
 * or request rate read from the gateways, or Alertmanager's webhook. */
enum fx_scale_metric { FX_METRIC_CONCURRENCY, FX_METRIC_RPS, FX_METRIC_ALERTS };
#define FX_SPEC_DEFAULT_TARGET_CONCURRENCY 10 /* in-flight requests per replica */
#define FX_SPEC_DEFAULT_TARGET_RPS         100
#define FX_SPEC_MAX_TARGET                 1000000
#define FX_SPEC_DEFAULT_WINDOW_MS          60000
#define FX_SPEC_DEFAULT_PANIC_WINDOW_MS    6000

struct fx_scale {
	int64_t min, max; /* 1 <= min <= max <= FX_SPEC_MAX_REPLICAS */
	enum fx_scale_metric metric;
	int64_t target; /* per replica, in the metric's unit; 1..FX_SPEC_MAX_TARGET */
	int64_t window_ms, panic_window_ms; /* stable and panic windows; panic <= stable */
	int64_t down_delay_ms;              /* below the current count this long first */
	int64_t factor; /* percent of max per firing alert, 0..100; 0 disables alerts */
	bool zero;      /* may scale to zero when idle */
	int64_t cooldown_ms;
	/* idle this long before scale to zero; 0: the platform's idle window */
	int64_t zero_duration_ms;
};

/* 0: "null", the image's own (the controller writes no variable). */
struct fx_timeouts {
	int64_t read_ms, write_ms, exec_ms;
};

/* Every string is owned (malloc'd) by the function; release with fx_function_release. */
struct fx_function {
	char *name;
	struct fx_kvlist labels, annotations;
	char *image;
	char *fprocess; /* "" when not given (the image's own fprocess is used) */
	enum fx_mode mode;
	struct fx_kvlist env;
	struct fx_strlist secrets; /* in the order given, no duplicates */
	struct fx_strlist constraints;
	struct fx_resources limits, requests;
	struct fx_scale scale;
	struct fx_timeouts timeouts;
	bool read_only_root_fs;
	char *user; /* the container's user ("1000:1000", "nobody"); NULL or "": the image's */
	/* Where it came from (for messages): 1-based document index, line, column; 0 unknown. */
	int document, line, column;
};

struct fx_function_list {
	struct fx_function *v;
	size_t n;
};

struct fx_spec_err {
	char *file;    /* NULL when unknown */
	int document;  /* 1-based; 0 when unknown */
	int line, col; /* 1-based; 0 when unknown (JSON input) */
	char *field; /* e.g. "spec.scale.max", "metadata.labels.team", "spec.secrets[1]"; "" for the
	                document */
	char *message; /* e.g. "expected an integer, got \"abc\"" */
};

struct fx_spec_errs {
	struct fx_spec_err *v;
	size_t n;
	size_t dropped; /* errors past FX_SPEC_MAX_ERRORS */
};

/* Loads every document of buf[0..len) (YAML, several documents separated by
 * "---"; or an OpenFaaS stack.yml). file names the source in messages and may
 * be NULL. Empty documents are skipped; a buffer without any function is an
 * error. Names must be unique within the buffer.
 * Returns 0 with *out filled (caller releases), or -EINVAL with errs filled
 * (caller releases; *out untouched: all or nothing), -E2BIG when len exceeds
 * FX_SPEC_MAX_INPUT (errs says so too), -ENOMEM. */
int fx_spec_load(const char *buf, size_t len, const char *file, struct fx_function_list *out,
                 struct fx_spec_errs *errs);
/* Exactly one Function from YAML or JSON text (a JSON body is detected by its
 * first non-blank character '{'). Same returns; more than one document is an error. */
int fx_spec_load_one(const char *buf, size_t len, const char *file, struct fx_function *out,
                     struct fx_spec_errs *errs);
/* One Function from a parsed JSON object in the API's shape (metadata.generation,
 * metadata.creationTimestamp and status are accepted and ignored). Borrowed obj. */
int fx_spec_from_json(struct json_object *obj, const char *file, struct fx_function *out,
                      struct fx_spec_errs *errs);

/* The API's JSON shape {"apiVersion","kind","metadata":{name,labels,annotations},"spec":{...}}
 * with every field present. New reference (caller puts), NULL on ENOMEM. */
struct json_object *fx_spec_to_json(const struct fx_function *fn);
/* Canonical YAML text (caller frees), NULL on ENOMEM. */
char *fx_spec_canonical(const struct fx_function *fn);
/* SHA-256 hex of the canonical text; 0 or -ENOMEM. */
int fx_spec_hash(const struct fx_function *fn, char out[65]);

/* "concurrency", "rps" or "alerts". */
const char *fx_spec_metric_name(enum fx_scale_metric m);
/* The default target of a metric (0 for alerts). */
int64_t fx_spec_default_target(enum fx_scale_metric m);

/* Fills the defaults (mode fork, scale 1/20/20/false/30s, concurrency 10 per
 * replica over 60s/6s, timeouts 10s). */
void fx_function_init(struct fx_function *fn);
void fx_function_release(struct fx_function *fn);
/* Deep copy into dst (initialised by this call); 0 or -ENOMEM. */
int fx_function_copy(struct fx_function *dst, const struct fx_function *src);
void fx_function_list_release(struct fx_function_list *l);

void fx_spec_errs_release(struct fx_spec_errs *e);
/* "file:line:col: field: message" (parts omitted when unknown); caller frees. */
char *fx_spec_err_format(const struct fx_spec_err *e);
/* [{"file","document","line","column","field","message"}...] as in docs/api.md. New reference. */
struct json_object *fx_spec_errs_to_json(const struct fx_spec_errs *e);
/* Appends an error (for callers adding their own, e.g. a name that differs from the URL). */
void fx_spec_errs_add(struct fx_spec_errs *e, const char *file, int document, int line, int col,
                      const char *field, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Predicates and names. */
bool fx_spec_valid_name(const char *s); /* DNS-1123 label, at most 63 characters */
const char *fx_spec_mode_name(enum fx_mode m);
/* Text forms used by the canonical YAML, JSON and the service env:
 * cpu "500m" / "2", memory "128Mi", duration "10s". Return buf. */
char *fx_spec_format_cpu(int64_t milli, char *buf, size_t n);
/* Resources as JSON {"memory","cpu"}, each as written (else formatted), only
 * those set; NULL on ENOMEM. */
struct json_object *fx_spec_resources_json(const struct fx_resources *r);

#endif
