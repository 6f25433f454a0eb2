/* OpenFaaS deployment body (POST/PUT /system/functions): api_openfaas_function,
 * the controller's path from the request body to a validated Function (strict
 * JSON, com.openfaas.scale.* labels turned into spec.scale, the schema).
 * Invariants: a refusal says why; what is accepted has a valid name and image,
 * a sane scale, and a canonical text that loads back to itself. */
#include "fuzz.h"
#include "controller/controller.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fx_spec_errs errs = {0};
	struct fx_function fn, again;
	char *c1, *c2;
	int rc = api_openfaas_function((const char *)data, size, &fn, &errs);

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
	/* the four scale labels became spec.scale (others, e.g. .type, stay labels) */
	for (size_t i = 0; i < fn.labels.n; i++) {
		const char *k = fn.labels.v[i].key;
		FZ_ASSERT(strncmp(k, "com.openfaas.scale.", 19) != 0 ||
		          (strcmp(k + 19, "min") != 0 && strcmp(k + 19, "max") != 0 &&
		           strcmp(k + 19, "factor") != 0 && strcmp(k + 19, "zero") != 0));
	}
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
