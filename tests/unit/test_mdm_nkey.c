#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include "mdm_err.h"
#include "mdm_nkey.h"

/* Published key pairs: a user from nats.go's test suite (its JWT's subject is
 * this public key) and an account from the NATS auth-callout examples; both
 * cross-checked with Python's `cryptography` Ed25519. */
static const struct {
	const char *seed, *pub;
	enum mdm_nkey_type type;
} pairs[] = {
	{ "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY",
	  "UAT6BWCSCWLUKJT6K6MBJJOEOTXZ5AJDOYKNEVRFC7VNO6OA43N4TRNO", MDM_NKEY_USER },
	{ "SAANDLKMXL6CUS3CP52WIXBEDN6YJ545GDKC65U5JZPPV6WH6ESWUA6YAI",
	  "ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA", MDM_NKEY_ACCOUNT },
};

static void test_crc16_xmodem(void **state)
{
	assert_int_equal(mdm_nkey_crc16((const uint8_t *)"123456789", 9), 0x31C3); /* the CRC catalogue's check */
	assert_int_equal(mdm_nkey_crc16(NULL, 0), 0);
}

static void test_known_pairs(void **state)
{
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char pub[MDM_NKEY_PUBLIC_LEN + 1], again[MDM_NKEY_SEED_LEN + 1];
		uint8_t raw[MDM_NKEY_RAW_LEN];
		enum mdm_nkey_type type;

		assert_int_equal(mdm_nkey_public_from_seed(pairs[i].seed, strlen(pairs[i].seed), pub), 0);
		assert_string_equal(pub, pairs[i].pub);
		assert_int_equal(mdm_nkey_seed_decode(pairs[i].seed, MDM_NKEY_SEED_LEN, &type, raw), 0);
		assert_int_equal(type, pairs[i].type);
		assert_int_equal(mdm_nkey_seed_encode(type, raw, again), 0);
		assert_string_equal(again, pairs[i].seed);
	}
}

/* Every way a seed can be wrong, each refused with its own reason. */
static void test_bad_seeds(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4G", "characters" },     /* truncated */
		{ "UAT6BWCSCWLUKJT6K6MBJJOEOTXZ5AJDOYKNEVRFC7VNO6OA43N4TRNO", "characters" },     /* a public key */
		{ "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4G1", "base32" },        /* '1' */
		{ "suamk2fg4mi6ue3acf3fk3oiqbceiezv7nswffew63uxmrlfm2xlaxk4gy", "base32" },        /* lower case */
		{ "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GA", "checksum" },      /* last char */
		{ "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GZ", "last character" }, /* unused bits set */
		{ "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW64UXMRLFM2XLAXK4GY", "checksum" },      /* one inside */
		{ "PUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXKN24", "not an nkey seed" }, /* private-key prefix */
		{ "SFAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXMLAU", "unknown key type" }, /* type 5 << 3 */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char pub[MDM_NKEY_PUBLIC_LEN + 1];

		mdm_err_clear();
		assert_int_equal(mdm_nkey_public_from_seed(bad[i].text, strlen(bad[i].text), pub), -EINVAL);
		if (!strstr(mdm_err_last(), bad[i].why))
			fail_msg("case %zu: '%s' does not say '%s'", i, mdm_err_last(), bad[i].why);
		/* the error text never carries the key */
		assert_null(strstr(mdm_err_last(), "MK2FG4MI6"));
	}
}

static void test_generate(void **state)
{
	static const struct {
		enum mdm_nkey_type type;
		char letter;
	} types[] = {
		{ MDM_NKEY_USER, 'U' },     { MDM_NKEY_ACCOUNT, 'A' }, { MDM_NKEY_OPERATOR, 'O' },
		{ MDM_NKEY_SERVER, 'N' },   { MDM_NKEY_CLUSTER, 'C' },
	};
	char seed[MDM_NKEY_SEED_LEN + 1], pub[MDM_NKEY_PUBLIC_LEN + 1], derived[MDM_NKEY_PUBLIC_LEN + 1];
	char first[MDM_NKEY_SEED_LEN + 1];

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		enum mdm_nkey_type t;
		uint8_t raw[MDM_NKEY_RAW_LEN];

		assert_int_equal(mdm_nkey_generate(types[i].type, seed, pub), 0);
		assert_int_equal(strlen(seed), MDM_NKEY_SEED_LEN);
		assert_int_equal(strlen(pub), MDM_NKEY_PUBLIC_LEN);
		assert_int_equal(seed[0], 'S');
		assert_int_equal(seed[1], types[i].letter);
		assert_int_equal(pub[0], types[i].letter);
		assert_int_equal(mdm_nkey_public_from_seed(seed, MDM_NKEY_SEED_LEN, derived), 0);
		assert_string_equal(derived, pub);
		assert_int_equal(mdm_nkey_seed_decode(seed, MDM_NKEY_SEED_LEN, &t, raw), 0);
		assert_int_equal(t, types[i].type);
	}
	/* two draws differ */
	assert_int_equal(mdm_nkey_generate(MDM_NKEY_USER, first, pub), 0);
	assert_int_equal(mdm_nkey_generate(MDM_NKEY_USER, seed, pub), 0);
	assert_string_not_equal(first, seed);
	assert_int_equal(mdm_nkey_generate((enum mdm_nkey_type)(5 << 3), seed, pub), -EINVAL);
}

static void test_seed_find(void **state)
{
	static const char creds[] =
		"-----BEGIN NATS USER JWT-----\n"
		"eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVQVQ2QldDU0NXTFVLSlQ2SzZNQkpKT0VPVFha\n"
		"------END NATS USER JWT------\n\n"
		"************************* IMPORTANT *************************\n"
		"NKEY Seed printed below can be used to sign and prove identity.\n\n"
		"-----BEGIN USER NKEY SEED-----\r\n"
		"  SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY \r\n"
		"------END USER NKEY SEED------\n";
	const char *s = NULL;

	assert_int_equal(mdm_nkey_seed_find(creds, strlen(creds), &s), 0);
	assert_memory_equal(s, pairs[0].seed, MDM_NKEY_SEED_LEN);
	assert_int_equal(mdm_nkey_seed_find(pairs[0].seed, MDM_NKEY_SEED_LEN, &s), 0); /* no newline */
	assert_ptr_equal(s, pairs[0].seed);
	assert_int_equal(mdm_nkey_seed_find("", 0, &s), -ENOENT);
	assert_int_equal(mdm_nkey_seed_find(pairs[0].pub, MDM_NKEY_PUBLIC_LEN, &s), -ENOENT);
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/test_mdm_nkey.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_seed_file(void **state)
{
	char pub[MDM_NKEY_PUBLIC_LEN + 1];
	char *good = write_tmp("SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY\n");
	char *typo = write_tmp("SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GA\n");
	char *none = write_tmp("UAT6BWCSCWLUKJT6K6MBJJOEOTXZ5AJDOYKNEVRFC7VNO6OA43N4TRNO\n");

	assert_int_equal(mdm_nkey_public_from_seed_file(good, pub), 0);
	assert_string_equal(pub, pairs[0].pub);

	assert_int_equal(mdm_nkey_public_from_seed_file(typo, pub), -EINVAL);
	assert_non_null(strstr(mdm_err_last(), typo));
	assert_non_null(strstr(mdm_err_last(), "checksum"));
	assert_null(strstr(mdm_err_last(), "MK2FG4MI6"));

	assert_int_equal(mdm_nkey_public_from_seed_file(none, pub), -ENOENT);
	assert_non_null(strstr(mdm_err_last(), "no seed"));

	assert_int_equal(mdm_nkey_public_from_seed_file("/nonexistent/seed.nk", pub), -ENOENT);
	assert_non_null(strstr(mdm_err_last(), "/nonexistent/seed.nk: No such file"));
	unlink(good);
	unlink(typo);
	unlink(none);
	free(good);
	free(typo);
	free(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc16_xmodem), cmocka_unit_test(test_known_pairs), cmocka_unit_test(test_bad_seeds),
		cmocka_unit_test(test_generate),     cmocka_unit_test(test_seed_find),   cmocka_unit_test(test_seed_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
