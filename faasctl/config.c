/* config.c: where the gateway is and who we are. fctl_config_parse is pure;
 * fctl_config_resolve reads the environment and files. */
#include "faasctl.h"
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_MAX (64u << 10)

static char *trimdup(const char *p, size_t n)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		n--;
	return strndup(p, n);
}

int fctl_config_parse(const char *text, const char *path, char **gateway, char **user,
                      char **password_file, char **ca_file, char **err)
{
	char *g = NULL, *u = NULL, *pf = NULL, *ca = NULL;
	const char *p = text;
	int line = 0;

	*err = NULL;
	while (p != NULL && *p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		char *key = NULL, *val = NULL, **slot = NULL;
		size_t i = 0;

		line++;
		while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
			i++;
		if (i == len || p[i] == '#')
			goto next;
		if (eq == NULL) {
			*err = fx_strdupf("%s:%d: expected key=value", path, line);
			goto fail;
		}
		key = trimdup(p, (size_t)(eq - p));
		val = trimdup(eq + 1, len - (size_t)(eq - p) - 1);
		if (key == NULL || val == NULL) {
			free(key);
			free(val);
			*err = fx_strdupf("out of memory");
			goto fail;
		}
		if (strcmp(key, "gateway") == 0)
			slot = &g;
		else if (strcmp(key, "user") == 0)
			slot = &u;
		else if (strcmp(key, "password_file") == 0)
			slot = &pf;
		else if (strcmp(key, "ca_file") == 0)
			slot = &ca;
		if (slot == NULL) {
			*err = fx_strdupf("%s:%d: unknown key \"%s\" (known: gateway, user, "
			                  "password_file, ca_file)",
			                  path, line, key);
			free(key);
			free(val);
			goto fail;
		}
		free(key);
		free(*slot);
		*slot = val;
	next:
		p = eol ? eol + 1 : NULL;
	}
	if (g) {
		free(*gateway);
		*gateway = g;
	}
	if (u) {
		free(*user);
		*user = u;
	}
	if (pf) {
		free(*password_file);
		*password_file = pf;
	}
	if (ca) {
		free(*ca_file);
		*ca_file = ca;
	}
	return 0;
fail:
	free(g);
	free(u);
	free(pf);
	free(ca);
	return -EINVAL;
}

/* Reads a small file whole; strips one trailing newline. */
static int read_small(const char *path, char **out, char **err)
{
	FILE *f = fopen(path, "r");
	struct fx_buf b;
	char chunk[4096];
	size_t n;
	int e;

	if (f == NULL) {
		e = errno;
		*err = fx_strdupf("%s: %s", path, strerror(e));
		return -e;
	}
	fx_buf_init(&b, CONFIG_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (fx_buf_append(&b, chunk, n) < 0) {
			fclose(f);
			fx_buf_release(&b);
			*err = fx_strdupf("%s: larger than %u bytes", path, CONFIG_MAX);
			return -E2BIG;
		}
	}
	e = ferror(f) ? errno : 0;
	fclose(f);
	if (e) {
		fx_buf_release(&b);
		*err = fx_strdupf("%s: %s", path, strerror(e));
		return -e;
	}
	*out = fx_buf_detach(&b, &n);
	fx_buf_release(&b);
	if (*out == NULL) {
		*err = fx_strdupf("out of memory");
		return -ENOMEM;
	}
	while (n > 0 && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
		(*out)[--n] = '\0';
	return 0;
}

static int set_str(char **slot, const char *v)
{
	char *d = strdup(v);
	if (d == NULL)
		return -ENOMEM;
	free(*slot);
	*slot = d;
	return 0;
}

int fctl_config_resolve(const struct fctl_args *a, struct fctl_config *c, char **err)
{
	char *fg = NULL, *fu = NULL, *fpf = NULL, *fca = NULL, *path = NULL, *text = NULL;
	const char *v, *pwfile = NULL, *pwsrc = NULL;
	int r = 0;

	*err = NULL;
	memset(c, 0, sizeof(*c));
	/* The config file first (lowest precedence), then env and flags on top. */
	v = getenv("FAAS_CONFIG");
	if (v != NULL && *v != '\0') {
		path = strdup(v);
	} else if ((v = getenv("HOME")) != NULL && *v != '\0') {
		if (asprintf(&path, "%s/.config/faas/config", v) < 0)
			path = NULL;
	}
	if (path != NULL) {
		char *rerr = NULL;
		r = read_small(path, &text, &rerr);
		if (r == 0) {
			r = fctl_config_parse(text, path, &fg, &fu, &fpf, &fca, err);
			if (r < 0)
				goto out;
		} else if (r != -ENOENT || getenv("FAAS_CONFIG") != NULL) {
			*err = rerr;
			r = -EINVAL;
			goto out;
		} else {
			free(rerr);
			r = 0;
		}
	}
	c->gateway = fg;
	c->user = fu;
	c->ca_file = fca;
	fg = fu = fca = NULL;
	if (fpf) {
		pwfile = fpf;
		pwsrc = "password_file in the config file";
	}
	if ((v = getenv("FAAS_GATEWAY")) != NULL && *v != '\0' && set_str(&c->gateway, v) < 0)
		goto oom;
	if ((v = getenv("FAAS_USER")) != NULL && *v != '\0' && set_str(&c->user, v) < 0)
		goto oom;
	if ((v = getenv("FAAS_PASSWORD")) != NULL && *v != '\0') {
		if (set_str(&c->password, v) < 0)
			goto oom;
		pwfile = NULL;
		pwsrc = "FAAS_PASSWORD";
	}
	if ((v = getenv("FAAS_CA_FILE")) != NULL && *v != '\0' && set_str(&c->ca_file, v) < 0)
		goto oom;
	if ((v = fctl_opt(a, "gateway")) != NULL && set_str(&c->gateway, v) < 0)
		goto oom;
	if ((v = fctl_opt(a, "ca-file")) != NULL && set_str(&c->ca_file, v) < 0)
		goto oom;
	c->insecure = fctl_flag(a, "insecure-skip-tls-verify");
	if (c->ca_file != NULL && access(c->ca_file, R_OK) != 0) {
		*err = fx_strdupf("CA file %s: %s", c->ca_file, strerror(errno));
		r = -EINVAL;
		goto out;
	}
	if ((v = fctl_opt(a, "user")) != NULL && set_str(&c->user, v) < 0)
		goto oom;
	if ((v = fctl_opt(a, "password-file")) != NULL) {
		pwfile = v;
		pwsrc = "--password-file";
		free(c->password);
		c->password = NULL;
	}
	if (pwfile != NULL) {
		char *rerr = NULL;
		r = read_small(pwfile, &c->password, &rerr);
		if (r < 0) {
			*err =
			    fx_strdupf("password file (%s): %s", pwsrc, rerr ? rerr : "unreadable");
			free(rerr);
			r = -EINVAL;
			goto out;
		}
	}
	if (c->gateway == NULL && set_str(&c->gateway, "http://127.0.0.1:8080") < 0)
		goto oom;
	if (strncmp(c->gateway, "http://", 7) != 0 && strncmp(c->gateway, "https://", 8) != 0) {
		char *g = NULL;
		if (asprintf(&g, "http://%s", c->gateway) < 0)
			goto oom;
		free(c->gateway);
		c->gateway = g;
	}
	for (size_t n = strlen(c->gateway); n > 0 && c->gateway[n - 1] == '/'; n--)
		c->gateway[n - 1] = '\0';
	if (c->user != NULL && c->password == NULL)
		pwsrc = "none (no FAAS_PASSWORD, --password-file or password_file)";
	if (asprintf(&c->source, "user %s, password from %s",
	             c->user ? c->user : "(none: set FAAS_USER, --user or user=)",
	             pwsrc ? pwsrc : "nowhere") < 0)
		goto oom;
	goto out;
oom:
	*err = fx_strdupf("out of memory");
	r = -ENOMEM;
out:
	if (r < 0)
		fctl_config_release(c);
	free(fg);
	free(fu);
	free(fpf);
	free(fca);
	free(path);
	free(text);
	return r;
}

void fctl_config_release(struct fctl_config *c)
{
	if (c == NULL)
		return;
	free(c->gateway);
	free(c->user);
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->source);
	free(c->ca_file);
	memset(c, 0, sizeof(*c));
}
