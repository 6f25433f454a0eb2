/* wd_upstream: a small keep-alive HTTP/1.1 server for fwatchdog's http-mode
 * tests and benchmark (a thread per connection).
 *   wd_upstream PORT
 * Routes:  GET /            200 "hello\n"
 *          POST /echo       the body back (Content-Length or chunked request)
 *          GET /headers     the request head back
 *          GET /chunked     a chunked answer "one,two,three"
 *          GET /close       a body delimited by closing the connection
 *          GET /sleep       answers after 2 s
 *          GET /big         8 MiB of 'x'
 *          GET /status/NNN  status NNN
 *          GET /exit        exits the process (exit 3) without answering
 *          GET /continue    "100 Continue" and the final answer in one write
 *          GET /cookies     WWW-Authenticate, Set-Cookie (Path=/ui/, /,
 *                           /function/fx) and Clear-Site-Data
 * Every loop is bounded by what the peer sends; errors close the connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 65536

static char big[1 << 20]; /* 'x' * 1 MiB, filled once in main */

static int put(int fd, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

struct conn {
	int fd;
	char buf[HEAD_MAX];
	size_t len;
};

/* Reads until the buffer holds at least n bytes; -1 on end. */
static int need(struct conn *c, size_t n)
{
	while (c->len < n) {
		ssize_t r;
		if (n > sizeof(c->buf))
			return -1;
		r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
	return 0;
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

static int reply(int fd, int code, const char *ctype, const char *body, size_t n, bool close_)
{
	char h[256];
	int k = snprintf(h, sizeof(h),
	                 "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n", code,
	                 ctype, n, close_ ? "Connection: close\r\n" : "");
	if (put(fd, h, (size_t)k) < 0)
		return -1;
	return n ? put(fd, body, n) : 0;
}

/* Reads a body of n bytes (or chunked when n < 0) into *out (malloc'd). */
static long read_body(struct conn *c, long n, char **out)
{
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap);

	if (b == NULL)
		return -1;
	if (n >= 0) {
		while (len < (size_t)n) {
			size_t k;
			if (c->len == 0 && need(c, 1) < 0)
				goto fail;
			k = c->len < (size_t)n - len ? c->len : (size_t)n - len;
			if (len + k > cap) {
				while (len + k > cap)
					cap *= 2;
				char *nb = realloc(b, cap);
				if (nb == NULL)
					goto fail;
				b = nb;
			}
			memcpy(b + len, c->buf, k);
			len += k;
			consume(c, k);
		}
		*out = b;
		return (long)len;
	}
	for (;;) {
		char *nl;
		size_t sz;
		while ((nl = memchr(c->buf, '\n', c->len)) == NULL)
			if (need(c, c->len + 1) < 0)
				goto fail;
		sz = strtoul(c->buf, NULL, 16);
		consume(c, (size_t)(nl - c->buf) + 1);
		if (sz == 0) {
			while ((nl = memchr(c->buf, '\n', c->len)) == NULL)
				if (need(c, c->len + 1) < 0)
					goto fail;
			consume(c, (size_t)(nl - c->buf) + 1);
			break;
		}
		if (need(c, sz + 2 > sizeof(c->buf) ? sizeof(c->buf) : sz + 2) < 0)
			goto fail;
		while (sz > 0) {
			size_t k = c->len < sz ? c->len : sz;
			if (k == 0 && need(c, 1) < 0)
				goto fail;
			if (len + k > cap) {
				while (len + k > cap)
					cap *= 2;
				char *nb = realloc(b, cap);
				if (nb == NULL)
					goto fail;
				b = nb;
			}
			memcpy(b + len, c->buf, k);
			len += k;
			sz -= k;
			consume(c, k);
		}
		if (need(c, 2) < 0)
			goto fail;
		consume(c, 2);
	}
	*out = b;
	return (long)len;
fail:
	free(b);
	return -1;
}

static void *serve(void *arg)
{
	struct conn *c = arg;

	for (;;) {
		char *end, method[16] = "", path[1024] = "", *body = NULL;
		long clen = 0, blen;
		bool chunked = false, close_ = false;
		size_t hl;

		while ((end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL) == NULL)
			if (need(c, c->len + 1) < 0)
				goto out;
		hl = (size_t)(end - c->buf) + 4;
		c->buf[hl - 2] = '\0';
		if (sscanf(c->buf, "%15s %1023s", method, path) != 2)
			goto out;
		path[strcspn(path, "?")] = '\0'; /* route on the path alone */
		for (char *l = strstr(c->buf, "\r\n"); l != NULL; l = strstr(l + 2, "\r\n")) {
			if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
				clen = strtol(l + 17, NULL, 10);
			if (strncasecmp(l + 2, "Transfer-Encoding: chunked", 26) == 0)
				chunked = true;
			if (strncasecmp(l + 2, "Connection: close", 17) == 0)
				close_ = true;
		}
		char *head = strndup(c->buf, hl - 2);
		consume(c, hl);
		blen = read_body(c, chunked ? -1 : clen, &body);
		if (blen < 0 || head == NULL) {
			free(head);
			goto out;
		}
		int rc = 0;
		if (strcmp(path, "/echo") == 0) {
			rc = reply(c->fd, 200, "application/octet-stream", body, (size_t)blen,
			           close_);
		} else if (strcmp(path, "/headers") == 0) {
			rc = reply(c->fd, 200, "text/plain", head, strlen(head), close_);
		} else if (strcmp(path, "/chunked") == 0) {
			static const char ch[] =
			    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			    "Transfer-Encoding: chunked\r\nX-Up: 1\r\n\r\n"
			    "4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n";
			rc = put(c->fd, ch, sizeof(ch) - 1);
		} else if (strcmp(path, "/close") == 0) {
			static const char cl[] =
			    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close";
			put(c->fd, cl, sizeof(cl) - 1);
			rc = -1;
		} else if (strcmp(path, "/continue") == 0) {
			/* an interim answer and the final one in a single write */
			static const char co[] = "HTTP/1.1 100 Continue\r\n\r\n"
			                         "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
			                         "continued\n";
			rc = put(c->fd, co, sizeof(co) - 1);
		} else if (strcmp(path, "/cookies") == 0) {
			/* headers that would act on the gateway's own UI and API */
			static const char ck[] =
			    "HTTP/1.1 200 OK\r\nWWW-Authenticate: Basic realm=\"faas\"\r\n"
			    "Set-Cookie: ui=1; Path=/ui/\r\nSet-Cookie: root=1; Path=/\r\n"
			    "Set-Cookie: mine=1; Path=/function/fx; HttpOnly\r\n"
			    "Clear-Site-Data: \"*\"\r\nX-Kept: 1\r\nContent-Length: "
			    "8\r\n\r\ncookies\n";
			rc = put(c->fd, ck, sizeof(ck) - 1);
		} else if (strcmp(path, "/sleep") == 0) {
			sleep(2);
			rc = reply(c->fd, 200, "text/plain", "slept\n", 6, close_);
		} else if (strcmp(path, "/big") == 0) {
			char h[128];
			int k = snprintf(h, sizeof(h),
			                 "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 8 << 20);
			rc = put(c->fd, h, (size_t)k);
			for (int i = 0; i < 8 && rc == 0; i++)
				rc = put(c->fd, big, sizeof(big));
		} else if (strncmp(path, "/status/", 8) == 0) {
			rc = reply(c->fd, (int)strtol(path + 8, NULL, 10), "text/plain", "status\n",
			           7, close_);
		} else if (strcmp(path, "/exit") == 0) {
			_exit(3);
		} else {
			rc = reply(c->fd, 200, "text/plain", "hello\n", 6, close_);
		}
		free(head);
		free(body);
		if (rc < 0 || close_)
			goto out;
	}
out:
	close(c->fd);
	free(c);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int ls, one = 1;
	pthread_attr_t at;

	if (argc < 2)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	memset(big, 'x', sizeof(big));
	a.sin_port = htons((uint16_t)strtoul(argv[1], NULL, 10));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1024) < 0) {
		perror("wd_upstream");
		return 1;
	}
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 256 << 10);
	for (;;) {
		int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;
		struct conn *c;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		if (pthread_create(&t, &at, serve, c) != 0) {
			close(fd);
			free(c);
		}
	}
}
