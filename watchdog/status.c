/* status.c: which requests run and what a process's end means to the client.
 * Pure: no I/O. */
#include "watchdog.h"

#include <string.h>
#include <sys/wait.h>

const double wd_buckets[WD_NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5,   10};

bool wd_method_allowed(const char *m)
{
	static const char *const ok[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

	if (m == NULL)
		return false;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(m, ok[i]) == 0)
			return true;
	return false;
}

int wd_status_for_exit(int wstatus, bool timed_out)
{
	/* exec_timeout wins: the group was killed by us, whatever the status says.
	 * 504 (not the classic watchdog's 503 or 408): the function did not answer
	 * in time, and a gateway in front treats it like an upstream timeout. */
	if (timed_out)
		return 504;
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
		return 200;
	return 500;
}
