/* async_load: asynchronous calls at a steady rate, for bench/async.sh.
 *   async_load URL RATE SECONDS CALLBACK_URL PREFIX OUTFILE
 * POSTs "PREFIX-i" to URL RATE times a second for SECONDS (one keep-alive
 * connection, libcurl), each with X-Call-Id: PREFIX-i and X-Callback-Url, and
 * writes one line per call to OUTFILE:
 *   PREFIX-i <status> <answer received, ns since the epoch>
 * A call that takes longer than its slot delays the next ones (no burst to
 * catch up). Exit 0, or 2 on bad arguments, 1 when curl cannot start. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long rate, secs;
	FILE *out;
	CURL *c;
	char id[128], hid[160], hcb[2100], *end;

	if (argc != 7) {
		fprintf(stderr, "usage: async_load URL RATE SECONDS CALLBACK_URL PREFIX OUTFILE\n");
		return 2;
	}
	rate = strtol(argv[2], &end, 10);
	if (*end || rate < 1 || rate > 100000)
		return 2;
	secs = strtol(argv[3], &end, 10);
	if (*end || secs < 1 || secs > 3600 || strlen(argv[4]) > 2000 || strlen(argv[5]) > 80)
		return 2;
	out = fopen(argv[6], "we");
	if (!out || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c = curl_easy_init()))
		return 1;
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	snprintf(hcb, sizeof(hcb), "X-Callback-Url: %s", argv[4]);
	int64_t t0 = now_ns(CLOCK_MONOTONIC), step = 1000000000 / rate;
	long total = rate * secs;
	for (long i = 0; i < total; i++) {
		int64_t due = t0 + i * step, now = now_ns(CLOCK_MONOTONIC);
		if (due > now) {
			struct timespec ts = {(time_t)((due - now) / 1000000000),
			                      (long)((due - now) % 1000000000)};
			nanosleep(&ts, NULL);
		}
		snprintf(id, sizeof(id), "%s-%ld", argv[5], i);
		snprintf(hid, sizeof(hid), "X-Call-Id: %s", id);
		struct curl_slist *h = curl_slist_append(NULL, hid);
		struct curl_slist *h2 = h ? curl_slist_append(h, hcb) : NULL;
		if (!h2) {
			curl_slist_free_all(h);
			return 1;
		}
		h = curl_slist_append(h2, "Content-Type: text/plain");
		if (!h) {
			curl_slist_free_all(h2);
			return 1;
		}
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, id);
		long status = 0;
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		fprintf(out, "%s %ld %lld\n", id, status, (long long)now_ns(CLOCK_REALTIME));
		curl_slist_free_all(h);
	}
	fclose(out);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return 0;
}
