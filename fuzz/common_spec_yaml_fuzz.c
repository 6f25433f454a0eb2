/* Function YAML (one or more documents) and OpenFaaS stack.yml: fx_spec_load.
 * Invariants: a loaded function's canonical text loads back to itself through
 * YAML and through the API's JSON; copies and hashes agree; errors format. */
#include "fuzz.h"
#include "sha256.h"
#include "spec.h"

#include <errno.h>

static void roundtrip(const struct fx_function *fn)
{
	struct fx_spec_errs errs = {0};
	struct fx_function again, viajson, cp;
	struct json_object *j;
	const char *js;
	char *c1, *c2, *c3, *c4, h1[65], h2[65];

	c1 = fx_spec_canonical(fn);
	FZ_ASSERT(c1 != NULL);
	FZ_ASSERT(fx_spec_load_one(c1, strlen(c1), "canonical", &again, &errs) == 0);
	c2 = fx_spec_canonical(&again);
	FZ_ASSERT(c2 != NULL && strcmp(c1, c2) == 0);

	j = fx_spec_to_json(fn);
	FZ_ASSERT(j != NULL);
	js = json_object_to_json_string(j);
	FZ_ASSERT(fx_spec_load_one(js, strlen(js), "json", &viajson, &errs) == 0);
	c3 = fx_spec_canonical(&viajson);
	FZ_ASSERT(c3 != NULL && strcmp(c1, c3) == 0);

	FZ_ASSERT(fx_spec_hash(fn, h1) == 0);
	fx_sha256_hex(c1, strlen(c1), h2);
	FZ_ASSERT(strcmp(h1, h2) == 0);
	FZ_ASSERT(fx_function_copy(&cp, fn) == 0);
	c4 = fx_spec_canonical(&cp);
	FZ_ASSERT(c4 != NULL && strcmp(c1, c4) == 0);
	FZ_ASSERT(fx_spec_valid_name(fn->name));

	free(c4);
	fx_function_release(&cp);
	json_object_put(j);
	fx_function_release(&viajson);
	free(c3);
	fx_function_release(&again);
	free(c2);
	free(c1);
	fx_spec_errs_release(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fx_function_list list = {0};
	struct fx_spec_errs errs = {0};
	int rc;

	rc = fx_spec_load((const char *)data, size, "fuzz.yaml", &list, &errs);
	if (rc == 0) {
		FZ_ASSERT(list.n >= 1 && list.n <= FX_SPEC_MAX_DOCS);
		for (size_t i = 0; i < list.n; i++)
			roundtrip(&list.v[i]);
		fx_function_list_release(&list);
	} else {
		FZ_ASSERT(list.n == 0 && list.v == NULL); /* all or nothing */
		FZ_ASSERT(rc == -ENOMEM || errs.n > 0);
		for (size_t i = 0; i < errs.n; i++) {
			char *s = fx_spec_err_format(&errs.v[i]);
			FZ_ASSERT(s != NULL);
			free(s);
		}
		struct json_object *j = fx_spec_errs_to_json(&errs);
		FZ_ASSERT(j != NULL && json_object_to_json_string(j) != NULL);
		json_object_put(j);
	}
	fx_spec_errs_release(&errs);
	return 0;
}
