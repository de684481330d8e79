/*
 * secret - guarded memory for access keys and vault values (secret.h).
 * libsodium does the work: guard pages, canary, mlock, MADV_DONTDUMP,
 * zeroing on free. This file only keeps the no-access default.
 */
#include "secret.h"

#include <string.h>

#include <sodium.h>

/*
 * secret_set - see secret.h. A secret that already holds a value is
 * released first, so re-setting never leaks locked pages; callers must
 * therefore start from a zeroed struct.
 */
int secret_set(struct secret *s, const void *src, size_t len)
{
	unsigned char *p;

	secret_free(s);
	/* sodium_malloc needs the library initialised; this is idempotent. */
	if (sodium_init() < 0 || len == (size_t)-1)
		return -1;
	p = sodium_malloc(len + 1);
	if (!p)
		return -1;
	if (len)
		memcpy(p, src, len);
	p[len] = '\0';
	sodium_mprotect_noaccess(p);
	s->buf = p;
	s->len = len;
	return 0;
}

/* secret_open - read-only access until secret_close; no-op when unset. */
void secret_open(const struct secret *s)
{
	if (s && s->buf)
		sodium_mprotect_readonly(s->buf);
}

/* secret_close - back to no access; no-op when unset. */
void secret_close(const struct secret *s)
{
	if (s && s->buf)
		sodium_mprotect_noaccess(s->buf);
}

/* secret_free - sodium_free zeroes before releasing, even from no-access. */
void secret_free(struct secret *s)
{
	if (!s)
		return;
	if (s->buf)
		sodium_free(s->buf);
	s->buf = NULL;
	s->len = 0;
}
