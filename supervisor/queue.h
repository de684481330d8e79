/*
 * queue - the work queue: each key at most once, each key never in two
 * jobs at once, and a due time per key (0 = now). A key added while
 * its job runs is remembered and comes back when the job is done.
 * Refresh timers are the same due times, so tens of thousands of
 * MonoSecrets cost one heap entry each, not a timer each.
 */
#ifndef PAMOP_QUEUE_H
#define PAMOP_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "hmap.h"

struct qitem {
	char *key;
	int64_t due;        /* monotonic ms */
	size_t heap_idx;    /* position in the heap, or SIZE_MAX if not queued */
	bool in_flight;
	bool again;         /* added while in flight */
	int64_t again_due;
};

struct queue {
	struct hmap items;  /* key -> struct qitem */
	struct qitem **heap;
	size_t n, cap;
};

/* queue_add - run key at due (monotonic ms) or earlier if already sooner. */
void queue_add(struct queue *q, const char *key, int64_t due);
/* queue_pop - the earliest key due at or before now, marked in flight; NULL if none. */
const char *queue_pop(struct queue *q, int64_t now);
/* queue_done - the job for key finished; a pending re-add is queued now. */
void queue_done(struct queue *q, const char *key);
/* queue_forget - drop key entirely (object deleted). */
void queue_forget(struct queue *q, const char *key);
/* queue_next_due - earliest due time, or INT64_MAX when empty. */
int64_t queue_next_due(const struct queue *q);
/* queue_len - keys waiting (not in flight). */
size_t queue_len(const struct queue *q);
/* queue_due_count - keys waiting whose due time has come (the depth a
 * user means: work ready but not yet taken). */
size_t queue_due_count(const struct queue *q, int64_t now);
bool queue_in_flight(const struct queue *q, const char *key);
/* queue_free - release every key and the queue's own memory. */
void queue_free(struct queue *q);

#endif
