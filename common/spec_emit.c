/* spec_emit.c: a struct fx_function back out: the canonical YAML (what the
 * controller stores; its SHA-256 is the spec hash, so its bytes must not
 * change for an unchanged function; every string goes through common/yamlw.c)
 * and the JSON object. */
#include "spec.h"

#include "buf.h"
#include "sha256.h"
#include "units.h"
#include "yamlw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- output ---- */

const char *fx_spec_mode_name(enum fx_mode m)
{
	switch (m) {
	case FX_MODE_HTTP:
		return "http";
	case FX_MODE_STREAMING:
		return "streaming";
	case FX_MODE_IMAGE:
		return NULL;
	default:
		return "fork";
	}
}

char *fx_spec_format_cpu(int64_t milli, char *buf, size_t n)
{
	if (milli % 1000 == 0)
		snprintf(buf, n, "%lld", (long long)(milli / 1000));
	else
		snprintf(buf, n, "%lldm", (long long)milli);
	return buf;
}

static void emit_kv(struct fx_buf *b, const char *indent, const char *key,
                    const struct fx_kvlist *l)
{
	if (l->n == 0) {
		fx_buf_appendf(b, "%s%s: {}\n", indent, key);
		return;
	}
	fx_buf_appendf(b, "%s%s:\n", indent, key);
	for (size_t i = 0; i < l->n; i++) {
		fx_buf_appendf(b, "%s  ", indent);
		fx_yaml_key(b, l->v[i].key);
		fx_buf_puts(b, ": ");
		fx_yaml_scalar(b, l->v[i].value);
		fx_buf_puts(b, "\n");
	}
}

static void emit_list(struct fx_buf *b, const char *indent, const char *key,
                      const struct fx_strlist *l)
{
	if (l->n == 0) {
		fx_buf_appendf(b, "%s%s: []\n", indent, key);
		return;
	}
	fx_buf_appendf(b, "%s%s:\n", indent, key);
	for (size_t i = 0; i < l->n; i++) {
		fx_buf_appendf(b, "%s  - ", indent);
		fx_yaml_scalar(b, l->v[i]);
		fx_buf_puts(b, "\n");
	}
}

static void emit_res(struct fx_buf *b, const char *key, const struct fx_resources *r)
{
	char t[32];
	if (r->memory == 0 && r->cpu_milli == 0) {
		fx_buf_appendf(b, "  %s: {}\n", key);
		return;
	}
	fx_buf_appendf(b, "  %s:\n", key);
	if (r->memory) {
		fx_format_size(r->memory, t, sizeof(t));
		fx_buf_puts(b, "    memory: ");
		fx_yaml_scalar(b, r->memory_text[0] ? r->memory_text : t);
		fx_buf_puts(b, "\n");
	}
	if (r->cpu_milli) {
		fx_spec_format_cpu(r->cpu_milli, t, sizeof(t));
		fx_buf_puts(b, "    cpu: ");
		fx_yaml_scalar(b, r->cpu_text[0] ? r->cpu_text : t);
		fx_buf_puts(b, "\n");
	}
}

static void emit_dur(struct fx_buf *b, const char *indent, const char *key, int64_t ms)
{
	char t[32];
	fx_format_duration(ms, t, sizeof(t));
	fx_buf_appendf(b, "%s%s: ", indent, key);
	fx_yaml_scalar(b, t);
	fx_buf_puts(b, "\n");
}

/* A timeout: 0 is null (the image's own). */
static void emit_timeout(struct fx_buf *b, const char *key, int64_t ms)
{
	if (ms == 0)
		fx_buf_appendf(b, "    %s: null\n", key);
	else
		emit_dur(b, "    ", key, ms);
}

char *fx_spec_canonical(const struct fx_function *fn)
{
	struct fx_buf b;
	char *s;
	fx_buf_init(&b, 4 * FX_SPEC_MAX_INPUT);
	fx_buf_puts(&b, "apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: ");
	fx_yaml_scalar(&b, fn->name ? fn->name : "");
	fx_buf_puts(&b, "\n");
	emit_kv(&b, "  ", "labels", &fn->labels);
	emit_kv(&b, "  ", "annotations", &fn->annotations);
	fx_buf_puts(&b, "spec:\n  image: ");
	fx_yaml_scalar(&b, fn->image ? fn->image : "");
	fx_buf_puts(&b, "\n  fprocess: ");
	fx_yaml_scalar(&b, fn->fprocess ? fn->fprocess : "");
	fx_buf_appendf(&b, "\n  mode: %s\n",
	               fn->mode == FX_MODE_IMAGE ? "null" : fx_spec_mode_name(fn->mode));
	emit_kv(&b, "  ", "env", &fn->env);
	emit_list(&b, "  ", "secrets", &fn->secrets);
	emit_list(&b, "  ", "constraints", &fn->constraints);
	emit_res(&b, "limits", &fn->limits);
	emit_res(&b, "requests", &fn->requests);
	fx_buf_appendf(&b,
	               "  scale:\n    min: %lld\n    max: %lld\n    factor: %lld\n    zero: %s\n",
	               (long long)fn->scale.min, (long long)fn->scale.max,
	               (long long)fn->scale.factor, fn->scale.zero ? "true" : "false");
	emit_dur(&b, "    ", "cooldown", fn->scale.cooldown_ms);
	if (fn->scale.zero_duration_ms > 0) /* only when set: its default is the platform's */
		emit_dur(&b, "    ", "zeroDuration", fn->scale.zero_duration_ms);
	/* The autoscaler's fields only when not their defaults, so that the
	 * canonical text (and hash) of a function written before them holds. */
	if (fn->scale.metric != FX_METRIC_CONCURRENCY)
		fx_buf_appendf(&b, "    metric: %s\n", fx_spec_metric_name(fn->scale.metric));
	if (fn->scale.target != fx_spec_default_target(fn->scale.metric))
		fx_buf_appendf(&b, "    target: %lld\n", (long long)fn->scale.target);
	if (fn->scale.window_ms != FX_SPEC_DEFAULT_WINDOW_MS)
		emit_dur(&b, "    ", "window", fn->scale.window_ms);
	if (fn->scale.panic_window_ms != FX_SPEC_DEFAULT_PANIC_WINDOW_MS)
		emit_dur(&b, "    ", "panicWindow", fn->scale.panic_window_ms);
	if (fn->scale.down_delay_ms > 0)
		emit_dur(&b, "    ", "downDelay", fn->scale.down_delay_ms);
	fx_buf_puts(&b, "  timeouts:\n");
	emit_timeout(&b, "read", fn->timeouts.read_ms);
	emit_timeout(&b, "write", fn->timeouts.write_ms);
	emit_timeout(&b, "exec", fn->timeouts.exec_ms);
	/* Only when set: the canonical text (and so the spec hash) of a function
	 * without a user is what it was before the field existed. */
	if (fn->user != NULL && fn->user[0] != '\0') {
		fx_buf_puts(&b, "  user: ");
		fx_yaml_scalar(&b, fn->user);
		fx_buf_puts(&b, "\n");
	}
	fx_buf_appendf(&b, "  readOnlyRootFilesystem: %s\n",
	               fn->read_only_root_fs ? "true" : "false");
	s = fx_buf_detach(&b, NULL); /* NULL when an append failed: never a cut text */
	fx_buf_release(&b);
	return s;
}

int fx_spec_hash(const struct fx_function *fn, char out[65])
{
	char *s = fx_spec_canonical(fn);
	if (s == NULL)
		return -ENOMEM;
	fx_sha256_hex(s, strlen(s), out);
	free(s);
	return 0;
}

static struct json_object *kv_json(const struct fx_kvlist *l)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; o && i < l->n; i++)
		json_object_object_add(o, l->v[i].key, json_object_new_string(l->v[i].value));
	return o;
}

static struct json_object *list_json(const struct fx_strlist *l)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < l->n; i++)
		json_object_array_add(a, json_object_new_string(l->v[i]));
	return a;
}

struct json_object *fx_spec_resources_json(const struct fx_resources *r)
{
	struct json_object *o = json_object_new_object();
	char t[32];
	if (o == NULL)
		return NULL;
	if (r->memory) {
		fx_format_size(r->memory, t, sizeof(t));
		json_object_object_add(
		    o, "memory", json_object_new_string(r->memory_text[0] ? r->memory_text : t));
	}
	if (r->cpu_milli) {
		fx_spec_format_cpu(r->cpu_milli, t, sizeof(t));
		json_object_object_add(o, "cpu",
		                       json_object_new_string(r->cpu_text[0] ? r->cpu_text : t));
	}
	return o;
}

static struct json_object *dur_json(int64_t ms)
{
	char t[32];
	fx_format_duration(ms, t, sizeof(t));
	return json_object_new_string(t);
}

struct json_object *fx_spec_to_json(const struct fx_function *fn)
{
	struct json_object *o = json_object_new_object(), *m, *s, *sc, *to;
	if (o == NULL)
		return NULL;
	m = json_object_new_object();
	s = json_object_new_object();
	sc = json_object_new_object();
	to = json_object_new_object();
	if (m == NULL || s == NULL || sc == NULL || to == NULL) {
		json_object_put(m);
		json_object_put(s);
		json_object_put(sc);
		json_object_put(to);
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "apiVersion", json_object_new_string("faas/v1"));
	json_object_object_add(o, "kind", json_object_new_string("Function"));
	json_object_object_add(m, "name", json_object_new_string(fn->name ? fn->name : ""));
	json_object_object_add(m, "labels", kv_json(&fn->labels));
	json_object_object_add(m, "annotations", kv_json(&fn->annotations));
	json_object_object_add(o, "metadata", m);
	json_object_object_add(s, "image", json_object_new_string(fn->image ? fn->image : ""));
	json_object_object_add(s, "fprocess",
	                       json_object_new_string(fn->fprocess ? fn->fprocess : ""));
	json_object_object_add(
	    s, "mode",
	    fn->mode == FX_MODE_IMAGE ? NULL : json_object_new_string(fx_spec_mode_name(fn->mode)));
	json_object_object_add(s, "env", kv_json(&fn->env));
	json_object_object_add(s, "secrets", list_json(&fn->secrets));
	json_object_object_add(s, "constraints", list_json(&fn->constraints));
	json_object_object_add(s, "limits", fx_spec_resources_json(&fn->limits));
	json_object_object_add(s, "requests", fx_spec_resources_json(&fn->requests));
	json_object_object_add(sc, "min", json_object_new_int64(fn->scale.min));
	json_object_object_add(sc, "max", json_object_new_int64(fn->scale.max));
	json_object_object_add(sc, "factor", json_object_new_int64(fn->scale.factor));
	json_object_object_add(sc, "zero", json_object_new_boolean(fn->scale.zero));
	json_object_object_add(sc, "cooldown", dur_json(fn->scale.cooldown_ms));
	if (fn->scale.zero_duration_ms > 0)
		json_object_object_add(sc, "zeroDuration", dur_json(fn->scale.zero_duration_ms));
	json_object_object_add(sc, "metric",
	                       json_object_new_string(fx_spec_metric_name(fn->scale.metric)));
	if (fn->scale.metric != FX_METRIC_ALERTS)
		json_object_object_add(sc, "target", json_object_new_int64(fn->scale.target));
	json_object_object_add(sc, "window", dur_json(fn->scale.window_ms));
	json_object_object_add(sc, "panicWindow", dur_json(fn->scale.panic_window_ms));
	json_object_object_add(sc, "downDelay", dur_json(fn->scale.down_delay_ms));
	json_object_object_add(s, "scale", sc);
	/* a timeout left to the image is JSON null */
	json_object_object_add(to, "read",
	                       fn->timeouts.read_ms ? dur_json(fn->timeouts.read_ms) : NULL);
	json_object_object_add(to, "write",
	                       fn->timeouts.write_ms ? dur_json(fn->timeouts.write_ms) : NULL);
	json_object_object_add(to, "exec",
	                       fn->timeouts.exec_ms ? dur_json(fn->timeouts.exec_ms) : NULL);
	json_object_object_add(s, "timeouts", to);
	json_object_object_add(s, "readOnlyRootFilesystem",
	                       json_object_new_boolean(fn->read_only_root_fs));
	json_object_object_add(s, "user", json_object_new_string(fn->user ? fn->user : ""));
	json_object_object_add(o, "spec", s);
	return o;
}
