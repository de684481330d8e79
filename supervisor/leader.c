/*
 * leader.c - leader election on a coordination.k8s.io/v1 Lease, with
 * client-go's algorithm and defaults: a 15 s lease, renewed every 2 s,
 * given up if not renewed within 10 s. A follower judges expiry by when
 * it last saw the record change, on its own clock, never by comparing
 * timestamps written by another machine. Losing the lease stops the
 * process (a restarted replica starts clean as a follower); SIGTERM
 * releases it so that a standby takes over at once.
 */
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

static struct kube_client lk;
static char observed[512];         /* holder + renewTime last seen */
static int64_t observed_at;        /* our monotonic clock when it changed */
static int64_t last_renew;
static pthread_t thr;
static bool running;

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

/* try_acquire - one round of client-go's tryAcquireOrRenew. */
static bool try_acquire(bool release)
{
	char *path = lease_path(true), now[40], seen[512];
	struct kube_resp r;
	cJSON *o = NULL, *spec;
	bool ok = false;

	micro_now(now);
	kube_request(&lk, "GET", path, NULL, NULL, NULL, 0, &r);
	if (r.code == 404 && !release) {
		kube_resp_free(&r);
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "apiVersion", "coordination.k8s.io/v1");
		cJSON_AddStringToObject(o, "kind", "Lease");
		cJSON *md = cJSON_AddObjectToObject(o, "metadata");
		cJSON_AddStringToObject(md, "name", S.opt.lease_name);
		cJSON_AddStringToObject(md, "namespace", S.opt.lease_ns);
		spec = cJSON_AddObjectToObject(o, "spec");
		cJSON_AddStringToObject(spec, "holderIdentity", S.identity);
		cJSON_AddNumberToObject(spec, "leaseDurationSeconds", LEASE_S);
		cJSON_AddStringToObject(spec, "acquireTime", now);
		cJSON_AddStringToObject(spec, "renewTime", now);
		cJSON_AddNumberToObject(spec, "leaseTransitions", 0);
		char *body = cJSON_PrintUnformatted(o), *coll = lease_path(false);
		kube_request(&lk, "POST", coll, NULL, NULL, body, 0, &r);
		ok = r.code == 201;
		free(body);
		free(coll);
		goto out;
	}
	if (r.code != 200)
		goto out;
	o = cJSON_ParseWithLength(r.body, r.len);
	kube_resp_free(&r);
	spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
	if (spec == NULL)
		spec = cJSON_AddObjectToObject(o, "spec");
	const char *holder = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "holderIdentity"));
	const char *renew = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "renewTime"));
	double dur = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(spec, "leaseDurationSeconds"));
	bool mine = holder && strcmp(holder, S.identity) == 0;

	snprintf(seen, sizeof(seen), "%s|%s", holder ? holder : "", renew ? renew : "");
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

	cJSON_DeleteItemFromObjectCaseSensitive(spec, "holderIdentity");
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "renewTime");
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "leaseDurationSeconds");
	cJSON_AddStringToObject(spec, "holderIdentity", release ? "" : S.identity);
	cJSON_AddStringToObject(spec, "renewTime", now);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", release ? 1 : LEASE_S);
	if (!mine && !release) {
		double tr = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(spec, "leaseTransitions"));
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "acquireTime");
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "leaseTransitions");
		cJSON_AddStringToObject(spec, "acquireTime", now);
		cJSON_AddNumberToObject(spec, "leaseTransitions", (tr != tr ? 0 : tr) + 1);
	}
	char *body = cJSON_PrintUnformatted(o);
	kube_request(&lk, "PUT", path, NULL, NULL, body, 0, &r);   /* rv inside: optimistic */
	ok = r.code == 200;
	free(body);
out:
	kube_resp_free(&r);
	cJSON_Delete(o);
	free(path);
	return ok;
}

static void *run(void *arg)
{
	(void)arg;
	while (!S.stop) {
		bool ok = try_acquire(false);
		int64_t now = util_mono_ms();
		if (ok) {
			last_renew = now;
			if (!S.leader) {
				log_kv(LOG_INFO, "became leader", "lease", S.opt.lease_name, "identity",
				    S.identity, NULL);
				pthread_mutex_lock(&S.mu);
				S.leader = true;
				/* Everything known runs once under the new leader. */
				for (struct hmap_iter i = { 0 }; hmap_next(&S.msecs, &i);) {
					struct msec *m = i.val;
					sup_enqueue_msec(m->ns, m->name, 0);
				}
				for (struct hmap_iter i = { 0 }; hmap_next(&S.stores, &i);) {
					struct mstore *s = i.val;
					sup_enqueue_store(s->ns, s->name, 0);
				}
				pthread_mutex_unlock(&S.mu);
				sup_wake();
			}
		} else if (S.leader && now - last_renew > RENEW_DEADLINE_MS) {
			log_kv(LOG_ERROR, "leader lease lost; stopping", "lease", S.opt.lease_name, NULL);
			S.leader = false;
			S.stop = 2;
			sup_wake();
			break;
		}
		for (int t = 0; t < RETRY_MS / 100 && !S.stop; t++)
			usleep(100000);
	}
	return NULL;
}

int leader_start(void)
{
	kube_client_init(&lk, &S.creds);
	lk.on_request = metrics_kube_hook;
	lk.timeout_ms = RENEW_DEADLINE_MS / 2;
	running = pthread_create(&thr, NULL, run, NULL) == 0;
	return running ? 0 : -1;
}

void leader_release(void)
{
	if (!running)
		return;
	pthread_join(thr, NULL);
	running = false;
	if (S.stop != 2 && S.leader && try_acquire(true))
		log_kv(LOG_INFO, "released the leader lease", NULL);
	S.leader = false;
	kube_client_free(&lk);
}
