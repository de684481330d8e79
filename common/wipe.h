/*
 * wipe - make the libraries that see secret bytes zero their heap
 * blocks when they free them: cJSON (Secret bodies, base64 values, PUT
 * bodies), libcurl (request headers, among them the PAM access key and
 * the bearer token, and its receive buffers) and OpenSSL (TLS record
 * buffers). Freed memory then keeps no copy for a later bug to leak.
 * What these hooks cannot reach (a buffer a library keeps and reuses
 * until it is freed) is listed in docs/security.md.
 */
#ifndef PAMOP_WIPE_H
#define PAMOP_WIPE_H

#include <stddef.h>

/* wipe_init - install the hooks and initialise libcurl (in place of
 * curl_global_init). Call first thing in main, before any of the three
 * libraries allocates. Returns 0, or -1 if a library refused. */
int wipe_init(void);

/* wipe_free - zero the whole malloc'd block, then free it. */
void wipe_free(void *p);
/* wipe_realloc - realloc that leaves no unzeroed copy behind when the
 * block moves. */
void *wipe_realloc(void *p, size_t n);

#endif
