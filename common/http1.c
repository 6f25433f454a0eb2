/* http1.c: HTTP/1.1 response heads and chunked bodies, parsed without I/O. */
#include "http1.h"

#include "buf.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* Finds the end of the head ("\r\n\r\n", or "\n\n" leniently); 0 if absent. */
static size_t head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static bool token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

bool fx_http1_token(const char *name, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!token_char((unsigned char)name[i]))
			return false;
	return true;
}

bool fx_http1_value_ok(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static bool has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok);
	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		size_t t = strcspn(v, ",");
		size_t e = t;
		while (e && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e == n && strncasecmp(v, tok, n) == 0)
			return true;
		v += t;
	}
	return false;
}

int fx_http1_head_parse(char *buf, size_t len, bool head_request, struct fx_http1_head *h)
{
	size_t end = head_end(buf, len);
	char *p, *eol, *lim;
	bool http11, chunked = false, have_len = false, close = false, keep = false;
	uint64_t clen = 0;

	if (!end)
		return -EAGAIN;
	memset(h, 0, sizeof(*h));
	lim = buf + end;
	/* status line: HTTP/1.x SP 3DIGIT [SP reason] */
	if (end < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
	    buf[8] != ' ')
		return -EBADMSG;
	http11 = buf[7] == '1';
	for (int i = 9; i < 12; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return -EBADMSG;
	h->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (h->status < 100 || (buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n'))
		return -EBADMSG;
	eol = memchr(buf, '\n', end);
	p = eol + 1;
	while (p < lim) {
		char *line = p, *colon, *v, *ve;
		eol = memchr(p, '\n', (size_t)(lim - p));
		if (!eol)
			return -EBADMSG;
		p = eol + 1;
		ve = eol;
		if (ve > line && ve[-1] == '\r')
			ve--;
		if (ve == line)
			break; /* blank line: end of head */
		if (*line == ' ' || *line == '\t')
			return -EBADMSG; /* obsolete line folding */
		colon = memchr(line, ':', (size_t)(ve - line));
		if (!colon || colon == line)
			return -EBADMSG;
		for (char *q = line; q < colon; q++)
			if (!token_char((unsigned char)*q))
				return -EBADMSG;
		v = colon + 1;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (!fx_http1_value_ok(v, (size_t)(ve - v)))
			return -EBADMSG; /* a control character (DEL too), as in requests */
		if (h->nhdr >= FX_HTTP1_MAX_HEADERS)
			return -E2BIG;
		*colon = '\0';
		*ve = '\0';
		h->hdr[h->nhdr].name = line;
		h->hdr[h->nhdr].value = v;
		h->nhdr++;
		if (strcasecmp(line, "Content-Length") == 0) {
			uint64_t x = 0;
			if (v == ve)
				return -EBADMSG;
			for (char *q = v; q < ve; q++) {
				if (*q < '0' || *q > '9' || x > (UINT64_MAX - 9) / 10)
					return -EBADMSG;
				x = x * 10 + (uint64_t)(*q - '0');
			}
			if (have_len && x != clen)
				return -EBADMSG;
			have_len = true;
			clen = x;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			if (has_token(v, "chunked"))
				chunked = true;
		} else if (strcasecmp(line, "Connection") == 0) {
			if (has_token(v, "close"))
				close = true;
			if (has_token(v, "keep-alive"))
				keep = true;
		}
	}
	h->head_len = end;
	h->keep_alive = http11 ? !close : keep && !close;
	if (head_request || h->status < 200 || h->status == 204 || h->status == 304) {
		h->framing = FX_BODY_NONE;
	} else if (chunked) {
		h->framing = FX_BODY_CHUNKED;
	} else if (have_len) {
		h->framing = clen ? FX_BODY_LENGTH : FX_BODY_NONE;
		h->content_length = clen;
	} else {
		h->framing = FX_BODY_CLOSE;
		h->keep_alive = false;
	}
	return 0;
}

enum {
	CK_SIZE,
	CK_EXT,
	CK_SIZE_LF,
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TRAILER,
	CK_TRAILER_LINE,
	CK_DONE
};

int fx_http1_chunked_decode(struct fx_http1_chunked *c, const char *in, size_t inlen, size_t *used,
                            char *out, size_t outcap, size_t *made)
{
	size_t i = 0, o = 0;

	while (i < inlen && c->state != CK_DONE) {
		char ch = in[i];
		switch (c->state) {
		case CK_SIZE: {
			int v = fx_hexval(ch);
			if (v >= 0) {
				if (c->line >= 16)
					return -EBADMSG;
				c->left = c->left * 16 + (uint64_t)v;
				c->line++;
				i++;
			} else if (c->line == 0) {
				return -EBADMSG;
			} else if (ch == ';' || ch == ' ' || ch == '\t') {
				c->state = CK_EXT;
			} else if (ch == '\r') {
				c->state = CK_SIZE_LF;
				i++;
			} else if (ch == '\n') {
				c->state = CK_SIZE_LF;
			} else {
				return -EBADMSG;
			}
			break;
		}
		case CK_EXT:
			if (++c->line > 4096)
				return -EBADMSG;
			if (ch == '\r' || ch == '\n')
				c->state = CK_SIZE_LF;
			if (ch != '\n')
				i++;
			break;
		case CK_SIZE_LF:
			if (ch != '\n')
				return -EBADMSG;
			i++;
			c->line = 0;
			c->state = c->left ? CK_DATA : CK_TRAILER;
			break;
		case CK_DATA: {
			size_t n = inlen - i;
			if (n > c->left)
				n = (size_t)c->left;
			if (n > outcap - o)
				n = outcap - o;
			if (n == 0)
				goto out; /* output full */
			memcpy(out + o, in + i, n);
			o += n;
			i += n;
			c->left -= n;
			if (c->left == 0)
				c->state = CK_DATA_CR;
			break;
		}
		case CK_DATA_CR:
			if (ch == '\r') {
				c->state = CK_DATA_LF;
				i++;
			} else if (ch == '\n') {
				c->state = CK_DATA_LF;
			} else {
				return -EBADMSG;
			}
			break;
		case CK_DATA_LF:
			if (ch != '\n')
				return -EBADMSG;
			i++;
			c->state = CK_SIZE;
			c->line = 0;
			break;
		case CK_TRAILER: /* start of a trailer line, or the final blank line */
			if (ch == '\r') {
				i++;
			} else if (ch == '\n') {
				i++;
				c->state = CK_DONE;
			} else {
				c->state = CK_TRAILER_LINE;
				c->line = 0;
			}
			break;
		case CK_TRAILER_LINE:
			if (++c->line > 8192)
				return -EBADMSG;
			i++;
			if (ch == '\n')
				c->state = CK_TRAILER;
			break;
		default:
			return -EBADMSG;
		}
	}
out:
	*used = i;
	*made = o;
	return c->state == CK_DONE ? 1 : 0;
}

int fx_http1_body_take(struct fx_http1_body *b, const char *in, size_t inlen, size_t *used,
                       char *out, size_t max, size_t *made)
{
	size_t n = inlen < max ? inlen : max;

	*used = *made = 0;
	switch (b->framing) {
	case FX_BODY_NONE:
		return 1;
	case FX_BODY_LENGTH:
		if (n > b->left)
			n = (size_t)b->left;
		memcpy(out, in, n);
		*used = *made = n;
		b->left -= n;
		return b->left == 0;
	case FX_BODY_CLOSE:
		memcpy(out, in, n);
		*used = *made = n;
		return b->eof && n == inlen;
	case FX_BODY_CHUNKED:
		return fx_http1_chunked_decode(&b->ck, in, inlen, used, out, max, made);
	}
	return -EBADMSG;
}

bool fx_http1_hop(const char *name, const char *connection)
{
	static const char *const hop[] = {
	    "Connection",
	    "Keep-Alive",
	    "Proxy-Connection",
	    "Proxy-Authenticate",
	    "Proxy-Authorization",
	    "TE",
	    "Trailer",
	    "Transfer-Encoding",
	    "Upgrade",
	};
	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strcasecmp(name, hop[i]) == 0)
			return true;
	return connection != NULL && has_token(connection, name);
}

int fx_http1_content_length(const char *v, uint64_t *out)
{
	uint64_t first = 0;
	bool seen = false;

	while (*v != '\0') {
		uint64_t x = 0;
		size_t digits = 0;
		while (*v == ' ' || *v == '\t')
			v++;
		for (; *v >= '0' && *v <= '9'; v++, digits++) {
			if (x > (UINT64_MAX - 9) / 10)
				return -EBADMSG;
			x = x * 10 + (uint64_t)(*v - '0');
		}
		while (*v == ' ' || *v == '\t')
			v++;
		if (digits == 0 || (*v != ',' && *v != '\0') || (seen && x != first))
			return -EBADMSG;
		first = x;
		seen = true;
		if (*v == ',')
			v++;
	}
	if (!seen)
		return -EBADMSG;
	*out = first;
	return 0;
}

/* Transfer codings of one field value: counts "chunked" in *chunked and
 * whether it is the last one; false when another coding is named. */
static bool codings(const char *v, int *chunked, bool *last_chunked)
{
	while (*v != '\0') {
		size_t t, e;
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (*v == '\0')
			break;
		t = strcspn(v, ",");
		e = t;
		while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e == 7 && strncasecmp(v, "chunked", 7) == 0) {
			(*chunked)++;
			*last_chunked = true;
		} else {
			return false;
		}
		v += t;
	}
	return true;
}

int fx_http1_request_check(const char *version, const struct fx_http1_field *f, size_t n,
                           const char **why)
{
	bool have_len = false, have_te = false, last_chunked = false, known = true;
	int hosts = 0, chunked = 0;
	uint64_t len = 0;

	for (size_t i = 0; i < n; i++) {
		const char *name = f[i].name, *value = f[i].value ? f[i].value : "";
		if (name == NULL || strlen(name) != f[i].name_len ||
		    !fx_http1_token(name, f[i].name_len)) {
			*why = "a header name is not a token";
			return 400;
		}
		if (strlen(value) != f[i].value_len || !fx_http1_value_ok(value, f[i].value_len)) {
			*why = "a header value holds a control character";
			return 400;
		}
		if (strcasecmp(name, "Content-Length") == 0) {
			uint64_t v;
			if (fx_http1_content_length(value, &v) < 0 || (have_len && v != len)) {
				*why = "invalid or conflicting Content-Length";
				return 400;
			}
			have_len = true;
			len = v;
		} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
			have_te = true;
			last_chunked = false;
			if (!codings(value, &chunked, &last_chunked))
				known = false;
		} else if (strcasecmp(name, "Host") == 0) {
			hosts++;
		}
	}
	if (have_te && have_len) {
		*why = "Content-Length together with Transfer-Encoding";
		return 400;
	}
	if (have_te && !known) {
		*why = "unsupported Transfer-Encoding";
		return 501;
	}
	if (have_te && (chunked != 1 || !last_chunked)) {
		*why = "invalid Transfer-Encoding";
		return 400;
	}
	if (version != NULL && strcmp(version, "HTTP/1.0") != 0 && hosts != 1) {
		*why = hosts == 0 ? "no Host header" : "more than one Host header";
		return 400;
	}
	return 0;
}
