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

static struct kube_client writer;   /* main thread only */
static bool writer_ready;

static struct kube_client *kw(void)
{
	if (!writer_ready) {
		kube_client_init(&writer, &S.creds);
		writer.on_request = metrics_kube_hook;
		writer_ready = true;
	}
	return &writer;
}

static int64_t backoff(int failures)
{
	int64_t ms = (int64_t)RETRY_BASE_MS << (failures < 12 ? failures : 12);
	return ms > RETRY_CAP_MS ? RETRY_CAP_MS : ms;
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

/* event_once - an Event, unless the same reason went out for this object
 * within the last 10 minutes (a failing sync retries often). */
static bool event_due(struct msec *m, const char *reason, int64_t now)
{
	if (m->last_event && strcmp(m->last_event, reason) == 0 && now - m->last_event_ms < 600000)
		return false;
	free(m->last_event);
	m->last_event = util_xstrdup(reason);
	m->last_event_ms = now;
	return true;
}

/* write_msec_status - status (and maybe an Event) for m, dropping S.mu
 * for the request. m may be gone when this returns: callers re-look-up.
 * When roll is given the Event is the rollout's and says what it says. */
static void write_msec_status(struct msec *m, const char *status, const char *reason,
    const char *msg, const char *hash, bool refreshed, const struct cond *roll,
    const char *ev_type, const char *ev_reason)
{
	struct status_update u = { .kind = "monosecrets" };
	bool emit = false;
	char ev_msg[1100];

	u.ns = util_xstrdup(m->ns);
	u.name = util_xstrdup(m->name);
	u.uid = util_xstrdup(m->uid ? m->uid : "");
	u.generation = m->generation;
	cond_copy(&u.ready, &m->ready);
	free(u.ready.reason); free(u.ready.message);
	u.ready.reason = NULL; u.ready.message = NULL;
	if (strcmp(u.ready.status, status) != 0) {
		free(u.ready.ltt);
		u.ready.ltt = NULL;   /* a transition: status.c stamps it */
	}
	cond_set(&u.ready, status, reason, msg);
	if (roll) {
		u.has_roll = true;
		cond_copy(&u.roll, &m->roll);
		free(u.roll.reason); free(u.roll.message);
		u.roll.reason = NULL; u.roll.message = NULL;
		if (strcmp(u.roll.status, roll->status) != 0) {
			free(u.roll.ltt);
			u.roll.ltt = NULL;
		}
		cond_set(&u.roll, roll->status, roll->reason, roll->message);
	}
	else if (m->roll.status[0] != '\0') {
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
		snprintf(ev_msg, sizeof(ev_msg), "%s", roll ? roll->message : msg);
	}

	/* Nothing new to say (a bad spec retried, a store still missing): no write. */
	bool same = strcmp(m->ready.status, status) == 0 && m->ready.reason &&
	    strcmp(m->ready.reason, reason) == 0 && m->ready.message &&
	    strcmp(m->ready.message, msg) == 0 && m->ready.observed_gen == m->generation &&
	    !refreshed && roll == NULL &&
	    (hash == NULL || (m->status_hash && strcmp(hash, m->status_hash) == 0));

	pthread_mutex_unlock(&S.mu);
	if (S.leader) {
		if (!same)
			status_write(kw(), &u);
		if (emit)
			event_emit(kw(), "MonoSecret", u.ns, u.name, u.uid, ev_type, ev_reason, ev_msg);
	}
	pthread_mutex_lock(&S.mu);
	update_free(&u);
}

static void write_store_status(struct mstore *s, const char *status, const char *reason,
    const char *msg)
{
	struct status_update u = { .kind = "monostores" };

	u.ns = util_xstrdup(s->ns);
	u.name = util_xstrdup(s->name);
	u.uid = util_xstrdup(s->uid ? s->uid : "");
	u.generation = s->generation;
	cond_copy(&u.ready, &s->ready);
	free(u.ready.reason); free(u.ready.message);
	u.ready.reason = NULL; u.ready.message = NULL;
	if (strcmp(u.ready.status, status) != 0) {
		free(u.ready.ltt);
		u.ready.ltt = NULL;
	}
	cond_set(&u.ready, status, reason, msg);
	pthread_mutex_unlock(&S.mu);
	if (S.leader)
		status_write(kw(), &u);
	pthread_mutex_lock(&S.mu);
	update_free(&u);
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
	char skey[512];
	struct mstore *s;
	int rc;

	j.ns = m->ns; j.name = m->name; j.uid = m->uid; j.spec_json = m->spec_json;
	j.prev_hash = m->status_hash ? m->status_hash : "";
	j.target = "";
	j.kube_token = S.creds.token_file ? S.creds.token : "";

	if (m->deleting) {
		if (!m->has_finalizer)
			return 0;
		j.kind = JOB_CLEANUP;
		j.target = m->synced_target ? m->synced_target : (m->target ? m->target : "");
		if (j.target[0] == '\0') {   /* never knew a target: nothing to undo */
			pthread_mutex_unlock(&S.mu);
			if (S.leader)
				finalizer_set(kw(), j.ns, j.name, false);
			pthread_mutex_lock(&S.mu);
			return 0;
		}
		return pool_send(slot, qkey, &j) == 0 ? 1 : -1;
	}
	if (m->spec_reason) {
		write_msec_status(m, "False", m->spec_reason, m->spec_message, NULL, false, NULL,
		    "Warning", m->spec_reason);
		return 0;   /* nothing to retry until the spec changes */
	}
	if (!m->has_finalizer) {
		char *ns = util_xstrdup(m->ns), *name = util_xstrdup(m->name);
		pthread_mutex_unlock(&S.mu);
		rc = S.leader ? finalizer_set(kw(), ns, name, true) : -1;
		pthread_mutex_lock(&S.mu);
		free(ns); free(name);
		/* the watch event of the finalizer write queues the sync */
		return rc == 0 ? 0 : -1;
	}
	if (m->synced_target && m->target && strcmp(m->synced_target, m->target) != 0) {
		j.kind = JOB_CLEANUP;   /* renamed: undo the old target first */
		j.flags = JOBF_OWNER_CLEANUP;
		j.target = m->synced_target;
		return pool_send(slot, qkey, &j) == 0 ? 1 : -1;
	}
	snprintf(skey, sizeof(skey), "%s/%s", m->ns, m->store);
	s = hmap_get(&S.stores, skey);
	if (s == NULL || s->spec_reason || s->url == NULL) {
		char msg[700];
		snprintf(msg, sizeof(msg), s ? "MonoStore %s/%s is invalid: %s" :
		    "MonoStore %s/%s not found", m->ns, m->store, s && s->spec_message ?
		    s->spec_message : "");
		write_msec_status(m, "False", s ? "StoreNotReady" : "StoreNotFound", msg, NULL,
		    false, NULL, "Warning", s ? "StoreNotReady" : "StoreNotFound");
		return 0;   /* the store's arrival or change queues this again */
	}
	if (strcmp(s->key_ns, s->ns) != 0 && !S.opt.allow_cross_ns_keys) {
		char msg[700];
		snprintf(msg, sizeof(msg), "MonoStore %s/%s refers to an access-key Secret in "
		    "namespace %s; cross-namespace keys need --allow-cross-namespace-keys",
		    s->ns, s->name, s->key_ns);
		write_msec_status(m, "False", "StoreNotReady", msg, NULL, false, NULL, "Warning",
		    "StoreNotReady");
		return 0;
	}
	j.kind = JOB_SYNC;
	fill_store(&j, s);
	j.rollout = rollout_targets(m);
	rc = pool_send(slot, qkey, &j);
	free(j.rollout);
	(void)now;
	return rc == 0 ? 1 : -1;
}

static int dispatch_store(struct mstore *s, const char *qkey, int slot)
{
	struct proto_job j = { .kind = JOB_CHECK_STORE, .now_ms = util_now_ms() };

	if (s->spec_reason) {
		write_store_status(s, "False", s->spec_reason, s->spec_message);
		return 0;
	}
	if (strcmp(s->key_ns, s->ns) != 0 && !S.opt.allow_cross_ns_keys) {
		char msg[600];
		snprintf(msg, sizeof(msg), "spec.provider.monoforPAM.auth.accessKeySecretRef."
		    "namespace: %s differs from the MonoStore's namespace; the operator was not "
		    "started with --allow-cross-namespace-keys", s->key_ns);
		write_store_status(s, "False", "CrossNamespaceKeyRefused", msg);
		return 0;
	}
	j.ns = s->ns; j.name = s->name; j.uid = s->uid; j.spec_json = "";
	j.kube_token = S.creds.token_file ? S.creds.token : "";
	fill_store(&j, s);
	return pool_send(slot, qkey, &j) == 0 ? 1 : -1;
}

void reconcile_dispatch(int64_t now)
{
	int slot;
	const char *qkey;

	while ((slot = pool_idle_slot()) >= 0 && (qkey = queue_pop(&S.q, now)) != NULL) {
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
		if (rc < 0)
			queue_add(&S.q, key, util_mono_ms() + 1000);
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

static void count_pam(const char *codes)
{
	int code, n, off;

	while (sscanf(codes, "%d %d\n%n", &code, &n, &off) == 2) {
		char label[32];
		snprintf(label, sizeof(label), "code=\"%d\"", code);
		metrics_inc("pamop_pam_requests_total", label, n);
		codes += off;
	}
}

static void msec_cleanup_done(struct msec *m, const struct proto_result *r, const char *key)
{
	char msg[600];

	if (r->reason[0] != '\0') {
		int64_t delay = backoff(m->failures++);
		write_msec_status(m, "False", r->reason, r->message, NULL, false, NULL, "Warning",
		    r->reason);
		queue_add(&S.q, key, util_mono_ms() + delay);
		return;
	}
	if (!m->deleting) {   /* a rename: the old target is settled */
		free(m->synced_target);
		m->synced_target = NULL;
		queue_add(&S.q, key, 0);
		return;
	}
	char *ns = util_xstrdup(m->ns), *name = util_xstrdup(m->name), *uid = util_xstrdup(m->uid);
	snprintf(msg, sizeof(msg), "target Secret %s on deletion", op_word(r->secret_op));
	pthread_mutex_unlock(&S.mu);
	if (S.leader) {
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
	char msg[600];
	int64_t now = util_mono_ms();

	if (r->reason[0] != '\0') {
		int64_t delay = backoff(m->failures++);
		if (r->retry_after > 0 && r->retry_after * 1000 > delay)
			delay = r->retry_after * 1000;
		metrics_inc("pamop_reconcile_total", "result=\"error\"", 1);
		write_msec_status(m, "False", r->reason, r->message, NULL, false, NULL, "Warning",
		    r->reason);
		queue_add(&S.q, key, now + delay);
		return;
	}
	metrics_inc("pamop_reconcile_total", "result=\"success\"", 1);
	m->failures = 0;
	free(m->secret_rv);
	m->secret_rv = util_xstrdup(r->secret_rv);
	free(m->synced_target);
	m->synced_target = util_xstrdup(m->target);
	m->synced_gen = m->generation;
	snprintf(msg, sizeof(msg), "Secret %s %s", m->target, op_word(r->secret_op));
	rollout_summarize(r->rollouts, m->target, &rs);
	rollout_count(&rs);
	ev_reason = r->secret_op == SECOP_CREATED ? "Created" :
	    r->secret_op == SECOP_UPDATED ? "Updated" : NULL;
	bool rolled = rollout_done(&rs, &roll, &ev_type, &ev_reason);
	/* The hash always advances: a restart still owed is recorded on the
	 * Secret by the worker, not by holding back status. */
	write_msec_status(m, "True", "Synced", msg, r->data_hash, true, rolled ? &roll : NULL,
	    ev_type, ev_reason);
	if ((m = hmap_get(&S.msecs, key + 2)) == NULL)
		return;
	/* What we just wrote, before its watch event comes back: a sync
	 * that runs before then must compare with this hash, not the last. */
	free(m->status_hash);
	m->status_hash = util_xstrdup(r->data_hash);
	if (rs.failed) {
		/* retried sooner than the refresh, until every target is done,
		 * and at once when a missing one appears */
		rollout_await(m, r->rollouts);
		int64_t delay = backoff(m->roll_failures++);
		if (m->refresh_ms > 0 && m->refresh_ms < delay)
			delay = m->refresh_ms;
		queue_add(&S.q, key, now + delay);
		return;
	}
	m->roll_failures = 0;
	if (m->refresh_ms > 0)
		queue_add(&S.q, key, util_mono_ms() + m->refresh_ms);
}

static void store_done(struct mstore *s, const struct proto_result *r, const char *key)
{
	char skey[520];
	bool ok = r->reason[0] == '\0';
	bool was_ready = strcmp(s->ready.status, "True") == 0;

	snprintf(skey, sizeof(skey), "%s", key + 2);
	if (ok)
		write_store_status(s, "True", "StoreReady", "PAM accepted the access key");
	else
		write_store_status(s, "False", r->reason, r->message);
	if ((s = hmap_get(&S.stores, skey)) == NULL)
		return;
	s->failures = ok ? 0 : s->failures + 1;
	queue_add(&S.q, key, util_mono_ms() + (ok ? STORE_RECHECK_MS : backoff(s->failures)));
	if (ok && !was_ready) {
		for (struct hmap_iter i = { 0 }; hmap_next(&S.msecs, &i);) {
			struct msec *m = i.val;
			/* only those that failed: new ones are queued already */
			if (strcmp(m->ns, s->ns) == 0 && m->store && strcmp(m->store, s->name) == 0 &&
			    strcmp(m->ready.status, "False") == 0)
				sup_enqueue_msec(m->ns, m->name, 0);
		}
	}
}

void reconcile_result(struct result_msg *rm)
{
	struct wslot *w = &S.slots[rm->slot];
	struct proto_result r;
	char err[128], key[520];

	if (proto_decode_result(rm->buf, rm->len, &r, err, sizeof(err)) != 0 ||
	    w->state != W_BUSY || r.id != w->job_id) {
		log_kv(LOG_WARN, "unexpected message from a worker, restarting it",
		    "error", err[0] ? err : "no job outstanding", NULL);
		if (w->pid > 0)
			kill(w->pid, SIGKILL);
		proto_result_free(&r);
		return;
	}
	snprintf(key, sizeof(key), "%s", w->job_key);
	free(w->job_key);
	w->job_key = NULL;
	w->state = W_IDLE;
	w->finished_one = true;
	w->crashes = 0;
	metrics_observe("pamop_reconcile_duration_seconds", NULL, (double)r.duration_ms / 1000.0);
	count_pam(r.pam_codes);
	log_kv(r.reason[0] ? LOG_WARN : LOG_INFO, r.reason[0] ? "job failed" : "job done",
	    "key", key + 2, "reason", r.reason[0] ? r.reason : "ok", "message", r.message, NULL);

	if (key[0] == 'm') {
		struct msec *m = hmap_get(&S.msecs, key + 2);
		if (m && r.kind == JOB_CLEANUP)
			msec_cleanup_done(m, &r, key);
		else if (m)
			msec_sync_done(m, &r, key);
	} else {
		struct mstore *s = hmap_get(&S.stores, key + 2);
		if (s)
			store_done(s, &r, key);
	}
	queue_done(&S.q, key);
	proto_result_free(&r);
}

void reconcile_worker_lost(const char *key, const char *cause)
{
	(void)cause;
	queue_done(&S.q, key);
	queue_add(&S.q, key, util_mono_ms() + 200);
}
