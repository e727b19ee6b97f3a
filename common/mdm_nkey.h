/* NATS NKeys: Ed25519 keys in NATS's text form, so the daemons can derive a
 * user's public key from its seed file (one setting, nats.nkey_seed, instead
 * of a public key that could disagree with it) and `mdmesh nkey` can make key
 * pairs on hosts without the nk tool.
 *
 * Text form (nats-io/nkeys): base32 (RFC 4648 alphabet, no padding) of
 *   public key: [type][32-byte Ed25519 public key][CRC16 LE]     -> 56 chars, "U..." for a user
 *   seed:       [0x90 | type >> 5][(type & 31) << 3][32-byte Ed25519 seed][CRC16 LE] -> 58 chars, "SU..."
 * CRC16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0) of the bytes
 * before it. Pure functions except where noted; no NATS include. Not hot-path. */
#ifndef MDM_NKEY_H
#define MDM_NKEY_H

#include <stddef.h>
#include <stdint.h>

#define MDM_NKEY_RAW_LEN 32    /* Ed25519 seed or public key bytes */
#define MDM_NKEY_PUBLIC_LEN 56 /* characters of an encoded public key */
#define MDM_NKEY_SEED_LEN 58   /* characters of an encoded seed */

/* The key's role: the first byte of an encoded public key (its first letter). */
enum mdm_nkey_type {
	MDM_NKEY_ACCOUNT = 0,        /* 'A' */
	MDM_NKEY_CLUSTER = 2 << 3,   /* 'C' */
	MDM_NKEY_SERVER = 13 << 3,   /* 'N' */
	MDM_NKEY_OPERATOR = 14 << 3, /* 'O' */
	MDM_NKEY_USER = 20 << 3,     /* 'U' */
};

/* CRC-16/XMODEM of p[0..len). */
uint16_t mdm_nkey_crc16(const uint8_t *p, size_t len);

/* Encode a public key of `type` into out (MDM_NKEY_PUBLIC_LEN chars + NUL).
 * 0, or -EINVAL for an unknown type. */
int mdm_nkey_public_encode(enum mdm_nkey_type type, const uint8_t pub[MDM_NKEY_RAW_LEN],
			   char out[MDM_NKEY_PUBLIC_LEN + 1]);

/* Encode a seed of `type` into out (MDM_NKEY_SEED_LEN chars + NUL).
 * 0, or -EINVAL for an unknown type. */
int mdm_nkey_seed_encode(enum mdm_nkey_type type, const uint8_t seed[MDM_NKEY_RAW_LEN],
			 char out[MDM_NKEY_SEED_LEN + 1]);

/* Decode the seed text s[0..len) into its type and the 32 Ed25519 seed bytes.
 * The caller should wipe `seed` after use (it is a private key).
 * @return 0; -EINVAL with mdm_err_last() saying why: wrong length, not base32,
 *         bad checksum, not a seed (e.g. a public key), unknown key type. */
int mdm_nkey_seed_decode(const char *s, size_t len, enum mdm_nkey_type *type, uint8_t seed[MDM_NKEY_RAW_LEN]);

/* The encoded public key of the seed text s[0..len) (Ed25519 through
 * OpenSSL's libcrypto). 0; -EINVAL (as mdm_nkey_seed_decode); -EIO (libcrypto
 * failed). */
int mdm_nkey_public_from_seed(const char *s, size_t len, char out[MDM_NKEY_PUBLIC_LEN + 1]);

/* Find the seed in a seed file's text: the first line that, without
 * surrounding blanks, is MDM_NKEY_SEED_LEN characters starting with 'S' (a
 * file from `nk -gen user` or `mdmesh nkey gen`, or the seed section of a
 * .creds file). Sets *seed to it within `text` (not NUL-terminated; length
 * MDM_NKEY_SEED_LEN). 0, or -ENOENT when there is none. */
int mdm_nkey_seed_find(const char *text, size_t len, const char **seed);

/* Read the seed file at `path` and write the public key of its seed to out.
 * The file's bytes are wiped from memory before returning. Reads a file.
 * @return 0; -errno when the file cannot be read; -ENOENT (no seed in it),
 *         -EINVAL (a bad seed), -EFBIG (over 16 KiB); detail via mdm_err_last()
 *         ("nkey seed file PATH: reason"), never containing the seed. */
int mdm_nkey_public_from_seed_file(const char *path, char out[MDM_NKEY_PUBLIC_LEN + 1]);

/* Make a new key pair of `type` from the kernel's random source (getrandom).
 * 0, -EINVAL (type), -EIO (no randomness, libcrypto failure). */
int mdm_nkey_generate(enum mdm_nkey_type type, char seed[MDM_NKEY_SEED_LEN + 1], char pub[MDM_NKEY_PUBLIC_LEN + 1]);

#endif
