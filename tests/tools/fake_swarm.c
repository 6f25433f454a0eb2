/* fake_swarm: a stand-in Docker Engine that keeps configs and services in
 * memory, enough for the controller to store functions, create and update
 * their services and scale them (DOCKER_HOST=tcp://127.0.0.1:PORT):
 *   GET /configs, /services (label filters), GET /services/{id|name},
 *   POST /configs/create, /services/create, /services/{id}/update?version=N,
 *   DELETE /configs/{id}, /services/{id}; GET /networks/{name} (always an
 *   overlay); GET /tasks: []; secrets: GET /secrets (label filters),
 *   POST /secrets/create, DELETE /secrets/{id|name} (400 while a service's
 *   spec mounts it); GET /services/{id}/logs: three frames, then with
 *   follow=1 one more every 200 ms for at most 20 s; anything else 404.
 * Every POST /services/{id}/update is logged ("msg=service_update name=...
 * replicas=N") so a test can count them. Logs "msg=listening
 * addr=127.0.0.1:PORT" on stderr. Not hostile-input safe: a test tool. */
#include <json-c/json.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (4u << 20)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct json_object *configs, *services, *secrets; /* arrays, under mu */
static long next_id = 1;

struct upload {
	char *data;
	size_t len;
	bool too_big;
};

static const char *str_at(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *v = o;
	if (k1 != NULL && !json_object_object_get_ex(v, k1, &v))
		return NULL;
	if (k2 != NULL && !json_object_object_get_ex(v, k2, &v))
		return NULL;
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Docker's label filters: "k" (has the label) or "k=v"; all must match. */
static bool labels_match(struct json_object *obj, struct json_object *filters)
{
	struct json_object *labels = NULL, *want;
	json_object_object_get_ex(obj, "Spec", &labels);
	if (labels == NULL || !json_object_object_get_ex(labels, "Labels", &labels))
		labels = NULL;
	if (filters == NULL || !json_object_object_get_ex(filters, "label", &want))
		return true;
	for (size_t i = 0; i < json_object_array_length(want); i++) {
		const char *f = json_object_get_string(json_object_array_get_idx(want, i));
		const char *eq = strchr(f, '=');
		char key[256];
		const char *have;
		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - f) : (int)strlen(f), f);
		have = labels ? str_at(labels, key, NULL) : NULL;
		if (have == NULL || (eq != NULL && strcmp(have, eq + 1) != 0))
			return false;
	}
	return true;
}

static struct json_object *filtered(struct json_object *all, const char *filters_json)
{
	struct json_object *f = filters_json ? json_tokener_parse(filters_json) : NULL;
	struct json_object *out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		struct json_object *o = json_object_array_get_idx(all, i);
		if (labels_match(o, f))
			json_object_array_add(out, json_object_get(o));
	}
	json_object_put(f);
	return out;
}

static long find(struct json_object *all, const char *id_or_name)
{
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		struct json_object *o = json_object_array_get_idx(all, i);
		const char *id = str_at(o, "ID", NULL), *name = str_at(o, "Spec", "Name");
		if ((id && strcmp(id, id_or_name) == 0) || (name && strcmp(name, id_or_name) == 0))
			return (long)i;
	}
	return -1;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(s), (void *)(uintptr_t)s, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	json_object_put(o);
	return ret;
}

static enum MHD_Result message(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "message", json_object_new_string(msg));
	return reply(c, status, o);
}

static struct json_object *new_object(struct json_object *spec, const char *prefix)
{
	struct json_object *o = json_object_new_object(), *v = json_object_new_object();
	char id[64];
	snprintf(id, sizeof(id), "%s%ld", prefix, next_id++);
	json_object_object_add(o, "ID", json_object_new_string(id));
	json_object_object_add(v, "Index", json_object_new_int64(1));
	json_object_object_add(o, "Version", v);
	json_object_object_add(o, "CreatedAt", json_object_new_string("2026-11-26T00:00:00Z"));
	json_object_object_add(o, "Spec", spec);
	return o;
}

static int64_t replicas_of(struct json_object *svc)
{
	struct json_object *v = svc;
	const char *path[] = {"Spec", "Mode", "Replicated", "Replicas"};
	for (size_t i = 0; i < 4; i++)
		if (!json_object_object_get_ex(v, path[i], &v))
			return -1;
	return json_object_get_int64(v);
}

/* Does a service's spec mount the secret with this id? (mu held) */
static bool mounted(const char *id)
{
	for (size_t i = 0; id && i < json_object_array_length(services); i++) {
		struct json_object *v = json_object_array_get_idx(services, i), *a;
		const char *path[] = {"Spec", "TaskTemplate", "ContainerSpec", "Secrets"};
		for (size_t k = 0; v && k < 4; k++)
			if (!json_object_object_get_ex(v, path[k], &v))
				v = NULL;
		a = v;
		for (size_t k = 0; a && k < json_object_array_length(a); k++) {
			const char *sid = str_at(json_object_array_get_idx(a, k), "SecretID", NULL);
			if (sid && strcmp(sid, id) == 0)
				return true;
		}
	}
	return false;
}

struct logstate {
	char service[256];
	bool follow;
	int sent;
	int64_t start_ms;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One multiplexed frame per call: "<ts> <details> line N of SERVICE\n". */
static ssize_t log_frame(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct logstate *s = cls;
	char line[512];
	int n;
	(void)pos;
	if (s->sent >= 3 && (!s->follow || mono_ms() - s->start_ms > 20000))
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (s->sent >= 3)
		usleep(200 * 1000);
	n = snprintf(line, sizeof(line),
	             "2026-11-26T00:00:%02d.123456789Z com.docker.swarm.node.id=n1,"
	             "com.docker.swarm.service.id=%s,com.docker.swarm.task.id=task%d line %d of "
	             "%s\n",
	             s->sent % 60, s->service, s->sent % 2, s->sent + 1, s->service);
	if (n < 0 || (size_t)n + 8 > max)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	buf[0] = s->sent % 2 ? 2 : 1;
	buf[1] = buf[2] = buf[3] = 0;
	buf[4] = 0;
	buf[5] = 0;
	buf[6] = (char)((n >> 8) & 0xff);
	buf[7] = (char)(n & 0xff);
	memcpy(buf + 8, line, (size_t)n);
	s->sent++;
	return n + 8;
}

static enum MHD_Result logs(struct MHD_Connection *c, const char *id)
{
	const char *q[] = {"tail", "since", "follow", "timestamps", "details"};
	struct logstate *s;
	struct MHD_Response *r;
	enum MHD_Result ret;
	long i = find(services, id);
	if (i < 0)
		return message(c, 404, "service not found");
	fprintf(stderr, "level=info msg=logs service=%s", id);
	for (size_t k = 0; k < sizeof(q) / sizeof(q[0]); k++) {
		const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, q[k]);
		fprintf(stderr, " %s=%s", q[k], v ? v : "");
	}
	fprintf(stderr, "\n");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return MHD_NO;
	snprintf(s->service, sizeof(s->service), "%s",
	         str_at(json_object_array_get_idx(services, (size_t)i), "Spec", "Name"));
	s->follow = strcmp(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "follow")
	                       ? MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "follow")
	                       : "",
	                   "1") == 0;
	s->start_ms = mono_ms();
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, log_frame, s, free);
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result route(struct MHD_Connection *c, const char *method, const char *url,
                             const char *body)
{
	const char *filters = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "filters");
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
	     del = strcmp(method, "DELETE") == 0;
	struct json_object *in = NULL;
	char name[256];
	long i;

	if (get && strcmp(url, "/configs") == 0)
		return reply(c, 200, filtered(configs, filters));
	if (get && strcmp(url, "/services") == 0)
		return reply(c, 200, filtered(services, filters));
	if (get && strcmp(url, "/tasks") == 0)
		return reply(c, 200, json_object_new_array());
	if (get && strcmp(url, "/secrets") == 0)
		return reply(c, 200, filtered(secrets, filters));
	if (get && strlen(url) > 14 && strcmp(url + strlen(url) - 5, "/logs") == 0 &&
	    sscanf(url, "/services/%255[^/]/logs", name) == 1)
		return logs(c, name);
	if (post && strcmp(url, "/secrets/create") == 0) {
		struct json_object *o, *r;
		const char *n;
		in = json_tokener_parse(body ? body : "");
		n = str_at(in, "Name", NULL);
		if (n == NULL || str_at(in, "Data", NULL) == NULL) {
			json_object_put(in);
			return message(c, 400, "Name and Data are required");
		}
		if (find(secrets, n) >= 0) {
			json_object_put(in);
			return message(c, 409, "secret name conflicts with an existing object");
		}
		o = new_object(in, "sec");
		json_object_array_add(secrets, o);
		fprintf(stderr, "level=info msg=secret_create name=%s\n", n);
		r = json_object_new_object();
		json_object_object_add(r, "ID", json_object_get(json_object_object_get(o, "ID")));
		return reply(c, 201, r);
	}
	if (del && sscanf(url, "/secrets/%255s", name) == 1) {
		const char *id;
		i = find(secrets, name);
		if (i < 0)
			return message(c, 404, "secret not found");
		id = str_at(json_object_array_get_idx(secrets, (size_t)i), "ID", NULL);
		if (mounted(id))
			return message(c, 400, "secret is in use by a service");
		fprintf(stderr, "level=info msg=secret_delete name=%s\n",
		        str_at(json_object_array_get_idx(secrets, (size_t)i), "Spec", "Name"));
		json_object_array_del_idx(secrets, (size_t)i, 1);
		return reply(c, 200, json_object_new_object());
	}
	if (get && strncmp(url, "/networks/", 10) == 0) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "Name", json_object_new_string(url + 10));
		json_object_object_add(o, "Id", json_object_new_string("fakenet"));
		json_object_object_add(o, "Driver", json_object_new_string("overlay"));
		json_object_object_add(o, "Scope", json_object_new_string("swarm"));
		return reply(c, 200, o);
	}
	if (get && sscanf(url, "/services/%255[^/]", name) == 1) {
		i = find(services, name);
		if (i < 0)
			return message(c, 404, "service not found");
		return reply(c, 200,
		             json_object_get(json_object_array_get_idx(services, (size_t)i)));
	}
	if (post && (strcmp(url, "/configs/create") == 0 || strcmp(url, "/services/create") == 0)) {
		bool svc = url[1] == 's';
		struct json_object *all = svc ? services : configs, *o, *r;
		const char *n;
		in = json_tokener_parse(body ? body : "");
		n = str_at(in, "Name", NULL);
		if (n == NULL) {
			json_object_put(in);
			return message(c, 400, "Name is required");
		}
		if (find(all, n) >= 0) {
			json_object_put(in);
			return message(c, 409, "name conflicts with an existing object");
		}
		o = new_object(in, svc ? "svc" : "cfg");
		json_object_array_add(all, o);
		if (svc)
			fprintf(stderr, "level=info msg=service_create name=%s replicas=%lld\n", n,
			        (long long)replicas_of(o));
		r = json_object_new_object();
		json_object_object_add(r, "ID", json_object_get(json_object_object_get(o, "ID")));
		return reply(c, 201, r);
	}
	if (post && sscanf(url, "/services/%255[^/]/update", name) == 1) {
		const char *vs = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "version");
		struct json_object *svc, *ver;
		i = find(services, name);
		if (i < 0)
			return message(c, 404, "service not found");
		svc = json_object_array_get_idx(services, (size_t)i);
		ver = json_object_object_get(json_object_object_get(svc, "Version"), "Index");
		if (vs == NULL || strtoll(vs, NULL, 10) != json_object_get_int64(ver))
			return message(c, 500, "update out of sequence");
		in = json_tokener_parse(body ? body : "");
		if (in == NULL || !json_object_is_type(in, json_type_object)) {
			json_object_put(in);
			return message(c, 400, "bad spec");
		}
		json_object_object_add(svc, "Spec", in);
		json_object_set_int64(ver, json_object_get_int64(ver) + 1);
		fprintf(stderr, "level=info msg=service_update name=%s replicas=%lld\n",
		        str_at(svc, "Spec", "Name"), (long long)replicas_of(svc));
		return reply(c, 200, json_object_new_object());
	}
	if (del && (sscanf(url, "/services/%255s", name) == 1 ||
	            sscanf(url, "/configs/%255s", name) == 1)) {
		struct json_object *all = url[1] == 's' ? services : configs;
		i = find(all, name);
		if (i < 0)
			return message(c, 404, "not found");
		json_object_array_del_idx(all, (size_t)i, 1);
		return reply(c, 200, json_object_new_object());
	}
	fprintf(stderr, "level=warn msg=not_implemented method=%s url=%s\n", method, url);
	return message(c, 404, "fake_swarm: not implemented");
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *up,
                              size_t *up_size, void **state)
{
	struct upload *u = *state;
	enum MHD_Result ret;
	(void)cls, (void)version;
	if (u == NULL) {
		u = calloc(1, sizeof(*u));
		if (u == NULL)
			return MHD_NO;
		*state = u;
		return MHD_YES;
	}
	if (*up_size) {
		if (u->len + *up_size > MAX_BODY) {
			u->too_big = true;
		} else {
			char *p = realloc(u->data, u->len + *up_size + 1);
			if (p == NULL)
				return MHD_NO;
			memcpy(p + u->len, up, *up_size);
			u->len += *up_size;
			p[u->len] = '\0';
			u->data = p;
		}
		*up_size = 0;
		return MHD_YES;
	}
	/* the API version prefix (/v1.41/...) */
	if (strncmp(url, "/v1.", 4) == 0 && strchr(url + 1, '/') != NULL)
		url = strchr(url + 1, '/');
	pthread_mutex_lock(&mu);
	ret = u->too_big ? message(c, 413, "too big") : route(c, method, url, u->data);
	pthread_mutex_unlock(&mu);
	return ret;
}

static void done(void *cls, struct MHD_Connection *c, void **state,
                 enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *state;
	(void)cls, (void)c, (void)toe;
	if (u != NULL) {
		free(u->data);
		free(u);
	}
	*state = NULL;
}

int main(void)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	configs = json_object_new_array();
	services = json_object_new_array();
	secrets = json_object_new_array();
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
	                     NULL, NULL, answer, NULL, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
	                     MHD_OPTION_END);
	if (d == NULL)
		return 1;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr, "level=info msg=listening addr=127.0.0.1:%u\n", info ? info->port : 0u);
	for (;;)
		pause();
}
