#!/usr/bin/env python3
"""compare_render - do the Helm chart's defaults give the same objects
as deploy/? Both inputs are `kubectl create --dry-run=client -o json`
output: a stream of JSON objects (or one List).

Usage: compare_render.py KUSTOMIZE_JSON HELM_JSON

Same means: the same kinds, names and namespaces (the chart leaves the
Namespace to `helm install --create-namespace`); identical specs, rules,
roleRefs, subjects and CRD schemas; and every label deploy/ sets also
set by the chart (which adds Helm's usual ones). Prints each difference
and exits 1 if there is any.
"""
import json
import sys

ONLY_IN_KUSTOMIZE = {("Namespace", "pam-operator-system", None)}
SERVER_FIELDS = ("uid", "creationTimestamp", "resourceVersion",
                 "generation", "managedFields", "annotations", "labels")


def load(path):
    with open(path) as f:
        text = f.read()
    dec, pos, items = json.JSONDecoder(), 0, []
    while text[pos:].strip():
        doc, end = dec.raw_decode(text, pos + len(text[pos:]) - len(text[pos:].lstrip()))
        items += doc["items"] if doc.get("kind") == "List" else [doc]
        pos = end
    return {(o["kind"], o["metadata"]["name"],
             o["metadata"].get("namespace")): o for o in items}


def body(o):
    """The object without metadata the two tools legitimately differ in."""
    o = json.loads(json.dumps(o))
    o.pop("status", None)
    for f in SERVER_FIELDS:
        o["metadata"].pop(f, None)
    spec = o.get("spec", {})
    if o["kind"] == "Service":
        for f in ("clusterIP", "clusterIPs", "selector"):
            spec.pop(f, None)
    if o["kind"] == "Deployment":
        spec.pop("selector", None)
        spec["template"]["metadata"].pop("labels", None)
    return o


def labels_subset(k, h, where):
    missing = {a: b for a, b in (k or {}).items() if (h or {}).get(a) != b}
    return ["%s: labels %s missing in the chart" % (where, missing)] if missing else []


def main():
    kust, helm = load(sys.argv[1]), load(sys.argv[2])
    diffs = []
    for key in sorted(set(kust) | set(helm), key=str):
        if key not in helm:
            if key not in ONLY_IN_KUSTOMIZE:
                diffs.append("only in deploy/: %s %s" % key[:2])
            continue
        if key not in kust:
            diffs.append("only in the chart: %s %s" % key[:2])
            continue
        k, h = kust[key], helm[key]
        where = "%s %s" % key[:2]
        if body(k) != body(h):
            diffs.append("%s differs:\n  deploy/: %s\n  chart:   %s" % (
                where, json.dumps(body(k), sort_keys=True),
                json.dumps(body(h), sort_keys=True)))
        diffs += labels_subset(k["metadata"].get("labels"),
                               h["metadata"].get("labels"), where)
        if key[0] == "Deployment":
            diffs += labels_subset(
                k["spec"]["template"]["metadata"].get("labels"),
                h["spec"]["template"]["metadata"].get("labels"),
                where + " pod template")
    for d in diffs:
        print(d)
    print("compared %d objects" % len(set(kust) & set(helm)), file=sys.stderr)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
