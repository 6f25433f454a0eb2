/* Mutation fuzzing of the gateway's parsers of untrusted input, replayed
 * deterministically under ASan + UBSan: response heads and chunked bodies
 * (from replicas), request targets, Alexa bodies, Authorization headers and
 * the static table. Checks that nothing crashes and that results stay in bounds. */
#include "../fx_test.h"
#include "gateway/gateway.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ITER 4000

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Copies seed into buf with a few random edits; returns the length. */
static size_t mutate(const char *seed, char *buf, size_t cap)
{
	size_t n = strlen(seed);
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, seed, n);
	int edits = 1 + (int)(next_rand() % 6);
	for (int e = 0; e < edits; e++) {
		size_t pos = n ? next_rand() % n : 0;
		switch (next_rand() % 5) {
		case 0: /* flip a byte */
			if (n)
				buf[pos] = (char)(next_rand() & 0xff);
			break;
		case 1: /* insert an interesting byte */
			if (n + 1 < cap) {
				static const char bytes[] = "\r\n:;=,/\\%0Ff \t\"{}[]";
				memmove(buf + pos + 1, buf + pos, n - pos);
				buf[pos] = bytes[next_rand() % (sizeof(bytes) - 1)];
				n++;
			}
			break;
		case 2: /* truncate */
			n = pos;
			break;
		case 3: /* duplicate a slice */
			if (n && n * 2 < cap) {
				size_t len = next_rand() % (n - pos + 1);
				memmove(buf + pos + len, buf + pos, n - pos);
				n += len;
			}
			break;
		default: /* delete a byte */
			if (n) {
				memmove(buf + pos, buf + pos + 1, n - pos - 1);
				n--;
			}
		}
	}
	buf[n] = '\0';
	return n;
}

START_TEST(fuzz_resp_head)
{
	static const char *seeds[] = {
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: "
	    "close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	    "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\n",
	    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
	};
	char buf[4096];
	struct fx_http1_head h;
	for (int i = 0; i < ITER; i++) {
		size_t n = mutate(seeds[i % 4], buf, sizeof(buf));
		int rc = fx_http1_head_parse(buf, n, i % 7 == 0, &h);
		if (rc == 0) {
			ck_assert_uint_le(h.head_len, n);
			ck_assert_uint_le(h.nhdr, FX_HTTP1_MAX_HEADERS);
			ck_assert_int_ge(h.status, 100);
			ck_assert_int_le(h.status, 999);
			for (size_t k = 0; k < h.nhdr; k++)
				ck_assert(h.hdr[k].name >= buf && h.hdr[k].value < buf + n + 1);
		}
	}
}
END_TEST

START_TEST(fuzz_chunked)
{
	static const char *seeds[] = {
	    "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
	    "A\r\n0123456789\r\n0\r\n\r\n",
	    "1\r\nx\r\n1\r\ny\r\n0\r\n\r\n",
	};
	char buf[1024], out[64];
	for (int i = 0; i < ITER; i++) {
		size_t n = mutate(seeds[i % 3], buf, sizeof(buf)), off = 0, total = 0;
		struct fx_http1_chunked c = {0};
		int st = 0;
		for (int guard = 0; st == 0 && off < n && guard < 10000; guard++) {
			size_t step = 1 + next_rand() % 16, used = 0, made = 0;
			if (step > n - off)
				step = n - off;
			st = fx_http1_chunked_decode(&c, buf + off, step, &used, out,
			                             1 + next_rand() % sizeof(out), &made);
			ck_assert_uint_le(used, step);
			ck_assert_uint_le(made, sizeof(out));
			off += used;
			total += made;
		}
		ck_assert_uint_le(total, n);
	}
}
END_TEST

static int count_add(const struct gw_static_fn *fn, void *arg)
{
	ck_assert(gw_name_valid(fn->name, strlen(fn->name)));
	ck_assert_uint_le(fn->naddr, 16);
	(*(int *)arg)++;
	return 0;
}

START_TEST(fuzz_request_side)
{
	static const char *targets[] = {"/function/echo/a/b?x=1", "/ui/app.js", "/system/functions",
	                                "/function/a-b-c?q=%20"};
	static const char *alexa =
	    "{\"request\":{\"type\":\"IntentRequest\",\"intent\":{\"name\":\"WordCount\"}}}";
	static const char *auth = "Basic YWRtaW46c2VjcmV0";
	static const char *table = "echo=127.0.0.1:3001,127.0.0.1:3002;wc=127.0.0.1:3003\n# c\nx=";
	char buf[2048], name[GW_NAME_MAX + 1];
	struct gw_route r;

	for (int i = 0; i < ITER; i++) {
		mutate(targets[i % 4], buf, sizeof(buf));
		gw_route_parse(i % 2 ? "GET" : "POST", buf, i % 5 ? NULL : "echo", &r);
		if (r.kind == GW_ROUTE_FUNCTION)
			ck_assert(gw_name_valid(r.name, strlen(r.name)));
		size_t n = mutate(alexa, buf, sizeof(buf));
		if (gw_alexa_intent(buf, n, name) == 0)
			ck_assert(gw_name_valid(name, strlen(name)));
		mutate(auth, buf, sizeof(buf));
		gw_basic_auth_ok(buf, "admin", "secret");
		mutate(table, buf, sizeof(buf));
		char *err = NULL;
		int count = 0;
		if (gw_static_parse(buf, count_add, &count, &err) < 0)
			free(err);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gateway_fuzz");
	TCase *t = tcase_create("fuzz");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, fuzz_resp_head);
	tcase_add_test(t, fuzz_chunked);
	tcase_add_test(t, fuzz_request_side);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
