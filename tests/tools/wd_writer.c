/* wd_writer: writes to STDOUT for the watchdog's tests.
 *   wd_writer MIB          MIB mebibytes of 'x' as fast as the pipe takes them
 *   wd_writer slow         "first\n", a 2 s pause, "second\n"
 *   wd_writer stderr CODE  "out\n" to STDOUT, "err\n" to STDERR, exits CODE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int put(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char block[65536];

	if (argc >= 2 && strcmp(argv[1], "slow") == 0) {
		put(1, "first\n", 6);
		sleep(2);
		put(1, "second\n", 7);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "stderr") == 0) {
		put(1, "out\n", 4);
		put(2, "err\n", 4);
		return (int)strtol(argv[2], NULL, 10);
	}
	if (argc < 2)
		return 2;
	long mib = strtol(argv[1], NULL, 10);
	memset(block, 'x', sizeof(block));
	for (long i = 0; i < mib * 16; i++)
		if (put(1, block, sizeof(block)) < 0)
			return 1;
	return 0;
}
