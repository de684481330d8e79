/*
 * informer.c - list, then watch, each resource the supervisor indexes,
 * one thread each, and survive what an API server does: watch
 * timeouts (resume from the last resourceVersion), bookmarks, 410 Gone
 * (list again, and drop what vanished meanwhile), restarts and errors
 * (back off with jitter). Lists are paginated. Managed Secrets and
 * workloads are fetched as metadata only (PartialObjectMetadata), so
 * no Secret value ever reaches this process. With --namespaces, each
 * resource gets one informer per namespace on that namespace's own
 * path, so that Roles in those namespaces are all the RBAC it needs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "scope.h"
#include "sup.h"
#include "util.h"

#define META_LIST "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
#define META_WATCH "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

struct informer_def {
	const char *name;              /* resource, for paths and logs */
	const char *prefix;            /* API group and version path */
	const char *selector;          /* labelSelector or NULL */
	bool metadata_only;
	const char *kind;              /* workload kind, for the handlers */
	void (*upsert)(const cJSON *obj);
	void (*del)(const cJSON *obj);
	void (*wl_upsert)(const char *kind, const cJSON *obj);
	void (*wl_del)(const char *kind, const cJSON *obj);
};

struct informer {
	const struct informer_def *def;
	const char *name;              /* = def->name */
	const char *ns;                /* NULL: all namespaces */
	char *path;                    /* collection path */
	const char *selector;          /* = def->selector */
	bool metadata_only;
	const char *kind;
	/* run state */
	struct skube kube;
	char rv[64];
	bool synced;
	struct hmap seen;              /* keys present after the last list */
	bool gone;                     /* a 410 arrived in the stream */
	long events;                   /* lines the current watch delivered */
	bool told_forbidden;           /* the 403 explanation was logged */
};

/* cache_count - objects this informer gained (+1) or lost (-1), for
 * /metrics; with --namespaces several informers add up per resource. */
static void cache_count(const struct informer *inf, double d)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "resource=\"%s\"", inf->name);
	metrics_inc("pamop_cache_objects", labels, d);
}

static void apply(struct informer *inf, const char *type, const cJSON *obj)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
	const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "namespace"));
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "name"));
	bool del = strcmp(type, "DELETED") == 0;
	char key[512];

	if (cJSON_IsString(rv))
		snprintf(inf->rv, sizeof(inf->rv), "%s", rv->valuestring);
	if (strcmp(type, "BOOKMARK") == 0)
		return;
	/* Every kind we watch is namespaced: an object without both names,
	 * or an event type we do not know, says nothing we could index. */
	if ((!del && strcmp(type, "ADDED") != 0 && strcmp(type, "MODIFIED") != 0) ||
	    ns == NULL || name == NULL || !*ns || !*name) {
		log_kv(LOG_WARN, "watch event ignored: unknown type or no namespace/name",
		    "resource", inf->name, NULL);
		return;
	}
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	bool had = hmap_get(&inf->seen, key) != NULL;
	if (del)
		hmap_del(&inf->seen, key);
	else
		hmap_put(&inf->seen, key, (void *)1);
	if (had != !del)
		cache_count(inf, del ? -1 : 1);
	pthread_mutex_lock(&S.mu);
	if (inf->kind)
		(del ? inf->def->wl_del : inf->def->wl_upsert)(inf->kind, obj);
	else
		(del ? inf->def->del : inf->def->upsert)(obj);
	pthread_mutex_unlock(&S.mu);
	sup_wake();
}

/* forget_missing - after a relist, what we knew but the list lacks was
 * deleted while we were not watching. */
static void forget_missing(struct informer *inf, struct hmap *now)
{
	for (struct hmap_iter i = { 0 }; hmap_next(&inf->seen, &i);) {
		if (hmap_get(now, i.key))
			continue;
		char ns[256], name[256];
		const char *slash = strchr(i.key, '/');
		if (slash == NULL)
			continue;
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - i.key), i.key);
		snprintf(name, sizeof(name), "%s", slash + 1);
		cJSON *fake = cJSON_CreateObject(), *md = cJSON_AddObjectToObject(fake, "metadata");
		cJSON_AddStringToObject(md, "namespace", ns);
		cJSON_AddStringToObject(md, "name", name);
		apply(inf, "DELETED", fake);
		cJSON_Delete(fake);
	}
	hmap_free(&inf->seen);
	inf->seen = *now;   /* the same keys: each listed one was applied */
}

/* list - every page; 0 on success with inf->rv set to the list's version. */
static int list(struct informer *inf)
{
	char cont[1024] = "", path[2048];
	struct hmap now = { 0 };

	do {
		struct kube_resp r;
		char *sel = inf->selector ? kube_escape(inf->selector) : NULL;
		char *c = cont[0] ? kube_escape(cont) : NULL;
		snprintf(path, sizeof(path), "%s?limit=500%s%s%s%s", inf->path,
		    sel ? "&labelSelector=" : "", sel ? sel : "", c ? "&continue=" : "", c ? c : "");
		free(sel);
		free(c);
		if (kube_request(&inf->kube.k, "GET", path, NULL,
		    inf->metadata_only ? META_LIST : NULL, NULL, 0, &r) != 0 || r.code != 200) {
			char msg[300];
			kube_status_message(&r, msg, sizeof(msg));
			log_kv(LOG_WARN, "list failed", "resource", inf->name, "namespace",
			    inf->ns ? inf->ns : "*", "error", msg, NULL);
			kube_resp_free(&r);
			hmap_free(&now);
			return -1;
		}
		cJSON *o = cJSON_ParseWithLength(r.body, r.len), *it;
		kube_resp_free(&r);
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
		const char *rv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "resourceVersion"));
		const char *next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "continue"));
		snprintf(inf->rv, sizeof(inf->rv), "%s", rv ? rv : "");
		snprintf(cont, sizeof(cont), "%s", next ? next : "");
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "items")) {
			const cJSON *imd = cJSON_GetObjectItemCaseSensitive(it, "metadata");
			const char *ins = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(imd,
			    "namespace"));
			const char *iname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(imd,
			    "name"));
			char key[512];
			snprintf(key, sizeof(key), "%s/%s", ins ? ins : "", iname ? iname : "");
			hmap_put(&now, key, (void *)1);
			char saved[64];
			snprintf(saved, sizeof(saved), "%s", inf->rv);
			apply(inf, "ADDED", it);
			snprintf(inf->rv, sizeof(inf->rv), "%s", saved);
		}
		cJSON_Delete(o);
	} while (cont[0] && !S.stop);
	forget_missing(inf, &now);
	return 0;
}

static int on_line(void *ud, char *line, size_t len)
{
	struct informer *inf = ud;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "type"));
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
	int stop = 0;

	inf->events++;
	if (type == NULL) {
		/* A Status instead of an event: the watch was refused. */
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(ev, "code");
		if (cJSON_GetNumberValue(code) == 410)
			inf->gone = true;
		stop = 1;
	} else if (strcmp(type, "ERROR") == 0) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		if (cJSON_GetNumberValue(code) == 410)
			inf->gone = true;
		log_kv(LOG_INFO, "watch ended by the server", "resource", inf->name, "code",
		    cJSON_IsNumber(code) ? (cJSON_GetNumberValue(code) == 410 ? "410" : "other") : "none", NULL);
		stop = 1;
	} else {
		apply(inf, type, obj);
	}
	cJSON_Delete(ev);
	return stop;
}

static void backoff_sleep(int *fails)
{
	int64_t ms = 200LL << (*fails < 7 ? *fails : 7);   /* up to ~25 s */
	ms += rand() % (ms / 2 + 1);                        /* jitter */
	(*fails)++;
	for (int64_t t = 0; t < ms && !S.stop; t += 100)
		usleep(100000);
}

static void *run(void *arg)
{
	struct informer *inf = arg;
	int fails = 0;
	bool need_list = true;

	skube_init(&inf->kube, true, false);
	cache_count(inf, 0);   /* the series exists from the start */
	while (!S.stop) {
		if (need_list) {
			if (list(inf) != 0) {
				backoff_sleep(&fails);
				continue;
			}
			need_list = false;
			if (!inf->synced) {
				inf->synced = true;
				pthread_mutex_lock(&S.mu);
				S.informers_synced++;
				pthread_mutex_unlock(&S.mu);
				log_kv(LOG_INFO, "cache synced", "resource", inf->name, "namespace",
				    inf->ns ? inf->ns : "*", NULL);
				sup_wake();
			}
		}
		char path[2048];
		char *sel = inf->selector ? kube_escape(inf->selector) : NULL;
		snprintf(path, sizeof(path), "%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d"
		    "&resourceVersion=%s%s%s", inf->path, 240 + rand() % 120, inf->rv,
		    sel ? "&labelSelector=" : "", sel ? sel : "");
		free(sel);
		inf->gone = false;
		inf->events = 0;
		int64_t t0 = util_mono_ms();
		long code = kube_stream(&inf->kube.k, path, inf->metadata_only ? META_WATCH : NULL,
		    on_line, inf, &S.stop);
		if (S.stop)
			break;
		if (inf->gone || code == 410) {
			log_kv(LOG_INFO, "resourceVersion expired, listing again", "resource",
			    inf->name, NULL);
			need_list = true;
			continue;
		}
		if (code == 200 && (inf->events > 0 || util_mono_ms() - t0 > 1000)) {
			fails = 0;   /* a normal timeout: resume from the last rv */
			continue;
		}
		if (code == 200) {
			/* closed at once with nothing said (a server going down):
			 * not worth a relist, but not a reason to spin either */
			backoff_sleep(&fails);
			continue;
		}
		char cs[16];
		snprintf(cs, sizeof(cs), "%ld", code);
		if (code == 403 && !inf->told_forbidden) {
			/* RBAC allows list but not watch (or an API server just
			 * started has not loaded RBAC yet): the cache still follows,
			 * one list per backoff period; say so once, not each time. */
			log_kv(LOG_WARN, "watch refused (403); while it is, the cache is refreshed "
			    "by listing again (grant the watch verb to follow changes at once)",
			    "resource", inf->name, "code", cs, NULL);
			inf->told_forbidden = true;
		} else {
			log_kv(code == 403 ? LOG_DEBUG : LOG_WARN, code ?
			    "watch refused, listing again after a pause" :
			    "API server unreachable, watching again after a pause", "resource",
			    inf->name, "code", cs, NULL);
		}
		backoff_sleep(&fails);
		if (code != 0)
			need_list = true;
	}
	skube_free(&inf->kube);
	return NULL;
}

static const struct informer_def defs[] = {
	{ .name = "monostores", .prefix = "/apis/pam.monofor.com/v1alpha1",
	  .upsert = index_store_upsert, .del = index_store_delete },
	{ .name = "monosecrets", .prefix = "/apis/pam.monofor.com/v1alpha1",
	  .upsert = index_msec_upsert, .del = index_msec_delete },
	{ .name = "secrets", .prefix = "/api/v1", .metadata_only = true,
	  .selector = "app.kubernetes.io/managed-by=pam-operator",
	  .upsert = index_secret_upsert, .del = index_secret_delete },
	{ .name = "deployments", .prefix = "/apis/apps/v1", .metadata_only = true,
	  .kind = "Deployment", .wl_upsert = index_workload_upsert, .wl_del = index_workload_delete },
	{ .name = "daemonsets", .prefix = "/apis/apps/v1", .metadata_only = true,
	  .kind = "DaemonSet", .wl_upsert = index_workload_upsert, .wl_del = index_workload_delete },
	{ .name = "statefulsets", .prefix = "/apis/apps/v1", .metadata_only = true,
	  .kind = "StatefulSet", .wl_upsert = index_workload_upsert, .wl_del = index_workload_delete },
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

/* informer_feed - see sup.h: the path a watch line takes, without a
 * connection (the fuzz target tests/fuzz/fuzz_watch.c drives it). */
int informer_feed(size_t which, char *line, size_t len)
{
	static struct informer fed[NDEFS];
	struct informer *inf = &fed[which % NDEFS];

	if (inf->def == NULL) {
		inf->def = &defs[which % NDEFS];
		inf->name = inf->def->name;
		inf->selector = inf->def->selector;
		inf->metadata_only = inf->def->metadata_only;
		inf->kind = inf->def->kind;
	}
	return on_line(inf, line, len);
}

/* The informers, kept where a leak checker sees them: their threads are
 * detached and may be gone (or mid-request) when the process exits. */
static struct informer *infs;

/* informers_start - one informer per resource, or per resource and
 * namespace of S.opt.scope. They live as long as the process. */
int informers_start(void)
{
	int nns = S.opt.scope.n > 0 ? S.opt.scope.n : 1;

	infs = util_xcalloc((size_t)nns * NDEFS, sizeof(*infs));

	S.informers_total = nns * (int)NDEFS;
	for (int n = 0; n < nns; n++) {
		for (size_t d = 0; d < NDEFS; d++) {
			struct informer *inf = &infs[(size_t)n * NDEFS + d];
			pthread_t t;

			inf->def = &defs[d];
			inf->name = defs[d].name;
			inf->ns = S.opt.scope.n > 0 ? S.opt.scope.ns[n] : NULL;
			inf->path = scope_path(defs[d].prefix, inf->ns, defs[d].name);
			inf->selector = defs[d].selector;
			inf->metadata_only = defs[d].metadata_only;
			inf->kind = defs[d].kind;
			if (pthread_create(&t, NULL, run, inf) != 0)
				return -1;
			pthread_detach(t);
		}
	}
	return 0;
}
