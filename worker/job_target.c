/*
 * job_target.c - write the data map into the target Secret under the
 * creation policy, and only when something differs:
 *   Owner  the Secret is ours alone: exactly our keys, the template's
 *          labels/annotations/type, a controller ownerReference. An
 *          existing Secret without that reference is not touched.
 *   Merge  our keys are written into the Secret (created if absent);
 *          keys and metadata of other writers are left as they are.
 *   None   like Merge, but a missing Secret is an error, not created.
 * Keys we wrote earlier are remembered in an annotation, so that a key
 * dropped from the spec is removed under Merge/None without touching
 * keys we never wrote. Writes use the resourceVersion read just before
 * (optimistic concurrency); a conflict re-reads and tries again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "job.h"

#define SECRETS_PATH "/api/v1/namespaces/%s/secrets"

/* obj_map - metadata.<name> as an object, created if absent. */
static cJSON *obj_map(cJSON *parent, const char *name)
{
	cJSON *m = cJSON_GetObjectItemCaseSensitive(parent, name);

	if (!cJSON_IsObject(m)) {
		cJSON_DeleteItemFromObjectCaseSensitive(parent, name);
		m = cJSON_AddObjectToObject(parent, name);
	}
	return m;
}

void job_set_str(cJSON *map, const char *k, const char *v, bool *changed)
{
	cJSON *cur = cJSON_GetObjectItemCaseSensitive(map, k);

	if (cJSON_IsString(cur) && strcmp(cur->valuestring, v) == 0)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(map, k);
	cJSON_AddStringToObject(map, k, v);
	*changed = true;
}

/* set_exact - make map hold exactly want (string values) plus extra[]. */
static void set_exact(cJSON *map, const cJSON *want, const char *const *extra, bool *changed)
{
	cJSON *it = map->child, *next;

	for (; it; it = next) {
		next = it->next;
		bool keep = cJSON_GetObjectItemCaseSensitive(want, it->string) != NULL;
		for (size_t i = 0; extra[i] && !keep; i++)
			keep = strcmp(extra[i], it->string) == 0;
		if (!keep) {
			cJSON_DeleteItemFromObjectCaseSensitive(map, it->string);
			*changed = true;
		}
	}
	cJSON_ArrayForEach(it, want)
		job_set_str(map, it->string, it->valuestring, changed);
}

/* job_owned_by - true when obj has a controller ownerReference with uid. */
bool job_owned_by(const cJSON *obj, const char *uid)
{
	const cJSON *refs = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "ownerReferences"), *r;

	cJSON_ArrayForEach(r, refs) {
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(r, "uid");
		if (cJSON_IsString(u) && strcmp(u->valuestring, uid) == 0 &&
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "controller")))
			return true;
	}
	return false;
}

/* job_drop_owner_ref - remove our ownerReference; true if there was one. */
bool job_drop_owner_ref(cJSON *md, const char *uid)
{
	cJSON *refs = cJSON_GetObjectItemCaseSensitive(md, "ownerReferences"), *r;
	int i = 0;

	cJSON_ArrayForEach(r, refs) {
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(r, "uid");
		if (cJSON_IsString(u) && strcmp(u->valuestring, uid) == 0) {
			cJSON_DeleteItemFromArray(refs, i);
			return true;
		}
		i++;
	}
	return false;
}

static void add_owner_ref(cJSON *md, const struct proto_job *j, bool *changed)
{
	cJSON *refs = cJSON_GetObjectItemCaseSensitive(md, "ownerReferences");
	cJSON *ref;

	if (!cJSON_IsArray(refs)) {
		cJSON_DeleteItemFromObjectCaseSensitive(md, "ownerReferences");
		refs = cJSON_AddArrayToObject(md, "ownerReferences");
	}
	ref = cJSON_CreateObject();
	cJSON_AddStringToObject(ref, "apiVersion", "pam.monofor.com/v1alpha1");
	cJSON_AddStringToObject(ref, "kind", "MonoSecret");
	cJSON_AddStringToObject(ref, "name", j->name);
	cJSON_AddStringToObject(ref, "uid", j->uid);
	cJSON_AddBoolToObject(ref, "controller", true);
	cJSON_AddBoolToObject(ref, "blockOwnerDeletion", true);
	cJSON_AddItemToArray(refs, ref);
	*changed = true;
}

/* managed_keys - the comma list of our keys, in sorted map order. */
static void managed_keys(const struct datamap *m, char *out, size_t outlen)
{
	out[0] = '\0';
	for (size_t i = 0; i < m->n; i++)
		snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? "," : "",
		    m->e[i].key);
}

/* had_key - was k in the comma list of keys we wrote before? */
static bool had_key(const char *list, const char *k)
{
	size_t kl = strlen(k);

	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, k, kl) == 0 && (p[kl] == ',' || p[kl] == '\0'))
			return true;
	return false;
}

/* apply_data - our values into data; drop keys we wrote before and no longer want. */
static int apply_data(struct job_ctx *c, cJSON *obj, const char *prev_keys, bool *changed)
{
	cJSON *data = obj_map(obj, "data"), *it, *next;
	bool owner = c->spec.creation == CREATE_OWNER;

	for (it = data->child; it; it = next) {
		next = it->next;
		if (dm_get(&c->data, it->string) == NULL && (owner || had_key(prev_keys, it->string))) {
			cJSON_DeleteItemFromObjectCaseSensitive(data, it->string);
			*changed = true;
		}
	}
	for (size_t i = 0; i < c->data.n; i++) {
		struct secret b64 = { 0 };
		if (dm_b64(&c->data.e[i].val, &b64) != 0)
			return -1;
		secret_open(&b64);
		job_set_str(data, c->data.e[i].key, (const char *)b64.buf, changed);
		secret_close(&b64);
		secret_free(&b64);
	}
	return 0;
}

/* is_hash - 64 lowercase hex digits, as dm_hash writes them. */
static bool is_hash(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/*
 * mark_pending - decide which change, if any, this Secret owes its
 * workloads a restart for. A new one is owed when our data really
 * changes (not merely the hash, which also moves when the access key
 * is rotated) after an earlier sync recorded a different hash in
 * status. It is written in the same request as the data, so that no
 * crash can separate the two; job_rollout removes it when every
 * workload is done. Otherwise an older one still owed is kept.
 */
static void mark_pending(struct job_ctx *c, cJSON *ann, const char *prev_pending,
    bool data_changed, bool *changed)
{
	const char *prev = c->job->prev_hash;

	if (data_changed && prev[0] != '\0' && strcmp(prev, c->hash) != 0 &&
	    c->job->rollout[0] != '\0')
		prev_pending = c->hash;
	c->rollout_for[0] = '\0';
	if (is_hash(prev_pending)) {
		job_set_str(ann, ANN_ROLLOUT_PENDING, prev_pending, changed);
		snprintf(c->rollout_for, sizeof(c->rollout_for), "%s", prev_pending);
	} else if (cJSON_GetObjectItemCaseSensitive(ann, ANN_ROLLOUT_PENDING)) {
		cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_ROLLOUT_PENDING);
		*changed = true;
	}
}

/* desired - turn obj (existing or a fresh skeleton) into what it should be. */
static int desired(struct job_ctx *c, cJSON *obj, bool *changed)
{
	static const char *const ours_ann[] = { ANN_DATA_HASH, ANN_MANAGED_KEYS, ANN_OWNER,
	    ANN_ROLLOUT_PENDING, NULL };
	static const char *const ours_lbl[] = { LABEL_MANAGED_BY, NULL };
	cJSON *md = obj_map(obj, "metadata");
	cJSON *labels = obj_map(md, "labels"), *ann = obj_map(md, "annotations");
	const cJSON *prev = cJSON_GetObjectItemCaseSensitive(ann, ANN_MANAGED_KEYS);
	const cJSON *pend = cJSON_GetObjectItemCaseSensitive(ann, ANN_ROLLOUT_PENDING);
	char *prev_keys = strdup(cJSON_IsString(prev) ? prev->valuestring : "");
	char prev_pending[65] = "";
	char keys[8192];
	bool data_changed = false;
	int rc;

	if (cJSON_IsString(pend) && strlen(pend->valuestring) < sizeof(prev_pending))
		snprintf(prev_pending, sizeof(prev_pending), "%s", pend->valuestring);
	else   /* an earlier attempt of this job decided it (or a replaced Secret had it) */
		snprintf(prev_pending, sizeof(prev_pending), "%s", c->rollout_for);

	if (c->spec.creation == CREATE_OWNER) {
		set_exact(labels, c->spec.labels, ours_lbl, changed);
		set_exact(ann, c->spec.annotations, ours_ann, changed);
		if (!job_owned_by(obj, c->job->uid))
			add_owner_ref(md, c->job, changed);
	} else {
		job_template_shared(c, labels, ann, changed);
		/* Not ours alone: garbage collection must not take it with us
		 * (an ownerReference left from an earlier Owner policy). */
		if (job_drop_owner_ref(md, c->job->uid))
			*changed = true;
	}
	job_set_str(labels, LABEL_MANAGED_BY, MANAGED_BY_VALUE, changed);
	job_set_str(ann, ANN_DATA_HASH, c->hash, changed);
	job_set_str(ann, ANN_OWNER, c->job->name, changed);
	managed_keys(&c->data, keys, sizeof(keys));
	job_set_str(ann, ANN_MANAGED_KEYS, keys, changed);
	rc = apply_data(c, obj, prev_keys, &data_changed);
	free(prev_keys);
	*changed = *changed || data_changed;
	if (rc == 0)
		mark_pending(c, ann, prev_pending, data_changed, changed);
	return rc;
}

long job_send_secret(struct job_ctx *c, const char *method, const char *path, cJSON *obj,
    char *msg, size_t msglen)
{
	char *body = cJSON_PrintUnformatted(obj);
	struct kube_resp r;
	long code;

	if (body == NULL) {
		snprintf(msg, msglen, "out of memory");
		return 0;
	}
	kube_request(c->kube, method, path, NULL, NULL, body, KUBE_SENSITIVE, &r);
	explicit_bzero(body, strlen(body));
	cJSON_free(body);
	code = r.code;
	if (code == 200 || code == 201) {
		cJSON *o = cJSON_ParseWithLength(r.body, r.len);
		const cJSON *rv = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(o, "metadata"), "resourceVersion");
		free(c->res->secret_rv);
		c->res->secret_rv = strdup(cJSON_IsString(rv) ? rv->valuestring : "");
		cJSON_Delete(o);
	} else {
		kube_status_message(&r, msg, msglen);
	}
	kube_resp_free(&r);
	return code;
}

/* write - POST or PUT obj; returns the HTTP code (0 on transport error). */
static long write_obj(struct job_ctx *c, const char *method, const char *path, cJSON *obj)
{
	char msg[300];
	long code = job_send_secret(c, method, path, obj, msg, sizeof(msg));

	/* keep the API server's words for the caller's message */
	if (code != 200 && code != 201)
		job_fail(c, code == 0 ? "KubernetesUnreachable" : "SecretWriteFailed",
		    "%s Secret %s/%s: %s", method, c->job->ns, c->spec.target, msg);
	return code;
}

static int create(struct job_ctx *c, const char *coll)
{
	cJSON *obj = cJSON_CreateObject(), *md;
	bool changed = false;
	long code;

	cJSON_AddStringToObject(obj, "apiVersion", "v1");
	cJSON_AddStringToObject(obj, "kind", "Secret");
	md = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(md, "name", c->spec.target);
	cJSON_AddStringToObject(md, "namespace", c->job->ns);
	cJSON_AddStringToObject(obj, "type", c->spec.type ? c->spec.type : "Opaque");
	if (desired(c, obj, &changed) != 0) {
		cJSON_Delete(obj);
		job_fail(c, "InternalError", "out of guarded memory");
		return -1;
	}
	code = write_obj(c, "POST", coll, obj);
	cJSON_Delete(obj);
	if (code == 201)
		c->res->secret_op = SECOP_CREATED;
	return code == 201 ? 0 : code == 409 ? 1 : -1;
}

/* delete_for_type - a Secret's type is immutable: replace ours to change it. */
static int delete_for_type(struct job_ctx *c, const char *path, const cJSON *obj)
{
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "uid");
	char body[256];
	struct kube_resp r;

	snprintf(body, sizeof(body), "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
	    "\"preconditions\":{\"uid\":\"%s\"}}", cJSON_IsString(uid) ? uid->valuestring : "");
	kube_request(c->kube, "DELETE", path, NULL, NULL, body, 0, &r);
	kube_resp_free(&r);
	return r.code == 200 || r.code == 404 || r.code == 409 ? 1 : -1;
}

/* update - one read-modify-write round; 0 done, 1 try again, -1 failed. */
static int update(struct job_ctx *c, const char *path, cJSON *obj)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
	const char *want_type = c->spec.type ? c->spec.type : "Opaque";
	bool changed = false;
	long code;

	if (c->spec.creation == CREATE_OWNER && !job_owned_by(obj, c->job->uid)) {
		job_fail(c, "TargetSecretConflict", "Secret %s/%s exists and is not owned by "
		    "this MonoSecret; delete it, rename spec.target.name, or use "
		    "creationPolicy Merge", c->job->ns, c->spec.target);
		return -1;
	}
	bool type_ok = cJSON_IsString(type) && strcmp(type->valuestring, want_type) == 0;
	if (c->spec.creation == CREATE_OWNER && !type_ok) {
		/* the replacement must still owe what this one owed */
		const cJSON *pend = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "annotations"),
		    ANN_ROLLOUT_PENDING);
		if (cJSON_IsString(pend) && is_hash(pend->valuestring))
			snprintf(c->rollout_for, sizeof(c->rollout_for), "%s", pend->valuestring);
		return delete_for_type(c, path, obj);
	}
	if (c->spec.creation != CREATE_OWNER && cJSON_IsString(type) &&
	    strcmp(type->valuestring, SA_TOKEN_TYPE) == 0) {
		job_fail(c, "TargetSecretRefused", "Secret %s/%s is a service-account token; "
		    "a MonoSecret may not write into it", c->job->ns, c->spec.target);
		return -1;
	}
	/* A Secret's type is immutable, and replacing a shared Secret
	 * would drop other writers' keys: say so instead. */
	if (c->spec.creation != CREATE_OWNER && c->spec.type && !type_ok) {
		job_fail(c, "TargetTypeMismatch", "Secret %s/%s has type %s but "
		    "spec.target.template.type is %s; a type cannot be changed under "
		    "creationPolicy %s", c->job->ns, c->spec.target,
		    cJSON_IsString(type) ? type->valuestring : "(none)", c->spec.type,
		    c->spec.creation == CREATE_MERGE ? "Merge" : "None");
		return -1;
	}
	if (desired(c, obj, &changed) != 0) {
		job_fail(c, "InternalError", "out of guarded memory");
		return -1;
	}
	if (!changed) {
		const cJSON *rv = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");
		free(c->res->secret_rv);
		c->res->secret_rv = strdup(cJSON_IsString(rv) ? rv->valuestring : "");
		c->res->secret_op = SECOP_UNCHANGED;
		return 0;
	}
	code = write_obj(c, "PUT", path, obj);
	if (code == 200)
		c->res->secret_op = SECOP_UPDATED;
	return code == 200 ? 0 : code == 409 ? 1 : -1;
}

int job_write_target(struct job_ctx *c)
{
	char coll[512], path[1024];

	snprintf(coll, sizeof(coll), SECRETS_PATH, c->job->ns);
	snprintf(path, sizeof(path), "%s/%s", coll, c->spec.target);
	for (int attempt = 0; attempt < 4; attempt++) {
		struct kube_resp r;
		int rc;

		kube_request(c->kube, "GET", path, NULL, NULL, NULL, KUBE_SENSITIVE, &r);
		if (r.code == 404 && c->spec.creation == CREATE_NONE) {
			kube_resp_free(&r);
			job_fail(c, "TargetSecretNotFound", "Secret %s/%s does not exist and "
			    "creationPolicy is None: create it, or use Owner or Merge",
			    c->job->ns, c->spec.target);
			return -1;
		}
		if (r.code == 404) {
			kube_resp_free(&r);
			rc = create(c, coll);
		} else if (r.code == 200) {
			cJSON *obj = cJSON_ParseWithLength(r.body, r.len);
			kube_resp_free(&r);
			rc = obj ? update(c, path, obj) : -1;
			if (obj == NULL)
				job_fail(c, "KubernetesError", "Secret %s/%s: unreadable response",
				    c->job->ns, c->spec.target);
			cJSON_Delete(obj);
		} else {
			char msg[300];
			kube_status_message(&r, msg, sizeof(msg));
			kube_resp_free(&r);
			job_fail(c, r.code ? "SecretReadFailed" : "KubernetesUnreachable",
			    "reading Secret %s/%s: %s", c->job->ns, c->spec.target, msg);
			return -1;
		}
		if (rc == 0 && c->res->reason[0] != '\0') {
			/* a conflict earlier in this loop was retried and won */
			free(c->res->reason);
			free(c->res->message);
			c->res->reason = strdup("");
			c->res->message = strdup("");
		}
		if (rc <= 0)
			return rc;
	}
	job_fail(c, "SecretWriteConflict", "Secret %s/%s kept changing under us; will retry",
	    c->job->ns, c->spec.target);
	return -1;
}
