"""costs - what one request of each kind the operator makes costs the
control plane (kube-apiserver + etcd CPU), measured one at a time with
no operator running. It explains the convergence ratio: a MonoSecret
costs the API server the sum of its requests, a raw Secret one POST.
"""

import time

import kubeapi
import objects as ob
from phases import control_plane_cpu, create_ns, delete_ns, log

MERGE = "application/merge-patch+json"


def status_body(i, full):
    """status_body - a first sync's status, or a refresh's refreshTime alone."""
    if not full:    # what a refresh with unchanged data writes
        return {"status": {"refreshTime": "2026-01-01T00:01:%02dZ" % (i % 60)}}
    return {"status": {"conditions": [{
        "type": "Ready", "status": "True", "reason": "Synced", "message": "Secret created",
        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}],
        "refreshTime": "2026-01-01T00:00:%02dZ" % (i % 60), "secretDataHash": "0" * 64}}


def event(ns, i):
    """event - an Event like the operator's "Created" one."""
    return {"metadata": {"generateName": "bench.", "namespace": ns},
            "involvedObject": {"apiVersion": "pam.monofor.com/v1alpha1", "kind": "MonoSecret",
                               "name": ob.msec_name(i), "namespace": ns},
            "reason": "Created", "message": "Secret created", "type": "Normal",
            "source": {"component": "pamop-bench"}, "count": 1,
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"}


def run(ctx, n):
    """run - ms of control-plane CPU and of wall time per request, by kind."""
    ns = "bench-costs"
    create_ns(ctx, ns)
    c = ctx.api
    ms = lambda i: ob.API_MS % ns + "/" + ob.msec_name(i)
    kinds = [
        ("POST secrets", lambda i: c.request("POST", ob.API_SECRETS % ns, ob.raw_secret(ns, i))),
        ("GET secrets", lambda i: c.request("GET", ob.API_SECRETS % ns + "/raw-%05d" % i)),
        ("POST monosecrets", lambda i: c.request("POST", ob.API_MS % ns,
                                                 ob.monosecret(ns, i, "1h"))),
        ("GET monosecrets", lambda i: c.request("GET", ms(i))),
        ("PATCH monosecrets (finalizer)", lambda i: c.request(
            "PATCH", ms(i), {"metadata": {"finalizers": ["pam.monofor.com/finalizer"]}},
            ctype=MERGE)),
        ("PATCH monosecrets/status (Ready)", lambda i: c.request(
            "PATCH", ms(i) + "/status", status_body(i, True), ctype=MERGE)),
        ("PATCH monosecrets/status (refreshTime)", lambda i: c.request(
            "PATCH", ms(i) + "/status", status_body(i, False), ctype=MERGE)),
        ("POST events", lambda i: c.request("POST", "/api/v1/namespaces/%s/events" % ns,
                                            event(ns, i))),
    ]
    out = {}
    try:
        for name, fn in kinds:
            cp0, t0 = control_plane_cpu(ctx.opts), time.monotonic()
            for i in range(n):
                fn(i)
            out[name] = {"cp_cpu_ms": (control_plane_cpu(ctx.opts) - cp0) / n * 1000,
                         "wall_ms": (time.monotonic() - t0) / n * 1000}
    finally:
        for i in range(n):
            try:
                c.request("PATCH", ms(i), {"metadata": {"finalizers": None}}, ctype=MERGE)
            except kubeapi.Error:
                pass
        delete_ns(ctx, ns, 60)
    log("costs: " + ", ".join("%s %.1f ms" % (k, v["cp_cpu_ms"]) for k, v in out.items()))
    return out
