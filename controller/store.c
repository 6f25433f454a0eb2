/* store.c: the desired state lives in the Swarm (Raft-replicated), so the
 * controller keeps nothing on disk: one Docker config per function
 * generation, labelled faas.function=<name> and faas.generation=<n>, holding
 * the canonical YAML. A write creates generation n+1, then removes older ones. */
#include "controller.h"

#include "buf.h"
#include "log.h"
#include "sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LABEL_CREATED "faas.created"

static const char *network = "func_net";
static char network_label[128] = CTL_LABEL_NETWORK "=func_net";

void store_set_network(const char *net)
{
	network = net;
	snprintf(network_label, sizeof(network_label), "%s=%s", CTL_LABEL_NETWORK, net);
}

const char *store_network_label(void)
{
	return network_label;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const char *s, size_t n)
{
	char *o = malloc((n + 2) / 3 * 4 + 1), *p = o;
	const unsigned char *u = (const unsigned char *)s;
	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)u[i] << 16 | (i + 1 < n ? (unsigned)u[i + 1] << 8 : 0) |
		             (i + 2 < n ? u[i + 2] : 0);
		*p++ = b64[v >> 18 & 63];
		*p++ = b64[v >> 12 & 63];
		*p++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*p++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*p = '\0';
	return o;
}

static char *b64_decode(const char *s, size_t *outlen)
{
	size_t n = strlen(s), j = 0;
	char *o = malloc(n / 4 * 3 + 3);
	unsigned v = 0;
	int bits = 0;
	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *c = strchr(b64, s[i]);
		if (s[i] == '=' || s[i] == '\n' || s[i] == '\r')
			continue;
		if (c == NULL || s[i] == '\0') {
			free(o);
			return NULL;
		}
		v = v << 6 | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[j++] = (char)(v >> bits & 0xff);
		}
	}
	o[j] = '\0';
	*outlen = j;
	return o;
}

static void config_name(const char *fn, int64_t gen, char *out, size_t n)
{
	if (strlen(fn) <= 40) {
		snprintf(out, n, "faas-fn-%s-%lld", fn, (long long)gen);
	} else {
		char h[65];
		fx_sha256_hex(fn, strlen(fn), h);
		snprintf(out, n, "faas-fn-%.32s-%lld", h, (long long)gen);
	}
}

static const char *label_of(struct json_object *cfg, const char *key)
{
	struct json_object *spec, *labels, *v;
	if (!json_object_object_get_ex(cfg, "Spec", &spec) ||
	    !json_object_object_get_ex(spec, "Labels", &labels) ||
	    !json_object_object_get_ex(labels, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static const char *field(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, k1, &v))
		return "";
	if (k2 != NULL && !json_object_object_get_ex(v, k2, &v))
		return "";
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* Lists configs (of one function when name is set). */
static int list_configs(struct docker *d, const char *name, struct json_object **out, char **err)
{
	char sel[128], *q, path[512];
	int rc;
	if (name != NULL)
		snprintf(sel, sizeof(sel), "%s=%s", FX_LABEL_FUNCTION, name);
	q = docker_filters("label", name ? sel : FX_LABEL_FUNCTION, "label", network_label,
	                   (const char *)NULL);
	if (q == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/configs%s", q);
	free(q);
	rc = docker_call(d, "GET", path, NULL, out, err);
	if (rc >= 0 && (*out == NULL || !json_object_is_type(*out, json_type_array))) {
		json_object_put(*out);
		*out = NULL;
		*err = strdup("docker GET /configs: expected a list");
		return -EIO;
	}
	return rc < 0 ? rc : 0;
}

static int decode(struct json_object *cfg, struct stored *out)
{
	const char *data = field(cfg, "Spec", "Data"), *gen = label_of(cfg, FX_LABEL_GENERATION),
	           *created = label_of(cfg, LABEL_CREATED), *cname = field(cfg, "Spec", "Name");
	struct fx_spec_errs errs = {0};
	size_t len;
	char *text = b64_decode(data, &len);
	int rc;
	if (text == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	rc = fx_spec_load_one(text, len, cname, &out->fn, &errs);
	free(text);
	if (rc < 0) {
		char *m = errs.n ? fx_spec_err_format(&errs.v[0]) : NULL;
		log_warn("bad_desired_config", "config=%s err=\"%s\"", cname, m ? m : "?");
		free(m);
		fx_spec_errs_release(&errs);
		return rc;
	}
	out->generation = gen ? strtoll(gen, NULL, 10) : 0;
	snprintf(out->created, sizeof(out->created), "%s",
	         created ? created : field(cfg, "CreatedAt", NULL));
	snprintf(out->config_id, sizeof(out->config_id), "%s", field(cfg, "ID", NULL));
	return 0;
}

void stored_release(struct stored *s)
{
	if (s != NULL)
		fx_function_release(&s->fn);
}

void stored_list_release(struct stored *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		stored_release(&v[i]);
	free(v);
}

static int cmp_stored(const void *a, const void *b)
{
	return strcmp(((const struct stored *)a)->fn.name, ((const struct stored *)b)->fn.name);
}

int store_list(struct docker *d, struct stored **out, size_t *n, char **err)
{
	struct json_object *a;
	struct stored *v;
	size_t cnt = 0, len;
	int rc = list_configs(d, NULL, &a, err);
	if (rc < 0)
		return rc;
	len = json_object_array_length(a);
	v = calloc(len ? len : 1, sizeof(*v));
	if (v == NULL) {
		json_object_put(a);
		return -ENOMEM;
	}
	for (size_t i = 0; i < len; i++) {
		struct json_object *cfg = json_object_array_get_idx(a, i);
		const char *fn = label_of(cfg, FX_LABEL_FUNCTION),
		           *gs = label_of(cfg, FX_LABEL_GENERATION);
		int64_t gen = gs ? strtoll(gs, NULL, 10) : 0;
		size_t j;
		if (fn == NULL)
			continue;
		for (j = 0; j < cnt; j++)
			if (strcmp(v[j].fn.name, fn) == 0)
				break;
		if (j < cnt && v[j].generation >= gen)
			continue;
		struct stored s;
		if (decode(cfg, &s) < 0 || strcmp(s.fn.name, fn) != 0) {
			if (s.fn.name != NULL)
				stored_release(&s);
			continue;
		}
		if (j < cnt) {
			stored_release(&v[j]);
			v[j] = s;
		} else {
			v[cnt++] = s;
		}
	}
	json_object_put(a);
	qsort(v, cnt, sizeof(*v), cmp_stored);
	*out = v;
	*n = cnt;
	return 0;
}

int store_get(struct docker *d, const char *name, struct stored *out, char **err)
{
	struct json_object *a, *best = NULL;
	int64_t bestgen = -1;
	int rc = list_configs(d, name, &a, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *cfg = json_object_array_get_idx(a, i);
		const char *gs = label_of(cfg, FX_LABEL_GENERATION);
		int64_t gen = gs ? strtoll(gs, NULL, 10) : 0;
		if (gen > bestgen) {
			bestgen = gen;
			best = cfg;
		}
	}
	if (best == NULL) {
		json_object_put(a);
		return -ENOENT;
	}
	rc = decode(best, out);
	if (rc == 0)
		out->nconfigs = json_object_array_length(a);
	json_object_put(a);
	if (rc < 0) {
		*err = strdup("the stored definition is not valid (see the log)");
		return -EIO;
	}
	return 0;
}

static void delete_gens(struct docker *d, const char *name, int64_t below, size_t *deleted)
{
	struct json_object *a;
	char *err = NULL;
	if (list_configs(d, name, &a, &err) < 0) {
		log_warn("config_list_failed", "function=%s err=\"%s\"", name, err ? err : "");
		free(err);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *cfg = json_object_array_get_idx(a, i);
		const char *gs = label_of(cfg, FX_LABEL_GENERATION);
		char path[256];
		if (gs != NULL && strtoll(gs, NULL, 10) >= below)
			continue;
		snprintf(path, sizeof(path), "/configs/%s", field(cfg, "ID", NULL));
		if (docker_call(d, "DELETE", path, NULL, NULL, &err) < 0) {
			log_warn("config_delete_failed", "function=%s err=\"%s\"", name,
			         err ? err : "");
			free(err);
			err = NULL;
		} else if (deleted) {
			(*deleted)++;
		}
	}
	json_object_put(a);
}

void store_prune_old(struct docker *d, const char *name, int64_t keep)
{
	delete_gens(d, name, keep, NULL);
}

int store_put(struct docker *d, const struct fx_function *fn, const struct stored *prev,
              int64_t *out_generation, char *out_created, char **err)
{
	int64_t gen = prev ? prev->generation + 1 : 1;
	char cname[80], gs[24], created[40], hash[65];
	char *text = fx_spec_canonical(fn), *data;
	struct json_object *body, *labels, *reply = NULL;
	int rc;
	if (text == NULL || fx_spec_hash(fn, hash) < 0) {
		free(text);
		return -ENOMEM;
	}
	data = b64_encode(text, strlen(text));
	free(text);
	if (data == NULL)
		return -ENOMEM;
	if (prev != NULL && prev->created[0]) {
		snprintf(created, sizeof(created), "%s", prev->created);
	} else {
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	config_name(fn->name, gen, cname, sizeof(cname));
	snprintf(gs, sizeof(gs), "%lld", (long long)gen);
	body = json_object_new_object();
	labels = json_object_new_object();
	json_object_object_add(labels, FX_LABEL_FUNCTION, json_object_new_string(fn->name));
	json_object_object_add(labels, FX_LABEL_GENERATION, json_object_new_string(gs));
	json_object_object_add(labels, FX_LABEL_SPEC_HASH, json_object_new_string(hash));
	json_object_object_add(labels, LABEL_CREATED, json_object_new_string(created));
	json_object_object_add(labels, CTL_LABEL_NETWORK, json_object_new_string(network));
	json_object_object_add(body, "Name", json_object_new_string(cname));
	json_object_object_add(body, "Labels", labels);
	json_object_object_add(body, "Data", json_object_new_string(data));
	free(data);
	for (int attempt = 0;; attempt++) {
		rc = docker_call(d, "POST", "/configs/create",
		                 json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
		                 &reply, err);
		json_object_put(reply);
		reply = NULL;
		if (rc != -EEXIST || attempt > 0)
			break;
		/* A leftover of this generation (a write that crashed half-way): replace it. */
		char path[160];
		free(*err);
		*err = NULL;
		snprintf(path, sizeof(path), "/configs/%s", cname);
		docker_call(d, "DELETE", path, NULL, NULL, err);
		free(*err);
		*err = NULL;
	}
	json_object_put(body);
	if (rc < 0)
		return rc;
	if (prev != NULL && prev->config_id[0] != '\0') {
		char path[160];
		snprintf(path, sizeof(path), "/configs/%s", prev->config_id);
		if (docker_call(d, "DELETE", path, NULL, NULL, err) < 0 && *err != NULL) {
			/* left for the reconcile, which removes older generations */
			log_warn("config_delete_failed", "function=%s err=\"%s\"", fn->name, *err);
		}
		free(*err);
		*err = NULL;
	}
	if (out_generation)
		*out_generation = gen;
	if (out_created)
		snprintf(out_created, 40, "%s", created);
	return 0;
}

int store_delete(struct docker *d, const char *name, char **err)
{
	struct json_object *a;
	size_t deleted = 0, n;
	int rc = list_configs(d, name, &a, err);
	if (rc < 0)
		return rc;
	n = json_object_array_length(a);
	json_object_put(a);
	if (n == 0)
		return -ENOENT;
	delete_gens(d, name, INT64_MAX, &deleted);
	if (deleted < n) {
		*err = strdup("some generations could not be removed (see the log)");
		return -EIO;
	}
	return 0;
}
