/* status.c: a Function's status from its Swarm service and tasks. Pure
 * except for the small in-memory table of condition transition times. */
#include "controller.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct json_object *get(struct json_object *o, const char *a, const char *b, const char *c)
{
	const char *k[3] = {a, b, c};
	for (int i = 0; i < 3 && k[i] != NULL && o != NULL; i++) {
		struct json_object *n = NULL;
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, k[i], &n))
			n = NULL;
		o = n;
	}
	return o;
}

static const char *str(struct json_object *o)
{
	return o != NULL && json_object_is_type(o, json_type_string) ? json_object_get_string(o)
	                                                             : "";
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

void status_compute(struct json_object *service, struct json_object *tasks,
                    const char *reconcile_error, struct fn_status *out)
{
	struct json_object *spec = get(service, "Spec", NULL, NULL);
	const char *gen, *ust, *newest_err_ts = "";
	const char *newest_err = NULL;
	memset(out, 0, sizeof(*out));
	if (service != NULL) {
		gen = svc_label(spec, FX_LABEL_GENERATION);
		out->observed_generation = gen ? strtoll(gen, NULL, 10) : 0;
		out->replicas = svc_replicas(spec);
		if (out->replicas < 0)
			out->replicas = 0;
		ust = str(get(service, "UpdateStatus", "State", NULL));
		out->updating =
		    strcmp(ust, "updating") == 0 || strcmp(ust, "rollback_started") == 0;
		if (out->updating)
			copy(out->progress_message, sizeof(out->progress_message),
			     str(get(service, "UpdateStatus", "Message", NULL)));
	}
	for (size_t i = 0; tasks && json_object_is_type(tasks, json_type_array) &&
	                   i < json_object_array_length(tasks);
	     i++) {
		struct json_object *t = json_object_array_get_idx(tasks, i);
		const char *state = str(get(t, "Status", "State", NULL));
		const char *desired = str(get(t, "DesiredState", NULL, NULL));
		const char *err = str(get(t, "Status", "Err", NULL));
		const char *ts = str(get(t, "Status", "Timestamp", NULL));
		if (strcmp(state, "running") == 0 && strcmp(desired, "running") == 0)
			out->available_replicas++;
		if (err[0] != '\0' && strcmp(ts, newest_err_ts) > 0) {
			newest_err = err;
			newest_err_ts = ts;
		}
	}
	if (reconcile_error != NULL) {
		copy(out->degraded_reason, sizeof(out->degraded_reason),
		     strstr(reconcile_error, "secret") ? "SecretNotFound" : "ReconcileError");
		copy(out->degraded_message, sizeof(out->degraded_message), reconcile_error);
	} else if (service != NULL && out->available_replicas < out->replicas && newest_err) {
		const char *reason = "TasksFailing";
		if (strstr(newest_err, "No such image") ||
		    (strstr(newest_err, "image") && strstr(newest_err, "not found")))
			reason = "ImageNotFound";
		else if (strstr(newest_err, "no suitable node"))
			reason = "Unschedulable";
		copy(out->degraded_reason, sizeof(out->degraded_reason), reason);
		copy(out->degraded_message, sizeof(out->degraded_message), newest_err);
	}
}

/* ---- condition transition times ---- */

#define MAX_TRANSITIONS (3 * CTL_MAX_FUNCTIONS)

static struct transition {
	char name[FX_SPEC_MAX_NAME + 1];
	char type[12];
	bool status;
	char at[32];
} transitions[MAX_TRANSITIONS];
static size_t ntransitions;
static pthread_mutex_t transitions_mu = PTHREAD_MUTEX_INITIALIZER;

static void now_rfc3339(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void transition_time(const char *name, const char *type, bool status, char *at, size_t n)
{
	size_t i;
	pthread_mutex_lock(&transitions_mu);
	for (i = 0; i < ntransitions; i++)
		if (strcmp(transitions[i].name, name) == 0 &&
		    strcmp(transitions[i].type, type) == 0)
			break;
	if (i == ntransitions && ntransitions < MAX_TRANSITIONS) {
		ntransitions++;
		copy(transitions[i].name, sizeof(transitions[i].name), name);
		copy(transitions[i].type, sizeof(transitions[i].type), type);
		transitions[i].status = !status;
	}
	if (i < ntransitions) {
		if (transitions[i].status != status) {
			transitions[i].status = status;
			now_rfc3339(transitions[i].at, sizeof(transitions[i].at));
		}
		copy(at, n, transitions[i].at);
	} else {
		now_rfc3339(at, n);
	}
	pthread_mutex_unlock(&transitions_mu);
}

static void add_cond(struct json_object *a, const char *name, const char *type, bool status,
                     const char *reason, const char *message)
{
	struct json_object *c = json_object_new_object();
	char at[32];
	transition_time(name, type, status, at, sizeof(at));
	json_object_object_add(c, "type", json_object_new_string(type));
	json_object_object_add(c, "status", json_object_new_string(status ? "True" : "False"));
	json_object_object_add(c, "reason", json_object_new_string(reason));
	json_object_object_add(c, "message", json_object_new_string(message));
	json_object_object_add(c, "lastTransitionTime", json_object_new_string(at));
	json_object_array_add(a, c);
}

/* The host name of the node with this ID among nodes, or NULL. */
static const char *node_hostname(struct json_object *nodes, const char *id)
{
	for (size_t i = 0; id[0] && nodes && json_object_is_type(nodes, json_type_array) &&
	                   i < json_object_array_length(nodes);
	     i++) {
		struct json_object *n = json_object_array_get_idx(nodes, i);
		if (strcmp(str(get(n, "ID", NULL, NULL)), id) == 0) {
			const char *h = str(get(n, "Description", "Hostname", NULL));
			return h[0] ? h : NULL;
		}
	}
	return NULL;
}

struct json_object *status_to_json(const char *name, const struct fn_status *st,
                                   struct json_object *tasks, struct json_object *nodes,
                                   int64_t invocations)
{
	struct json_object *o = json_object_new_object(), *conds = json_object_new_array(), *ta;
	char msg[256];
	bool ready = st->available_replicas >= st->replicas && st->observed_generation > 0 &&
	             st->degraded_reason[0] == '\0' && !st->updating;
	bool progressing = st->updating || st->available_replicas < st->replicas;
	json_object_object_add(o, "observedGeneration",
	                       json_object_new_int64(st->observed_generation));
	json_object_object_add(o, "replicas", json_object_new_int64(st->replicas));
	json_object_object_add(o, "availableReplicas",
	                       json_object_new_int64(st->available_replicas));
	json_object_object_add(o, "invocationCount", json_object_new_int64(invocations));
	snprintf(msg, sizeof(msg), "%lld of %lld replicas available",
	         (long long)st->available_replicas, (long long)st->replicas);
	if (st->observed_generation == 0)
		add_cond(conds, name, "Ready", false, "ServiceMissing", "no service yet");
	else
		add_cond(conds, name, "Ready", ready,
		         ready ? "MinimumReplicasAvailable"
		               : (st->updating ? "RollingUpdate" : "ReplicasUnavailable"),
		         msg);
	add_cond(conds, name, "Progressing", progressing,
	         st->updating ? "RollingUpdate" : (progressing ? "ScalingUp" : "Stable"),
	         st->updating && st->progress_message[0] ? st->progress_message : msg);
	add_cond(conds, name, "Degraded", st->degraded_reason[0] != '\0',
	         st->degraded_reason[0] ? st->degraded_reason : "AsExpected", st->degraded_message);
	json_object_object_add(o, "conditions", conds);
	ta = json_object_new_array();
	for (size_t i = 0; tasks && json_object_is_type(tasks, json_type_array) &&
	                   i < json_object_array_length(tasks) && i < 50;
	     i++) {
		struct json_object *t = json_object_array_get_idx(tasks, i),
		                   *x = json_object_new_object();
		json_object_object_add(x, "id",
		                       json_object_new_string(str(get(t, "ID", NULL, NULL))));
		const char *node = str(get(t, "NodeID", NULL, NULL)), *host;
		json_object_object_add(x, "node", json_object_new_string(node));
		if ((host = node_hostname(nodes, node)) != NULL)
			json_object_object_add(x, "nodeName", json_object_new_string(host));
		json_object_object_add(
		    x, "state", json_object_new_string(str(get(t, "Status", "State", NULL))));
		json_object_object_add(
		    x, "desiredState",
		    json_object_new_string(str(get(t, "DesiredState", NULL, NULL))));
		json_object_object_add(x, "error",
		                       json_object_new_string(str(get(t, "Status", "Err", NULL))));
		json_object_object_add(
		    x, "timestamp",
		    json_object_new_string(str(get(t, "Status", "Timestamp", NULL))));
		json_object_array_add(ta, x);
	}
	json_object_object_add(o, "tasks", ta);
	return o;
}

struct json_object *status_endpoints(struct json_object *tasks, const char *fn, const char *network,
                                     bool (*started)(const char *container, void *arg), void *arg)
{
	struct json_object *out = json_object_new_array();
	for (size_t i = 0; tasks && json_object_is_type(tasks, json_type_array) &&
	                   i < json_object_array_length(tasks);
	     i++) {
		struct json_object *t = json_object_array_get_idx(tasks, i), *nets;
		const char *state = str(get(t, "Status", "State", NULL));
		if (strcmp(str(get(t, "DesiredState", NULL, NULL)), "running") != 0 ||
		    (strcmp(state, "running") != 0 &&
		     (strcmp(state, "starting") != 0 ||
		      !started(str(get(t, "Status", "ContainerStatus", "ContainerID")), arg))))
			continue;
		/* only our function's tasks: a foreign service of that name has no label */
		if (strcmp(str(get(get(t, "Spec", "ContainerSpec", "Labels"), FX_LABEL_FUNCTION,
		                   NULL, NULL)),
		           fn) != 0)
			continue;
		nets = get(t, "NetworksAttachments", NULL, NULL);
		for (size_t j = 0; nets && json_object_is_type(nets, json_type_array) &&
		                   j < json_object_array_length(nets);
		     j++) {
			struct json_object *na = json_object_array_get_idx(nets, j);
			struct json_object *addrs = get(na, "Addresses", NULL, NULL), *e;
			char ip[64];
			const char *a;
			size_t len;
			if (strcmp(str(get(na, "Network", "Spec", "Name")), network) != 0 ||
			    !addrs || !json_object_is_type(addrs, json_type_array) ||
			    json_object_array_length(addrs) == 0)
				continue;
			a = str(json_object_array_get_idx(addrs, 0));
			len = strcspn(a, "/"); /* "10.0.2.14/24" */
			if (len == 0 || len >= sizeof(ip))
				continue;
			snprintf(ip, sizeof(ip), "%.*s", (int)len, a);
			e = json_object_new_object();
			json_object_object_add(e, "ip", json_object_new_string(ip));
			json_object_object_add(
			    e, "task", json_object_new_string(str(get(t, "ID", NULL, NULL))));
			json_object_object_add(e, "state", json_object_new_string(state));
			json_object_array_add(out, e);
		}
	}
	return out;
}
