/* fake_controller: plays the controller's HTTP API (docs/api.md) for the
 * gateway's forwarding, auth and registry tests, without Docker.
 *   functions_file  JSON array served at GET /system/functions (re-read each time)
 *   token           bearer token required on POST/PUT/DELETE
 *   port            0 for any free port
 * GET /system/function/NAME answers the item of that name (404 if none).
 * POST /system/scale-function/NAME {"replicas":N} overrides replicas and
 * availableReplicas of NAME (after scale_delay) and logs msg=scale name=NAME replicas=N.
 * GET /apis/faas/v1/functions/NAME/endpoints answers {"addresses":[{"ip":X}...]}
 * from the item's "endpoints" array of IP strings (empty if none) and logs
 * msg=endpoints name=NAME.
 * GET /system/logs streams three lines, 200 ms apart.
 * Any other request: 200 {"method","path","query","authorization","body"} (echo). */
#include "log.h"

#include <errno.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct req {
	bool started;
	char body[65536];
	size_t len;
	char *uri;
};

static const char *functions_file, *token;
static long scale_delay_ms;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char scaled_name[64];
static long scaled_replicas = -1;
static long scaled_at_ms;

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct json_object *load_functions(void)
{
	struct json_object *a = json_object_from_file(functions_file);
	if (!a || !json_object_is_type(a, json_type_array)) {
		json_object_put(a);
		return json_object_new_array();
	}
	pthread_mutex_lock(&mu);
	if (scaled_replicas >= 0 && now_ms() - scaled_at_ms >= scale_delay_ms) {
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct json_object *it = json_object_array_get_idx(a, i), *n;
			if (json_object_object_get_ex(it, "name", &n) &&
			    strcmp(json_object_get_string(n), scaled_name) == 0) {
				json_object_object_add(it, "replicas",
				                       json_object_new_int64(scaled_replicas));
				json_object_object_add(it, "availableReplicas",
				                       json_object_new_int64(scaled_replicas));
			}
		}
	}
	pthread_mutex_unlock(&mu);
	return a;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static ssize_t logs_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	int *n = cls;
	(void)pos;
	if (*n >= 3)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (*n > 0)
		usleep(200 * 1000);
	int k = snprintf(buf, max, "{\"name\":\"echo\",\"text\":\"line %d\"}\n", *n);
	(*n)++;
	return k;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct req *rq = *con_cls;
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	char want[600];
	(void)cls;
	(void)version;

	if (!rq->started) {
		rq->started = true;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		if (rq->len + n < sizeof(rq->body)) {
			memcpy(rq->body + rq->len, upload, n);
			rq->len += n;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	rq->body[rq->len] = '\0';
	snprintf(want, sizeof(want), "Bearer %s", token ? token : "");
	bool mutating = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
	if (mutating && (!auth || strcmp(auth, want) != 0))
		return reply(c, 401, "{\"error\":\"bearer token required\"}");

	if (strcmp(method, "GET") == 0 && strcmp(url, "/system/functions") == 0) {
		struct json_object *a = load_functions();
		enum MHD_Result r =
		    reply(c, 200, json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
		json_object_put(a);
		return r;
	}
	if (strcmp(method, "GET") == 0 && strncmp(url, "/system/function/", 17) == 0) {
		struct json_object *a = load_functions();
		enum MHD_Result r = MHD_NO;
		bool found = false;
		for (size_t i = 0; i < json_object_array_length(a) && !found; i++) {
			struct json_object *it = json_object_array_get_idx(a, i), *n;
			if (json_object_object_get_ex(it, "name", &n) &&
			    strcmp(json_object_get_string(n), url + 17) == 0) {
				r = reply(
				    c, 200,
				    json_object_to_json_string_ext(it, JSON_C_TO_STRING_PLAIN));
				found = true;
			}
		}
		json_object_put(a);
		return found ? r : reply(c, 404, "{\"error\":\"not found\"}");
	}
	static const char eppre[] = "/apis/faas/v1/functions/", epsuf[] = "/endpoints";
	size_t ul = strlen(url);
	if (strcmp(method, "GET") == 0 && strncmp(url, eppre, sizeof(eppre) - 1) == 0 &&
	    ul > sizeof(eppre) - 1 + sizeof(epsuf) - 1 &&
	    strcmp(url + ul - (sizeof(epsuf) - 1), epsuf) == 0) {
		const char *name = url + sizeof(eppre) - 1;
		size_t nl = ul - (sizeof(eppre) - 1) - (sizeof(epsuf) - 1);
		struct json_object *a = load_functions(), *out = json_object_new_object(),
		                   *addrs = json_object_new_array(), *n, *eps;
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct json_object *it = json_object_array_get_idx(a, i);
			if (!json_object_object_get_ex(it, "name", &n) ||
			    strlen(json_object_get_string(n)) != nl ||
			    strncmp(json_object_get_string(n), name, nl) != 0 ||
			    !json_object_object_get_ex(it, "endpoints", &eps) ||
			    !json_object_is_type(eps, json_type_array))
				continue;
			for (size_t j = 0; j < json_object_array_length(eps); j++) {
				struct json_object *e = json_object_new_object();
				json_object_object_add(
				    e, "ip", json_object_get(json_object_array_get_idx(eps, j)));
				json_object_array_add(addrs, e);
			}
		}
		json_object_object_add(out, "addresses", addrs);
		log_info("endpoints", "name=%.*s", (int)nl, name);
		enum MHD_Result r =
		    reply(c, 200, json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
		json_object_put(out);
		json_object_put(a);
		return r;
	}
	if (strcmp(method, "POST") == 0 && strncmp(url, "/system/scale-function/", 23) == 0) {
		struct json_object *o = json_tokener_parse(rq->body), *rep;
		long n = 1;
		if (o && json_object_object_get_ex(o, "replicas", &rep))
			n = (long)json_object_get_int64(rep);
		json_object_put(o);
		pthread_mutex_lock(&mu);
		snprintf(scaled_name, sizeof(scaled_name), "%s", url + 23);
		scaled_replicas = n;
		scaled_at_ms = now_ms();
		pthread_mutex_unlock(&mu);
		log_info("scale", "name=%s replicas=%ld", url + 23, n);
		return reply(c, 202, "{}");
	}
	if (strcmp(url, "/system/logs") == 0) {
		int *n = calloc(1, sizeof(int));
		struct MHD_Response *r =
		    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256, logs_reader, n, free);
		MHD_add_response_header(r, "Content-Type", "application/x-ndjson");
		enum MHD_Result ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "path", json_object_new_string(rq->uri ? rq->uri : url));
	json_object_object_add(o, "authorization", json_object_new_string(auth ? auth : ""));
	json_object_object_add(o, "body", json_object_new_string(rq->body));
	enum MHD_Result r =
	    reply(c, 200, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return r;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *rq = calloc(1, sizeof(*rq));
	(void)cls;
	(void)c;
	if (rq)
		rq->uri = strdup(uri);
	return rq;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode t)
{
	struct req *rq = *con_cls;
	(void)cls;
	(void)c;
	(void)t;
	if (rq)
		free(rq->uri);
	free(rq);
	*con_cls = NULL;
}

int main(void)
{
	const char *p = getenv("port");
	const char *d = getenv("scale_delay_ms");
	struct MHD_Daemon *dm;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	int sig;

	fx_log_init("fake-controller", FX_LOG_INFO);
	functions_file = getenv("functions_file");
	token = getenv("token");
	scale_delay_ms = d ? strtol(d, NULL, 10) : 0;
	if (!functions_file) {
		fprintf(stderr, "fake_controller: set functions_file\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	dm = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	                          MHD_USE_POLL,
	                      (uint16_t)(p ? strtol(p, NULL, 10) : 0), NULL, NULL, on_request, NULL,
	                      MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
	                      MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
	if (!dm)
		return 1;
	info = MHD_get_daemon_info(dm, MHD_DAEMON_INFO_BIND_PORT);
	log_info("listening", "addr=127.0.0.1:%u", info ? info->port : 0);
	sigwait(&set, &sig);
	MHD_stop_daemon(dm);
	return 0;
}
