/* api.c: the controller's HTTP API (docs/api.md) on libmicrohttpd, one
 * thread per connection (handlers make blocking Docker calls).
 *   /apis/faas/v1/functions[/{name}]   kubectl-style CRUD, ?dryRun=true
 *   /system/...                        the OpenFaaS provider API
 *   /alerts, /system/alert             Alertmanager webhook
 *   /healthz, /metrics */
#include "controller.h"

#include "buf.h"
#include "json.h"
#include "log.h"
#include "units.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct ctl *ctl;
static struct api_conf conf;
/* Writes of the desired state are serialised (generation n+1 needs n). */
static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;
/* One alert at a time from the deduplication check to its record: copies of a
 * notification delivered at once (Alertmanager's retries, two Alertmanagers)
 * would otherwise all pass the check before any records its step. */
static pthread_mutex_t alert_mu = PTHREAD_MUTEX_INITIALIZER;

struct req {
	struct fx_buf body;
	bool too_big;
};

struct reply {
	unsigned status;
	char *body; /* owned */
	const char *type;
	const char *result; /* X-Faas-Result */
};

/* ---- replies ---- */

static void reply_json(struct reply *r, unsigned status, struct json_object *o)
{
	r->status = status;
	r->type = "application/json";
	r->body = strdup(o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "{}");
	json_object_put(o);
}

static void reply_error(struct reply *r, unsigned status, const char *msg,
                        struct json_object *details)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg ? msg : "error"));
	if (details != NULL)
		json_object_object_add(o, "details", details);
	reply_json(r, status, o);
}

static void reply_text(struct reply *r, unsigned status, const char *type, char *text)
{
	r->status = status;
	r->type = type;
	r->body = text;
}

/* Docker failures: transient ones are 503, the rest 502 (the engine said no). */
static unsigned status_of(int rc)
{
	switch (rc) {
	case -EHOSTDOWN:
	case -EPERM:
	case -EAGAIN:
	case -ETIMEDOUT:
	case -ENOMEM:
		return 503;
	case -ENOENT:
		return 404;
	case -EEXIST:
		return 409;
	default:
		return 502;
	}
}

static void reply_docker(struct reply *r, int rc, char *err)
{
	reply_error(r, status_of(rc), err ? err : strerror(-rc), NULL);
	free(err);
}

static void reply_spec_errors(struct reply *r, struct fx_spec_errs *errs)
{
	char *first = errs->n ? fx_spec_err_format(&errs->v[0]) : strdup("invalid definition");
	reply_error(r, 400, first, fx_spec_errs_to_json(errs));
	free(first);
	fx_spec_errs_release(errs);
}

/* ---- reading state ---- */

/* Managed services (with ServiceStatus) and, when tasks is set, their tasks. */
static int observe(struct json_object **svcs, struct json_object **tasks, char **err)
{
	char *q = docker_filters("label", FX_LABEL_MANAGED_BY "=" FX_MANAGED_BY, "label",
	                         store_network_label(), (const char *)NULL),
	     path[512];
	int rc;
	if (q == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/services%s&status=true", q);
	rc = docker_call(&ctl->docker, "GET", path, NULL, svcs, err);
	if (rc < 0) {
		free(q);
		return rc;
	}
	if (tasks != NULL) {
		/* A task matches its service's labels: only our services' tasks,
		 * not every task of a shared swarm (time and memory of each list). */
		snprintf(path, sizeof(path), "/tasks%s", q);
		rc = docker_call(&ctl->docker, "GET", path, NULL, tasks, err);
		if (rc < 0) {
			free(q);
			json_object_put(*svcs);
			*svcs = NULL;
			return rc;
		}
	}
	free(q);
	return 0;
}

static struct json_object *service_named(struct json_object *svcs, const char *name)
{
	for (size_t i = 0; svcs && i < json_object_array_length(svcs); i++) {
		struct json_object *s = json_object_array_get_idx(svcs, i);
		if (strcmp(docker_jstr(docker_jget(s, "Spec"), "Name"), name) == 0)
			return s;
	}
	return NULL;
}

/* The tasks of one service, newest first (a new array holding references). */
static struct json_object *tasks_of(struct json_object *tasks, struct json_object *svc)
{
	struct json_object *a = json_object_new_array();
	const char *id = docker_jstr(svc, "ID");
	size_t n;
	for (size_t i = 0; svc && tasks && i < json_object_array_length(tasks); i++) {
		struct json_object *t = json_object_array_get_idx(tasks, i);
		if (strcmp(docker_jstr(t, "ServiceID"), id) == 0)
			json_object_array_add(a, json_object_get(t));
	}
	/* insertion sort by Status.Timestamp, descending (small lists) */
	n = json_object_array_length(a);
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0; j--) {
			struct json_object *x = json_object_array_get_idx(a, j - 1),
			                   *y = json_object_array_get_idx(a, j);
			if (strcmp(docker_jstr(docker_jget(x, "Status"), "Timestamp"),
			           docker_jstr(docker_jget(y, "Status"), "Timestamp")) >= 0)
				break;
			json_object_get(x);
			json_object_get(y);
			json_object_array_put_idx(a, j - 1, y);
			json_object_array_put_idx(a, j, x);
		}
	}
	return a;
}

static struct json_object *function_json(const struct stored *s, struct json_object *svc,
                                         struct json_object *tasks, struct json_object *nodes)
{
	struct json_object *o = fx_spec_to_json(&s->fn), *meta = docker_jget(o, "metadata"), *mine;
	struct fn_status st;
	char errbuf[512];
	bool has_err = ctl_get_error(ctl, s->fn.name, errbuf, sizeof(errbuf));
	mine = tasks_of(tasks, svc);
	json_object_object_add(meta, "generation", json_object_new_int64(s->generation));
	json_object_object_add(meta, "creationTimestamp", json_object_new_string(s->created));
	status_compute(svc, mine, has_err ? errbuf : NULL, &st);
	json_object_object_add(o, "status", status_to_json(s->fn.name, &st, mine, nodes, 0));
	json_object_put(mine);
	return o;
}

static struct json_object *openfaas_json(const struct stored *s, struct json_object *svc)
{
	struct json_object *o = json_object_new_object(), *labels = json_object_new_object(),
	                   *ann = json_object_new_object();
	int64_t replicas = svc ? svc_replicas(docker_jget(svc, "Spec")) : 0;
	struct json_object *running =
	    docker_jget(docker_jget(svc, "ServiceStatus"), "RunningTasks");
	json_object_object_add(o, "name", json_object_new_string(s->fn.name));
	json_object_object_add(o, "image", json_object_new_string(s->fn.image));
	json_object_object_add(o, "replicas", json_object_new_int64(replicas < 0 ? 0 : replicas));
	json_object_object_add(o, "availableReplicas",
	                       json_object_new_int64(running ? json_object_get_int64(running) : 0));
	json_object_object_add(o, "invocationCount", json_object_new_int64(0));
	json_object_object_add(o, "envProcess", json_object_new_string(s->fn.fprocess));
	json_object_object_add(o, "zero", json_object_new_boolean(s->fn.scale.zero));
	for (size_t i = 0; i < s->fn.labels.n; i++)
		json_object_object_add(labels, s->fn.labels.v[i].key,
		                       json_object_new_string(s->fn.labels.v[i].value));
	/* The scale settings, as OpenFaaS tooling reads them. */
	{
		char t[24];
		snprintf(t, sizeof(t), "%lld", (long long)s->fn.scale.min);
		json_object_object_add(labels, "com.openfaas.scale.min", json_object_new_string(t));
		snprintf(t, sizeof(t), "%lld", (long long)s->fn.scale.max);
		json_object_object_add(labels, "com.openfaas.scale.max", json_object_new_string(t));
		snprintf(t, sizeof(t), "%lld", (long long)s->fn.scale.factor);
		json_object_object_add(labels, "com.openfaas.scale.factor",
		                       json_object_new_string(t));
		json_object_object_add(labels, "com.openfaas.scale.zero",
		                       json_object_new_string(s->fn.scale.zero ? "true" : "false"));
	}
	for (size_t i = 0; i < s->fn.annotations.n; i++)
		json_object_object_add(ann, s->fn.annotations.v[i].key,
		                       json_object_new_string(s->fn.annotations.v[i].value));
	json_object_object_add(o, "labels", labels);
	json_object_object_add(o, "annotations", ann);
	return o;
}

static void get_functions(struct reply *r, bool openfaas)
{
	struct stored *v = NULL;
	size_t n = 0;
	struct json_object *svcs = NULL, *tasks = NULL, *items;
	char *err = NULL;
	int rc = store_list(&ctl->docker, &v, &n, &err);
	if (rc < 0 || (rc = observe(&svcs, openfaas ? NULL : &tasks, &err)) < 0) {
		stored_list_release(v, n);
		reply_docker(r, rc, err);
		return;
	}
	items = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *svc = service_named(svcs, v[i].fn.name);
		json_object_array_add(items, openfaas ? openfaas_json(&v[i], svc)
		                                      : function_json(&v[i], svc, tasks, NULL));
	}
	stored_list_release(v, n);
	json_object_put(svcs);
	json_object_put(tasks);
	malloc_trim(0); /* a list of many functions leaves a large free heap */
	if (openfaas) {
		reply_json(r, 200, items);
	} else {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "apiVersion", json_object_new_string("faas/v1"));
		json_object_object_add(o, "kind", json_object_new_string("FunctionList"));
		json_object_object_add(o, "items", items);
		reply_json(r, 200, o);
	}
}

static void get_function(struct reply *r, const char *name, bool openfaas)
{
	struct stored s;
	struct json_object *svc = NULL, *tasks = NULL, *nodes = NULL;
	char *err = NULL, path[256];
	int rc;
	if (!fx_spec_valid_name(name)) {
		reply_error(r, 404, "no such function (not a valid name)", NULL);
		return;
	}
	rc = store_get(&ctl->docker, name, &s, &err);
	if (rc == -ENOENT) {
		free(err);
		reply_error(r, 404, "no such function", NULL);
		return;
	}
	if (rc < 0) {
		reply_docker(r, rc, err);
		return;
	}
	free(err);
	err = NULL;
	/* 1.41 has no ?status on inspect: take it from the list. */
	{
		char *q = docker_filters("name", name, (const char *)NULL);
		snprintf(path, sizeof(path), "/services%s&status=true", q ? q : "");
		free(q);
	}
	rc = docker_call(&ctl->docker, "GET", path, NULL, &svc, &err);
	if (rc >= 0 && !openfaas && service_named(svc, name) != NULL) {
		char *q = docker_filters("service", name, (const char *)NULL);
		snprintf(path, sizeof(path), "/tasks%s", q ? q : "");
		free(q);
		rc = docker_call(&ctl->docker, "GET", path, NULL, &tasks, &err);
		/* The nodes' host names for the tasks (one function's page): without
		 * them the tasks show only node IDs. Not an error when it fails. */
		if (rc >= 0) {
			char *nerr = NULL;
			if (docker_call(&ctl->docker, "GET", "/nodes", NULL, &nodes, &nerr) < 0)
				nodes = NULL;
			free(nerr);
		}
	}
	if (rc < 0) {
		stored_release(&s);
		json_object_put(svc);
		json_object_put(nodes);
		reply_docker(r, rc, err);
		return;
	}
	{
		struct json_object *one = service_named(svc, name);
		const char *net =
		    one ? svc_label(docker_jget(one, "Spec"), CTL_LABEL_NETWORK) : NULL;
		if (net == NULL || strcmp(net, ctl->network) != 0)
			one = NULL; /* someone else's service of that name */
		reply_json(r, 200,
		           openfaas ? openfaas_json(&s, one)
		                    : function_json(&s, one, tasks, nodes));
	}
	stored_release(&s);
	json_object_put(svc);
	json_object_put(tasks);
	json_object_put(nodes);
}

/* Has the container of a starting task been started? Its address must not be
 * probed before: a connect then leaves an unanswered ARP request in the
 * prober's neighbour table, and the next one goes out only a second later.
 * A container on another node cannot be inspected here: assumed started. */
static bool container_started(const char *id, void *arg)
{
	struct json_object *c = NULL, *running;
	char *err = NULL, path[160];
	bool yes;
	(void)arg;
	if (*id == '\0' || strlen(id) > 80)
		return false;
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	int rc = docker_call(&ctl->docker, "GET", path, NULL, &c, &err);
	free(err);
	yes = rc == -ENOENT ||
	      (rc >= 0 && json_object_object_get_ex(docker_jget(c, "State"), "Running", &running) &&
	       json_object_get_boolean(running));
	json_object_put(c);
	return yes;
}

/* GET /apis/faas/v1/functions/{name}/endpoints: the addresses of its started
 * replicas, for a gateway to probe while Docker's DNS still waits for their
 * first passing HEALTHCHECK (see status_endpoints). */
static void get_endpoints(struct reply *r, const char *name)
{
	struct json_object *tasks = NULL, *o;
	char *err = NULL, *q, path[256];
	int rc;
	if (!fx_spec_valid_name(name)) {
		reply_error(r, 404, "no such function (not a valid name)", NULL);
		return;
	}
	q = docker_filters("service", name, "desired-state", "running", (const char *)NULL);
	if (q == NULL) {
		reply_error(r, 500, "out of memory", NULL);
		return;
	}
	snprintf(path, sizeof(path), "/tasks%s", q);
	free(q);
	rc = docker_call(&ctl->docker, "GET", path, NULL, &tasks, &err);
	if (rc < 0) {
		reply_docker(r, rc, err);
		return;
	}
	free(err);
	o = json_object_new_object();
	json_object_object_add(o, "apiVersion", json_object_new_string("faas/v1"));
	json_object_object_add(o, "kind", json_object_new_string("Endpoints"));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(
	    o, "addresses", status_endpoints(tasks, name, ctl->network, container_started, NULL));
	json_object_put(tasks);
	reply_json(r, 200, o);
}

/* ---- writes ---- */

/* Applies fn (validated). dry: only diff. Fills r. */
static void apply(struct reply *r, const struct fx_function *fn, bool dry, bool openfaas)
{
	struct stored prev;
	char *err = NULL, *now_text, *prev_text = NULL;
	int rc, have;
	int64_t gen = 0;
	bool unchanged;
	char created[40] = "";

	pthread_mutex_lock(&write_mu);
	have = store_get(&ctl->docker, fn->name, &prev, &err);
	if (have < 0 && have != -ENOENT) {
		pthread_mutex_unlock(&write_mu);
		reply_docker(r, have, err);
		return;
	}
	free(err);
	err = NULL;
	now_text = fx_spec_canonical(fn);
	if (have == 0)
		prev_text = fx_spec_canonical(&prev.fn);
	unchanged = have == 0 && prev_text && now_text && strcmp(prev_text, now_text) == 0;
	r->result = have != 0 ? "created" : (unchanged ? "configured" : "configured");
	if (unchanged)
		r->result = "unchanged";
	if (dry) {
		struct json_object *o = json_object_new_object();
		char *d = diff_unified(prev_text ? prev_text : "", now_text ? now_text : "", "live",
		                       "applied");
		json_object_object_add(o, "result", json_object_new_string(r->result));
		json_object_object_add(o, "diff", json_object_new_string(d ? d : ""));
		free(d);
		reply_json(r, have != 0 ? 201 : 200, o);
		goto out;
	}
	if (unchanged) {
		gen = prev.generation;
		snprintf(created, sizeof(created), "%s", prev.created);
	} else {
		rc = store_put(&ctl->docker, fn, have == 0 ? &prev : NULL, &gen, created, &err);
		if (rc < 0) {
			reply_docker(r, rc, err);
			goto out;
		}
		log_info("function_applied", "function=%s generation=%lld result=%s", fn->name,
		         (long long)gen, r->result);
	}
	ctl_cache_scale(ctl, fn->name, &fn->scale);
	wq_add(ctl->queue, fn->name, 0);
	if (openfaas) {
		reply_text(r, 202, "application/json", strdup("{}"));
	} else {
		struct stored now = {.generation = gen};
		now.fn = *fn;
		snprintf(now.created, sizeof(now.created), "%s", created);
		reply_json(r, have != 0 ? 201 : 200, function_json(&now, NULL, NULL, NULL));
	}
out:
	pthread_mutex_unlock(&write_mu);
	if (have == 0)
		stored_release(&prev);
	free(now_text);
	free(prev_text);
}

static void put_function(struct reply *r, const char *name, const char *body, size_t len, bool dry)
{
	struct fx_function fn;
	struct fx_spec_errs errs = {0};
	int rc;
	if (!fx_spec_valid_name(name)) {
		reply_error(
		    r, 400,
		    "the name in the path is not a DNS-1123 label (lower-case letters, digits "
		    "and '-', at most 63)",
		    NULL);
		return;
	}
	rc = fx_spec_load_one(body ? body : "", len, NULL, &fn, &errs);
	if (rc == -ENOMEM) {
		fx_spec_errs_release(&errs);
		reply_error(r, 503, "out of memory", NULL);
		return;
	}
	if (rc < 0) {
		reply_spec_errors(r, &errs);
		return;
	}
	if (strcmp(fn.name, name) != 0) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "metadata.name \"%s\" differs from the name in the path \"%s\"", fn.name,
		         name);
		fx_function_release(&fn);
		reply_error(r, 409, msg, NULL);
		return;
	}
	apply(r, &fn, dry, false);
	fx_function_release(&fn);
}

static void delete_function(struct reply *r, const char *name, bool openfaas)
{
	char *err = NULL;
	int rc;
	if (!fx_spec_valid_name(name)) {
		reply_error(r, 404, "no such function", NULL);
		return;
	}
	pthread_mutex_lock(&write_mu);
	rc = store_delete(&ctl->docker, name, &err);
	pthread_mutex_unlock(&write_mu);
	if (rc == -ENOENT) {
		free(err);
		reply_error(r, 404, "no such function", NULL);
		return;
	}
	if (rc < 0) {
		reply_docker(r, rc, err);
		return;
	}
	log_info("function_deleted", "function=%s", name);
	ctl_cache_scale(ctl, name, NULL);
	wq_add(ctl->queue, name, 0);
	if (openfaas) {
		reply_text(r, 202, "application/json", strdup("{}"));
	} else {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "result", json_object_new_string("deleted"));
		reply_json(r, 200, o);
	}
}

/* The body as one JSON object (strict: no trailing bytes, no duplicate keys);
 * NULL after answering 400 (or 503). */
static struct json_object *parse_json_body(struct reply *r, const char *body, size_t len)
{
	struct json_object *o = NULL;
	char *err = NULL;
	int rc;
	if (body == NULL || len == 0) {
		reply_error(r, 400, "empty body: expected JSON", NULL);
		return NULL;
	}
	rc = fx_json_parse(body, len, 32, &o, &err);
	if (rc < 0) {
		reply_error(r, rc == -EINVAL ? 400 : 503, err ? err : "out of memory", NULL);
		free(err);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		reply_error(r, 400, "invalid JSON: expected an object", NULL);
		return NULL;
	}
	return o;
}

/* A com.openfaas.scale.* label's value (a string, as labels are) with its type
 * back: an integer for min/max/factor, a boolean for zero. NULL with an error
 * in errs when it has none. New reference. */
static struct json_object *scale_label(const char *k, struct json_object *v, bool boolean,
                                       struct fx_spec_errs *errs)
{
	char field[96];
	const char *t;
	size_t n;

	snprintf(field, sizeof(field), "labels.%s", k);
	if (!json_object_is_type(v, json_type_string)) {
		fx_spec_errs_add(errs, NULL, 0, 0, 0, field, "expected a string (%s), got %s",
		                 boolean ? "\"true\" or \"false\"" : "an integer such as \"2\"",
		                 v == NULL ? "null" : json_type_to_name(json_object_get_type(v)));
		return NULL;
	}
	t = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (boolean) {
		if (strcmp(t, "true") == 0 || strcmp(t, "false") == 0)
			return json_object_new_boolean(strcmp(t, "true") == 0);
		fx_spec_errs_add(errs, NULL, 0, 0, 0, field,
		                 "expected \"true\" or \"false\", got \"%.64s\"", t);
		return NULL;
	}
	/* Digits only, few enough for int64; the schema checks the range. */
	if (n == 0 || n > 9 || strspn(t, "0123456789") != n) {
		fx_spec_errs_add(errs, NULL, 0, 0, 0, field,
		                 "expected an integer such as \"2\", got \"%.64s\"", t);
		return NULL;
	}
	return json_object_new_int64(strtoll(t, NULL, 10));
}

int api_openfaas_function(const char *body, size_t len, struct fx_function *out,
                          struct fx_spec_errs *errs)
{
	static const char *const copy_spec[][2] = {
	    {"image", "image"},
	    {"envProcess", "fprocess"},
	    {"envVars", "env"},
	    {"secrets", "secrets"},
	    {"constraints", "constraints"},
	    {"limits", "limits"},
	    {"requests", "requests"},
	    {"readOnlyRootFilesystem", "readOnlyRootFilesystem"},
	};
	static const char *const sk[] = {"min", "max", "factor", "zero"};
	struct json_object *in = NULL, *f, *meta, *spec, *labels, *scale;
	char *jerr = NULL;
	size_t before = errs->n + errs->dropped;
	int rc;

	if (body == NULL || len == 0) {
		fx_spec_errs_add(errs, NULL, 0, 0, 0, "", "empty body: expected JSON");
		return -EINVAL;
	}
	rc = fx_json_parse(body, len, 32, &in, &jerr);
	if (rc < 0) {
		if (jerr != NULL)
			fx_spec_errs_add(errs, NULL, 0, 0, 0, "", "%s", jerr);
		free(jerr);
		return rc;
	}
	if (!json_object_is_type(in, json_type_object)) {
		json_object_put(in);
		fx_spec_errs_add(errs, NULL, 0, 0, 0, "", "invalid JSON: expected an object");
		return -EINVAL;
	}
	f = json_object_new_object();
	meta = json_object_new_object();
	spec = json_object_new_object();
	scale = json_object_new_object();
	labels = json_object_new_object();
	if (f == NULL || meta == NULL || spec == NULL || scale == NULL || labels == NULL) {
		json_object_put(in);
		json_object_put(f);
		json_object_put(meta);
		json_object_put(spec);
		json_object_put(scale);
		json_object_put(labels);
		return -ENOMEM;
	}
	json_object_object_add(f, "apiVersion", json_object_new_string("faas/v1"));
	json_object_object_add(f, "kind", json_object_new_string("Function"));
	if (docker_jget(in, "service"))
		json_object_object_add(meta, "name", json_object_get(docker_jget(in, "service")));
	if (docker_jget(in, "annotations"))
		json_object_object_add(meta, "annotations",
		                       json_object_get(docker_jget(in, "annotations")));
	if (docker_jget(in, "labels") &&
	    json_object_is_type(docker_jget(in, "labels"), json_type_object)) {
		json_object_object_foreach(docker_jget(in, "labels"), k, v)
		{
			bool sc = false;
			for (size_t i = 0; i < 4; i++) {
				if (strncmp(k, "com.openfaas.scale.", 19) != 0 ||
				    strcmp(k + 19, sk[i]) != 0)
					continue;
				/* label values are strings: give them their type back */
				struct json_object *t = scale_label(k, v, i == 3, errs);
				if (t != NULL)
					json_object_object_add(scale, sk[i], t);
				sc = true;
			}
			if (!sc)
				json_object_object_add(labels, k, json_object_get(v));
		}
	} else if (docker_jget(in, "labels")) {
		/* the schema reports its type */
		json_object_put(labels);
		labels = json_object_get(docker_jget(in, "labels"));
	}
	json_object_object_add(meta, "labels", labels);
	for (size_t i = 0; i < sizeof(copy_spec) / sizeof(copy_spec[0]); i++)
		if (docker_jget(in, copy_spec[i][0]))
			json_object_object_add(spec, copy_spec[i][1],
			                       json_object_get(docker_jget(in, copy_spec[i][0])));
	if (json_object_object_length(scale) > 0)
		json_object_object_add(spec, "scale", scale);
	else
		json_object_put(scale);
	json_object_object_add(f, "metadata", meta);
	json_object_object_add(f, "spec", spec);
	json_object_put(in);
	rc = fx_spec_from_json(f, NULL, out, errs);
	json_object_put(f);
	if (rc == 0 && errs->n + errs->dropped > before) {
		/* a scale label was refused above */
		fx_function_release(out);
		return -EINVAL;
	}
	return rc;
}

/* OpenFaaS deployment JSON -> our Function, validated by the same schema. */
static void deploy_openfaas(struct reply *r, const char *body, size_t len)
{
	struct fx_function fn;
	struct fx_spec_errs errs = {0};
	int rc = api_openfaas_function(body, len, &fn, &errs);
	if (rc < 0) {
		if (rc == -EINVAL)
			reply_spec_errors(r, &errs);
		else
			reply_error(r, 503, "out of memory", NULL);
		fx_spec_errs_release(&errs);
		return;
	}
	apply(r, &fn, false, true);
	fx_function_release(&fn);
}

static void delete_openfaas(struct reply *r, const char *body, size_t len)
{
	struct json_object *in = parse_json_body(r, body, len);
	if (in == NULL)
		return;
	delete_function(r, docker_jstr(in, "functionName"), true);
	json_object_put(in);
}

static int64_t fixed_target(int64_t current, void *arg)
{
	(void)current;
	return *(const int64_t *)arg;
}

struct alert_step {
	const struct fx_scale *scale;
	const struct alert *alert;
	const char *why; /* set when the alert leaves the function alone */
};

static int64_t alert_target(int64_t current, void *arg)
{
	struct alert_step *a = arg;
	int64_t want;
	a->why = NULL; /* the last attempt counts (update conflicts retry) */
	want = alert_decide(a->alert, a->scale, current, &a->why);
	return want < 0 ? current : want;
}

/* An alert that leaves its function alone: logged once per incident at info. */
static void alert_ignored(const struct alert *a, const char *why)
{
	if (!a->firing && !a->idle)
		alert_memory_resolved(ctl->alerts, a, wq_now_ms());
	if (alert_memory_first_ignore(ctl->alerts, a))
		log_info("alert_ignored", "function=%s idle=%d status=%s why=\"%s\"", a->function,
		         a->idle, a->firing ? "firing" : "resolved", why);
	else
		log_debug("alert_ignored", "function=%s idle=%d why=\"%s\"", a->function, a->idle,
		          why);
}

static void scale_function(struct reply *r, const char *name, const char *body, size_t len)
{
	struct json_object *in = parse_json_body(r, body, len), *rep;
	struct stored s;
	char *err = NULL;
	int64_t want, got, previous = -1;
	int rc;
	if (in == NULL)
		return;
	rep = docker_jget(in, "replicas");
	if (rep == NULL || !json_object_is_type(rep, json_type_int) ||
	    json_object_get_int64(rep) < 0 || json_object_get_int64(rep) > FX_SPEC_MAX_REPLICAS) {
		json_object_put(in);
		reply_error(r, 400, "replicas: expected an integer between 0 and 1000", NULL);
		return;
	}
	if (docker_jget(in, "serviceName") && strcmp(docker_jstr(in, "serviceName"), name) != 0) {
		json_object_put(in);
		reply_error(r, 400, "serviceName differs from the name in the path", NULL);
		return;
	}
	want = json_object_get_int64(rep);
	json_object_put(in);
	if (!fx_spec_valid_name(name)) {
		reply_error(r, 404, "no such function", NULL);
		return;
	}
	rc = store_get(&ctl->docker, name, &s, &err);
	if (rc < 0) {
		if (rc == -ENOENT) {
			free(err);
			reply_error(r, 404, "no such function", NULL);
		} else {
			reply_docker(r, rc, err);
		}
		return;
	}
	got = svc_clamp(&s.fn.scale, want);
	stored_release(&s);
	rc = reconcile_set_replicas(ctl, name, fixed_target, &got, &previous, NULL, &err);
	if (rc < 0) {
		/* The service is not made yet: a 503 tells the caller to retry. */
		reply_docker(r, rc == -ENOENT ? -EAGAIN : rc, err);
		return;
	}
	log_info("scaled", "function=%s requested=%lld replicas=%lld previous=%lld source=api",
	         name, (long long)want, (long long)got, (long long)previous);
	{
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "replicas", json_object_new_int64(got));
		json_object_object_add(o, "previous", json_object_new_int64(previous));
		reply_json(r, 200, o);
	}
}

static void alerts(struct reply *r, const char *body, size_t len)
{
	struct alert *v = NULL;
	char *err = NULL;
	int n = alerts_parse(body, len, &v, &err), transient = 0, scaled = 0;
	if (n < 0) {
		reply_error(r, n == -ENOMEM ? 503 : 400, err ? err : "invalid payload", NULL);
		free(err);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct alert *a = &v[i];
		struct fx_scale sc;
		struct alert_step step = {.scale = &sc, .alert = a};
		int64_t now = wq_now_ms(), cur = -1, want = -1;
		const char *why = NULL;
		bool fresh;
		int rc;
		metrics_inc(M_ALERTS_RECEIVED);
		if (a->bad_start) {
			log_warn("alert_ignored",
			         "function=%s why=\"startsAt is missing or not an RFC 3339 time\"",
			         a->function);
			continue;
		}
		if (!ctl_cached_scale(ctl, a->function, &sc)) {
			struct stored s;
			rc = store_get(&ctl->docker, a->function, &s, &err);
			if (rc < 0) {
				if (rc != -ENOENT)
					transient++;
				log_warn("alert_ignored", "function=%s err=\"%s\"", a->function,
				         rc == -ENOENT ? "no such function" : (err ? err : ""));
				free(err);
				err = NULL;
				continue;
			}
			sc = s.fn.scale;
			ctl_cache_scale(ctl, a->function, &sc);
			stored_release(&s);
		}
		/* What does not depend on the replicas needs no Docker call. */
		if (alert_decide(a, &sc, -1, &why) < 0) {
			alert_ignored(a, why);
			continue;
		}
		pthread_mutex_lock(&alert_mu);
		if (a->idle)
			fresh = alert_memory_should_zero(ctl->alerts, a, now, sc.cooldown_ms);
		else
			fresh = !a->firing ||
			        alert_memory_should_step(ctl->alerts, a, now, sc.cooldown_ms);
		if (!fresh) {
			pthread_mutex_unlock(&alert_mu);
			log_info("alert_deduplicated", "function=%s idle=%d key=\"%s\"",
			         a->function, a->idle, a->key);
			continue;
		}
		rc = reconcile_set_replicas(ctl, a->function, alert_target, &step, &cur, &want,
		                            &err);
		if (rc < 0) {
			pthread_mutex_unlock(&alert_mu);
			transient += rc != -ENOENT;
			log_warn("alert_failed", "function=%s err=\"%s\"", a->function,
			         err ? err : "");
			free(err);
			err = NULL;
			continue;
		}
		if (step.why != NULL) {
			pthread_mutex_unlock(&alert_mu);
			alert_ignored(a, step.why);
			continue;
		}
		if (a->idle)
			alert_memory_zeroed(ctl->alerts, a, now);
		else if (a->firing)
			alert_memory_stepped(ctl->alerts, a, now);
		else
			alert_memory_resolved(ctl->alerts, a, now);
		pthread_mutex_unlock(&alert_mu);
		scaled++;
		log_info("scaled",
		         "function=%s status=%s replicas=%lld previous=%lld source=%s took_ms=%lld",
		         a->function, a->firing ? "firing" : "resolved", (long long)want,
		         (long long)cur, a->idle ? "idle" : "alert",
		         (long long)(wq_now_ms() - now));
	}
	free(v);
	if (transient > 0) {
		reply_error(r, 503, "some alerts could not be applied (Docker unavailable); retry",
		            NULL);
		return;
	}
	{
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "alerts", json_object_new_int(n));
		json_object_object_add(o, "scaled", json_object_new_int(scaled));
		reply_json(r, 200, o);
	}
}

/* ---- secrets (OpenFaaS API): Docker secrets labelled faas.secret ---- */

static void secrets(struct reply *r, const char *method, const char *body, size_t len)
{
	struct json_object *in = NULL, *reply = NULL;
	char *err = NULL, path[256];
	int rc;
	if (strcmp(method, "GET") == 0) {
		char *q = docker_filters("label", "faas.secret", (const char *)NULL);
		struct json_object *out = json_object_new_array();
		snprintf(path, sizeof(path), "/secrets%s", q ? q : "");
		free(q);
		rc = docker_call(&ctl->docker, "GET", path, NULL, &reply, &err);
		if (rc < 0) {
			json_object_put(out);
			reply_docker(r, rc, err);
			return;
		}
		for (size_t i = 0; reply && i < json_object_array_length(reply); i++) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(
			    o, "name",
			    json_object_new_string(docker_jstr(
			        docker_jget(json_object_array_get_idx(reply, i), "Spec"), "Name")));
			json_object_array_add(out, o);
		}
		json_object_put(reply);
		reply_json(r, 200, out);
		return;
	}
	in = parse_json_body(r, body, len);
	if (in == NULL)
		return;
	{
		const char *name = docker_jstr(in, "name"), *value = docker_jstr(in, "value");
		bool ok = name[0] != '\0' && strlen(name) <= 64;
		for (const char *p = name; *p; p++)
			ok &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.';
		if (!ok) {
			json_object_put(in);
			reply_error(r, 400,
			            "name: expected a secret name (letters, digits, '-', '_', '.', "
			            "at most 64)",
			            NULL);
			return;
		}
		if (strcmp(method, "DELETE") == 0 || strcmp(method, "PUT") == 0) {
			snprintf(path, sizeof(path), "/secrets/%s", name);
			rc = docker_call(&ctl->docker, "DELETE", path, NULL, NULL, &err);
			if (rc < 0 && !(rc == -ENOENT && strcmp(method, "PUT") == 0)) {
				json_object_put(in);
				if (rc == -EINVAL || rc == -EIO) /* in use */
					rc = -EEXIST;
				reply_docker(r, rc, err);
				return;
			}
			free(err);
			err = NULL;
			if (strcmp(method, "DELETE") == 0) {
				json_object_put(in);
				reply_text(r, 200, "application/json", strdup("{}"));
				return;
			}
		}
		{
			struct json_object *b = json_object_new_object(),
			                   *labels = json_object_new_object();
			/* Docker wants the value base64-encoded */
			static const char tab[] =
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
			size_t n = strlen(value);
			struct fx_buf enc;
			fx_buf_init(&enc, 4u << 20);
			for (size_t i = 0; i < n; i += 3) {
				unsigned x =
				    (unsigned)(unsigned char)value[i] << 16 |
				    (i + 1 < n ? (unsigned)(unsigned char)value[i + 1] << 8 : 0) |
				    (i + 2 < n ? (unsigned char)value[i + 2] : 0);
				char q4[4] = {tab[x >> 18 & 63], tab[x >> 12 & 63],
				              i + 1 < n ? tab[x >> 6 & 63] : '=',
				              i + 2 < n ? tab[x & 63] : '='};
				fx_buf_append(&enc, q4, 4);
			}
			json_object_object_add(labels, "faas.secret",
			                       json_object_new_string("true"));
			json_object_object_add(b, "Name", json_object_new_string(name));
			json_object_object_add(b, "Labels", labels);
			json_object_object_add(b, "Data",
			                       json_object_new_string(enc.data ? enc.data : ""));
			fx_buf_release(&enc);
			rc = docker_call(&ctl->docker, "POST", "/secrets/create",
			                 json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN),
			                 &reply, &err);
			json_object_put(b);
			json_object_put(reply);
			json_object_put(in);
			if (rc < 0) {
				reply_docker(r, rc, err);
				return;
			}
			reply_text(r, 201, "application/json", strdup("{}"));
		}
	}
}

static void info(struct reply *r)
{
	struct json_object *o = json_object_new_object(), *p = json_object_new_object(),
	                   *v = json_object_new_object();
	json_object_object_add(v, "release", json_object_new_string("0.1.0"));
	json_object_object_add(v, "sha", json_object_new_string(""));
	json_object_object_add(p, "provider", json_object_new_string("faas-controller"));
	json_object_object_add(p, "orchestration", json_object_new_string("swarm"));
	json_object_object_add(p, "version", json_object_get(v));
	json_object_object_add(o, "provider", p);
	json_object_object_add(o, "version", v);
	json_object_object_add(o, "arch", json_object_new_string("x86_64"));
	reply_json(r, 200, o);
}

/* ---- logs: GET /system/logs?name=&tail=&since= (not following) ---- */

struct logs_state {
	struct fx_buf raw;
};

static int on_logs(const char *p, size_t n, void *arg)
{
	struct logs_state *s = arg;
	return fx_buf_append(&s->raw, p, n) < 0 ? 1 : 0;
}

static void logs(struct reply *r, struct MHD_Connection *conn)
{
	const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
	const char *tail = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tail");
	const char *since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	struct logs_state s;
	struct fx_buf out;
	char path[512], *err = NULL;
	int64_t t = 100;
	int rc;
	if (name == NULL || !fx_spec_valid_name(name)) {
		reply_error(r, 400, "name: expected a function name", NULL);
		return;
	}
	if (tail != NULL && fx_parse_int(tail, 0, 100000, &t) < 0) {
		reply_error(r, 400, "tail: expected an integer between 0 and 100000", NULL);
		return;
	}
	{
		int64_t sn = 0;
		if (since != NULL && fx_parse_int(since, 0, INT64_MAX, &sn) < 0)
			sn = 0; /* RFC 3339 values are not supported: all lines */
		snprintf(path, sizeof(path),
		         "/services/%s/"
		         "logs?stdout=1&stderr=1&timestamps=1&details=1&tail=%lld&since=%lld",
		         name, (long long)t, (long long)sn);
	}
	fx_buf_init(&s.raw, 16u << 20);
	rc = docker_stream(&ctl->docker, path, on_logs, &s, &err);
	if (rc < 0) {
		fx_buf_release(&s.raw);
		reply_docker(r, rc == -EIO ? -ENOENT : rc, err);
		return;
	}
	fx_buf_init(&out, 32u << 20);
	/* Multiplexed frames: [stream, 0, 0, 0, size (4 bytes BE)] payload. */
	for (size_t off = 0; off + 8 <= s.raw.len;) {
		const unsigned char *h = (const unsigned char *)s.raw.data + off;
		size_t size = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
		if (off + 8 + size > s.raw.len)
			break;
		{
			char *line = strndup(s.raw.data + off + 8, size), *ts, *attrs, *text, *task;
			struct json_object *o = json_object_new_object();
			char inst[80] = "";
			/* "<timestamp> <attrs> <text>" */
			ts = line;
			attrs = strchr(ts, ' ');
			if (attrs)
				*attrs++ = '\0';
			text = attrs ? strchr(attrs, ' ') : NULL;
			if (text)
				*text++ = '\0';
			task = attrs ? strstr(attrs, "com.docker.swarm.task.id=") : NULL;
			if (task != NULL)
				snprintf(inst, sizeof(inst), "%.25s", task + 25);
			if (text) {
				size_t tl = strlen(text);
				while (tl > 0 && (text[tl - 1] == '\n' || text[tl - 1] == '\r'))
					text[--tl] = '\0';
			}
			json_object_object_add(o, "name", json_object_new_string(name));
			json_object_object_add(o, "instance", json_object_new_string(inst));
			json_object_object_add(o, "timestamp", json_object_new_string(ts));
			json_object_object_add(o, "text", json_object_new_string(text ? text : ""));
			fx_buf_appendf(&out, "%s\n",
			               json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
			free(line);
		}
		off += 8 + size;
	}
	fx_buf_release(&s.raw);
	reply_text(r, 200, "application/x-ndjson", fx_buf_detach(&out, NULL));
	fx_buf_release(&out);
}

/* ---- dispatch ---- */

static bool authorized(struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	size_t n, m;
	unsigned char diff = 0;
	if (conf.token == NULL || h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	n = strlen(h);
	m = strlen(conf.token);
	/* constant time in the token's length */
	for (size_t i = 0; i < m; i++)
		diff |= (unsigned char)(conf.token[i] ^ (i < n ? h[i] : 0));
	return diff == 0 && n == m;
}

static bool is_true(const char *v)
{
	return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	                     strcmp(v, "All") == 0 || strcmp(v, "all") == 0);
}

static void route(struct reply *r, struct MHD_Connection *conn, const char *url, const char *method,
                  const char *body, size_t len)
{
	static const char fnpre[] = "/apis/faas/v1/functions";
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	bool mutating = !get;

	if (strcmp(url, "/healthz") == 0 && get) {
		reply_text(r, 200, "text/plain", strdup("ok\n"));
		return;
	}
	if (strcmp(url, "/metrics") == 0 && get) {
		size_t nfn = 0;
		reply_text(r, 200, "text/plain; version=0.0.4",
		           metrics_render(wq_depth(ctl->queue), nfn));
		return;
	}
	if (mutating && !authorized(conn)) {
		r->status = 401;
		reply_error(r, 401, "missing or wrong bearer token (Authorization: Bearer <token>)",
		            NULL);
		return;
	}
	if (strcmp(url, fnpre) == 0) {
		if (get)
			get_functions(r, false);
		else
			reply_error(r, 405, "method not allowed (GET)", NULL);
		return;
	}
	if (strncmp(url, fnpre, sizeof(fnpre) - 1) == 0 && url[sizeof(fnpre) - 1] == '/') {
		const char *name = url + sizeof(fnpre);
		static const char ep[] = "/endpoints";
		size_t nl = strlen(name);
		if (get && nl > sizeof(ep) - 1 && strcmp(name + nl - (sizeof(ep) - 1), ep) == 0) {
			char one[FX_SPEC_MAX_NAME + 2]; /* one more: a longer name stays invalid */
			size_t k = nl - (sizeof(ep) - 1);
			snprintf(one, sizeof(one), "%.*s",
			         (int)(k < sizeof(one) - 1 ? k : sizeof(one) - 1), name);
			get_endpoints(r, one);
		} else if (get)
			get_function(r, name, false);
		else if (strcmp(method, "PUT") == 0)
			put_function(r, name, body, len,
			             is_true(MHD_lookup_connection_value(
			                 conn, MHD_GET_ARGUMENT_KIND, "dryRun")));
		else if (strcmp(method, "DELETE") == 0)
			delete_function(r, name, false);
		else
			reply_error(r, 405, "method not allowed (GET, PUT, DELETE)", NULL);
		return;
	}
	if (strcmp(url, "/system/functions") == 0) {
		if (get)
			get_functions(r, true);
		else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
			deploy_openfaas(r, body, len);
		else if (strcmp(method, "DELETE") == 0)
			delete_openfaas(r, body, len);
		else
			reply_error(r, 405, "method not allowed", NULL);
		return;
	}
	if (strncmp(url, "/system/function/", 17) == 0 && get) {
		get_function(r, url + 17, true);
		return;
	}
	if (strncmp(url, "/system/scale-function/", 23) == 0) {
		if (strcmp(method, "POST") == 0)
			scale_function(r, url + 23, body, len);
		else
			reply_error(r, 405, "method not allowed (POST)", NULL);
		return;
	}
	if (strcmp(url, "/alerts") == 0 || strcmp(url, "/system/alert") == 0) {
		if (strcmp(method, "POST") == 0)
			alerts(r, body, len);
		else
			reply_error(r, 405, "method not allowed (POST)", NULL);
		return;
	}
	if (strcmp(url, "/system/secrets") == 0) {
		if (get || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
		    strcmp(method, "DELETE") == 0)
			secrets(r, get ? "GET" : method, body, len);
		else
			reply_error(r, 405, "method not allowed", NULL);
		return;
	}
	if (strcmp(url, "/system/logs") == 0 && get) {
		logs(r, conn);
		return;
	}
	if (strcmp(url, "/system/info") == 0 && get) {
		info(r);
		return;
	}
	reply_error(r, 404, "no such route", NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct req *q = *con_cls;
	struct reply r = {0};
	struct MHD_Response *resp;
	enum MHD_Result ret;
	(void)cls;
	(void)version;
	if (q == NULL) {
		q = calloc(1, sizeof(*q));
		if (q == NULL)
			return MHD_NO;
		fx_buf_init(&q->body, conf.max_body);
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!q->too_big && fx_buf_append(&q->body, upload, *upload_size) < 0)
			q->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	if (q->too_big) {
		char msg[96];
		snprintf(msg, sizeof(msg), "request body too large (at most %zu bytes)",
		         conf.max_body);
		reply_error(&r, 413, msg, NULL);
	} else {
		route(&r, conn, url, method, q->body.data, q->body.len);
	}
	if (r.body == NULL) {
		r.status = 503;
		r.type = "application/json";
		r.body = strdup("{\"error\":\"out of memory\"}");
		if (r.body == NULL)
			return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(strlen(r.body), r.body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(r.body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", r.type);
	if (r.result)
		MHD_add_response_header(resp, "X-Faas-Result", r.result);
	if (r.status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	ret = MHD_queue_response(conn, r.status, resp);
	MHD_destroy_response(resp);
	if (r.status >= 500 || strcmp(url, "/healthz") != 0)
		log_debug("request", "method=%s path=%s status=%u", method, url, r.status);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (q != NULL) {
		fx_buf_release(&q->body);
		free(q);
		*con_cls = NULL;
	}
}

struct MHD_Daemon *api_start(struct ctl *c, const struct api_conf *cf)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	ctl = c;
	conf = *cf;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)cf->port);
	if (inet_pton(AF_INET, cf->bind, &sa.sin_addr) != 1) {
		log_error("bad_bind_address", "bind=%s", cf->bind);
		return NULL;
	}
	d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
	    NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
	if (d == NULL) {
		log_error("listen_failed", "addr=%s:%lld", cf->bind, (long long)cf->port);
		return NULL;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	log_info("listening", "addr=%s:%u", cf->bind, info ? (unsigned)info->port : 0u);
	return d;
}
