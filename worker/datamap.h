/*
 * datamap - the key -> value map a sync builds before writing the
 * target Secret. Values are struct secret (guarded memory); keys are
 * Secret data keys, which are not secret.
 */
#ifndef PAMOP_DATAMAP_H
#define PAMOP_DATAMAP_H

#include <stddef.h>

#include "secret.h"

struct dm_entry {
	char *key;
	struct secret val;
};

struct datamap {
	size_t n, cap;
	struct dm_entry *e;
};

/* dm_put - set key to a copy of val (replacing any earlier value). */
int dm_put(struct datamap *m, const char *key, const struct secret *val);
const struct dm_entry *dm_get(const struct datamap *m, const char *key);
void dm_free(struct datamap *m);
/* dm_sort - order entries by key, so that hashing is stable. */
void dm_sort(struct datamap *m);
/* dm_hash - keyed BLAKE2b over the sorted map, hex in out. The key is
 * derived from the PAM access key, so the hash in status and on the
 * Secret cannot be brute-forced back to a short value (an OTP code). */
void dm_hash(const struct datamap *m, const struct secret *access_key, char out[65]);
/* dm_b64 - base64 of one value into guarded memory (free with secret_free). */
int dm_b64(const struct secret *val, struct secret *out);

#endif
