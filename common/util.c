/*
 * util - allocation, file, time, hash and base64 helpers (util.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "util.h"

/* util_oom - the one way out when memory runs out. */
static void __attribute__((noreturn))
util_oom(size_t n)
{
	log_msg(LOG_ERROR, "out of memory allocating %zu bytes", n);
	abort();
}

/* util_xmalloc - malloc that never returns NULL (0 bytes gets 1). */
void *
util_xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL)
		util_oom(n);
	return p;
}

/* util_xcalloc - calloc that never returns NULL; calloc checks overflow. */
void *
util_xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	p = calloc(nmemb, size);
	if (p == NULL)
		util_oom(size != 0 && nmemb > SIZE_MAX / size ? SIZE_MAX :
		    nmemb * size);
	return p;
}

/* util_xrealloc - realloc that never returns NULL. */
void *
util_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n != 0 ? n : 1);

	if (q == NULL)
		util_oom(n);
	return q;
}

/* util_xstrdup - strdup that never returns NULL. */
char *
util_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = util_xmalloc(n);

	memcpy(p, s, n);
	return p;
}

/* util_vstrdup_printf - measure, allocate, format. */
char *
util_vstrdup_printf(const char *fmt, va_list ap)
{
	va_list ap2;
	char *p;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		/* Only a bad format or conversion gets here: our bug. */
		log_msg(LOG_ERROR, "util_strdup_printf: cannot format \"%s\"",
		    fmt);
		abort();
	}
	p = util_xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

/* util_strdup_printf - see util.h. */
char *
util_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = util_vstrdup_printf(fmt, ap);
	va_end(ap);
	return p;
}

/* util_wipe_free - see util.h. */
void
util_wipe_free(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

/*
 * util_grow - move buf to a larger block, zeroing the old one rather
 * than letting realloc leave a copy of a key in freed memory.
 */
static char *
util_grow(char *buf, size_t used, size_t cap)
{
	char *p = malloc(cap);

	if (p == NULL)
		return NULL;
	if (used > 0)
		memcpy(p, buf, used);
	if (buf != NULL) {
		sodium_memzero(buf, used);
		free(buf);
	}
	return p;
}

/* util_read_file - see util.h. Also reads /proc files and pipes. */
int
util_read_file(const char *path, char **out, size_t *len, size_t max)
{
	struct stat st;
	char *buf = NULL, *nbuf;
	size_t used = 0, cap = 0, ncap;
	ssize_t r;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}

	/*
	 * st_size is a hint only: the file may change, /proc reports 0. One
	 * spare byte lets the read that sees EOF happen without a grow.
	 */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ?
	    (size_t)st.st_size + 2 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	if ((buf = util_grow(NULL, 0, cap)) == NULL)
		goto fail;
	for (;;) {
		if (used + 1 == cap) {
			if (used >= max) {
				/* Full at max: one more byte means too big. */
				char c;

				r = read(fd, &c, 1);
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0)
					goto fail;
				if (r > 0) {
					errno = EFBIG;
					goto fail;
				}
				break;
			}
			ncap = cap > max / 2 ? max + 1 : cap * 2;
			if ((nbuf = util_grow(buf, used, ncap)) == NULL)
				goto fail;
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + used, cap - 1 - used);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		used += (size_t)r;
	}
	close(fd);
	buf[used] = '\0';
	*out = buf;
	if (len != NULL)
		*len = used;
	return 0;

fail:
	err = errno;
	if (buf != NULL) {
		sodium_memzero(buf, cap);
		free(buf);
	}
	close(fd);
	errno = err;
	return -1;
}

/* util_rfc3339 - see util.h; times gmtime cannot express print as zero. */
void
util_rfc3339(time_t t, char out[32])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "0000-00-00T00:00:00Z");
}

/* util_digits - read exactly n decimal digits at s into *v. */
static int
util_digits(const char *s, int n, int *v)
{
	int i, x = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 0;
}

/* util_mdays - days in month mon (1-12) of year. */
static int
util_mdays(int year, int mon)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 2 && leap ? 29 : days[mon - 1];
}

/* util_parse_rfc3339 - see util.h. */
int
util_parse_rfc3339(const char *s, time_t *t)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p;
	time_t v;

	if (s == NULL || strlen(s) < 20)
		return -1;
	if (util_digits(s, 4, &y) || s[4] != '-' ||
	    util_digits(s + 5, 2, &mo) || s[7] != '-' ||
	    util_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    util_digits(s + 11, 2, &h) || s[13] != ':' ||
	    util_digits(s + 14, 2, &mi) || s[16] != ':' ||
	    util_digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > util_mdays(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return -1;

	p = s + 19;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (util_digits(p + 1, 2, &oh) || p[3] != ':' ||
		    util_digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	v = timegm(&tm);
	/* "+01:00" means local time is ahead of UTC: subtract the offset. */
	*t = v - (time_t)sign * (oh * 3600 + om * 60);
	return 0;
}

/* util_clock_ms - milliseconds on clock id. */
static int64_t
util_clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* util_now_ms - see util.h. */
int64_t
util_now_ms(void)
{
	return util_clock_ms(CLOCK_REALTIME);
}

/* util_mono_ms - see util.h. */
int64_t
util_mono_ms(void)
{
	return util_clock_ms(CLOCK_MONOTONIC);
}

/* util_sha256_hex - see util.h. */
void
util_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

/* util_b64_encode - see util.h. */
char *
util_b64_encode(const void *data, size_t len)
{
	size_t n;
	char *p;

	if (len > (SIZE_MAX - 4) / 4 * 3)
		util_oom(SIZE_MAX);
	n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	p = util_xmalloc(n);
	sodium_bin2base64(p, n, data, len, sodium_base64_VARIANT_ORIGINAL);
	return p;
}

/* util_b64_decode - see util.h. Failed output is wiped: it may be a key. */
int
util_b64_decode(const char *s, unsigned char **out, size_t *len)
{
	size_t slen = strlen(s), cap = slen / 4 * 3 + 3, n = 0;
	const char *end = NULL;
	unsigned char *p;

	p = util_xmalloc(cap + 1);
	if (sodium_base642bin(p, cap, s, slen, NULL, &n, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != s + slen) {
		sodium_memzero(p, cap + 1);
		free(p);
		errno = EINVAL;
		return -1;
	}
	p[n] = '\0';
	*out = p;
	*len = n;
	return 0;
}
