/* tls.c: HTTPS at the gateway, GnuTLS through libmicrohttpd.
 *
 * The certificate chain and key are PEM files (the Docker secrets
 * faas-tls-cert and faas-tls-key). Every handshake asks retrieve() for them,
 * which hands out the current generation: when the files change (checked
 * once a second by the main thread, gw_tls_check), the new pair is loaded,
 * checked (parses, the key matches the certificate) and becomes current for
 * the next handshakes, while connections made with the old one go on. A pair
 * that does not load (one file written, not yet the other) leaves the
 * current one in place and is tried again at the next change. A generation
 * is freed an hour after it was replaced (a handshake takes seconds; GnuTLS
 * keeps no pointer to it past the handshake); at most GEN_MAX wait.
 *
 * TLS 1.2 and 1.3 only, AEAD ciphers with ECDHE (forward secrecy), the
 * server's order. X25519 first among the groups: it is the key share
 * clients send first, and a server that prefers another one makes every TLS
 * 1.3 handshake take a HelloRetryRequest round trip (and a second key). Resumption: session
 * tickets, with one key per process (gnutls rotates the keys it derives from it), enabled on each
 * connection as libmicrohttpd starts it (gw_tls_connection_started). */
#include "gateway.h"

#include "log.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHAIN_MAX 8             /* certificates in a chain */
#define FILE_MAX  (256u << 10)  /* a PEM file */
#define GEN_MAX   16            /* generations kept at once */
#define GEN_GRACE (3600 * 1000) /* ms a replaced generation is kept */

const char gw_tls_priorities[] =
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-GROUP-ALL:+GROUP-X25519:"
    "+GROUP-SECP256R1:+GROUP-SECP384R1:%SERVER_PRECEDENCE";

struct gen {
	gnutls_pcert_st pcert[CHAIN_MAX];
	unsigned n;
	gnutls_privkey_t key;
	int64_t replaced_ms; /* 0: current */
	struct gen *older;   /* replaced generations, newest first */
	char subject[256];
	time_t not_after;
};

static _Atomic(struct gen *) current;
static struct gen *retired; /* main thread only */
static size_t nretired;
static gnutls_datum_t ticket_key;
static struct stat seen_cert, seen_key; /* the files as last looked at */
static bool enabled;

__attribute__((format(printf, 2, 3))) static void seterr(char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
}

bool gw_tls_enabled(void)
{
	return enabled;
}

static void gen_free(struct gen *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n; i++)
		gnutls_pcert_deinit(&g->pcert[i]);
	if (g->key)
		gnutls_privkey_deinit(g->key);
	free(g);
}

/* Reads a whole small file. 0 or a negative errno with *err. */
static int slurp(const char *path, gnutls_datum_t *out, char **err)
{
	FILE *f = fopen(path, "re");
	unsigned char *buf;
	size_t n;

	if (!f) {
		int e = errno;
		seterr(err, "cannot read %s: %s", path, strerror(e));
		return -e;
	}
	buf = malloc(FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		seterr(err, "out of memory");
		return -ENOMEM;
	}
	n = fread(buf, 1, FILE_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > FILE_MAX) {
		free(buf);
		seterr(err, "%s is %s", path, n ? "larger than 256 KiB" : "empty");
		return -EINVAL;
	}
	buf[n] = '\0';
	out->data = buf;
	out->size = (unsigned)n;
	return 0;
}

/* The public key of a certificate and of a private key, DER, compared. */
static bool key_matches(gnutls_pcert_st *pc, gnutls_privkey_t key)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t a = {0}, b = {0};
	bool same = false;

	if (gnutls_pubkey_init(&pub) < 0)
		return false;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) == 0 &&
	    gnutls_pubkey_export2(pc->pubkey, GNUTLS_X509_FMT_DER, &b) == 0)
		same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	gnutls_pubkey_deinit(pub);
	return same;
}

/* Loads a certificate chain and its key into a new generation. NULL with *err. */
static struct gen *gen_load(const char *cert_file, const char *key_file, char **err)
{
	gnutls_datum_t c = {0}, k = {0};
	gnutls_x509_crt_t crt = NULL;
	struct gen *g = calloc(1, sizeof(*g));
	int rc;

	if (!g) {
		seterr(err, "out of memory");
		return NULL;
	}
	if (slurp(cert_file, &c, err) < 0 || slurp(key_file, &k, err) < 0)
		goto fail;
	g->n = CHAIN_MAX;
	rc = gnutls_pcert_list_import_x509_raw(g->pcert, &g->n, &c, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0 || g->n == 0) {
		seterr(err, "%s: no PEM certificate (or more than %d): %s", cert_file, CHAIN_MAX,
		       gnutls_strerror(rc));
		g->n = 0;
		goto fail;
	}
	if ((rc = gnutls_privkey_init(&g->key)) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(g->key, &k, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		seterr(err, "%s: not a PEM private key: %s", key_file, gnutls_strerror(rc));
		goto fail;
	}
	if (!key_matches(&g->pcert[0], g->key)) {
		seterr(err, "%s is not the key of the certificate in %s", key_file, cert_file);
		goto fail;
	}
	if (gnutls_x509_crt_init(&crt) == 0 &&
	    gnutls_x509_crt_import(crt, &g->pcert[0].cert, GNUTLS_X509_FMT_DER) == 0) {
		size_t sl = sizeof(g->subject);
		if (gnutls_x509_crt_get_dn(crt, g->subject, &sl) < 0)
			g->subject[0] = '\0';
		g->not_after = gnutls_x509_crt_get_expiration_time(crt);
	}
	gnutls_x509_crt_deinit(crt);
	free(c.data);
	free(k.data);
	return g;
fail:
	free(c.data);
	free(k.data);
	gen_free(g);
	return NULL;
}

/* GnuTLS asks for the certificate of a handshake: the current generation.
 * GnuTLS does not free what it is given here (retrieve_function2). */
static int retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_rdn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *key)
{
	struct gen *g = atomic_load(&current);
	(void)s;
	(void)req_ca_rdn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	if (!g)
		return -1;
	*pcert = g->pcert;
	*pcert_length = g->n;
	*key = g->key;
	return 0;
}

static void log_loaded(const char *what, const struct gen *g)
{
	char until[32] = "?";
	struct tm tm;
	if (g->not_after > 0 && gmtime_r(&g->not_after, &tm))
		strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_info(what, "subject=\"%s\" chain=%u not_after=%s", g->subject, g->n, until);
	if (g->not_after > 0 && g->not_after < time(NULL))
		log_warn("tls_certificate_expired", "subject=\"%s\" not_after=%s", g->subject,
		         until);
}

int gw_tls_init(char **err)
{
	struct gen *g;
	int rc;

	if (strcmp(gw_cfg.tls, "off") == 0)
		return 0;
	if (strcmp(gw_cfg.tls, "auto") != 0 && strcmp(gw_cfg.tls, "on") != 0) {
		seterr(err, "tls: expected auto, on or off");
		return -EINVAL;
	}
	if (strcmp(gw_cfg.tls, "auto") == 0 &&
	    (access(gw_cfg.tls_cert_file, F_OK) != 0 || access(gw_cfg.tls_key_file, F_OK) != 0)) {
		log_warn("tls_off",
		         "reason=\"no certificate\" cert=%s key=%s (tls=auto: HTTPS "
		         "is served once both exist at start-up)",
		         gw_cfg.tls_cert_file, gw_cfg.tls_key_file);
		return 0;
	}
	stat(gw_cfg.tls_cert_file, &seen_cert);
	stat(gw_cfg.tls_key_file, &seen_key);
	g = gen_load(gw_cfg.tls_cert_file, gw_cfg.tls_key_file, err);
	if (!g)
		return -EINVAL;
	if ((rc = gnutls_session_ticket_key_generate(&ticket_key)) < 0) {
		gen_free(g);
		seterr(err, "tls: session ticket key: %s", gnutls_strerror(rc));
		return -EIO;
	}
	atomic_store(&current, g);
	enabled = true;
	log_loaded("tls_certificate", g);
	return 0;
}

static bool changed(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_dev != b->st_dev || a->st_size != b->st_size ||
	       a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

void gw_tls_check(int64_t now_ms)
{
	struct stat sc, sk;
	struct gen *g, *old, **pp;
	char *err = NULL;

	if (!enabled)
		return;
	/* Generations replaced long ago go. */
	for (pp = &retired; *pp;) {
		if (now_ms - (*pp)->replaced_ms >= GEN_GRACE) {
			struct gen *dead = *pp;
			*pp = dead->older;
			gen_free(dead);
			nretired--;
		} else {
			pp = &(*pp)->older;
		}
	}
	if (stat(gw_cfg.tls_cert_file, &sc) < 0 || stat(gw_cfg.tls_key_file, &sk) < 0)
		return; /* being replaced, or gone: keep serving the current pair */
	if (!changed(&sc, &seen_cert) && !changed(&sk, &seen_key))
		return;
	if (nretired >= GEN_MAX) {
		log_warn("tls_reload_deferred",
		         "reason=\"%d certificates replaced within an hour\"", GEN_MAX);
		return;
	}
	g = gen_load(gw_cfg.tls_cert_file, gw_cfg.tls_key_file, &err);
	seen_cert = sc;
	seen_key = sk;
	if (!g) {
		/* Logged once per change of the files; the current pair stays. */
		log_warn("tls_reload_failed", "reason=\"%s\" (the current certificate stays)",
		         err ? err : "?");
		free(err);
		return;
	}
	old = atomic_exchange(&current, g);
	old->replaced_ms = now_ms;
	old->older = retired;
	retired = old;
	nretired++;
	log_loaded("tls_certificate_reloaded", g);
}

void gw_tls_connection_started(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci && ci->tls_session)
		gnutls_session_ticket_enable_server((gnutls_session_t)ci->tls_session, &ticket_key);
}

void *gw_tls_retrieve(void)
{
	return (void *)(uintptr_t)retrieve;
}

bool gw_conn_tls(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	return ci && ci->tls_session;
}
