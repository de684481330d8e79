/*
 * totp - RFC 6238 TOTP (SHA1) and RFC 4648 base32 for pamsim.
 * The HMAC is OpenSSL's; only the RFC 4226 truncation and the base32
 * alphabet are written here, as no packaged library offers them.
 */
#include "totp.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* b32_value - the 5-bit value of one base32 character, or -1. */
static int b32_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

/* pamsim_base32_decode - see totp.h. */
int pamsim_base32_decode(const char *in, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (; *in; in++) {
		int v;

		/* Seeds are often shown grouped or padded: skip that. */
		if (*in == ' ' || *in == '-' || *in == '=')
			continue;
		v = b32_value(*in);
		if (v < 0)
			return -1;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return (int)n;
}

/* pamsim_totp - see totp.h. */
int pamsim_totp(const unsigned char *key, size_t keylen, uint64_t unix_time,
		int digits, char out[16])
{
	static const uint32_t mod[] = { 1000000, 10000000, 100000000 };
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	uint64_t counter = unix_time / PAMSIM_TOTP_STEP;
	uint32_t bin;
	int off, i;

	if (digits < 6 || digits > 8 || keylen > 0x7fffffff)
		return -1;
	/* The counter is hashed as 8 big-endian bytes (RFC 4226 5.2). */
	for (i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(counter & 0xff);
		counter >>= 8;
	}
	if (!HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), mac, &maclen)
	    || maclen < 20)
		return -1;
	/* Dynamic truncation: 31 bits at the offset named by the last nibble. */
	off = mac[maclen - 1] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) |
	      ((uint32_t)mac[off + 1] << 16) |
	      ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	OPENSSL_cleanse(mac, sizeof(mac));
	/* %0*u pads to the requested width, as codes keep leading zeros. */
	snprintf(out, 16, "%0*u", digits, (unsigned)(bin % mod[digits - 6]));
	return 0;
}

/* pamsim_totp_valid_for - see totp.h. */
int pamsim_totp_valid_for(uint64_t unix_time)
{
	return PAMSIM_TOTP_STEP - (int)(unix_time % PAMSIM_TOTP_STEP);
}
