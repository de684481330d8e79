/*
 * queue.c - see queue.h. A binary min-heap of due times over items kept
 * in a hash map by key.
 */
#include "queue.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void swap(struct queue *q, size_t a, size_t b)
{
	struct qitem *t = q->heap[a];

	q->heap[a] = q->heap[b];
	q->heap[b] = t;
	q->heap[a]->heap_idx = a;
	q->heap[b]->heap_idx = b;
}

static void up(struct queue *q, size_t i)
{
	while (i > 0 && q->heap[(i - 1) / 2]->due > q->heap[i]->due) {
		swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void down(struct queue *q, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->n && q->heap[l]->due < q->heap[m]->due)
			m = l;
		if (r < q->n && q->heap[r]->due < q->heap[m]->due)
			m = r;
		if (m == i)
			return;
		swap(q, i, m);
		i = m;
	}
}

static void heap_remove(struct queue *q, struct qitem *it)
{
	size_t i = it->heap_idx;

	if (i == SIZE_MAX)
		return;
	it->heap_idx = SIZE_MAX;
	if (i != --q->n) {
		q->heap[i] = q->heap[q->n];
		q->heap[i]->heap_idx = i;
		down(q, i);
		up(q, i);
	}
}

static void heap_push(struct queue *q, struct qitem *it)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 256;
		q->heap = util_xrealloc(q->heap, q->cap * sizeof(*q->heap));
	}
	it->heap_idx = q->n;
	q->heap[q->n++] = it;
	up(q, it->heap_idx);
}

void queue_add(struct queue *q, const char *key, int64_t due)
{
	struct qitem *it = hmap_get(&q->items, key);

	if (it == NULL) {
		it = util_xcalloc(1, sizeof(*it));
		it->key = util_xstrdup(key);
		it->heap_idx = SIZE_MAX;
		hmap_put(&q->items, key, it);
	}
	if (it->in_flight) {
		if (!it->again || due < it->again_due)
			it->again_due = due;
		it->again = true;
		return;
	}
	if (it->heap_idx == SIZE_MAX) {
		it->due = due;
		heap_push(q, it);
	} else if (due < it->due) {
		it->due = due;
		up(q, it->heap_idx);
	}
}

const char *queue_pop(struct queue *q, int64_t now)
{
	struct qitem *it;

	if (q->n == 0 || q->heap[0]->due > now)
		return NULL;
	it = q->heap[0];
	heap_remove(q, it);
	it->in_flight = true;
	return it->key;
}

void queue_done(struct queue *q, const char *key)
{
	struct qitem *it = hmap_get(&q->items, key);

	if (it == NULL)
		return;
	it->in_flight = false;
	if (it->again) {
		it->again = false;
		queue_add(q, key, it->again_due);
	} else if (it->heap_idx == SIZE_MAX) {
		hmap_del(&q->items, key);
		free(it->key);
		free(it);
	}
}

void queue_forget(struct queue *q, const char *key)
{
	struct qitem *it = hmap_get(&q->items, key);

	if (it == NULL)
		return;
	heap_remove(q, it);
	if (it->in_flight) {
		it->again = false;   /* queue_done frees it */
		return;
	}
	hmap_del(&q->items, key);
	free(it->key);
	free(it);
}

int64_t queue_next_due(const struct queue *q)
{
	return q->n ? q->heap[0]->due : INT64_MAX;
}

size_t queue_len(const struct queue *q)
{
	return q->n;
}

bool queue_in_flight(const struct queue *q, const char *key)
{
	struct qitem *it = hmap_get(&q->items, key);

	return it && it->in_flight;
}

/* count_due - heap nodes under i due by now; a node due later has no
 * due descendants, so only the due part of the heap is visited. */
static size_t count_due(const struct queue *q, size_t i, int64_t now)
{
	if (i >= q->n || q->heap[i]->due > now)
		return 0;
	return 1 + count_due(q, 2 * i + 1, now) + count_due(q, 2 * i + 2, now);
}

size_t queue_due_count(const struct queue *q, int64_t now)
{
	return count_due(q, 0, now);
}

void queue_free(struct queue *q)
{
	for (struct hmap_iter i = { 0 }; hmap_next(&q->items, &i);) {
		struct qitem *it = i.val;
		free(it->key);
		free(it);
	}
	hmap_free(&q->items);
	free(q->heap);
	memset(q, 0, sizeof(*q));
}
