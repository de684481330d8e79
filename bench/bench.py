#!/usr/bin/env python3
"""bench - pam-operator at scale on the local control plane with pamsim.

Started by bench/run (`make bench`), which builds the binaries and brings
up scripts/testenv first. For each size N: the raw Secret write ceiling,
convergence of N MonoSecrets, steady-state writes over refresh cycles,
change and re-creation latency, peak RSS and CPU of the operator; once,
the same with thousands of large unrelated Secrets in the cluster.
--smoke runs it small and checks that the run itself worked.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

import costs
import kubeapi
import phases
import procs
import report
import smoke
from duration import seconds


def parse_args(argv):
    """parse_args - flags into options; --smoke sets the small self-checking run."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "1000,5000,10000"),
                   help="comma list of N (default 1000,5000,10000; env BENCH_SIZES)")
    p.add_argument("--cycles", type=int, default=3, help="steady-state refresh cycles")
    p.add_argument("--refresh", default="10s", help="MonoSecrets' refreshInterval")
    p.add_argument("--samples", type=int, default=100,
                   help="MonoSecrets changed, and Secrets deleted, per size for latencies")
    p.add_argument("--threads", type=int, default=8, help="writer connections")
    p.add_argument("--costs", type=int, default=200,
                   help="requests of each kind for the per-request cost table (0: skip)")
    p.add_argument("--workers", type=int, default=0, help="manager --workers (0: its default)")
    p.add_argument("--unrelated", type=int, default=5000,
                   help="unrelated Secrets for the memory comparison (0: skip)")
    p.add_argument("--unrelated-kib", type=int, default=100)
    p.add_argument("--unrelated-at", type=int, default=0,
                   help="N to repeat with the unrelated Secrets (default: the smallest)")
    p.add_argument("--pam-tls", action="store_true",
                   help="pamsim over HTTPS (its TLS answers take ~40 ms each, which then "
                        "bounds the operator; default plain HTTP)")
    p.add_argument("--budget", default=os.environ.get("BENCH_BUDGET", "17m"),
                   help="stop measuring after this long (default 17m)")
    p.add_argument("--out", default="bench/results")
    p.add_argument("--docs", default="docs/performance.md", help="'' to leave docs alone")
    p.add_argument("--bin", default="build/bin")
    p.add_argument("--testenv", default=".testenv")
    p.add_argument("--render", metavar="JSON",
                   help="only write the Markdown (and docs) again from a result file")
    p.add_argument("--smoke", action="store_true",
                   help="small run (N=50, 1 cycle) that checks itself; results in bench/tmp")
    o = p.parse_args(argv)
    if o.smoke:
        o.sizes, o.cycles, o.refresh, o.samples = "50", 1, "2s", 10
        o.unrelated, o.unrelated_kib, o.threads, o.budget = 20, 100, 4, "4m"
        o.costs = 20
        o.out, o.docs = "bench/tmp/smoke", ""
    o.sizes = sorted({int(x) for x in o.sizes.split(",") if x.strip()})
    if not o.sizes or min(o.sizes) < 1:
        p.error("--sizes: give at least one N >= 1")
    o.refresh_s = seconds(o.refresh)
    o.budget_s = seconds(o.budget)
    if o.refresh_s is None or o.refresh_s <= 0:
        p.error("--refresh: a positive duration such as 10s")
    if o.budget_s is None or o.budget_s <= 0:
        p.error("--budget: a positive duration such as 18m")
    o.unrelated_at = o.unrelated_at or o.sizes[0]
    o.kubeconfig = os.path.join(o.testenv, "kubeconfig")
    o.pam_pki = os.path.join(o.testenv, "pamsim-pki")
    o.pam_ca = os.path.join(o.pam_pki, "ca.crt")
    o.manager = os.path.join(o.bin, "manager")
    o.workdir = os.path.join("bench", "tmp", "run")
    return o


def versions(o, api):
    """versions - the operator's and the API server's, for the report."""
    op = subprocess.run([o.manager, "--version"], capture_output=True, text=True).stdout.strip()
    st, v = api.request("GET", "/version")
    return op.replace("pam-operator ", ""), v.get("gitVersion", "?") if st == 200 else "?"


def foreign_msecs(api):
    """foreign_msecs - MonoSecrets already in the cluster; the fresh
    operator would work on them too and blur the figures."""
    st, out = api.request("GET", "/apis/pam.monofor.com/v1alpha1/monosecrets?limit=500")
    return len(out.get("items", [])) if st == 200 else 0


def run(o):
    """run - every step within the budget; writes and returns the results."""
    os.makedirs(o.workdir, exist_ok=True)
    kc = kubeapi.Kubeconfig(o.kubeconfig)
    budget = phases.Budget(o.budget_s)
    pam = procs.Pamsim(os.path.join(o.bin, "pamsim"), o.pam_pki, o.workdir, phases.ob.ACCESS_KEY,
                       o.pam_tls)
    ctx = phases.Ctx(o, kc, pam, budget)
    t0 = time.monotonic()
    res = {"stamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
           "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": report.machine(), "loadavg_before": phases.loadavg(),
           "options": {k: getattr(o, k) for k in ("sizes", "cycles", "refresh", "samples",
                                                  "threads", "workers", "unrelated",
                                                  "unrelated_kib", "unrelated_at", "budget",
                                                  "pam_tls")},
           "runs": [], "notes": [], "budget_hit": False}
    res["operator_version"], res["apiserver_version"] = versions(o, ctx.api)
    n_foreign = foreign_msecs(ctx.api)
    if n_foreign:
        res["notes"].append("%d MonoSecrets from other work were in the cluster; the operator "
                            "under test saw them too" % n_foreign)
    # Sizes run smallest first, the unrelated-Secrets repeat right after its
    # size; each size's later phases leave time for the rest to converge.
    steps = []
    for n in o.sizes:
        steps.append(("size", n))
        if o.unrelated and n == o.unrelated_at:
            steps.append(("unrelated", n))

    def need(kind, n, rate):
        """need - rough seconds a later step takes to converge and clean up."""
        t = n / max(rate, 1) * 1.25 + 45 + n / 100
        if kind == "size":
            return t + n / 150           # raw writes and their deletion
        return t + o.unrelated * o.unrelated_kib / 100 * 0.02 + 30

    try:
        if o.costs:
            res["costs"] = costs.run(ctx, o.costs)
        for i, (kind, n) in enumerate(steps):
            if budget.left() <= 0:
                res["budget_hit"] = True
                res["notes"].append("%s N=%d not run: time budget spent" % (kind, n))
                continue
            rest = lambda rate, later=steps[i + 1:]: sum(need(k, m, rate) for k, m in later)
            if kind == "size":
                r = phases.run_size(ctx, n, str(n), rest)
            else:
                ns, res["unrelated"] = phases.unrelated_fill(ctx, o.unrelated, o.unrelated_kib)
                try:
                    r = phases.run_size(ctx, n, "%d-unrelated" % n, rest, raw=False,
                                        latency=False)
                finally:
                    phases.delete_ns(ctx, ns, 180)
            res["runs"].append(r)
            res["budget_hit"] |= bool(r["skipped"]) or not r["converge"]["complete"] or (
                "steady" in r and not r["steady"]["complete"])
    finally:
        pam.stop()
        ctx.pool.close()
    res["loadavg_after"] = phases.loadavg()
    res["seconds"] = time.monotonic() - t0
    if res["budget_hit"]:
        res["notes"].append("the %s time budget ran out: figures marked 'stopped' are how far "
                            "the run got" % o.budget)
    md, base = report.write(res, o.out, o.docs)
    print(md)
    print("bench: results in %s.{md,json}%s" % (base, ", table in " + o.docs if o.docs else ""),
          file=sys.stderr)
    return res, base


def main(argv):
    """main - run, and with --smoke check the run; the exit status."""
    o = parse_args(argv)
    if o.render:
        with open(o.render) as fh:
            res = json.load(fh)
        md, _ = report.write(res, os.path.dirname(o.render) or ".", o.docs)
        print(md)
        return 0
    res, base = run(o)
    if o.smoke:
        with open(base + ".json") as fh:
            return smoke.check(res, json.load(fh), o)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
