/* cmd_get.c: get, describe, delete NAME, scale, rollout status, version. */
#include "faasctl.h"

#include "units.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define API "/apis/faas/v1/functions"

/* "/apis/faas/v1/functions/NAME" with NAME escaped; caller frees. */
static char *fn_path(const char *name)
{
	struct fx_buf b;
	fx_buf_init(&b, 4096);
	fx_buf_puts(&b, API "/");
	fctl_urlencode(name, &b);
	return fx_buf_detach(&b, NULL);
}

static void put_buf(struct fctl_ctx *ctx, struct fx_buf *b)
{
	if (b->data)
		fwrite(b->data, 1, b->len, ctx->out);
	fx_buf_reset(b);
}

/* GETs one function into *out (owned). Returns 0, FCTL_FAIL after printing the
 * error (404: not found). */
static int get_one(struct fctl_ctx *ctx, const char *name, struct json_object **out)
{
	struct fctl_resp r;
	char *path = fn_path(name);
	int rc = FCTL_FAIL;

	if (path == NULL)
		return FCTL_FAIL;
	if (fctl_call(ctx, "GET", path, NULL, 0, NULL, true, &r) < 0)
		goto out;
	if (r.status == 404)
		fctl_errorf(ctx, "function \"%s\" not found", name);
	else if (r.status != 200 || r.json == NULL)
		fctl_report_http_f(ctx, &r, "get %s", name);
	else {
		*out = json_object_get(r.json);
		rc = 0;
	}
	fctl_resp_release(&r);
out:
	free(path);
	return rc;
}

static bool has_label(const struct json_object *fn, const char *sel)
{
	const char *eq = strchr(sel, '=');
	struct json_object *meta, *labels, *v;
	size_t klen = eq ? (size_t)(eq - sel) : strlen(sel);
	char key[256];

	if (klen >= sizeof(key))
		return false;
	memcpy(key, sel, klen);
	key[klen] = '\0';
	if (!json_object_object_get_ex(fn, "metadata", &meta) ||
	    !json_object_object_get_ex(meta, "labels", &labels) ||
	    !json_object_object_get_ex(labels, key, &v))
		return false;
	return eq == NULL || strcmp(json_object_get_string(v), eq + 1) == 0;
}

int fctl_cmd_get(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	const char *o = fctl_opt(a, "output"), *sel = fctl_opt(a, "selector");
	struct json_object *items = json_object_new_array(), *list = NULL;
	struct fx_buf b;
	int rc = 0;

	if (o && strcmp(o, "wide") && strcmp(o, "yaml") && strcmp(o, "json") && strcmp(o, "name")) {
		fctl_errorf(ctx, "get: unknown output format \"%s\" (wide, yaml, json or name)", o);
		json_object_put(items);
		return FCTL_USAGE;
	}
	fx_buf_init(&b, 256u << 20);
	if (a->npos == 0) {
		struct fctl_resp r;
		struct json_object *all;
		if (fctl_call(ctx, "GET", API, NULL, 0, NULL, true, &r) < 0) {
			rc = FCTL_FAIL;
			goto out;
		}
		if (r.status != 200 || r.json == NULL ||
		    !json_object_object_get_ex(r.json, "items", &all) ||
		    !json_object_is_type(all, json_type_array)) {
			rc = r.status == 200
			         ? (fctl_errorf(ctx, "get: the server's answer is not a "
			                             "FunctionList"),
			            FCTL_FAIL)
			         : fctl_report_http(ctx, "get", &r);
			fctl_resp_release(&r);
			goto out;
		}
		for (size_t i = 0; i < json_object_array_length(all); i++) {
			struct json_object *fn = json_object_array_get_idx(all, i);
			if (sel == NULL || has_label(fn, sel))
				json_object_array_add(items, json_object_get(fn));
		}
		fctl_resp_release(&r);
	} else {
		for (int i = 0; i < a->npos; i++) {
			struct json_object *fn = NULL;
			if (get_one(ctx, a->pos[i], &fn) != 0)
				rc = FCTL_FAIL;
			else
				json_object_array_add(items, fn);
		}
	}
	if (o && (strcmp(o, "json") == 0 || strcmp(o, "yaml") == 0)) {
		const struct json_object *what = items;
		if (a->npos == 1 && json_object_array_length(items) == 1) {
			what = json_object_array_get_idx(items, 0);
		} else if (json_object_array_length(items) > 0 || a->npos == 0) {
			list = json_object_new_object();
			json_object_object_add(list, "apiVersion",
			                       json_object_new_string("faas/v1"));
			json_object_object_add(list, "kind",
			                       json_object_new_string("FunctionList"));
			json_object_object_add(list, "items", json_object_get(items));
			what = list;
		} else {
			goto out;
		}
		if (strcmp(o, "json") == 0)
			fctl_json_emit(what, &b);
		else
			fctl_yaml_emit(what, &b);
	} else if (o && strcmp(o, "name") == 0) {
		for (size_t i = 0; i < json_object_array_length(items); i++)
			fx_buf_appendf(
			    &b, "function/%s\n",
			    fctl_jstr(json_object_array_get_idx(items, i), "metadata.name", "?"));
	} else if (json_object_array_length(items) > 0) {
		fctl_print_table(items, o != NULL, (int64_t)time(NULL), &b);
	} else if (a->npos == 0) {
		fprintf(ctx->err, "No functions found.\n");
	}
	put_buf(ctx, &b);
out:
	fx_buf_release(&b);
	json_object_put(list);
	json_object_put(items);
	return rc;
}

int fctl_cmd_describe(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	struct fx_buf b;
	int rc = 0;

	fx_buf_init(&b, 16u << 20);
	for (int i = 0; i < a->npos; i++) {
		struct json_object *fn = NULL;
		if (get_one(ctx, a->pos[i], &fn) != 0) {
			rc = FCTL_FAIL;
			continue;
		}
		if (i > 0)
			fx_buf_puts(&b, "\n");
		fctl_print_describe(fn, (int64_t)time(NULL), &b);
		put_buf(ctx, &b);
		json_object_put(fn);
	}
	fx_buf_release(&b);
	return rc;
}

/* DELETEs one function; prints "function/NAME deleted". */
int fctl_delete_one(struct fctl_ctx *ctx, const char *name, bool ignore_missing, const char *verb)
{
	struct fctl_resp r;
	char *path = fn_path(name);
	int rc = FCTL_FAIL;

	if (path == NULL)
		return FCTL_FAIL;
	if (fctl_call(ctx, "DELETE", path, NULL, 0, NULL, true, &r) < 0)
		goto out;
	if (r.status == 200 || r.status == 202 || r.status == 204) {
		fprintf(ctx->out, "function/%s %s\n", name, verb);
		rc = 0;
	} else if (r.status == 404) {
		if (ignore_missing)
			rc = 0;
		else
			fctl_errorf(ctx, "function \"%s\" not found", name);
	} else {
		fctl_report_http_f(ctx, &r, "%s %s",
		                   strcmp(verb, "pruned") == 0 ? "prune" : "delete", name);
	}
	fctl_resp_release(&r);
out:
	free(path);
	return rc;
}

int fctl_cmd_scale(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	const char *rs = fctl_opt(a, "replicas"), *name = a->pos[0];
	struct json_object *body;
	struct fctl_resp r;
	struct fx_buf p;
	int64_t n;
	int rc = FCTL_FAIL;

	if (rs == NULL || fx_parse_int(rs, 0, 1000000, &n) < 0) {
		fctl_errorf(ctx, "scale: --replicas N is required (an integer from 0)");
		return FCTL_USAGE;
	}
	body = json_object_new_object();
	json_object_object_add(body, "serviceName", json_object_new_string(name));
	json_object_object_add(body, "replicas", json_object_new_int64(n));
	fx_buf_init(&p, 4096);
	fx_buf_puts(&p, "/system/scale-function/");
	fctl_urlencode(name, &p);
	if (p.data == NULL)
		goto out;
	{
		const char *js = json_object_to_json_string(body);
		if (fctl_call(ctx, "POST", p.data, js, strlen(js), "application/json", true, &r) <
		    0)
			goto out;
	}
	if (r.status >= 200 && r.status < 300) {
		/* The controller answers the count it set, clamped into [min, max]. */
		int64_t got = r.json ? fctl_jint(r.json, "replicas", -1) : -1;
		if (got < 0)
			fprintf(ctx->out, "function/%s scaled\n", name);
		else if (got == n)
			fprintf(ctx->out, "function/%s scaled to %lld\n", name, (long long)got);
		else
			fprintf(ctx->out,
			        "function/%s scaled to %lld (asked %lld, clamped into the "
			        "function's scale range)\n",
			        name, (long long)got, (long long)n);
		rc = 0;
	} else if (r.status == 404) {
		fctl_errorf(ctx, "function \"%s\" not found", name);
	} else {
		fctl_report_http_f(ctx, &r, "scale %s", name);
	}
	fctl_resp_release(&r);
out:
	fx_buf_release(&p);
	json_object_put(body);
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool cond_true(const struct json_object *fn, const char *type)
{
	const struct json_object *c = fctl_condition(fn, type);
	const char *s = c ? fctl_jstr(c, "status", NULL) : NULL;
	return s && strcmp(s, "True") == 0;
}

int fctl_cmd_rollout_status(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	const char *ts = fctl_opt(a, "timeout"), *name = a->pos[0];
	int64_t timeout = 300000, deadline;
	char last[256] = "";

	if (ts && fx_parse_duration_ms(ts, &timeout) < 0) {
		fctl_errorf(ctx, "rollout status: --timeout \"%s\" is not a duration like 2m", ts);
		return FCTL_USAGE;
	}
	deadline = now_ms() + timeout;
	for (;;) {
		struct json_object *fn = NULL;
		int64_t gen, obs, want, avail;
		char line[256];

		if (get_one(ctx, name, &fn) != 0)
			return FCTL_FAIL;
		gen = fctl_jint(fn, "metadata.generation", 0);
		obs = fctl_jint(fn, "status.observedGeneration", 0);
		want = fctl_jint(fn, "status.replicas", 0);
		avail = fctl_jint(fn, "status.availableReplicas", 0);
		if (obs >= gen && cond_true(fn, "Degraded")) {
			const struct json_object *c = fctl_condition(fn, "Degraded");
			fctl_errorf(ctx, "function \"%s\" is Degraded: %s: %s", name,
			            fctl_jstr(c, "reason", "-"), fctl_jstr(c, "message", "-"));
			json_object_put(fn);
			return FCTL_FAIL;
		}
		if (obs >= gen && cond_true(fn, "Ready") && avail >= want) {
			fprintf(ctx->out,
			        "function \"%s\" successfully rolled out (%" PRId64 " of %" PRId64
			        " replicas available)\n",
			        name, avail, want);
			json_object_put(fn);
			return FCTL_OK;
		}
		if (obs < gen)
			snprintf(line, sizeof(line),
			         "Waiting for function \"%s\" rollout: generation %" PRId64
			         " not yet observed...",
			         name, gen);
		else
			snprintf(line, sizeof(line),
			         "Waiting for function \"%s\" rollout to finish: %" PRId64
			         " of %" PRId64 " replicas available...",
			         name, avail, want);
		if (strcmp(line, last) != 0) {
			fprintf(ctx->out, "%s\n", line);
			fflush(ctx->out);
			memcpy(last, line, sizeof(last));
		}
		json_object_put(fn);
		if (now_ms() >= deadline) {
			fctl_errorf(ctx, "function \"%s\": timed out after %s waiting for Ready",
			            name, ts ? ts : "5m");
			return FCTL_FAIL;
		}
		usleep(500000);
	}
}

int fctl_cmd_version(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	struct fctl_resp r;
	int rc = FCTL_FAIL;

	fprintf(ctx->out, "Client: faasctl %s\n", FCTL_VERSION);
	if (fctl_flag(a, "client"))
		return FCTL_OK;
	if (fctl_call(ctx, "GET", "/system/info", NULL, 0, NULL, true, &r) < 0)
		return FCTL_FAIL;
	if (r.status == 200 && r.json) {
		const char *rel = fctl_jstr(r.json, "provider.version.release", NULL);
		if (rel == NULL)
			rel = fctl_jstr(r.json, "version.release", "unknown");
		fprintf(ctx->out, "Server: %s %s (orchestration %s, arch %s) at %s\n",
		        fctl_jstr(r.json, "provider.provider", "unknown"), rel,
		        fctl_jstr(r.json, "provider.orchestration", "unknown"),
		        fctl_jstr(r.json, "arch", "unknown"), ctx->cfg.gateway);
		rc = FCTL_OK;
	} else {
		fctl_report_http(ctx, "version", &r);
	}
	fctl_resp_release(&r);
	return rc;
}
