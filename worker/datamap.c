/*
 * datamap.c - see datamap.h.
 */
#include "datamap.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

int dm_put(struct datamap *m, const char *key, const struct secret *val)
{
	struct dm_entry *e = NULL;

	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->e[i].key, key) == 0)
			e = &m->e[i];
	if (e == NULL) {
		if (m->n == m->cap) {
			size_t ncap = m->cap ? m->cap * 2 : 8;
			struct dm_entry *ne = realloc(m->e, ncap * sizeof(*ne));
			if (ne == NULL)
				return -1;
			m->e = ne;
			m->cap = ncap;
		}
		e = &m->e[m->n++];
		memset(e, 0, sizeof(*e));
		if ((e->key = strdup(key)) == NULL)
			return -1;
	}
	secret_free(&e->val);
	secret_open(val);
	int rc = secret_set(&e->val, val->buf, val->len);
	secret_close(val);
	return rc;
}

const struct dm_entry *dm_get(const struct datamap *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->e[i].key, key) == 0)
			return &m->e[i];
	return NULL;
}

void dm_free(struct datamap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].key);
		secret_free(&m->e[i].val);
	}
	free(m->e);
	memset(m, 0, sizeof(*m));
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct dm_entry *)a)->key, ((const struct dm_entry *)b)->key);
}

void dm_sort(struct datamap *m)
{
	if (m->n > 1)
		qsort(m->e, m->n, sizeof(*m->e), cmp_entry);
}

static void hash_len(crypto_generichash_state *st, size_t n)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(n >> (8 * i));
	crypto_generichash_update(st, b, sizeof(b));
}

void dm_hash(const struct datamap *m, const struct secret *access_key, char out[65])
{
	static const unsigned char ctx[] = "pam-operator data-hash v1";
	unsigned char k[32], h[32];
	crypto_generichash_state st;

	secret_open(access_key);
	crypto_generichash(k, sizeof(k), access_key->buf, access_key->len, ctx, sizeof(ctx) - 1);
	secret_close(access_key);

	crypto_generichash_init(&st, k, sizeof(k), sizeof(h));
	for (size_t i = 0; i < m->n; i++) {
		size_t kl = strlen(m->e[i].key);
		hash_len(&st, kl);
		crypto_generichash_update(&st, (const unsigned char *)m->e[i].key, kl);
		secret_open(&m->e[i].val);
		hash_len(&st, m->e[i].val.len);
		crypto_generichash_update(&st, m->e[i].val.buf, m->e[i].val.len);
		secret_close(&m->e[i].val);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 65, h, sizeof(h));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(&st, sizeof(st));
}

int dm_b64(const struct secret *val, struct secret *out)
{
	size_t cap = sodium_base64_ENCODED_LEN(val->len, sodium_base64_VARIANT_ORIGINAL);
	unsigned char *tmp = sodium_malloc(cap);
	int rc;

	if (tmp == NULL)
		return -1;
	secret_open(val);
	sodium_bin2base64((char *)tmp, cap, val->buf, val->len, sodium_base64_VARIANT_ORIGINAL);
	secret_close(val);
	rc = secret_set(out, tmp, strlen((char *)tmp));
	sodium_free(tmp);
	return rc;
}
