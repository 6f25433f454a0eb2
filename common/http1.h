/* http1.h: the one place that knows HTTP/1.1's syntax on the data path,
 * without I/O: response heads and chunked bodies (what a proxy reads from its
 * upstream: the gateway from a replica, the watchdog in http mode from its
 * process), and the rules for request fields that libmicrohttpd leaves to
 * the application (framing, tokens, hop-by-hop headers). */
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

/* A field name: a token (RFC 9110 5.1), n bytes. */
bool fx_http1_token(const char *name, size_t n);
/* A field value without control characters (HTAB allowed), n bytes. */
bool fx_http1_value_ok(const char *v, size_t n);
/* Hop-by-hop (RFC 9110 7.6.1): Connection, Keep-Alive, Proxy-Connection,
 * Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Transfer-Encoding,
 * Upgrade, and any name listed in the message's Connection value
 * (connection may be NULL). The one rule for both directions of a proxy. */
bool fx_http1_hop(const char *name, const char *connection);
/* A Content-Length value: 1*DIGIT (a list of equal values, "5, 5", is one
 * value). 0 with *out, or -EBADMSG. */
int fx_http1_content_length(const char *v, uint64_t *out);

struct fx_http1_field {
	const char *name, *value;
	size_t name_len, value_len; /* bytes as received (a NUL inside makes them differ) */
};
/* A request's head as libmicrohttpd parsed it (version "HTTP/1.1"), checked
 * the way RFC 9112 asks of a server that may sit behind another proxy:
 * names are tokens and values hold no control characters (400); two
 * different Content-Length values (400); Content-Length together with
 * Transfer-Encoding (400; the connection must close); a transfer coding other
 * than one final "chunked" (501); HTTP/1.1 without exactly one Host (400).
 * 0, or the status to answer with *why (static). */
int fx_http1_request_check(const char *version, const struct fx_http1_field *f, size_t n,
                           const char **why);

#endif
