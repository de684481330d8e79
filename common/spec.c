/*
 * spec.c - MonoSecret/MonoStore spec validation. See spec.h.
 */
#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

#define REASON_INVALID "InvalidSpec"

bool spec_valid_secret_key(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 253 || strcmp(k, ".") == 0 || strcmp(k, "..") == 0)
		return false;
	return strspn(k, "-._abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == n;
}

bool spec_valid_vault_id(const char *v)
{
	size_t n = strlen(v);

	return n > 0 && n <= 64 && strspn(v, "0123456789abcdefABCDEF-") == n;
}

bool spec_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n)
		return false;
	return s[0] != '-' && s[0] != '.' && s[n - 1] != '-' && s[n - 1] != '.';
}

/* str_field - an optional string member; -1 if present but not a string. */
static int str_field(const cJSON *o, const char *name, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return -1;
	*out = v->valuestring;
	return 0;
}

#define FAIL(...) do { snprintf(msg, msglen, __VA_ARGS__); goto fail; } while (0)

static int parse_data(const cJSON *spec, struct msec_spec *s, char *msg, size_t msglen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(spec, "data"), *it;
	size_t i = 0;

	if (arr && !cJSON_IsArray(arr))
		FAIL("spec.data: must be a list");
	s->ndata = (size_t)cJSON_GetArraySize(arr);
	s->data = calloc(s->ndata + 1, sizeof(*s->data));
	cJSON_ArrayForEach(it, arr) {
		struct spec_data *d = &s->data[i];
		const cJSON *ref = cJSON_GetObjectItemCaseSensitive(it, "remoteRef");

		if (str_field(it, "secretKey", &d->secret_key) != 0 || d->secret_key == NULL)
			FAIL("spec.data[%zu].secretKey: required", i);
		if (!spec_valid_secret_key(d->secret_key))
			FAIL("spec.data[%zu].secretKey: \"%.64s\" is not a valid Secret key "
			    "(letters, digits, '-', '_', '.'; at most 253)", i, d->secret_key);
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->data[j].secret_key, d->secret_key) == 0)
				FAIL("spec.data[%zu].secretKey: \"%s\" duplicates spec.data[%zu]",
				    i, d->secret_key, j);
		if (!cJSON_IsObject(ref) || str_field(ref, "vaultID", &d->vault_id) != 0 ||
		    d->vault_id == NULL)
			FAIL("spec.data[%zu].remoteRef.vaultID: required", i);
		if (!spec_valid_vault_id(d->vault_id))
			FAIL("spec.data[%zu].remoteRef.vaultID: \"%.64s\" is not a vault UUID", i,
			    d->vault_id);
		if (str_field(ref, "property", &d->property) != 0)
			FAIL("spec.data[%zu].remoteRef.property: must be a string", i);
		if (d->property && *d->property == '\0')
			d->property = NULL;
		i++;
	}
	return 0;
fail:
	return -1;
}

static int parse_from(const cJSON *spec, struct msec_spec *s, char *msg, size_t msglen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(spec, "dataFrom"), *it;
	size_t i = 0;

	if (arr && !cJSON_IsArray(arr))
		FAIL("spec.dataFrom: must be a list");
	s->nfrom = (size_t)cJSON_GetArraySize(arr);
	s->from = calloc(s->nfrom + 1, sizeof(*s->from));
	cJSON_ArrayForEach(it, arr) {
		const cJSON *ex = cJSON_GetObjectItemCaseSensitive(it, "extract");
		struct spec_extract *e = &s->from[i];

		if (!cJSON_IsObject(ex) || str_field(ex, "vaultID", &e->vault_id) != 0 ||
		    e->vault_id == NULL)
			FAIL("spec.dataFrom[%zu].extract.vaultID: required", i);
		if (!spec_valid_vault_id(e->vault_id))
			FAIL("spec.dataFrom[%zu].extract.vaultID: \"%.64s\" is not a vault UUID",
			    i, e->vault_id);
		if (str_field(ex, "property", &e->property) != 0)
			FAIL("spec.dataFrom[%zu].extract.property: must be a string", i);
		if (e->property && *e->property == '\0')
			e->property = NULL;
		i++;
	}
	return 0;
fail:
	return -1;
}

static int parse_rollout(const cJSON *spec, struct msec_spec *s, char *msg, size_t msglen)
{
	const cJSON *ro = cJSON_GetObjectItemCaseSensitive(spec, "rollout");
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(ro, "targets"), *it;
	size_t i = 0;

	s->rollout_enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ro, "enabled"));
	s->nrollout = (size_t)cJSON_GetArraySize(arr);
	s->rollout = calloc(s->nrollout + 1, sizeof(*s->rollout));
	cJSON_ArrayForEach(it, arr) {
		struct spec_rollout *r = &s->rollout[i];

		/* A kind we cannot restart is the rollout's failure, reported
		 * in its own condition, not a reason to stop syncing; but it
		 * must be a plain word, as it travels in "Kind/name" lines. */
		if (str_field(it, "kind", &r->kind) != 0 || r->kind == NULL || !*r->kind ||
		    strlen(r->kind) > 63 || strspn(r->kind, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz") != strlen(r->kind))
			FAIL("spec.rollout.targets[%zu].kind: required, a kind such as Deployment, "
			    "DaemonSet or StatefulSet", i);
		if (str_field(it, "name", &r->name) != 0 || r->name == NULL ||
		    !spec_valid_name(r->name))
			FAIL("spec.rollout.targets[%zu].name: required, a valid object name", i);
		i++;
	}
	return 0;
fail:
	return -1;
}

/* parse_template - refuse what would let a MonoSecret author mint
 * service-account tokens through the target Secret. */
static int parse_template(const cJSON *tgt, struct msec_spec *s, char *msg, size_t msglen)
{
	const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(tgt, "template");
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(tpl, "metadata"), *it;

	if (str_field(tpl, "type", &s->type) != 0)
		FAIL("spec.target.template.type: must be a string");
	if (s->type && *s->type == '\0')
		s->type = NULL;
	if (s->type && strcmp(s->type, "kubernetes.io/service-account-token") == 0)
		FAIL("spec.target.template.type: kubernetes.io/service-account-token is not "
		    "allowed: it would let a MonoSecret mint service-account tokens");
	s->labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
	s->annotations = cJSON_GetObjectItemCaseSensitive(md, "annotations");
	cJSON_ArrayForEach(it, s->labels) {
		if (!cJSON_IsString(it))
			FAIL("spec.target.template.metadata.labels.%s: must be a string", it->string);
		/* ours: a template value would fight the operator's own on every sync */
		if (strcmp(it->string, "app.kubernetes.io/managed-by") == 0)
			FAIL("spec.target.template.metadata.labels.%s: set by the operator; not "
			    "allowed", it->string);
	}
	cJSON_ArrayForEach(it, s->annotations) {
		if (!cJSON_IsString(it))
			FAIL("spec.target.template.metadata.annotations.%s: must be a string",
			    it->string);
		if (strcmp(it->string, "kubernetes.io/service-account.name") == 0 ||
		    strcmp(it->string, "kubernetes.io/service-account.uid") == 0)
			FAIL("spec.target.template.metadata.annotations.%s: not allowed: it would "
			    "make the Secret a service-account token", it->string);
		if (strncmp(it->string, "pam.monofor.com/", 16) == 0)
			FAIL("spec.target.template.metadata.annotations.%s: the pam.monofor.com/ "
			    "prefix is reserved for the operator", it->string);
	}
	return 0;
fail:
	return -1;
}

int spec_msec_parse(const cJSON *spec, struct msec_spec *s,
    const char **reason, char *msg, size_t msglen)
{
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(spec, "monoStoreRef");
	const cJSON *tgt = cJSON_GetObjectItemCaseSensitive(spec, "target");
	const char *cp = NULL, *dp = NULL;
	int64_t ns;

	memset(s, 0, sizeof(*s));
	*reason = REASON_INVALID;
	if (str_field(ref, "name", &s->store) != 0 || s->store == NULL || !*s->store)
		FAIL("spec.monoStoreRef.name: required");
	if (str_field(tgt, "name", &s->target) != 0 || s->target == NULL)
		FAIL("spec.target.name: required");
	if (!spec_valid_name(s->target))
		FAIL("spec.target.name: \"%.64s\" is not a valid Secret name", s->target);
	if (str_field(tgt, "creationPolicy", &cp) != 0)
		FAIL("spec.target.creationPolicy: must be a string");
	if (cp == NULL || strcmp(cp, "Owner") == 0)
		s->creation = CREATE_OWNER;
	else if (strcmp(cp, "Merge") == 0)
		s->creation = CREATE_MERGE;
	else if (strcmp(cp, "None") == 0)
		s->creation = CREATE_NONE;
	else
		FAIL("spec.target.creationPolicy: must be Owner, Merge or None");
	if (str_field(tgt, "deletionPolicy", &dp) != 0)
		FAIL("spec.target.deletionPolicy: must be a string");
	if (dp == NULL || strcmp(dp, "Delete") == 0)
		s->deletion = DELETE_DELETE;
	else if (strcmp(dp, "Retain") == 0)
		s->deletion = DELETE_RETAIN;
	else
		FAIL("spec.target.deletionPolicy: must be Delete or Retain");

	if (str_field(spec, "refreshInterval", &s->refresh) != 0)
		FAIL("spec.refreshInterval: must be a string such as \"1h\"");
	if (s->refresh == NULL)
		s->refresh = "1h";   /* the CRD default; only absent on old objects */
	if (duration_parse(s->refresh, &ns) != 0) {
		*reason = "InvalidRefreshInterval";
		FAIL("spec.refreshInterval: \"%.64s\" is not a duration (e.g. \"30s\", "
		    "\"5m\", \"2h30m\", \"0\")", s->refresh);
	}
	if (ns < 0) {
		*reason = "InvalidRefreshInterval";
		FAIL("spec.refreshInterval: \"%.64s\" is negative", s->refresh);
	}
	s->refresh_ms = ns / 1000000;
	if (ns > 0 && s->refresh_ms == 0)
		s->refresh_ms = 1;

	if (parse_data(spec, s, msg, msglen) != 0 || parse_from(spec, s, msg, msglen) != 0 ||
	    parse_rollout(spec, s, msg, msglen) != 0 || parse_template(tgt, s, msg, msglen) != 0)
		goto fail;
	if (s->ndata == 0 && s->nfrom == 0)
		FAIL("spec.data: at least one of spec.data and spec.dataFrom must list an item");
	*reason = NULL;
	return 0;
fail:
	spec_msec_free(s);
	return -1;
}

void spec_msec_free(struct msec_spec *s)
{
	free(s->data);
	free(s->from);
	free(s->rollout);
	s->data = NULL;
	s->from = NULL;
	s->rollout = NULL;
}

enum deletion_policy spec_deletion_policy(const cJSON *spec)
{
	const cJSON *dp = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(spec, "target"), "deletionPolicy");

	return cJSON_IsString(dp) && strcmp(dp->valuestring, "Retain") == 0 ?
	    DELETE_RETAIN : DELETE_DELETE;
}

int spec_store_parse(const cJSON *spec, struct store_spec *s,
    const char **reason, char *msg, size_t msglen)
{
	const cJSON *pam = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(spec, "provider"), "monoforPAM");
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(pam, "auth"), "accessKeySecretRef");

	memset(s, 0, sizeof(*s));
	*reason = REASON_INVALID;
	if (str_field(pam, "url", &s->url) != 0 || s->url == NULL || !*s->url)
		FAIL("spec.provider.monoforPAM.url: required");
	if (strncmp(s->url, "https://", 8) != 0 && strncmp(s->url, "http://", 7) != 0)
		FAIL("spec.provider.monoforPAM.url: must start with https:// (or http://)");
	if (strpbrk(s->url, " \t\r\n?#") != NULL)
		FAIL("spec.provider.monoforPAM.url: must be a base URL without spaces, query "
		    "or fragment");
	if (str_field(ref, "name", &s->key_name) != 0 || s->key_name == NULL ||
	    !spec_valid_name(s->key_name))
		FAIL("spec.provider.monoforPAM.auth.accessKeySecretRef.name: required, a Secret "
		    "name");
	if (str_field(ref, "key", &s->key_key) != 0 || s->key_key == NULL ||
	    !spec_valid_secret_key(s->key_key))
		FAIL("spec.provider.monoforPAM.auth.accessKeySecretRef.key: required, a valid "
		    "Secret key");
	if (str_field(ref, "namespace", &s->key_ns) != 0)
		FAIL("spec.provider.monoforPAM.auth.accessKeySecretRef.namespace: must be a "
		    "string");
	if (s->key_ns && *s->key_ns == '\0')
		s->key_ns = NULL;
	*reason = NULL;
	return 0;
fail:
	return -1;
}
