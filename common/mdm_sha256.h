/* SHA-256 of a buffer (OpenSSL's EVP, already linked for nkeys): the
 * digest of an Object Store object (ADR-20) and of a book checkpoint. */
#ifndef MDM_SHA256_H
#define MDM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define MDM_SHA256_LEN 32

/* out[0..32) = SHA-256(p[0..n)). 0, or -ENOMEM / -EIO from OpenSSL. */
int mdm_sha256(const void *p, size_t n, uint8_t out[MDM_SHA256_LEN]);

#endif
