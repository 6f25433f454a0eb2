/* applyset.c: which functions `apply --prune` removes, and the set's name. Pure. */
#include "faasctl.h"

#include <string.h>

static const char *label_of(const struct json_object *fn, const char *key)
{
	struct json_object *meta, *labels, *v;

	if (!json_object_object_get_ex(fn, "metadata", &meta) ||
	    !json_object_object_get_ex(meta, "labels", &labels) ||
	    !json_object_object_get_ex(labels, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

size_t fctl_prune_set(const struct json_object *live_items, const char *set,
                      const char *const *local, size_t nlocal, struct json_object *out)
{
	size_t count = 0;

	if (live_items == NULL || !json_object_is_type(live_items, json_type_array) ||
	    set == NULL || *set == '\0')
		return 0;
	for (size_t i = 0; i < json_object_array_length(live_items); i++) {
		const struct json_object *fn = json_object_array_get_idx(live_items, i);
		const char *name = fctl_jstr(fn, "metadata.name", NULL);
		const char *s = label_of(fn, FCTL_APPLYSET_LABEL);
		bool keep = false;

		/* Only functions this set made: another set's, or one made by hand
		 * (no label), is never pruned. */
		if (name == NULL || s == NULL || strcmp(s, set) != 0)
			continue;
		for (size_t k = 0; k < nlocal && !keep; k++)
			keep = strcmp(local[k], name) == 0;
		if (keep)
			continue;
		if (json_object_array_add(out, json_object_new_string(name)) == 0)
			count++;
	}
	return count;
}

bool fctl_applyset_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* Lower-cases and maps anything outside [a-z0-9._-] to '-', at most 63 chars. */
static void sanitize(const char *s, size_t len, char *buf, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < len && j + 1 < n && j < 63; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			c = '-';
		buf[j++] = c;
	}
	if (j == 0 && n > 1) {
		/* "/" or an empty name: still a usable set name. */
		const char *root = "root";
		for (; root[j] && j + 1 < n; j++)
			buf[j] = root[j];
	}
	if (n > 0)
		buf[j] = '\0';
}

/* The last path component of p[0..len) ignoring trailing slashes and "."s. */
static void base_of(const char *p, size_t len, const char **b, size_t *blen)
{
	for (;;) {
		while (len > 0 && p[len - 1] == '/')
			len--;
		size_t s = len;
		while (s > 0 && p[s - 1] != '/')
			s--;
		if (len - s == 1 && p[s] == '.' && s > 0) {
			len = s;
			continue;
		}
		*b = p + s;
		*blen = len - s;
		return;
	}
}

void fctl_applyset_default(const char *path, const char *resolved, bool is_dir, char *buf, size_t n)
{
	const char *b;
	size_t blen;

	if (path == NULL || strcmp(path, "-") == 0) {
		sanitize("stdin", 5, buf, n);
		return;
	}
	/* A directory: its base name, from the resolved path so that "." and ".."
	 * name the real directory. A file: its name without .yaml / .yml. */
	if (is_dir && resolved != NULL)
		path = resolved;
	base_of(path, strlen(path), &b, &blen);
	if (!is_dir) {
		if (blen > 5 && strncmp(b + blen - 5, ".yaml", 5) == 0)
			blen -= 5;
		else if (blen > 4 && strncmp(b + blen - 4, ".yml", 4) == 0)
			blen -= 4;
	}
	sanitize(b, blen, buf, n);
}
