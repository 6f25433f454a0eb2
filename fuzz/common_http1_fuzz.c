/* What a function replica answers (untrusted: functions are user code):
 * fx_http1_head_parse on the head, then fx_http1_chunked_decode on the rest, fed in
 * small pieces into a small buffer as proxy.c does. */
#include "fuzz.h"
#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1), out[7];
	struct fx_http1_head h;
	struct fx_http1_chunked c = {0};
	size_t off = 0;
	bool head_req = size > 0 && (data[0] & 1);

	FZ_ASSERT(buf != NULL);
	if (size > 0)
		memcpy(buf, data, size);
	if (fx_http1_head_parse(buf, size, head_req, &h) == 0) {
		FZ_ASSERT(h.head_len > 0 && h.head_len <= size);
		FZ_ASSERT(h.nhdr <= FX_HTTP1_MAX_HEADERS);
		FZ_ASSERT(h.status >= 100 && h.status <= 999);
		off = h.head_len;
	}
	/* Chunked body: pieces of up to 5 bytes, output of 7 bytes at a time. */
	for (int guard = 0; off < size && guard < 1 << 20; guard++) {
		size_t in = size - off < 5 ? size - off : 5, used = 0, made = 0;
		int rc = fx_http1_chunked_decode(&c, (const char *)data + off, in, &used, out,
		                                 sizeof(out), &made);
		if (rc < 0)
			break;
		FZ_ASSERT(used <= in && made <= sizeof(out));
		off += used;
		if (rc == 1)
			break;
		if (used == 0 && made == 0)
			break; /* needs more than this piece holds: done with this input */
	}
	free(buf);
	return 0;
}
