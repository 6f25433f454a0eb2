/* upstream.c: small helpers for sockets to replicas. */
#include "gateway.h"

#include <errno.h>
#include <sys/socket.h>

bool gw_conn_alive(int fd)
{
	char c;
	ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
