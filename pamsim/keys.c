/*
 * keys - the access keys pamsim accepts. Fixed after start-up, so
 * readers need no lock. Comparison is constant-time (libsodium) so the
 * simulator does not teach a timing oracle by example.
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "util.h"

#define PAMSIM_MAX_KEYS 256

static char *keys[PAMSIM_MAX_KEYS];
static size_t nkeys;

/* pamsim_keys_add - accept key; it must be non-empty printable ASCII
 * (a header value cannot carry anything else). */
int pamsim_keys_add(const char *key)
{
	const char *p;

	if (!key || !*key || nkeys >= PAMSIM_MAX_KEYS)
		return -1;
	for (p = key; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return -1;
	keys[nkeys++] = util_xstrdup(key);
	return 0;
}

/* pamsim_keys_add_file - one key per line; blank lines and lines
 * starting with '#' are skipped, surrounding whitespace is trimmed. */
int pamsim_keys_add_file(const char *path)
{
	char *text = NULL, *line, *save = NULL, *end;
	size_t len = 0;
	int rc = 0;

	if (util_read_file(path, &text, &len, 1 << 20) < 0)
		return -1;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' ||
				      end[-1] == '\r'))
			*--end = '\0';
		if (!*line || *line == '#')
			continue;
		if (pamsim_keys_add(line) < 0)
			rc = -1;
	}
	sodium_memzero(text, len);
	free(text);
	return rc;
}

/* pamsim_keys_count - how many keys are accepted. */
size_t pamsim_keys_count(void)
{
	return nkeys;
}

/* key_eq - constant-time for equal lengths; lengths are not secret. */
static bool key_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return la == lb && sodium_memcmp(a, b, la) == 0;
}

/* pamsim_key_known - true when key is one of the accepted keys. */
bool pamsim_key_known(const char *key)
{
	bool hit = false;
	size_t i;

	if (!key)
		return false;
	for (i = 0; i < nkeys; i++)
		hit |= key_eq(key, keys[i]);
	return hit;
}

/* pamsim_key_in - true when key is one of the strings in a JSON array. */
bool pamsim_key_in(const char *key, const cJSON *list)
{
	const cJSON *k;
	bool hit = false;

	if (!key)
		return false;
	cJSON_ArrayForEach(k, list)
		if (cJSON_IsString(k) && k->valuestring)
			hit |= key_eq(key, k->valuestring);
	return hit;
}

/* pamsim_keys_free - wipe and drop all keys (at exit). */
void pamsim_keys_free(void)
{
	while (nkeys > 0)
		util_wipe_free(keys[--nkeys]);
}
