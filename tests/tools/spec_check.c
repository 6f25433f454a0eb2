/* spec_check FILE...: loads each file with the function YAML loader
 * (common/spec.h) as the controller would; prints "FILE: N function(s)" or
 * every error as file:line:col: field: message.
 * Exit codes: 0 all valid, 1 an invalid or unreadable file, 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = FX_SPEC_MAX_INPUT + 1, n = 0;
	char *buf = malloc(cap);
	if (buf)
		n = fread(buf, 1, cap, f); /* one byte over the cap: the loader says so */
	fclose(f);
	*len = n;
	return buf;
}

static int check_file(const char *path)
{
	size_t len = 0;
	char *buf = read_file(path, &len);
	if (!buf) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	struct fx_function_list list = {0};
	struct fx_spec_errs errs = {0};
	int rc = fx_spec_load(buf, len, path, &list, &errs);
	free(buf);
	if (rc == 0) {
		printf("%s: %zu function(s)\n", path, list.n);
		fx_function_list_release(&list);
		return 0;
	}
	for (size_t i = 0; i < errs.n; i++) {
		char *m = fx_spec_err_format(&errs.v[i]);
		fprintf(stderr, "%s\n", m ? m : "out of memory");
		free(m);
	}
	if (errs.n == 0)
		fprintf(stderr, "%s: %s\n", path, strerror(-rc));
	fx_spec_errs_release(&errs);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: spec_check FILE...\n", stderr);
		return 2;
	}
	int bad = 0;
	for (int i = 1; i < argc; i++)
		bad |= check_file(argv[i]);
	return bad;
}
