/*
 * hmap.c - see hmap.h. FNV-1a hashing; the table doubles at load 1.
 */
#include "hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

static void grow(struct hmap *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64;
	struct hmap_ent **b = util_xcalloc(nb, sizeof(*b));

	for (size_t i = 0; i < m->nb; i++) {
		struct hmap_ent *e = m->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			size_t k = hash(e->key) & (nb - 1);
			e->next = b[k];
			b[k] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

void *hmap_get(const struct hmap *m, const char *key)
{
	if (m->nb == 0)
		return NULL;
	for (struct hmap_ent *e = m->b[hash(key) & (m->nb - 1)]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e->val;
	return NULL;
}

void *hmap_put(struct hmap *m, const char *key, void *val)
{
	struct hmap_ent *e;
	size_t k, kl = strlen(key);

	if (m->n >= m->nb)
		grow(m);
	k = hash(key) & (m->nb - 1);
	for (e = m->b[k]; e; e = e->next) {
		if (strcmp(e->key, key) == 0) {
			void *old = e->val;
			e->val = val;
			return old;
		}
	}
	e = util_xmalloc(sizeof(*e) + kl + 1);
	memcpy(e->key, key, kl + 1);
	e->val = val;
	e->next = m->b[k];
	m->b[k] = e;
	m->n++;
	return NULL;
}

void *hmap_del(struct hmap *m, const char *key)
{
	if (m->nb == 0)
		return NULL;
	for (struct hmap_ent **pp = &m->b[hash(key) & (m->nb - 1)]; *pp; pp = &(*pp)->next) {
		struct hmap_ent *e = *pp;
		if (strcmp(e->key, key) == 0) {
			void *v = e->val;
			*pp = e->next;
			free(e);
			m->n--;
			return v;
		}
	}
	return NULL;
}

void hmap_free(struct hmap *m)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct hmap_ent *e = m->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

int hmap_next(const struct hmap *m, struct hmap_iter *it)
{
	if (it->e)
		it->e = it->e->next;
	while (it->e == NULL && it->bucket < m->nb)
		it->e = m->b[it->bucket++];
	if (it->e == NULL)
		return 0;
	it->key = it->e->key;
	it->val = it->e->val;
	return 1;
}
