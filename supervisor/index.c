/*
 * index.c - keep one copy of each watched object's useful fields, and
 * decide from each change whether work is due. Status-only changes
 * (our own writes) queue nothing; spec changes (generation), deletion
 * and drift of a managed Secret do. A relist after a lost watch hands
 * every object over again; only what changed meanwhile (generation,
 * uid, deletion, finalizer, a managed Secret's resourceVersion) queues
 * a job, so a relist does not re-run the whole cluster. Caller holds S.mu.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "spec.h"
#include "sup.h"
#include "util.h"

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* int_of - an integer field; 0 when absent, not a number or beyond
 * int64 (a cast of NaN or of a huge double is undefined behaviour, and
 * any client can write such a number into an object we watch). */
static int64_t int_of(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	if (!cJSON_IsNumber(v) || !(v->valuedouble > -9.2e18 && v->valuedouble < 9.2e18))
		return 0;
	return (int64_t)v->valuedouble;
}

static char *dup_or_null(const char *s)
{
	return s ? util_xstrdup(s) : NULL;
}

static void replace(char **dst, const char *s)
{
	free(*dst);
	*dst = dup_or_null(s);
}

static void key_of(const cJSON *md, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", str(md, "namespace") ? str(md, "namespace") : "",
	    str(md, "name") ? str(md, "name") : "");
}

static void cond_clear(struct cond *c)
{
	free(c->reason);
	free(c->message);
	free(c->ltt);
	memset(c, 0, sizeof(*c));
}

/* read_cond - the condition of type t from status.conditions. */
static void read_cond(const cJSON *status, const char *t, struct cond *c)
{
	const cJSON *it;

	cond_clear(c);
	cJSON_ArrayForEach(it, get(status, "conditions")) {
		const char *type = str(it, "type");
		if (type == NULL || strcmp(type, t) != 0)
			continue;
		snprintf(c->status, sizeof(c->status), "%s", str(it, "status") ? str(it, "status") : "");
		c->reason = dup_or_null(str(it, "reason"));
		c->message = dup_or_null(str(it, "message"));
		c->ltt = dup_or_null(str(it, "lastTransitionTime"));
		c->observed_gen = int_of(it, "observedGeneration");
	}
}

void msec_free(struct msec *m)
{
	if (m == NULL)
		return;
	free(m->ns); free(m->name); free(m->uid); free(m->spec_json);
	free(m->store); free(m->target); free(m->spec_reason); free(m->spec_message);
	free(m->rollout); free(m->status_hash); free(m->refresh_time);
	cond_clear(&m->ready); cond_clear(&m->roll);
	free(m->synced_target); free(m->secret_rv); free(m->drift_rv);
	free(m->test_job); free(m->test_fired);
	free(m);
}

void mstore_free(struct mstore *s)
{
	if (s == NULL)
		return;
	free(s->ns); free(s->name); free(s->uid); free(s->url);
	free(s->key_ns); free(s->key_name); free(s->key_key);
	free(s->spec_reason); free(s->spec_message);
	cond_clear(&s->ready);
	free(s);
}

/* parse_spec - the fields the supervisor schedules by; a bad spec is
 * remembered with its reason and reported without bothering a worker. */
static void parse_spec(struct msec *m, const cJSON *spec)
{
	struct msec_spec s;
	const char *reason;
	char msg[512];

	free(m->spec_json);
	m->spec_json = cJSON_PrintUnformatted(spec);
	replace(&m->spec_reason, NULL);
	replace(&m->spec_message, NULL);
	replace(&m->rollout, NULL);
	if (spec_msec_parse(spec, &s, &reason, msg, sizeof(msg)) != 0) {
		m->spec_reason = util_xstrdup(reason);
		m->spec_message = util_xstrdup(msg);
		/* Keep the target we had: cleanup on deletion still needs it. */
		const char *t = str(get(spec, "target"), "name");
		if (m->target == NULL && t && spec_valid_name(t))
			m->target = util_xstrdup(t);
		return;
	}
	replace(&m->store, s.store);
	replace(&m->target, s.target);
	m->refresh_ms = s.refresh_ms;
	if (s.rollout_enabled && s.nrollout > 0) {
		size_t len = 1;
		for (size_t i = 0; i < s.nrollout; i++)
			len += strlen(s.rollout[i].kind) + strlen(s.rollout[i].name) + 2;
		m->rollout = util_xcalloc(1, len);
		for (size_t i = 0; i < s.nrollout; i++)
			snprintf(m->rollout + strlen(m->rollout), len - strlen(m->rollout),
			    "%s/%s\n", s.rollout[i].kind, s.rollout[i].name);
	}
	spec_msec_free(&s);
}

/* index_msec_resume - a MonoSecret first seen with a good sync of its
 * current generation in status (a restart of the operator, a new
 * leader) needs no PAM request now: its Secret is checked against the
 * data hash, and PAM is asked when refreshTime + refreshInterval comes. */
void index_msec_resume(struct msec *m)
{
	time_t last;
	int64_t due;

	if (m->spec_reason || m->status_hash == NULL || m->refresh_time == NULL ||
	    strcmp(m->ready.status, "True") != 0 || m->ready.observed_gen != m->generation ||
	    util_parse_rfc3339(m->refresh_time, &last) != 0)
		return;
	m->need_full = false;
	m->synced_gen = m->generation;
	if (m->refresh_ms == 0) {
		m->next_full_ms = INT64_MAX;
		return;
	}
	due = (int64_t)last * 1000 + m->refresh_ms - util_now_ms();
	m->next_full_ms = util_mono_ms() + (due > 0 ? due : 0);
}

void index_msec_upsert(const cJSON *obj)
{
	const cJSON *md = get(obj, "metadata"), *st = get(obj, "status"), *it;
	char key[512];
	struct msec *m;
	bool fresh = false, queue_it = false;
	int64_t gen = int_of(md, "generation");

	key_of(md, key, sizeof(key));
	m = hmap_get(&S.msecs, key);
	if (m && m->uid && str(md, "uid") && strcmp(m->uid, str(md, "uid")) != 0) {
		/* Deleted and created again while we were not watching (a
		 * relist shows only the new one): nothing of the old carries over. */
		msec_free(hmap_del(&S.msecs, key));
		m = NULL;
	}
	if (m == NULL) {
		m = util_xcalloc(1, sizeof(*m));
		m->ns = util_xstrdup(str(md, "namespace"));
		m->name = util_xstrdup(str(md, "name"));
		hmap_put(&S.msecs, key, m);
		fresh = true;
	}
	replace(&m->uid, str(md, "uid"));
	if (fresh || gen != m->generation) {
		/* A renamed target is noticed by the next sync comparing
		 * target with synced_target. */
		m->generation = gen;
		parse_spec(m, get(obj, "spec"));
		queue_it = true;
	}
	bool deleting = get(md, "deletionTimestamp") != NULL;
	bool has_fin = false;
	cJSON_ArrayForEach(it, get(md, "finalizers"))
		if (cJSON_IsString(it) && strcmp(it->valuestring, FINALIZER) == 0)
			has_fin = true;
	if (deleting != m->deleting || has_fin != m->has_finalizer)
		queue_it = true;
	m->deleting = deleting;
	m->has_finalizer = has_fin;

	if (S.opt.test_jobs) {
		const char *tj = str(get(md, "annotations"), ANN_TEST_JOB);
		if (tj && (m->test_job == NULL || strcmp(tj, m->test_job) != 0))
			queue_it = true;
		replace(&m->test_job, tj);
	}
	replace(&m->status_hash, str(st, "secretDataHash"));
	replace(&m->refresh_time, str(st, "refreshTime"));
	read_cond(st, "Ready", &m->ready);
	read_cond(st, "RolloutSucceeded", &m->roll);
	if (fresh && m->status_hash && m->synced_target == NULL && m->target)
		m->synced_target = util_xstrdup(m->target);
	if (queue_it)
		sup_enqueue_msec(m->ns, m->name, 0);
	if (fresh)
		index_msec_resume(m);
}

void index_msec_delete(const cJSON *obj)
{
	char key[512], qkey[520];
	struct msec *m;

	key_of(get(obj, "metadata"), key, sizeof(key));
	m = hmap_del(&S.msecs, key);
	snprintf(qkey, sizeof(qkey), "m/%s", key);
	queue_forget(&S.q, qkey);
	msec_free(m);
}

void index_store_upsert(const cJSON *obj)
{
	const cJSON *md = get(obj, "metadata");
	char key[512], msg[512];
	struct mstore *s;
	struct store_spec sp;
	const char *reason;
	int64_t gen = int_of(md, "generation");
	bool fresh = false;

	key_of(md, key, sizeof(key));
	s = hmap_get(&S.stores, key);
	if (s && s->uid && str(md, "uid") && strcmp(s->uid, str(md, "uid")) != 0) {
		mstore_free(hmap_del(&S.stores, key));   /* replaced: see above */
		s = NULL;
	}
	if (s == NULL) {
		s = util_xcalloc(1, sizeof(*s));
		s->ns = util_xstrdup(str(md, "namespace"));
		s->name = util_xstrdup(str(md, "name"));
		hmap_put(&S.stores, key, s);
		fresh = true;
	}
	replace(&s->uid, str(md, "uid"));
	read_cond(get(obj, "status"), "Ready", &s->ready);
	if (!fresh && gen == s->generation)
		return;
	s->generation = gen;
	replace(&s->spec_reason, NULL);
	replace(&s->spec_message, NULL);
	if (spec_store_parse(get(obj, "spec"), &sp, &reason, msg, sizeof(msg)) != 0) {
		s->spec_reason = util_xstrdup(reason);
		s->spec_message = util_xstrdup(msg);
	} else {
		replace(&s->url, sp.url);
		replace(&s->key_ns, sp.key_ns ? sp.key_ns : s->ns);
		replace(&s->key_name, sp.key_name);
		replace(&s->key_key, sp.key_key);
	}
	s->failures = 0;
	s->checked = false;
	sup_enqueue_store(s->ns, s->name, 0);
	/* Every MonoSecret of this store runs again with the new settings
	 * (asking PAM). A store first seen (start-up, or one that was
	 * missing) changes nothing for those in sync: they only wait for
	 * its check, and those that were not in sync still need PAM. */
	for (struct hmap_iter i = { 0 }; hmap_next(&S.msecs, &i);) {
		struct msec *m = i.val;
		if (strcmp(m->ns, s->ns) != 0 || m->store == NULL || strcmp(m->store, s->name) != 0)
			continue;
		if (fresh)
			sup_enqueue_msec_verify(m->ns, m->name);
		else
			sup_enqueue_msec(m->ns, m->name, 0);
	}
}

void index_store_delete(const cJSON *obj)
{
	char key[512], qkey[520];
	struct mstore *s;

	key_of(get(obj, "metadata"), key, sizeof(key));
	s = hmap_del(&S.stores, key);
	snprintf(qkey, sizeof(qkey), "s/%s", key);
	queue_forget(&S.q, qkey);
	if (s == NULL)
		return;
	for (struct hmap_iter i = { 0 }; hmap_next(&S.msecs, &i);) {
		struct msec *m = i.val;
		if (strcmp(m->ns, s->ns) == 0 && m->store && strcmp(m->store, s->name) == 0)
			sup_enqueue_msec(m->ns, m->name, 0);
	}
	mstore_free(s);
}

/* secret_owner - the MonoSecret that wrote this Secret, from our annotation. */
static struct msec *secret_owner(const cJSON *md)
{
	const char *owner = str(get(md, "annotations"), "pam.monofor.com/monosecret");
	char key[512];

	if (owner == NULL)
		return NULL;
	snprintf(key, sizeof(key), "%s/%s", str(md, "namespace"), owner);
	return hmap_get(&S.msecs, key);
}

void index_secret_upsert(const cJSON *obj)
{
	const cJSON *md = get(obj, "metadata");
	const char *rv = str(md, "resourceVersion");
	char key[512];
	struct msec *m = secret_owner(md);

	key_of(md, key, sizeof(key));
	free(hmap_put(&S.secret_rv, key, util_xstrdup(rv ? rv : "")));
	/* Someone else changed a Secret we wrote: put it right now, not at
	 * the next refresh. Our own writes carry the rv the worker reported.
	 * The worker checks the Secret against the data hash first, so an
	 * edit that left our keys alone costs no PAM request. While a job
	 * runs, its own write shows up here before its result does, so the
	 * change is only noted and judged when the result comes (checking
	 * again after each of our own writes would double the work). */
	if (m && m->secret_rv && rv && strcmp(m->secret_rv, rv) != 0 && !m->deleting &&
	    !sup_rv_older(rv, m->secret_rv)) {   /* (not a job's earlier write) */
		char qkey[1040];
		snprintf(qkey, sizeof(qkey), "m/%s/%s", m->ns, m->name);
		if (queue_in_flight(&S.q, qkey))
			replace(&m->drift_rv, rv);
		else
			sup_enqueue_msec_verify(m->ns, m->name);
	}
}

void index_secret_delete(const cJSON *obj)
{
	const cJSON *md = get(obj, "metadata");
	char key[512];
	struct msec *m = secret_owner(md);

	key_of(md, key, sizeof(key));
	free(hmap_del(&S.secret_rv, key));
	if (m && !m->deleting && m->target && strcmp(m->target, str(md, "name")) == 0) {
		replace(&m->secret_rv, NULL);
		sup_enqueue_msec(m->ns, m->name, 0);
	}
}

void index_workload_upsert(const char *kind, const cJSON *obj)
{
	const cJSON *md = get(obj, "metadata");

	/* Only the top-level annotation counts; the pod template's is never
	 * seen here (the watch carries metadata only). */
	rollout_workload_set(str(md, "namespace"), kind, str(md, "name"),
	    str(get(md, "annotations"), ANN_RELOAD_ON));
}

void index_workload_delete(const char *kind, const cJSON *obj)
{
	const cJSON *md = get(obj, "metadata");

	rollout_workload_set(str(md, "namespace"), kind, str(md, "name"), NULL);
}
