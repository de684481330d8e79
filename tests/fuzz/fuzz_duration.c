/*
 * fuzz_duration - Go-style durations from MonoSecret specs and flags.
 * Any string must parse or be refused; a string without '-' never
 * parses to a negative value, and a parsed value survives a second
 * parse of the same string unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	int64_t ns, again;

	memcpy(s, data, size);
	s[size] = '\0';
	if (duration_parse(s, &ns) == 0) {
		if (ns < 0 && strchr(s, '-') == NULL)
			abort();
		if (duration_parse(s, &again) != 0 || again != ns)
			abort();
	}
	free(s);
	return 0;
}
