/* cmd_apply.c: apply (with --dry-run and --prune), diff, delete. */
#include "faasctl.h"

#include "diff.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define API "/apis/faas/v1/functions"

/* The -f values, or a usage error. */
static int files_of(struct fctl_ctx *ctx, const struct fctl_args *a, const char **paths, size_t *n,
                    const char *cmd)
{
	*n = fctl_opt_count(a, "filename");
	if (*n == 0) {
		fctl_errorf(ctx, "%s: -f FILE|DIR|- is required (see faasctl %s --help)", cmd, cmd);
		return FCTL_USAGE;
	}
	for (size_t i = 0; i < *n; i++)
		paths[i] = fctl_opt_nth(a, "filename", i);
	return 0;
}

/* Loads and validates; prints every problem and returns FCTL_FAIL. */
static int load(struct fctl_ctx *ctx, const char *const *paths, size_t n, struct fctl_fnlist *l)
{
	struct fx_buf warn;
	char *err = NULL;
	int r;

	fx_buf_init(&warn, 1u << 20);
	r = fctl_load(paths, n, l, &warn, &err);
	if (warn.data) {
		for (char *p = warn.data; *p;) {
			char *eol = strchr(p, '\n');
			if (eol)
				*eol = '\0';
			fctl_warnf(ctx, "%s", p);
			p = eol ? eol + 1 : p + strlen(p);
		}
	}
	fx_buf_release(&warn);
	if (r < 0) {
		for (char *p = err; p && *p;) {
			char *eol = strchr(p, '\n');
			if (eol)
				*eol = '\0';
			fctl_errorf(ctx, "%s", p);
			p = eol ? eol + 1 : p + strlen(p);
		}
		if (err == NULL)
			fctl_errorf(ctx, "out of memory");
		fprintf(ctx->err, "nothing was done\n");
		free(err);
		return FCTL_FAIL;
	}
	return 0;
}

/* The set's name: --applyset, or derived from the first -f path. */
static int set_name(struct fctl_ctx *ctx, const struct fctl_args *a, const char *first, char *buf,
                    size_t n)
{
	const char *given = fctl_opt(a, "applyset");
	struct stat st;
	char real[PATH_MAX];
	bool dir;

	if (given != NULL) {
		if (!fctl_applyset_valid(given)) {
			fctl_errorf(ctx,
			            "--applyset \"%s\": expected 1 to 63 letters, digits, '-', '_' "
			            "or '.'",
			            given);
			return FCTL_USAGE;
		}
		snprintf(buf, n, "%s", given);
		return 0;
	}
	dir = strcmp(first, "-") != 0 && stat(first, &st) == 0 && S_ISDIR(st.st_mode);
	fctl_applyset_default(first, dir && realpath(first, real) ? real : NULL, dir, buf, n);
	return 0;
}

static void label(struct json_object *fn, const char *set)
{
	struct json_object *meta, *labels;

	if (!json_object_object_get_ex(fn, "metadata", &meta))
		return;
	if (!json_object_object_get_ex(meta, "labels", &labels) ||
	    !json_object_is_type(labels, json_type_object)) {
		labels = json_object_new_object();
		json_object_object_add(meta, "labels", labels);
	}
	json_object_object_add(labels, FCTL_APPLYSET_LABEL, json_object_new_string(set));
}

static char *fn_path(const char *name, bool dry)
{
	struct fx_buf b;
	fx_buf_init(&b, 4096);
	fx_buf_puts(&b, API "/");
	fctl_urlencode(name, &b);
	if (dry)
		fx_buf_puts(&b, "?dryRun=true");
	return fx_buf_detach(&b, NULL);
}

/* GET /apis/faas/v1/functions: the items (owned) or NULL after an error. */
static struct json_object *list_live(struct fctl_ctx *ctx)
{
	struct fctl_resp r;
	struct json_object *items = NULL;

	if (fctl_call(ctx, "GET", API, NULL, 0, NULL, true, &r) < 0)
		return NULL;
	if (r.status != 200 || r.json == NULL ||
	    !json_object_object_get_ex(r.json, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		if (r.status == 200)
			fctl_errorf(ctx,
			            "list functions: the server's answer is not a FunctionList");
		else
			fctl_report_http(ctx, "list functions", &r);
		items = NULL;
	} else {
		json_object_get(items);
	}
	fctl_resp_release(&r);
	return items;
}

/* A function of another applyset moves into this one: say so (with --prune,
 * where the live list is at hand), since the other set will not prune it any more. */
static void warn_takeover(struct fctl_ctx *ctx, const struct json_object *live, const char *name,
                          const char *set)
{
	for (size_t i = 0; live != NULL && i < json_object_array_length(live); i++) {
		const struct json_object *fn = json_object_array_get_idx(live, i);
		struct json_object *meta, *labels, *v;
		const char *other;

		if (strcmp(fctl_jstr(fn, "metadata.name", ""), name) != 0)
			continue;
		if (!json_object_object_get_ex(fn, "metadata", &meta) ||
		    !json_object_object_get_ex(meta, "labels", &labels) ||
		    !json_object_object_get_ex(labels, FCTL_APPLYSET_LABEL, &v))
			return;
		other = json_object_get_string(v);
		if (other != NULL && strcmp(other, set) != 0)
			fctl_warnf(ctx, "function/%s moves from applyset %s to %s", name, other,
			           set);
		return;
	}
}

static const char **names_of(const struct fctl_fnlist *l)
{
	const char **v = calloc(l->n + 1, sizeof(*v));
	for (size_t i = 0; v && i < l->n; i++)
		v[i] = l->v[i].name;
	return v;
}

int fctl_cmd_apply(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	const char *paths[FCTL_MAX_VALUES];
	bool dry = fctl_flag(a, "dry-run"), prune = fctl_flag(a, "prune");
	const char *suffix = dry ? " (dry run)" : "";
	struct fctl_fnlist l = {0};
	struct json_object *live = NULL, *gone = NULL;
	const char **names = NULL;
	char set[64];
	size_t np;
	int rc, failed = 0;

	if ((rc = files_of(ctx, a, paths, &np, "apply")) != 0)
		return rc;
	if ((rc = set_name(ctx, a, paths[0], set, sizeof(set))) != 0)
		return rc;
	if ((rc = load(ctx, paths, np, &l)) != 0)
		return rc;
	/* What to prune is decided before anything is written. */
	if (prune) {
		live = list_live(ctx);
		names = names_of(&l);
		gone = json_object_new_array();
		if (live == NULL || names == NULL || gone == NULL) {
			rc = FCTL_FAIL;
			goto out;
		}
		fctl_prune_set(live, set, names, l.n, gone);
	}
	for (size_t i = 0; i < l.n; i++) {
		struct fctl_fn *fn = &l.v[i];
		struct fctl_resp r;
		char *path;
		const char *body, *result;

		label(fn->obj, set);
		warn_takeover(ctx, live, fn->name, set);
		body = json_object_to_json_string_ext(fn->obj, JSON_C_TO_STRING_PLAIN);
		path = fn_path(fn->name, dry);
		if (path == NULL || body == NULL) {
			free(path);
			rc = FCTL_FAIL;
			goto out;
		}
		if (fctl_call(ctx, "PUT", path, body, strlen(body), "application/json", true, &r) <
		    0) {
			/* The gateway is gone: the rest would fail the same way. */
			free(path);
			rc = FCTL_FAIL;
			goto out;
		}
		free(path);
		if (r.status == 200 || r.status == 201) {
			result = r.result;
			if (result == NULL && r.json)
				result = fctl_jstr(r.json, "result", NULL);
			if (result == NULL)
				result = r.status == 201 ? "created" : "configured";
			fprintf(ctx->out, "function/%s %s%s\n", fn->name, result, suffix);
		} else {
			char what[512];
			snprintf(what, sizeof(what), "apply %s (%s, document %d)", fn->name,
			         fn->file, fn->doc);
			fctl_report_http(ctx, what, &r);
			failed++;
			if (r.status == 401) {
				fctl_resp_release(&r);
				rc = FCTL_FAIL;
				goto out;
			}
		}
		fctl_resp_release(&r);
	}
	fflush(ctx->out);
	if (prune && failed > 0) {
		fctl_errorf(ctx, "not pruning: %d function(s) failed to apply", failed);
	} else if (prune) {
		for (size_t i = 0; i < json_object_array_length(gone); i++) {
			const char *name =
			    json_object_get_string(json_object_array_get_idx(gone, i));
			if (dry)
				fprintf(ctx->out, "function/%s pruned (dry run)\n", name);
			else if (fctl_delete_one(ctx, name, true, "pruned") != 0)
				failed++;
		}
	}
	rc = failed ? FCTL_FAIL : FCTL_OK;
out:
	free(names);
	json_object_put(live);
	json_object_put(gone);
	fctl_fnlist_release(&l);
	return rc;
}

/* Canonical YAML of one live function ("" when it does not exist). */
static int live_text(struct fctl_ctx *ctx, const char *name, struct fx_buf *out)
{
	struct fctl_resp r;
	char *path = fn_path(name, false), *err = NULL;
	int rc = 0;

	if (path == NULL || fctl_call(ctx, "GET", path, NULL, 0, NULL, true, &r) < 0) {
		free(path);
		return -1;
	}
	free(path);
	if (r.status == 200 && r.json) {
		if (fctl_canonical_yaml(r.json, out, &err) < 0) {
			fctl_errorf(ctx, "live function \"%s\": %s", name,
			            err ? err : "unreadable");
			rc = -1;
		}
	} else if (r.status != 404) {
		fctl_report_http_f(ctx, &r, "get %s", name);
		rc = -1;
	}
	free(err);
	fctl_resp_release(&r);
	return rc;
}

int fctl_cmd_diff(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	const char *paths[FCTL_MAX_VALUES];
	struct fctl_fnlist l = {0};
	struct fx_buf live, local, out;
	char set[64], an[128], bn[128];
	size_t np;
	int rc, differ = 0;

	if (files_of(ctx, a, paths, &np, "diff") != 0 ||
	    set_name(ctx, a, paths[0], set, sizeof(set)) != 0)
		return FCTL_USAGE;
	if (load(ctx, paths, np, &l) != 0)
		return FCTL_USAGE;
	fx_buf_init(&live, 4u << 20);
	fx_buf_init(&local, 4u << 20);
	fx_buf_init(&out, 64u << 20);
	rc = FCTL_USAGE; /* diff's error status is 2 */
	for (size_t i = 0; i < l.n; i++) {
		char *err = NULL;
		int d;

		fx_buf_reset(&live);
		fx_buf_reset(&local);
		label(l.v[i].obj, set);
		if (live_text(ctx, l.v[i].name, &live) < 0)
			goto out;
		if (fctl_canonical_yaml(l.v[i].obj, &local, &err) < 0) {
			fctl_errorf(ctx, "%s: %s", l.v[i].file, err ? err : "out of memory");
			free(err);
			goto out;
		}
		snprintf(an, sizeof(an), "live/%s", l.v[i].name);
		snprintf(bn, sizeof(bn), "%s/%s", live.len ? "local" : "local (new)", l.v[i].name);
		d = fx_diff(live.data ? live.data : "", local.data ? local.data : "", an, bn, 3,
		            &out);
		if (d < 0) {
			fctl_errorf(ctx, "diff of \"%s\": %s", l.v[i].name,
			            d == -E2BIG ? "too large" : "out of memory");
			goto out;
		}
		differ |= d;
	}
	if (fctl_flag(a, "prune")) {
		struct json_object *items = list_live(ctx), *gone = json_object_new_array();
		const char **names = names_of(&l);
		if (items == NULL || gone == NULL || names == NULL) {
			json_object_put(items);
			json_object_put(gone);
			free(names);
			goto out;
		}
		fctl_prune_set(items, set, names, l.n, gone);
		for (size_t i = 0; i < json_object_array_length(gone); i++) {
			const char *name =
			    json_object_get_string(json_object_array_get_idx(gone, i));
			fx_buf_reset(&live);
			if (live_text(ctx, name, &live) < 0)
				break;
			snprintf(an, sizeof(an), "live/%s", name);
			snprintf(bn, sizeof(bn), "pruned/%s", name);
			differ |= fx_diff(live.data ? live.data : "", "", an, bn, 3, &out) > 0;
		}
		json_object_put(items);
		json_object_put(gone);
		free(names);
	}
	if (out.data)
		fwrite(out.data, 1, out.len, ctx->out);
	rc = differ ? 1 : 0;
out:
	fx_buf_release(&live);
	fx_buf_release(&local);
	fx_buf_release(&out);
	fctl_fnlist_release(&l);
	return rc;
}

int fctl_cmd_delete(struct fctl_ctx *ctx, const struct fctl_args *a)
{
	bool ignore = fctl_flag(a, "ignore-not-found");
	size_t nf = fctl_opt_count(a, "filename");
	int rc = FCTL_OK;

	if (a->npos == 0 && nf == 0) {
		fctl_errorf(ctx, "delete: give function names or -f FILE|DIR|-");
		return FCTL_USAGE;
	}
	for (int i = 0; i < a->npos; i++)
		if (fctl_delete_one(ctx, a->pos[i], ignore, "deleted") != 0)
			rc = FCTL_FAIL;
	if (nf > 0) {
		const char *paths[FCTL_MAX_VALUES];
		struct fctl_fnlist l = {0};
		size_t np;
		if (files_of(ctx, a, paths, &np, "delete") != 0)
			return FCTL_USAGE;
		if (load(ctx, paths, np, &l) != 0)
			return FCTL_FAIL;
		for (size_t i = 0; i < l.n; i++)
			if (fctl_delete_one(ctx, l.v[i].name, ignore, "deleted") != 0)
				rc = FCTL_FAIL;
		fctl_fnlist_release(&l);
	}
	return rc;
}
