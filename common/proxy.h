/* proxy.h: one proxied HTTP/1.1 exchange, without blocking, on the loop
 * thread that owns the client's connection (loop.h). Shared by the gateway
 * (client -> replica) and fwatchdog's http mode (client -> its process).
 *
 * The program builds the request head (fx_px_head_*), feeds the client's
 * body through fx_px_upload from its libmicrohttpd handler, and says when and
 * where to connect (fx_px_start: a pooled keep-alive connection to the peer,
 * or a new one). The exchange then sends the head and the body with
 * backpressure both ways (the client is suspended while OUT_HIGH bytes wait
 * for the upstream), reads the answer's head with common/http1.c (interim 1xx
 * answers dropped, what follows them in the same read parsed at once), and
 * streams the answer's body to the client through a 32 KiB buffer (the
 * upstream is not read while it is full; the client is suspended while it is
 * empty). A small answer goes out from one buffer.
 *
 * Up to hold bytes of the request body are kept before the upstream is
 * chosen, and the request is kept whole while it fits HOLD, so it can be sent
 * again: transparently on a fresh connection when a pooled one turns out
 * closed, or elsewhere when the program's ops->failed or ops->head says so.
 *
 * Program-specific decisions are made through fx_px_ops (HAProxy's and
 * libuv's way): what a failure means, which answer headers pass, what is
 * added to the answer, whether an answer is retried or collected whole. */
#ifndef FX_PROXY_H
#define FX_PROXY_H

#include "buf.h"
#include "http1.h"
#include "loop.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define FX_PX_HOLD (64u << 10) /* request bytes kept for a retry */

/* Where the exchange is. */
enum fx_px_state {
	FX_PX_IDLE,    /* not started: the body is held until the program starts it */
	FX_PX_CONNECT, /* connecting to the upstream */
	FX_PX_SEND,    /* sending the request (the body may still be arriving) */
	FX_PX_HEAD,    /* request sent, reading the answer's head */
	FX_PX_BODY,    /* the answer's body flowing */
	FX_PX_DONE,    /* the upstream side is over (or failed: see err_status, FX_PXF_CUT) */
};

/* Flag bits (struct fx_px.flags). */
enum {
	FX_PXF_SUSPENDED = 1u << 0,   /* the client connection is suspended */
	FX_PXF_WATCHED = 1u << 1,     /* the loop watches the client's socket */
	FX_PXF_READER = 1u << 2,      /* the body reader waits for upstream bytes */
	FX_PXF_GONE = 1u << 3,        /* the client hung up */
	FX_PXF_UPLOADED = 1u << 4,    /* the handler saw the end of the request body */
	FX_PXF_STREAM = 1u << 5,      /* started before the body ended: it flows as it comes */
	FX_PXF_CHUNKED = 1u << 6,     /* the body goes out chunked (length unknown) */
	FX_PXF_WHOLE = 1u << 7,       /* out holds the whole request sent so far: may be resent */
	FX_PXF_REUSED = 1u << 8,      /* the connection came from the pool */
	FX_PXF_FRESH = 1u << 9,       /* resent on a fresh connection after a pooled one failed */
	FX_PXF_GOT_BYTES = 1u << 10,  /* the upstream sent something */
	FX_PXF_HEAD_READY = 1u << 11, /* the answer's head is parsed */
	FX_PXF_KEEP = 1u << 12,       /* the upstream keeps the connection after the answer */
	FX_PXF_CUT = 1u << 13,        /* the answer was cut short after its head went out */
	FX_PXF_EARLY = 1u << 14,      /* answered before the whole body: the rest is dropped */
	FX_PXF_COLLECT = 1u << 15,    /* the whole answer body is collected (ops->collected) */
	FX_PXF_HEAD_REQ = 1u << 16,   /* a HEAD request: the answer has no body */
	FX_PXF_ANNOUNCED = 1u << 17,  /* the client announced a body (Content-Length or TE) */
	FX_PXF_LEN_KNOWN = 1u << 18,  /* ... with this Content-Length (body_len) */
	FX_PXF_ZERO_CL = 1u << 19,    /* no body: still say "Content-Length: 0" (POST and such) */
	FX_PXF_BUILT = 1u << 20,      /* out was built (head, framing, held body) */
};

/* What ops->head decides about an answer's head. */
enum fx_px_verdict {
	FX_PX_PASS,    /* stream it to the client */
	FX_PX_COLLECT, /* read the whole body (up to collect_max), then ops->collected */
	FX_PX_AGAIN,   /* the upstream did not run the request: ops called fx_px_start or fx_px_fail
	                */
};

struct fx_px;
struct fx_px_ops {
	/* The upstream failed before an answer's head (err: positive errno; 0:
	 * closed; ETIMEDOUT: a deadline; connecting: during the connect). Calls
	 * fx_px_start (another try) or fx_px_fail. Not for a pooled connection
	 * found closed: that is resent on a fresh one first. */
	void (*failed)(struct fx_px *x, int err, bool connecting);
	/* An answer's head (status >= 200). NULL: FX_PX_PASS. */
	enum fx_px_verdict (*head)(struct fx_px *x, const struct fx_http1_head *h);
	/* May this header of the answer reach the client? (after the hop-by-hop
	 * rule; NULL: yes) */
	bool (*pass_header)(struct fx_px *x, const char *name, const char *value);
	/* Adds the program's headers to the answer (NULL: none). */
	void (*decorate)(struct fx_px *x, struct MHD_Response *resp);
	/* FX_PX_COLLECT: the whole body is in (borrowed). The response, or NULL (503). */
	struct MHD_Response *(*collected)(struct fx_px *x, const char *data, size_t len);
	/* Wants to start (IDLE): hold bytes are held, or the upload ended. NULL: nothing. */
	void (*ready)(struct fx_px *x);
	/* Every tick (and wake) of the loop while not done (NULL: none). */
	void (*tick)(struct fx_px *x, int64_t now);
	/* The upstream connection of the current try was let go (NULL: none). */
	void (*released)(struct fx_px *x);
	/* The client hung up while the upstream worked (NULL: nothing to do). */
	void (*gone)(struct fx_px *x);
	/* The last reference is gone: free the object holding x (x is released). */
	void (*free)(struct fx_px *x);
};

struct fx_px {
	const struct fx_px_ops *ops;
	struct fx_loop *loop;
	struct MHD_Connection *c;  /* NULL once the client's request ended */
	int refs;                  /* the request, and its body reader's response */
	struct fx_px *prev, *next; /* the loop's list */
	enum fx_px_state st;
	unsigned flags;
	/* the request */
	struct fx_buf head; /* request line and headers, without framing and final CRLF */
	struct fx_buf body; /* body bytes held before the start */
	struct fx_buf out;  /* bytes for the upstream: framed head and body */
	size_t out_off;     /* of out, already sent */
	size_t hold;        /* body bytes held before ops->ready (default FX_PX_HOLD) */
	uint64_t body_len;  /* FX_PXF_LEN_KNOWN */
	uint64_t body_seen; /* body bytes taken from the client */
	/* the upstream */
	void *peer; /* the pool's key (borrowed; the program keeps it alive) */
	unsigned gen;
	struct sockaddr_storage sa;
	socklen_t salen;
	struct fx_uconn *uc; /* the connection in use */
	int fd;              /* uc->fd, or -1 */
	int64_t connect_ms;  /* time for a connect */
	int64_t idle_ms;     /* time the upstream may stay silent, 0: none */
	int64_t deadline;    /* absolute end (CLOCK_MONOTONIC ms), 0: none */
	int64_t due;         /* the next deadline of the phase */
	/* the client */
	struct fx_ev ev_client;
	int client_fd;
	int64_t suspended_at;
	/* the answer */
	char *ibuf;
	size_t icap, ilen, ioff;
	struct fx_http1_head h;
	struct fx_http1_body ans;
	struct fx_buf collect;     /* FX_PXF_COLLECT */
	struct MHD_Response *resp; /* made, not yet handed to the handler */
	int status;                /* the answer's, or the error's */
	int err_status;            /* an error answer for the client, 0: none */
	const char *err_msg;       /* static */
};

/* Sets x up on loop l for the client's connection c (a request begins);
 * x is linked into the loop's list until its last reference goes. l and c
 * may be NULL in tests and fuzzing (nothing is then watched or resumed). */
void fx_px_init(struct fx_px *x, const struct fx_px_ops *ops, struct fx_loop *l,
                struct MHD_Connection *c);
/* The next exchange of the loop's list. */
struct fx_px *fx_px_next(struct fx_px *x);

/* ---- the request head ---- */

/* "METHOD target HTTP/1.1\r\n". 0 or negative errno (the request head is over
 * its cap). */
int fx_px_head_line(struct fx_px *x, const char *method, const char *target1, const char *target2);
/* "Name: value\r\n". */
int fx_px_head_add(struct fx_px *x, const char *name, const char *value);
/* Copies the client's request headers except the hop-by-hop ones (and those
 * named in its Connection header), its framing (Content-Length,
 * Transfer-Encoding, Expect), X-Forwarded-For (fx_px_head_forwarded) and
 * those skip() refuses (may be NULL); values
 * longer than max_value are dropped. 0; -EBADMSG when a name is not a token
 * or a value holds a control character (the program answers 400); -E2BIG. */
int fx_px_head_copy(struct fx_px *x, struct MHD_Connection *c,
                    bool (*skip)(void *cls, const char *name, const char *value), void *cls,
                    size_t max_value);
/* "X-Forwarded-For: " the client's list, if any, and its address. */
int fx_px_head_forwarded(struct fx_px *x, struct MHD_Connection *c);
/* The client's framing, from its request headers: sets FX_PXF_ANNOUNCED,
 * FX_PXF_LEN_KNOWN and body_len. Called after the framing was checked
 * (fx_http1_request_check). */
void fx_px_framing(struct fx_px *x, struct MHD_Connection *c);

/* ---- driving it ---- */

/* Connects to peer (sa) for generation gen, through a pooled connection when
 * there is one (and FX_PXF_FRESH is not set), and starts sending what is
 * there. The request head must be complete. 0 when under way, or a negative
 * errno when the connection could not even begin (the program tries the next
 * peer or fails: ECONNREFUSED and the like right away). */
int fx_px_start(struct fx_px *x, void *peer, unsigned gen, const struct sockaddr *sa,
                socklen_t salen);
/* Ends the upstream side; the client gets status with msg (static) at its
 * final call. */
void fx_px_fail(struct fx_px *x, int status, const char *msg);
/* Lets go of the upstream connection (not kept) without deciding anything
 * (before another fx_px_start). */
void fx_px_drop_upstream(struct fx_px *x);
/* Back to FX_PX_IDLE (ticked, waiting to be started again) when the request
 * can still be sent again; false otherwise. */
bool fx_px_park(struct fx_px *x);
/* Resumes the client when suspended (from outside a libmicrohttpd callback). */
void fx_px_resume(struct fx_px *x);

enum fx_px_next {
	FX_PX_MORE,   /* MHD_YES: wait for the next call (perhaps suspended) */
	FX_PX_ABORT,  /* MHD_NO: the client is gone or sent too much */
	FX_PX_ANSWER, /* queue *resp (the caller destroys it) with x->status */
	FX_PX_ERROR,  /* answer x->err_status with x->err_msg */
};
/* Every handler call of the request after the head was built: body bytes
 * (taken by setting *size to 0, or left while the upstream is slower than
 * the client) and the final call (*size 0). */
enum fx_px_next fx_px_upload(struct fx_px *x, const char *data, size_t *size,
                             struct MHD_Response **resp);
/* The client's request ended (answered or not): aborts what is still going on
 * and drops the request's reference (the body reader may hold x longer). */
void fx_px_done(struct fx_px *x);

/* Loop callbacks: a watched socket is ready; deadlines (every few ms); shutdown. */
void fx_px_event(struct fx_px *x, int kind, uint32_t events);
void fx_px_tick(struct fx_px *x, int64_t now);
void fx_px_abort(struct fx_px *x);

/* For tests and fuzzing: bytes as if read from the upstream, parsed at once.
 * Without a client connection (c NULL) nothing is suspended or resumed. */
void fx_px_feed(struct fx_px *x, const char *data, size_t n);
/* For tests and fuzzing: takes answer body bytes as the body reader does.
 * Bytes taken, 0 when nothing is buffered, -1 at the end, -2 on an error. */
long fx_px_take(struct fx_px *x, char *out, size_t max);

#endif
