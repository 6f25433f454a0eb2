/* What the controller reads from Docker and faasctl from the gateway:
 * fx_http_reader_feed (common/httpc.c), the response reader of fx_http_do,
 * over an HTTP/1.1 response cut into pieces, then the end of the connection.
 * The first byte picks the piece size, HEAD or not, and streaming (on_data)
 * or buffered into a 64-byte capped body. */
#include "fuzz.h"
#include "httpc.h"

#include <errno.h>

static int sink(const char *p, size_t n, void *arg)
{
	size_t *got = arg;
	FZ_ASSERT(p != NULL && n > 0);
	*got += n;
	return *got > 4096; /* a stream that stops itself */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t got = 0, piece, off = 1;
	struct fx_http_req req = {.max_response = 64};
	struct fx_http_resp resp;
	struct fx_http_reader r;
	const char *why = NULL;
	int rc = 0;

	if (size == 0)
		return 0;
	piece = (size_t)(data[0] & 15) + 1;
	if (data[0] & 16)
		req.method = "HEAD";
	if (data[0] & 32) {
		req.on_data = sink;
		req.arg = &got;
	}
	fx_http_resp_init(&resp, &req);
	fx_http_reader_init(&r, &req, &resp);
	while (rc == 0) {
		size_t n = size - off < piece ? size - off : piece;
		rc = fx_http_reader_feed(&r, (const char *)data + off, n, &why);
		off += n;
		if (n == 0)
			break; /* the end of the connection was fed */
	}
	FZ_ASSERT(rc == 0 || rc == 1 || rc == -EIO || rc == -E2BIG || rc == -ENOMEM);
	FZ_ASSERT(rc >= 0 || why != NULL);
	FZ_ASSERT(resp.body.len <= 64 && resp.headers.len <= FX_HTTP_HEAD_MAX);
	if (req.on_data != NULL)
		FZ_ASSERT(resp.body.len == 0);
	if (rc == 1 && resp.status != 0)
		FZ_ASSERT(resp.status >= 200 && resp.status <= 999 && resp.headers.len > 0);
	fx_http_reader_release(&r);
	fx_http_resp_release(&resp);
	return 0;
}
