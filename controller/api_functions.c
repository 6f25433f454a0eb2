/* api_functions.c: the functions as the API shows them (reading the
 * services and tasks) and the writes: apply (create, configure, dry-run
 * diff), PUT and DELETE of one function. */
#include "controller.h"

#include "diff.h"
#include "log.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading state ---- */

int api_observe(struct json_object **svcs, struct json_object **tasks, char **err)
{
	char *q = docker_filters("label", FX_LABEL_MANAGED_BY "=" FX_MANAGED_BY, "label",
	                         store_network_label(), (const char *)NULL),
	     path[512];
	int rc;
	if (q == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/services%s&status=true", q);
	rc = docker_call(&api_ctl->docker, "GET", path, NULL, svcs, err);
	if (rc < 0) {
		free(q);
		return rc;
	}
	if (tasks != NULL) {
		/* A task matches its service's labels: only our services' tasks,
		 * not every task of a shared swarm (time and memory of each list). */
		snprintf(path, sizeof(path), "/tasks%s", q);
		rc = docker_call(&api_ctl->docker, "GET", path, NULL, tasks, err);
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

struct json_object *api_service_named(struct json_object *svcs, const char *name)
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
	bool has_err = ctl_get_error(api_ctl, s->fn.name, errbuf, sizeof(errbuf));
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
	return of_function_status(&s->fn, api_cfg.namespace_, s->created, replicas,
	                          running ? json_object_get_int64(running) : 0,
	                          svc != NULL && replicas == 0);
}

void api_get_functions(struct reply *r, bool openfaas)
{
	struct stored *v = NULL;
	size_t n = 0;
	struct json_object *svcs = NULL, *tasks = NULL, *items;
	char *err = NULL;
	int rc = store_list(&api_ctl->docker, &v, &n, &err);
	if (rc < 0 || (rc = api_observe(&svcs, openfaas ? NULL : &tasks, &err)) < 0) {
		stored_list_release(v, n);
		api_reply_docker(r, rc, err);
		return;
	}
	items = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *svc = api_service_named(svcs, v[i].fn.name);
		json_object_array_add(items, openfaas ? openfaas_json(&v[i], svc)
		                                      : function_json(&v[i], svc, tasks, NULL));
	}
	stored_list_release(v, n);
	json_object_put(svcs);
	json_object_put(tasks);
	malloc_trim(0); /* a list of many functions leaves a large free heap */
	if (openfaas) {
		api_reply_json(r, 200, items);
	} else {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "apiVersion", json_object_new_string("faas/v1"));
		json_object_object_add(o, "kind", json_object_new_string("FunctionList"));
		json_object_object_add(o, "items", items);
		api_reply_json(r, 200, o);
	}
}

void api_get_function(struct reply *r, const char *name, bool openfaas)
{
	struct stored s;
	struct json_object *svc = NULL, *tasks = NULL, *nodes = NULL;
	char *err = NULL, path[256];
	int rc;
	if (!fx_spec_valid_name(name)) {
		api_reply_error(r, 404, "no such function (not a valid name)", NULL);
		return;
	}
	rc = store_get(&api_ctl->docker, name, &s, &err);
	if (rc == -ENOENT) {
		free(err);
		api_reply_error(r, 404, "no such function", NULL);
		return;
	}
	if (rc < 0) {
		api_reply_docker(r, rc, err);
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
	rc = docker_call(&api_ctl->docker, "GET", path, NULL, &svc, &err);
	if (rc >= 0 && !openfaas && api_service_named(svc, name) != NULL) {
		char *q = docker_filters("service", name, (const char *)NULL);
		snprintf(path, sizeof(path), "/tasks%s", q ? q : "");
		free(q);
		rc = docker_call(&api_ctl->docker, "GET", path, NULL, &tasks, &err);
		/* The nodes' host names for the tasks (one function's page): without
		 * them the tasks show only node IDs. Not an error when it fails. */
		if (rc >= 0) {
			char *nerr = NULL;
			if (docker_call(&api_ctl->docker, "GET", "/nodes", NULL, &nodes, &nerr) < 0)
				nodes = NULL;
			free(nerr);
		}
	}
	if (rc < 0) {
		stored_release(&s);
		json_object_put(svc);
		json_object_put(nodes);
		api_reply_docker(r, rc, err);
		return;
	}
	{
		struct json_object *one = api_service_named(svc, name);
		const char *net =
		    one ? svc_label(docker_jget(one, "Spec"), CTL_LABEL_NETWORK) : NULL;
		if (net == NULL || strcmp(net, api_ctl->network) != 0)
			one = NULL; /* someone else's service of that name */
		api_reply_json(r, 200,
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
	int rc = docker_call(&api_ctl->docker, "GET", path, NULL, &c, &err);
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
void api_get_endpoints(struct reply *r, const char *name)
{
	struct json_object *tasks = NULL, *o;
	char *err = NULL, *q, path[256];
	int rc;
	if (!fx_spec_valid_name(name)) {
		api_reply_error(r, 404, "no such function (not a valid name)", NULL);
		return;
	}
	q = docker_filters("service", name, "desired-state", "running", (const char *)NULL);
	if (q == NULL) {
		api_reply_error(r, 500, "out of memory", NULL);
		return;
	}
	snprintf(path, sizeof(path), "/tasks%s", q);
	free(q);
	rc = docker_call(&api_ctl->docker, "GET", path, NULL, &tasks, &err);
	if (rc < 0) {
		api_reply_docker(r, rc, err);
		return;
	}
	free(err);
	o = json_object_new_object();
	json_object_object_add(o, "apiVersion", json_object_new_string("faas/v1"));
	json_object_object_add(o, "kind", json_object_new_string("Endpoints"));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(
	    o, "addresses",
	    status_endpoints(tasks, name, api_ctl->network, container_started, NULL));
	json_object_put(tasks);
	api_reply_json(r, 200, o);
}

/* ---- writes ---- */

void api_apply(struct reply *r, const struct fx_function *fn, bool dry, enum apply_how how)
{
	bool openfaas = how != APPLY_ANY;
	struct stored prev;
	char *err = NULL, *now_text, *prev_text = NULL;
	int rc, have;
	int64_t gen = 0;
	bool unchanged;
	char created[40] = "";

	pthread_mutex_lock(&api_write_mu);
	have = store_get(&api_ctl->docker, fn->name, &prev, &err);
	if (have < 0 && have != -ENOENT) {
		pthread_mutex_unlock(&api_write_mu);
		api_reply_docker(r, have, err);
		return;
	}
	free(err);
	err = NULL;
	if (how == APPLY_CREATE && have == 0) {
		char msg[200];
		pthread_mutex_unlock(&api_write_mu);
		stored_release(&prev);
		snprintf(msg, sizeof(msg),
		         "function %s already exists (PUT /system/functions updates it)", fn->name);
		api_reply_error(r, 409, msg, NULL);
		return;
	}
	if (how == APPLY_UPDATE && have != 0) {
		pthread_mutex_unlock(&api_write_mu);
		api_reply_error(r, 404, "no such function (POST /system/functions creates it)",
		                NULL);
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
		struct fx_buf d;
		fx_buf_init(&d, 16u << 20);
		fx_diff(prev_text ? prev_text : "", now_text ? now_text : "", "live", "applied", 3,
		        &d);
		json_object_object_add(o, "result", json_object_new_string(r->result));
		json_object_object_add(o, "diff", json_object_new_string(d.data ? d.data : ""));
		fx_buf_release(&d);
		api_reply_json(r, have != 0 ? 201 : 200, o);
		goto out;
	}
	if (unchanged) {
		gen = prev.generation;
		snprintf(created, sizeof(created), "%s", prev.created);
	} else {
		rc = store_put(&api_ctl->docker, fn, have == 0 ? &prev : NULL, &gen, created, &err);
		if (rc < 0) {
			api_reply_docker(r, rc, err);
			goto out;
		}
		log_info("function_applied", "function=%s generation=%lld result=%s", fn->name,
		         (long long)gen, r->result);
	}
	ctl_cache_scale(api_ctl, fn->name, &fn->scale);
	wq_add(api_ctl->queue, fn->name, 0);
	if (openfaas) {
		api_reply_text(r, 202, "application/json", strdup("{}"));
	} else {
		struct stored now = {.generation = gen};
		now.fn = *fn;
		snprintf(now.created, sizeof(now.created), "%s", created);
		api_reply_json(r, have != 0 ? 201 : 200, function_json(&now, NULL, NULL, NULL));
	}
out:
	pthread_mutex_unlock(&api_write_mu);
	if (have == 0)
		stored_release(&prev);
	free(now_text);
	free(prev_text);
}

void api_put_function(struct reply *r, const char *name, const char *body, size_t len, bool dry)
{
	struct fx_function fn;
	struct fx_spec_errs errs = {0};
	int rc;
	if (!fx_spec_valid_name(name)) {
		api_reply_error(
		    r, 400,
		    "the name in the path is not a DNS-1123 label (lower-case letters, digits "
		    "and '-', at most 63)",
		    NULL);
		return;
	}
	rc = fx_spec_load_one(body ? body : "", len, NULL, &fn, &errs);
	if (rc == -ENOMEM) {
		fx_spec_errs_release(&errs);
		api_reply_error(r, 503, "out of memory", NULL);
		return;
	}
	if (rc < 0) {
		api_reply_spec_errors(r, &errs);
		return;
	}
	if (strcmp(fn.name, name) != 0) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "metadata.name \"%s\" differs from the name in the path \"%s\"", fn.name,
		         name);
		fx_function_release(&fn);
		api_reply_error(r, 409, msg, NULL);
		return;
	}
	api_apply(r, &fn, dry, APPLY_ANY);
	fx_function_release(&fn);
}

void api_delete_function(struct reply *r, const char *name, bool openfaas)
{
	char *err = NULL;
	int rc;
	if (!fx_spec_valid_name(name)) {
		api_reply_error(r, 404, "no such function", NULL);
		return;
	}
	pthread_mutex_lock(&api_write_mu);
	rc = store_delete(&api_ctl->docker, name, &err);
	pthread_mutex_unlock(&api_write_mu);
	if (rc == -ENOENT) {
		free(err);
		api_reply_error(r, 404, "no such function", NULL);
		return;
	}
	if (rc < 0) {
		api_reply_docker(r, rc, err);
		return;
	}
	log_info("function_deleted", "function=%s", name);
	ctl_cache_scale(api_ctl, name, NULL);
	wq_add(api_ctl->queue, name, 0);
	if (openfaas) {
		api_reply_text(r, 202, "application/json", strdup("{}"));
	} else {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "result", json_object_new_string("deleted"));
		api_reply_json(r, 200, o);
	}
}
