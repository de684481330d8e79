/*
 * secret - a value that must never leave guarded memory: PAM access
 * keys and fetched vault values. Backed by sodium_malloc (guard pages,
 * canary, mlock'ed, excluded from core dumps) and kept PROT_NONE except
 * between secret_open and secret_close.
 */
#ifndef PAMOP_SECRET_H
#define PAMOP_SECRET_H

#include <stddef.h>

struct secret {
	unsigned char *buf;  /* len bytes plus a NUL; NULL when empty-unset */
	size_t len;
};

/* secret_set - copy len bytes of src into fresh guarded memory (NUL-
 * terminated), leave it no-access. Returns 0, or -1 if allocation failed. */
int secret_set(struct secret *s, const void *src, size_t len);
/* secret_open - make readable. secret_close - make no-access again. */
void secret_open(const struct secret *s);
void secret_close(const struct secret *s);
/* secret_free - zero and release; safe on an unset secret. */
void secret_free(struct secret *s);

#endif
