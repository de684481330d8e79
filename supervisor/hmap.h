/*
 * hmap - string-keyed hash map (chained, power-of-two buckets) for the
 * supervisor's index. Keys are copied; values are the caller's.
 */
#ifndef PAMOP_HMAP_H
#define PAMOP_HMAP_H

#include <stddef.h>

struct hmap_ent {
	struct hmap_ent *next;
	void *val;
	char key[];
};

struct hmap {
	struct hmap_ent **b;
	size_t nb, n;
};

void *hmap_get(const struct hmap *m, const char *key);
/* hmap_put - insert or replace; returns the previous value or NULL. */
void *hmap_put(struct hmap *m, const char *key, void *val);
/* hmap_del - remove; returns the value or NULL. */
void *hmap_del(struct hmap *m, const char *key);
void hmap_free(struct hmap *m);

/* Iterate: for (struct hmap_iter it = {0}; hmap_next(m, &it);) use it.key/it.val */
struct hmap_iter {
	size_t bucket;
	struct hmap_ent *e;
	const char *key;
	void *val;
};
int hmap_next(const struct hmap *m, struct hmap_iter *it);

#endif
