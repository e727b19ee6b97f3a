/* SHA-256 through OpenSSL's one-shot EVP_Digest. */
#include "mdm_sha256.h"

#include <errno.h>

#include <openssl/evp.h>

#include "mdm_err.h"

int mdm_sha256(const void *p, size_t n, uint8_t out[MDM_SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != MDM_SHA256_LEN)
		return mdm_err_set(-EIO, "sha256: OpenSSL EVP_Digest failed");
	return 0;
}
