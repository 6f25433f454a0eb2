/* OpenFaaS deployment body (POST/PUT /system/functions): api_openfaas_function,
 * the controller's path from the request body to a validated Function (strict
 * JSON, the com.openfaas.scale.* labels checked and turned into spec.scale by
 * of_deployment_to_spec, the schema), then the FunctionStatus read back; also
 * the logs "since" parser and secret names on the same bytes.
 * Invariants: a refusal says why; what is accepted has a valid name and image,
 * a sane scale, and a canonical text that loads back to itself. */
#include "fuzz.h"
#include "controller/controller.h"

#include <errno.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fx_spec_errs errs = {0};
	struct fx_function fn, again;
	struct json_object *st;
	char *c1, *c2, text[80];
	int64_t t;
	int rc;

	if (size < sizeof(text)) {
		memcpy(text, data, size);
		text[size] = '\0';
		if (of_parse_since(text, &t) == 0)
			FZ_ASSERT(t >= 0);
		if (of_secret_name_valid(text))
			FZ_ASSERT(strcmp(text, ".") != 0 && strcmp(text, "..") != 0 &&
			          strchr(text, '/') == NULL);
	}
	rc = api_openfaas_function((const char *)data, size, &fn, &errs);
	if (rc < 0) {
		FZ_ASSERT(rc == -EINVAL || rc == -ENOMEM);
		FZ_ASSERT(rc != -EINVAL || errs.n + errs.dropped > 0);
		for (size_t i = 0; i < errs.n; i++) {
			char *s = fx_spec_err_format(&errs.v[i]);
			FZ_ASSERT(s != NULL && s[0] != '\0');
			free(s);
		}
		fx_spec_errs_release(&errs);
		return 0;
	}
	FZ_ASSERT(errs.n == 0 && errs.dropped == 0);
	FZ_ASSERT(fx_spec_valid_name(fn.name));
	FZ_ASSERT(fn.image != NULL && fn.image[0] != '\0');
	FZ_ASSERT(fn.scale.min >= 1 && fn.scale.min <= fn.scale.max &&
	          fn.scale.max <= FX_SPEC_MAX_REPLICAS);
	FZ_ASSERT(fn.scale.factor >= 0 && fn.scale.factor <= 100);
	st = of_function_status(&fn, "openfaas-fn", "2026-01-01T00:00:00Z", 1, 1, false);
	FZ_ASSERT(st != NULL);
	FZ_ASSERT(json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN) != NULL);
	json_object_put(st);
	c1 = fx_spec_canonical(&fn);
	FZ_ASSERT(c1 != NULL);
	FZ_ASSERT(fx_spec_load_one(c1, strlen(c1), NULL, &again, &errs) == 0);
	c2 = fx_spec_canonical(&again);
	FZ_ASSERT(c2 != NULL && strcmp(c1, c2) == 0);
	free(c1);
	free(c2);
	fx_function_release(&again);
	fx_function_release(&fn);
	fx_spec_errs_release(&errs);
	return 0;
}
