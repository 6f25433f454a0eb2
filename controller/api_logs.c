/* api_logs.c: GET /system/logs?name=&namespace=&tail=&since=&follow=
 * A thread reads Docker's multiplexed log stream of the function's service
 * and turns each frame into one line of newline-delimited JSON (the
 * faas-provider logs Message); the connection's own thread (libmicrohttpd
 * runs one per connection) sends each line as soon as it is made. The stream
 * ends when Docker's does (follow=false), or when the client leaves. */
#include "controller.h"

#include "log.h"
#include "units.h"

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOGS_OUT_MAX (1u << 20) /* lines made and not sent yet: Docker waits past it */

struct logs_stream {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fx_buf raw; /* Docker's bytes not made into lines yet */
	struct fx_buf out; /* lines ready for the client */
	size_t out_off;
	bool done;         /* the Docker stream ended */
	volatile int gone; /* the client left (or the response was freed) */
	int refs;          /* the thread and the response */
	int client_fd;
	char name[FX_SPEC_MAX_NAME + 1];
	char path[512];
};

static void logs_unref(struct logs_stream *s)
{
	bool last;
	pthread_mutex_lock(&s->mu);
	last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	fx_buf_release(&s->raw);
	fx_buf_release(&s->out);
	free(s);
}

/* Frames [stream, 0, 0, 0, size (4 bytes, big-endian)] payload, each
 * "<RFC 3339 timestamp> <attributes> <text>" (timestamps=1, details=1).
 * Lock held. */
static int logs_lines(struct logs_stream *s)
{
	size_t off = 0;
	while (off + 8 <= s->raw.len) {
		const unsigned char *h = (const unsigned char *)s->raw.data + off;
		size_t size = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
		char *line, *attrs, *text, *task, inst[80] = "";
		struct json_object *o;
		if (size > (1u << 20))
			return -EIO; /* not a frame Docker would send */
		if (off + 8 + size > s->raw.len)
			break;
		line = strndup(s->raw.data + off + 8, size);
		if (line == NULL)
			return -ENOMEM;
		attrs = strchr(line, ' ');
		if (attrs)
			*attrs++ = '\0';
		text = attrs ? strchr(attrs, ' ') : NULL;
		if (text)
			*text++ = '\0';
		task = attrs ? strstr(attrs, "com.docker.swarm.task.id=") : NULL;
		if (task != NULL)
			snprintf(inst, sizeof(inst), "%.*s", (int)strcspn(task + 25, ", "),
			         task + 25);
		if (text) {
			size_t tl = strlen(text);
			while (tl > 0 && (text[tl - 1] == '\n' || text[tl - 1] == '\r'))
				text[--tl] = '\0';
		}
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(s->name));
		json_object_object_add(o, "namespace", json_object_new_string(api_cfg.namespace_));
		json_object_object_add(o, "instance", json_object_new_string(inst));
		json_object_object_add(o, "timestamp", json_object_new_string(line));
		json_object_object_add(o, "text", json_object_new_string(text ? text : ""));
		fx_buf_appendf(&s->out, "%s\n",
		               json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		free(line);
		off += 8 + size;
	}
	if (off > 0) {
		memmove(s->raw.data, s->raw.data + off, s->raw.len - off);
		s->raw.len -= off;
	}
	return 0;
}

static int on_logs(const char *p, size_t n, void *arg)
{
	struct logs_stream *s = arg;
	int rc = 0;
	pthread_mutex_lock(&s->mu);
	/* The client reads slower than Docker writes: wait for it. */
	while (!s->gone && s->out.len - s->out_off > LOGS_OUT_MAX)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->gone || fx_buf_append(&s->raw, p, n) < 0 || logs_lines(s) < 0)
		rc = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static void *logs_thread(void *arg)
{
	struct logs_stream *s = arg;
	char *err = NULL;
	int rc = docker_stream(&api_ctl->docker, s->path, on_logs, s, &s->gone, &err);
	if (rc < 0)
		log_warn("logs_failed", "function=%s err=\"%s\"", s->name, err ? err : "");
	free(err);
	pthread_mutex_lock(&s->mu);
	s->done = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	logs_unref(s);
	return NULL;
}

/* Has the client hung up? (It sends nothing more after its request.) */
static bool client_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static ssize_t logs_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct logs_stream *s = cls;
	size_t n;
	(void)pos;
	pthread_mutex_lock(&s->mu);
	while (s->out.len == s->out_off && !s->done) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (client_gone(s->client_fd)) {
			s->gone = 1;
			pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&s->mu);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	if (s->out.len == s->out_off) {
		pthread_mutex_unlock(&s->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = s->out.len - s->out_off;
	if (n > max)
		n = max;
	memcpy(buf, s->out.data + s->out_off, n);
	s->out_off += n;
	if (s->out_off == s->out.len)
		s->out.len = s->out_off = 0;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return (ssize_t)n;
}

static void logs_free(void *cls)
{
	struct logs_stream *s = cls;
	pthread_mutex_lock(&s->mu);
	s->gone = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	logs_unref(s);
}

/* The id of our service of function name: 0, -ENOENT (none, or not ours). */
static int service_id(const char *name, char *id, size_t n, char **err)
{
	struct json_object *svcs = NULL, *one;
	char path[512],
	    *q = docker_filters("name", name, "label", FX_LABEL_MANAGED_BY "=" FX_MANAGED_BY,
	                        "label", store_network_label(), (const char *)NULL);
	int rc;
	if (q == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/services%s", q);
	free(q);
	rc = docker_call(&api_ctl->docker, "GET", path, NULL, &svcs, err);
	if (rc < 0)
		return rc;
	one = api_service_named(svcs, name); /* the name filter matches prefixes */
	rc = one != NULL && docker_jstr(one, "ID")[0] != '\0' ? 0 : -ENOENT;
	if (rc == 0)
		snprintf(id, n, "%s", docker_jstr(one, "ID"));
	json_object_put(svcs);
	return rc;
}

void api_logs(struct reply *r, struct MHD_Connection *conn)
{
	const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
	const char *tail = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tail");
	const char *since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	const char *follow = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "follow");
	const union MHD_ConnectionInfo *ci;
	struct logs_stream *s;
	char *err = NULL, id[96], tailbuf[24] = "all";
	int64_t t = -1, sn = 0;
	bool fol;
	pthread_t th;
	int rc;
	if (name == NULL || !fx_spec_valid_name(name)) {
		api_reply_error(r, 400, "name: expected a function name", NULL);
		return;
	}
	if (tail != NULL && *tail != '\0' && fx_parse_int(tail, -1, 1000000, &t) < 0) {
		api_reply_error(r, 400,
		                "tail: expected an integer (-1 or 0: all lines, at most 1000000)",
		                NULL);
		return;
	}
	if (t > 0)
		snprintf(tailbuf, sizeof(tailbuf), "%lld", (long long)t);
	if (since != NULL && *since != '\0' && of_parse_since(since, &sn) < 0) {
		api_reply_error(r, 400,
		                "since: expected RFC 3339 (2006-01-02T15:04:05Z) or Unix seconds",
		                NULL);
		return;
	}
	if (follow != NULL && *follow != '\0' && strcmp(follow, "true") != 0 &&
	    strcmp(follow, "false") != 0 && strcmp(follow, "1") != 0 && strcmp(follow, "0") != 0) {
		api_reply_error(r, 400, "follow: expected true or false", NULL);
		return;
	}
	fol = follow != NULL && (strcmp(follow, "true") == 0 || strcmp(follow, "1") == 0);
	/* Only a function's logs: our service of that name, not any service. */
	rc = service_id(name, id, sizeof(id), &err);
	if (rc == -ENOENT) {
		free(err);
		api_reply_error(r, 404, "no such function", NULL);
		return;
	}
	if (rc < 0) {
		api_reply_docker(r, rc, err);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		api_reply_error(r, 503, "out of memory", NULL);
		return;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	fx_buf_init(&s->raw, 2u << 20);
	fx_buf_init(&s->out, LOGS_OUT_MAX + (2u << 20));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->path, sizeof(s->path),
	         "/services/%s/logs?stdout=1&stderr=1&timestamps=1&details=1&tail=%s&since=%lld"
	         "&follow=%d",
	         id, tailbuf, (long long)sn, fol);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	s->client_fd = ci ? ci->connect_fd : -1;
	s->refs = 2;
	r->resp =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, logs_read, s, logs_free);
	if (r->resp == NULL || pthread_create(&th, NULL, logs_thread, s) != 0) {
		if (r->resp != NULL) {
			MHD_destroy_response(r->resp); /* logs_free drops one reference */
			r->resp = NULL;
		} else {
			s->refs--;
		}
		logs_unref(s);
		api_reply_error(r, 503, "out of memory", NULL);
		return;
	}
	pthread_detach(th);
	r->status = 200;
	r->type = "application/x-ndjson";
}
