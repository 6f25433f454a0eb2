/* webhook-stash: a fork-mode function (the original proposal's example).
 * Stores each request body (STDIN) in a new timestamped file in the working
 * directory and says so on STDOUT:
 *   stored 42 bytes in 20261126T193605.123456Z-17.txt
 * Bodies over STASH_MAX bytes are refused (exit 1, nothing kept).
 * Exit codes: 0 stored, 1 runtime failure. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STASH_MAX (16u * 1024u * 1024u)

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies STDIN into fd; returns the byte count or a negative errno
 * (-EFBIG past STASH_MAX). */
static long long copy_body(int fd)
{
	char buf[65536];
	long long total = 0;
	for (;;) {
		ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return total;
		total += r;
		if (total > (long long)STASH_MAX)
			return -EFBIG;
		int rc = write_all(fd, buf, (size_t)r);
		if (rc < 0)
			return rc;
	}
}

int main(void)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32], name[96];

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm) ||
	    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm) == 0) {
		fputs("webhook-stash: cannot read the clock\n", stderr);
		return 1;
	}
	/* The pid makes two requests in the same microsecond distinct. */
	int n = snprintf(name, sizeof name, "%s.%06ldZ-%ld.txt", stamp, ts.tv_nsec / 1000L,
	                 (long)getpid());
	if (n < 0 || (size_t)n >= sizeof name)
		return 1;

	int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		fprintf(stderr, "webhook-stash: create %s: %s\n", name, strerror(errno));
		return 1;
	}
	long long got = copy_body(fd);
	if (got < 0 || fsync(fd) != 0) {
		fprintf(stderr, "webhook-stash: store %s: %s\n", name,
		        got < 0 ? strerror((int)-got) : strerror(errno));
		close(fd);
		unlink(name);
		return 1;
	}
	if (close(fd) != 0) {
		fprintf(stderr, "webhook-stash: close %s: %s\n", name, strerror(errno));
		unlink(name);
		return 1;
	}
	printf("stored %lld bytes in %s\n", got, name);
	return fflush(stdout) == 0 ? 0 : 1;
}
