/* spec_stack.c: an OpenFaaS stack.yml (provider + functions map) -> one
 * Function node tree per entry, validated by the same schema as ours;
 * com.openfaas.scale.* labels become spec.scale. */
#include "spec_int.h"

#include <errno.h>
#include <string.h>

/* ---- OpenFaaS stack.yml -> Function node trees ---- */

bool spec_is_stack(const struct node *root)
{
	bool functions = false, api = false;
	if (root == NULL || root->t != N_MAP)
		return false;
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const struct node *k = root->kids[i];
		if (k->t != N_SCALAR)
			continue;
		if (strcmp(k->text, "functions") == 0 || strcmp(k->text, "provider") == 0)
			functions = true;
		if (strcmp(k->text, "apiVersion") == 0 || strcmp(k->text, "kind") == 0)
			api = true;
	}
	return functions && !api;
}

static struct node *mk_scalar(const char *s, bool plain, const struct node *at)
{
	return spec_scalar_new(s, strlen(s), plain, at ? at->line : 0, at ? at->col : 0);
}

/* Adds key: value (value owned; may be NULL to skip). */
static int map_put(struct node *m, const char *key, struct node *value, const struct node *at)
{
	if (value == NULL)
		return 0;
	if (spec_node_add(m, mk_scalar(key, false, at)) < 0) {
		spec_node_free(value);
		return -ENOMEM;
	}
	return spec_node_add(m, value);
}

static struct node *dup_or_null(const struct node *n)
{
	return n ? spec_node_dup(n) : NULL;
}

/* One functions.<name> entry -> a Function tree (caller frees), NULL on ENOMEM or
 * when errors were reported. */
static struct node *stack_function(struct vc *c, const struct node *key, const struct node *f,
                                   const char *path)
{
	const struct node *image = NULL, *fproc = NULL, *env = NULL, *sec = NULL, *labels = NULL,
	                  *ann = NULL, *cons = NULL, *lim = NULL, *req = NULL, *rofs = NULL,
	                  *envfile = NULL;
	const struct node *lang = NULL, *handler = NULL, *bargs = NULL, *bopts = NULL, *bsec = NULL,
	                  *skip = NULL, *tmpl = NULL, *plat = NULL, *ns = NULL;
	const struct field ff[] = {
	    {"image", &image},
	    {"fprocess", &fproc},
	    {"environment", &env},
	    {"secrets", &sec},
	    {"labels", &labels},
	    {"annotations", &ann},
	    {"constraints", &cons},
	    {"limits", &lim},
	    {"requests", &req},
	    {"readonly_root_filesystem", &rofs},
	    {"environment_file", &envfile},
	    {"lang", &lang},
	    {"handler", &handler},
	    {"build_args", &bargs},
	    {"build_options", &bopts},
	    {"build_secrets", &bsec},
	    {"skip_build", &skip},
	    {"template", &tmpl},
	    {"platforms", &plat},
	    {"namespace", &ns},
	};
	struct node *fn, *meta, *spec, *lab = NULL, *sc;
	char fp[MAX_PATH];

	if (!spec_walk_map(c, f, path, ff, sizeof(ff) / sizeof(ff[0]), true))
		return NULL;
	if (envfile != NULL) {
		spec_join(fp, path, "environment_file");
		spec_verr(c, envfile, fp, "not supported: put the variables in environment");
	}
	if (spec_vfailed(c))
		return NULL;
	fn = spec_node_new(N_MAP, f->line, f->col);
	if (fn == NULL)
		return NULL;
	/* fn owns meta and spec from here on; sc and lab are owned until put. */
	meta = spec_node_new(N_MAP, f->line, f->col);
	if (map_put(fn, "apiVersion", mk_scalar("faas/v1", false, f), f) < 0 ||
	    map_put(fn, "kind", mk_scalar("Function", false, f), f) < 0 || meta == NULL ||
	    map_put(fn, "metadata", meta, f) < 0)
		goto fail_fn;
	spec = spec_node_new(N_MAP, f->line, f->col);
	if (spec == NULL || map_put(fn, "spec", spec, f) < 0)
		goto fail_fn;
	sc = spec_node_new(N_MAP, f->line, f->col);
	if (sc == NULL)
		goto fail_fn;
	if (labels != NULL && labels->t == N_MAP) {
		lab = spec_node_new(N_MAP, labels->line, labels->col);
		if (lab == NULL)
			goto fail_sc;
		for (size_t i = 0; i + 1 < labels->n; i += 2) {
			const struct node *k = labels->kids[i], *v = labels->kids[i + 1];
			static const char *const sk[][2] = {{"min", "min"},
			                                    {"max", "max"},
			                                    {"factor", "factor"},
			                                    {"zero", "zero"},
			                                    {"zero-duration", "zeroDuration"}};
			bool scale = false;
			if (k->t == N_SCALAR && strncmp(k->text, "com.openfaas.scale.", 19) == 0) {
				for (size_t j = 0; j < 5; j++) {
					if (strcmp(k->text + 19, sk[j][0]) != 0 || v->t != N_SCALAR)
						continue;
					/* label values are strings: read them as typed */
					if (map_put(sc, sk[j][1], mk_scalar(v->text, true, v), k) <
					    0)
						goto fail_lab;
					scale = true;
				}
			}
			if (!scale && (spec_node_add(lab, spec_node_dup(k)) < 0 ||
			               spec_node_add(lab, spec_node_dup(v)) < 0))
				goto fail_lab;
		}
	} else if (labels != NULL) {
		lab = spec_node_dup(labels); /* the validator reports its type */
		if (lab == NULL)
			goto fail_sc;
	}
	if (map_put(meta, "name", spec_node_dup(key), key) < 0)
		goto fail_lab;
	if (map_put(meta, "labels", lab, f) < 0) {
		lab = NULL;
		goto fail_sc;
	}
	if (map_put(meta, "annotations", dup_or_null(ann), f) < 0 ||
	    map_put(spec, "image", dup_or_null(image), f) < 0 ||
	    map_put(spec, "fprocess", dup_or_null(fproc), f) < 0 ||
	    map_put(spec, "env", dup_or_null(env), f) < 0 ||
	    map_put(spec, "secrets", dup_or_null(sec), f) < 0 ||
	    map_put(spec, "constraints", dup_or_null(cons), f) < 0 ||
	    map_put(spec, "limits", dup_or_null(lim), f) < 0 ||
	    map_put(spec, "requests", dup_or_null(req), f) < 0 ||
	    map_put(spec, "readOnlyRootFilesystem", dup_or_null(rofs), f) < 0 ||
	    /* An OpenFaaS function's mode and timeouts are its image's (ENV) or
	     * its environment's: null leaves them to those. */
	    map_put(spec, "mode", mk_scalar("null", true, f), f) < 0 ||
	    map_put(spec, "timeouts", mk_scalar("null", true, f), f) < 0)
		goto fail_sc;
	/* com.openfaas.scale.* labels: Alertmanager scales it, as in OpenFaaS. */
	if (sc->n > 0 && map_put(sc, "metric", mk_scalar("alerts", true, f), f) < 0)
		goto fail_sc;
	if (sc->n == 0) {
		spec_node_free(sc);
	} else if (map_put(spec, "scale", sc, f) < 0) {
		goto fail_fn;
	}
	return fn;
fail_lab:
	spec_node_free(lab);
fail_sc:
	spec_node_free(sc);
fail_fn:
	spec_node_free(fn);
	return NULL;
}

int spec_load_stack(struct vc *c, const struct node *root, struct fx_function_list *list)
{
	const struct node *ver = NULL, *prov = NULL, *fns = NULL, *conf = NULL;
	const struct field tf[] = {
	    {"version", &ver}, {"provider", &prov}, {"functions", &fns}, {"configuration", &conf}};
	char fp[MAX_PATH];
	int rc;
	c->before = c->errs->n + c->errs->dropped;
	spec_walk_map(c, root, "", tf, 4, false);
	if (fns == NULL || spec_is_null(fns)) {
		spec_verr(c, fns ? fns : root, "functions",
		          "required (a map of functions by name)");
		return 0;
	}
	if (fns->t != N_MAP) {
		spec_verr(c, fns, "functions", "expected a mapping, got %s", spec_kind_name(fns));
		return 0;
	}
	if (spec_vfailed(c))
		return 0;
	for (size_t i = 0; i + 1 < fns->n; i += 2) {
		const struct node *k = fns->kids[i];
		struct node *t;
		size_t before = c->errs->n + c->errs->dropped;
		if (k->t != N_SCALAR) {
			spec_verr(c, k, "functions", "keys must be strings, got %s",
			          spec_kind_name(k));
			continue;
		}
		spec_join(fp, "functions", k->text);
		c->before = before;
		t = stack_function(c, k, fns->kids[i + 1], fp);
		if (t == NULL) {
			if (!spec_vfailed(c))
				return -ENOMEM;
			continue;
		}
		rc = spec_add_checked(c, t, list);
		spec_node_free(t);
		if (rc < 0)
			return rc;
	}
	return 0;
}
