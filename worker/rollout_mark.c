/*
 * rollout_mark.c - the record a workload carries of the changes it was
 * restarted for: its annotation pam.monofor.com/restarted-for holds
 * "monosecret=hash" entries separated by commas, one per MonoSecret of
 * the namespace that ever restarted it. MonoSecret names are DNS
 * subdomains and hashes are hex, so neither can hold ',' or '='.
 */
#include "rollout_mark.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* entry_is - does the entry [p, p+len) name msec? */
static bool entry_is(const char *p, size_t len, const char *msec)
{
	size_t ml = strlen(msec);

	return len > ml && strncmp(p, msec, ml) == 0 && p[ml] == '=';
}

/* rollout_mark_has - is "msec=hash" one of the entries? */
bool rollout_mark_has(const char *marks, const char *msec, const char *hash)
{
	size_t ml = strlen(msec), hl = strlen(hash);

	for (const char *p = marks; p && *p;) {
		size_t len = strcspn(p, ",");
		if (entry_is(p, len, msec) && len == ml + 1 + hl &&
		    strncmp(p + ml + 1, hash, hl) == 0)
			return true;
		p += len;
		p += *p == ',';
	}
	return false;
}

/* rollout_mark_set - the record with msec's entry (re)set to hash. */
char *rollout_mark_set(const char *marks, const char *msec, const char *hash)
{
	size_t cap = (marks ? strlen(marks) : 0) + strlen(msec) + strlen(hash) + 3;
	char *out = malloc(cap), *w = out;

	if (out == NULL)
		return NULL;
	/* Keep every other well-formed entry as it was; drop ours and any
	 * empty or '='-less fragment someone may have left. */
	for (const char *p = marks; p && *p;) {
		size_t len = strcspn(p, ",");
		if (len > 0 && !entry_is(p, len, msec) && memchr(p, '=', len) != NULL) {
			memcpy(w, p, len);
			w += len;
			*w++ = ',';
		}
		p += len;
		p += *p == ',';
	}
	snprintf(w, cap - (size_t)(w - out), "%s=%s", msec, hash);
	return out;
}
