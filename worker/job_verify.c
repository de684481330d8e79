/*
 * job_verify.c - rebuild the data map from the target Secret itself,
 * when the keys we wrote still hash to what the last sync reported.
 * Someone else's edit that left our keys alone (another key under
 * Merge, a label, an annotation, a key added under Owner) is then put
 * right without asking PAM. Anything else (one of our keys changed or
 * gone, the Secret missing, a new access key) sends the caller to PAM.
 * The hash is keyed by the access key, so an editor cannot forge it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "job.h"

/* put_b64 - decode one base64 Secret value into the map (guarded memory). */
static int put_b64(struct datamap *m, const char *key, const char *b64)
{
	size_t cap = strlen(b64) + 1, len = 0;
	unsigned char *raw = sodium_malloc(cap);
	struct secret v = { 0 };
	int rc = -1;

	if (raw == NULL)
		return -1;
	if (sodium_base642bin(raw, cap, b64, cap - 1, NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) == 0 && secret_set(&v, raw, len) == 0)
		rc = dm_put(m, key, &v);
	secret_free(&v);
	sodium_free(raw);
	return rc;
}

/* rebuild - our keys (from the managed-keys annotation) into c->data;
 * 0 when every one is there and decodes. */
static int rebuild(struct job_ctx *c, const cJSON *data, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int rc = copy ? 0 : -1;

	for (char *k = copy ? strtok_r(copy, ",", &save) : NULL; k && rc == 0;
	    k = strtok_r(NULL, ",", &save)) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, k);
		rc = cJSON_IsString(v) ? put_b64(&c->data, k, v->valuestring) : -1;
	}
	free(copy);
	return rc;
}

int job_verify_target(struct job_ctx *c)
{
	char path[1024];
	struct kube_resp r;
	cJSON *obj;
	const cJSON *ann, *hash, *keys;
	int ok = 0;

	if (c->job->prev_hash[0] == '\0')
		return 0;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", c->job->ns,
	    c->spec.target);
	kube_request(c->kube, "GET", path, NULL, NULL, NULL, KUBE_SENSITIVE, &r);
	obj = r.code == 200 ? cJSON_ParseWithLength(r.body, r.len) : NULL;
	kube_resp_free(&r);
	ann = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
	    "annotations");
	hash = cJSON_GetObjectItemCaseSensitive(ann, ANN_DATA_HASH);
	keys = cJSON_GetObjectItemCaseSensitive(ann, ANN_MANAGED_KEYS);
	if (cJSON_IsString(hash) && cJSON_IsString(keys) &&
	    strcmp(hash->valuestring, c->job->prev_hash) == 0 &&
	    rebuild(c, cJSON_GetObjectItemCaseSensitive(obj, "data"), keys->valuestring) == 0) {
		dm_sort(&c->data);
		dm_hash(&c->data, &c->key, c->hash);
		ok = strcmp(c->hash, c->job->prev_hash) == 0;
	}
	cJSON_Delete(obj);
	if (!ok)
		dm_free(&c->data);
	return ok;
}
