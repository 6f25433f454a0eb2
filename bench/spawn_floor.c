/* spawn_floor: the fastest this machine can run `cat` per request, the way
 * fwatchdog's fork mode does it (posix_spawnp into its own process group,
 * O_CLOEXEC pipes, cat's path found on PATH once, write the body, read
 * STDOUT to the end, reap), with no
 * HTTP at all. bench/watchdog.sh compares fwatchdog against it at the same
 * concurrency.
 *   spawn_floor THREADS SECONDS [BODY]
 * Prints: floor_rps=N p50_ms=N p99_ms=N n=N */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_SAMPLES 2000000

static double *samples;
static size_t nsamples;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const char *body = "hello";
static const char *cat_path = "/bin/cat"; /* found on PATH once, as fwatchdog does */
static double end_at;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one(void)
{
	char *const argv[] = {(char *)(uintptr_t) "cat", NULL};
	int in[2], out[2], st;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	pid_t pid;
	char buf[16384];
	size_t n = strlen(body);
	ssize_t r;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	r = posix_spawn(&pid, cat_path, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(in[0]);
	close(out[1]);
	if (r != 0) {
		close(in[1]);
		close(out[0]);
		return -1;
	}
	if (write(in[1], body, n) != (ssize_t)n)
		r = -1;
	close(in[1]);
	while ((r = read(out[0], buf, sizeof(buf))) > 0)
		;
	close(out[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return 0;
}

static void *worker(void *arg)
{
	(void)arg;
	while (now() < end_at) {
		double t0 = now();
		if (one() < 0)
			continue;
		double dt = now() - t0;
		pthread_mutex_lock(&mu);
		if (nsamples < MAX_SAMPLES)
			samples[nsamples++] = dt;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long threads, secs;
	pthread_t t[256];
	double t0, el;

	if (argc < 3)
		return 2;
	threads = strtol(argv[1], NULL, 10);
	secs = strtol(argv[2], NULL, 10);
	if (argc > 3)
		body = argv[3];
	if (threads < 1 || threads > 256 || secs < 1)
		return 2;
	{
		static char found[4096];
		const char *p = getenv("PATH");
		while (p != NULL && *p != '\0') {
			const char *e = strchr(p, ':');
			int dl = e ? (int)(e - p) : (int)strlen(p);
			snprintf(found, sizeof(found), "%.*s/cat", dl, p);
			if (access(found, X_OK) == 0) {
				cat_path = found;
				break;
			}
			p = e ? e + 1 : NULL;
		}
	}
	samples = malloc(sizeof(*samples) * MAX_SAMPLES);
	if (samples == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	t0 = now();
	end_at = t0 + (double)secs;
	for (long i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (long i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	el = now() - t0;
	qsort(samples, nsamples, sizeof(*samples), cmp);
	printf("floor_rps=%.0f p50_ms=%.3f p99_ms=%.3f n=%zu\n", (double)nsamples / el,
	       nsamples ? samples[nsamples / 2] * 1000 : 0,
	       nsamples ? samples[nsamples * 99 / 100] * 1000 : 0, nsamples);
	free(samples);
	return 0;
}
