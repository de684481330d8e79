/*
 * job_cleanup.c - what happens to the target Secret when its
 * MonoSecret goes away (or renames its target):
 *   Delete, Secret ours alone  the Secret is deleted.
 *   Delete, Secret shared      our keys and marks are removed; the Secret
 *                              is deleted only if no data is left in it.
 *   Retain                     our ownerReference and marks are removed so
 *                              that garbage collection cannot take it.
 * "Ours alone" is read from the Secret (our controller ownerReference,
 * which only creationPolicy Owner sets), not from the spec, so that a
 * spec we cannot parse never turns a shared Secret into a deleted one.
 * A Secret that is already gone, or that is no longer ours, is success.
 * PAM and the MonoStore are never needed: deletion always completes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

/* drop_our_keys - remove the keys listed in our managed-keys annotation. */
static void drop_our_keys(cJSON *obj, cJSON *ann)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(ann, ANN_MANAGED_KEYS);
	cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
	char *copy, *save = NULL;

	if (!cJSON_IsString(list))
		return;
	copy = strdup(list->valuestring);
	for (char *k = copy ? strtok_r(copy, ",", &save) : NULL; k; k = strtok_r(NULL, ",", &save))
		cJSON_DeleteItemFromObjectCaseSensitive(data, k);
	free(copy);
}

/* drop_our_marks - the label, annotations and ownerReference we add. */
static void drop_our_marks(cJSON *md, const char *uid)
{
	cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");

	cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_OWNER);
	cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_MANAGED_KEYS);
	cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_DATA_HASH);
	cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_ROLLOUT_PENDING);
	cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_MANAGED_META);
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(md, "labels"),
	    LABEL_MANAGED_BY);
	job_drop_owner_ref(md, uid);
}

static long request(struct job_ctx *c, const char *method, const char *path, const char *body)
{
	struct kube_resp r;
	long code;

	kube_request(c->kube, method, path, NULL, NULL, body, KUBE_SENSITIVE, &r);
	code = r.code;
	kube_resp_free(&r);
	return code;
}

/* put_obj - PUT obj back (guarded by its resourceVersion). */
static long put_obj(struct job_ctx *c, const char *path, const cJSON *obj)
{
	char *body = cJSON_PrintUnformatted(obj);
	long code = body ? request(c, "PUT", path, body) : 0;

	cJSON_free(body);
	return code;
}

/* delete_obj - DELETE with a uid precondition: never someone's new Secret. */
static long delete_obj(struct job_ctx *c, const char *path, const cJSON *md)
{
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(md, "uid");
	char del[256];

	snprintf(del, sizeof(del), "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
	    "\"preconditions\":{\"uid\":\"%s\"}}", cJSON_IsString(uid) ? uid->valuestring : "");
	return request(c, "DELETE", path, del);
}

/* apply_policy - the deletion policy on a Secret we know is ours. */
static long apply_policy(struct job_ctx *c, const char *path, cJSON *obj)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");

	if (c->spec.deletion == DELETE_RETAIN) {
		drop_our_marks(md, c->job->uid);
		c->res->secret_op = SECOP_RELEASED;
		return put_obj(c, path, obj);
	}
	if (job_owned_by(obj, c->job->uid)) {
		c->res->secret_op = SECOP_DELETED;
		return delete_obj(c, path, md);
	}
	drop_our_keys(obj, ann);
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(obj, "data")) == 0) {
		c->res->secret_op = SECOP_DELETED;
		return delete_obj(c, path, md);
	}
	job_template_drop(md);
	drop_our_marks(md, c->job->uid);
	c->res->secret_op = SECOP_UPDATED;
	return put_obj(c, path, obj);
}

int job_cleanup(struct job_ctx *c)
{
	const char *target = c->job->target[0] ? c->job->target : c->spec.target;
	char path[1024];
	struct kube_resp r;
	cJSON *obj, *ann;
	const cJSON *owner;
	long code = 200;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", c->job->ns, target);
	c->res->secret_op = SECOP_NONE;
	kube_request(c->kube, "GET", path, NULL, NULL, NULL, KUBE_SENSITIVE, &r);
	if (r.code == 404) {
		kube_resp_free(&r);
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
	ann = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
	    "annotations");
	owner = cJSON_GetObjectItemCaseSensitive(ann, ANN_OWNER);
	/* Someone else's Secret (now): nothing of ours to undo. */
	if ((cJSON_IsString(owner) && strcmp(owner->valuestring, c->job->name) == 0) ||
	    job_owned_by(obj, c->job->uid))
		code = apply_policy(c, path, obj);
	cJSON_Delete(obj);
	if (code == 200 || code == 404)
		return 0;
	job_fail(c, code == 409 ? "SecretWriteConflict" : "SecretWriteFailed",
	    "cleanup of Secret %s/%s: HTTP %ld", c->job->ns, target, code);
	return -1;
}
