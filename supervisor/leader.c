/*
 * leader.c - leader election on a coordination.k8s.io/v1 Lease, with
 * client-go's algorithm and defaults: a 15 s lease, renewed every 2 s,
 * given up if not renewed within 10 s. A follower judges expiry by when
 * it last saw the record change, on its own clock, never by comparing
 * timestamps written by another machine. The renew deadline is shorter
 * than the lease, so a leader that cannot renew stops before anyone may
 * take over. Losing the lease stops the process (a restarted replica
 * starts clean as a follower); SIGTERM releases it so that a standby
 * takes over at once.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "sup.h"
#include "util.h"

#define LEASE_S 15
#define RENEW_DEADLINE_MS 10000
#define RETRY_MS 2000
#define REQUEST_MS 2000            /* one GET or PUT; a renewal is two */

static struct skube lk;            /* not rate limited: renewals come first */
static char observed[1024];        /* the record as last seen */
static int64_t observed_at;        /* our monotonic clock when it changed */
static _Atomic int64_t last_renew; /* when we last wrote our record */
static pthread_t thr;
static bool running;
static atomic_bool thread_done;
static char where[600];            /* "ns/name", for logs */

static void micro_now(char out[40])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + strlen(out), 40 - strlen(out), ".%06ldZ", ts.tv_nsec / 1000);
}

static char *lease_path(bool item)
{
	return util_strdup_printf("/apis/coordination.k8s.io/v1/namespaces/%s/leases%s%s",
	    S.opt.lease_ns, item ? "/" : "", item ? S.opt.lease_name : "");
}

static const char *sget(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void set_str(cJSON *o, const char *k, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddStringToObject(o, k, v);
}

static void set_num(cJSON *o, const char *k, double v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddNumberToObject(o, k, v);
}

/* create - the first record, when no Lease exists yet. */
static bool create(struct kube_client *k, const char *now)
{
	cJSON *o = cJSON_CreateObject(), *md, *spec;
	char *body, *coll = lease_path(false);
	struct kube_resp r;
	bool ok;

	cJSON_AddStringToObject(o, "apiVersion", "coordination.k8s.io/v1");
	cJSON_AddStringToObject(o, "kind", "Lease");
	md = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(md, "name", S.opt.lease_name);
	cJSON_AddStringToObject(md, "namespace", S.opt.lease_ns);
	spec = cJSON_AddObjectToObject(o, "spec");
	cJSON_AddStringToObject(spec, "holderIdentity", S.identity);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", LEASE_S);
	cJSON_AddStringToObject(spec, "acquireTime", now);
	cJSON_AddStringToObject(spec, "renewTime", now);
	cJSON_AddNumberToObject(spec, "leaseTransitions", 0);
	body = cJSON_PrintUnformatted(o);
	kube_request(k, "POST", coll, NULL, NULL, body, 0, &r);
	ok = r.code == 201;
	kube_resp_free(&r);
	free(body);
	free(coll);
	cJSON_Delete(o);
	return ok;
}

/* try_acquire - one round of client-go's tryAcquireOrRenew (or, with
 * release, of its release: only our own record is given up, by
 * writing an empty holder with a one-second duration). */
static bool try_acquire(struct kube_client *k, bool release)
{
	char *path = lease_path(true), now[40], seen[1024];
	struct kube_resp r;
	cJSON *o = NULL, *spec;
	bool ok = false;

	micro_now(now);
	kube_request(k, "GET", path, NULL, NULL, NULL, 0, &r);
	if (r.code == 404 && !release) {
		ok = create(k, now);
		goto out;
	}
	if (r.code != 200 || (o = cJSON_ParseWithLength(r.body, r.len)) == NULL)
		goto out;
	kube_resp_free(&r);
	spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
	if (!cJSON_IsObject(spec)) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "spec");
		spec = cJSON_AddObjectToObject(o, "spec");
	}
	const char *holder = sget(spec, "holderIdentity");
	double dur = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(spec, "leaseDurationSeconds"));
	double tr = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(spec, "leaseTransitions"));
	bool mine = holder && strcmp(holder, S.identity) == 0;

	/* Any change of the record restarts the follower's expiry clock. */
	snprintf(seen, sizeof(seen), "%s|%s|%s|%g|%g", holder ? holder : "",
	    sget(spec, "renewTime") ? sget(spec, "renewTime") : "",
	    sget(spec, "acquireTime") ? sget(spec, "acquireTime") : "", dur, tr);
	if (strcmp(seen, observed) != 0) {
		snprintf(observed, sizeof(observed), "%s", seen);
		observed_at = util_mono_ms();
	}
	if (release && !mine)
		goto out;
	if (!release && !mine && holder && *holder &&
	    observed_at + (int64_t)((dur > 0 && dur < 86400 ? dur : LEASE_S) * 1000) >
	    util_mono_ms())
		goto out;   /* someone else holds a live lease */

	set_str(spec, "holderIdentity", release ? "" : S.identity);
	set_str(spec, "renewTime", now);
	set_num(spec, "leaseDurationSeconds", release ? 1 : LEASE_S);
	if (!mine && !release) {
		set_str(spec, "acquireTime", now);
		set_num(spec, "leaseTransitions", (tr != tr ? 0 : tr) + 1);
	}
	char *body = cJSON_PrintUnformatted(o);
	/* metadata.resourceVersion is in the body: a concurrent writer makes
	 * this a 409, never a silent overwrite. */
	kube_request(k, "PUT", path, NULL, NULL, body, 0, &r);
	ok = r.code == 200;
	free(body);
out:
	kube_resp_free(&r);
	cJSON_Delete(o);
	free(path);
	return ok;
}

/* became_leader - start leading: everything known is looked at once. */
static void became_leader(void)
{
	log_kv(LOG_INFO, "became leader", "kind", "Lease", "object", where, "identity",
	    S.identity, NULL);
	pthread_mutex_lock(&S.mu);
	S.leader = true;
	for (struct hmap_iter i = { 0 }; hmap_next(&S.msecs, &i);) {
		/* Each Secret is checked against its data hash; PAM is asked
		 * only where status shows no good sync of the current spec, or
		 * when the refresh the old leader scheduled comes due. */
		struct msec *m = i.val;
		index_msec_resume(m);
		sup_enqueue_msec_verify(m->ns, m->name);
	}
	for (struct hmap_iter i = { 0 }; hmap_next(&S.stores, &i);) {
		struct mstore *s = i.val;
		sup_enqueue_store(s->ns, s->name, 0);
	}
	pthread_mutex_unlock(&S.mu);
	sup_wake();
}

bool leader_expired(int64_t now)
{
	return S.opt.leader_elect && S.leader && now - last_renew > RENEW_DEADLINE_MS;
}

static void *run(void *arg)
{
	(void)arg;
	while (!S.stop) {
		int64_t now = util_mono_ms();
		/* A renewal must not outlive the renew deadline. */
		int64_t left = S.leader ? last_renew + RENEW_DEADLINE_MS - now : REQUEST_MS;
		lk.k.timeout_ms = left < 200 ? 200 : left > REQUEST_MS ? REQUEST_MS : left;
		bool ok = try_acquire(&lk.k, false);
		now = util_mono_ms();
		if (ok) {
			last_renew = now;
			if (!S.leader)
				became_leader();
		} else if (S.leader && now - last_renew > RENEW_DEADLINE_MS) {
			log_kv(LOG_ERROR, "leader lease lost; stopping", "kind", "Lease", "object",
			    where, NULL);
			S.leader = false;
			S.stop = 2;
			sup_wake();
			break;
		}
		for (int64_t t = util_mono_ms(); util_mono_ms() - t < RETRY_MS && !S.stop;)
			usleep(50000);
	}
	thread_done = true;
	return NULL;
}

int leader_start(void)
{
	snprintf(where, sizeof(where), "%s/%s", S.opt.lease_ns, S.opt.lease_name);
	if (skube_init(&lk, false, false) != 0)
		return -1;
	running = pthread_create(&thr, NULL, run, NULL) == 0;
	return running ? 0 : -1;
}

/* leader_release - stop the election thread and, if we still lead, hand
 * the lease back, all before deadline (monotonic ms). The thread must be
 * gone first: a renewal racing the release could take the lease again. */
void leader_release(int64_t deadline)
{
	if (!running)
		return;
	while (!thread_done && util_mono_ms() < deadline)
		usleep(20000);
	if (!thread_done) {
		log_kv(LOG_WARN, "lease renewal still in flight; leaving the lease to expire",
		    "kind", "Lease", "object", where, NULL);
		return;
	}
	pthread_join(thr, NULL);
	running = false;
	int64_t left = deadline - util_mono_ms();
	if (S.stop != 2 && S.leader && left > 100) {
		lk.k.timeout_ms = left / 2;   /* a GET and a PUT */
		if (try_acquire(&lk.k, true))
			log_kv(LOG_INFO, "released the leader lease", "kind", "Lease", "object",
			    where, NULL);
		else
			log_kv(LOG_WARN, "could not release the leader lease; it will expire",
			    "kind", "Lease", "object", where, NULL);
	}
	S.leader = false;
	skube_free(&lk);
}
