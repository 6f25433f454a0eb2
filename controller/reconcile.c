/* reconcile.c: level-triggered reconcile of one function key, the periodic
 * resync, and the Docker /events watcher that wakes both. */
#include "controller.h"

#include "buf.h"
#include "log.h"

#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UPDATE_RETRIES   5
#define REPAIR_WINDOW_MS 10000

/* ---- repair storms ----
 * Two controllers with different settings on one swarm would undo each
 * other's repairs forever. A second repair of the same generation within
 * REPAIR_WINDOW_MS is refused as an error, so the key backs off (100 ms
 * doubling to 60 s) and Degraded says why. */
static pthread_mutex_t repairs_mu = PTHREAD_MUTEX_INITIALIZER;
static struct repair {
	char name[FX_SPEC_MAX_NAME + 1];
	int64_t at_ms;
} repairs[256];

static bool repair_allowed(const char *name, int64_t now)
{
	bool ok = true;
	size_t i, oldest = 0;
	pthread_mutex_lock(&repairs_mu);
	for (i = 0; i < 256; i++) {
		if (strcmp(repairs[i].name, name) == 0)
			break;
		if (repairs[i].at_ms < repairs[oldest].at_ms)
			oldest = i;
	}
	if (i == 256) {
		i = oldest;
		snprintf(repairs[i].name, sizeof(repairs[i].name), "%s", name);
		repairs[i].at_ms = 0;
	}
	if (repairs[i].at_ms != 0 && now - repairs[i].at_ms < REPAIR_WINDOW_MS)
		ok = false;
	else
		repairs[i].at_ms = now;
	pthread_mutex_unlock(&repairs_mu);
	return ok;
}

/* ---- per-function memory: last error (for Degraded), scale settings ----
 * Two small tables under c->mu, arrays of records that each start with the
 * function's name; these helpers serve both. */

/* The record of name in v[0..n), NULL if absent. */
static void *slot_find(void *v, size_t n, size_t elem, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		char *rec = (char *)v + i * elem;
		if (strcmp(rec, name) == 0)
			return rec;
	}
	return NULL;
}

/* Sets (rec != NULL: elem bytes, name first) or removes (rec NULL) name's record. */
static void slot_set(void **v, size_t *n, size_t elem, const char *name, const void *rec)
{
	char *at = slot_find(*v, *n, elem, name);
	if (rec == NULL) {
		if (at != NULL) {
			char *last = (char *)*v + (*n - 1) * elem;
			if (at != last)
				memcpy(at, last, elem);
			(*n)--;
		}
		return;
	}
	if (at == NULL && *n < CTL_MAX_FUNCTIONS) {
		char *nv = realloc(*v, (*n + 1) * elem);
		if (nv == NULL)
			return; /* the memory is advisory: a status loses its message */
		*v = nv;
		at = nv + (*n)++ * elem;
	}
	if (at != NULL)
		memcpy(at, rec, elem);
}

/* Copies name's record in the table *v (*n records) into out; false if absent. */
static bool slot_get(struct ctl *c, void *const *v, const size_t *n, size_t elem, const char *name,
                     void *out)
{
	void *at;
	pthread_mutex_lock(&c->mu);
	at = slot_find(*v, *n, elem, name);
	if (at != NULL)
		memcpy(out, at, elem);
	pthread_mutex_unlock(&c->mu);
	return at != NULL;
}

_Static_assert(offsetof(struct ctl_err, name) == 0, "slot records start with the name");
_Static_assert(offsetof(struct ctl_scale, name) == 0, "slot records start with the name");

void ctl_set_error(struct ctl *c, const char *name, const char *msg)
{
	struct ctl_err e;
	snprintf(e.name, sizeof(e.name), "%s", name);
	snprintf(e.msg, sizeof(e.msg), "%s", msg ? msg : "");
	pthread_mutex_lock(&c->mu);
	slot_set((void **)&c->errors, &c->nerrors, sizeof(e), name, msg ? &e : NULL);
	pthread_mutex_unlock(&c->mu);
}

bool ctl_get_error(struct ctl *c, const char *name, char *buf, size_t n)
{
	struct ctl_err e;
	if (!slot_get(c, (void *const *)&c->errors, &c->nerrors, sizeof(e), name, &e))
		return false;
	snprintf(buf, n, "%s", e.msg);
	return true;
}

void ctl_cache_scale(struct ctl *c, const char *name, const struct fx_scale *s)
{
	struct ctl_scale r;
	snprintf(r.name, sizeof(r.name), "%s", name);
	if (s != NULL)
		r.scale = *s;
	pthread_mutex_lock(&c->mu);
	slot_set((void **)&c->scales, &c->nscales, sizeof(r), name, s ? &r : NULL);
	pthread_mutex_unlock(&c->mu);
}

bool ctl_cached_scale(struct ctl *c, const char *name, struct fx_scale *out)
{
	struct ctl_scale r;
	if (!slot_get(c, (void *const *)&c->scales, &c->nscales, sizeof(r), name, &r))
		return false;
	*out = r.scale;
	return true;
}

int reconcile_ensure_network(struct ctl *c, char **err)
{
	char path[256];
	struct json_object *net = NULL, *body, *reply = NULL;
	int rc;
	snprintf(path, sizeof(path), "/networks/%s", c->network);
	rc = docker_call(&c->docker, "GET", path, NULL, &net, err);
	if (rc >= 0 && strcmp(docker_jstr(net, "Name"), c->network) == 0) {
		if (strcmp(docker_jstr(net, "Driver"), "overlay") != 0 ||
		    strcmp(docker_jstr(net, "Scope"), "swarm") != 0) {
			*err = strdup(
			    "the functions' network exists but is not a swarm overlay network");
			json_object_put(net);
			return -EINVAL;
		}
		pthread_mutex_lock(&c->mu);
		snprintf(c->network_id, sizeof(c->network_id), "%s", docker_jstr(net, "Id"));
		pthread_mutex_unlock(&c->mu);
		json_object_put(net);
		return 0;
	}
	json_object_put(net);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	free(*err);
	*err = NULL;
	body = json_object_new_object();
	json_object_object_add(body, "Name", json_object_new_string(c->network));
	json_object_object_add(body, "Driver", json_object_new_string("overlay"));
	json_object_object_add(body, "Attachable", json_object_new_boolean(1));
	json_object_object_add(body, "CheckDuplicate", json_object_new_boolean(1));
	rc = docker_call(&c->docker, "POST", "/networks/create",
	                 json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), &reply, err);
	json_object_put(body);
	if (rc >= 0) {
		pthread_mutex_lock(&c->mu);
		snprintf(c->network_id, sizeof(c->network_id), "%s", docker_jstr(reply, "Id"));
		pthread_mutex_unlock(&c->mu);
		log_info("network_created", "network=%s id=%s", c->network,
		         docker_jstr(reply, "Id"));
		json_object_put(reply);
		return 0;
	}
	if (rc == -EEXIST) { /* created meanwhile by someone else */
		free(*err);
		*err = NULL;
		return reconcile_ensure_network(c, err);
	}
	return rc;
}

static int network_id(struct ctl *c, char *out, size_t n, char **err)
{
	pthread_mutex_lock(&c->mu);
	snprintf(out, n, "%s", c->network_id);
	pthread_mutex_unlock(&c->mu);
	if (out[0] != '\0')
		return 0;
	int rc = reconcile_ensure_network(c, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->mu);
	snprintf(out, n, "%s", c->network_id);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* This controller's secrets, the newest version of each (secrets.c): only
 * those may be mounted. Caller releases set. */
struct secrets {
	struct secret_set set;
	const char *names[1024];
	const char *ids[1024];
	const char *refs[1024];
	size_t n;
};

static int load_secrets(struct ctl *c, struct secrets *s, char **err)
{
	int rc = secrets_load(&c->docker, &s->set, err);
	s->n = 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < s->set.n && s->n < 1024; i++) {
		const struct secret_ver *v = &s->set.v[i];
		if (s->n > 0 && strcmp(s->names[s->n - 1], v->name) == 0)
			continue; /* an older version */
		s->names[s->n] = v->name;
		s->ids[s->n] = v->id;
		s->refs[s->n++] = v->docker_name;
	}
	return 0;
}

static int list_services(struct ctl *c, const char *label, struct json_object **out, char **err)
{
	char *q =
	         docker_filters("label", label, "label", store_network_label(), (const char *)NULL),
	     path[512];
	int rc;
	if (q == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/services%s", q);
	free(q);
	rc = docker_call(&c->docker, "GET", path, NULL, out, err);
	if (rc >= 0 && (*out == NULL || !json_object_is_type(*out, json_type_array))) {
		json_object_put(*out);
		*out = NULL;
		*err = strdup("docker GET /services: expected a list");
		return -EIO;
	}
	return rc < 0 ? rc : 0;
}

static bool is_managed(struct json_object *svc)
{
	const char *m = svc_label(docker_jget(svc, "Spec"), FX_LABEL_MANAGED_BY);
	return m != NULL && strcmp(m, FX_MANAGED_BY) == 0;
}

static bool same_generation(struct json_object *svc, const char *gen)
{
	const char *g = svc_label(docker_jget(svc, "Spec"), FX_LABEL_GENERATION);
	return g != NULL && strcmp(g, gen) == 0;
}

enum action { ACT_NONE, ACT_CREATE, ACT_UPDATE, ACT_SCALE };

/* What a function needs, and the spec to send (caller puts *spec). */
static enum action decide(const struct stored *want, struct json_object *svc,
                          const struct svc_ctx *ctx, struct json_object **spec,
                          const char **missing)
{
	struct json_object *obs = docker_jget(svc, "Spec");
	int64_t cur = svc ? svc_replicas(obs) : -1;
	int64_t r = svc ? svc_clamp(&want->fn.scale, cur < 0 ? want->fn.scale.min : cur)
	                : want->fn.scale.min;
	char *k1, *k2;
	enum action a;
	*spec = svc_build(&want->fn, ctx, r, missing);
	if (*spec == NULL)
		return ACT_NONE;
	if (svc == NULL)
		return ACT_CREATE;
	k1 = svc_drift_key(*spec);
	k2 = svc_drift_key(obs);
	a = (k1 == NULL || k2 == NULL || strcmp(k1, k2) != 0) ? ACT_UPDATE
	    : (r != cur)                                      ? ACT_SCALE
	                                                      : ACT_NONE;
	free(k1);
	free(k2);
	return a;
}

static int update_service(struct ctl *c, const char *id, int64_t version, struct json_object *spec,
                          char **err)
{
	char path[256];
	struct json_object *reply = NULL;
	int rc;
	snprintf(path, sizeof(path), "/services/%s/update?version=%lld", id, (long long)version);
	rc = docker_call(&c->docker, "POST", path,
	                 json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN), &reply, err);
	if (rc >= 0) {
		struct json_object *w = docker_jget(reply, "Warnings");
		for (size_t i = 0; w && json_object_is_type(w, json_type_array) &&
		                   i < json_object_array_length(w);
		     i++)
			log_warn("docker_warning", "service=%s warning=\"%s\"", id,
			         json_object_get_string(json_object_array_get_idx(w, i)));
	}
	json_object_put(reply);
	return rc < 0 ? rc : 0;
}

static int64_t version_of(struct json_object *svc)
{
	return json_object_get_int64(docker_jget(docker_jget(svc, "Version"), "Index"));
}

int reconcile_one(struct ctl *c, const char *name)
{
	struct stored want;
	struct json_object *svcs = NULL, *svc = NULL;
	struct secrets sec = {0};
	char sel[128], netid[80], gen[24], *err = NULL;
	int rc, have;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	metrics_inc(M_RECONCILES);
	have = store_get(&c->docker, name, &want, &err);
	if (have < 0 && have != -ENOENT) {
		rc = have;
		goto fail;
	}
	free(err);
	err = NULL;
	ctl_cache_scale(c, name, have == 0 ? &want.fn.scale : NULL);
	snprintf(sel, sizeof(sel), "%s=%s", FX_LABEL_FUNCTION, name);
	rc = list_services(c, sel, &svcs, &err);
	if (rc < 0)
		goto fail_want;
	/* Managed services of this function: keep the one named after it (if wanted). */
	for (size_t i = 0; i < json_object_array_length(svcs); i++) {
		struct json_object *s = json_object_array_get_idx(svcs, i);
		const char *sname = docker_jstr(docker_jget(s, "Spec"), "Name");
		char path[256];
		if (!is_managed(s))
			continue;
		if (have == 0 && strcmp(sname, name) == 0) {
			svc = s;
			continue;
		}
		snprintf(path, sizeof(path), "/services/%s", docker_jstr(s, "ID"));
		rc = docker_call(&c->docker, "DELETE", path, NULL, NULL, &err);
		if (rc < 0 && rc != -ENOENT)
			goto fail_want;
		free(err);
		err = NULL;
		metrics_inc(M_SERVICE_DELETES);
		log_info("service_removed", "function=%s service=%s reason=%s", name, sname,
		         have == 0 ? "renamed" : "no_definition");
	}
	rc = 0;
	if (have != 0) {
		ctl_set_error(c, name, NULL);
		goto done;
	}
	if (have == 0 && want.generation > 0 && want.nconfigs > 1)
		store_prune_old(&c->docker, name, want.generation);
	rc = network_id(c, netid, sizeof(netid), &err);
	if (rc < 0)
		goto fail_want;
	if (want.fn.secrets.n > 0 && (rc = load_secrets(c, &sec, &err)) < 0)
		goto fail_want;
	snprintf(gen, sizeof(gen), "%lld", (long long)want.generation);
	for (int attempt = 0; attempt < UPDATE_RETRIES; attempt++) {
		struct svc_ctx ctx = {.network_id = netid,
		                      .network_name = c->network,
		                      .generation = gen,
		                      .secret_names = sec.names,
		                      .secret_ids = sec.ids,
		                      .secret_refs = sec.refs,
		                      .nsecrets = sec.n};
		struct json_object *spec = NULL, *reply = NULL;
		const char *missing = NULL;
		enum action a = decide(&want, svc, &ctx, &spec, &missing);
		if (spec == NULL) {
			if (missing != NULL) {
				rc = -ENOENT;
				if (asprintf(&err,
				             "secret \"%s\" not found (create it with POST "
				             "/system/secrets, or label a Docker "
				             "secret " CTL_LABEL_SECRET "=%s " CTL_LABEL_NETWORK
				             "=%s)",
				             missing, missing, c->network) < 0)
					err = NULL;
			} else {
				rc = -ENOMEM;
			}
			goto fail_want;
		}
		if (a == ACT_CREATE) {
			rc = docker_call(
			    &c->docker, "POST", "/services/create",
			    json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN), &reply,
			    &err);
			json_object_put(reply);
			if (rc == -EEXIST) {
				char *e2 = NULL;
				if (asprintf(
				        &e2,
				        "a service named \"%s\" exists and is not managed by "
				        "this controller (unmanaged, or on another network): %s",
				        name, err ? err : "") >= 0) {
					free(err);
					err = e2;
				}
			} else if (rc >= 0) {
				rc = 0;
				metrics_inc(M_SERVICE_CREATES);
				log_info("service_created",
				         "function=%s generation=%s replicas=%lld", name, gen,
				         (long long)want.fn.scale.min);
			}
		} else if (a == ACT_UPDATE && attempt == 0 && same_generation(svc, gen) &&
		           !repair_allowed(name, fx_now_ms())) {
			rc = -EBUSY;
			if (asprintf(
			        &err,
			        "service \"%s\" drifted again right after a repair: is another "
			        "controller with other settings managing this swarm?",
			        name) < 0)
				err = NULL;
		} else if (a == ACT_UPDATE || a == ACT_SCALE) {
			rc = update_service(c, docker_jstr(svc, "ID"), version_of(svc), spec, &err);
			if (rc == 0) {
				metrics_inc(M_SERVICE_UPDATES);
				log_info("service_updated", "function=%s generation=%s reason=%s",
				         name, gen, a == ACT_UPDATE ? "spec" : "replicas_clamped");
			}
		}
		json_object_put(spec);
		if (rc != -EAGAIN)
			break;
		/* Someone updated the service meanwhile: read it again and retry. */
		free(err);
		err = NULL;
		json_object_put(svcs);
		svcs = NULL;
		svc = NULL;
		rc = list_services(c, sel, &svcs, &err);
		if (rc < 0)
			break;
		for (size_t i = 0; i < json_object_array_length(svcs); i++) {
			struct json_object *s = json_object_array_get_idx(svcs, i);
			if (is_managed(s) &&
			    strcmp(docker_jstr(docker_jget(s, "Spec"), "Name"), name) == 0)
				svc = s;
		}
		rc = -EAGAIN;
	}
	if (rc < 0)
		goto fail_want;
	ctl_set_error(c, name, NULL);
done:
	if (have == 0)
		stored_release(&want);
	json_object_put(svcs);
	secret_set_release(&sec.set);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_observe_reconcile((double)(t1.tv_sec - t0.tv_sec) +
	                          (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
fail_want:
	if (have == 0)
		stored_release(&want);
fail:
	json_object_put(svcs);
	secret_set_release(&sec.set);
	metrics_inc(M_RECONCILE_ERRORS);
	log_warn("reconcile_failed", "function=%s err=\"%s\"", name, err ? err : strerror(-rc));
	/* The network may have been removed by hand: look it up again next time. */
	if (err != NULL && strstr(err, "network") != NULL) {
		pthread_mutex_lock(&c->mu);
		c->network_id[0] = '\0';
		pthread_mutex_unlock(&c->mu);
	}
	ctl_set_error(c, name, err ? err : strerror(-rc));
	free(err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_observe_reconcile((double)(t1.tv_sec - t0.tv_sec) +
	                          (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return rc;
}

int reconcile_set_replicas(struct ctl *c, const char *name,
                           int64_t (*target)(int64_t current, void *arg), void *arg,
                           int64_t *previous, int64_t *result, char **err)
{
	char path[256];
	int rc = 0;
	for (int attempt = 0; attempt < UPDATE_RETRIES; attempt++) {
		struct json_object *svc = NULL, *spec, *rep;
		int64_t cur, replicas;
		snprintf(path, sizeof(path), "/services/%s", name);
		rc = docker_call(&c->docker, "GET", path, NULL, &svc, err);
		if (rc < 0)
			return rc;
		spec = docker_jget(svc, "Spec");
		if (!is_managed(svc) || strcmp(docker_jstr(spec, "Name"), name) != 0 ||
		    svc_label(spec, CTL_LABEL_NETWORK) == NULL ||
		    strcmp(svc_label(spec, CTL_LABEL_NETWORK), c->network) != 0) {
			json_object_put(svc);
			*err = strdup("no managed service for this function (yet)");
			return -ENOENT;
		}
		cur = svc_replicas(spec);
		replicas = target(cur, arg);
		if (previous)
			*previous = cur;
		if (result)
			*result = replicas;
		if (cur == replicas) {
			json_object_put(svc);
			return 0;
		}
		rep = docker_jget(docker_jget(spec, "Mode"), "Replicated");
		if (rep == NULL) {
			json_object_put(svc);
			*err = strdup("the service is not in replicated mode");
			return -EINVAL;
		}
		json_object_object_add(rep, "Replicas", json_object_new_int64(replicas));
		rc = update_service(c, docker_jstr(svc, "ID"), version_of(svc), spec, err);
		json_object_put(svc);
		if (rc != -EAGAIN)
			break;
		free(*err);
		*err = NULL;
	}
	if (rc == 0) {
		metrics_inc(M_SCALE_EVENTS);
		metrics_inc(M_SERVICE_UPDATES);
	}
	return rc;
}

/* ---- resync ---- */

int reconcile_resync(struct ctl *c, bool force)
{
	struct stored *want = NULL;
	size_t nwant = 0, queued = 0;
	struct json_object *svcs = NULL;
	struct secrets sec = {0};
	char netid[80], *err = NULL;
	bool any_secrets = false;
	int rc;

	rc = store_list(&c->docker, &want, &nwant, &err);
	if (rc < 0)
		goto out;
	rc = list_services(c, FX_LABEL_MANAGED_BY "=" FX_MANAGED_BY, &svcs, &err);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < nwant; i++) {
		any_secrets |= want[i].fn.secrets.n > 0;
		ctl_cache_scale(c, want[i].fn.name, &want[i].fn.scale);
	}
	if (any_secrets && (rc = load_secrets(c, &sec, &err)) < 0)
		goto out;
	if ((rc = network_id(c, netid, sizeof(netid), &err)) < 0)
		goto out;
	for (size_t i = 0; i < nwant; i++) {
		struct json_object *svc = NULL, *spec = NULL;
		char gen[24];
		const char *missing = NULL;
		struct svc_ctx ctx = {.network_id = netid,
		                      .network_name = c->network,
		                      .generation = gen,
		                      .secret_names = sec.names,
		                      .secret_ids = sec.ids,
		                      .secret_refs = sec.refs,
		                      .nsecrets = sec.n};
		snprintf(gen, sizeof(gen), "%lld", (long long)want[i].generation);
		for (size_t j = 0; j < json_object_array_length(svcs); j++) {
			struct json_object *s = json_object_array_get_idx(svcs, j);
			if (strcmp(docker_jstr(docker_jget(s, "Spec"), "Name"), want[i].fn.name) ==
			    0)
				svc = s;
		}
		if (force || decide(&want[i], svc, &ctx, &spec, &missing) != ACT_NONE ||
		    spec == NULL) {
			wq_add(c->queue, want[i].fn.name, 0);
			queued++;
		}
		json_object_put(spec);
	}
	for (size_t j = 0; j < json_object_array_length(svcs); j++) {
		struct json_object *s = json_object_array_get_idx(svcs, j);
		const char *fn = svc_label(docker_jget(s, "Spec"), FX_LABEL_FUNCTION);
		bool wanted = false;
		for (size_t i = 0; fn && i < nwant; i++)
			wanted |= strcmp(want[i].fn.name,
			                 docker_jstr(docker_jget(s, "Spec"), "Name")) == 0;
		if (fn != NULL && !wanted && fx_spec_valid_name(fn)) {
			wq_add(c->queue, fn, 0);
			queued++;
		}
	}
	log_debug("resync", "functions=%zu queued=%zu", nwant, queued);
out:
	if (rc < 0) {
		log_warn("resync_failed", "err=\"%s\"", err ? err : strerror(-rc));
	}
	free(err);
	stored_list_release(want, nwant);
	json_object_put(svcs);
	secret_set_release(&sec.set);
	malloc_trim(0);
	return rc;
}

/* ---- threads ---- */

void *reconcile_worker(void *arg)
{
	struct ctl *c = arg;
	char key[FX_SPEC_MAX_NAME + 1];
	while (wq_get(c->queue, key) == 0) {
		int rc = reconcile_one(c, key);
		int64_t delay = wq_done(c->queue, key, rc == 0, fx_now_ms());
		if (rc < 0)
			log_debug("backoff", "function=%s retry_in_ms=%lld", key, (long long)delay);
	}
	return NULL;
}

static pthread_mutex_t resync_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t resync_cv = PTHREAD_COND_INITIALIZER;
static bool resync_wanted;

static void request_resync(void)
{
	pthread_mutex_lock(&resync_mu);
	resync_wanted = true;
	pthread_cond_signal(&resync_cv);
	pthread_mutex_unlock(&resync_mu);
}

void *reconcile_resync_loop(void *arg)
{
	struct ctl *c = arg;
	int64_t backoff = 1000;
	while (!c->stopping) {
		struct timespec ts;
		int rc = reconcile_resync(c, false);
		/* A failed resync (daemon down) is retried sooner, with backoff. */
		int64_t wait = rc < 0 ? backoff : c->resync_ms;
		backoff = rc < 0 ? (backoff * 2 > c->resync_ms ? c->resync_ms : backoff * 2) : 1000;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&resync_mu);
		while (!resync_wanted && !c->stopping &&
		       pthread_cond_timedwait(&resync_cv, &resync_mu, &ts) == 0)
			;
		resync_wanted = false;
		pthread_mutex_unlock(&resync_mu);
	}
	return NULL;
}

struct events_state {
	struct ctl *c;
	struct fx_buf line;
};

static void handle_event(struct ctl *c, const char *text)
{
	struct json_object *e = json_tokener_parse(text);
	const char *type, *name;
	if (e == NULL)
		return;
	metrics_inc(M_EVENTS_RECEIVED);
	watch_changed(); /* the stream asks only for services and configs */
	type = docker_jstr(e, "Type");
	name = docker_jstr(docker_jget(docker_jget(e, "Actor"), "Attributes"), "name");
	if (strcmp(type, "service") == 0 && fx_spec_valid_name(name)) {
		/* A change comes as a burst of events (ours included): let them
		 * coalesce in the queue. Drift is still repaired within a second. */
		wq_add(c->queue, name, 300);
	} else if (strcmp(type, "config") == 0 && strncmp(name, "faas-fn-", 8) == 0) {
		/* faas-fn-<name>-<generation>: our own writes queue the key already;
		 * a config changed by someone else is caught by a resync. */
		char fn[80];
		const char *dash = strrchr(name, '-');
		size_t len = dash ? (size_t)(dash - name - 8) : 0;
		if (dash != NULL && len > 0 && len < sizeof(fn)) {
			memcpy(fn, name + 8, len);
			fn[len] = '\0';
			if (fx_spec_valid_name(fn) && len <= 40)
				wq_add(c->queue, fn, 300);
			else
				request_resync();
		}
	}
	json_object_put(e);
}

static int on_events(const char *p, size_t n, void *arg)
{
	struct events_state *s = arg;
	if (s->c->stopping)
		return 1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (s->line.data != NULL)
				handle_event(s->c, s->line.data);
			fx_buf_reset(&s->line);
		} else if (fx_buf_append(&s->line, &p[i], 1) < 0) {
			fx_buf_reset(&s->line); /* an over-long event: drop it */
		}
	}
	return 0;
}

void *reconcile_events(void *arg)
{
	struct ctl *c = arg;
	struct events_state s = {.c = c};
	int64_t backoff = 500;
	char *q = docker_filters("type", "service", "type", "config", (const char *)NULL),
	     path[512];
	snprintf(path, sizeof(path), "/events%s", q ? q : "");
	free(q);
	fx_buf_init(&s.line, 1 << 20);
	while (!c->stopping) {
		char *err = NULL;
		int64_t t0 = fx_now_ms();
		int rc = docker_stream(&c->docker, path, on_events, &s, &c->stopping, &err);
		int64_t ran_ms = fx_now_ms() - t0;
		if (c->stopping)
			break;
		log_warn("events_stream_ended", "err=\"%s\" retry_in_ms=%lld",
		         err ? err : (rc < 0 ? strerror(-rc) : "closed"), (long long)backoff);
		free(err);
		fx_buf_reset(&s.line);
		if (ran_ms > 10000)
			backoff = 500;
		usleep((useconds_t)(backoff * 1000));
		backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
		/* Events may have been missed while disconnected. */
		request_resync();
		if (ran_ms > 1000)
			watch_changed(); /* a stream that ran: readers read again */
	}
	fx_buf_release(&s.line);
	return NULL;
}
