/*
 * status.c - the supervisor's writes about its objects: status through
 * the /status subresource, Events, and the finalizer. Conditions follow
 * the API conventions: CamelCase reason, observedGeneration, and a
 * lastTransitionTime that moves only when the status does. Messages
 * come from workers and the spec checker, which never put values in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "sup.h"
#include "util.h"

#define GROUP_PATH "/apis/pam.monofor.com/v1alpha1/namespaces/%s/%s/%s"

static void now_rfc3339(char out[32])
{
	util_rfc3339(time(NULL), out);
}

/* cond_json - one condition; a transition (no ltt yet) is stamped now,
 * and the stamp is kept in c so the caller can remember it. */
static cJSON *cond_json(const char *type, struct cond *c, int64_t gen)
{
	cJSON *o = cJSON_CreateObject();
	char ts[32];

	if (c->ltt == NULL) {
		now_rfc3339(ts);
		c->ltt = util_xstrdup(ts);
	}
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "status", c->status);
	cJSON_AddStringToObject(o, "reason", c->reason ? c->reason : "Unknown");
	cJSON_AddStringToObject(o, "message", c->message ? c->message : "");
	cJSON_AddStringToObject(o, "lastTransitionTime", c->ltt);
	cJSON_AddNumberToObject(o, "observedGeneration", (double)gen);
	return o;
}

int status_write(struct kube_client *k, struct status_update *u)
{
	cJSON *root = cJSON_CreateObject(), *st = cJSON_AddObjectToObject(root, "status");
	cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
	char path[1024], ts[32], msg[300];
	struct kube_resp r;
	char *body;
	int rc = 0;

	cJSON_AddItemToArray(conds, cond_json("Ready", &u->ready, u->generation));
	if (u->has_roll)
		cJSON_AddItemToArray(conds, cond_json("RolloutSucceeded", &u->roll, u->generation));
	if (u->set_refresh) {
		now_rfc3339(ts);
		cJSON_AddStringToObject(st, "refreshTime", ts);
	}
	if (u->hash)
		cJSON_AddStringToObject(st, "secretDataHash", u->hash);
	body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	snprintf(path, sizeof(path), GROUP_PATH "/status", u->ns, u->kind, u->name);
	kube_request(k, "PATCH", path, "application/merge-patch+json", NULL, body, 0, &r);
	if (r.code != 200 && r.code != 404) {
		/* transient (no answer, throttled, server trouble): worth a retry */
		rc = r.code == 0 || r.code == 429 || r.code >= 500 ? -2 : -1;
		kube_status_message(&r, msg, sizeof(msg));
		char obj[600];
		snprintf(obj, sizeof(obj), "%s/%s", u->ns, u->name);
		log_kv(LOG_WARN, "status write failed", "kind", strcmp(u->kind, "monostores") == 0 ?
		    "MonoStore" : "MonoSecret", "object", obj, "error", msg, NULL);
	}
	kube_resp_free(&r);
	free(body);
	return rc;
}

void event_emit(struct kube_client *k, const char *kind, const char *ns, const char *name,
    const char *uid, const char *type, const char *reason, const char *message)
{
	cJSON *e = cJSON_CreateObject(), *md, *io, *src;
	char ts[32], path[512], gen[300];
	struct kube_resp r;
	char *body;

	now_rfc3339(ts);
	cJSON_AddStringToObject(e, "apiVersion", "v1");
	cJSON_AddStringToObject(e, "kind", "Event");
	md = cJSON_AddObjectToObject(e, "metadata");
	snprintf(gen, sizeof(gen), "%s.", name);
	cJSON_AddStringToObject(md, "generateName", gen);
	cJSON_AddStringToObject(md, "namespace", ns);
	io = cJSON_AddObjectToObject(e, "involvedObject");
	cJSON_AddStringToObject(io, "apiVersion", "pam.monofor.com/v1alpha1");
	cJSON_AddStringToObject(io, "kind", kind);
	cJSON_AddStringToObject(io, "name", name);
	cJSON_AddStringToObject(io, "namespace", ns);
	cJSON_AddStringToObject(io, "uid", uid);
	cJSON_AddStringToObject(e, "reason", reason);
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddStringToObject(e, "type", type);
	src = cJSON_AddObjectToObject(e, "source");
	cJSON_AddStringToObject(src, "component", "pam-operator");
	cJSON_AddStringToObject(e, "firstTimestamp", ts);
	cJSON_AddStringToObject(e, "lastTimestamp", ts);
	cJSON_AddNumberToObject(e, "count", 1);
	cJSON_AddStringToObject(e, "reportingComponent", "pam-operator");
	cJSON_AddStringToObject(e, "reportingInstance", S.identity ? S.identity : "pam-operator");
	body = cJSON_PrintUnformatted(e);
	cJSON_Delete(e);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
	kube_request(k, "POST", path, NULL, NULL, body, 0, &r);
	if (r.code != 201) {
		char obj[600];
		snprintf(obj, sizeof(obj), "%s/%s", ns, name);
		log_kv(LOG_WARN, "event write failed", "kind", kind, "object", obj, "reason", reason,
		    NULL);
	}
	kube_resp_free(&r);
	free(body);
}

/* finalizer_set - add or remove ours, guarded by the resourceVersion
 * read just before so that other finalizers are never lost. */
int finalizer_set(struct kube_client *k, const char *ns, const char *name, bool add)
{
	char path[1024];
	struct kube_resp r;
	int rc = -1;

	snprintf(path, sizeof(path), GROUP_PATH, ns, "monosecrets", name);
	for (int attempt = 0; attempt < 3 && rc != 0; attempt++) {
		kube_request(k, "GET", path, NULL, NULL, NULL, 0, &r);
		if (r.code == 404) {
			kube_resp_free(&r);
			return 0;
		}
		cJSON *o = r.code == 200 ? cJSON_ParseWithLength(r.body, r.len) : NULL;
		kube_resp_free(&r);
		if (o == NULL)
			return -1;
		cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata"), *it;
		cJSON *patch = cJSON_CreateObject(), *pmd = cJSON_AddObjectToObject(patch, "metadata");
		cJSON *list = cJSON_AddArrayToObject(pmd, "finalizers");
		bool present = false;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(md, "finalizers")) {
			if (!cJSON_IsString(it))
				continue;
			if (strcmp(it->valuestring, FINALIZER) == 0) {
				present = true;
				if (!add)
					continue;
			}
			cJSON_AddItemToArray(list, cJSON_CreateString(it->valuestring));
		}
		if (present == add) {
			cJSON_Delete(patch);
			cJSON_Delete(o);
			return 0;
		}
		if (add)
			cJSON_AddItemToArray(list, cJSON_CreateString(FINALIZER));
		cJSON_AddStringToObject(pmd, "resourceVersion", cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(md, "resourceVersion")));
		char *body = cJSON_PrintUnformatted(patch);
		cJSON_Delete(patch);
		cJSON_Delete(o);
		kube_request(k, "PATCH", path, "application/merge-patch+json", NULL, body, 0, &r);
		free(body);
		rc = r.code == 200 || r.code == 404 ? 0 : -1;
		kube_resp_free(&r);
	}
	return rc;
}
