/* upstream.c: non-blocking sockets driven with poll(2) and deadlines. While
 * waiting on a replica, the client's socket is watched too, so a client that
 * hangs up aborts the upstream request. */
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

int gw_connect(const struct sockaddr *sa, socklen_t len, int64_t timeout_ms)
{
	int one = 1, fd, err = 0;
	socklen_t elen = sizeof(err);
	struct pollfd p;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, len) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		err = errno;
		close(fd);
		return -err;
	}
	p.fd = fd;
	p.events = POLLOUT;
	int r;
	do
		r = poll(&p, 1, (int)timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		close(fd);
		return -ETIMEDOUT;
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		err = errno;
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

/* Waits until fd is ready for events; 0, -ETIMEDOUT or -ECONNABORTED (client gone). */
static int wait_fd(int fd, short events, int64_t timeout_ms, int client_fd)
{
	struct pollfd p[2] = {{.fd = fd, .events = events},
	                      {.fd = client_fd, .events = POLLRDHUP}};
	nfds_t n = client_fd >= 0 ? 2 : 1;
	int64_t deadline = gw_now_ms() + timeout_ms;

	for (;;) {
		int64_t left = deadline - gw_now_ms();
		if (left < 0)
			left = 0;
		int r = poll(p, n, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (n == 2 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return -ECONNABORTED;
		if (p[0].revents)
			return 0;
		if (r == 0 || left == 0)
			return -ETIMEDOUT;
	}
}

int gw_write_all(int fd, const void *buf, size_t n, int64_t timeout_ms, int client_fd)
{
	return gw_write_more(fd, buf, n, timeout_ms, client_fd, false);
}

int gw_write_more(int fd, const void *buf, size_t n, int64_t timeout_ms, int client_fd, bool more)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -errno;
		int r = wait_fd(fd, POLLOUT, timeout_ms, client_fd);
		if (r < 0)
			return r;
	}
	return 0;
}

ssize_t gw_read(int fd, void *buf, size_t n, int64_t timeout_ms, int client_fd)
{
	for (;;) {
		ssize_t r = recv(fd, buf, n, 0);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int w = wait_fd(fd, POLLIN, timeout_ms, client_fd);
		if (w < 0)
			return w;
	}
}

bool gw_conn_alive(int fd)
{
	char c;
	ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
