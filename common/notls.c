/* notls.c: GnuTLS stand-ins for programs that link libmicrohttpd.a
 * statically and never serve TLS: fwatchdog (the gateway reaches replicas over
 * the function network). faas-controller no longer can: the libcurl it links
 * loads GnuTLS (through libldap), whose functions these would replace. Debian's
 * libmicrohttpd is built with HTTPS support, and linking it dynamically loads
 * GnuTLS and eight more libraries whose relocation and start-up work doubles
 * the idle RSS (4.4 MiB instead of about 2). libmicrohttpd calls only
 * gnutls_global_init/deinit unless a daemon is started with MHD_USE_TLS,
 * which fwatchdog does not; every other stub fails. Linked as an object by the
 * Makefile (NOTLS), not part of libfx.a: a program that links libmicrohttpd
 * dynamically must get the real GnuTLS. */
#include <stddef.h>
#include <stdlib.h>

#define WD_GNUTLS_E_UNIMPLEMENTED (-1250) /* GNUTLS_E_UNIMPLEMENTED_FEATURE */
#define STUB(name)                                                                                 \
	int name(void);                                                                            \
	int name(void)                                                                             \
	{                                                                                          \
		return WD_GNUTLS_E_UNIMPLEMENTED;                                                  \
	}

int gnutls_global_init(void);
int gnutls_global_init(void)
{
	return 0;
}
void gnutls_global_deinit(void);
void gnutls_global_deinit(void)
{
}
void *(*gnutls_malloc)(size_t) = malloc;
STUB(gnutls_alpn_set_protocols)
STUB(gnutls_bye)
STUB(gnutls_certificate_allocate_credentials)
STUB(gnutls_certificate_free_credentials)
STUB(gnutls_certificate_server_set_request)
STUB(gnutls_certificate_set_dh_params)
STUB(gnutls_certificate_set_retrieve_function2)
STUB(gnutls_certificate_set_retrieve_function3)
STUB(gnutls_certificate_set_x509_key_mem)
STUB(gnutls_certificate_set_x509_key_mem2)
STUB(gnutls_certificate_set_x509_trust_mem)
STUB(gnutls_cipher_get)
STUB(gnutls_credentials_set)
STUB(gnutls_deinit)
STUB(gnutls_dh_params_deinit)
STUB(gnutls_dh_params_import_pkcs3)
STUB(gnutls_dh_params_init)
STUB(gnutls_handshake)
STUB(gnutls_init)
STUB(gnutls_priority_deinit)
STUB(gnutls_priority_init)
STUB(gnutls_priority_set)
STUB(gnutls_protocol_get_version)
STUB(gnutls_psk_allocate_server_credentials)
STUB(gnutls_psk_free_server_credentials)
STUB(gnutls_psk_set_server_credentials_function)
STUB(gnutls_record_check_pending)
STUB(gnutls_record_get_direction)
STUB(gnutls_record_recv)
STUB(gnutls_record_send)
STUB(gnutls_session_get_ptr)
STUB(gnutls_session_set_ptr)
STUB(gnutls_strerror)
STUB(gnutls_transport_set_int2)
