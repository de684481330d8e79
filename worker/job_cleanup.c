/*
 * job_cleanup.c - what happens to the target Secret when its
 * MonoSecret goes away (or renames its target):
 *   Delete + Owner        the Secret is deleted, if it is still ours.
 *   Delete + Merge/None   our keys and marks are removed; the Secret is
 *                         deleted only if no data is left in it.
 *   Retain                our ownerReference is removed so that garbage
 *                         collection cannot take the Secret.
 * A Secret that is already gone is success. PAM is never asked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

static void drop_owner_ref(cJSON *md, const char *uid)
{
	cJSON *refs = cJSON_GetObjectItemCaseSensitive(md, "ownerReferences");
	int i = 0;
	cJSON *r;

	cJSON_ArrayForEach(r, refs) {
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(r, "uid");
		if (cJSON_IsString(u) && strcmp(u->valuestring, uid) == 0) {
			cJSON_DeleteItemFromArray(refs, i);
			return;
		}
		i++;
	}
}

/* drop_our_keys - remove the keys listed in our managed-keys annotation. */
static void drop_our_keys(cJSON *obj, cJSON *ann)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(ann, ANN_MANAGED_KEYS);
	cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
	char *copy, *save = NULL;

	if (!cJSON_IsString(list))
		return;
	copy = strdup(list->valuestring);
	for (char *k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save))
		cJSON_DeleteItemFromObjectCaseSensitive(data, k);
	free(copy);
}

static long put_or_delete(struct job_ctx *c, const char *method, const char *path, const char *body)
{
	struct kube_resp r;

	kube_request(c->kube, method, path, NULL, NULL, body, KUBE_SENSITIVE, &r);
	kube_resp_free(&r);
	return r.code;
}

int job_cleanup(struct job_ctx *c)
{
	const char *target = c->job->target[0] ? c->job->target : c->spec.target;
	char path[1024], del[256];
	struct kube_resp r;
	cJSON *obj, *md, *ann, *labels, *uid;
	long code;
	bool ours, empty;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", c->job->ns, target);
	kube_request(c->kube, "GET", path, NULL, NULL, NULL, KUBE_SENSITIVE, &r);
	if (r.code == 404) {
		kube_resp_free(&r);
		c->res->secret_op = SECOP_NONE;
		return 0;
	}
	if (r.code != 200) {
		kube_resp_free(&r);
		job_fail(c, r.code ? "SecretReadFailed" : "KubernetesUnreachable",
		    "cleanup of Secret %s/%s: HTTP %ld", c->job->ns, target, r.code);
		return -1;
	}
	obj = cJSON_ParseWithLength(r.body, r.len);
	kube_resp_free(&r);
	md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
	labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
	uid = cJSON_GetObjectItemCaseSensitive(md, "uid");
	{
		const cJSON *owner = cJSON_GetObjectItemCaseSensitive(ann, ANN_OWNER);
		ours = cJSON_IsString(owner) && strcmp(owner->valuestring, c->job->name) == 0;
	}
	snprintf(del, sizeof(del), "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
	    "\"preconditions\":{\"uid\":\"%s\"}}", cJSON_IsString(uid) ? uid->valuestring : "");

	if (!ours) {
		code = 200;   /* someone else's Secret now: nothing of ours to undo */
	} else if (c->spec.deletion == DELETE_RETAIN) {
		drop_owner_ref(md, c->job->uid);
		cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_OWNER);
		char *body = cJSON_PrintUnformatted(obj);
		code = put_or_delete(c, "PUT", path, body);
		cJSON_free(body);
		c->res->secret_op = SECOP_RELEASED;
	} else {
		drop_our_keys(obj, ann);
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
		empty = cJSON_GetArraySize(data) == 0;
		if (c->spec.creation == CREATE_OWNER || empty) {
			code = put_or_delete(c, "DELETE", path, del);
			c->res->secret_op = SECOP_DELETED;
		} else {
			cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_OWNER);
			cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_MANAGED_KEYS);
			cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_ROLLOUT_PENDING);
			cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_DATA_HASH);
			cJSON_DeleteItemFromObjectCaseSensitive(labels, LABEL_MANAGED_BY);
			drop_owner_ref(md, c->job->uid);
			char *body = cJSON_PrintUnformatted(obj);
			code = put_or_delete(c, "PUT", path, body);
			cJSON_free(body);
			c->res->secret_op = SECOP_UPDATED;
		}
	}
	cJSON_Delete(obj);
	if (code == 200 || code == 404)
		return 0;
	job_fail(c, code == 409 ? "SecretWriteConflict" : "SecretWriteFailed",
	    "cleanup of Secret %s/%s: HTTP %ld", c->job->ns, target, code);
	return -1;
}
