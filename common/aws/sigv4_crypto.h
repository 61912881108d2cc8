/*
 * Private to sigv4.c: the hashing and signing half of SigV4. Each thread
 * keeps its fetched algorithms and an HMAC context keyed with the last
 * derived signing key (secret, date, region, service), so a signature
 * costs one HMAC; the secret is compared in constant time and wiped when
 * replaced or when the thread ends. tg_sha256_hex is declared in sigv4.h.
 */
#ifndef TG_SIGV4_CRYPTO_H
#define TG_SIGV4_CRYPTO_H

#include <stddef.h>

#include "sigv4.h"

/* signature = hex(HMAC(kSigning of params, sts)); 0, or -1 on failure.
 * params must have passed sigv4.c's checks (lengths capped). */
int tg_sigv4_sign_sts(const char *sts, size_t sts_len,
                      const tg_sigv4_params_t *params, char signature[65]);

#endif
