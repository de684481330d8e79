/*
 * sup.c - the supervisor's one shared state and the helpers every part
 * uses to queue work. See sup.h.
 */
#include <stdio.h>
#include <string.h>

#include "sup.h"
#include "util.h"

struct sup S = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

void sup_wake(void)
{
	pthread_cond_signal(&S.cv);
}

void sup_enqueue_msec(const char *ns, const char *name, int64_t delay_ms)
{
	char key[520];
	struct msec *m;

	snprintf(key, sizeof(key), "m/%s/%s", ns, name);
	if ((m = hmap_get(&S.msecs, key + 2)) != NULL)
		m->need_full = true;
	queue_add(&S.q, key, util_mono_ms() + delay_ms);
}

void sup_enqueue_msec_verify(const char *ns, const char *name)
{
	char key[520];

	snprintf(key, sizeof(key), "m/%s/%s", ns, name);
	queue_add(&S.q, key, util_mono_ms());
}

void sup_enqueue_store(const char *ns, const char *name, int64_t delay_ms)
{
	char key[520];

	snprintf(key, sizeof(key), "s/%s/%s", ns, name);
	queue_add(&S.q, key, util_mono_ms() + delay_ms);
}

const char *sup_key_kind(const char *key)
{
	return key && key[0] == 'm' ? "MonoSecret" : "MonoStore";
}

bool sup_leading(void)
{
	return S.leader && !leader_expired(util_mono_ms());
}

/* sup_rv_older - a is known to be an older resourceVersion than b. The
 * API calls them opaque, but etcd's are increasing decimal revisions;
 * anything else compares as not older, which only costs a check. Used
 * to tell the watch event of a job's first write from a later edit. */
bool sup_rv_older(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la == 0 || lb == 0 || strspn(a, "0123456789") != la ||
	    strspn(b, "0123456789") != lb || a[0] == '0' || b[0] == '0')
		return false;
	return la != lb ? la < lb : strcmp(a, b) < 0;
}
