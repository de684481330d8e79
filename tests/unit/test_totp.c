/*
 * test_totp - pamsim's TOTP and base32 against the RFC 6238, RFC 4226
 * and RFC 4648 test vectors.
 */
#include <check.h>
#include <string.h>

#include "../../pamsim/totp.h"

static const unsigned char rfc_key[] = "12345678901234567890";

/* rfc6238_sha1 - the SHA1 rows of RFC 6238 appendix B (8 digits). */
START_TEST(rfc6238_sha1)
{
	static const struct { uint64_t t; const char *code; } v[] = {
		{ 59ULL, "94287082" },
		{ 1111111109ULL, "07081804" },
		{ 1111111111ULL, "14050471" },
		{ 1234567890ULL, "89005924" },
		{ 2000000000ULL, "69279037" },
		{ 20000000000ULL, "65353130" },
	};
	char out[16];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_int_eq(pamsim_totp(rfc_key, 20, v[i].t, 8, out), 0);
		ck_assert_str_eq(out, v[i].code);
	}
}
END_TEST

/* rfc4226_six_digits - HOTP vectors: TOTP at t = 30*c is HOTP(c). */
START_TEST(rfc4226_six_digits)
{
	static const char *const codes[] = {
		"755224", "287082", "359152", "969429", "338314",
		"254676", "287922", "162583", "399871", "520489",
	};
	char out[16];
	uint64_t c;

	for (c = 0; c < 10; c++) {
		/* Any second inside the step gives the same code. */
		ck_assert_int_eq(pamsim_totp(rfc_key, 20, c * 30 + 29, 6,
					     out), 0);
		ck_assert_str_eq(out, codes[c]);
	}
}
END_TEST

/* bad_digits - only 6..8 digits are accepted. */
START_TEST(bad_digits)
{
	char out[16];

	ck_assert_int_eq(pamsim_totp(rfc_key, 20, 59, 5, out), -1);
	ck_assert_int_eq(pamsim_totp(rfc_key, 20, 59, 9, out), -1);
}
END_TEST

/* valid_for - seconds left in the 30 s step. */
START_TEST(valid_for)
{
	ck_assert_int_eq(pamsim_totp_valid_for(0), 30);
	ck_assert_int_eq(pamsim_totp_valid_for(29), 1);
	ck_assert_int_eq(pamsim_totp_valid_for(59), 1);
	ck_assert_int_eq(pamsim_totp_valid_for(1111111111), 29);
}
END_TEST

/* b32_rfc4648 - the RFC 4648 section 10 vectors, padded and not. */
START_TEST(b32_rfc4648)
{
	static const struct { const char *enc, *dec; } v[] = {
		{ "", "" },
		{ "MY======", "f" },
		{ "MZXQ====", "fo" },
		{ "MZXW6===", "foo" },
		{ "MZXW6YQ=", "foob" },
		{ "MZXW6YTB", "fooba" },
		{ "MZXW6YTBOI======", "foobar" },
		{ "mzxw6ytboi", "foobar" },
		{ "MZXW 6YTB-OI", "foobar" },
	};
	unsigned char out[32];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int n = pamsim_base32_decode(v[i].enc, out, sizeof(out));

		ck_assert_int_eq(n, (int)strlen(v[i].dec));
		ck_assert(memcmp(out, v[i].dec, (size_t)n) == 0);
	}
}
END_TEST

/* b32_rfc_key - the RFC 6238 seed as it is usually written. */
START_TEST(b32_rfc_key)
{
	unsigned char out[32];
	char code[16];
	int n = pamsim_base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
				     out, sizeof(out));

	ck_assert_int_eq(n, 20);
	ck_assert(memcmp(out, rfc_key, 20) == 0);
	ck_assert_int_eq(pamsim_totp(out, (size_t)n, 59, 8, code), 0);
	ck_assert_str_eq(code, "94287082");
}
END_TEST

/* b32_bad - characters outside the alphabet and overflow are refused. */
START_TEST(b32_bad)
{
	unsigned char out[4];

	ck_assert_int_eq(pamsim_base32_decode("MZ1W", out, sizeof(out)), -1);
	ck_assert_int_eq(pamsim_base32_decode("MZ8W", out, sizeof(out)), -1);
	ck_assert_int_eq(pamsim_base32_decode("MZ\"W", out, sizeof(out)), -1);
	ck_assert_int_eq(pamsim_base32_decode("MZXW6YTBOI", out,
					      sizeof(out)), -1);
}
END_TEST

/* totp_suite - TOTP and base32 cases. */
Suite *totp_suite(void)
{
	Suite *s = suite_create("totp");
	TCase *tc = tcase_create("rfc");

	tcase_add_test(tc, rfc6238_sha1);
	tcase_add_test(tc, rfc4226_six_digits);
	tcase_add_test(tc, bad_digits);
	tcase_add_test(tc, valid_for);
	tcase_add_test(tc, b32_rfc4648);
	tcase_add_test(tc, b32_rfc_key);
	tcase_add_test(tc, b32_bad);
	suite_add_tcase(s, tc);
	return s;
}
