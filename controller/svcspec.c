/* svcspec.c: a Function as a Swarm ServiceSpec, and the "drift key" that
 * tells whether a live service still matches it. Pure: no I/O. */
#include "controller.h"

#include "buf.h"
#include "units.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS 1000000LL

static struct json_object *jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static void add_env(struct json_object *a, const char *k, const char *v)
{
	struct fx_buf b;
	fx_buf_init(&b, 1 << 20);
	fx_buf_appendf(&b, "%s=%s", k, v);
	if (b.data != NULL)
		json_object_array_add(a, json_object_new_string(b.data));
	fx_buf_release(&b);
}

static void add_dur_env(struct json_object *a, const char *k, int64_t ms)
{
	char t[32];
	fx_format_duration(ms, t, sizeof(t));
	add_env(a, k, t);
}

/* Docker refuses to start a container with less memory than this. */
#define DOCKER_MIN_MEMORY (6LL << 20)

/* min_memory: the floor a set memory value is raised to (limits), or 0. */
static struct json_object *resources(const struct fx_resources *r, int64_t min_memory)
{
	struct json_object *o = json_object_new_object();
	if (r->cpu_milli)
		json_object_object_add(o, "NanoCPUs",
		                       json_object_new_int64(r->cpu_milli * 1000000));
	if (r->memory)
		json_object_object_add(o, "MemoryBytes",
		                       json_object_new_int64((int64_t)r->memory < min_memory
		                                                 ? min_memory
		                                                 : (int64_t)r->memory));
	return o;
}

struct json_object *svc_build(const struct fx_function *fn, const struct svc_ctx *ctx,
                              int64_t replicas, const char **missing)
{
	struct json_object *s = json_object_new_object(), *labels, *tt, *cs, *env, *cl, *sec, *res,
	                   *rp, *pl, *cons, *nets, *net, *al, *mode, *rep, *uc, *rc, *ep;
	char hash[65];

	if (s == NULL || fx_spec_hash(fn, hash) < 0) {
		json_object_put(s);
		return NULL;
	}
	json_object_object_add(s, "Name", jstr(fn->name));
	labels = json_object_new_object();
	for (size_t i = 0; i < fn->labels.n; i++)
		json_object_object_add(labels, fn->labels.v[i].key, jstr(fn->labels.v[i].value));
	json_object_object_add(labels, FX_LABEL_FUNCTION, jstr(fn->name));
	json_object_object_add(labels, FX_LABEL_MANAGED_BY, jstr(FX_MANAGED_BY));
	json_object_object_add(labels, FX_LABEL_GENERATION, jstr(ctx->generation));
	json_object_object_add(labels, FX_LABEL_SPEC_HASH, jstr(hash));
	json_object_object_add(labels, CTL_LABEL_NETWORK, jstr(ctx->network_name));
	json_object_object_add(s, "Labels", labels);

	tt = json_object_new_object();
	cs = json_object_new_object();
	json_object_object_add(cs, "Image", jstr(fn->image));
	env = json_object_new_array();
	if (fn->fprocess && fn->fprocess[0] != '\0')
		add_env(env, "fprocess", fn->fprocess);
	/* What the spec leaves to the image (null) is not written: the image's
	 * own ENV (an of-watchdog's mode=http, say) or the user's env applies. */
	if (fn->mode != FX_MODE_IMAGE)
		add_env(env, "mode", fx_spec_mode_name(fn->mode));
	if (fn->timeouts.read_ms)
		add_dur_env(env, "read_timeout", fn->timeouts.read_ms);
	if (fn->timeouts.write_ms)
		add_dur_env(env, "write_timeout", fn->timeouts.write_ms);
	if (fn->timeouts.exec_ms)
		add_dur_env(env, "exec_timeout", fn->timeouts.exec_ms);
	for (size_t i = 0; i < fn->env.n; i++)
		add_env(env, fn->env.v[i].key, fn->env.v[i].value);
	json_object_object_add(cs, "Env", env);
	cl = json_object_new_object();
	json_object_object_add(cl, FX_LABEL_FUNCTION, jstr(fn->name));
	json_object_object_add(cs, "Labels", cl);
	if (fn->user != NULL && fn->user[0] != '\0')
		json_object_object_add(cs, "User", jstr(fn->user));
	if (fn->read_only_root_fs) {
		struct json_object *mounts = json_object_new_array(), *m = json_object_new_object();
		json_object_object_add(cs, "ReadOnly", json_object_new_boolean(1));
		/* The watchdog writes its lock file and the process its temp files here. */
		json_object_object_add(m, "Type", jstr("tmpfs"));
		json_object_object_add(m, "Target", jstr("/tmp"));
		json_object_array_add(mounts, m);
		json_object_object_add(cs, "Mounts", mounts);
	}
	/* Room to drain an in-flight request on SIGTERM (an exec timeout left
	 * to the image: the watchdog's default, 10 s). */
	json_object_object_add(
	    cs, "StopGracePeriod",
	    json_object_new_int64(((fn->timeouts.exec_ms ? fn->timeouts.exec_ms : 10000) + 2000) *
	                          NS_PER_MS));
	if (fn->secrets.n > 0) {
		sec = json_object_new_array();
		for (size_t i = 0; i < fn->secrets.n; i++) {
			const char *id = NULL, *ref = fn->secrets.v[i];
			struct json_object *r, *f;
			char target[128];
			for (size_t j = 0; j < ctx->nsecrets; j++) {
				if (strcmp(ctx->secret_names[j], fn->secrets.v[i]) == 0) {
					id = ctx->secret_ids[j];
					if (ctx->secret_refs != NULL)
						ref = ctx->secret_refs[j];
				}
			}
			if (id == NULL) {
				if (missing)
					*missing = fn->secrets.v[i];
				json_object_put(sec);
				json_object_put(cs);
				json_object_put(tt);
				json_object_put(s);
				return NULL;
			}
			snprintf(target, sizeof(target), "%s%s", CTL_SECRETS_DIR, fn->secrets.v[i]);
			r = json_object_new_object();
			f = json_object_new_object();
			json_object_object_add(f, "Name", jstr(target));
			json_object_object_add(f, "UID", jstr("0"));
			json_object_object_add(f, "GID", jstr("0"));
			json_object_object_add(f, "Mode", json_object_new_int(0444));
			json_object_object_add(r, "File", f);
			json_object_object_add(r, "SecretID", jstr(id));
			json_object_object_add(r, "SecretName", jstr(ref));
			json_object_array_add(sec, r);
		}
		json_object_object_add(cs, "Secrets", sec);
	}
	json_object_object_add(tt, "ContainerSpec", cs);
	res = json_object_new_object();
	json_object_object_add(res, "Limits", resources(&fn->limits, DOCKER_MIN_MEMORY));
	json_object_object_add(res, "Reservations", resources(&fn->requests, 0));
	json_object_object_add(tt, "Resources", res);
	rp = json_object_new_object();
	/* "any", not "on-failure": a watchdog that drained and exited 0 because its
	 * engine was stopped must come back when the engine does. */
	json_object_object_add(rp, "Condition", jstr("any"));
	json_object_object_add(rp, "Delay", json_object_new_int64(1000 * NS_PER_MS));
	json_object_object_add(tt, "RestartPolicy", rp);
	pl = json_object_new_object();
	cons = json_object_new_array();
	for (size_t i = 0; i < fn->constraints.n; i++)
		json_object_array_add(cons, jstr(fn->constraints.v[i]));
	json_object_object_add(pl, "Constraints", cons);
	json_object_object_add(tt, "Placement", pl);
	nets = json_object_new_array();
	net = json_object_new_object();
	json_object_object_add(net, "Target", jstr(ctx->network_id));
	al = json_object_new_array();
	json_object_array_add(al, jstr(fn->name));
	json_object_object_add(net, "Aliases", al);
	json_object_array_add(nets, net);
	json_object_object_add(tt, "Networks", nets);
	json_object_object_add(s, "TaskTemplate", tt);

	mode = json_object_new_object();
	rep = json_object_new_object();
	json_object_object_add(rep, "Replicas", json_object_new_int64(replicas));
	json_object_object_add(mode, "Replicated", rep);
	json_object_object_add(s, "Mode", mode);
	uc = json_object_new_object();
	json_object_object_add(uc, "Parallelism", json_object_new_int(1));
	json_object_object_add(uc, "Order", jstr("start-first"));
	json_object_object_add(uc, "FailureAction", jstr("pause"));
	json_object_object_add(s, "UpdateConfig", uc);
	rc = json_object_new_object();
	json_object_object_add(rc, "Parallelism", json_object_new_int(1));
	json_object_object_add(rc, "Order", jstr("start-first"));
	json_object_object_add(s, "RollbackConfig", rc);
	ep = json_object_new_object();
	json_object_object_add(ep, "Mode", jstr("dnsrr"));
	json_object_object_add(s, "EndpointSpec", ep);
	return s;
}

/* Borrowed path lookup: GET(o, "A", "B"). */
#define GET(...) get(__VA_ARGS__, (const char *)NULL)
static struct json_object *get(struct json_object *o, ...)
{
	va_list ap;
	const char *k;
	va_start(ap, o);
	while (o != NULL && (k = va_arg(ap, const char *)) != NULL) {
		struct json_object *n = NULL;
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, k, &n))
			n = NULL;
		o = n;
	}
	va_end(ap);
	return o;
}

static const char *gets_(struct json_object *o)
{
	return o != NULL && json_object_is_type(o, json_type_string) ? json_object_get_string(o)
	                                                             : "";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "key=value" lines of a string map, sorted, with a prefix. */
static void put_map(struct fx_buf *b, const char *prefix, struct json_object *m)
{
	const char *keys[1024];
	size_t n = 0;
	if (m == NULL || !json_object_is_type(m, json_type_object))
		return;
	json_object_object_foreach(m, k, v)
	{
		(void)v;
		if (n < 1024)
			keys[n++] = k;
	}
	qsort(keys, n, sizeof(keys[0]), cmp_str);
	for (size_t i = 0; i < n; i++)
		fx_buf_appendf(b, "%s %s=%s\n", prefix, keys[i], gets_(GET(m, keys[i])));
}

static void put_strings(struct fx_buf *b, const char *prefix, struct json_object *a, bool sort)
{
	const char *v[1024];
	size_t n = 0;
	if (a == NULL || !json_object_is_type(a, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(a) && n < 1024; i++)
		v[n++] = gets_(json_object_array_get_idx(a, i));
	if (sort)
		qsort(v, n, sizeof(v[0]), cmp_str);
	for (size_t i = 0; i < n; i++)
		fx_buf_appendf(b, "%s %s\n", prefix, v[i]);
}

static int64_t geti(struct json_object *o)
{
	return o != NULL ? json_object_get_int64(o) : 0;
}

char *svc_drift_key(struct json_object *spec)
{
	struct fx_buf b;
	struct json_object *tt = GET(spec, "TaskTemplate"), *cs = GET(tt, "ContainerSpec"), *a;
	char *s;
	fx_buf_init(&b, 8 << 20);
	fx_buf_appendf(&b, "name %s\n", gets_(GET(spec, "Name")));
	put_map(&b, "label", GET(spec, "Labels"));
	fx_buf_appendf(&b, "image %s\n", gets_(GET(cs, "Image")));
	put_strings(&b, "env", GET(cs, "Env"), true);
	put_map(&b, "clabel", GET(cs, "Labels"));
	fx_buf_appendf(&b, "user %s\n", gets_(GET(cs, "User")));
	a = GET(cs, "ReadOnly");
	fx_buf_appendf(&b, "readonly %d\n", a != NULL && json_object_get_boolean(a));
	fx_buf_appendf(&b, "stopgrace %lld\n", (long long)geti(GET(cs, "StopGracePeriod")));
	a = GET(cs, "Secrets");
	for (size_t i = 0;
	     a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a); i++) {
		struct json_object *r = json_object_array_get_idx(a, i);
		fx_buf_appendf(&b, "secret %s %s\n", gets_(GET(r, "SecretName")),
		               gets_(GET(r, "File", "Name")));
	}
	a = GET(cs, "Mounts");
	for (size_t i = 0;
	     a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a); i++) {
		struct json_object *m = json_object_array_get_idx(a, i);
		fx_buf_appendf(&b, "mount %s %s %s\n", gets_(GET(m, "Type")),
		               gets_(GET(m, "Source")), gets_(GET(m, "Target")));
	}
	fx_buf_appendf(&b, "limits %lld %lld\n",
	               (long long)geti(GET(tt, "Resources", "Limits", "NanoCPUs")),
	               (long long)geti(GET(tt, "Resources", "Limits", "MemoryBytes")));
	fx_buf_appendf(&b, "reservations %lld %lld\n",
	               (long long)geti(GET(tt, "Resources", "Reservations", "NanoCPUs")),
	               (long long)geti(GET(tt, "Resources", "Reservations", "MemoryBytes")));
	fx_buf_appendf(&b, "restart %s\n", gets_(GET(tt, "RestartPolicy", "Condition")));
	put_strings(&b, "constraint", GET(tt, "Placement", "Constraints"), true);
	a = GET(tt, "Networks");
	for (size_t i = 0;
	     a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a); i++)
		fx_buf_appendf(&b, "network %s\n",
		               gets_(GET(json_object_array_get_idx(a, i), "Target")));
	fx_buf_appendf(&b, "endpoint %s\n", gets_(GET(spec, "EndpointSpec", "Mode")));
	fx_buf_appendf(&b, "update %s\n", gets_(GET(spec, "UpdateConfig", "Order")));
	fx_buf_appendf(&b, "replicated %d\n", GET(spec, "Mode", "Replicated") != NULL);
	if (b.data == NULL || b.len == 0 || b.data[b.len - 1] != '\n' ||
	    strstr(b.data, "\nreplicated ") == NULL) {
		fx_buf_release(&b);
		return NULL;
	}
	s = fx_buf_detach(&b, NULL);
	fx_buf_release(&b);
	return s;
}

int64_t svc_replicas(struct json_object *spec)
{
	struct json_object *r = GET(spec, "Mode", "Replicated", "Replicas");
	if (GET(spec, "Mode", "Replicated") == NULL)
		return -1;
	return r ? json_object_get_int64(r) : 1;
}

int64_t svc_clamp(const struct fx_scale *s, int64_t replicas)
{
	/* 0 is asleep, not out of range: the scale-to-zero alert (zero: true)
	 * or the API put it there, and the gateway wakes it on a request. */
	if (replicas == 0)
		return 0;
	if (replicas < s->min)
		return s->min;
	if (replicas > s->max)
		return s->max;
	return replicas;
}

const char *svc_label(struct json_object *spec, const char *key)
{
	struct json_object *v = GET(spec, "Labels", key);
	return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
	                                                             : NULL;
}
