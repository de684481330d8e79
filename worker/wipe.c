/*
 * wipe.c - size-prefixed allocator for cJSON that zeroes on free.
 */
#include "wipe.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* The prefix keeps max_align_t alignment for whatever cJSON stores. */
#define WIPE_HDR sizeof(max_align_t)

static void *wipe_malloc(size_t n)
{
	unsigned char *p = malloc(n + WIPE_HDR);

	if (p == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + WIPE_HDR;
}

static void wipe_free(void *q)
{
	unsigned char *p;
	size_t n;

	if (q == NULL)
		return;
	p = (unsigned char *)q - WIPE_HDR;
	memcpy(&n, p, sizeof(n));
	explicit_bzero(q, n);
	free(p);
}

void wipe_install_cjson_hooks(void)
{
	cJSON_Hooks h = { .malloc_fn = wipe_malloc, .free_fn = wipe_free };

	cJSON_InitHooks(&h);
}
