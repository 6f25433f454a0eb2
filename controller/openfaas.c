/* openfaas.c: the OpenFaaS provider API's shapes and small parsers (the
 * faas-provider types: FunctionDeployment, FunctionStatus, Secret, logs
 * Message). Pure: no I/O, no logging; api.c does the calls. */
#include "controller.h"

#include "buf.h"
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* n digits at p as a number, or -1. */
static int digits(const char *p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

int of_parse_since(const char *s, int64_t *out_sec)
{
	int64_t v = 0;
	const char *p = s;
	struct tm tm;
	int Y, M, D, h, m, sec, off = 0;
	time_t t;

	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return -EINVAL;
	/* Unix time in seconds (what Docker's own API takes). */
	if (strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 12)
			return -EINVAL;
		for (; *p; p++)
			v = v * 10 + (*p - '0');
		*out_sec = v;
		return 0;
	}
	/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -EINVAL;
	Y = digits(s, 4);
	M = digits(s + 5, 2);
	D = digits(s + 8, 2);
	h = digits(s + 11, 2);
	m = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h < 0 || h > 23 || m < 0 || m > 59 ||
	    sec < 0 || sec > 60)
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		size_t n = strspn(p + 1, "0123456789");
		if (n == 0 || n > 9)
			return -EINVAL;
		p += 1 + n; /* whole seconds are enough for Docker's since */
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (strlen(p) != 6 || p[3] != ':') /* +HH:MM, and nothing after */
			return -EINVAL;
		oh = digits(p + 1, 2);
		om = digits(p + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -EINVAL;
		off = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != D) /* 31 February and the like */
		return -EINVAL;
	v = (int64_t)t - off;
	*out_sec = v < 0 ? 0 : v;
	return 0;
}

bool of_secret_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > OF_SECRET_NAME_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

/* ---- FunctionDeployment -> Function ---- */

static struct json_object *member(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* Copies in.from to out.to when present (null included: the schema reads it). */
static void copy(struct json_object *out, const char *to, struct json_object *in, const char *from)
{
	struct json_object *v;
	if (json_object_object_get_ex(in, from, &v))
		json_object_object_add(out, to, json_object_get(v));
}

/* A com.openfaas.scale.* label's value: a string (labels are strings; a
 * number is read too), or NULL with *why. */
static const char *label_text(struct json_object *v)
{
	if (v != NULL &&
	    (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int)))
		return json_object_get_string(v);
	return NULL;
}

struct json_object *of_deployment_to_spec(struct json_object *in, char **err)
{
	static const char *const ints[] = {"min", "max", "factor"};
	struct json_object *f, *meta, *spec, *scale, *labels = member(in, "labels"), *v;
	char pre[] = OF_LABEL_SCALE, key[64];

	*err = NULL;
	if (!json_object_is_type(in, json_type_object)) {
		*err = fx_strdupf("expected a FunctionDeployment object");
		return NULL;
	}
	v = member(in, "service");
	if (v == NULL || !json_object_is_type(v, json_type_string)) {
		*err = fx_strdupf("service: required, the function's name (a string)");
		return NULL;
	}
	f = json_object_new_object();
	meta = json_object_new_object();
	spec = json_object_new_object();
	scale = json_object_new_object();
	json_object_object_add(f, "apiVersion", json_object_new_string("faas/v1"));
	json_object_object_add(f, "kind", json_object_new_string("Function"));
	json_object_object_add(f, "metadata", meta);
	json_object_object_add(f, "spec", spec);
	copy(meta, "name", in, "service");
	copy(meta, "annotations", in, "annotations");
	/* Labels are kept as they are; the scale ones also become spec.scale. */
	copy(meta, "labels", in, "labels");
	if (labels != NULL && json_object_is_type(labels, json_type_object)) {
		for (size_t i = 0; i < 4; i++) {
			const char *k = i < 3 ? ints[i] : "zero", *t;
			int64_t n = 0;
			bool b = false;
			snprintf(key, sizeof(key), "%s%s", pre, k);
			if (!json_object_object_get_ex(labels, key, &v))
				continue;
			t = label_text(v);
			if (i < 3 && (t == NULL || fx_parse_int(t, INT64_MIN, INT64_MAX, &n) < 0)) {
				*err = fx_strdupf("labels.%s: expected an integer as a string, "
				                  "e.g. \"2\"",
				                  key);
				goto fail;
			}
			if (i == 3 && (t == NULL || fx_parse_bool(t, &b) < 0)) {
				*err = fx_strdupf("labels.%s: expected \"true\" or \"false\"", key);
				goto fail;
			}
			json_object_object_add(scale, k,
			                       i < 3 ? json_object_new_int64(n)
			                             : json_object_new_boolean(b));
		}
		/* The idle time before scale to zero: a duration ("15m"), which the
		 * schema checks (spec.scale.zeroDuration). */
		snprintf(key, sizeof(key), "%szero-duration", pre);
		if (json_object_object_get_ex(labels, key, &v)) {
			if (!json_object_is_type(v, json_type_string)) {
				*err = fx_strdupf("labels.%s: expected a duration as a string, "
				                  "e.g. \"15m\"",
				                  key);
				goto fail;
			}
			json_object_object_add(scale, "zeroDuration", json_object_get(v));
		}
	}
	copy(spec, "image", in, "image");
	copy(spec, "fprocess", in, "envProcess");
	copy(spec, "env", in, "envVars");
	copy(spec, "secrets", in, "secrets");
	copy(spec, "constraints", in, "constraints");
	copy(spec, "limits", in, "limits");
	copy(spec, "requests", in, "requests");
	copy(spec, "readOnlyRootFilesystem", in, "readOnlyRootFilesystem");
	/* Mode and timeouts are the image's (its ENV: an of-watchdog says
	 * mode=http) unless envVars set them. */
	json_object_object_add(spec, "mode", NULL);
	json_object_object_add(spec, "timeouts", NULL);
	/* A function that says com.openfaas.scale.* keeps OpenFaaS's habits:
	 * Alertmanager scales it (scale.metric: alerts). */
	if (json_object_object_length(scale) > 0) {
		json_object_object_add(scale, "metric", json_object_new_string("alerts"));
		json_object_object_add(spec, "scale", scale);
	} else
		json_object_put(scale);
	return f;
fail:
	json_object_put(scale);
	json_object_put(f);
	return NULL;
}

/* ---- Function -> FunctionStatus ---- */

static struct json_object *kv_object(const struct fx_kvlist *l)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < l->n; i++)
		json_object_object_add(o, l->v[i].key, json_object_new_string(l->v[i].value));
	return o;
}

static struct json_object *str_array(const struct fx_strlist *l)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < l->n; i++)
		json_object_array_add(a, json_object_new_string(l->v[i]));
	return a;
}

/* FunctionResources as written, or NULL (left out) when nothing is set. */
static struct json_object *resources(const struct fx_resources *r)
{
	return r->memory == 0 && r->cpu_milli == 0 ? NULL : fx_spec_resources_json(r);
}

struct json_object *of_function_status(const struct fx_function *fn, const char *ns,
                                       const char *created, int64_t replicas, int64_t available,
                                       bool asleep)
{
	struct json_object *o = json_object_new_object(), *labels = kv_object(&fn->labels), *x;
	json_object_object_add(o, "name", json_object_new_string(fn->name));
	json_object_object_add(o, "namespace", json_object_new_string(ns));
	json_object_object_add(o, "image", json_object_new_string(fn->image));
	json_object_object_add(o, "envProcess", json_object_new_string(fn->fprocess));
	if (fn->env.n > 0)
		json_object_object_add(o, "envVars", kv_object(&fn->env));
	/* OpenFaaS labels every function with its name. */
	if (!json_object_object_get_ex(labels, OF_LABEL_FUNCTION, &x))
		json_object_object_add(labels, OF_LABEL_FUNCTION, json_object_new_string(fn->name));
	json_object_object_add(o, "labels", labels);
	if (fn->annotations.n > 0)
		json_object_object_add(o, "annotations", kv_object(&fn->annotations));
	if (fn->constraints.n > 0)
		json_object_object_add(o, "constraints", str_array(&fn->constraints));
	if (fn->secrets.n > 0)
		json_object_object_add(o, "secrets", str_array(&fn->secrets));
	if ((x = resources(&fn->limits)) != NULL)
		json_object_object_add(o, "limits", x);
	if ((x = resources(&fn->requests)) != NULL)
		json_object_object_add(o, "requests", x);
	json_object_object_add(o, "readOnlyRootFilesystem",
	                       json_object_new_boolean(fn->read_only_root_fs));
	json_object_object_add(o, "replicas", json_object_new_int64(replicas < 0 ? 0 : replicas));
	json_object_object_add(o, "availableReplicas",
	                       json_object_new_int64(available < 0 ? 0 : available));
	json_object_object_add(o, "invocationCount", json_object_new_int64(0));
	json_object_object_add(o, "createdAt", json_object_new_string(created));
	/* Ours (the gateway reads it): a request may wake it from 0. */
	json_object_object_add(o, "zero", json_object_new_boolean(fn->scale.zero || asleep));
	return o;
}
