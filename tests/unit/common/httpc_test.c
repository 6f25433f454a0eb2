/* common/httpc.c: the libcurl client against a one-shot server thread that
 * answers a scripted byte stream (well-formed and hostile), over TCP and a
 * unix socket: what callers rely on (request shape, limits, errors, streams,
 * connection reuse). */
#include "../fx_test.h"
#include "httpc.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct server {
	int lfd;
	const char *reply; /* written after the request head (and body) is read */
	size_t reply_len;  /* 0: strlen(reply) */
	size_t piece;      /* write in pieces of this size (0: at once) */
	int hold_ms;       /* keep the connection open this long after replying */
	char req[8192];    /* what the client sent */
	size_t req_len;
	pthread_t th;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	size_t len = s->reply_len ? s->reply_len : strlen(s->reply);
	if (fd < 0)
		return NULL;
	/* Read the head, then Content-Length bytes of body. */
	for (;;) {
		ssize_t n = recv(fd, s->req + s->req_len, sizeof(s->req) - 1 - s->req_len, 0);
		char *end, *cl;
		if (n <= 0)
			break;
		s->req_len += (size_t)n;
		s->req[s->req_len] = '\0';
		end = strstr(s->req, "\r\n\r\n");
		if (end == NULL)
			continue;
		cl = strstr(s->req, "Content-Length: ");
		if (cl == NULL || cl > end ||
		    s->req_len >= (size_t)(end + 4 - s->req) + strtoul(cl + 16, NULL, 10))
			break;
	}
	for (size_t off = 0; off < len;) {
		size_t n = s->piece && len - off > s->piece ? s->piece : len - off;
		if (send(fd, s->reply + off, n, MSG_NOSIGNAL) < 0)
			break;
		off += n;
		if (s->piece)
			usleep(1000);
	}
	/* Hold the connection until the client closes it or hold_ms pass. */
	if (s->hold_ms) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char junk[256];
		while (poll(&p, 1, s->hold_ms) > 0 && recv(fd, junk, sizeof(junk), 0) > 0)
			;
	}
	close(fd);
	return NULL;
}

/* Starts a TCP server on 127.0.0.1:0; url gets its base URL. */
static void server_start(struct server *s, const char *reply, char *url, size_t n)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	s->reply = reply;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s->lfd, 0);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s->lfd, 4), 0);
	ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
	snprintf(url, n, "http://127.0.0.1:%d", ntohs(a.sin_port));
	ck_assert_int_eq(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_join(struct server *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* One GET (or req as given) of path against a server answering reply. */
static int fetch(struct server *s, const char *reply, struct fx_http_req *req, const char *path,
                 struct fx_http_resp *resp, char **err)
{
	char base[64], url[256];
	int rc;
	server_start(s, reply, base, sizeof(base));
	snprintf(url, sizeof(url), "%s%s", base, path);
	req->url = url;
	rc = fx_http_do(req, resp, err);
	server_join(s);
	return rc;
}

START_TEST(content_length_and_request_shape)
{
	struct server s = {0};
	const char *hdrs[] = {"Content-Type: application/json", "X-Empty:", NULL};
	struct fx_http_req req = {.method = "PUT",
	                          .headers = hdrs,
	                          .body = "{\"a\":1}",
	                          .body_len = 7,
	                          .user = "admin:secret"};
	struct fx_http_resp resp;
	char *err = NULL, *v;
	int rc = fetch(&s,
	               "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
	               "X-Faas-Result:  ok \r\n\r\nhello",
	               &req, "/a/b?x=1#frag", &resp, &err);
	ck_assert_msg(rc == 0, "rc %d err %s", rc, err ? err : "");
	ck_assert_int_eq(resp.status, 201);
	ck_assert_uint_eq(resp.body.len, 5);
	ck_assert_str_eq(resp.body.data, "hello");
	ck_assert_ptr_nonnull(strstr(resp.headers.data, "HTTP/1.1 201 Created\r\n"));
	v = fx_http_resp_header(&resp, "x-faas-result");
	ck_assert_str_eq(v, "ok");
	free(v);
	ck_assert_ptr_null(fx_http_resp_header(&resp, "X-Missing"));
	ck_assert_ptr_nonnull(strstr(s.req, "PUT /a/b?x=1 HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(s.req, "\r\nHost: 127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(s.req, "\r\nContent-Type: application/json\r\n"));
	ck_assert_ptr_nonnull(strstr(s.req, "\r\nContent-Length: 7\r\n"));
	ck_assert_ptr_nonnull(strstr(s.req, "\r\nAuthorization: Basic YWRtaW46c2VjcmV0\r\n"));
	ck_assert_ptr_null(strstr(s.req, "X-Empty"));
	ck_assert_ptr_nonnull(strstr(s.req, "\r\n\r\n{\"a\":1}"));
	fx_http_resp_release(&resp);
}
END_TEST

START_TEST(chunked_byte_by_byte_with_extensions_and_trailers)
{
	struct server s = {.piece = 1};
	struct fx_http_req req = {0};
	struct fx_http_resp resp;
	char *err = NULL;
	int rc = fetch(&s,
	               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	               "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
	               &req, "/", &resp, &err);
	ck_assert_msg(rc == 0, "rc %d err %s", rc, err ? err : "");
	ck_assert_str_eq(resp.body.data, "hello 0123456789");
	fx_http_resp_release(&resp);
}
END_TEST

static int count_then_stop(const char *p, size_t n, void *arg)
{
	size_t *got = arg;
	(void)p;
	*got += n;
	return *got >= 3 ? 1 : 0;
}

START_TEST(stream_stops_when_asked)
{
	/* The server keeps the stream open (like /events): stopping must not wait. */
	struct server s = {.hold_ms = 3000};
	size_t got = 0;
	struct fx_http_req req = {.on_data = count_then_stop, .arg = &got, .timeout_ms = 2000};
	struct fx_http_resp resp;
	char *err = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = fetch(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
	               &req, "/events", &resp, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_msg(rc == 0, "rc %d err %s", rc, err ? err : "");
	ck_assert_uint_eq(got, 3);
	ck_assert_uint_eq(resp.body.len, 0);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5); /* returned before the server let go */
	fx_http_resp_release(&resp);
}
END_TEST

START_TEST(until_close_and_informational)
{
	struct server s = {.piece = 7};
	struct fx_http_req req = {0};
	struct fx_http_resp resp;
	char *err = NULL;
	int rc = fetch(&s,
	               "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-A: b\r\n\r\nall of it "
	               "until the end",
	               &req, "/", &resp, &err);
	ck_assert_msg(rc == 0, "rc %d err %s", rc, err ? err : "");
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(resp.body.data, "all of it until the end");
	ck_assert_ptr_null(strstr(resp.headers.data, "100 Continue"));
	fx_http_resp_release(&resp);
}
END_TEST

START_TEST(no_body_statuses_do_not_wait)
{
	/* HEAD and 204 end at the head even though the server holds the connection. */
	struct server s = {.hold_ms = 3000};
	struct fx_http_req req = {.method = "HEAD", .timeout_ms = 2000};
	struct fx_http_resp resp;
	char *err = NULL;
	int rc =
	    fetch(&s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", &req, "/", &resp, &err);
	ck_assert_msg(rc == 0, "rc %d err %s", rc, err ? err : "");
	ck_assert_uint_eq(resp.body.len, 0);
	fx_http_resp_release(&resp);
	req.method = "DELETE";
	rc = fetch(&s, "HTTP/1.1 204 No Content\r\n\r\n", &req, "/", &resp, &err);
	ck_assert_msg(rc == 0, "rc %d err %s", rc, err ? err : "");
	ck_assert_int_eq(resp.status, 204);
	ck_assert_ptr_nonnull(strstr(s.req, "DELETE / HTTP/1.1\r\n"));
	ck_assert_ptr_null(strstr(s.req, "Content-Length")); /* no body: none announced */
	fx_http_resp_release(&resp);
}
END_TEST

START_TEST(unix_socket)
{
	struct server s = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"};
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct fx_http_req req = {.url = "http://localhost/v1.41/info"};
	struct fx_http_resp resp;
	char *err = NULL;
	int rc;
	snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/httpc-test-%d.sock", (int)getpid());
	unlink(a.sun_path);
	s.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(s.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s.lfd, 4), 0);
	ck_assert_int_eq(pthread_create(&s.th, NULL, serve, &s), 0);
	req.unix_socket = a.sun_path;
	rc = fx_http_do(&req, &resp, &err);
	server_join(&s);
	ck_assert_msg(rc == 0, "rc %d err %s", rc, err ? err : "");
	ck_assert_str_eq(resp.body.data, "{}");
	ck_assert_ptr_nonnull(strstr(s.req, "GET /v1.41/info HTTP/1.1\r\nHost: localhost\r\n"));
	fx_http_resp_release(&resp);
	/* the socket gone: -ENOENT, with the path in the message */
	unlink(a.sun_path);
	rc = fx_http_do(&req, &resp, &err);
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, a.sun_path));
	free(err);
	fx_http_resp_release(&resp);
}
END_TEST

/* Hostile answers: each fails with the expected errno, never a crash or hang. */
static const struct {
	const char *reply;
	int rc;
} hostile[] = {
    {"HTTP/1.1 2x0 OK\r\n\r\n", -EIO},                  /* bad status */
    {"garbage\r\n\r\n", -EIO},                          /* no status line */
    {"HTTP/1.1 200 OK\r\n bad fold\r\n\r\n", -EIO},     /* obsolete folding */
    {"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", -EIO}, /* header without ':' */
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", -EIO},
    {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -EIO}, /* negative length */
    {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", -E2BIG},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -EIO}, /* bad size */
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", -EIO},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", -EIO}, /* no CRLF */
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", -EIO},       /* truncated */
    {"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nonly this", -EIO},             /* truncated */
    {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", -E2BIG}, /* announced too long */
    {"HTTP/1.1 200 OK\r\nContent-Le", -EIO},                             /* head cut */
    {"", -EIO},                                                          /* closed at once */
    {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",
     -EIO}, /* endless 1xx */
    {"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n0123456789012345678901234567890123456789",
     -E2BIG}, /* over max_response (32) */
};

START_TEST(hostile_answers)
{
	struct server s = {.piece = (size_t)(_i % 3 == 0 ? 3 : 0)};
	struct fx_http_req req = {.max_response = 32, .timeout_ms = 5000};
	struct fx_http_resp resp;
	char *err = NULL;
	int rc = fetch(&s, hostile[_i].reply, &req, "/", &resp, &err);
	ck_assert_msg(rc == hostile[_i].rc, "case %d: rc %d, want %d (%s)", _i, rc, hostile[_i].rc,
	              err ? err : "");
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "GET http://127.0.0.1:"));
	free(err);
	fx_http_resp_release(&resp);
}
END_TEST

START_TEST(huge_head)
{
	/* 300 KiB of headers that never end: -E2BIG at the 256 KiB cap. */
	size_t n = 300u << 10;
	char *big = malloc(n + 1);
	struct server s = {.reply = big, .reply_len = n};
	struct fx_http_req req = {.timeout_ms = 5000};
	struct fx_http_resp resp;
	char *err = NULL;
	int rc;
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(big + 20, 'a', n - 20);
	big[n] = '\0';
	rc = fetch(&s, big, &req, "/", &resp, &err);
	ck_assert_int_eq(rc, -E2BIG);
	free(err);
	fx_http_resp_release(&resp);
	free(big);
}
END_TEST

START_TEST(timeout_and_refused)
{
	struct server s = {.hold_ms = 1500};
	struct fx_http_req req = {.timeout_ms = 200};
	struct fx_http_resp resp;
	char *err = NULL, base[64];
	struct timespec t0, t1;
	int rc;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = fetch(&s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", &req, "/", &resp, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(rc, -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(err, "timed out"));
	ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000,
	                 1200);
	free(err);
	fx_http_resp_release(&resp);
	/* a closed port: refused, and the message names where */
	{
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t al = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
		close(fd);
		snprintf(base, sizeof(base), "http://127.0.0.1:%d/", ntohs(a.sin_port));
	}
	req.url = base;
	rc = fx_http_do(&req, &resp, &err);
	ck_assert_int_eq(rc, -ECONNREFUSED);
	ck_assert_ptr_nonnull(strstr(err, "cannot reach"));
	free(err);
	fx_http_resp_release(&resp);
}
END_TEST

START_TEST(bad_requests_refused_before_sending)
{
	static const char *const urls[] = {
	    "ftp://x/",    "http://",      "http:///a",   "http://h:99999/", "http://h:x/",
	    "http://a b/", "http://h/a b", "http://u@h/", "http://[::1/",    "localhost:80/"};
	const char *inject[] = {"X-A: b\r\nX-Evil: 1", NULL};
	struct fx_http_req req = {0};
	struct fx_http_resp resp;
	char *err = NULL;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		req.url = urls[i];
		ck_assert_msg(fx_http_do(&req, &resp, &err) == -EINVAL, "%s", urls[i]);
		free(err);
		fx_http_resp_release(&resp);
	}
	req.url = "http://127.0.0.1:1/";
	req.headers = inject;
	ck_assert_int_eq(fx_http_do(&req, &resp, &err), -EINVAL);
	free(err);
	fx_http_resp_release(&resp);
	req.headers = NULL;
	req.method = "GET /x HTTP/1.1\r\n";
	ck_assert_int_eq(fx_http_do(&req, &resp, &err), -EINVAL);
	free(err);
	fx_http_resp_release(&resp);
}
END_TEST

/* Reads one request head (no body) from fd into s->req; false on EOF. */
static bool read_head(struct server *s, int fd)
{
	s->req_len = 0;
	s->req[0] = '\0';
	while (strstr(s->req, "\r\n\r\n") == NULL) {
		ssize_t n = recv(fd, s->req + s->req_len, sizeof(s->req) - 1 - s->req_len, 0);
		if (n <= 0)
			return false;
		s->req_len += (size_t)n;
		s->req[s->req_len] = '\0';
	}
	return true;
}

/* Accepts one connection only and answers two requests on it. */
static void *serve_twice(void *arg)
{
	struct server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	for (int i = 0; i < 2 && read_head(s, fd); i++)
		if (send(fd, s->reply, strlen(s->reply), MSG_NOSIGNAL) < 0)
			break;
	close(fd);
	return NULL;
}

START_TEST(connection_reused_by_a_thread)
{
	/* The second call must go over the first one's connection: the server
	 * accepts only once, so a new connection would time out. */
	struct server s = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	struct fx_http_req req = {.timeout_ms = 2000};
	struct fx_http_resp resp;
	char *err = NULL, url[64];
	s.lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(s.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s.lfd, 4), 0);
	ck_assert_int_eq(getsockname(s.lfd, (struct sockaddr *)&a, &al), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/one", ntohs(a.sin_port));
	ck_assert_int_eq(pthread_create(&s.th, NULL, serve_twice, &s), 0);
	req.url = url;
	for (int i = 0; i < 2; i++) {
		int rc = fx_http_do(&req, &resp, &err);
		ck_assert_msg(rc == 0, "call %d: rc %d err %s", i, rc, err ? err : "");
		ck_assert_str_eq(resp.body.data, "ok");
		fx_http_resp_release(&resp);
	}
	server_join(&s);
}
END_TEST

static void *cancel_later(void *arg)
{
	usleep(300 * 1000);
	*(volatile int *)arg = 1;
	return NULL;
}

START_TEST(stream_cancelled)
{
	/* A stream that sends nothing more: setting *cancel ends it. */
	struct server s = {.hold_ms = 5000};
	volatile int cancel = 0;
	struct fx_http_req req = {.on_data = count_then_stop, .cancel = &cancel};
	struct fx_http_resp resp;
	size_t got = 0;
	char *err = NULL;
	struct timespec t0, t1;
	pthread_t th;
	int rc;
	req.arg = &got;
	ck_assert_int_eq(pthread_create(&th, NULL, cancel_later, (void *)(uintptr_t)&cancel), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = fetch(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n", &req,
	           "/events", &resp, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	ck_assert_msg(rc == -ECANCELED, "rc %d err %s", rc, err ? err : "");
	ck_assert_uint_eq(got, 1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 4); /* not held until the server let go */
	free(err);
	fx_http_resp_release(&resp);
}
END_TEST

struct conn_call {
	struct fx_http_conn *conn;
	const char *url;
	int rc;
	char *err;
	char body[8];
};

static void *call_on_conn(void *arg)
{
	struct conn_call *k = arg;
	struct fx_http_req req = {.url = k->url, .timeout_ms = 2000};
	struct fx_http_resp resp;
	k->rc = fx_http_do_on(k->conn, &req, &resp, &k->err);
	if (resp.body.data != NULL)
		snprintf(k->body, sizeof(k->body), "%s", resp.body.data);
	fx_http_resp_release(&resp);
	return NULL;
}

START_TEST(connection_kept_by_a_conn_across_threads)
{
	/* Two threads, one after the other (the autoscaler's polls): the second
	 * must go over the first one's connection, the server accepts once. */
	struct server s = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	char url[64];
	struct conn_call k = {0};
	pthread_t th;
	s.lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(s.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s.lfd, 4), 0);
	ck_assert_int_eq(getsockname(s.lfd, (struct sockaddr *)&a, &al), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/one", ntohs(a.sin_port));
	ck_assert_int_eq(pthread_create(&s.th, NULL, serve_twice, &s), 0);
	k.conn = fx_http_conn_new();
	ck_assert_ptr_nonnull(k.conn);
	k.url = url;
	for (int i = 0; i < 2; i++) {
		k.rc = -1;
		k.body[0] = '\0';
		ck_assert_int_eq(pthread_create(&th, NULL, call_on_conn, &k), 0);
		ck_assert_int_eq(pthread_join(th, NULL), 0);
		ck_assert_msg(k.rc == 0, "call %d: rc %d err %s", i, k.rc, k.err ? k.err : "");
		ck_assert_str_eq(k.body, "ok");
	}
	fx_http_conn_free(k.conn);
	server_join(&s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("httpc");
	TCase *t = tcase_create("httpc");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, content_length_and_request_shape);
	tcase_add_test(t, chunked_byte_by_byte_with_extensions_and_trailers);
	tcase_add_test(t, stream_stops_when_asked);
	tcase_add_test(t, until_close_and_informational);
	tcase_add_test(t, no_body_statuses_do_not_wait);
	tcase_add_test(t, unix_socket);
	tcase_add_test(t, connection_reused_by_a_thread);
	tcase_add_test(t, connection_kept_by_a_conn_across_threads);
	tcase_add_test(t, stream_cancelled);
	tcase_add_loop_test(t, hostile_answers, 0, (int)(sizeof(hostile) / sizeof(hostile[0])));
	tcase_add_test(t, huge_head);
	tcase_add_test(t, timeout_and_refused);
	tcase_add_test(t, bad_requests_refused_before_sending);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
