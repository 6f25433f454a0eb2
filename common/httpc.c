/* httpc.c: fx_http_do for http:// URLs: plain HTTP/1.1 over a unix socket or
 * TCP, one connection per request ("Connection: close"), responses framed by
 * Content-Length, chunked encoding or the end of the connection (heads and
 * chunks parsed by http1.c). https:// is handed to fx_http_tls_do. */
#include "httpc.h"

#include "base64.h"
#include "buf.h"
#include "http1.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HTTPC_DEFAULT_MAX     (16u << 20)
#define HTTPC_CONNECT_MS      5000L
#define HTTPC_IO              16384
#define HTTPC_MAX_INFORMATION 8 /* 1xx heads skipped before the final one */

int (*fx_http_tls_do)(const struct fx_http_req *req, struct fx_http_resp *resp, char **err);

/* ---- the response reader ---- */

void fx_http_resp_init(struct fx_http_resp *resp, const struct fx_http_req *req)
{
	resp->status = 0;
	fx_buf_init(&resp->headers, FX_HTTP_HEAD_MAX);
	fx_buf_init(&resp->body, req->max_response ? req->max_response : HTTPC_DEFAULT_MAX);
}

void fx_http_reader_init(struct fx_http_reader *r, const struct fx_http_req *req,
                         struct fx_http_resp *resp)
{
	memset(r, 0, sizeof(*r));
	r->req = req;
	r->resp = resp;
	r->head_request = req->method != NULL && strcmp(req->method, "HEAD") == 0;
	fx_buf_init(&r->raw, FX_HTTP_HEAD_MAX);
}

void fx_http_reader_release(struct fx_http_reader *r)
{
	if (r != NULL)
		fx_buf_release(&r->raw);
}

/* Body bytes: to on_data, or into resp->body. 0, 1 (stop), -E2BIG, -ENOMEM. */
static int deliver(struct fx_http_reader *r, const char *p, size_t n, const char **err)
{
	int rc;
	if (n == 0)
		return 0;
	if (r->req->on_data != NULL)
		return r->req->on_data(p, n, r->req->arg) != 0 ? 1 : 0;
	rc = fx_buf_append(&r->resp->body, p, n);
	if (rc == -E2BIG)
		*err = "response body larger than the limit";
	else if (rc < 0)
		*err = "out of memory";
	return rc;
}

/* Body bytes p[0..n) (n == 0: end of connection) for the current framing. */
static int feed_body(struct fx_http_reader *r, const char *p, size_t n, const char **err)
{
	switch (r->framing) {
	case FX_BODY_NONE:
		return 1;
	case FX_BODY_LENGTH: {
		size_t take = n < r->left ? n : (size_t)r->left;
		int rc;
		if (n == 0) {
			*err = "connection closed before the end of the body (Content-Length)";
			return -EIO;
		}
		rc = deliver(r, p, take, err);
		r->left -= take;
		return rc != 0 ? rc : r->left == 0;
	}
	case FX_BODY_CHUNKED: {
		char out[HTTPC_IO];
		if (n == 0) {
			*err = "connection closed before the last chunk";
			return -EIO;
		}
		while (n > 0) {
			size_t used = 0, made = 0;
			int rc = fx_http1_chunked_decode(&r->chunked, p, n, &used, out, sizeof(out),
			                                 &made);
			int drc;
			if (rc < 0) {
				*err = "malformed chunked body";
				return -EIO;
			}
			drc = deliver(r, out, made, err);
			if (drc != 0)
				return drc;
			if (rc == 1)
				return 1;
			if (used == 0 && made == 0) { /* cannot happen: guards the loop */
				*err = "chunked decoder made no progress";
				return -EIO;
			}
			p += used;
			n -= used;
		}
		return 0;
	}
	case FX_BODY_CLOSE:
		return n == 0 ? 1 : deliver(r, p, n, err);
	}
	*err = "unknown framing";
	return -EIO;
}

/* Parses the head in r->raw once it is complete; then feeds what follows it. */
static int feed_head(struct fx_http_reader *r, const char **err)
{
	struct fx_http1_head h;
	char *copy;
	size_t rest;
	int rc;

	for (;;) {
		/* The parser writes NULs into its buffer: parse a copy, keep the raw head. */
		copy = malloc(r->raw.len ? r->raw.len : 1);
		if (copy == NULL) {
			*err = "out of memory";
			return -ENOMEM;
		}
		if (r->raw.len)
			memcpy(copy, r->raw.data, r->raw.len);
		rc = fx_http1_head_parse(copy, r->raw.len, r->head_request, &h);
		free(copy);
		if (rc == -EAGAIN)
			return 0;
		if (rc == -E2BIG) {
			*err = "too many response headers";
			return -E2BIG;
		}
		if (rc < 0) {
			*err = "malformed response head (status line or header)";
			return -EIO;
		}
		fx_buf_reset(&r->resp->headers);
		if (fx_buf_append(&r->resp->headers, r->raw.data, h.head_len) < 0) {
			*err = "out of memory";
			return -ENOMEM;
		}
		r->resp->status = h.status;
		rest = r->raw.len - h.head_len;
		if (h.status >= 200)
			break;
		/* 1xx (100 Continue, 103 Early Hints): the final head follows. */
		if (++r->informational > HTTPC_MAX_INFORMATION) {
			*err = "too many informational (1xx) responses";
			return -EIO;
		}
		memmove(r->raw.data, r->raw.data + h.head_len, rest);
		r->raw.len = rest;
	}
	r->in_body = true;
	r->framing = h.framing;
	r->left = h.content_length;
	if (r->framing == FX_BODY_NONE)
		return 1;
	rc = rest ? feed_body(r, r->raw.data + h.head_len, rest, err) : 0;
	fx_buf_release(&r->raw);
	return rc;
}

int fx_http_reader_feed(struct fx_http_reader *r, const char *p, size_t n, const char **err)
{
	int rc;
	if (r->in_body)
		return feed_body(r, p, n, err);
	if (n == 0) {
		*err = r->raw.len ? "connection closed in the middle of the response head"
		                  : "connection closed with no response";
		return -EIO;
	}
	rc = fx_buf_append(&r->raw, p, n);
	if (rc == -E2BIG) {
		*err = "response head larger than 256 KiB";
		return -E2BIG;
	}
	if (rc < 0) {
		*err = "out of memory";
		return -ENOMEM;
	}
	return feed_head(r, err);
}

/* ---- the request ---- */

struct url {
	bool tls;
	char host[256];   /* without brackets */
	char port[6];     /* "80" by default */
	const char *auth; /* authority as written, for Host: */
	size_t auth_len;
	const char *target; /* path and query (fragment cut off), "/" when empty */
	size_t target_len;
};

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* 0 or -EINVAL. u points into s. */
static int url_parse(const char *s, struct url *u)
{
	const char *a, *end, *host, *hend, *port = NULL;
	size_t hlen;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "http://", 7) == 0) {
		a = s + 7;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		u->tls = true;
		a = s + 8;
	} else {
		return -EINVAL;
	}
	end = a + strcspn(a, "/?#");
	if (end == a || !printable(a, (size_t)(end - a)) || memchr(a, '@', (size_t)(end - a)))
		return -EINVAL; /* no host, or user info (pass user instead) */
	u->auth = a;
	u->auth_len = (size_t)(end - a);
	if (*a == '[') {
		host = a + 1;
		hend = memchr(host, ']', (size_t)(end - host));
		if (hend == NULL)
			return -EINVAL;
		if (hend + 1 < end) {
			if (hend[1] != ':')
				return -EINVAL;
			port = hend + 2;
		}
	} else {
		host = a;
		hend = memchr(a, ':', (size_t)(end - a));
		if (hend != NULL)
			port = hend + 1;
		else
			hend = end;
	}
	hlen = (size_t)(hend - host);
	if (hlen == 0 || hlen >= sizeof(u->host))
		return -EINVAL;
	memcpy(u->host, host, hlen);
	u->host[hlen] = '\0';
	if (port != NULL) {
		size_t plen = (size_t)(end - port);
		long v = 0;
		if (plen == 0 || plen > 5)
			return -EINVAL;
		for (size_t i = 0; i < plen; i++) {
			if (port[i] < '0' || port[i] > '9')
				return -EINVAL;
			v = v * 10 + (port[i] - '0');
		}
		if (v < 1 || v > 65535)
			return -EINVAL;
		snprintf(u->port, sizeof(u->port), "%ld", v);
	} else {
		snprintf(u->port, sizeof(u->port), "%s", u->tls ? "443" : "80");
	}
	u->target = end;
	u->target_len = strcspn(end, "#");
	if (!printable(u->target, u->target_len))
		return -EINVAL;
	if (u->target_len == 0 || u->target[0] == '?') {
		if (u->target_len != 0)
			return -EINVAL; /* "http://h?q": keep it simple, ask for "/?q" */
		u->target = "/";
		u->target_len = 1;
	}
	return 0;
}

static bool token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c) != NULL)
			return false;
	}
	return true;
}

/* The request head into b: 0, or -EINVAL with *err (a static string). */
static int request_head(const struct fx_http_req *req, const char *method, const struct url *u,
                        struct fx_buf *b, const char **err)
{
	bool accept = false;

	if (!token(method, strlen(method))) {
		*err = "invalid method";
		return -EINVAL;
	}
	fx_buf_appendf(b, "%s %.*s HTTP/1.1\r\nHost: %.*s\r\nConnection: close\r\n", method,
	               (int)u->target_len, u->target, (int)u->auth_len, u->auth);
	for (const char *const *h = req->headers; h != NULL && *h != NULL; h++) {
		const char *c = strchr(*h, ':'), *v;
		if (c == NULL || !token(*h, (size_t)(c - *h)) || strpbrk(*h, "\r\n") != NULL) {
			*err = "invalid request header";
			return -EINVAL;
		}
		v = c + 1 + strspn(c + 1, " \t");
		if (*v == '\0')
			continue;
		if ((size_t)(c - *h) == 6 && strncasecmp(*h, "Accept", 6) == 0)
			accept = true;
		fx_buf_appendf(b, "%s\r\n", *h);
	}
	if (!accept)
		fx_buf_puts(b, "Accept: */*\r\n");
	if (req->user != NULL) {
		if (strpbrk(req->user, "\r\n") != NULL) {
			*err = "invalid user";
			return -EINVAL;
		}
		fx_buf_puts(b, "Authorization: Basic ");
		fx_base64_encode(req->user, strlen(req->user), b);
		fx_buf_puts(b, "\r\n");
	}
	if (req->body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	    strcmp(method, "PATCH") == 0)
		fx_buf_appendf(b, "Content-Length: %zu\r\n", req->body ? req->body_len : 0);
	if (fx_buf_puts(b, "\r\n") < 0) {
		*err = "request head too large or out of memory";
		return -EINVAL;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline (-1: none): 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int ms = -1, n;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			ms = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* A non-blocking connect to one address: a connected fd or -errno. */
static int connect_addr(int family, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), e = 0, rc;
	socklen_t elen = sizeof(e);

	if (fd < 0)
		return -errno;
	if (connect(fd, sa, len) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EAGAIN) {
		rc = -errno;
		goto fail;
	}
	rc = wait_fd(fd, POLLOUT, deadline);
	if (rc < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0 || e != 0) {
		rc = e ? -e : -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return rc;
}

static int open_conn(const struct fx_http_req *req, const struct url *u, int64_t deadline)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int fd = -EHOSTUNREACH;

	if (req->unix_socket != NULL) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		size_t n = strlen(req->unix_socket);
		if (n == 0 || n >= sizeof(sun.sun_path))
			return -EINVAL;
		memcpy(sun.sun_path, req->unix_socket, n + 1);
		return connect_addr(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun), deadline);
	}
	if (getaddrinfo(u->host, u->port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
		fd = connect_addr(a->ai_family, a->ai_addr, a->ai_addrlen, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	return fd;
}

/* Sends head then body: 0 or -errno. */
static int send_all(int fd, const struct fx_buf *head, const struct fx_http_req *req,
                    int64_t deadline)
{
	struct iovec iov[2] = {
	    {.iov_base = head->data, .iov_len = head->len},
	    {.iov_base = (void *)(uintptr_t)req->body, .iov_len = req->body ? req->body_len : 0}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

	while (iov[0].iov_len + iov[1].iov_len > 0) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			int rc;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		for (int i = 0; i < 2; i++) {
			size_t k = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
			iov[i].iov_base = (char *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			n -= (ssize_t)k;
		}
		if (iov[0].iov_len == 0) {
			mh.msg_iov = &iov[1];
			mh.msg_iovlen = 1;
		}
	}
	return 0;
}

static const char *errno_text(int rc)
{
	switch (rc) {
	case -ETIMEDOUT:
		return "timed out";
	case -ECONNREFUSED:
		return "connection refused";
	case -ENOENT:
		return "no such socket";
	case -EHOSTUNREACH:
		return "host name not resolved";
	default:
		return strerror(-rc);
	}
}

int fx_http_do(const struct fx_http_req *req, struct fx_http_resp *resp, char **err)
{
	const char *method = req->method ? req->method : "GET", *why = NULL;
	const char *where = req->unix_socket ? req->unix_socket : req->url;
	int64_t start = now_ms(), deadline = -1, cdeadline;
	struct fx_http_reader rd;
	struct fx_buf head;
	struct url u;
	char buf[HTTPC_IO];
	int fd = -1, r;
	bool reach = false;

	*err = NULL;
	fx_http_resp_init(resp, req);
	if (req->url == NULL || url_parse(req->url, &u) < 0) {
		*err = fx_strdupf("%s %s: not an http:// or https:// URL", method,
		                  req->url ? req->url : "(null)");
		return -EINVAL;
	}
	if (u.tls) {
		if (fx_http_tls_do != NULL)
			return fx_http_tls_do(req, resp, err);
		*err =
		    fx_strdupf("%s %s: https is not available in this program", method, req->url);
		return -EPROTONOSUPPORT;
	}
	if (req->timeout_ms > 0)
		deadline = start + req->timeout_ms;
	cdeadline =
	    start + (req->connect_timeout_ms > 0 ? req->connect_timeout_ms : HTTPC_CONNECT_MS);
	if (deadline >= 0 && deadline < cdeadline)
		cdeadline = deadline;

	fx_buf_init(&head, 64u << 10);
	fx_http_reader_init(&rd, req, resp);
	r = request_head(req, method, &u, &head, &why);
	if (r < 0)
		goto out;
	fd = open_conn(req, &u, cdeadline);
	if (fd < 0) {
		r = fd;
		why = errno_text(r);
		reach = true;
		goto out;
	}
	r = send_all(fd, &head, req, deadline);
	/* A server may answer and close before reading the whole body (e.g. 413). */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
		why = errno_text(r);
		goto out;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				int64_t until = deadline;
				if (req->cancel != NULL && *req->cancel) {
					r = -ECANCELED;
					why = "cancelled";
					goto out;
				}
				if (req->cancel != NULL && (until < 0 || until > now_ms() + 500))
					until = now_ms() + 500;
				r = wait_fd(fd, POLLIN, until);
				if (r == -ETIMEDOUT && until != deadline)
					continue; /* a slice to look at *cancel */
				if (r < 0) {
					why = errno_text(r);
					goto out;
				}
				continue;
			}
			if (errno != ECONNRESET || rd.in_body) {
				r = -errno;
				why = errno_text(r);
				goto out;
			}
			n = 0; /* reset before any answer: as a close */
		}
		r = fx_http_reader_feed(&rd, buf, (size_t)n, &why);
		if (r != 0)
			break;
	}
	if (r > 0)
		r = 0;
out:
	if (r < 0 && reach)
		*err = fx_strdupf("%s %s: cannot reach %s: %s", method, req->url, where, why);
	else if (r < 0)
		*err = fx_strdupf("%s %s: %s", method, req->url, why ? why : "error");
	if (fd >= 0)
		close(fd);
	fx_http_reader_release(&rd);
	fx_buf_release(&head);
	return r;
}

void fx_http_resp_release(struct fx_http_resp *resp)
{
	if (resp == NULL)
		return;
	fx_buf_release(&resp->headers);
	fx_buf_release(&resp->body);
}

char *fx_http_resp_header(const struct fx_http_resp *resp, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = resp->headers.data;

	while (p != NULL && *p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
			const char *v = p + nlen + 1;
			const char *end = p + len;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == '\r' || end[-1] == ' '))
				end--;
			return strndup(v, (size_t)(end - v));
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}
