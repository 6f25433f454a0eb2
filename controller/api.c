/* api.c: the controller's HTTP API (docs/api.md) on libmicrohttpd, one
 * thread per connection (handlers make blocking Docker calls).
 *   /apis/faas/v1/functions[/{name}]   kubectl-style CRUD, ?dryRun=true
 *   /system/...                        the OpenFaaS provider API
 *   /alerts, /system/alert             Alertmanager webhook
 *   /healthz, /metrics */
#include "controller.h"

#include "base64.h"
#include "buf.h"
#include "build/gen/version.h"
#include "json.h"
#include "log.h"
#include "units.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <time.h>

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
	const char *result;        /* X-Faas-Result */
	struct MHD_Response *resp; /* a streamed answer (logs), instead of body */
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

/* ---- namespaces: this install serves one, conf.namespace_ ---- */

/* Is ns (a ?namespace= value or a body's "namespace"; NULL or "" when not
 * given) this install's? If not, replies 404 and returns false. */
static bool ns_ours(struct reply *r, const char *ns)
{
	char msg[200];
	if (ns == NULL || *ns == '\0' || strcmp(ns, conf.namespace_) == 0)
		return true;
	snprintf(msg, sizeof(msg), "namespace \"%.64s\" not found (this install serves \"%s\")", ns,
	         conf.namespace_);
	reply_error(r, 404, msg, NULL);
	return false;
}

/* The same for a JSON body's "namespace" member (absent, null or a string). */
static bool ns_body_ours(struct reply *r, struct json_object *in)
{
	struct json_object *ns = docker_jget(in, "namespace");
	if (ns != NULL && !json_object_is_type(ns, json_type_null) &&
	    !json_object_is_type(ns, json_type_string)) {
		reply_error(r, 400, "namespace: expected a string", NULL);
		return false;
	}
	return ns_ours(r, ns != NULL ? json_object_get_string(ns) : NULL);
}

static void namespaces(struct reply *r)
{
	struct json_object *a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(conf.namespace_));
	reply_json(r, 200, a);
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

/* The FunctionStatus of a stored function and its service (NULL: not made
 * yet, so the replicas the reconcile will give it: scale.min). */
static struct json_object *openfaas_json(const struct stored *s, struct json_object *svc)
{
	int64_t replicas = svc ? svc_replicas(docker_jget(svc, "Spec")) : s->fn.scale.min;
	struct json_object *running =
	    docker_jget(docker_jget(svc, "ServiceStatus"), "RunningTasks");
	return of_function_status(&s->fn, conf.namespace_, s->created, replicas,
	                          running ? json_object_get_int64(running) : 0,
	                          svc != NULL && replicas == 0);
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

/* How a write treats an existing function: the kubectl-style PUT creates
 * or configures; OpenFaaS's POST only creates and its PUT only updates. */
enum apply_how { APPLY_ANY, APPLY_CREATE, APPLY_UPDATE };

/* Applies fn (validated). dry: only diff. Fills r. */
static void apply(struct reply *r, const struct fx_function *fn, bool dry, enum apply_how how)
{
	bool openfaas = how != APPLY_ANY;
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
	if (how == APPLY_CREATE && have == 0) {
		char msg[200];
		pthread_mutex_unlock(&write_mu);
		stored_release(&prev);
		snprintf(msg, sizeof(msg),
		         "function %s already exists (PUT /system/functions updates it)", fn->name);
		reply_error(r, 409, msg, NULL);
		return;
	}
	if (how == APPLY_UPDATE && have != 0) {
		pthread_mutex_unlock(&write_mu);
		reply_error(r, 404, "no such function (POST /system/functions creates it)", NULL);
		return;
	}
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
	apply(r, &fn, dry, APPLY_ANY);
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

/* A com.openfaas.scale.* label's value (a string, as labels are): an integer
 * for min/max/factor, "true"/"false" for zero. false with an error in errs
 * when it is not one. The label itself stays as written (FunctionStatus reads
 * it back); of_deployment_to_spec turns it into spec.scale. */
static bool scale_label_ok(const char *k, struct json_object *v, bool boolean,
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
		return false;
	}
	t = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (boolean) {
		if (strcmp(t, "true") == 0 || strcmp(t, "false") == 0)
			return true;
		fx_spec_errs_add(errs, NULL, 0, 0, 0, field,
		                 "expected \"true\" or \"false\", got \"%.64s\"", t);
		return false;
	}
	/* Digits only, few enough for int64; the schema checks the range. */
	if (n == 0 || n > 9 || strspn(t, "0123456789") != n) {
		fx_spec_errs_add(errs, NULL, 0, 0, 0, field,
		                 "expected an integer such as \"2\", got \"%.64s\"", t);
		return false;
	}
	return true;
}

/* A parsed FunctionDeployment object (borrowed) as a Function: every bad
 * scale label reported, then of_deployment_to_spec and the schema. */
static int openfaas_object(struct json_object *in, struct fx_function *out,
                           struct fx_spec_errs *errs)
{
	static const char *const sk[] = {"min", "max", "factor", "zero"};
	struct json_object *labels = docker_jget(in, "labels"), *f;
	size_t before = errs->n + errs->dropped;
	char *err = NULL;
	int rc;

	if (labels != NULL && json_object_is_type(labels, json_type_object)) {
		json_object_object_foreach(labels, k, v)
		{
			for (size_t i = 0; i < 4; i++)
				if (strncmp(k, OF_LABEL_SCALE, strlen(OF_LABEL_SCALE)) == 0 &&
				    strcmp(k + strlen(OF_LABEL_SCALE), sk[i]) == 0)
					scale_label_ok(k, v, i == 3, errs);
		}
	}
	if (errs->n + errs->dropped > before)
		return -EINVAL;
	f = of_deployment_to_spec(in, &err);
	if (f == NULL) {
		if (err == NULL)
			return -ENOMEM;
		fx_spec_errs_add(errs, NULL, 0, 0, 0, "", "%s", err);
		free(err);
		return -EINVAL;
	}
	rc = fx_spec_from_json(f, NULL, out, errs);
	json_object_put(f);
	return rc;
}

int api_openfaas_function(const char *body, size_t len, struct fx_function *out,
                          struct fx_spec_errs *errs)
{
	struct json_object *in = NULL;
	char *jerr = NULL;
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
	rc = openfaas_object(in, out, errs);
	json_object_put(in);
	return rc;
}

/* OpenFaaS FunctionDeployment -> our Function, validated by the same schema.
 * POST creates (409 when it exists), PUT updates (404 when it does not). */
static void deploy_openfaas(struct reply *r, const char *body, size_t len, bool create)
{
	struct json_object *in = parse_json_body(r, body, len);
	struct fx_function fn;
	struct fx_spec_errs errs = {0};
	int rc;
	if (in == NULL)
		return;
	if (!ns_body_ours(r, in)) {
		json_object_put(in);
		return;
	}
	rc = openfaas_object(in, &fn, &errs);
	json_object_put(in);
	if (rc < 0) {
		if (rc == -EINVAL)
			reply_spec_errors(r, &errs);
		else
			reply_error(r, 503, "out of memory", NULL);
		fx_spec_errs_release(&errs);
		return;
	}
	apply(r, &fn, false, create ? APPLY_CREATE : APPLY_UPDATE);
	fx_function_release(&fn);
}

static void delete_openfaas(struct reply *r, const char *body, size_t len)
{
	struct json_object *in = parse_json_body(r, body, len);
	if (in == NULL)
		return;
	if (ns_body_ours(r, in))
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
	if (!ns_body_ours(r, in)) {
		json_object_put(in);
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
		/* A function whose spec (com.openfaas.scale.zero-duration) asks for a
		 * longer idle time than the rule's window waits for a later repeat
		 * of the same incident (Alertmanager repeats FunctionIdle). */
		if (a->idle && a->firing &&
		    !alert_idle_long_enough(a, sc.zero_duration_ms, conf.idle_window_ms,
		                            (int64_t)time(NULL))) {
			log_debug("alert_idle_wait",
			          "function=%s zero_duration_ms=%lld starts=%lld", a->function,
			          (long long)sc.zero_duration_ms, (long long)a->starts_s);
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

/* ---- secrets (OpenFaaS API): this install's secrets only (secrets.c) ---- */

#define SECRET_MAX_BYTES   (500 * 1024) /* Docker's limit */
#define SECRET_SWITCH_MS   30000        /* bound on the services' switch to a new version */
#define SECRET_SWITCH_STEP 250

/* The stored functions that mount secret name: 0 with *users (caller frees
 * each and the array) and *n, or a negative errno with *err. */
static int secret_users(const char *name, char ***users, size_t *n, char **err)
{
	struct stored *v = NULL;
	size_t nv = 0;
	char **u;
	int rc = store_list(&ctl->docker, &v, &nv, err);
	if (rc < 0)
		return rc;
	u = calloc(nv ? nv : 1, sizeof(*u));
	*n = 0;
	for (size_t i = 0; u && i < nv; i++)
		for (size_t j = 0; j < v[i].fn.secrets.n; j++)
			if (strcmp(v[i].fn.secrets.v[j], name) == 0 &&
			    (u[*n] = strdup(v[i].fn.name)) != NULL)
				(*n)++;
	stored_list_release(v, nv);
	if (u == NULL)
		return -ENOMEM;
	*users = u;
	return 0;
}

static void free_users(char **u, size_t n)
{
	for (size_t i = 0; u && i < n; i++)
		free(u[i]);
	free(u);
}

/* Does any of our services' spec still mount a secret version other than
 * keep of name? */
static bool old_version_mounted(const struct secret_set *set, const char *name,
                                const struct secret_ver *keep)
{
	struct json_object *svcs = NULL;
	char *err = NULL;
	bool found = false;
	if (observe(&svcs, NULL, &err) < 0) {
		free(err);
		return true; /* cannot tell: assume so */
	}
	for (size_t i = 0; !found && i < json_object_array_length(svcs); i++) {
		struct json_object *sec = docker_jget(
		    docker_jget(docker_jget(docker_jget(json_object_array_get_idx(svcs, i), "Spec"),
		                            "TaskTemplate"),
		                "ContainerSpec"),
		    "Secrets");
		for (size_t j = 0; !found && sec && json_object_is_type(sec, json_type_array) &&
		                   j < json_object_array_length(sec);
		     j++) {
			const char *id = docker_jstr(json_object_array_get_idx(sec, j), "SecretID");
			for (size_t k = 0; k < set->n; k++)
				if (strcmp(set->v[k].name, name) == 0 && &set->v[k] != keep &&
				    strcmp(set->v[k].id, id) == 0)
					found = true;
		}
	}
	json_object_put(svcs);
	return found;
}

/* Every version of name but keep (NULL: all). 0, or the first error. */
static int remove_versions(const struct secret_set *set, const char *name,
                           const struct secret_ver *keep, char **err)
{
	int first = 0;
	for (size_t i = 0; i < set->n; i++) {
		char *e = NULL;
		int rc;
		if (strcmp(set->v[i].name, name) != 0 || &set->v[i] == keep)
			continue;
		rc = secrets_remove(&ctl->docker, &set->v[i], &e);
		if (rc < 0 && rc != -ENOENT && first == 0) {
			first = rc;
			*err = e;
			e = NULL;
		}
		free(e);
	}
	return first;
}

/* The secret's bytes: rawValue (base64, Go's []byte) when given, else value. */
static int secret_data(struct reply *r, struct json_object *in, struct fx_buf *data)
{
	struct json_object *raw = docker_jget(in, "rawValue"), *val = docker_jget(in, "value");
	if (raw != NULL && !json_object_is_type(raw, json_type_null)) {
		if (!json_object_is_type(raw, json_type_string) ||
		    fx_base64_decode(json_object_get_string(raw),
		                     (size_t)json_object_get_string_len(raw), data) < 0) {
			reply_error(r, 400, "rawValue: expected base64 (the secret's bytes)", NULL);
			return -EINVAL;
		}
	} else if (val != NULL && json_object_is_type(val, json_type_string)) {
		if (fx_buf_append(data, json_object_get_string(val),
		                  (size_t)json_object_get_string_len(val)) < 0) {
			reply_error(r, 413, "value: at most 500 KiB", NULL);
			return -E2BIG;
		}
	} else if (val != NULL && !json_object_is_type(val, json_type_null)) {
		reply_error(r, 400, "value: expected a string", NULL);
		return -EINVAL;
	}
	if (data->len == 0) {
		reply_error(r, 400, "value or rawValue: required, 1 byte to 500 KiB", NULL);
		return -EINVAL;
	}
	return 0;
}

static void secrets_list_reply(struct reply *r)
{
	struct secret_set set;
	struct json_object *out;
	char *err = NULL;
	int rc = secrets_load(&ctl->docker, &set, &err);
	if (rc < 0) {
		reply_docker(r, rc, err);
		return;
	}
	out = json_object_new_array();
	for (size_t i = 0; i < set.n; i++) {
		struct json_object *o;
		if (i > 0 && strcmp(set.v[i - 1].name, set.v[i].name) == 0)
			continue; /* one entry per secret, whatever its versions */
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(set.v[i].name));
		json_object_object_add(o, "namespace", json_object_new_string(conf.namespace_));
		json_object_array_add(out, o);
	}
	secret_set_release(&set);
	reply_json(r, 200, out);
}

/* PUT: version n+1, the functions that mount it switched to it (their
 * services roll start-first), then the older versions removed. The secret
 * is never without a version: a failure before the switch leaves the old one
 * in use, one after it leaves both. */
static void secret_update(struct reply *r, const char *name, const struct secret_set *set,
                          const struct fx_buf *data)
{
	struct secret_set after = {0};
	struct secret_ver made;
	const struct secret_ver *keep;
	char **users = NULL, *err = NULL;
	size_t nusers = 0;
	int64_t deadline, version = 0;
	int rc;
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].name, name) == 0 && set->v[i].version > version)
			version = set->v[i].version;
	rc = secrets_create(&ctl->docker, name, version + 1, data->data, data->len, &made, &err);
	if (rc < 0) {
		reply_docker(r, rc, err);
		return;
	}
	log_info("secret_version_created", "secret=%s version=%lld", name, (long long)made.version);
	rc = secret_users(name, &users, &nusers, &err);
	if (rc < 0) {
		reply_docker(r, rc, err);
		return;
	}
	for (size_t i = 0; i < nusers; i++)
		wq_add(ctl->queue, users[i], 0);
	/* The reconcile mounts the newest version; wait (bounded) until no
	 * service's spec mounts an older one, then remove those. write_mu is
	 * held meanwhile (other writes wait): the switch is one service update
	 * per function, well under a second each. */
	rc = secrets_load(&ctl->docker, &after, &err);
	if (rc < 0) {
		free_users(users, nusers);
		reply_docker(r, rc, err);
		return;
	}
	keep = secrets_newest(&after, name);
	deadline = wq_now_ms() + SECRET_SWITCH_MS;
	while (keep != NULL && old_version_mounted(&after, name, keep) && wq_now_ms() < deadline) {
		struct timespec ts = {0, SECRET_SWITCH_STEP * 1000000L};
		nanosleep(&ts, NULL);
	}
	rc = keep != NULL ? remove_versions(&after, name, keep, &err) : 0;
	if (rc < 0) {
		log_warn("secret_old_version_kept", "secret=%s err=\"%s\"", name, err ? err : "");
		free(err);
	}
	log_info("secret_updated", "secret=%s version=%lld functions=%zu", name,
	         (long long)made.version, nusers);
	free_users(users, nusers);
	secret_set_release(&after);
	reply_text(r, 200, "application/json", strdup("{}"));
}

static void secrets(struct reply *r, const char *method, const char *body, size_t len)
{
	struct json_object *in;
	struct secret_set set = {0};
	struct fx_buf data;
	const struct secret_ver *cur;
	const char *name;
	char *err = NULL;
	int rc;
	if (strcmp(method, "GET") == 0) {
		secrets_list_reply(r);
		return;
	}
	in = parse_json_body(r, body, len);
	if (in == NULL)
		return;
	fx_buf_init(&data, SECRET_MAX_BYTES);
	name = docker_jstr(in, "name");
	if (!ns_body_ours(r, in))
		goto out;
	if (!of_secret_name_valid(name)) {
		reply_error(r, 400,
		            "name: expected a secret name (letters, digits, '-', '_', '.', "
		            "starting with a letter or a digit, at most 48)",
		            NULL);
		goto out;
	}
	if (strcmp(method, "DELETE") != 0 && secret_data(r, in, &data) < 0)
		goto out;
	pthread_mutex_lock(&write_mu);
	rc = secrets_load(&ctl->docker, &set, &err);
	if (rc < 0) {
		pthread_mutex_unlock(&write_mu);
		reply_docker(r, rc, err);
		goto out;
	}
	cur = secrets_newest(&set, name);
	if (strcmp(method, "POST") == 0) {
		struct secret_ver made;
		if (cur != NULL) {
			reply_error(r, 409,
			            "secret already exists (PUT /system/secrets updates it)", NULL);
		} else if ((rc = secrets_create(&ctl->docker, name, 1, data.data, data.len, &made,
		                                &err)) < 0) {
			reply_docker(r, rc, err);
		} else {
			log_info("secret_created", "secret=%s", name);
			reply_text(r, 201, "application/json", strdup("{}"));
		}
	} else if (cur == NULL) {
		reply_error(r, 404, "no such secret", NULL);
	} else if (strcmp(method, "PUT") == 0) {
		secret_update(r, name, &set, &data);
	} else {
		char **users = NULL;
		size_t nusers = 0;
		rc = secret_users(name, &users, &nusers, &err);
		if (rc < 0) {
			reply_docker(r, rc, err);
		} else if (nusers > 0) {
			char msg[200];
			snprintf(msg, sizeof(msg), "secret is in use by function %s (and %zu more)",
			         users[0], nusers - 1);
			reply_error(r, 409, msg, NULL);
		} else if ((rc = remove_versions(&set, name, NULL, &err)) < 0) {
			if (rc == -EINVAL || rc == -EIO) /* Docker: in use by a service */
				rc = -EEXIST;
			reply_docker(r, rc, err);
		} else {
			log_info("secret_deleted", "secret=%s", name);
			reply_text(r, 200, "application/json", strdup("{}"));
		}
		free_users(users, nusers);
	}
	pthread_mutex_unlock(&write_mu);
out:
	secret_set_release(&set);
	fx_buf_release(&data);
	json_object_put(in);
}

static void info(struct reply *r)
{
	struct json_object *o = json_object_new_object(), *p = json_object_new_object(),
	                   *v = json_object_new_object();
	struct utsname u;
	json_object_object_add(v, "release", json_object_new_string(FX_RELEASE));
	json_object_object_add(v, "sha", json_object_new_string(FX_GIT_SHA));
	json_object_object_add(p, "provider", json_object_new_string("faas-controller"));
	json_object_object_add(p, "orchestration", json_object_new_string("swarm"));
	json_object_object_add(p, "version", json_object_get(v));
	json_object_object_add(o, "provider", p);
	json_object_object_add(o, "version", v);
	json_object_object_add(o, "arch", json_object_new_string(uname(&u) == 0 ? u.machine : ""));
	reply_json(r, 200, o);
}

/* ---- logs: GET /system/logs?name=&namespace=&tail=&since=&follow= ----
 * A thread reads Docker's multiplexed log stream of the function's service
 * and turns each frame into one line of newline-delimited JSON (the
 * faas-provider logs Message); the connection's own thread (libmicrohttpd
 * runs one per connection) sends each line as soon as it is made. The stream
 * ends when Docker's does (follow=false), or when the client leaves. */

#define LOGS_OUT_MAX (1u << 20) /* lines made and not sent yet: Docker waits past it */

struct logs_stream {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fx_buf raw; /* Docker's bytes not made into lines yet */
	struct fx_buf out; /* lines ready for the client */
	size_t out_off;
	bool done;         /* the Docker stream ended */
	volatile int gone; /* the client left (or the response was freed) */
	int refs;          /* the thread and the response */
	int client_fd;
	char name[FX_SPEC_MAX_NAME + 1];
	char path[512];
};

static void logs_unref(struct logs_stream *s)
{
	bool last;
	pthread_mutex_lock(&s->mu);
	last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	fx_buf_release(&s->raw);
	fx_buf_release(&s->out);
	free(s);
}

/* Frames [stream, 0, 0, 0, size (4 bytes, big-endian)] payload, each
 * "<RFC 3339 timestamp> <attributes> <text>" (timestamps=1, details=1).
 * Lock held. */
static int logs_lines(struct logs_stream *s)
{
	size_t off = 0;
	while (off + 8 <= s->raw.len) {
		const unsigned char *h = (const unsigned char *)s->raw.data + off;
		size_t size = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
		char *line, *attrs, *text, *task, inst[80] = "";
		struct json_object *o;
		if (size > (1u << 20))
			return -EIO; /* not a frame Docker would send */
		if (off + 8 + size > s->raw.len)
			break;
		line = strndup(s->raw.data + off + 8, size);
		if (line == NULL)
			return -ENOMEM;
		attrs = strchr(line, ' ');
		if (attrs)
			*attrs++ = '\0';
		text = attrs ? strchr(attrs, ' ') : NULL;
		if (text)
			*text++ = '\0';
		task = attrs ? strstr(attrs, "com.docker.swarm.task.id=") : NULL;
		if (task != NULL)
			snprintf(inst, sizeof(inst), "%.*s", (int)strcspn(task + 25, ", "),
			         task + 25);
		if (text) {
			size_t tl = strlen(text);
			while (tl > 0 && (text[tl - 1] == '\n' || text[tl - 1] == '\r'))
				text[--tl] = '\0';
		}
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(s->name));
		json_object_object_add(o, "namespace", json_object_new_string(conf.namespace_));
		json_object_object_add(o, "instance", json_object_new_string(inst));
		json_object_object_add(o, "timestamp", json_object_new_string(line));
		json_object_object_add(o, "text", json_object_new_string(text ? text : ""));
		fx_buf_appendf(&s->out, "%s\n",
		               json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		free(line);
		off += 8 + size;
	}
	if (off > 0) {
		memmove(s->raw.data, s->raw.data + off, s->raw.len - off);
		s->raw.len -= off;
	}
	return 0;
}

static int on_logs(const char *p, size_t n, void *arg)
{
	struct logs_stream *s = arg;
	int rc = 0;
	pthread_mutex_lock(&s->mu);
	/* The client reads slower than Docker writes: wait for it. */
	while (!s->gone && s->out.len - s->out_off > LOGS_OUT_MAX)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->gone || fx_buf_append(&s->raw, p, n) < 0 || logs_lines(s) < 0)
		rc = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static void *logs_thread(void *arg)
{
	struct logs_stream *s = arg;
	char *err = NULL;
	int rc = docker_stream(&ctl->docker, s->path, on_logs, s, &s->gone, &err);
	if (rc < 0)
		log_warn("logs_failed", "function=%s err=\"%s\"", s->name, err ? err : "");
	free(err);
	pthread_mutex_lock(&s->mu);
	s->done = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	logs_unref(s);
	return NULL;
}

/* Has the client hung up? (It sends nothing more after its request.) */
static bool client_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static ssize_t logs_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct logs_stream *s = cls;
	size_t n;
	(void)pos;
	pthread_mutex_lock(&s->mu);
	while (s->out.len == s->out_off && !s->done) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (client_gone(s->client_fd)) {
			s->gone = 1;
			pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&s->mu);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	if (s->out.len == s->out_off) {
		pthread_mutex_unlock(&s->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = s->out.len - s->out_off;
	if (n > max)
		n = max;
	memcpy(buf, s->out.data + s->out_off, n);
	s->out_off += n;
	if (s->out_off == s->out.len)
		s->out.len = s->out_off = 0;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return (ssize_t)n;
}

static void logs_free(void *cls)
{
	struct logs_stream *s = cls;
	pthread_mutex_lock(&s->mu);
	s->gone = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	logs_unref(s);
}

/* The id of our service of function name: 0, -ENOENT (none, or not ours). */
static int service_id(const char *name, char *id, size_t n, char **err)
{
	struct json_object *svcs = NULL, *one;
	char path[512],
	    *q = docker_filters("name", name, "label", FX_LABEL_MANAGED_BY "=" FX_MANAGED_BY,
	                        "label", store_network_label(), (const char *)NULL);
	int rc;
	if (q == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/services%s", q);
	free(q);
	rc = docker_call(&ctl->docker, "GET", path, NULL, &svcs, err);
	if (rc < 0)
		return rc;
	one = service_named(svcs, name); /* the name filter matches prefixes */
	rc = one != NULL && docker_jstr(one, "ID")[0] != '\0' ? 0 : -ENOENT;
	if (rc == 0)
		snprintf(id, n, "%s", docker_jstr(one, "ID"));
	json_object_put(svcs);
	return rc;
}

static void logs(struct reply *r, struct MHD_Connection *conn)
{
	const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
	const char *tail = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tail");
	const char *since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	const char *follow = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "follow");
	const union MHD_ConnectionInfo *ci;
	struct logs_stream *s;
	char *err = NULL, id[96], tailbuf[24] = "all";
	int64_t t = -1, sn = 0;
	bool fol;
	pthread_t th;
	int rc;
	if (name == NULL || !fx_spec_valid_name(name)) {
		reply_error(r, 400, "name: expected a function name", NULL);
		return;
	}
	if (tail != NULL && *tail != '\0' && fx_parse_int(tail, -1, 1000000, &t) < 0) {
		reply_error(r, 400,
		            "tail: expected an integer (-1 or 0: all lines, at most 1000000)",
		            NULL);
		return;
	}
	if (t > 0)
		snprintf(tailbuf, sizeof(tailbuf), "%lld", (long long)t);
	if (since != NULL && *since != '\0' && of_parse_since(since, &sn) < 0) {
		reply_error(r, 400,
		            "since: expected RFC 3339 (2006-01-02T15:04:05Z) or Unix seconds",
		            NULL);
		return;
	}
	if (follow != NULL && *follow != '\0' && strcmp(follow, "true") != 0 &&
	    strcmp(follow, "false") != 0 && strcmp(follow, "1") != 0 && strcmp(follow, "0") != 0) {
		reply_error(r, 400, "follow: expected true or false", NULL);
		return;
	}
	fol = follow != NULL && (strcmp(follow, "true") == 0 || strcmp(follow, "1") == 0);
	/* Only a function's logs: our service of that name, not any service. */
	rc = service_id(name, id, sizeof(id), &err);
	if (rc == -ENOENT) {
		free(err);
		reply_error(r, 404, "no such function", NULL);
		return;
	}
	if (rc < 0) {
		reply_docker(r, rc, err);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		reply_error(r, 503, "out of memory", NULL);
		return;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	fx_buf_init(&s->raw, 2u << 20);
	fx_buf_init(&s->out, LOGS_OUT_MAX + (2u << 20));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->path, sizeof(s->path),
	         "/services/%s/logs?stdout=1&stderr=1&timestamps=1&details=1&tail=%s&since=%lld"
	         "&follow=%d",
	         id, tailbuf, (long long)sn, fol);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	s->client_fd = ci ? ci->connect_fd : -1;
	s->refs = 2;
	r->resp =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, logs_read, s, logs_free);
	if (r->resp == NULL || pthread_create(&th, NULL, logs_thread, s) != 0) {
		if (r->resp != NULL) {
			MHD_destroy_response(r->resp); /* logs_free drops one reference */
			r->resp = NULL;
		} else {
			s->refs--;
		}
		logs_unref(s);
		reply_error(r, 503, "out of memory", NULL);
		return;
	}
	pthread_detach(th);
	r->status = 200;
	r->type = "application/x-ndjson";
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
	if (strcmp(url, "/system/namespaces") == 0) {
		if (get)
			namespaces(r);
		else
			reply_error(r, 405, "method not allowed (GET)", NULL);
		return;
	}
	/* Every OpenFaaS route below takes ?namespace= (only ours exists). */
	if (strncmp(url, "/system/", 8) == 0 && strcmp(url, "/system/alert") != 0 &&
	    strcmp(url, "/system/info") != 0 &&
	    !ns_ours(r, MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "namespace")))
		return;
	if (strcmp(url, "/system/functions") == 0) {
		if (get)
			get_functions(r, true);
		else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
			deploy_openfaas(r, body, len, strcmp(method, "POST") == 0);
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
	if (r.resp != NULL) {
		MHD_add_response_header(r.resp, "Content-Type", r.type);
		ret = MHD_queue_response(conn, r.status, r.resp);
		MHD_destroy_response(r.resp);
		log_debug("request", "method=%s path=%s status=%u", method, url, r.status);
		return ret;
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
