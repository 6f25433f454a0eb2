/* api_secrets.c: /system/secrets (the OpenFaaS API): this install's secrets
 * only (secrets.c), a new version rolled out to the functions that mount it. */
#include "controller.h"

#include "base64.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECRET_MAX_BYTES   (500 * 1024) /* Docker's limit */
#define SECRET_SWITCH_MS   30000        /* bound on the services' switch to a new version */
#define SECRET_SWITCH_STEP 250

/* The stored functions that mount secret name: 0 with *users (caller frees
 * each and the array) and *n, or a negative errno with *err. */
static int secret_users(const char *name, char ***users, size_t *n, char **err)
{
	struct stored *v = NULL;
	size_t nv = 0;
	char **u;
	int rc = store_list(&api_ctl->docker, &v, &nv, err);
	if (rc < 0)
		return rc;
	u = calloc(nv ? nv : 1, sizeof(*u));
	*n = 0;
	for (size_t i = 0; u && i < nv; i++)
		for (size_t j = 0; j < v[i].fn.secrets.n; j++)
			if (strcmp(v[i].fn.secrets.v[j], name) == 0 &&
			    (u[*n] = strdup(v[i].fn.name)) != NULL)
				(*n)++;
	stored_list_release(v, nv);
	if (u == NULL)
		return -ENOMEM;
	*users = u;
	return 0;
}

static void free_users(char **u, size_t n)
{
	for (size_t i = 0; u && i < n; i++)
		free(u[i]);
	free(u);
}

/* Does any of our services' spec still mount a secret version other than
 * keep of name? */
static bool old_version_mounted(const struct secret_set *set, const char *name,
                                const struct secret_ver *keep)
{
	struct json_object *svcs = NULL;
	char *err = NULL;
	bool found = false;
	if (api_observe(&svcs, NULL, &err) < 0) {
		free(err);
		return true; /* cannot tell: assume so */
	}
	for (size_t i = 0; !found && i < json_object_array_length(svcs); i++) {
		struct json_object *sec = docker_jget(
		    docker_jget(docker_jget(docker_jget(json_object_array_get_idx(svcs, i), "Spec"),
		                            "TaskTemplate"),
		                "ContainerSpec"),
		    "Secrets");
		for (size_t j = 0; !found && sec && json_object_is_type(sec, json_type_array) &&
		                   j < json_object_array_length(sec);
		     j++) {
			const char *id = docker_jstr(json_object_array_get_idx(sec, j), "SecretID");
			for (size_t k = 0; k < set->n; k++)
				if (strcmp(set->v[k].name, name) == 0 && &set->v[k] != keep &&
				    strcmp(set->v[k].id, id) == 0)
					found = true;
		}
	}
	json_object_put(svcs);
	return found;
}

/* Every version of name but keep (NULL: all). 0, or the first error. */
static int remove_versions(const struct secret_set *set, const char *name,
                           const struct secret_ver *keep, char **err)
{
	int first = 0;
	for (size_t i = 0; i < set->n; i++) {
		char *e = NULL;
		int rc;
		if (strcmp(set->v[i].name, name) != 0 || &set->v[i] == keep)
			continue;
		rc = secrets_remove(&api_ctl->docker, &set->v[i], &e);
		if (rc < 0 && rc != -ENOENT && first == 0) {
			first = rc;
			*err = e;
			e = NULL;
		}
		free(e);
	}
	return first;
}

/* The secret's bytes: rawValue (base64, Go's []byte) when given, else value. */
static int secret_data(struct reply *r, struct json_object *in, struct fx_buf *data)
{
	struct json_object *raw = docker_jget(in, "rawValue"), *val = docker_jget(in, "value");
	if (raw != NULL && !json_object_is_type(raw, json_type_null)) {
		if (!json_object_is_type(raw, json_type_string) ||
		    fx_base64_decode(json_object_get_string(raw),
		                     (size_t)json_object_get_string_len(raw), data) < 0) {
			api_reply_error(r, 400, "rawValue: expected base64 (the secret's bytes)",
			                NULL);
			return -EINVAL;
		}
	} else if (val != NULL && json_object_is_type(val, json_type_string)) {
		if (fx_buf_append(data, json_object_get_string(val),
		                  (size_t)json_object_get_string_len(val)) < 0) {
			api_reply_error(r, 413, "value: at most 500 KiB", NULL);
			return -E2BIG;
		}
	} else if (val != NULL && !json_object_is_type(val, json_type_null)) {
		api_reply_error(r, 400, "value: expected a string", NULL);
		return -EINVAL;
	}
	if (data->len == 0) {
		api_reply_error(r, 400, "value or rawValue: required, 1 byte to 500 KiB", NULL);
		return -EINVAL;
	}
	return 0;
}

static void secrets_list_reply(struct reply *r)
{
	struct secret_set set;
	struct json_object *out;
	char *err = NULL;
	int rc = secrets_load(&api_ctl->docker, &set, &err);
	if (rc < 0) {
		api_reply_docker(r, rc, err);
		return;
	}
	out = json_object_new_array();
	for (size_t i = 0; i < set.n; i++) {
		struct json_object *o;
		if (i > 0 && strcmp(set.v[i - 1].name, set.v[i].name) == 0)
			continue; /* one entry per secret, whatever its versions */
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(set.v[i].name));
		json_object_object_add(o, "namespace", json_object_new_string(api_cfg.namespace_));
		json_object_array_add(out, o);
	}
	secret_set_release(&set);
	api_reply_json(r, 200, out);
}

/* PUT: version n+1, the functions that mount it switched to it (their
 * services roll start-first), then the older versions removed. The secret
 * is never without a version: a failure before the switch leaves the old one
 * in use, one after it leaves both. */
static void secret_update(struct reply *r, const char *name, const struct secret_set *set,
                          const struct fx_buf *data)
{
	struct secret_set after = {0};
	struct secret_ver made;
	const struct secret_ver *keep;
	char **users = NULL, *err = NULL;
	size_t nusers = 0;
	int64_t deadline, version = 0;
	int rc;
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].name, name) == 0 && set->v[i].version > version)
			version = set->v[i].version;
	rc =
	    secrets_create(&api_ctl->docker, name, version + 1, data->data, data->len, &made, &err);
	if (rc < 0) {
		api_reply_docker(r, rc, err);
		return;
	}
	log_info("secret_version_created", "secret=%s version=%lld", name, (long long)made.version);
	rc = secret_users(name, &users, &nusers, &err);
	if (rc < 0) {
		api_reply_docker(r, rc, err);
		return;
	}
	for (size_t i = 0; i < nusers; i++)
		wq_add(api_ctl->queue, users[i], 0);
	/* The reconcile mounts the newest version; wait (bounded) until no
	 * service's spec mounts an older one, then remove those. api_write_mu is
	 * held meanwhile (other writes wait): the switch is one service update
	 * per function, well under a second each. */
	rc = secrets_load(&api_ctl->docker, &after, &err);
	if (rc < 0) {
		free_users(users, nusers);
		api_reply_docker(r, rc, err);
		return;
	}
	keep = secrets_newest(&after, name);
	deadline = fx_now_ms() + SECRET_SWITCH_MS;
	while (keep != NULL && old_version_mounted(&after, name, keep) && fx_now_ms() < deadline) {
		struct timespec ts = {0, SECRET_SWITCH_STEP * 1000000L};
		nanosleep(&ts, NULL);
	}
	rc = keep != NULL ? remove_versions(&after, name, keep, &err) : 0;
	if (rc < 0) {
		log_warn("secret_old_version_kept", "secret=%s err=\"%s\"", name, err ? err : "");
		free(err);
	}
	log_info("secret_updated", "secret=%s version=%lld functions=%zu", name,
	         (long long)made.version, nusers);
	free_users(users, nusers);
	secret_set_release(&after);
	api_reply_text(r, 200, "application/json", strdup("{}"));
}

void api_secrets(struct reply *r, const char *method, const char *body, size_t len)
{
	struct json_object *in;
	struct secret_set set = {0};
	struct fx_buf data;
	const struct secret_ver *cur;
	const char *name;
	char *err = NULL;
	int rc;
	if (strcmp(method, "GET") == 0) {
		secrets_list_reply(r);
		return;
	}
	in = api_parse_json_body(r, body, len);
	if (in == NULL)
		return;
	fx_buf_init(&data, SECRET_MAX_BYTES);
	name = docker_jstr(in, "name");
	if (!api_ns_body_ours(r, in))
		goto out;
	if (!of_secret_name_valid(name)) {
		api_reply_error(r, 400,
		                "name: expected a secret name (letters, digits, '-', '_', '.', "
		                "starting with a letter or a digit, at most 48)",
		                NULL);
		goto out;
	}
	if (strcmp(method, "DELETE") != 0 && secret_data(r, in, &data) < 0)
		goto out;
	pthread_mutex_lock(&api_write_mu);
	rc = secrets_load(&api_ctl->docker, &set, &err);
	if (rc < 0) {
		pthread_mutex_unlock(&api_write_mu);
		api_reply_docker(r, rc, err);
		goto out;
	}
	cur = secrets_newest(&set, name);
	if (strcmp(method, "POST") == 0) {
		struct secret_ver made;
		if (cur != NULL) {
			api_reply_error(
			    r, 409, "secret already exists (PUT /system/secrets updates it)", NULL);
		} else if ((rc = secrets_create(&api_ctl->docker, name, 1, data.data, data.len,
		                                &made, &err)) < 0) {
			api_reply_docker(r, rc, err);
		} else {
			log_info("secret_created", "secret=%s", name);
			api_reply_text(r, 201, "application/json", strdup("{}"));
		}
	} else if (cur == NULL) {
		api_reply_error(r, 404, "no such secret", NULL);
	} else if (strcmp(method, "PUT") == 0) {
		secret_update(r, name, &set, &data);
	} else {
		char **users = NULL;
		size_t nusers = 0;
		rc = secret_users(name, &users, &nusers, &err);
		if (rc < 0) {
			api_reply_docker(r, rc, err);
		} else if (nusers > 0) {
			char msg[200];
			snprintf(msg, sizeof(msg), "secret is in use by function %s (and %zu more)",
			         users[0], nusers - 1);
			api_reply_error(r, 409, msg, NULL);
		} else if ((rc = remove_versions(&set, name, NULL, &err)) < 0) {
			if (rc == -EINVAL || rc == -EIO) /* Docker: in use by a service */
				rc = -EEXIST;
			api_reply_docker(r, rc, err);
		} else {
			log_info("secret_deleted", "secret=%s", name);
			api_reply_text(r, 200, "application/json", strdup("{}"));
		}
		free_users(users, nusers);
	}
	pthread_mutex_unlock(&api_write_mu);
out:
	secret_set_release(&set);
	fx_buf_release(&data);
	json_object_put(in);
}
