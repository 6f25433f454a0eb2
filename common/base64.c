/* base64.c: see base64.h. */
#include "base64.h"

#include <errno.h>

static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int fx_base64_encode(const void *p, size_t n, struct fx_buf *out)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i += 3) {
		unsigned x = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
		             (i + 2 < n ? s[i + 2] : 0);
		char q[4] = {tab[x >> 18 & 63], tab[x >> 12 & 63],
		             i + 1 < n ? tab[x >> 6 & 63] : '=', i + 2 < n ? tab[x & 63] : '='};
		int rc = fx_buf_append(out, q, 4);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int fx_base64_decode(const char *s, size_t n, struct fx_buf *out)
{
	size_t data = n, pad = 0;
	unsigned acc = 0;
	int bits = 0;

	while (data > 0 && s[data - 1] == '=' && pad < 2) {
		data--;
		pad++;
	}
	/* Padded input comes in whole quads; unpadded input never leaves a
	 * single character (6 bits are not a byte). */
	if ((pad > 0 && n % 4 != 0) || data % 4 == 1 || (pad > 0 && (data + pad) % 4 != 0))
		return -EINVAL;
	if (pad > 0 && 4 - data % 4 != pad)
		return -EINVAL;
	for (size_t i = 0; i < data; i++) {
		int v = val((unsigned char)s[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			char c;
			int rc;
			bits -= 8;
			c = (char)(acc >> bits & 0xff);
			rc = fx_buf_append(out, &c, 1);
			if (rc < 0)
				return rc;
		}
	}
	/* the bits left over must be zero (one encoding per value) */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	return 0;
}
