/* secrets.c: the functions' secrets. A secret is the platform's when it
 * carries the labels faas.secret=<name> and faas.network=<network> (this
 * controller's namespace); every other secret of the swarm (the platform's
 * own credentials, another stack's, another install's) is "not found": it
 * can be neither mounted by a function nor listed, changed or deleted here.
 *
 * Swarm secrets are immutable, so a secret has versions (label
 * faas.secret.version=<n>, Docker name <name>-<network hash>-<n>): an update
 * creates version n+1, the functions that mount it are switched to it (their
 * services roll, start-first), and only then is version n removed. */
#include "controller.h"

#include "base64.h"
#include "buf.h"
#include "sha256.h"
#include "units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* This controller's network, from store_network_label() ("faas.network=NET"). */
static const char *network(void)
{
	const char *l = store_network_label(), *eq = strchr(l, '=');
	return eq ? eq + 1 : l;
}

static int cmp_ver(const void *a, const void *b)
{
	const struct secret_ver *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c != 0)
		return c;
	return x->version < y->version ? 1 : x->version > y->version ? -1 : 0;
}

int secrets_load(struct docker *d, struct secret_set *out, char **err)
{
	struct json_object *list = NULL;
	struct secret_set s = {0};
	char path[512], *q = docker_filters("label", CTL_LABEL_SECRET, "label",
	                                    store_network_label(), (const char *)NULL);
	size_t n;
	int rc;
	if (q == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/secrets%s", q);
	free(q);
	rc = docker_call(d, "GET", path, NULL, &list, err);
	if (rc < 0)
		return rc;
	n = list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	if (n > CTL_MAX_SECRETS)
		n = CTL_MAX_SECRETS;
	s.v = calloc(n ? n : 1, sizeof(*s.v));
	if (s.v == NULL) {
		json_object_put(list);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *x = json_object_array_get_idx(list, i),
		                   *spec = docker_jget(x, "Spec");
		struct json_object *labels = docker_jget(spec, "Labels");
		const char *name = docker_jstr(labels, CTL_LABEL_SECRET),
		           *net = docker_jstr(labels, CTL_LABEL_NETWORK),
		           *ver = docker_jstr(labels, CTL_LABEL_SECRET_VERSION);
		struct secret_ver *v = &s.v[s.n];
		int64_t version = 0;
		/* Docker's label filter matches the key; the value must be ours too. */
		if (!of_secret_name_valid(name) || strcmp(net, network()) != 0)
			continue;
		if (*ver != '\0' && fx_parse_int(ver, 0, INT64_MAX, &version) < 0)
			continue;
		snprintf(v->name, sizeof(v->name), "%s", name);
		snprintf(v->docker_name, sizeof(v->docker_name), "%s", docker_jstr(spec, "Name"));
		snprintf(v->id, sizeof(v->id), "%s", docker_jstr(x, "ID"));
		v->version = version;
		if (v->id[0] == '\0' || v->docker_name[0] == '\0')
			continue;
		s.n++;
	}
	json_object_put(list);
	qsort(s.v, s.n, sizeof(*s.v), cmp_ver);
	*out = s;
	return 0;
}

void secret_set_release(struct secret_set *s)
{
	if (s == NULL)
		return;
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

const struct secret_ver *secrets_newest(const struct secret_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i]; /* sorted: the first is the newest */
	return NULL;
}

int secrets_create(struct docker *d, const char *name, int64_t version, const void *data,
                   size_t len, struct secret_ver *out, char **err)
{
	struct json_object *b, *labels, *reply = NULL;
	struct fx_buf enc;
	char hash[65], dname[96], vtext[24];
	int rc;
	fx_sha256_hex(network(), strlen(network()), hash);
	snprintf(dname, sizeof(dname), "%s-%.8s-%lld", name, hash, (long long)version);
	snprintf(vtext, sizeof(vtext), "%lld", (long long)version);
	fx_buf_init(&enc, 2u << 20);
	if (fx_base64_encode(data, len, &enc) < 0 || enc.data == NULL) {
		fx_buf_release(&enc);
		*err = fx_strdupf("out of memory");
		return -ENOMEM;
	}
	b = json_object_new_object();
	labels = json_object_new_object();
	json_object_object_add(labels, CTL_LABEL_SECRET, json_object_new_string(name));
	json_object_object_add(labels, CTL_LABEL_NETWORK, json_object_new_string(network()));
	json_object_object_add(labels, CTL_LABEL_SECRET_VERSION, json_object_new_string(vtext));
	json_object_object_add(b, "Name", json_object_new_string(dname));
	json_object_object_add(b, "Labels", labels);
	json_object_object_add(b, "Data", json_object_new_string(enc.data));
	fx_buf_release(&enc);
	rc = docker_call(d, "POST", "/secrets/create",
	                 json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN), &reply, err);
	json_object_put(b);
	if (rc >= 0) {
		snprintf(out->name, sizeof(out->name), "%s", name);
		snprintf(out->docker_name, sizeof(out->docker_name), "%s", dname);
		snprintf(out->id, sizeof(out->id), "%s", docker_jstr(reply, "ID"));
		out->version = version;
		rc = 0;
	}
	json_object_put(reply);
	return rc;
}

int secrets_remove(struct docker *d, const struct secret_ver *s, char **err)
{
	char path[160];
	int rc;
	/* An id from Docker's own list: hex, never a path. */
	if (s->id[0] == '\0' ||
	    strspn(s->id, "0123456789abcdefghijklmnopqrstuvwxyz") != strlen(s->id)) {
		*err = fx_strdupf("secret %s: unexpected id", s->name);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/secrets/%s", s->id);
	rc = docker_call(d, "DELETE", path, NULL, NULL, err);
	return rc < 0 ? rc : 0;
}
