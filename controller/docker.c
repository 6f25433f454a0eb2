/* docker.c: the Docker Engine API v1.41 over the unix socket (or tcp), with
 * errors a user can act on. */
#include "controller.h"

#include "buf.h"
#include "httpc.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCKER_API        "v1.41"
#define DOCKER_MAX_REPLY  (64u << 20)
#define DOCKER_TIMEOUT_MS 30000L

int docker_init(struct docker *d, const char *host, char **err)
{
	memset(d, 0, sizeof(*d));
	if (host == NULL || host[0] == '\0')
		host = "unix:///var/run/docker.sock";
	d->where = strdup(host);
	if (strncmp(host, "unix://", 7) == 0 && host[7] == '/') {
		d->socket = strdup(host + 7);
		d->base = strdup("http://localhost/" DOCKER_API);
	} else if (strncmp(host, "tcp://", 6) == 0 && host[6] != '\0') {
		d->base = fx_strdupf("http://%s/" DOCKER_API, host + 6);
	} else {
		*err = fx_strdupf("DOCKER_HOST %s: expected unix:///path or tcp://host:port", host);
		docker_release(d);
		return -EINVAL;
	}
	if (d->where == NULL || d->base == NULL || (host[0] == 'u' && d->socket == NULL)) {
		docker_release(d);
		*err = fx_strdupf("out of memory");
		return -ENOMEM;
	}
	return 0;
}

void docker_release(struct docker *d)
{
	if (d == NULL)
		return;
	free(d->socket);
	free(d->base);
	free(d->where);
	memset(d, 0, sizeof(*d));
}

static void put_enc(struct fx_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			fx_buf_append(b, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			fx_buf_append(b, e, 3);
		}
	}
}

char *docker_filters(const char *first_key, ...)
{
	struct json_object *f = json_object_new_object();
	struct fx_buf b;
	va_list ap;
	const char *k = first_key;
	char *s;
	if (f == NULL)
		return NULL;
	va_start(ap, first_key);
	while (k != NULL) {
		const char *v = va_arg(ap, const char *);
		struct json_object *a;
		if (!json_object_object_get_ex(f, k, &a)) {
			a = json_object_new_array();
			json_object_object_add(f, k, a);
		}
		json_object_array_add(a, json_object_new_string(v));
		k = va_arg(ap, const char *);
	}
	va_end(ap);
	fx_buf_init(&b, 1 << 20);
	fx_buf_puts(&b, "?filters=");
	put_enc(&b, json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN));
	json_object_put(f);
	s = fx_buf_detach(&b, NULL);
	fx_buf_release(&b);
	return s;
}

struct json_object *docker_jget(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

const char *docker_jstr(struct json_object *o, const char *k)
{
	struct json_object *v = docker_jget(o, k);
	return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
	                                                             : "";
}

/* Docker's {"message": "..."}; borrowed from j, or a fallback. */
static const char *docker_message(struct json_object *j, const char *fallback)
{
	struct json_object *m;
	if (j != NULL && json_object_object_get_ex(j, "message", &m))
		return json_object_get_string(m);
	return fallback;
}

int docker_call(struct docker *d, const char *method, const char *path, const char *body,
                struct json_object **out, char **err)
{
	char url[2048];
	const char *hdrs[] = {"Content-Type: application/json", NULL};
	struct fx_http_req req = {
	    .method = method,
	    .url = url,
	    .unix_socket = d->socket,
	    .headers = hdrs,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .timeout_ms = DOCKER_TIMEOUT_MS,
	    .max_response = DOCKER_MAX_REPLY,
	};
	struct fx_http_resp resp;
	struct json_object *j = NULL;
	char *herr = NULL;
	int rc;

	*err = NULL;
	if (out)
		*out = NULL;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", d->base, path) >= sizeof(url)) {
		*err = fx_strdupf("docker %s: path too long", method);
		return -E2BIG;
	}
	rc = fx_http_do(&req, &resp, &herr);
	if (rc < 0) {
		if (rc == -E2BIG || rc == -ENOMEM) {
			*err = herr;
			herr = NULL;
		} else {
			*err = fx_strdupf(
			    "Docker daemon not reachable at %s (is dockerd running?): %s", d->where,
			    herr ? herr : "error");
			rc = -EHOSTDOWN;
		}
		free(herr);
		fx_http_resp_release(&resp);
		return rc;
	}
	if (resp.body.len > 0) {
		enum json_tokener_error je = json_tokener_success;
		j = json_tokener_parse_verbose(resp.body.data, &je);
		if (j == NULL && resp.status >= 200 && resp.status < 300) {
			*err = fx_strdupf("docker %s %s: reply is not JSON (%s)", method, path,
			                  json_tokener_error_desc(je));
			fx_http_resp_release(&resp);
			return -EIO;
		}
	}
	if (resp.status >= 200 && resp.status < 300) {
		/* A write of ours: readers waiting for a change hear of it now,
		 * not when its event comes back through the stream. */
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
			log_debug("docker_write", "method=%s path=%.200s", method, path);
			watch_changed();
		}
		if (out)
			*out = j;
		else
			json_object_put(j);
		fx_http_resp_release(&resp);
		return (int)resp.status;
	}
	{
		const char *msg = docker_message(j, resp.body.len ? resp.body.data : "no message");
		if (resp.status == 503 &&
		    (strstr(msg, "not a swarm manager") || strstr(msg, "swarm") != NULL)) {
			*err = fx_strdupf(
			    "this Docker engine is not a swarm manager (docker swarm init, "
			    "or run the controller on a manager): %s",
			    msg);
			rc = -EPERM;
		} else if (strstr(msg, "update out of sequence") != NULL) {
			*err =
			    fx_strdupf("update out of sequence (someone else updated it): %s", msg);
			rc = -EAGAIN;
		} else if (resp.status == 404) {
			*err = fx_strdupf("%s", msg);
			rc = -ENOENT;
		} else if (resp.status == 409) {
			*err = fx_strdupf("%s", msg);
			rc = -EEXIST;
		} else if (resp.status == 400) {
			*err = fx_strdupf("Docker refused %s %s: %s", method, path, msg);
			rc = -EINVAL;
		} else {
			*err = fx_strdupf("Docker error %ld on %s %s: %s", resp.status, method,
			                  path, msg);
			rc = -EIO;
		}
	}
	json_object_put(j);
	fx_http_resp_release(&resp);
	return rc;
}

int docker_stream(struct docker *d, const char *path, int (*on_data)(const char *, size_t, void *),
                  void *arg, const volatile int *cancel, char **err)
{
	char url[2048];
	struct fx_http_req req = {
	    .url = url,
	    .unix_socket = d->socket,
	    .on_data = on_data,
	    .arg = arg,
	    .cancel = cancel,
	};
	struct fx_http_resp resp;
	char *herr = NULL;
	int rc;
	*err = NULL;
	snprintf(url, sizeof(url), "%s%s", d->base, path);
	rc = fx_http_do(&req, &resp, &herr);
	if (rc == -ECANCELED) {
		rc = 0;
	} else if (rc < 0) {
		*err =
		    fx_strdupf("Docker daemon not reachable at %s: %s", d->where, herr ? herr : "");
		rc = -EHOSTDOWN;
	} else if (resp.status != 200) {
		*err = fx_strdupf("docker GET %s: status %ld", path, resp.status);
		rc = -EIO;
	}
	free(herr);
	fx_http_resp_release(&resp);
	return rc;
}
