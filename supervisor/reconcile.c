/*
 * reconcile.c - turn a queue key into a job for a worker, and a result
 * into status, Events and the next due time. Decisions that need no
 * PAM access (bad spec, missing store, finalizer bookkeeping) are made
 * here without a worker. Called with S.mu held; the Kubernetes writes
 * drop it so that watches keep flowing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sup.h"
#include "util.h"

#define RETRY_BASE_MS 1000
#define RETRY_CAP_MS  (5 * 60 * 1000)
#define STORE_RECHECK_MS (5 * 60 * 1000)
/* A store that failed its check holds its MonoSecrets back: retry it
 * sooner than they would retry themselves. */
#define STORE_RETRY_CAP_MS (60 * 1000)
#define EVENT_QUIET_MS (10 * 60 * 1000)

static struct skube writer;   /* main thread only */
static bool writer_ready;

static struct kube_client *kw(void)
{
	if (!writer_ready) {
		skube_init(&writer, true, true);
		writer.k.timeout_ms = 10000;   /* the main loop waits on it */
		writer_ready = true;
	}
	return &writer.k;
}

void reconcile_shutdown(void)
{
	kw()->timeout_ms = 2000;   /* the last status writes must not hold up the exit */
}

/* count - one finished reconcile in the metrics. */
static void count(const char *key, bool ok)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "kind=\"%s\",result=\"%s\"", sup_key_kind(key),
	    ok ? "success" : "error");
	metrics_inc("pamop_reconcile_total", labels, 1);
}

/* backoff - 1 s doubling per failure, up to cap. */
static int64_t backoff(int failures, int64_t cap)
{
	int64_t ms = (int64_t)RETRY_BASE_MS << (failures < 12 ? failures : 12);
	return ms > cap ? cap : ms;
}

static void cond_set(struct cond *c, const char *status, const char *reason, const char *msg)
{
	snprintf(c->status, sizeof(c->status), "%s", status);
	c->reason = util_xstrdup(reason);
	c->message = util_xstrdup(msg);
}

static void cond_copy(struct cond *dst, const struct cond *src)
{
	memcpy(dst->status, src->status, sizeof(dst->status));
	dst->reason = src->reason ? util_xstrdup(src->reason) : NULL;
	dst->message = src->message ? util_xstrdup(src->message) : NULL;
	dst->ltt = src->ltt ? util_xstrdup(src->ltt) : NULL;
	dst->observed_gen = src->observed_gen;
}

static void update_free(struct status_update *u)
{
	free(u->ns); free(u->name); free(u->uid); free(u->hash);
	free(u->ready.reason); free(u->ready.message); free(u->ready.ltt);
	free(u->roll.reason); free(u->roll.message); free(u->roll.ltt);
}

/* retry_status - a status write failed (the API server restarting, say):
 * run the key again later, or the object would keep saying what was
 * true before. S.mu held. */
static void retry_status(const char *prefix, const char *ns, const char *name)
{
	char key[520];
	int *failures = NULL;

	snprintf(key, sizeof(key), "%s/%s/%s", prefix, ns, name);
	if (prefix[0] == 'm') {
		struct msec *m = hmap_get(&S.msecs, key + 2);
		failures = m ? &m->failures : NULL;
	} else {
		struct mstore *s = hmap_get(&S.stores, key + 2);
		failures = s ? &s->failures : NULL;
	}
	if (failures)
		queue_add(&S.q, key, util_mono_ms() + backoff((*failures)++, RETRY_CAP_MS));
}

/* event_due - true unless an Event with this reason went out for this
 * object within EVENT_QUIET_MS: a failing sync retries often, and an
 * OTP Secret changes every refresh. Remembers the reason when true. */
static bool event_due(struct msec *m, const char *reason, int64_t now)
{
	size_t n = sizeof(m->ev) / sizeof(m->ev[0]), oldest = 0;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(m->ev[i].reason, reason) == 0) {
			if (now - m->ev[i].ms < EVENT_QUIET_MS)
				return false;
			oldest = i;
			break;
		}
		if (m->ev[i].ms < m->ev[oldest].ms)
			oldest = i;
	}
	snprintf(m->ev[oldest].reason, sizeof(m->ev[oldest].reason), "%s", reason);
	m->ev[oldest].ms = now;
	return true;
}

/* cond_next - dst = cur moved to status/reason/msg; lastTransitionTime
 * is kept unless the status changes (then status.c stamps it). */
static void cond_next(struct cond *dst, const struct cond *cur, const char *status,
    const char *reason, const char *msg)
{
	cond_copy(dst, cur);
	free(dst->reason);
	free(dst->message);
	if (strcmp(dst->status, status) != 0) {
		free(dst->ltt);
		dst->ltt = NULL;
	}
	cond_set(dst, status, reason, msg);
}

/* cond_same - would writing status/reason/msg at gen change nothing? */
static bool cond_same(const struct cond *c, const char *status, const char *reason,
    const char *msg, int64_t gen)
{
	return strcmp(c->status, status) == 0 && c->reason && strcmp(c->reason, reason) == 0 &&
	    c->message && strcmp(c->message, msg) == 0 && c->observed_gen == gen;
}

/* remember - what we wrote becomes our view of the object at once, so
 * that the next write keeps lastTransitionTime and skips repeats even
 * before the watch brings our own change back. */
static void remember(struct cond *c, const struct cond *wrote, int64_t gen)
{
	free(c->reason); free(c->message); free(c->ltt);
	cond_copy(c, wrote);
	c->observed_gen = gen;
}

/* write_msec_status - status (and maybe an Event) for m, dropping S.mu
 * for the requests. m may be gone when this returns: callers look it up
 * again. The Event says ev_text, else the rollout's message when roll is
 * given, else msg. */
static void write_msec_status(struct msec *m, const char *status, const char *reason,
    const char *msg, const char *hash, bool refreshed, const struct cond *roll,
    const char *ev_type, const char *ev_reason, const char *ev_text)
{
	struct status_update u = { .kind = "monosecrets" };
	bool emit = false;
	char ev_msg[1100], ev_why[130], key[512];
	int rc = -1;

	u.ns = util_xstrdup(m->ns);
	u.name = util_xstrdup(m->name);
	u.uid = util_xstrdup(m->uid ? m->uid : "");
	u.generation = m->generation;
	cond_next(&u.ready, &m->ready, status, reason, msg);
	if (roll) {
		u.has_roll = true;
		cond_next(&u.roll, &m->roll, roll->status, roll->reason, roll->message);
	} else if (m->roll.status[0] != '\0') {
		u.has_roll = true;   /* the list is replaced whole: keep it */
		cond_copy(&u.roll, &m->roll);
	}
	u.hash = hash ? util_xstrdup(hash) : NULL;
	u.set_refresh = refreshed;
	/* A restart of workloads is news every time; only repeats of the
	 * same failure are held back. */
	bool always = roll && strcmp(ev_type, "Normal") == 0;
	if (ev_reason && (event_due(m, ev_reason, util_mono_ms()) || always)) {
		emit = true;
		snprintf(ev_msg, sizeof(ev_msg), "%s", ev_text ? ev_text : roll ? roll->message : msg);
		snprintf(ev_why, sizeof(ev_why), "%s", ev_reason);   /* may live in m */
	}

	/* Nothing new to say (a bad spec retried, a store still missing,
	 * a check that found the Secret right): no write. */
	bool same = cond_same(&m->ready, status, reason, msg, m->generation) &&
	    !refreshed && roll == NULL &&
	    (hash == NULL || (m->status_hash && strcmp(hash, m->status_hash) == 0));

	bool flipped = strcmp(m->ready.status, status) != 0;

	pthread_mutex_unlock(&S.mu);   /* m may be gone from here on */
	if (sup_leading()) {
		if (!same && flipped) {
			char obj[600];
			snprintf(obj, sizeof(obj), "%s/%s", u.ns, u.name);
			log_kv(LOG_INFO, "Ready changed", "kind", "MonoSecret", "object", obj,
			    "status", u.ready.status, "reason", u.ready.reason, NULL);
		}
		if (!same)
			rc = status_write(kw(), &u);
		if (emit)
			event_emit(kw(), "MonoSecret", u.ns, u.name, u.uid, ev_type, ev_why, ev_msg);
	}
	pthread_mutex_lock(&S.mu);
	snprintf(key, sizeof(key), "%s/%s", u.ns, u.name);
	if (rc == 0 && (m = hmap_get(&S.msecs, key)) != NULL && m->generation == u.generation) {
		remember(&m->ready, &u.ready, u.generation);
		if (roll)
			remember(&m->roll, &u.roll, u.generation);
		if (hash) {
			free(m->status_hash);
			m->status_hash = util_xstrdup(hash);
		}
	}
	if (rc == -2)
		retry_status("m", u.ns, u.name);
	update_free(&u);
}

static void write_store_status(struct mstore *s, const char *status, const char *reason,
    const char *msg)
{
	struct status_update u = { .kind = "monostores" };
	char key[512];
	int rc = -1;

	if (cond_same(&s->ready, status, reason, msg, s->generation))
		return;   /* a periodic re-check that found nothing new */
	u.ns = util_xstrdup(s->ns);
	u.name = util_xstrdup(s->name);
	u.uid = util_xstrdup(s->uid ? s->uid : "");
	u.generation = s->generation;
	cond_next(&u.ready, &s->ready, status, reason, msg);
	pthread_mutex_unlock(&S.mu);
	if (sup_leading())
		rc = status_write(kw(), &u);
	pthread_mutex_lock(&S.mu);
	snprintf(key, sizeof(key), "%s/%s", u.ns, u.name);
	if (rc == 0 && (s = hmap_get(&S.stores, key)) != NULL && s->generation == u.generation)
		remember(&s->ready, &u.ready, u.generation);
	if (rc == -2)
		retry_status("s", u.ns, u.name);
	update_free(&u);
}

/* Outcomes of dispatch_*: a job went to the worker, the key was settled
 * here, the worker could not take it, or a host name is still being
 * looked up (supervisor/resolve.c). */
enum { D_SENT = 1, D_SETTLED = 0, D_BUSY = -1, D_WAIT = -2 };

/* test_job_kind - the test job ANN_TEST_JOB asks for, if any is due
 * (--enable-test-jobs only); each new annotation value fires once. */
static int64_t test_job_kind(struct msec *m)
{
	if (!S.opt.test_jobs || m->test_job == NULL ||
	    (m->test_fired && strcmp(m->test_fired, m->test_job) == 0))
		return 0;
	free(m->test_fired);
	m->test_fired = util_xstrdup(m->test_job);
	if (strncmp(m->test_job, "forbidden-syscall", 17) == 0)
		return JOB_TEST_FORBIDDEN;
	if (strncmp(m->test_job, "malformed-result", 16) == 0)
		return JOB_TEST_MALFORMED;
	log_kv(LOG_WARN, "unknown test job ignored", "annotation", ANN_TEST_JOB, "value",
	    m->test_job, NULL);
	return 0;
}

static void fill_store(struct proto_job *j, const struct mstore *s)
{
	j->store_url = s->url;
	j->key_ns = s->key_ns;
	j->key_name = s->key_name;
	j->key_key = s->key_key;
}

/* Each dispatch_* returns 1 when a job went to the worker, 0 when the
 * key was settled here, -1 when the worker could not take it. */
static int dispatch_msec(struct msec *m, const char *qkey, int slot, int64_t now)
{
	struct proto_job j = { .now_ms = util_now_ms(), .generation = m->generation };
	char skey[512], res[4096], msg[900];
	const char *reason;
	struct mstore *s;
	int rc;

	j.ns = m->ns; j.name = m->name; j.uid = m->uid; j.spec_json = m->spec_json;
	j.prev_hash = m->status_hash ? m->status_hash : "";
	j.target = "";
	j.kube_token = "";   /* pool_send fills it in */

	if ((j.kind = test_job_kind(m)) != 0)
		return pool_send(slot, qkey, &j) == 0 ? D_SENT : D_BUSY;
	if (m->deleting) {
		if (!m->has_finalizer)
			return 0;
		j.kind = JOB_CLEANUP;
		j.target = m->synced_target ? m->synced_target : (m->target ? m->target : "");
		if (j.target[0] == '\0') {   /* never knew a target: nothing to undo */
			count(qkey, true);
			pthread_mutex_unlock(&S.mu);
			if (sup_leading())
				finalizer_set(kw(), j.ns, j.name, false);
			pthread_mutex_lock(&S.mu);
			return 0;
		}
		if ((rc = resolve_job(&j, NULL, res, sizeof(res), &reason, msg, sizeof(msg))) != 0)
			return rc == RESOLVE_PENDING ? D_WAIT : D_BUSY;
		return pool_send(slot, qkey, &j) == 0 ? 1 : -1;
	}
	if (m->spec_reason) {
		count(qkey, false);
		write_msec_status(m, "False", m->spec_reason, m->spec_message, NULL, false, NULL,
		    "Warning", m->spec_reason, NULL);
		return 0;   /* nothing to retry until the spec changes */
	}
	if (!m->has_finalizer) {
		char *ns = util_xstrdup(m->ns), *name = util_xstrdup(m->name);
		pthread_mutex_unlock(&S.mu);
		rc = sup_leading() ? finalizer_set(kw(), ns, name, true) : -1;
		pthread_mutex_lock(&S.mu);
		free(ns); free(name);
		/* the watch event of the finalizer write queues the sync */
		return rc == 0 ? 0 : -1;
	}
	if (m->synced_target && m->target && strcmp(m->synced_target, m->target) != 0) {
		j.kind = JOB_CLEANUP;   /* renamed: undo the old target first */
		j.flags = JOBF_OWNER_CLEANUP;
		j.target = m->synced_target;
		if ((rc = resolve_job(&j, NULL, res, sizeof(res), &reason, msg, sizeof(msg))) != 0)
			return rc == RESOLVE_PENDING ? D_WAIT : D_BUSY;
		return pool_send(slot, qkey, &j) == 0 ? 1 : -1;
	}
	snprintf(skey, sizeof(skey), "%s/%s", m->ns, m->store);
	s = hmap_get(&S.stores, skey);
	if (s == NULL || s->spec_reason || s->url == NULL) {
		count(qkey, false);
		snprintf(msg, sizeof(msg), s ? "MonoStore %s/%s is invalid: %s" :
		    "MonoStore %s/%s not found", m->ns, m->store, s && s->spec_message ?
		    s->spec_message : "");
		write_msec_status(m, "False", s ? "StoreNotReady" : "StoreNotFound", msg, NULL,
		    false, NULL, "Warning", s ? "StoreNotReady" : "StoreNotFound", NULL);
		return 0;   /* the store's arrival or change queues this again */
	}
	if (strcmp(s->key_ns, s->ns) != 0 && !S.opt.allow_cross_ns_keys) {
		count(qkey, false);
		snprintf(msg, sizeof(msg), "MonoStore %s/%s refers to an access-key Secret in "
		    "namespace %s; cross-namespace keys need --allow-cross-namespace-keys",
		    s->ns, s->name, s->key_ns);
		write_msec_status(m, "False", "StoreNotReady", msg, NULL, false, NULL, "Warning",
		    "StoreNotReady", NULL);
		return 0;
	}
	if (!s->checked) {
		/* The store's check comes first (store_done queues us again),
		 * so that a bad key costs one PAM request, not one per
		 * MonoSecret. The fallback covers a check that is lost. */
		queue_add(&S.q, qkey, now + 5000);
		return 0;
	}
	if (strcmp(s->ready.status, "True") != 0) {
		snprintf(msg, sizeof(msg), "MonoStore %s/%s is not ready (%s): %s", s->ns, s->name,
		    s->ready.reason ? s->ready.reason : "Unknown",
		    s->ready.message ? s->ready.message : "");
		write_msec_status(m, "False", "StoreNotReady", msg, NULL, false, NULL, "Warning",
		    "StoreNotReady", NULL);
		return 0;   /* store_done queues us when the store is ready */
	}
	rc = resolve_job(&j, s->url, res, sizeof(res), &reason, msg, sizeof(msg));
	if (rc == RESOLVE_PENDING)
		return D_WAIT;
	if (rc == RESOLVE_FAILED) {
		int64_t delay = backoff(m->failures++, RETRY_CAP_MS);
		write_msec_status(m, "False", reason, msg, NULL, false, NULL, "Warning", reason,
		    NULL);
		queue_add(&S.q, qkey, util_mono_ms() + delay);   /* after queue_done */
		return D_SETTLED;
	}
	j.kind = JOB_SYNC;
	m->job_gen = m->generation;
	/* PAM is asked when something changed or the refresh is due; else
	 * the worker only checks the Secret against the data hash. */
	if (!m->need_full && m->synced_gen == m->generation && now < m->next_full_ms &&
	    m->status_hash != NULL)
		j.flags = JOBF_VERIFY;
	m->need_full = false;
	fill_store(&j, s);
	j.rollout = rollout_targets(m);
	rc = pool_send(slot, qkey, &j);
	free(j.rollout);
	if (rc != 0 && j.flags == 0)
		m->need_full = true;
	return rc == 0 ? 1 : -1;
}

static int dispatch_store(struct mstore *s, const char *qkey, int slot)
{
	struct proto_job j = { .kind = JOB_CHECK_STORE, .now_ms = util_now_ms() };
	char res[4096], msg[700];
	const char *reason;
	int rc;

	if (s->spec_reason) {
		s->checked = true;
		count(qkey, false);
		write_store_status(s, "False", s->spec_reason, s->spec_message);
		return 0;
	}
	if (strcmp(s->key_ns, s->ns) != 0 && !S.opt.allow_cross_ns_keys) {
		s->checked = true;
		count(qkey, false);
		snprintf(msg, sizeof(msg), "spec.provider.monoforPAM.auth.accessKeySecretRef."
		    "namespace: %s differs from the MonoStore's namespace; the operator was not "
		    "started with --allow-cross-namespace-keys", s->key_ns);
		write_store_status(s, "False", "CrossNamespaceKeyRefused", msg);
		return 0;
	}
	j.ns = s->ns; j.name = s->name; j.uid = s->uid; j.spec_json = "";
	j.kube_token = "";
	fill_store(&j, s);
	rc = resolve_job(&j, s->url, res, sizeof(res), &reason, msg, sizeof(msg));
	if (rc == RESOLVE_PENDING)
		return D_WAIT;
	if (rc == RESOLVE_FAILED) {
		char skey[520];
		snprintf(skey, sizeof(skey), "%s", qkey + 2);
		s->checked = true;
		write_store_status(s, "False", reason, msg);
		if ((s = hmap_get(&S.stores, skey)) != NULL)
			queue_add(&S.q, qkey, util_mono_ms() +
			    backoff(s->failures++, STORE_RETRY_CAP_MS));
		return D_SETTLED;
	}
	return pool_send(slot, qkey, &j) == 0 ? 1 : -1;
}

/* reconcile_dispatch - hand due keys to idle workers while the API rate
 * limit has room: each job is charged one request when it starts and
 * the rest when its result says how many it made. */
void reconcile_dispatch(int64_t now)
{
	int slot;
	const char *qkey;

	while ((slot = pool_idle_slot()) >= 0 && rl_ready_in(&S.rl, 1, now) == 0 &&
	    (qkey = queue_pop(&S.q, now)) != NULL) {
		char key[520];
		int rc = 0;

		snprintf(key, sizeof(key), "%s", qkey);
		if (key[0] == 'm') {
			struct msec *m = hmap_get(&S.msecs, key + 2);
			if (m)
				rc = dispatch_msec(m, key, slot, now);
		} else {
			struct mstore *s = hmap_get(&S.stores, key + 2);
			if (s)
				rc = dispatch_store(s, key, slot);
		}
		if (rc <= 0)
			queue_done(&S.q, key);
		if (rc == D_BUSY)
			queue_add(&S.q, key, util_mono_ms() + 1000);
		if (rc > 0)
			rl_reserve(&S.rl, 1, now);
		if (rc == D_WAIT)
			queue_add(&S.q, key, util_mono_ms() + 20);
	}
}

static const char *op_word(int64_t op)
{
	switch (op) {
	case SECOP_CREATED: return "created";
	case SECOP_UPDATED: return "updated";
	case SECOP_UNCHANGED: return "unchanged";
	case SECOP_DELETED: return "deleted";
	case SECOP_RELEASED: return "released";
	default: return "untouched";
	}
}

static void msec_cleanup_done(struct msec *m, const struct proto_result *r, const char *key)
{
	char msg[600];

	count(key, r->reason[0] == '\0');
	if (r->reason[0] != '\0') {
		int64_t delay = backoff(m->failures++, RETRY_CAP_MS);
		write_msec_status(m, "False", r->reason, r->message, NULL, false, NULL, "Warning",
		    r->reason, NULL);
		queue_add(&S.q, key, util_mono_ms() + delay);
		return;
	}
	m->failures = 0;
	if (!m->deleting) {   /* a rename: the old target is settled */
		if (r->secret_op == SECOP_DELETED || r->secret_op == SECOP_RELEASED ||
		    r->secret_op == SECOP_UPDATED) {
			snprintf(msg, sizeof(msg), "Secret %s %s: spec.target.name is now %s",
			    m->synced_target, r->secret_op == SECOP_DELETED ? "deleted" :
			    r->secret_op == SECOP_RELEASED ? "released" : "cleaned up", m->target);
			char *ns = util_xstrdup(m->ns), *name = util_xstrdup(m->name);
			char *uid = util_xstrdup(m->uid);
			bool emit = event_due(m, "Deleted", util_mono_ms());
			pthread_mutex_unlock(&S.mu);
			if (S.leader && emit)
				event_emit(kw(), "MonoSecret", ns, name, uid, "Normal", "Deleted", msg);
			pthread_mutex_lock(&S.mu);
			free(ns); free(name); free(uid);
			if ((m = hmap_get(&S.msecs, key + 2)) == NULL)
				return;
		}
		free(m->synced_target);
		m->synced_target = NULL;
		m->need_full = true;
		queue_add(&S.q, key, 0);
		return;
	}
	char *ns = util_xstrdup(m->ns), *name = util_xstrdup(m->name), *uid = util_xstrdup(m->uid);
	snprintf(msg, sizeof(msg), "target Secret %s on deletion", op_word(r->secret_op));
	pthread_mutex_unlock(&S.mu);
	if (sup_leading()) {
		event_emit(kw(), "MonoSecret", ns, name, uid, "Normal", "Deleted", msg);
		if (finalizer_set(kw(), ns, name, false) != 0) {
			pthread_mutex_lock(&S.mu);
			queue_add(&S.q, key, util_mono_ms() + 1000);
			pthread_mutex_unlock(&S.mu);
		}
	}
	pthread_mutex_lock(&S.mu);
	free(ns); free(name); free(uid);
}

/* rollout_done - the condition and Event a rollout report calls for;
 * false when the job restarted nothing and owed nothing. */
static bool rollout_done(const struct rollout_summary *rs, struct cond *roll,
    const char **ev_type, const char **ev_reason)
{
	if (rs->targets == 0)
		return false;
	snprintf(roll->status, sizeof(roll->status), "%s", rs->failed ? "False" : "True");
	roll->reason = (char *)(rs->failed ? rs->reason : "RolloutTriggered");
	roll->message = (char *)rs->message;
	*ev_type = rs->failed ? "Warning" : "Normal";
	/* all already done (a retry after our crash): nothing new to announce */
	*ev_reason = rs->failed ? rs->reason : rs->restarted ? "RolloutTriggered" : NULL;
	return true;
}

static void msec_sync_done(struct msec *m, const struct proto_result *r, const char *key)
{
	struct cond roll = { .status = "" };
	struct rollout_summary rs;
	const char *ev_type = "Normal", *ev_reason;
	char msg[600], ev[600];
	int64_t now = util_mono_ms();
	bool full = r->pam_requests > 0;

	if (r->secret_rv[0] != '\0') {
		free(m->secret_rv);
		m->secret_rv = util_xstrdup(r->secret_rv);
	}
	if (m->job_gen != m->generation)
		return;   /* the spec changed meanwhile: the queued re-run reports */
	if (r->reason[0] != '\0') {
		int64_t delay = backoff(m->failures++, RETRY_CAP_MS);
		if (r->retry_after > 0 && r->retry_after * 1000 > delay)
			delay = r->retry_after * 1000;
		m->need_full = true;
		count(key, false);
		write_msec_status(m, "False", r->reason, r->message, NULL, false, NULL, "Warning",
		    r->reason, NULL);
		queue_add(&S.q, key, now + delay);
		return;
	}
	count(key, true);
	m->failures = 0;
	free(m->synced_target);
	m->synced_target = util_xstrdup(m->target);
	if (full) {
		m->synced_gen = m->generation;
		m->next_full_ms = m->refresh_ms > 0 ? now + m->refresh_ms : INT64_MAX;
	}
	/* The message describes the state, not the step, so that a sync
	 * that changed nothing leaves the condition as it was. */
	snprintf(msg, sizeof(msg), "Secret %s is in sync with PAM", m->target);
	snprintf(ev, sizeof(ev), "Secret %s %s", m->target, op_word(r->secret_op));
	rollout_summarize(r->rollouts, m->target, &rs);
	rollout_count(&rs);
	const char *wrote = r->secret_op == SECOP_CREATED ? "Created" :
	    r->secret_op == SECOP_UPDATED ? "Updated" : NULL;
	ev_reason = wrote;
	bool rolled = rollout_done(&rs, &roll, &ev_type, &ev_reason);
	/* The hash always advances: a restart still owed is recorded on the
	 * Secret by the worker, not by holding back status. */
	write_msec_status(m, "True", "Synced", msg, r->data_hash, full, rolled ? &roll : NULL,
	    ev_type, ev_reason, rolled ? NULL : ev);
	if ((m = hmap_get(&S.msecs, key + 2)) == NULL)
		return;
	/* the write itself is news too, besides the rollout's Event */
	if (rolled && wrote && event_due(m, wrote, now))
		write_msec_status(m, "True", "Synced", msg, NULL, false, NULL, "Normal", wrote, ev);
	if ((m = hmap_get(&S.msecs, key + 2)) == NULL)
		return;
	/* What we just wrote, before its watch event comes back: a sync
	 * that runs before then must compare with this hash, not the last. */
	free(m->status_hash);
	m->status_hash = util_xstrdup(r->data_hash);
	if (rs.failed) {
		/* retried sooner than the refresh, until every target is done,
		 * and at once when a missing one appears; the Secret's pending
		 * mark tells the worker what is owed, so PAM is not asked */
		rollout_await(m, r->rollouts);
		int64_t delay = backoff(m->roll_failures++, RETRY_CAP_MS);
		if (m->refresh_ms > 0 && m->refresh_ms < delay)
			delay = m->refresh_ms;
		queue_add(&S.q, key, now + delay);
		return;
	}
	m->roll_failures = 0;
	if (m->next_full_ms != INT64_MAX)
		queue_add(&S.q, key, m->next_full_ms);
}

/* requeue_store_users - run the MonoSecrets of s again: all of them
 * after its first check (they waited for it), else those not Ready. */
static void requeue_store_users(const struct mstore *s, bool all)
{
	char key[520];

	for (struct hmap_iter i = { 0 }; hmap_next(&S.msecs, &i);) {
		struct msec *m = i.val;
		if (strcmp(m->ns, s->ns) != 0 || m->store == NULL || strcmp(m->store, s->name) != 0)
			continue;
		if (!all && strcmp(m->ready.status, "True") == 0)
			continue;
		snprintf(key, sizeof(key), "m/%s", i.key);
		queue_add(&S.q, key, util_mono_ms());
	}
}

static void store_done(struct mstore *s, const struct proto_result *r, const char *key)
{
	char skey[520];
	bool ok = r->reason[0] == '\0';
	bool was_ready = strcmp(s->ready.status, "True") == 0;
	bool first = !s->checked;

	snprintf(skey, sizeof(skey), "%s", key + 2);
	s->checked = true;
	count(key, ok);
	if (ok)
		write_store_status(s, "True", "StoreReady", "PAM accepted the access key");
	else
		write_store_status(s, "False", r->reason, r->message);
	if ((s = hmap_get(&S.stores, skey)) == NULL)
		return;
	s->failures = ok ? 0 : s->failures + 1;
	queue_add(&S.q, key, util_mono_ms() + (ok ? STORE_RECHECK_MS :
	    backoff(s->failures, STORE_RETRY_CAP_MS)));
	if (first || (ok && !was_ready))
		requeue_store_users(s, first);
}

void reconcile_result(struct result_msg *rm)
{
	struct wslot *w = &S.slots[rm->slot];
	struct proto_result r;
	char err[128] = "", key[520];

	err[0] = '\0';
	/* A worker being killed may still deliver its job's result: that is
	 * work done, and taking it saves running the job again. */
	bool dying = w->state == W_DYING;
	if (proto_decode_result(rm->buf, rm->len, &r, err, sizeof(err)) != 0 ||
	    (w->state != W_BUSY && !dying) || w->job_key == NULL || r.id != w->job_id) {
		if (!dying) {
			metrics_inc("pamop_worker_protocol_errors_total", NULL, 1);
			log_kv(LOG_WARN, "unexpected message from a worker, restarting it",
			    "error", err[0] ? err : "no job outstanding", NULL);
			pool_kill_slot(rm->slot, "protocol");
		}
		proto_result_free(&r);
		return;
	}
	snprintf(key, sizeof(key), "%s", w->job_key);
	free(w->job_key);
	w->job_key = NULL;
	if (!dying)
		w->state = W_IDLE;
	w->finished_one = true;
	w->crashes = 0;
	char labels[32], ms[24];
	snprintf(labels, sizeof(labels), "kind=\"%s\"", sup_key_kind(key));
	metrics_observe("pamop_reconcile_duration_seconds", labels, (double)r.duration_ms / 1000.0);
	double kreq = metrics_worker_tally(r.pam_codes, r.kube_codes);
	if (kreq > 1)
		rl_reserve(&S.rl, kreq - 1, util_mono_ms());   /* the rest of its requests */
	snprintf(ms, sizeof(ms), "%lld", (long long)r.duration_ms);
	bool stale_token = false;
	if (r.reason[0] && strstr(r.kube_codes, " 401 ")) {
		token_reload(true);
		stale_token = token_newer(w->job_token);
	}
	if (stale_token) {
		/* The token the job carried was refused and a newer one is
		 * here now (rotation): not the object's failure, run it again. */
		log_kv(LOG_INFO, "job refused with a rotated-out token; running it again",
		    "kind", sup_key_kind(key), "object", key + 2, NULL);
		queue_done(&S.q, key);
		queue_add(&S.q, key, util_mono_ms());
		proto_result_free(&r);
		return;
	}
	log_kv(r.reason[0] ? LOG_WARN : LOG_INFO, r.reason[0] ? "job failed" : "job done",
	    "kind", sup_key_kind(key), "object", key + 2, "reason",
	    r.reason[0] ? r.reason : "ok", "message", r.message, "duration_ms", ms, NULL);

	if (key[0] == 'm') {
		struct msec *m = hmap_get(&S.msecs, key + 2);
		if (m && r.kind == JOB_CLEANUP)
			msec_cleanup_done(m, &r, key);
		else if (m)
			msec_sync_done(m, &r, key);
		/* A change of the target seen while the job ran that is not the
		 * job's own write is someone else's edit: put it right. (After a
		 * failure the retry covers it.) */
		if ((m = hmap_get(&S.msecs, key + 2)) != NULL && m->drift_rv) {
			if (r.reason[0] == '\0' && r.kind == JOB_SYNC &&
			    (m->secret_rv == NULL || (strcmp(m->drift_rv, m->secret_rv) != 0 &&
			    !sup_rv_older(m->drift_rv, m->secret_rv))))
				queue_add(&S.q, key, util_mono_ms());
			free(m->drift_rv);
			m->drift_rv = NULL;
		}
	} else {
		struct mstore *s = hmap_get(&S.stores, key + 2);
		if (s)
			store_done(s, &r, key);
	}
	queue_done(&S.q, key);
	proto_result_free(&r);
}

/* reconcile_worker_lost - the job's worker died: run it again, after a
 * pause that grows if this key keeps killing workers (a job that
 * crashes every worker must not monopolise the pool). */
void reconcile_worker_lost(const char *key, const char *cause)
{
	int *failures = NULL;

	(void)cause;
	if (key[0] == 'm') {
		struct msec *m = hmap_get(&S.msecs, key + 2);
		failures = m ? &m->failures : NULL;
	} else {
		struct mstore *s = hmap_get(&S.stores, key + 2);
		failures = s ? &s->failures : NULL;
	}
	count(key, false);
	queue_done(&S.q, key);
	queue_add(&S.q, key, util_mono_ms() + (failures ? backoff((*failures)++, RETRY_CAP_MS) / 4 : 250));
}
