/* watch.c: a generation number of the state the controller serves, bumped
 * by every Docker event about services and configs and by every write of
 * ours, so a reader (the gateways' function list) can wait for a change
 * rather than ask again and again: with 200 functions each list costs
 * Docker a list of configs and services and the controller a parse of every
 * spec. Task states have no events: a waiting reader hears of them only at
 * its timeout. */
#include "controller.h"

#include <pthread.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint64_t gen;
static bool stopped;

static void init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC); /* a wall-clock jump does not bend waits */
	pthread_cond_init(&cv, &a);
	pthread_condattr_destroy(&a);
	/* From the wall clock: a reader that kept a generation from before a
	 * restart of the controller does not find it again here. */
	gen = fx_wall_ns() / 1000000u;
}

uint64_t watch_gen(void)
{
	uint64_t g;
	pthread_once(&once, init);
	pthread_mutex_lock(&mu);
	g = gen;
	pthread_mutex_unlock(&mu);
	return g;
}

void watch_changed(void)
{
	pthread_once(&once, init);
	pthread_mutex_lock(&mu);
	gen++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

uint64_t watch_wait(uint64_t seen, int64_t max_ms)
{
	struct timespec ts;
	uint64_t g;

	pthread_once(&once, init);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += max_ms / 1000;
	ts.tv_nsec += (max_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&mu);
	while (gen == seen && !stopped && pthread_cond_timedwait(&cv, &mu, &ts) == 0)
		;
	g = gen;
	pthread_mutex_unlock(&mu);
	return g;
}

void watch_stop(void)
{
	pthread_once(&once, init);
	pthread_mutex_lock(&mu);
	stopped = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}
