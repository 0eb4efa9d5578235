/*
 * api/tls.c - the checks of the API's HTTPS certificate and key before
 * libmicrohttpd is given them (issue 10 item 4).
 *
 * MHD (built with GnuTLS on Debian) only says "failed to start" for a
 * bad certificate, a bad key or a pair that does not match; an operator
 * needs to know which file is wrong. So the PEM text is parsed here with
 * OpenSSL (already a dependency of the project): the first certificate of
 * the cert file, the private key of the key file (an encrypted key is
 * refused: nobody is there to type its passphrase, and OpenSSL must not
 * prompt on the terminal), then whether the key belongs to the
 * certificate. Every message names the file it is about.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/** Passphrase callback: none, so an encrypted key fails to load. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int
nc__api_tls_check(const char *cert_pem, const char *key_pem,
		  const char *cert_name, const char *key_name, char *err,
		  size_t cap)
{
	int rc = -1;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	BIO *b = BIO_new_mem_buf(cert_pem, -1);
	if (b != NULL)
		x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (x == NULL) {
		snprintf(err, cap,
			 "\"http_tls_cert\": %s: not a PEM certificate (want "
			 "\"-----BEGIN CERTIFICATE-----\")",
			 cert_name);
		goto out;
	}
	b = BIO_new_mem_buf(key_pem, -1);
	if (b != NULL)
		k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (k == NULL) {
		snprintf(err, cap,
			 "\"http_tls_key\": %s: not an unencrypted PEM private "
			 "key",
			 key_name);
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		snprintf(err, cap,
			 "\"http_tls_key\": %s is not the key of the "
			 "certificate in %s",
			 key_name, cert_name);
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(k);
	X509_free(x);
	ERR_clear_error();
	return rc;
}
