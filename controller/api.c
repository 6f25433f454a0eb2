/* api.c: the controller's HTTP API (docs/api.md) on libmicrohttpd, one
 * thread per connection (handlers make blocking Docker calls).
 *   /apis/faas/v1/functions[/{name}]   kubectl-style CRUD, ?dryRun=true
 *   /system/...                        the OpenFaaS provider API
 *   /alerts, /system/alert             Alertmanager webhook
 *   /healthz, /metrics
 * This file: the routes, the replies, the namespace check, /system/info and
 * the server; the handlers are in api_functions.c, api_openfaas.c,
 * api_alerts.c, api_secrets.c and api_logs.c (controller.h). */
#include "controller.h"

#include "build/gen/version.h"
#include "json.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

struct ctl *api_ctl;
struct api_conf api_cfg;
/* Writes of the desired state are serialised (generation n+1 needs n). */
pthread_mutex_t api_write_mu = PTHREAD_MUTEX_INITIALIZER;

struct req {
	struct fx_buf body;
	bool too_big;
};

/* ---- replies ---- */

void api_reply_json(struct reply *r, unsigned status, struct json_object *o)
{
	r->status = status;
	r->type = "application/json";
	r->body = strdup(o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "{}");
	json_object_put(o);
}

void api_reply_error(struct reply *r, unsigned status, const char *msg, struct json_object *details)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg ? msg : "error"));
	if (details != NULL)
		json_object_object_add(o, "details", details);
	api_reply_json(r, status, o);
}

void api_reply_text(struct reply *r, unsigned status, const char *type, char *text)
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

void api_reply_docker(struct reply *r, int rc, char *err)
{
	api_reply_error(r, status_of(rc), err ? err : strerror(-rc), NULL);
	free(err);
}

void api_reply_spec_errors(struct reply *r, struct fx_spec_errs *errs)
{
	char *first = errs->n ? fx_spec_err_format(&errs->v[0]) : strdup("invalid definition");
	api_reply_error(r, 400, first, fx_spec_errs_to_json(errs));
	free(first);
	fx_spec_errs_release(errs);
}

/* ---- namespaces: this install serves one, api_cfg.namespace_ ---- */

/* Is ns (a ?namespace= value or a body's "namespace"; NULL or "" when not
 * given) this install's? If not, replies 404 and returns false. */
static bool ns_ours(struct reply *r, const char *ns)
{
	char msg[200];
	if (ns == NULL || *ns == '\0' || strcmp(ns, api_cfg.namespace_) == 0)
		return true;
	snprintf(msg, sizeof(msg), "namespace \"%.64s\" not found (this install serves \"%s\")", ns,
	         api_cfg.namespace_);
	api_reply_error(r, 404, msg, NULL);
	return false;
}

/* The same for a JSON body's "namespace" member (absent, null or a string). */
bool api_ns_body_ours(struct reply *r, struct json_object *in)
{
	struct json_object *ns = docker_jget(in, "namespace");
	if (ns != NULL && !json_object_is_type(ns, json_type_null) &&
	    !json_object_is_type(ns, json_type_string)) {
		api_reply_error(r, 400, "namespace: expected a string", NULL);
		return false;
	}
	return ns_ours(r, ns != NULL ? json_object_get_string(ns) : NULL);
}

static void namespaces(struct reply *r)
{
	struct json_object *a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(api_cfg.namespace_));
	api_reply_json(r, 200, a);
}

struct json_object *api_parse_json_body(struct reply *r, const char *body, size_t len)
{
	struct json_object *o = NULL;
	char *err = NULL;
	int rc;
	if (body == NULL || len == 0) {
		api_reply_error(r, 400, "empty body: expected JSON", NULL);
		return NULL;
	}
	rc = fx_json_parse(body, len, 32, &o, &err);
	if (rc < 0) {
		api_reply_error(r, rc == -EINVAL ? 400 : 503, err ? err : "out of memory", NULL);
		free(err);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		api_reply_error(r, 400, "invalid JSON: expected an object", NULL);
		return NULL;
	}
	return o;
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
	api_reply_json(r, 200, o);
}

/* ---- dispatch ---- */

static bool authorized(struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	size_t n, m;
	unsigned char diff = 0;
	if (api_cfg.token == NULL || h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	n = strlen(h);
	m = strlen(api_cfg.token);
	/* constant time in the token's length */
	for (size_t i = 0; i < m; i++)
		diff |= (unsigned char)(api_cfg.token[i] ^ (i < n ? h[i] : 0));
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
		api_reply_text(r, 200, "text/plain", strdup("ok\n"));
		return;
	}
	if (strcmp(url, "/metrics") == 0 && get) {
		size_t nfn = 0;
		api_reply_text(r, 200, "text/plain; version=0.0.4",
		               metrics_render(wq_depth(api_ctl->queue), nfn));
		return;
	}
	if (mutating && !authorized(conn)) {
		r->status = 401;
		api_reply_error(
		    r, 401, "missing or wrong bearer token (Authorization: Bearer <token>)", NULL);
		return;
	}
	if (strcmp(url, fnpre) == 0) {
		if (get)
			api_get_functions(r, false);
		else
			api_reply_error(r, 405, "method not allowed (GET)", NULL);
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
			api_get_endpoints(r, one);
		} else if (get)
			api_get_function(r, name, false);
		else if (strcmp(method, "PUT") == 0)
			api_put_function(r, name, body, len,
			                 is_true(MHD_lookup_connection_value(
			                     conn, MHD_GET_ARGUMENT_KIND, "dryRun")));
		else if (strcmp(method, "DELETE") == 0)
			api_delete_function(r, name, false);
		else
			api_reply_error(r, 405, "method not allowed (GET, PUT, DELETE)", NULL);
		return;
	}
	if (strcmp(url, "/system/namespaces") == 0) {
		if (get)
			namespaces(r);
		else
			api_reply_error(r, 405, "method not allowed (GET)", NULL);
		return;
	}
	/* Every OpenFaaS route below takes ?namespace= (only ours exists). */
	if (strncmp(url, "/system/", 8) == 0 && strcmp(url, "/system/alert") != 0 &&
	    strcmp(url, "/system/info") != 0 &&
	    !ns_ours(r, MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "namespace")))
		return;
	if (strcmp(url, "/system/functions") == 0) {
		if (get)
			api_get_functions(r, true);
		else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
			api_deploy_openfaas(r, body, len, strcmp(method, "POST") == 0);
		else if (strcmp(method, "DELETE") == 0)
			api_delete_openfaas(r, body, len);
		else
			api_reply_error(r, 405, "method not allowed", NULL);
		return;
	}
	if (strncmp(url, "/system/function/", 17) == 0 && get) {
		api_get_function(r, url + 17, true);
		return;
	}
	if (strncmp(url, "/system/scale-function/", 23) == 0) {
		if (strcmp(method, "POST") == 0)
			api_scale_function(r, url + 23, body, len);
		else
			api_reply_error(r, 405, "method not allowed (POST)", NULL);
		return;
	}
	if (strcmp(url, "/alerts") == 0 || strcmp(url, "/system/alert") == 0) {
		if (strcmp(method, "POST") == 0)
			api_alerts(r, body, len);
		else
			api_reply_error(r, 405, "method not allowed (POST)", NULL);
		return;
	}
	if (strcmp(url, "/system/secrets") == 0) {
		if (get || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
		    strcmp(method, "DELETE") == 0)
			api_secrets(r, get ? "GET" : method, body, len);
		else
			api_reply_error(r, 405, "method not allowed", NULL);
		return;
	}
	if (strcmp(url, "/system/logs") == 0 && get) {
		api_logs(r, conn);
		return;
	}
	if (strcmp(url, "/system/info") == 0 && get) {
		info(r);
		return;
	}
	api_reply_error(r, 404, "no such route", NULL);
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
		fx_buf_init(&q->body, api_cfg.max_body);
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
		         api_cfg.max_body);
		api_reply_error(&r, 413, msg, NULL);
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
	api_ctl = c;
	api_cfg = *cf;
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
