/* child.c: a function process in its own process group, its three pipes, and
 * its end. Every descriptor is O_CLOEXEC so concurrent spawns never leak one
 * into another child; the leader is watched through a pidfd so no SIGCHLD
 * handler is needed and every child is reaped by the thread that started it. */
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

void wd_child_init(struct wd_child *c)
{
	memset(c, 0, sizeof(*c));
	c->in = c->out = c->err = c->pidfd = -1;
}

static void closefd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int wd_child_spawn(struct wd_child *c, const char *path, char *const *argv, char *const *env,
                   bool combine, bool io_stdio)
{
	int inp[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	pid_t pid;
	int r;

	wd_child_init(c);
	if (!io_stdio) {
		if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 ||
		    (!combine && pipe2(errp, O_CLOEXEC) < 0)) {
			r = -errno;
			goto out_pipes;
		}
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if (io_stdio) {
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	} else {
		posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
		posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
		posix_spawn_file_actions_adddup2(&fa, combine ? outp[1] : errp[1], 2);
	}
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                  POSIX_SPAWN_SETSIGDEF);
	/* A path found once at start saves an execve per PATH entry per request. */
	if (path != NULL)
		r = -posix_spawn(&pid, path, &fa, &at, argv, env);
	else
		r = -posix_spawnp(&pid, argv[0], &fa, &at, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r < 0)
		goto out_pipes;
	c->pid = pid;
	c->pidfd = pidfd_open(pid, 0);
	if (!io_stdio) {
		close(inp[0]);
		close(outp[1]);
		closefd(&errp[1]);
		c->in = inp[1];
		c->out = outp[0];
		c->err = errp[0];
		nonblock(c->in);
		nonblock(c->out);
		if (c->err >= 0)
			nonblock(c->err);
	}
	return 0;
out_pipes:
	closefd(&inp[0]);
	closefd(&inp[1]);
	closefd(&outp[0]);
	closefd(&outp[1]);
	closefd(&errp[0]);
	closefd(&errp[1]);
	return r;
}

/* Once the leader has exited, the rest of its group goes too: output written
 * so far stays readable in the pipes, and a background process left holding
 * them can no longer keep the request open. */
static void leader_exited(struct wd_child *c)
{
	c->exited = true;
	if (c->pid > 0 && !c->reaped)
		kill(-c->pid, SIGKILL);
}

/* Reads what fd has into b (or discards it past the cap); closes it at end. */
static void drain(int *fd, struct fx_buf *b, bool *over)
{
	char tmp[8192];

	for (int k = 0; k < 64; k++) {
		ssize_t r = read(*fd, tmp, sizeof(tmp));
		if (r > 0) {
			if (b != NULL && fx_buf_append(b, tmp, (size_t)r) < 0 && over != NULL)
				*over = true;
			if ((size_t)r < sizeof(tmp))
				return;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		closefd(fd); /* end, or an error that will not go away */
		return;
	}
}

static int poll_timeout(int64_t deadline_ms)
{
	int64_t left;

	if (deadline_ms == 0)
		return -1;
	left = deadline_ms - fx_now_ms();
	if (left <= 0)
		return 0;
	return left > 60000 ? 60000 : (int)left;
}

/* Waits until stdin can take bytes (want_in), stdout has some, the client
 * hangs up or the deadline passes; meanwhile stderr is drained into err and
 * the leader's exit is noted. 0 (see *in_ready and *out_ready; both may be
 * false), WD_PUMP_TIMEOUT, WD_PUMP_CLIENT_GONE or a negative errno. */
static int child_wait(struct wd_child *c, bool want_in, int client_fd, int64_t deadline_ms,
                      struct fx_buf *err, bool *in_ready, bool *out_ready)
{
	for (;;) {
		struct pollfd p[5];
		int np = 0, iin = -1, iout = -1, ierr = -1, icl = -1, ipid = -1, t, r;

		if (c->in >= 0 && want_in) {
			iin = np;
			p[np++] = (struct pollfd){.fd = c->in, .events = POLLOUT};
		}
		if (c->out >= 0) {
			iout = np;
			p[np++] = (struct pollfd){.fd = c->out, .events = POLLIN};
		}
		if (c->err >= 0) {
			ierr = np;
			p[np++] = (struct pollfd){.fd = c->err, .events = POLLIN};
		}
		if (client_fd >= 0) {
			icl = np;
			p[np++] = (struct pollfd){.fd = client_fd, .events = POLLRDHUP};
		}
		if (c->pidfd >= 0 && !c->exited) {
			ipid = np;
			p[np++] = (struct pollfd){.fd = c->pidfd, .events = POLLIN};
		}
		t = poll_timeout(deadline_ms);
		if (t == 0)
			return WD_PUMP_TIMEOUT;
		r = poll(p, (nfds_t)np, t);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue; /* re-checks the deadline */
		if (icl >= 0 && (p[icl].revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return WD_PUMP_CLIENT_GONE;
		if (ierr >= 0 && p[ierr].revents)
			drain(&c->err, err, NULL);
		if (ipid >= 0 && (p[ipid].revents & POLLIN))
			leader_exited(c);
		*in_ready = iin >= 0 && p[iin].revents != 0;
		*out_ready = iout >= 0 && p[iout].revents != 0;
		return 0;
	}
}

int wd_child_pump(struct wd_child *c, const char *in, size_t n, bool finish, struct fx_buf *out,
                  struct fx_buf *err, bool *over, int64_t deadline_ms, int client_fd)
{
	size_t off = 0;

	if (finish)
		closefd(&c->in);
	for (;;) {
		bool in_ready, out_ready;
		int rc;

		if (c->in < 0)
			off = n; /* the child closed its stdin: the rest is not wanted */
		if (!finish && off >= n)
			return 0;
		if (finish && c->out < 0 && c->err < 0)
			return 0;
		rc = child_wait(c, off < n, client_fd, deadline_ms, err, &in_ready, &out_ready);
		if (rc < 0)
			return rc;
		if (in_ready) {
			ssize_t w = write(c->in, in + off, n - off);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				closefd(&c->in); /* EPIPE: it stopped reading */
		}
		if (out_ready)
			drain(&c->out, out, over);
	}
}

ssize_t wd_child_read(struct wd_child *c, char *buf, size_t max, struct fx_buf *err,
                      int64_t deadline_ms, int client_fd)
{
	closefd(&c->in);
	for (;;) {
		bool in_ready, out_ready;
		int rc;
		ssize_t n;

		if (c->out < 0)
			return 0;
		rc = child_wait(c, false, client_fd, deadline_ms, err, &in_ready, &out_ready);
		if (rc < 0)
			return rc;
		if (!out_ready)
			continue;
		n = read(c->out, buf, max);
		if (n > 0)
			return n;
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			closefd(&c->out);
			return 0;
		}
	}
}

static void reap(struct wd_child *c)
{
	int st = 0;

	if (c->pid <= 0 || c->reaped)
		return;
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	c->wstatus = st;
	c->reaped = true;
}

static void close_all(struct wd_child *c)
{
	closefd(&c->in);
	closefd(&c->out);
	closefd(&c->err);
	closefd(&c->pidfd);
}

int wd_child_finish(struct wd_child *c, int64_t deadline_ms, int *wstatus)
{
	closefd(&c->in);
	closefd(&c->out);
	closefd(&c->err);
	while (c->pid > 0 && !c->exited && c->pidfd >= 0) {
		struct pollfd p = {.fd = c->pidfd, .events = POLLIN};
		int t = poll_timeout(deadline_ms), r;
		if (t == 0) {
			c->killed = true;
			break;
		}
		r = poll(&p, 1, t);
		if (r > 0)
			c->exited = true;
		else if (r < 0 && errno != EINTR)
			break;
	}
	if (c->pid > 0 && !c->reaped)
		kill(-c->pid, SIGKILL); /* the leader is at most a zombie: the group id is safe */
	reap(c);
	close_all(c);
	if (c->killed)
		return WD_PUMP_TIMEOUT;
	*wstatus = c->wstatus;
	return 0;
}

void wd_child_kill(struct wd_child *c)
{
	if (c->pid > 0 && !c->reaped) {
		kill(-c->pid, SIGKILL);
		c->killed = true;
	}
	reap(c);
	close_all(c);
}
