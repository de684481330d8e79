#!/usr/bin/env python3
"""rbac_audit - compare what a user asked the API server for (its audit
log, scripts/testenv) with the RBAC rules it was given.

Usage: rbac_audit.py AUDIT_LOG USER ROLES_JSON [options]
  ROLES_JSON   `kubectl get clusterrole,role -o json` output: the rules
  --exempt G/RES:VERB   a rule used by admission, not by a request
  --namespaces A,B      every request must be in one of these namespaces
  --since RFC3339       ignore requests received before this time

Only requests the operator made itself count (user agent pam-operator/,
no impersonation). Prints one line per problem and exits 1 if any:
  refused:  a request RBAC denied (authorization decision "forbid"; a
            403 from admission, such as a terminating namespace, is not
            RBAC's)
  unused:   a verb on a resource some rule grants that no request used
  outside:  a request outside the --namespaces list (or cluster-wide)
Then prints, on stderr, every (group, resource, verb) used.
"""
import argparse
import json
import sys


def requests(path, user, since):
    """(group, resource, verb, namespace, name, decision) per request."""
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e.get("user", {}).get("username") != user:
                continue
            if "impersonatedUser" in e:
                continue
            if not e.get("userAgent", "").startswith("pam-operator/"):
                continue
            if since and e.get("requestReceivedTimestamp", "") < since:
                continue
            o = e.get("objectRef", {})
            res = o.get("resource", "")
            if o.get("subresource"):
                res += "/" + o["subresource"]
            dec = e.get("annotations", {}).get("authorization.k8s.io/decision")
            yield (o.get("apiGroup", ""), res, e["verb"], o.get("namespace"),
                   o.get("name"), dec)


def granted(roles_json):
    """(group, resource, verb, namespace or None, resourceNames) per rule."""
    for role in json.loads(roles_json).get("items", []):
        ns = role["metadata"].get("namespace")
        for r in role.get("rules", []):
            for g in r.get("apiGroups", []):
                for res in r.get("resources", []):
                    for v in r.get("verbs", []):
                        yield (g, res, v, ns, tuple(r.get("resourceNames", [])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("audit_log")
    ap.add_argument("user")
    ap.add_argument("roles_json")
    ap.add_argument("--exempt", action="append", default=[])
    ap.add_argument("--namespaces", default=None)
    ap.add_argument("--since", default=None)
    a = ap.parse_args()

    with open(a.roles_json) as f:
        rules = list(granted(f.read()))
    reqs = list(requests(a.audit_log, a.user, a.since))
    problems = []
    for g, res, v, ns, name, dec in reqs:
        if dec == "forbid":
            problems.append("refused: %s %s/%s in %s (%s)" %
                            (v, g or "core", res, ns or "cluster", name or "-"))
    if a.namespaces is not None:
        allowed = set(a.namespaces.split(","))
        for g, res, v, ns, name, dec in reqs:
            if ns not in allowed:
                problems.append("outside: %s %s/%s in %s" %
                                (v, g or "core", res, ns or "cluster"))
    for g, res, v, ns, names in rules:
        if "%s/%s:%s" % (g, res, v) in a.exempt:
            continue
        hit = any(rg == g and rres == res and rv == v and
                  (ns is None or rns == ns) and
                  (not names or rname in names)
                  for rg, rres, rv, rns, rname, dec in reqs if dec == "allow")
        if not hit:
            problems.append("unused: %s %s/%s%s%s" % (
                v, g or "core", res, " in " + ns if ns else "",
                " named " + ",".join(names) if names else ""))
    for p in sorted(set(problems)):
        print(p)
    used = sorted({(g or "core", res, v) for g, res, v, _, _, d in reqs
                   if d == "allow"})
    print("requests: %d; used: %s" % (len(reqs), " ".join(
        "%s/%s:%s" % u for u in used)), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
