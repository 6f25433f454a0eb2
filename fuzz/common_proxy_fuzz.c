/* The exchange's answer side (common/proxy.c), fed what an upstream sends
 * (untrusted: functions are user code): interim 1xx heads, the final head
 * (hop-by-hop rule, the program's header filter), then the body in pieces as
 * recv() would return them, taken by the body reader into a small buffer.
 * Byte 0 chooses: bit 0 a HEAD request, bit 1 collect the body whole (the
 * gateway's function lists), bits 2-7 the piece size. */
#include "fuzz.h"
#include "proxy.h"

static int freed;
static bool collect;

static void f_failed(struct fx_px *x, int err, bool connecting)
{
	(void)err;
	(void)connecting;
	fx_px_fail(x, 502, "failed");
}

static enum fx_px_verdict f_head(struct fx_px *x, const struct fx_http1_head *h)
{
	FZ_ASSERT(h->status >= 200 && h->status <= 999);
	FZ_ASSERT(h->head_len > 0 && h->head_len <= x->ilen);
	return collect ? FX_PX_COLLECT : FX_PX_PASS;
}

static bool f_pass(struct fx_px *x, const char *name, const char *value)
{
	(void)x;
	FZ_ASSERT(fx_http1_token(name, strlen(name)));
	FZ_ASSERT(fx_http1_value_ok(value, strlen(value)));
	return true;
}

static struct MHD_Response *f_collected(struct fx_px *x, const char *data, size_t len)
{
	(void)x;
	FZ_ASSERT(len <= (32u << 20));
	return MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY);
}

static void f_free(struct fx_px *x)
{
	(void)x;
	freed++;
}

static const struct fx_px_ops ops = {
    .failed = f_failed,
    .head = f_head,
    .pass_header = f_pass,
    .collected = f_collected,
    .free = f_free,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fx_px x;
	char out[7];
	size_t off = 1, piece, taken = 0;

	if (size == 0)
		return 0;
	freed = 0;
	fx_px_init(&x, &ops, NULL, NULL);
	collect = (data[0] & 2) != 0;
	if (data[0] & 1)
		x.flags |= FX_PXF_HEAD_REQ;
	x.flags |= FX_PXF_UPLOADED;
	x.st = FX_PX_HEAD; /* as if the request had gone out */
	piece = (size_t)(data[0] >> 2) + 1;
	for (int guard = 0; off < size && guard < 1 << 20; guard++) {
		size_t n = size - off < piece ? size - off : piece;
		fx_px_feed(&x, (const char *)data + off, n);
		off += n;
		for (int g2 = 0; g2 < 1 << 20; g2++) {
			long k = fx_px_take(&x, out, sizeof(out));
			FZ_ASSERT(k >= -2 && k <= (long)sizeof(out));
			if (k <= 0)
				break;
			taken += (size_t)k;
		}
		FZ_ASSERT(x.ilen <= x.icap && x.ioff <= x.ilen);
		if (x.st == FX_PX_DONE)
			break;
	}
	FZ_ASSERT(taken <= size);
	if (x.err_status != 0)
		FZ_ASSERT(x.err_status >= 400 && x.err_msg != NULL);
	fx_px_done(&x);
	FZ_ASSERT(freed == 1);
	return 0;
}
