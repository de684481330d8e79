/*
 * job_fetch.c - the access key from its Secret, then each distinct
 * vault item from PAM exactly once, mapped into the data map:
 * dataFrom items first, in order, then data[] entries, so that an
 * explicit data[] key wins a clash with an extracted property. Two
 * dataFrom entries giving the same key are refused (DuplicateKey).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "job.h"
#include "pam_api.h"
#include "util.h"

int job_read_access_key(struct job_ctx *c)
{
	const struct proto_job *j = c->job;
	struct kube_resp r;
	char path[1024], msg[300];
	cJSON *obj = NULL, *v;
	unsigned char *raw = NULL;
	size_t rawlen = 0, cap;
	int rc = -1;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", j->key_ns, j->key_name);
	if (kube_request(c->kube, "GET", path, NULL, NULL, NULL, KUBE_SENSITIVE, &r) != 0 ||
	    r.code != 200) {
		kube_status_message(&r, msg, sizeof(msg));
		if (r.code == 404)
			job_fail(c, "AccessKeySecretNotFound",
			    "access-key Secret %s/%s not found", j->key_ns, j->key_name);
		else
			job_fail(c, "AccessKeySecretUnreadable",
			    "reading access-key Secret %s/%s: %s", j->key_ns, j->key_name,
			    r.code ? (r.code == 403 ? "HTTP 403 forbidden" : "unexpected status")
			    : msg);
		goto out;
	}
	obj = cJSON_ParseWithLength(r.body, r.len);
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "data"),
	    j->key_key);
	if (!cJSON_IsString(v)) {
		job_fail(c, "AccessKeyMissing", "access-key Secret %s/%s has no key \"%s\"",
		    j->key_ns, j->key_name, j->key_key);
		goto out;
	}
	cap = strlen(v->valuestring) + 1;
	raw = sodium_malloc(cap);
	if (raw == NULL || sodium_base642bin(raw, cap, v->valuestring, cap - 1, NULL,
	    &rawlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		job_fail(c, "AccessKeyMissing", "access-key Secret %s/%s key \"%s\" is not "
		    "valid base64", j->key_ns, j->key_name, j->key_key);
		goto out;
	}
	/* A key pasted with a trailing newline is still the same key. */
	while (rawlen > 0 && (raw[rawlen - 1] == '\n' || raw[rawlen - 1] == '\r' ||
	    raw[rawlen - 1] == ' ' || raw[rawlen - 1] == '\t'))
		rawlen--;
	if (rawlen == 0) {
		job_fail(c, "AccessKeyMissing", "access-key Secret %s/%s key \"%s\" is empty",
		    j->key_ns, j->key_name, j->key_key);
		goto out;
	}
	rc = secret_set(&c->key, raw, rawlen);
out:
	if (raw)
		sodium_free(raw);
	cJSON_Delete(obj);
	kube_resp_free(&r);
	return rc;
}

struct fetched {
	const char *vault_id;
	struct pam_item item;
};

/* put_property - map one property into key, checking it belongs to the type. */
static int put_property(struct job_ctx *c, const struct pam_item *it, const char *vault,
    const char *prop, const char *key, const char *field)
{
	const struct secret *v;

	if (!pam_type_has_property(it->type, prop)) {
		const char *const *names = pam_type_properties(it->type);
		char list[256] = "";
		for (size_t i = 0; names && names[i]; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			    i ? ", " : "", names[i]);
		job_fail(c, "UnknownProperty", "%s: \"%.64s\" is not a property of vault type "
		    "%s (vault %s has: %s)", field, prop, it->type, vault, list);
		return -1;
	}
	if ((v = pam_item_get(it, prop)) == NULL) {
		job_fail(c, "PropertyMissing", "%s: vault %s (type %s) returned no \"%s\"",
		    field, vault, it->type, prop);
		return -1;
	}
	if (dm_put(&c->data, key, v) != 0) {
		job_fail(c, "InternalError", "out of guarded memory");
		return -1;
	}
	return 0;
}

static struct pam_item *find(struct fetched *f, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].vault_id, id) == 0)
			return &f[i].item;
	return NULL;
}

/* fetch_all - each distinct vault id once, in spec order. */
static int fetch_all(struct job_ctx *c, struct fetched *f, size_t *nf)
{
	const struct msec_spec *s = &c->spec;
	struct pam_result pr;

	for (size_t i = 0; i < s->nfrom + s->ndata; i++) {
		const char *id = i < s->nfrom ? s->from[i].vault_id : s->data[i - s->nfrom].vault_id;
		if (find(f, *nf, id))
			continue;
		f[*nf].vault_id = id;
		c->res->pam_requests++;
		int64_t t0 = util_mono_ms();
		int rc = pam_fetch(c->pam, c->job->store_url, &c->key, id, &f[*nf].item, &pr);
		(*nf)++;
		job_count_pam(c, pr.http_code, util_mono_ms() - t0);
		if (rc != 0) {
			job_fail(c, pam_status_reason(pr.status), "%s", pr.message);
			c->res->retry_after = pr.retry_after;
			return -1;
		}
	}
	return 0;
}

int job_fetch(struct job_ctx *c)
{
	const struct msec_spec *s = &c->spec;
	struct fetched *f = calloc(s->nfrom + s->ndata + 1, sizeof(*f));
	size_t nf = 0;
	char field[96];
	int rc = -1;

	if (f == NULL || fetch_all(c, f, &nf) != 0)
		goto out;
	for (size_t i = 0; i < s->nfrom; i++) {
		const struct pam_item *it = find(f, nf, s->from[i].vault_id);
		snprintf(field, sizeof(field), "spec.dataFrom[%zu].extract", i);
		size_t n = s->from[i].property ? 1 : it->nprops;
		for (size_t p = 0; p < n; p++) {
			const char *prop = s->from[i].property ? s->from[i].property :
			    it->props[p].name;
			/* Two extracts giving one key: neither silently wins. */
			if (dm_get(&c->data, prop) != NULL) {
				job_fail(c, "DuplicateKey", "%s: key \"%s\" (vault %s) is also "
				    "produced by an earlier spec.dataFrom entry; use data[] with "
				    "distinct secretKeys", field, prop, s->from[i].vault_id);
				goto out;
			}
			if (put_property(c, it, s->from[i].vault_id, prop, prop, field) != 0)
				goto out;
		}
	}
	for (size_t i = 0; i < s->ndata; i++) {
		const struct spec_data *d = &s->data[i];
		const struct pam_item *it = find(f, nf, d->vault_id);
		const char *prop = d->property;
		snprintf(field, sizeof(field), "spec.data[%zu].remoteRef.property", i);
		const char *const *names = pam_type_properties(it->type);
		/* A single-property type (SecretText, OTP) needs no name. */
		if (prop == NULL && names && names[0] && !names[1])
			prop = names[0];
		if (prop == NULL) {
			job_fail(c, "PropertyRequired", "%s: required for vault %s of type %s",
			    field, d->vault_id, it->type);
			goto out;
		}
		if (put_property(c, it, d->vault_id, prop, d->secret_key, field) != 0)
			goto out;
	}
	dm_sort(&c->data);
	dm_hash(&c->data, &c->key, c->hash);
	rc = 0;
out:
	for (size_t i = 0; i < nf; i++)
		pam_item_free(&f[i].item);
	free(f);
	return rc;
}
