/*
 * util - small helpers every program here needs: allocation that never
 * returns NULL, bounded file reads, RFC 3339 times, clocks, SHA-256 and
 * base64 (both through libsodium, which the programs link anyway).
 *
 * The x-allocators log one line and abort on out-of-memory: a daemon that
 * cannot allocate a few bytes has no sane way to continue, and checking
 * every small allocation would bury the logic.
 */
#ifndef PAMOP_UTIL_H
#define PAMOP_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

void *util_xmalloc(size_t n);
void *util_xcalloc(size_t nmemb, size_t size);
void *util_xrealloc(void *p, size_t n);
char *util_xstrdup(const char *s);

/* util_strdup_printf - formatted string in fresh memory (free it). */
char *util_strdup_printf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
char *util_vstrdup_printf(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));

/*
 * util_read_file - read all of path into *out (NUL-terminated, free it;
 * *len gets the byte count unless len is NULL). Returns 0, or -1 with
 * errno set: EFBIG when the file holds more than max bytes. Memory that
 * held the contents is zeroed before it is released, since callers read
 * tokens and keys with this.
 */
int util_read_file(const char *path, char **out, size_t *len, size_t max);

/* util_rfc3339 - t as UTC "2026-12-04T15:26:08Z". */
void util_rfc3339(time_t t, char out[32]);
/*
 * util_parse_rfc3339 - parse "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)"
 * into *t (fractions are dropped). Returns 0, or -1 if s is not one.
 */
int util_parse_rfc3339(const char *s, time_t *t);

/* util_now_ms - wall clock; util_mono_ms - for intervals, never jumps. */
int64_t util_now_ms(void);
int64_t util_mono_ms(void);

/* util_sha256_hex - lower-case hex SHA-256 of data. */
void util_sha256_hex(const void *data, size_t len, char out[65]);

/* util_b64_encode - standard base64 with padding (free the result). */
char *util_b64_encode(const void *data, size_t len);
/*
 * util_b64_decode - strict standard base64 with padding: any other byte,
 * missing padding or stray bits fail with -1. *out is NUL-terminated
 * (free it); *len is the decoded length.
 */
int util_b64_decode(const char *s, unsigned char **out, size_t *len);

/* util_wipe_free - zero strlen(s) bytes of s, then free it; NULL is fine. */
void util_wipe_free(char *s);

#endif
