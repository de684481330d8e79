/*
 * vaults - pamsim's vault set: loading and checking the vault file,
 * finding an item by id, and rendering it as the PAM API answers it
 * (docs/pam-api.md). Items are kept as parsed JSON, so a test can also
 * serve shapes the contract forbids (a number where a string belongs,
 * an unknown type) and watch the client refuse them.
 */
#include "sim.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "log.h"
#include "totp.h"
#include "util.h"

#define PAMSIM_MAX_VAULT_FILE (64 << 20)

struct pamsim_vset {
	cJSON *root;
	const cJSON **by_id;	/* items sorted by id, case-insensitive */
	size_t n;
};

static struct pamsim_vset *current;	/* guarded by pamsim_lock */

static const char *const known_types[] = {
	"SecretText", "UserNamePassword", "UserNamePasswordDomain", "PKI",
	"OTP",
};

/* pamsim_vault_id_ok - the id shape the client accepts: [0-9a-fA-F-]{1,64}. */
bool pamsim_vault_id_ok(const char *id)
{
	size_t n;

	for (n = 0; id && id[n]; n++)
		if (n >= 64 || !(isxdigit((unsigned char)id[n]) || id[n] == '-'))
			return false;
	return id && n > 0;
}

/* item_id - the id string of an item (checked at load time). */
static const char *item_id(const cJSON *item)
{
	return cJSON_GetObjectItemCaseSensitive(item, "id")->valuestring;
}

/* by_id_cmp - qsort/bsearch order on ids. */
static int by_id_cmp(const void *a, const void *b)
{
	return strcasecmp(item_id(*(const cJSON *const *)a),
			  item_id(*(const cJSON *const *)b));
}

/* vset_free - release a set. */
static void vset_free(struct pamsim_vset *v)
{
	if (!v)
		return;
	free(v->by_id);
	cJSON_Delete(v->root);
	free(v);
}

/* check_item - one item's shape; writes a reason to err on failure. */
static int check_item(const cJSON *it, size_t i, char *err, size_t errlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(it, "properties");
	const cJSON *seed = cJSON_GetObjectItemCaseSensitive(it, "otpSecret");
	const cJSON *allowed = cJSON_GetObjectItemCaseSensitive(it,
								"allowedKeys");
	const cJSON *k;
	unsigned char buf[128];
	size_t t;

	if (!cJSON_IsObject(it) || !cJSON_IsString(id) ||
	    !pamsim_vault_id_ok(id->valuestring))
		return pamsim_err(err, errlen, "vaults[%zu]: \"id\" must be "
				  "1-64 hex digits or dashes", i);
	if (!cJSON_IsString(type) || !type->valuestring[0] ||
	    strlen(type->valuestring) > 64)
		return pamsim_err(err, errlen, "vault %s: \"type\" must be a "
				  "string of 1-64 characters", id->valuestring);
	if (props && !cJSON_IsObject(props))
		return pamsim_err(err, errlen, "vault %s: \"properties\" "
				  "must be an object", id->valuestring);
	if (allowed && !cJSON_IsArray(allowed))
		return pamsim_err(err, errlen, "vault %s: \"allowedKeys\" "
				  "must be an array of strings",
				  id->valuestring);
	cJSON_ArrayForEach(k, allowed)
		if (!cJSON_IsString(k))
			return pamsim_err(err, errlen, "vault %s: "
					  "\"allowedKeys\" must be an array "
					  "of strings", id->valuestring);
	if (strcmp(type->valuestring, "OTP") == 0) {
		int n = cJSON_IsString(seed) ? pamsim_base32_decode(
			seed->valuestring, buf, sizeof(buf)) : -1;

		sodium_memzero(buf, sizeof(buf));
		if (n <= 0)
			return pamsim_err(err, errlen, "vault %s: OTP needs "
					  "\"otpSecret\", a base32 seed of "
					  "1-128 bytes", id->valuestring);
	}
	for (t = 0; t < sizeof(known_types) / sizeof(known_types[0]); t++)
		if (strcmp(known_types[t], type->valuestring) == 0)
			break;
	if (t == sizeof(known_types) / sizeof(known_types[0]))
		log_kv(LOG_WARN, "vault type is not in the PAM contract; "
		       "serving it anyway", "vault", id->valuestring, "type",
		       type->valuestring, NULL);
	return 0;
}

/* pamsim_vaults_parse - see sim.h; {"vaults":[item,...]}. */
struct pamsim_vset *pamsim_vaults_parse(const char *text, size_t len,
					char *err, size_t errlen)
{
	struct pamsim_vset *v = util_xcalloc(1, sizeof(*v));
	const cJSON *arr, *it;
	size_t i = 0;

	v->root = cJSON_ParseWithLength(text, len);
	arr = cJSON_GetObjectItemCaseSensitive(v->root, "vaults");
	if (!cJSON_IsObject(v->root) || !cJSON_IsArray(arr)) {
		snprintf(err, errlen, "not JSON of the form {\"vaults\":[...]}");
		goto fail;
	}
	v->n = (size_t)cJSON_GetArraySize(arr);
	v->by_id = util_xcalloc(v->n ? v->n : 1, sizeof(*v->by_id));
	cJSON_ArrayForEach(it, arr) {
		if (check_item(it, i, err, errlen) < 0)
			goto fail;
		v->by_id[i++] = it;
	}
	qsort(v->by_id, v->n, sizeof(*v->by_id), by_id_cmp);
	for (i = 1; i < v->n; i++)
		if (by_id_cmp(&v->by_id[i - 1], &v->by_id[i]) == 0) {
			snprintf(err, errlen, "vault id %s appears twice",
				 item_id(v->by_id[i]));
			goto fail;
		}
	return v;
fail:
	vset_free(v);
	return NULL;
}

/* pamsim_vaults_set - swap in a new set; returns its size. */
size_t pamsim_vaults_set(struct pamsim_vset *set)
{
	struct pamsim_vset *old;
	size_t n = set->n;

	pamsim_lock();
	old = current;
	current = set;
	pamsim_unlock();
	vset_free(old);
	return n;
}

/* pamsim_vaults_reload - read path; a bad file keeps the old set. */
int pamsim_vaults_reload(const char *path)
{
	struct pamsim_vset *v;
	char *text = NULL, err[256];
	size_t len = 0, n;

	if (util_read_file(path, &text, &len, PAMSIM_MAX_VAULT_FILE) < 0) {
		log_kv(LOG_WARN, "cannot read vault file; vaults unchanged",
		       "file", path, NULL);
		return -1;
	}
	v = pamsim_vaults_parse(text, len, err, sizeof(err));
	sodium_memzero(text, len);
	free(text);
	if (!v) {
		log_kv(LOG_WARN, "bad vault file; vaults unchanged", "file",
		       path, "error", err, NULL);
		return -1;
	}
	n = pamsim_vaults_set(v);
	snprintf(err, sizeof(err), "%zu", n);
	log_kv(LOG_INFO, "vaults loaded", "file", path, "count", err, NULL);
	return 0;
}

/* pamsim_vaults_free - drop the current set (at exit). */
void pamsim_vaults_free(void)
{
	pamsim_lock();
	vset_free(current);
	current = NULL;
	pamsim_unlock();
}

/* id_key_cmp - bsearch order of a bare id against an item. */
static int id_key_cmp(const void *key, const void *elem)
{
	return strcasecmp(key, item_id(*(const cJSON *const *)elem));
}

/* pamsim_vault_find - item with this id (any case), or NULL. */
const cJSON *pamsim_vault_find(const char *id)
{
	const cJSON **hit;

	if (!current || !id)
		return NULL;
	hit = bsearch(id, current->by_id, current->n, sizeof(*current->by_id),
		      id_key_cmp);
	return hit ? *hit : NULL;
}

/* otp_code - set properties.Code and validForSeconds from the seed now. */
static int otp_code(const cJSON *item, cJSON *out, cJSON *props)
{
	const cJSON *seed = cJSON_GetObjectItemCaseSensitive(item, "otpSecret");
	unsigned char key[128];
	char code[16];
	uint64_t now = (uint64_t)time(NULL);
	int n = pamsim_base32_decode(seed->valuestring, key, sizeof(key));
	int rc = n > 0 ? pamsim_totp(key, (size_t)n, now, 6, code) : -1;

	sodium_memzero(key, sizeof(key));
	if (rc < 0)
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(props, "Code");
	cJSON_AddStringToObject(props, "Code", code);
	cJSON_AddNumberToObject(out, "validForSeconds",
				pamsim_totp_valid_for(now));
	return 0;
}

/* pamsim_vault_render - the 200 body for item (malloc'd), or NULL. */
char *pamsim_vault_render(const cJSON *item)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(item, "properties");
	cJSON *out = cJSON_CreateObject(), *props;
	char *s = NULL;

	props = p ? cJSON_Duplicate(p, 1) : cJSON_CreateObject();
	if (out && props && cJSON_AddStringToObject(out, "id", item_id(item))
	    && cJSON_AddStringToObject(out, "type", type->valuestring)) {
		cJSON_AddItemToObject(out, "properties", props);
		props = NULL;
		if (strcmp(type->valuestring, "OTP") != 0 ||
		    otp_code(item, out, cJSON_GetObjectItemCaseSensitive(
					   out, "properties")) == 0)
			s = cJSON_PrintUnformatted(out);
	}
	cJSON_Delete(props);
	cJSON_Delete(out);
	return s;
}
