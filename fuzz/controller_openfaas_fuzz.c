/* OpenFaaS FunctionDeployment bodies (POST/PUT /system/functions): the JSON
 * reader, of_deployment_to_spec, the schema (fx_spec_from_json) and the
 * FunctionStatus read back from what was accepted; also the logs "since"
 * parser and secret names on the same bytes. */
#include "fuzz.h"
#include "controller/controller.h"

#include <errno.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok;
	struct json_object *in, *f, *st;
	struct fx_function fn;
	struct fx_spec_errs errs = {0};
	char *err = NULL, text[80];
	int64_t t;

	if (size < sizeof(text)) {
		memcpy(text, data, size);
		text[size] = '\0';
		if (of_parse_since(text, &t) == 0)
			FZ_ASSERT(t >= 0);
		if (of_secret_name_valid(text))
			FZ_ASSERT(strcmp(text, ".") != 0 && strcmp(text, "..") != 0 &&
			          strchr(text, '/') == NULL);
	}
	if (size > (1u << 20))
		return 0;
	tok = json_tokener_new_ex(32);
	if (tok == NULL)
		return 0;
	in = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (in == NULL)
		return 0;
	f = of_deployment_to_spec(in, &err);
	json_object_put(in);
	if (f == NULL) {
		FZ_ASSERT(err != NULL);
		free(err);
		return 0;
	}
	FZ_ASSERT(err == NULL);
	if (fx_spec_from_json(f, NULL, &fn, &errs) == 0) {
		FZ_ASSERT(fx_spec_valid_name(fn.name));
		st = of_function_status(&fn, "openfaas-fn", "2026-01-01T00:00:00Z", 1, 1, false);
		FZ_ASSERT(st != NULL);
		FZ_ASSERT(json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN) != NULL);
		json_object_put(st);
		fx_function_release(&fn);
	}
	fx_spec_errs_release(&errs);
	json_object_put(f);
	return 0;
}
