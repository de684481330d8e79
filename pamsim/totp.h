/*
 * totp - RFC 6238 time-based one-time passwords (HMAC-SHA1) and the
 * RFC 4648 base32 decoding that OTP seeds are usually written in.
 * Used by pamsim to answer OTP vault items; kept out of main.c so the
 * unit tests can check it against the RFC vectors.
 */
#ifndef PAMSIM_TOTP_H
#define PAMSIM_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define PAMSIM_TOTP_STEP 30	/* seconds per code */

/*
 * pamsim_base32_decode - decode base32 text (either case; spaces, dashes
 * and '=' padding ignored) into out. Returns the number of bytes written,
 * or -1 on a bad character or if out (cap bytes) is too small.
 */
int pamsim_base32_decode(const char *in, unsigned char *out, size_t cap);

/*
 * pamsim_totp - the RFC 6238 code for key at unix_time, digits 6..8,
 * written zero-padded and NUL-terminated to out. Returns 0, or -1 on
 * bad arguments or an HMAC failure.
 */
int pamsim_totp(const unsigned char *key, size_t keylen, uint64_t unix_time,
		int digits, char out[16]);

/* pamsim_totp_valid_for - seconds left in the step containing unix_time. */
int pamsim_totp_valid_for(uint64_t unix_time);

#endif
