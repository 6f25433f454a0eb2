/* sha256.h: SHA-256 (FIPS 180-4), for the spec hash (faas.spec-hash).
 * No I/O, no allocation. */
#ifndef FX_SHA256_H
#define FX_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct fx_sha256 {
	uint32_t h[8];
	uint64_t total; /* bytes hashed so far */
	unsigned char block[64];
	size_t used; /* bytes in block */
};

void fx_sha256_init(struct fx_sha256 *s);
void fx_sha256_update(struct fx_sha256 *s, const void *p, size_t n);
void fx_sha256_final(struct fx_sha256 *s, unsigned char out[32]);
/* One call: hex digest (64 lower-case characters and a NUL) of p[0..n). */
void fx_sha256_hex(const void *p, size_t n, char out[65]);

#endif
