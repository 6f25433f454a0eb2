/* api_openfaas.c: the OpenFaaS provider API's deploy, update and delete of
 * functions (POST, PUT, DELETE /system/functions): a FunctionDeployment read
 * strictly and made a Function (openfaas.c has the shapes). */
#include "controller.h"

#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A com.openfaas.scale.* label's value (a string, as labels are): an integer
 * for min/max/factor, "true"/"false" for zero. false with an error in errs
 * when it is not one. The label itself stays as written (FunctionStatus reads
 * it back); of_deployment_to_spec turns it into spec.scale. */
static bool scale_label_ok(const char *k, struct json_object *v, bool boolean,
                           struct fx_spec_errs *errs)
{
	char field[96];
	const char *t;
	size_t n;

	snprintf(field, sizeof(field), "labels.%s", k);
	if (!json_object_is_type(v, json_type_string)) {
		fx_spec_errs_add(errs, NULL, 0, 0, 0, field, "expected a string (%s), got %s",
		                 boolean ? "\"true\" or \"false\"" : "an integer such as \"2\"",
		                 v == NULL ? "null" : json_type_to_name(json_object_get_type(v)));
		return false;
	}
	t = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (boolean) {
		if (strcmp(t, "true") == 0 || strcmp(t, "false") == 0)
			return true;
		fx_spec_errs_add(errs, NULL, 0, 0, 0, field,
		                 "expected \"true\" or \"false\", got \"%.64s\"", t);
		return false;
	}
	/* Digits only, few enough for int64; the schema checks the range. */
	if (n == 0 || n > 9 || strspn(t, "0123456789") != n) {
		fx_spec_errs_add(errs, NULL, 0, 0, 0, field,
		                 "expected an integer such as \"2\", got \"%.64s\"", t);
		return false;
	}
	return true;
}

/* A parsed FunctionDeployment object (borrowed) as a Function: every bad
 * scale label reported, then of_deployment_to_spec and the schema. */
static int openfaas_object(struct json_object *in, struct fx_function *out,
                           struct fx_spec_errs *errs)
{
	static const char *const sk[] = {"min", "max", "factor", "zero"};
	struct json_object *labels = docker_jget(in, "labels"), *f;
	size_t before = errs->n + errs->dropped;
	char *err = NULL;
	int rc;

	if (labels != NULL && json_object_is_type(labels, json_type_object)) {
		json_object_object_foreach(labels, k, v)
		{
			for (size_t i = 0; i < 4; i++)
				if (strncmp(k, OF_LABEL_SCALE, strlen(OF_LABEL_SCALE)) == 0 &&
				    strcmp(k + strlen(OF_LABEL_SCALE), sk[i]) == 0)
					scale_label_ok(k, v, i == 3, errs);
		}
	}
	if (errs->n + errs->dropped > before)
		return -EINVAL;
	f = of_deployment_to_spec(in, &err);
	if (f == NULL) {
		if (err == NULL)
			return -ENOMEM;
		fx_spec_errs_add(errs, NULL, 0, 0, 0, "", "%s", err);
		free(err);
		return -EINVAL;
	}
	rc = fx_spec_from_json(f, NULL, out, errs);
	json_object_put(f);
	return rc;
}

int api_openfaas_function(const char *body, size_t len, struct fx_function *out,
                          struct fx_spec_errs *errs)
{
	struct json_object *in = NULL;
	char *jerr = NULL;
	int rc;

	if (body == NULL || len == 0) {
		fx_spec_errs_add(errs, NULL, 0, 0, 0, "", "empty body: expected JSON");
		return -EINVAL;
	}
	rc = fx_json_parse(body, len, 32, &in, &jerr);
	if (rc < 0) {
		if (jerr != NULL)
			fx_spec_errs_add(errs, NULL, 0, 0, 0, "", "%s", jerr);
		free(jerr);
		return rc;
	}
	if (!json_object_is_type(in, json_type_object)) {
		json_object_put(in);
		fx_spec_errs_add(errs, NULL, 0, 0, 0, "", "invalid JSON: expected an object");
		return -EINVAL;
	}
	rc = openfaas_object(in, out, errs);
	json_object_put(in);
	return rc;
}

/* OpenFaaS FunctionDeployment -> our Function, validated by the same schema.
 * POST creates (409 when it exists), PUT updates (404 when it does not). */
void api_deploy_openfaas(struct reply *r, const char *body, size_t len, bool create)
{
	struct json_object *in = api_parse_json_body(r, body, len);
	struct fx_function fn;
	struct fx_spec_errs errs = {0};
	int rc;
	if (in == NULL)
		return;
	if (!api_ns_body_ours(r, in)) {
		json_object_put(in);
		return;
	}
	rc = openfaas_object(in, &fn, &errs);
	json_object_put(in);
	if (rc < 0) {
		if (rc == -EINVAL)
			api_reply_spec_errors(r, &errs);
		else
			api_reply_error(r, 503, "out of memory", NULL);
		fx_spec_errs_release(&errs);
		return;
	}
	api_apply(r, &fn, false, create ? APPLY_CREATE : APPLY_UPDATE);
	fx_function_release(&fn);
}

void api_delete_openfaas(struct reply *r, const char *body, size_t len)
{
	struct json_object *in = api_parse_json_body(r, body, len);
	if (in == NULL)
		return;
	if (api_ns_body_ours(r, in))
		api_delete_function(r, docker_jstr(in, "functionName"), true);
	json_object_put(in);
}
