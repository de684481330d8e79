/*
 * stats - request counters and injected faults, both driven through the
 * admin endpoint so tests can assert "the operator asked PAM exactly
 * once" or make PAM misbehave on cue.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define PAMSIM_MAX_FAULTS 32
#define PAMSIM_MAX_COUNTED_VAULTS 100000

/* All below are guarded by pamsim_lock. */
static unsigned long long total, pings, by_status[600];
static cJSON *vault_counts;	/* {"<id>": n}, at most MAX_COUNTED_VAULTS */
static int nvault_counts;
static struct pamsim_fault faults[PAMSIM_MAX_FAULTS];
static int nfaults;
static char *huge;
static size_t huge_len;

/* pamsim_stats_count - count one answered API request. */
void pamsim_stats_count(const char *vault, bool ping, int status)
{
	cJSON *n;

	pamsim_lock();
	total++;
	if (ping)
		pings++;
	if (status >= 100 && status < 600)
		by_status[status]++;
	if (vault) {
		if (!vault_counts)
			vault_counts = cJSON_CreateObject();
		n = cJSON_GetObjectItemCaseSensitive(vault_counts, vault);
		if (n)
			cJSON_SetNumberValue(n, n->valuedouble + 1);
		else if (nvault_counts < PAMSIM_MAX_COUNTED_VAULTS &&
			 cJSON_AddNumberToObject(vault_counts, vault, 1))
			nvault_counts++;
	}
	pamsim_unlock();
}

/* pamsim_stats_json - {"total":N,"vaults":{...},"ping":N,"byStatus":{...}}. */
char *pamsim_stats_json(void)
{
	cJSON *o = cJSON_CreateObject(), *bs;
	char code[8], *s;
	int i;

	pamsim_lock();
	cJSON_AddNumberToObject(o, "total", (double)total);
	cJSON_AddItemToObject(o, "vaults", vault_counts ?
			      cJSON_Duplicate(vault_counts, 1) :
			      cJSON_CreateObject());
	cJSON_AddNumberToObject(o, "ping", (double)pings);
	bs = cJSON_AddObjectToObject(o, "byStatus");
	for (i = 100; i < 600; i++)
		if (by_status[i]) {
			snprintf(code, sizeof(code), "%d", i);
			cJSON_AddNumberToObject(bs, code, (double)by_status[i]);
		}
	cJSON_AddNumberToObject(o, "faults", nfaults);
	pamsim_unlock();
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* pamsim_stats_reset - zero all counters (faults stay). */
void pamsim_stats_reset(void)
{
	pamsim_lock();
	total = pings = 0;
	memset(by_status, 0, sizeof(by_status));
	cJSON_Delete(vault_counts);
	vault_counts = NULL;
	nvault_counts = 0;
	pamsim_unlock();
}

/* int_field - an optional integer member in [lo, hi]; -1 if it is bad. */
static int int_field(const cJSON *o, const char *name, int lo, int hi, int *v)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!j)
		return 0;
	if (!cJSON_IsNumber(j) || j->valuedouble != (double)(int)j->valuedouble
	    || j->valueint < lo || j->valueint > hi)
		return -1;
	*v = j->valueint;
	return 0;
}

/* parse_fault - check the fault JSON (no unknown members) into f. */
static int parse_fault(const cJSON *o, struct pamsim_fault *f, char *err,
		       size_t errlen)
{
	static const char *const known[] = { "status", "retryAfter",
		"latencyMs", "body", "vault", "count" };
	const cJSON *m, *body, *vault;
	size_t i;

	if (!cJSON_IsObject(o))
		return pamsim_err(err, errlen, "fault must be a JSON object");
	cJSON_ArrayForEach(m, o) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(m->string, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			return pamsim_err(err, errlen, "unknown fault field");
	}
	memset(f, 0, sizeof(*f));
	if (int_field(o, "status", 0, 599, &f->status) < 0 ||
	    (f->status != 0 && f->status < 100) ||
	    int_field(o, "retryAfter", 0, 86400, &f->retry_after) < 0 ||
	    int_field(o, "latencyMs", 0, PAMSIM_MAX_LATENCY_MS,
		      &f->latency_ms) < 0 ||
	    int_field(o, "count", 0, 1000000, &f->count) < 0)
		return pamsim_err(err, errlen, "status must be 0 or 100-599, "
				"retryAfter 0-86400, latencyMs 0-%d, count "
				">= 0", PAMSIM_MAX_LATENCY_MS);
	body = cJSON_GetObjectItemCaseSensitive(o, "body");
	if (body && !(cJSON_IsString(body) &&
		      (!strcmp(body->valuestring, "") ||
		       !strcmp(body->valuestring, "malformed") ||
		       !strcmp(body->valuestring, "huge"))))
		return pamsim_err(err, errlen, "body must be \"\", \"malformed\" "
				"or \"huge\"");
	if (body)
		snprintf(f->body, sizeof(f->body), "%s", body->valuestring);
	vault = cJSON_GetObjectItemCaseSensitive(o, "vault");
	if (vault && !(cJSON_IsString(vault) && (!vault->valuestring[0] ||
			pamsim_vault_id_ok(vault->valuestring))))
		return pamsim_err(err, errlen, "vault must be \"\" or a vault "
				"id");
	if (vault)
		snprintf(f->vault, sizeof(f->vault), "%s", vault->valuestring);
	return 0;
}

/* pamsim_fault_add - add a fault from JSON; -1 with err on bad input. */
int pamsim_fault_add(const char *json, size_t len, char *err, size_t errlen)
{
	cJSON *o = cJSON_ParseWithLength(json, len);
	struct pamsim_fault f;
	int rc = parse_fault(o, &f, err, errlen);

	cJSON_Delete(o);
	if (rc < 0)
		return -1;
	pamsim_lock();
	if (nfaults < PAMSIM_MAX_FAULTS)
		faults[nfaults++] = f;
	else
		rc = -1;
	pamsim_unlock();
	if (rc < 0)
		snprintf(err, errlen, "too many faults (max %d)",
			 PAMSIM_MAX_FAULTS);
	return rc;
}

/* pamsim_fault_clear - remove all faults. */
void pamsim_fault_clear(void)
{
	pamsim_lock();
	nfaults = 0;
	pamsim_unlock();
}

/*
 * pamsim_fault_take - the fault that applies to a request for vault
 * (NULL for ping): one naming that vault first, else one for all. Uses
 * up one of its count; a fault with count 0 stays until cleared.
 */
bool pamsim_fault_take(const char *vault, struct pamsim_fault *out)
{
	int i, hit = -1;

	pamsim_lock();
	for (i = 0; vault && hit < 0 && i < nfaults; i++)
		if (strcasecmp(faults[i].vault, vault) == 0)
			hit = i;
	for (i = 0; hit < 0 && i < nfaults; i++)
		if (!faults[i].vault[0])
			hit = i;
	if (hit >= 0) {
		*out = faults[hit];
		if (faults[hit].count > 0 && --faults[hit].count == 0) {
			memmove(&faults[hit], &faults[hit + 1],
				(size_t)(nfaults - hit - 1) * sizeof(faults[0]));
			nfaults--;
		}
	}
	pamsim_unlock();
	return hit >= 0;
}

/* pamsim_huge_body - a 2 MiB well-formed item, built on first use. */
const char *pamsim_huge_body(size_t *len)
{
	static const char head[] = "{\"id\":\"0\",\"type\":\"SecretText\","
				   "\"properties\":{\"SecretText\":\"";
	static const char tail[] = "\"}}";

	pamsim_lock();
	if (!huge) {
		huge_len = PAMSIM_HUGE_BYTES;
		huge = util_xmalloc(huge_len);
		memset(huge, 'A', huge_len);
		memcpy(huge, head, sizeof(head) - 1);
		memcpy(huge + huge_len - (sizeof(tail) - 1), tail,
		       sizeof(tail) - 1);
	}
	*len = huge_len;
	pamsim_unlock();
	return huge;
}

/* pamsim_stats_fini - release counters and the huge body (at exit). */
void pamsim_stats_fini(void)
{
	pamsim_stats_reset();
	pamsim_lock();
	free(huge);
	huge = NULL;
	pamsim_unlock();
}
