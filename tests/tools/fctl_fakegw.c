/* fctl_fakegw: a stand-in gateway + controller for faasctl's integration tests
 * (tests/integration/4x-*.sh), so they need no Docker. It keeps functions in
 * memory and follows docs/api.md: /apis/faas/v1/functions (PUT with dryRun,
 * X-Faas-Result, generations), /system/scale-function, /system/logs,
 * /system/info, /function/NAME (echoes the body; ?status=N answers N), basic
 * auth on /apis and /system. Validation and canonical form come from
 * common/spec, like the real controller.
 *
 * Usage: fctl_fakegw [--user U --password P]   (listens on 127.0.0.1, port 0) */
#include "buf.h"
#include "spec.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FNS  256
#define BODY_MAX (2u << 20)

struct entry {
	char *name;
	char *canonical;
	struct json_object *obj; /* the Function with metadata and status */
	int64_t generation;
};

static struct entry fns[MAX_FNS];
static size_t nfns;
static char *want_auth; /* "Basic base64(user:password)" or NULL */

static char *b64(const char *s)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), o = 0;
	char *out = malloc(n * 4 / 3 + 8);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		out[o++] = t[(v >> 18) & 63];
		out[o++] = t[(v >> 12) & 63];
		out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *ctype, const char *result)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	MHD_add_response_header(r, "Content-Type", ctype ? ctype : "application/json");
	if (result)
		MHD_add_response_header(r, "X-Faas-Result", result);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, struct json_object *o,
                                  const char *result)
{
	enum MHD_Result r = reply(c, status, json_object_to_json_string(o), NULL, result);
	json_object_put(o);
	return r;
}

static enum MHD_Result error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	return reply_json(c, status, o, NULL);
}

static struct entry *find(const char *name)
{
	for (size_t i = 0; i < nfns; i++)
		if (strcmp(fns[i].name, name) == 0)
			return &fns[i];
	return NULL;
}

static void now_rfc3339(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The API object: spec JSON plus generation, creationTimestamp and a Ready status. */
static struct json_object *api_object(const struct fx_function *f, int64_t gen, const char *created)
{
	struct json_object *o = fx_spec_to_json(f), *meta, *st, *conds, *cond;
	json_object_object_get_ex(o, "metadata", &meta);
	json_object_object_add(meta, "generation", json_object_new_int64(gen));
	json_object_object_add(meta, "creationTimestamp", json_object_new_string(created));
	st = json_object_new_object();
	json_object_object_add(st, "observedGeneration", json_object_new_int64(gen));
	json_object_object_add(st, "replicas", json_object_new_int64(f->scale.min));
	json_object_object_add(st, "availableReplicas", json_object_new_int64(f->scale.min));
	json_object_object_add(st, "invocationCount", json_object_new_int64(0));
	/* An image naming "degraded" or "pending" gives that state (rollout tests). */
	conds = json_object_new_array();
	cond = json_object_new_object();
	json_object_object_add(cond, "type", json_object_new_string("Ready"));
	json_object_object_add(
	    cond, "status",
	    json_object_new_string(
	        strstr(f->image, "degraded") || strstr(f->image, "pending") ? "False" : "True"));
	json_object_object_add(cond, "reason", json_object_new_string("AllReplicasAvailable"));
	json_object_object_add(cond, "message", json_object_new_string("fake"));
	json_object_object_add(cond, "lastTransitionTime", json_object_new_string(created));
	json_object_array_add(conds, cond);
	if (strstr(f->image, "degraded")) {
		cond = json_object_new_object();
		json_object_object_add(cond, "type", json_object_new_string("Degraded"));
		json_object_object_add(cond, "status", json_object_new_string("True"));
		json_object_object_add(cond, "reason", json_object_new_string("TaskFailed"));
		json_object_object_add(cond, "message", json_object_new_string("image not found"));
		json_object_object_add(cond, "lastTransitionTime", json_object_new_string(created));
		json_object_array_add(conds, cond);
	}
	json_object_object_add(st, "conditions", conds);
	json_object_object_add(st, "tasks", json_object_new_array());
	json_object_object_add(o, "status", st);
	return o;
}

static enum MHD_Result put_fn(struct MHD_Connection *c, const char *name, const char *body,
                              size_t len, bool dry)
{
	struct fx_function f;
	struct fx_spec_errs errs = {0};
	struct entry *e = find(name);
	const char *result;
	char *canon, created[32];
	unsigned status;

	if (fx_spec_load_one(body, len, NULL, &f, &errs) < 0) {
		struct json_object *o = json_object_new_object();
		char *m = errs.n ? fx_spec_err_format(&errs.v[0]) : strdup("invalid");
		json_object_object_add(o, "error", json_object_new_string(m ? m : "invalid"));
		json_object_object_add(o, "details", fx_spec_errs_to_json(&errs));
		free(m);
		fx_spec_errs_release(&errs);
		return reply_json(c, 400, o, NULL);
	}
	if (strcmp(f.name, name) != 0) {
		fx_function_release(&f);
		return error(c, 409, "the body's metadata.name differs from the path");
	}
	canon = fx_spec_canonical(&f);
	if (e == NULL) {
		result = "created";
		status = 201;
	} else {
		result = strcmp(e->canonical, canon) == 0 ? "unchanged" : "configured";
		status = 200;
	}
	if (dry) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "result", json_object_new_string(result));
		json_object_object_add(o, "diff", json_object_new_string(""));
		free(canon);
		fx_function_release(&f);
		return reply_json(c, status, o, result);
	}
	if (e == NULL) {
		if (nfns == MAX_FNS) {
			free(canon);
			fx_function_release(&f);
			return error(c, 507, "too many functions");
		}
		e = &fns[nfns++];
		e->name = strdup(name);
		e->generation = 1;
		now_rfc3339(created, sizeof(created));
		e->canonical = canon;
	} else {
		snprintf(created, sizeof(created), "%s",
		         json_object_get_string(json_object_object_get(
		             json_object_object_get(e->obj, "metadata"), "creationTimestamp")));
		if (strcmp(result, "configured") == 0)
			e->generation++;
		free(e->canonical);
		e->canonical = canon;
		json_object_put(e->obj);
	}
	e->obj = api_object(&f, e->generation, created);
	fx_function_release(&f);
	return reply_json(c, status, json_object_get(e->obj), result);
}

struct req {
	struct fx_buf body;
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
	struct req *rq = *con_cls;
	const char *api = "/apis/faas/v1/functions";
	(void)cls;
	(void)version;

	if (rq == NULL) {
		rq = calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		fx_buf_init(&rq->body, BODY_MAX);
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (fx_buf_append(&rq->body, upload, *upload_size) < 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (strncmp(url, "/function/", 10) == 0) {
		const char *st = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
		struct MHD_Response *r;
		enum MHD_Result ret;
		const char *b = rq->body.data ? rq->body.data : "";
		char *copy = strdup(b);
		if (find(url + 10) == NULL) {
			free(copy);
			return reply(c, 404, "no such function\n", "text/plain", NULL);
		}
		r = MHD_create_response_from_buffer(rq->body.len, copy, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(r, "X-Echo-Method", method);
		if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test"))
			MHD_add_response_header(
			    r, "X-Echo-Test",
			    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test"));
		if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q"))
			MHD_add_response_header(
			    r, "X-Echo-Q",
			    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q"));
		ret = MHD_queue_response(c, st ? (unsigned)strtoul(st, NULL, 10) : 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (want_auth != NULL) {
		const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		if (a == NULL || strcmp(a, want_auth) != 0)
			return error(c, 401,
			             "unauthorized: wrong or missing basic-auth credentials");
	}
	if (strcmp(url, api) == 0 && strcmp(method, "GET") == 0) {
		struct json_object *o = json_object_new_object(), *items = json_object_new_array();
		/* sorted by name */
		for (size_t i = 0; i < nfns; i++)
			for (size_t j = i + 1; j < nfns; j++)
				if (strcmp(fns[j].name, fns[i].name) < 0) {
					struct entry t = fns[i];
					fns[i] = fns[j];
					fns[j] = t;
				}
		for (size_t i = 0; i < nfns; i++)
			json_object_array_add(items, json_object_get(fns[i].obj));
		json_object_object_add(o, "apiVersion", json_object_new_string("faas/v1"));
		json_object_object_add(o, "kind", json_object_new_string("FunctionList"));
		json_object_object_add(o, "items", items);
		return reply_json(c, 200, o, NULL);
	}
	if (strncmp(url, api, strlen(api)) == 0 && url[strlen(api)] == '/') {
		const char *name = url + strlen(api) + 1;
		struct entry *e = find(name);
		if (strcmp(method, "PUT") == 0) {
			const char *dry =
			    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "dryRun");
			return put_fn(c, name, rq->body.data ? rq->body.data : "", rq->body.len,
			              dry && strcmp(dry, "true") == 0);
		}
		if (e == NULL)
			return error(c, 404, "function not found");
		if (strcmp(method, "GET") == 0)
			return reply_json(c, 200, json_object_get(e->obj), NULL);
		if (strcmp(method, "DELETE") == 0) {
			free(e->name);
			free(e->canonical);
			json_object_put(e->obj);
			*e = fns[--nfns];
			return reply(c, 200, "{\"result\":\"deleted\"}", NULL, NULL);
		}
		return error(c, 405, "method not allowed");
	}
	if (strncmp(url, "/system/scale-function/", 23) == 0 && strcmp(method, "POST") == 0) {
		struct entry *e = find(url + 23);
		struct json_object *b = json_tokener_parse(rq->body.data ? rq->body.data : ""), *n;
		if (e == NULL) {
			json_object_put(b);
			return error(c, 404, "function not found");
		}
		if (b == NULL || !json_object_object_get_ex(b, "replicas", &n)) {
			json_object_put(b);
			return error(c, 400, "replicas missing");
		}
		{
			/* Clamped into [scale.min, scale.max], answered like the controller. */
			struct json_object *spec = json_object_object_get(e->obj, "spec");
			struct json_object *sc = json_object_object_get(spec, "scale"), *o;
			int64_t want = json_object_get_int64(n);
			int64_t lo = json_object_get_int64(json_object_object_get(sc, "min"));
			int64_t hi = json_object_get_int64(json_object_object_get(sc, "max"));
			int64_t got = want < lo ? lo : want > hi ? hi : want;
			json_object_object_add(json_object_object_get(e->obj, "status"), "replicas",
			                       json_object_new_int64(got));
			json_object_put(b);
			o = json_object_new_object();
			json_object_object_add(o, "name", json_object_new_string(url + 23));
			json_object_object_add(o, "replicas", json_object_new_int64(got));
			return reply_json(c, 200, o, NULL);
		}
	}
	if (strcmp(url, "/system/logs") == 0) {
		const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
		const char *tail = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tail");
		struct fx_buf b;
		enum MHD_Result ret;
		long n = tail ? strtol(tail, NULL, 10) : 3;
		if (name == NULL || find(name) == NULL)
			return error(c, 404, "function not found");
		fx_buf_init(&b, 1 << 20);
		for (long i = 3 - (n < 3 ? n : 3); i < 3; i++)
			fx_buf_appendf(&b,
			               "{\"name\":\"%s\",\"instance\":\"task%ld\",\"timestamp\":"
			               "\"2026-11-26T20:00:0%ldZ\",\"text\":\"log line %ld\"}\n",
			               name, i, i, i);
		ret = reply(c, 200, b.data ? b.data : "", "application/x-ndjson", NULL);
		fx_buf_release(&b);
		return ret;
	}
	if (strcmp(url, "/system/info") == 0)
		return reply(
		    c, 200,
		    "{\"provider\":{\"provider\":\"fctl_fakegw\",\"orchestration\":\"none\","
		    "\"version\":{\"release\":\"test\"}},\"arch\":\"x86_64\"}",
		    NULL, NULL);
	return error(c, 404, "no route");
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode code)
{
	struct req *rq = *con_cls;
	(void)cls;
	(void)c;
	(void)code;
	if (rq) {
		fx_buf_release(&rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

int main(int argc, char **argv)
{
	const char *user = NULL, *pass = NULL;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	int sig;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--user") == 0)
			user = argv[i + 1];
		else if (strcmp(argv[i], "--password") == 0)
			pass = argv[i + 1];
	}
	if (user && pass) {
		char *up = NULL, *enc;
		if (asprintf(&up, "%s:%s", user, pass) < 0)
			return 1;
		enc = b64(up);
		free(up);
		if (enc == NULL || asprintf(&want_auth, "Basic %s", enc) < 0)
			return 1;
		free(enc);
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	                     handle, NULL, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
	                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
	if (d == NULL)
		return 1;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr, "level=info prog=fctl_fakegw msg=listening addr=127.0.0.1:%u\n",
	        (unsigned)info->port);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
