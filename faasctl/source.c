/* source.c: -f FILE|DIR|- into validated functions, through common/spec.
 * All or nothing: every document of every file is loaded and checked, and
 * names are unique across the files, before the caller writes anything. */
#include "faasctl.h"
#include "buf.h"

#include "spec.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WALK_MAX_DEPTH 32
#define WALK_MAX_FILES 10000

static bool is_yaml_name(const char *n)
{
	size_t l = strlen(n);
	return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
	       (l > 4 && strcmp(n + l - 4, ".yml") == 0);
}

static int add_file(struct json_object *files, const char *path, char **err)
{
	if (json_object_array_length(files) >= WALK_MAX_FILES) {
		*err = fx_strdupf("more than %d files to apply", WALK_MAX_FILES);
		return -E2BIG;
	}
	json_object_array_add(files, json_object_new_string(path));
	return 0;
}

static int walk(const char *dir, int depth, struct json_object *files, struct fx_buf *warn,
                char **err)
{
	struct dirent **ents = NULL;
	int n, r = 0;

	if (depth > WALK_MAX_DEPTH) {
		*err = fx_strdupf("%s: directories nested deeper than %d", dir, WALK_MAX_DEPTH);
		return -ELOOP;
	}
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		int e = errno;
		*err = fx_strdupf("cannot read directory %s: %s", dir, strerror(e));
		return -e;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char *path = NULL;
		struct stat st;

		/* Hidden entries (".", "..", ".git", editor files) are not ours. */
		if (r < 0 || name[0] == '.')
			continue;
		if (asprintf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name) <
		    0) {
			*err = fx_strdupf("out of memory");
			r = -ENOMEM;
			continue;
		}
		if (stat(path, &st) < 0) {
			int e = errno;
			*err = fx_strdupf("%s: %s", path, strerror(e));
			r = -e;
		} else if (S_ISDIR(st.st_mode)) {
			r = walk(path, depth + 1, files, warn, err);
		} else if (!S_ISREG(st.st_mode) || !is_yaml_name(name)) {
			fx_buf_appendf(warn, "skipping %s (not a *.yaml or *.yml file)\n", path);
		} else {
			r = add_file(files, path, err);
		}
		free(path);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return r;
}

int fctl_collect_files(const char *const *paths, size_t npaths, struct json_object *files,
                       struct fx_buf *warn, char **err)
{
	*err = NULL;
	for (size_t i = 0; i < npaths; i++) {
		struct stat st;
		int r;

		if (strcmp(paths[i], "-") == 0) {
			r = add_file(files, "-", err);
		} else if (stat(paths[i], &st) < 0) {
			int e = errno;
			*err = fx_strdupf("%s: %s", paths[i], strerror(e));
			return -e;
		} else if (S_ISDIR(st.st_mode)) {
			r = walk(paths[i], 0, files, warn, err);
		} else {
			/* A file named on the command line is read whatever its name. */
			r = add_file(files, paths[i], err);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Reads a file (or stdin for "-"), at most FX_SPEC_MAX_INPUT bytes. */
static int read_input(const char *path, struct fx_buf *b, char **err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char chunk[65536];
	size_t n;
	int r = 0;

	if (f == NULL) {
		int e = errno;
		*err = fx_strdupf("%s: %s", path, strerror(e));
		return -e;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (fx_buf_append(b, chunk, n) < 0) {
			*err = fx_strdupf("%s: larger than %d bytes", path, FX_SPEC_MAX_INPUT);
			r = -E2BIG;
			break;
		}
	}
	if (r == 0 && ferror(f)) {
		int e = errno ? errno : EIO;
		*err = fx_strdupf("%s: %s", path, strerror(e));
		r = -e;
	}
	if (f != stdin)
		fclose(f);
	return r;
}

static int push(struct fctl_fnlist *l, struct fctl_fn *fn)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct fctl_fn *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *fn;
	return 0;
}

int fctl_load(const char *const *paths, size_t npaths, struct fctl_fnlist *out, struct fx_buf *warn,
              char **err)
{
	struct json_object *files = json_object_new_array();
	struct fctl_fnlist l = {0};
	struct fx_buf msgs;
	int r;

	*err = NULL;
	fx_buf_init(&msgs, 1u << 20);
	if (files == NULL) {
		*err = fx_strdupf("out of memory");
		return -ENOMEM;
	}
	r = fctl_collect_files(paths, npaths, files, warn, err);
	if (r < 0)
		goto out;
	if (json_object_array_length(files) == 0) {
		*err = fx_strdupf("no *.yaml or *.yml files found in %s%s", paths[0],
		                  npaths > 1 ? " (and the other -f paths)" : "");
		r = -ENOENT;
		goto out;
	}
	/* Every file is checked, and every error collected, before giving up. */
	for (size_t i = 0; i < json_object_array_length(files); i++) {
		const char *path = json_object_get_string(json_object_array_get_idx(files, i));
		const char *label = strcmp(path, "-") == 0 ? "<stdin>" : path;
		struct fx_function_list fl = {0};
		struct fx_spec_errs errs = {0};
		struct fx_buf b;
		char *rerr = NULL;

		fx_buf_init(&b, FX_SPEC_MAX_INPUT);
		if (read_input(path, &b, &rerr) < 0) {
			fx_buf_appendf(&msgs, "%s\n", rerr ? rerr : "out of memory");
			free(rerr);
			fx_buf_release(&b);
			continue;
		}
		if (fx_spec_load(b.data ? b.data : "", b.len, label, &fl, &errs) < 0) {
			for (size_t k = 0; k < errs.n; k++) {
				char *m = fx_spec_err_format(&errs.v[k]);
				fx_buf_appendf(&msgs, "%s", m ? m : "out of memory");
				/* The line already says where; the document index helps
				 * in long multi-document files. */
				if (errs.v[k].document > 0)
					fx_buf_appendf(&msgs, " (document %d)", errs.v[k].document);
				fx_buf_puts(&msgs, "\n");
				free(m);
			}
			if (errs.n == 0)
				fx_buf_appendf(&msgs, "%s: cannot load (out of memory)\n", label);
			if (errs.dropped)
				fx_buf_appendf(&msgs, "%s: ... and %zu more errors\n", label,
				               errs.dropped);
			fx_spec_errs_release(&errs);
			fx_buf_release(&b);
			continue;
		}
		for (size_t k = 0; k < fl.n; k++) {
			struct fx_function *f = &fl.v[k];
			struct fctl_fn fn = {0};
			bool dup = false;

			for (size_t j = 0; j < l.n && !dup; j++) {
				if (strcmp(l.v[j].name, f->name) != 0)
					continue;
				dup = true;
				fx_buf_appendf(
				    &msgs,
				    "%s:%d: metadata.name: duplicate function name \"%s\" "
				    "(document %d; also in %s, document %d)\n",
				    label, f->line, f->name, f->document, l.v[j].file, l.v[j].doc);
			}
			if (dup)
				continue;
			fn.name = strdup(f->name);
			fn.file = strdup(label);
			fn.doc = f->document;
			fn.obj = fx_spec_to_json(f);
			if (fn.name == NULL || fn.file == NULL || fn.obj == NULL ||
			    push(&l, &fn) < 0) {
				free(fn.name);
				free(fn.file);
				json_object_put(fn.obj);
				fx_buf_puts(&msgs, "out of memory\n");
			}
		}
		fx_function_list_release(&fl);
		fx_buf_release(&b);
	}
	if (msgs.len > 0) {
		/* Drop the last newline: the caller prints the message as lines. */
		msgs.data[--msgs.len] = '\0';
		*err = fx_buf_detach(&msgs, NULL);
		r = -EINVAL;
		goto out;
	}
	*out = l;
	memset(&l, 0, sizeof(l));
out:
	fctl_fnlist_release(&l);
	fx_buf_release(&msgs);
	json_object_put(files);
	return r;
}

void fctl_fnlist_release(struct fctl_fnlist *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].file);
		json_object_put(l->v[i].obj);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int fctl_canonical_yaml(const struct json_object *fn, struct fx_buf *out, char **err)
{
	struct fx_function f;
	struct fx_spec_errs errs = {0};
	char *text;
	int r;

	*err = NULL;
	r = fx_spec_from_json(fctl_mut(fn), NULL, &f, &errs);
	if (r < 0) {
		*err = errs.n > 0 ? fx_spec_err_format(&errs.v[0])
		                  : fx_strdupf("cannot read function");
		fx_spec_errs_release(&errs);
		return r;
	}
	text = fx_spec_canonical(&f);
	fx_function_release(&f);
	if (text == NULL) {
		*err = fx_strdupf("out of memory");
		return -ENOMEM;
	}
	r = fx_buf_puts(out, text);
	free(text);
	return r;
}
