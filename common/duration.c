/*
 * duration - parse Go-style durations ("1h30m", "1.5s", "300ms").
 *
 * The rules follow Go's time.ParseDuration exactly, including its corner
 * cases, because users paste values they have tried with kubectl or in Go
 * tooling and expect the same answer here: "1.s" and ".5s" are accepted,
 * "." and ".s" are not; a fraction is scaled with double arithmetic (as
 * Go does) so results match to the nanosecond.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "duration.h"

#define DUR_LIMIT ((uint64_t)1 << 63)	/* |int64 min|, the largest magnitude */

struct dur_unit {
	const char *name;
	uint64_t ns;
};

/* Both micro spellings: U+00B5 (micro sign) and U+03BC (Greek mu). */
static const struct dur_unit dur_units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 },
	{ "\xce\xbcs", 1000 },
	{ "ms", 1000000 },
	{ "s", 1000000000 },
	{ "m", 60ULL * 1000000000 },
	{ "h", 3600ULL * 1000000000 },
};

/* dur_is_digit - ASCII digit test that ignores the locale. */
static bool
dur_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * dur_int - read the digits at *sp into *v, advancing *sp. Fails when the
 * value would pass 2^63, the largest magnitude a duration can have.
 */
static int
dur_int(const char **sp, uint64_t *v)
{
	const char *s = *sp;
	uint64_t x = 0;

	for (; dur_is_digit(*s); s++) {
		if (x > DUR_LIMIT / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > DUR_LIMIT)
			return -1;
	}
	*sp = s;
	*v = x;
	return 0;
}

/*
 * dur_frac - read the digits after a '.' into *f with *scale a power of
 * ten (value = f / scale). Digits past what fits are skipped, not an
 * error: they are below nanosecond precision anyway.
 */
static void
dur_frac(const char **sp, uint64_t *f, double *scale)
{
	const char *s = *sp;
	uint64_t x = 0, y;
	double sc = 1;
	bool full = false;

	for (; dur_is_digit(*s); s++) {
		if (full)
			continue;
		if (x > (DUR_LIMIT - 1) / 10) {
			full = true;
			continue;
		}
		y = x * 10 + (uint64_t)(*s - '0');
		if (y > DUR_LIMIT) {
			full = true;
			continue;
		}
		x = y;
		sc *= 10;
	}
	*sp = s;
	*f = x;
	*scale = sc;
}

/* dur_unit_lookup - nanoseconds per unit for s[0..n), or 0 if unknown. */
static uint64_t
dur_unit_lookup(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
		if (strlen(dur_units[i].name) == n &&
		    memcmp(dur_units[i].name, s, n) == 0)
			return dur_units[i].ns;
	}
	return 0;
}

/* duration_parse - see duration.h. */
int
duration_parse(const char *s, int64_t *ns)
{
	uint64_t d = 0;
	bool neg = false;

	if (s == NULL)
		return -1;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}

	/* A bare zero is the one number allowed without a unit. */
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (*s == '\0')
		return -1;

	while (*s != '\0') {
		const char *start = s, *u;
		uint64_t v = 0, f = 0, unit;
		double scale = 1;
		bool pre, post = false;

		if (*s != '.' && !dur_is_digit(*s))
			return -1;
		if (dur_int(&s, &v) < 0)
			return -1;
		pre = s != start;

		if (*s == '.') {
			start = ++s;
			dur_frac(&s, &f, &scale);
			post = s != start;
		}
		if (!pre && !post)
			return -1;

		/* The unit runs until the next number starts. */
		for (u = s; *s != '\0' && *s != '.' && !dur_is_digit(*s); s++)
			;
		unit = dur_unit_lookup(u, (size_t)(s - u));
		if (unit == 0)
			return -1;

		if (v > DUR_LIMIT / unit)
			return -1;
		v *= unit;
		if (f > 0) {
			/* Same double arithmetic as Go, so results agree. */
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > DUR_LIMIT)
				return -1;
		}
		d += v;
		if (d > DUR_LIMIT)
			return -1;
	}

	if (neg) {
		/* -(2^63) is representable; compute it without signed overflow. */
		*ns = d == DUR_LIMIT ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > DUR_LIMIT - 1)
		return -1;
	*ns = (int64_t)d;
	return 0;
}
