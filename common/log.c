/*
 * log - structured lines on stderr, logfmt or JSON.
 *
 * Each line is built in a stack buffer and handed to the kernel with one
 * write(2). A mutex keeps our own threads' lines whole even when a line
 * is longer than PIPE_BUF; against other processes sharing stderr (the
 * supervisor's children) the kernel keeps pipe writes of up to PIPE_BUF
 * (4 KiB) whole, so only lines near the cap could interleave there. A line
 * is capped at LOG_LINE_MAX bytes: an over-long value is cut and ends in
 * "...", so one runaway field cannot flood the log or hide the others'
 * shape. No allocation happens here, which lets util's out-of-memory path
 * log before it aborts. Not async-signal-safe (locks, gmtime_r): never call
 * it from a signal handler or between fork and exec in a threaded process.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 8192	/* whole line, newline included */
#define LOG_TAIL 16		/* kept free for the truncation marker and close */

/*
 * Set by log_init before any thread starts, read-only afterwards, so the
 * hot path takes no lock.
 */
static char log_component[64] = "pam-operator";
static bool log_json;
static enum log_level log_min = LOG_INFO;

/* Serialises writes so one thread's long line is never split by another's. */
static pthread_mutex_t log_write_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

/* A line under construction; trunc is set once anything failed to fit. */
struct log_buf {
	char buf[LOG_LINE_MAX];
	size_t len;
	bool trunc;
};

/* How a string is being written: logfmt unquoted or quoted, or JSON. */
enum log_mode { LOG_BARE, LOG_QUOTED, LOG_JSONSTR };

/* log_put - append n bytes unless that would eat into the reserved tail. */
static bool
log_put(struct log_buf *b, const char *s, size_t n)
{
	if (b->trunc || b->len + n > LOG_LINE_MAX - LOG_TAIL) {
		b->trunc = true;
		return false;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	return true;
}

/* log_put_tail - append into the reserved tail; only closing bytes go here. */
static void
log_put_tail(struct log_buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n <= LOG_LINE_MAX) {
		memcpy(b->buf + b->len, s, n);
		b->len += n;
	}
}

/*
 * log_utf8_len - length of the valid UTF-8 sequence starting at s, or 0
 * if the bytes there are not one (overlong forms, surrogates and values
 * past U+10FFFF included), so JSON output always stays valid UTF-8.
 */
static size_t
log_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned int cp, min;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;	/* also stops at the NUL */
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* log_needs_quote - true if a logfmt value cannot be written bare. */
static bool
log_needs_quote(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n;

	if (*p == '\0')
		return true;
	for (; *p != '\0'; p += n) {
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == 0x7f)
			return true;
		n = log_utf8_len(p);
		if (n == 0)
			return true;
	}
	return false;
}

/*
 * log_escape - append s, escaped for mode, one character at a time so a
 * cut never lands inside an escape or a multi-byte character. Returns
 * false if it ran out of room.
 */
static bool
log_escape(struct log_buf *b, const char *s, enum log_mode mode)
{
	const unsigned char *p = (const unsigned char *)s;
	char tmp[8];
	size_t n, used;

	while (*p != '\0') {
		const char *out = tmp;

		used = 1;
		n = 2;
		if (mode == LOG_BARE) {
			used = n = log_utf8_len(p);
			out = (const char *)p;
		} else if (*p == '"' || *p == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)*p;
		} else if (*p == '\n') {
			memcpy(tmp, "\\n", 2);
		} else if (*p == '\t') {
			memcpy(tmp, "\\t", 2);
		} else if (*p == '\r') {
			memcpy(tmp, "\\r", 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
		} else if ((used = log_utf8_len(p)) == 0) {
			/* Not UTF-8: JSON gets U+FFFD, logfmt keeps the byte's value. */
			used = 1;
			if (mode == LOG_JSONSTR)
				n = (size_t)snprintf(tmp, sizeof(tmp), "\\ufffd");
			else
				n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
		} else {
			n = used;
			out = (const char *)p;
		}
		if (!log_put(b, out, n))
			return false;
		p += used;
	}
	return true;
}

/*
 * log_value - append a value (v may be NULL). When it does not fit, it is
 * cut, marked "...", and closed, so the line stays parseable.
 */
static void
log_value(struct log_buf *b, const char *v)
{
	enum log_mode mode;

	if (v == NULL)
		v = "(null)";
	if (log_json)
		mode = LOG_JSONSTR;
	else
		mode = log_needs_quote(v) ? LOG_QUOTED : LOG_BARE;

	if (mode != LOG_BARE && !log_put(b, "\"", 1)) {
		log_put_tail(b, "\"...\"");
		return;
	}
	if (!log_escape(b, v, mode))
		log_put_tail(b, "...");
	if (mode != LOG_BARE)
		log_put_tail(b, "\"");
}

/*
 * log_key - append the separator and a key. logfmt keys have no quoting,
 * so characters that would break the pair are replaced with '_'.
 */
static bool
log_key(struct log_buf *b, const char *k, bool first)
{
	char c;

	if (log_json) {
		return log_put(b, first ? "\"" : ",\"", first ? 1 : 2) &&
		    log_escape(b, k, LOG_JSONSTR) && log_put(b, "\":", 2);
	}
	if (!first && !log_put(b, " ", 1))
		return false;
	if (*k == '\0')
		return log_put(b, "_=", 2);
	for (; *k != '\0'; k++) {
		c = *k;
		if ((unsigned char)c <= ' ' || c == '=' || c == '"' ||
		    (unsigned char)c >= 0x7f)
			c = '_';
		if (!log_put(b, &c, 1))
			return false;
	}
	return log_put(b, "=", 1);
}

/*
 * log_field - append one key/value pair. If not even the key fits, the
 * pair is dropped whole and a bare "..." key marks the loss.
 */
static void
log_field(struct log_buf *b, const char *k, const char *v, bool first)
{
	size_t mark = b->len;

	if (b->trunc)
		return;
	if (!log_key(b, k, first)) {
		b->len = mark;
		log_put_tail(b, log_json ? ",\"...\":true" : " ...");
		return;
	}
	log_value(b, v);
}

/* log_write_all - write the line, retrying only on interruption. */
static void
log_write_all(const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(STDERR_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* nowhere left to report a logging failure */
		p += w;
		n -= (size_t)w;
	}
}

/* log_now - current UTC time with milliseconds, RFC 3339. */
static void
log_now(char out[32])
{
	struct timespec ts;
	struct tm tm;
	unsigned int ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
		snprintf(out, 32, "0000-00-00T00:00:00.000Z");
		return;
	}
	ms = (unsigned int)(ts.tv_nsec / 1000000) % 1000u;
	snprintf(out + 19, 32 - 19, ".%03uZ", ms);
}

/* log_init - see log.h; call before starting threads. */
void
log_init(const char *component, bool json, enum log_level min)
{
	if (component != NULL)
		snprintf(log_component, sizeof(log_component), "%s", component);
	log_json = json;
	log_min = min;
}

/* log_level_parse - see log.h; case does not matter. */
int
log_level_parse(const char *s)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = LOG_DEBUG; i <= LOG_ERROR; i++) {
		if (strcasecmp(s, log_names[i]) == 0)
			return i;
	}
	return -1;
}

/* log_enabled - whether a line at lvl would be written. */
bool
log_enabled(enum log_level lvl)
{
	return lvl >= log_min;
}

/* log_vkv - log_kv with the pairs in a va_list. */
void
log_vkv(enum log_level lvl, const char *msg, va_list ap)
{
	struct log_buf b;
	char ts[32];
	const char *k, *v;

	if (lvl < log_min)
		return;
	if (lvl > LOG_ERROR)
		lvl = LOG_ERROR;

	b.len = 0;
	b.trunc = false;
	log_now(ts);
	if (log_json)
		log_put(&b, "{", 1);
	log_field(&b, "ts", ts, true);
	log_field(&b, "level", log_names[lvl], false);
	log_field(&b, "component", log_component, false);
	log_field(&b, "msg", msg != NULL ? msg : "", false);

	/*
	 * Pairs end at a NULL key. A NULL value also ends them: it may be
	 * the sentinel of an odd-length list, and reading past it is
	 * undefined.
	 */
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		log_field(&b, k, v, false);
		if (v == NULL)
			break;
	}

	if (log_json)
		log_put_tail(&b, "}");
	log_put_tail(&b, "\n");
	pthread_mutex_lock(&log_write_mu);
	log_write_all(b.buf, b.len);
	pthread_mutex_unlock(&log_write_mu);
}

/* log_kv - see log.h. */
void
log_kv(enum log_level lvl, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	log_vkv(lvl, msg, ap);
	va_end(ap);
}

/* log_msg - see log.h; the formatted text is the msg field. */
void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_kv(lvl, msg, NULL);
}
