/*
 * wipe.c - zero-on-free allocator hooks for cJSON, libcurl and OpenSSL.
 * malloc_usable_size gives the size of a block the libraries allocated
 * with plain malloc, so no size prefix is needed and every hook mixes
 * freely with malloc and strdup.
 */
#include "wipe.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

/* wipe_free - see wipe.h. */
void wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* wipe_realloc - see wipe.h. Shrinking keeps the block (the tail is
 * wiped with it later); growing copies and wipes the old block. */
void *wipe_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (p == NULL)
		return malloc(n);
	if (n == 0) {
		wipe_free(p);
		return NULL;
	}
	old = malloc_usable_size(p);
	if (n <= old)
		return p;
	if ((q = malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, old);
	wipe_free(p);
	return q;
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file; (void)line;
	return malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file; (void)line;
	return wipe_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file; (void)line;
	wipe_free(p);
}

/* wipe_init - see wipe.h. OpenSSL first: it accepts new functions only
 * before its first allocation, which curl_global_init would make. */
int wipe_init(void)
{
	cJSON_Hooks h = { .malloc_fn = malloc, .free_fn = wipe_free };

	cJSON_InitHooks(&h);   /* a free_fn of its own also stops cJSON's realloc */
	if (CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) != 1)
		return -1;
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wipe_free, wipe_realloc,
	    strdup, calloc) != CURLE_OK)
		return -1;
	return 0;
}
