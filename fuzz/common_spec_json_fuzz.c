/* A Function as JSON (the API's body): fx_spec_load_one (YAML or JSON text)
 * and fx_spec_from_json on what json-c parses. Invariant: what loads has a
 * canonical text that loads back to itself. */
#include "fuzz.h"
#include "spec.h"

static void check_loaded(struct fx_function *fn)
{
	struct fx_spec_errs errs = {0};
	struct fx_function again;
	char *c1 = fx_spec_canonical(fn), *c2;

	FZ_ASSERT(c1 != NULL);
	FZ_ASSERT(fx_spec_valid_name(fn->name));
	FZ_ASSERT(fx_spec_load_one(c1, strlen(c1), NULL, &again, &errs) == 0);
	c2 = fx_spec_canonical(&again);
	FZ_ASSERT(c2 != NULL && strcmp(c1, c2) == 0);
	free(c2);
	free(c1);
	fx_function_release(&again);
	fx_spec_errs_release(&errs);
}

static void check_errs(struct fx_spec_errs *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		char *s = fx_spec_err_format(&errs->v[i]);
		FZ_ASSERT(s != NULL);
		free(s);
	}
	fx_spec_errs_release(errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fx_spec_errs errs = {0};
	struct fx_function fn;
	struct json_tokener *tok;
	struct json_object *obj;

	if (fx_spec_load_one((const char *)data, size, "body", &fn, &errs) == 0) {
		check_loaded(&fn);
		fx_function_release(&fn);
	}
	check_errs(&errs);

	/* As the controller's API does: json-c first, then the conversion. */
	tok = json_tokener_new_ex(32);
	FZ_ASSERT(tok != NULL);
	obj = json_tokener_parse_ex(tok, (const char *)data,
	                            (int)(size > 1u << 20 ? 1u << 20 : size));
	if (obj != NULL) {
		if (fx_spec_from_json(obj, NULL, &fn, &errs) == 0) {
			check_loaded(&fn);
			fx_function_release(&fn);
		} else {
			FZ_ASSERT(errs.n > 0);
		}
		check_errs(&errs);
		json_object_put(obj);
	}
	json_tokener_free(tok);
	return 0;
}
