/* http1.h: HTTP/1.1 response heads and chunked bodies, parsed without I/O
 * (what a proxy reads from its upstream: the gateway from a replica, the
 * watchdog in http mode from its process). */
#ifndef FX_HTTP1_H
#define FX_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fx_http1_framing { FX_BODY_NONE, FX_BODY_LENGTH, FX_BODY_CHUNKED, FX_BODY_CLOSE };

#define FX_HTTP1_MAX_HEADERS 100
struct fx_http1_head {
	int status;
	size_t head_len; /* bytes of the head including the blank line */
	enum fx_http1_framing framing;
	uint64_t content_length;
	bool keep_alive;
	size_t nhdr;
	struct {
		char *name; /* NUL-terminated in place, inside the parsed buffer */
		char *value;
	} hdr[FX_HTTP1_MAX_HEADERS];
};

/* Parses the head at the start of buf[0..len) in place (writes NULs into it).
 * head_request: the request was HEAD (no body whatever the headers say).
 * 0, -EAGAIN (incomplete: read more), -EBADMSG (malformed), -E2BIG (too many headers).
 * A 1xx head is returned as is; the caller skips it. */
int fx_http1_head_parse(char *buf, size_t len, bool head_request, struct fx_http1_head *h);

struct fx_http1_chunked {
	int state;
	uint64_t left;
	unsigned line; /* bytes of the current size/extension/trailer line */
};
/* Decodes in[0..inlen) into out[0..outcap). Sets *used and *made.
 * 0 more to come, 1 done (final chunk and trailers read), -EBADMSG. */
int fx_http1_chunked_decode(struct fx_http1_chunked *c, const char *in, size_t inlen, size_t *used,
                            char *out, size_t outcap, size_t *made);

/* An answer's body being read: its framing (from the head), what is left of
 * it, and the upstream's end of stream (FX_BODY_CLOSE). */
struct fx_http1_body {
	enum fx_http1_framing framing;
	uint64_t left; /* FX_BODY_LENGTH: bytes still to come */
	struct fx_http1_chunked ck;
	bool eof; /* set by the caller when the upstream closed */
};
/* Takes body bytes from in[0..inlen) into out[0..max), decoding chunks. Sets
 * *used and *made. 1 when the body is complete, 0 more to come, -EBADMSG. */
int fx_http1_body_take(struct fx_http1_body *b, const char *in, size_t inlen, size_t *used,
                       char *out, size_t max, size_t *made);

#endif
