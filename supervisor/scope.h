/*
 * scope - which namespaces the manager watches: all of them (the
 * default, with a ClusterRole), or a fixed list given by --namespaces
 * (with a Role in each), in which case every list and watch goes to
 * that namespace's own collection path so that namespaced RBAC
 * suffices.
 */
#ifndef PAMOP_SCOPE_H
#define PAMOP_SCOPE_H

#include <stddef.h>

#define SCOPE_MAX_NS 64

struct scope {
	int n;                        /* 0: cluster-wide */
	char *ns[SCOPE_MAX_NS];       /* each a DNS-1123 label, no duplicates */
};

/* scope_parse - "a,b,c" into s; 0 on success, else -1 with err naming
 * the flag and the bad entry. An empty string means cluster-wide. */
int scope_parse(const char *arg, struct scope *s, char *err, size_t errlen);
void scope_free(struct scope *s);

/* scope_path - the collection path for resource under prefix (e.g.
 * "/api/v1" + "secrets"), in namespace ns or cluster-wide if ns is NULL.
 * Returns a malloc'd string. */
char *scope_path(const char *prefix, const char *ns, const char *resource);

#endif
