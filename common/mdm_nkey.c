/* NATS NKeys text form and Ed25519 key derivation (libcrypto). Seeds are
 * private keys: every buffer that held one is wiped before it is released. */
#include "mdm_nkey.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mdm_err.h"

#define NKEY_PREFIX_SEED (18 << 3) /* encodes to 'S' */
#define NKEY_SEED_RAW (2 + MDM_NKEY_RAW_LEN + 2)
#define NKEY_PUBLIC_RAW (1 + MDM_NKEY_RAW_LEN + 2)
#define NKEY_FILE_MAX (16 * 1024) /* a .creds file is about 1 KiB */

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

uint16_t mdm_nkey_crc16(const uint8_t *p, size_t len)
{
	uint16_t crc = 0;

	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
	}
	return crc;
}

static bool type_valid(enum mdm_nkey_type t)
{
	switch (t) {
	case MDM_NKEY_ACCOUNT:
	case MDM_NKEY_CLUSTER:
	case MDM_NKEY_SERVER:
	case MDM_NKEY_OPERATOR:
	case MDM_NKEY_USER:
		return true;
	}
	return false;
}

/* Base32 of src[0..n) into out, which holds (n * 8 + 4) / 5 chars + NUL. */
static void b32_encode(const uint8_t *src, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | src[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32_alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32_alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

/* Decode exactly `cap` bytes from s[0..len); -EINVAL on a character outside
 * the alphabet or a length that does not give `cap` bytes, -ERANGE when the
 * unused low bits of the last character are not zero (no encoder writes
 * them, so it is a typo the checksum cannot see). */
static int b32_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	if (len != (cap * 8 + 4) / 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		const char *p = s[i] ? strchr(b32_alphabet, s[i]) : NULL;

		if (!p)
			return -EINVAL;
		acc = (acc << 5) | (uint32_t)(p - b32_alphabet);
		bits += 5;
		if (bits >= 8) {
			out[o++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	if (o != cap)
		return -EINVAL;
	return bits > 0 && (acc & ((1u << bits) - 1)) != 0 ? -ERANGE : 0;
}

static void put_crc(uint8_t *raw, size_t n)
{
	uint16_t crc = mdm_nkey_crc16(raw, n);

	raw[n] = (uint8_t)(crc & 0xff);
	raw[n + 1] = (uint8_t)(crc >> 8);
}

int mdm_nkey_public_encode(enum mdm_nkey_type type, const uint8_t pub[MDM_NKEY_RAW_LEN],
			   char out[MDM_NKEY_PUBLIC_LEN + 1])
{
	uint8_t raw[NKEY_PUBLIC_RAW];

	if (!type_valid(type))
		return mdm_err_set(-EINVAL, "nkey: unknown key type %d", (int)type);
	raw[0] = (uint8_t)type;
	memcpy(raw + 1, pub, MDM_NKEY_RAW_LEN);
	put_crc(raw, 1 + MDM_NKEY_RAW_LEN);
	b32_encode(raw, sizeof(raw), out);
	return 0;
}

int mdm_nkey_seed_encode(enum mdm_nkey_type type, const uint8_t seed[MDM_NKEY_RAW_LEN],
			 char out[MDM_NKEY_SEED_LEN + 1])
{
	uint8_t raw[NKEY_SEED_RAW];

	if (!type_valid(type))
		return mdm_err_set(-EINVAL, "nkey: unknown key type %d", (int)type);
	raw[0] = (uint8_t)(NKEY_PREFIX_SEED | ((unsigned)type >> 5));
	raw[1] = (uint8_t)(((unsigned)type & 31) << 3);
	memcpy(raw + 2, seed, MDM_NKEY_RAW_LEN);
	put_crc(raw, 2 + MDM_NKEY_RAW_LEN);
	b32_encode(raw, sizeof(raw), out);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int mdm_nkey_seed_decode(const char *s, size_t len, enum mdm_nkey_type *type, uint8_t seed[MDM_NKEY_RAW_LEN])
{
	uint8_t raw[NKEY_SEED_RAW];
	unsigned t;
	int rc = 0;

	if (len != MDM_NKEY_SEED_LEN)
		return mdm_err_set(-EINVAL, "not an nkey seed: %zu characters, a seed has %d", len, MDM_NKEY_SEED_LEN);
	if ((rc = b32_decode(s, len, raw, sizeof(raw))) != 0) {
		rc = mdm_err_set(-EINVAL, rc == -ERANGE ? "not an nkey seed: its last character is impossible (mistyped?)"
						   : "not an nkey seed: a character is outside the base32 alphabet A-Z 2-7");
		goto out;
	}
	if (mdm_nkey_crc16(raw, NKEY_SEED_RAW - 2) != (uint16_t)(raw[NKEY_SEED_RAW - 2] | raw[NKEY_SEED_RAW - 1] << 8)) {
		rc = mdm_err_set(-EINVAL, "not an nkey seed: checksum mismatch (mistyped or truncated)");
		goto out;
	}
	if ((raw[0] & 0xf8) != NKEY_PREFIX_SEED) {
		rc = mdm_err_set(-EINVAL, "not an nkey seed (a public key or another kind of key?)");
		goto out;
	}
	t = ((raw[0] & 7u) << 5) | ((raw[1] & 0xf8u) >> 3);
	if (!type_valid((enum mdm_nkey_type)t)) {
		rc = mdm_err_set(-EINVAL, "nkey seed of unknown key type %u", t);
		goto out;
	}
	*type = (enum mdm_nkey_type)t;
	memcpy(seed, raw + 2, MDM_NKEY_RAW_LEN);
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

/* Ed25519 public key of a 32-byte seed. */
static int ed25519_public(const uint8_t seed[MDM_NKEY_RAW_LEN], uint8_t pub[MDM_NKEY_RAW_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, MDM_NKEY_RAW_LEN);
	size_t n = MDM_NKEY_RAW_LEN;
	int ok;

	if (!k)
		return mdm_err_set(-EIO, "nkey: libcrypto cannot load an Ed25519 key");
	ok = EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == MDM_NKEY_RAW_LEN;
	EVP_PKEY_free(k);
	return ok ? 0 : mdm_err_set(-EIO, "nkey: libcrypto cannot derive the Ed25519 public key");
}

int mdm_nkey_public_from_seed(const char *s, size_t len, char out[MDM_NKEY_PUBLIC_LEN + 1])
{
	uint8_t seed[MDM_NKEY_RAW_LEN], pub[MDM_NKEY_RAW_LEN];
	enum mdm_nkey_type type;
	int rc;

	rc = mdm_nkey_seed_decode(s, len, &type, seed);
	if (rc == 0)
		rc = ed25519_public(seed, pub);
	if (rc == 0)
		rc = mdm_nkey_public_encode(type, pub, out);
	OPENSSL_cleanse(seed, sizeof(seed));
	return rc;
}

int mdm_nkey_seed_find(const char *text, size_t len, const char **seed)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *b = p;

		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (e - b == MDM_NKEY_SEED_LEN && b[0] == 'S') {
			*seed = b;
			return 0;
		}
		p = nl ? nl + 1 : end;
	}
	return -ENOENT;
}

int mdm_nkey_public_from_seed_file(const char *path, char out[MDM_NKEY_PUBLIC_LEN + 1])
{
	char buf[NKEY_FILE_MAX];
	const char *seed;
	size_t n = 0;
	ssize_t r;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mdm_err_set(-errno, "nkey seed file %s: %s", path, strerror(errno));
	while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = mdm_err_set(-errno, "nkey seed file %s: %s", path, strerror(errno));
			close(fd);
			goto out;
		}
		n += (size_t)r;
	}
	close(fd);
	if (n == sizeof(buf)) {
		rc = mdm_err_set(-EFBIG, "nkey seed file %s: larger than %d KiB, not a seed file", path,
				 NKEY_FILE_MAX / 1024);
		goto out;
	}
	if (mdm_nkey_seed_find(buf, n, &seed) != 0) {
		rc = mdm_err_set(-ENOENT, "nkey seed file %s: no seed in it (a line of %d characters starting with S)",
				 path, MDM_NKEY_SEED_LEN);
		goto out;
	}
	rc = mdm_nkey_public_from_seed(seed, MDM_NKEY_SEED_LEN, out);
	if (rc != 0)
		mdm_err_set(rc, "nkey seed file %s: %s", path, mdm_err_last());
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int mdm_nkey_generate(enum mdm_nkey_type type, char seed_out[MDM_NKEY_SEED_LEN + 1],
		      char pub_out[MDM_NKEY_PUBLIC_LEN + 1])
{
	uint8_t seed[MDM_NKEY_RAW_LEN], pub[MDM_NKEY_RAW_LEN];
	size_t n = 0;
	int rc;

	if (!type_valid(type))
		return mdm_err_set(-EINVAL, "nkey: unknown key type %d", (int)type);
	while (n < sizeof(seed)) {
		ssize_t r = getrandom(seed + n, sizeof(seed) - n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = mdm_err_set(-EIO, "nkey: getrandom: %s", strerror(errno));
			goto out;
		}
		n += (size_t)r;
	}
	rc = ed25519_public(seed, pub);
	if (rc == 0)
		rc = mdm_nkey_seed_encode(type, seed, seed_out);
	if (rc == 0)
		rc = mdm_nkey_public_encode(type, pub, pub_out);
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	return rc;
}
