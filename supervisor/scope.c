/*
 * scope.c - see scope.h. Namespace names are checked here, at start-up,
 * because they go into request paths unescaped.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scope.h"
#include "util.h"

/* dns_label - a Kubernetes namespace name: 1-63 of [a-z0-9-], starting
 * and ending with a letter or digit. */
static bool dns_label(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

int scope_parse(const char *arg, struct scope *s, char *err, size_t errlen)
{
	const char *p = arg;

	memset(s, 0, sizeof(*s));
	if (arg == NULL || *arg == '\0')
		return 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		bool dup = false;

		if (!dns_label(p, n)) {
			snprintf(err, errlen, "--namespaces: \"%.*s\" is not a namespace name "
			    "(lowercase letters, digits and '-', at most 63)",
			    (int)(n > 80 ? 80 : n), p);
			scope_free(s);
			return -1;
		}
		for (int i = 0; i < s->n; i++)
			dup |= strlen(s->ns[i]) == n && strncmp(s->ns[i], p, n) == 0;
		if (!dup) {
			if (s->n == SCOPE_MAX_NS) {
				snprintf(err, errlen, "--namespaces: more than %d namespaces; "
				    "watch the whole cluster instead", SCOPE_MAX_NS);
				scope_free(s);
				return -1;
			}
			s->ns[s->n++] = util_strdup_printf("%.*s", (int)n, p);
		}
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

void scope_free(struct scope *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->ns[i]);
	s->n = 0;
}

char *scope_path(const char *prefix, const char *ns, const char *resource)
{
	if (ns == NULL)
		return util_strdup_printf("%s/%s", prefix, resource);
	return util_strdup_printf("%s/namespaces/%s/%s", prefix, ns, resource);
}
