"""phases - the measurements, one size N at a time.

run_size(): the raw-write ceiling, then a fresh operator converging N
MonoSecrets, `cycles` refresh cycles with unchanged PAM data, a PAM
change and hand-deleted Secrets, with memory and CPU sampled all along.
Every wait is bounded by the run's time budget; a phase that runs out
says how far it got and the later phases of that size are skipped.
"""

import os
import resource
import sys
import time

import kubeapi
import objects as ob
import procs
from trackers import ReadyTracker, SecretTracker, is_ready, percentile


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class Budget:
    """Budget - the wall-clock time the whole run may still take."""

    def __init__(self, secs):
        self.end = time.monotonic() + secs

    def left(self, reserve=0):
        return self.end - time.monotonic() - reserve


class Ctx:
    """Ctx - what every phase needs: API access, pamsim, paths, options."""

    def __init__(self, opts, kc, pamsim, budget):
        self.opts, self.kc, self.pamsim, self.budget = opts, kc, pamsim, budget
        self.api = kubeapi.Client(kc)
        self.pool = kubeapi.Pool(kc, opts.threads)


def driver_cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def control_plane_cpu(opts):
    """control_plane_cpu - CPU seconds of kube-apiserver and etcd so far."""
    total = 0.0
    for name in ("kube-apiserver", "etcd"):
        try:
            with open(os.path.join(opts.testenv, name + ".pid")) as f:
                total += procs.cpu_secs(int(f.read().strip()))
        except (OSError, ValueError):
            pass
    return total


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def create_ns(ctx, ns):
    """create_ns - a namespace for one step (an existing one is reused)."""
    st, out = ctx.api.request("POST", "/api/v1/namespaces",
                              {"metadata": {"name": ns, "labels": {"pamop-bench": "1"}}})
    if st not in (201, 409):
        raise RuntimeError("create namespace %s: %d %s" % (ns, st, out))


def delete_ns(ctx, ns, secs):
    """delete_ns - empty the namespace, delete it and wait until it is
    gone, at most secs; True if gone. Its collections are deleted here
    first, in one request each: left to the controllers, owned Secrets go
    one by one through the garbage collector at its client's rate limit
    (minutes for thousands)."""
    c = kubeapi.Client(ctx.kc, timeout=max(60, secs))
    try:
        for path in (ob.API_SECRETS, "/api/v1/namespaces/%s/events", ob.API_MS, ob.API_STORE):
            try:
                c.request("DELETE", path % ns)
            except kubeapi.Error as e:
                log("emptying %s: %s" % (ns, e))
    finally:
        c.close()
    ctx.api.request("DELETE", "/api/v1/namespaces/" + ns)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if ctx.api.request("GET", "/api/v1/namespaces/" + ns)[0] == 404:
            return True
        time.sleep(0.5)
    log("namespace %s still terminating after %ds; going on" % (ns, secs))
    return False


def post_all(ctx, path_fmt, ns, objs):
    """post_all - create every object over the pool; (seconds, failures)."""
    def create(client, o):
        st, _ = kubeapi.retry(client, "POST", path_fmt % ns, o, ok=(201,))
        return st
    res, secs = ctx.pool.run(objs, create)
    return secs, sum(1 for r in res if r != 201)


def raw_phase(ctx, n):
    """raw_phase - N Secrets written by a plain client: the ceiling."""
    ns = "bench-raw-%d" % n
    create_ns(ctx, ns)
    cp0, d0 = control_plane_cpu(ctx.opts), driver_cpu()
    secs, failed = post_all(ctx, ob.API_SECRETS, ns, (ob.raw_secret(ns, i) for i in range(n)))
    out = {"seconds": secs, "per_second": n / secs, "failed": failed,
           "control_plane_cpu_s": control_plane_cpu(ctx.opts) - cp0,
           "driver_cpu_s": driver_cpu() - d0, "threads": ctx.opts.threads}
    log("raw: %d Secrets in %.1fs (%.0f/s, %d failed)" % (n, secs, n / secs, failed))
    delete_ns(ctx, ns, 60 + n // 100)
    return out


def snapshot(ctx, mgr, secrets=None):
    """snapshot - every counter a phase takes a difference of."""
    return {
        "t": time.monotonic(),
        "reconciles": mgr.metric("pamop_reconcile_total"),
        "sup_kube": mgr.kube_requests(),
        "api": kubeapi.request_counts(ctx.api),
        "pam": ctx.pamsim.stats()["total"],
        "cpu": mgr.cpu(),
        "sup_cpu": mgr.own_cpu(),
        "job_secs": mgr.metric("pamop_reconcile_duration_seconds_sum"),
        "jobs": mgr.metric("pamop_reconcile_duration_seconds_count"),
        "cp_cpu": control_plane_cpu(ctx.opts),
        "driver_cpu": driver_cpu(),
        "secret_events": secrets.count() if secrets else 0,
    }


def api_delta(a, b):
    """api_delta - per (verb, resource, subresource) requests between snapshots."""
    out = {}
    for k, v in b["api"].items():
        d = v - a["api"].get(k, 0)
        if d > 0:
            out["%s %s%s" % (k[0], k[1], "/" + k[2] if k[2] else "")] = int(d)
    return out


def job_ms(a, b):
    """job_ms - mean time a worker spent on one job between snapshots."""
    n = b["jobs"] - a["jobs"]
    return (b["job_secs"] - a["job_secs"]) / n * 1000 if n > 0 else None


SECRET_WRITES = ("POST secrets", "PUT secrets", "PATCH secrets", "DELETE secrets")


def start_operator(ctx, n, ns, label):
    """start_operator - vaults, namespace, store, and a fresh manager whose
    MonoStore is Ready; returns the manager."""
    ctx.pamsim.put_vaults(ob.vaults(n))
    create_ns(ctx, ns)
    key, store = ob.store_objects(ns, ctx.pamsim.url)
    for path, o in ((ob.API_SECRETS % ns, key), (ob.API_STORE % ns, store)):
        st, out = ctx.api.request("POST", path, o)
        if st != 201:
            raise RuntimeError("create %s: %d %s" % (path, st, out))
    o = ctx.opts
    extra = ["--workers=%d" % o.workers] if o.workers else []
    mgr = procs.Manager(o.manager, o.kubeconfig, o.pam_ca,
                        os.path.join(o.workdir, "manager-%s.log" % label), extra)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        st, s = ctx.api.request("GET", ob.API_STORE % ns + "/pam")
        if st == 200 and is_ready(s):
            return mgr
        time.sleep(0.1)
    mgr.stop()
    raise RuntimeError("MonoStore %s/pam not Ready after 30s" % ns)


def converge(ctx, n, ns, mgr, reserve):
    """converge - create N MonoSecrets at once; time until all are Ready."""
    tr = ReadyTracker()
    w = kubeapi.Watch(ctx.kc, ob.API_MS % ns, kubeapi.list_rv(ctx.api, ob.API_MS % ns),
                      tr.on_event)
    s0 = snapshot(ctx, mgr)
    create_secs, failed = post_all(ctx, ob.API_MS, ns,
                                   (ob.monosecret(ns, i, ctx.opts.refresh) for i in range(n)))
    while len(tr.ready) < n and ctx.budget.left(reserve) > 0 and not mgr.proc.poll():
        time.sleep(0.05)
    t_end = time.monotonic()
    s1 = snapshot(ctx, mgr)
    w.stop()
    times = sorted(t - s0["t"] for t in tr.ready.values())
    done = len(times) == n
    secs = times[-1] if done else t_end - s0["t"]
    api = api_delta(s0, s1)
    # The driver's own requests are not the operator's.
    api["POST monosecrets"] = api.get("POST monosecrets", 0) - n
    if api["POST monosecrets"] <= 0:
        del api["POST monosecrets"]
    op_requests = sum(v for k, v in api.items() if not k.startswith(("WATCH", "LIST")))
    out = {
        "complete": done, "ready": len(times), "seconds": secs,
        "per_second": len(times) / secs if secs > 0 else 0,
        "create_seconds": create_secs, "create_failed": failed,
        "t_first": times[0] if times else None,
        "t50": percentile(times, 50), "t90": percentile(times, 90),
        "operator_cpu_s": s1["cpu"] - s0["cpu"],
        "supervisor_cpu_s": s1["sup_cpu"] - s0["sup_cpu"],
        "job_ms_mean": job_ms(s0, s1),
        "cpu_s_per_1000": (s1["cpu"] - s0["cpu"]) / max(1, len(times)) * 1000,
        "control_plane_cpu_s": s1["cp_cpu"] - s0["cp_cpu"],
        "driver_cpu_s": s1["driver_cpu"] - s0["driver_cpu"],
        "api_requests": api,
        "api_requests_per_msec": op_requests / max(1, len(times)),
        "supervisor_requests": {k: int(v - s0["sup_kube"].get(k, 0))
                                for k, v in s1["sup_kube"].items()},
        "pam_requests": s1["pam"] - s0["pam"],
    }
    log("converge: %d/%d Ready in %.1fs (%.0f/s), %.1f API requests per MonoSecret" % (
        len(times), n, secs, out["per_second"], out["api_requests_per_msec"]))
    return out


def share_left(ctx, until, reserve):
    """share_left - seconds this size may still use: its share of the
    budget, and never past the budget itself."""
    return min(ctx.budget.left(reserve), until - time.monotonic())


def steady(ctx, n, mgr, secrets, left, conv_secs):
    """steady - `cycles` refresh cycles with PAM data unchanged, for at
    most `left` seconds."""
    cycles = ctx.opts.cycles
    s0 = snapshot(ctx, mgr, secrets)
    want = s0["reconciles"] + cycles * n
    limit = cycles * max(ctx.opts.refresh_s, conv_secs) * 2 + 30
    end = s0["t"] + min(limit, left)
    while mgr.metric("pamop_reconcile_total") < want and time.monotonic() < end:
        time.sleep(0.25)
    s1 = snapshot(ctx, mgr, secrets)
    api = api_delta(s0, s1)
    rec = s1["reconciles"] - s0["reconciles"]
    secs = s1["t"] - s0["t"]
    c = rec / n
    out = {
        "complete": rec >= cycles * n, "cycles_wanted": cycles, "cycles": c,
        "seconds": secs, "cycle_seconds": secs / c if c else None,
        "reconciles": int(rec), "reconciles_per_second": rec / secs,
        # cluster-wide, every client: the namespace controller's DELETEs of
        # other work's namespaces land here too; the watch is this run's own
        "secret_writes": sum(api.get(k, 0) for k in SECRET_WRITES),
        "secret_writes_not_delete": sum(api.get(k, 0) for k in SECRET_WRITES[:3]),
        "secret_watch_events": s1["secret_events"] - s0["secret_events"],
        "status_writes": api.get("PATCH monosecrets/status", 0),
        "status_writes_per_msec_cycle": api.get("PATCH monosecrets/status", 0) / max(1, rec),
        "pam_requests": s1["pam"] - s0["pam"],
        "pam_requests_per_msec_cycle": (s1["pam"] - s0["pam"]) / max(1, rec),
        "api_requests": api,
        "operator_cpu_s": s1["cpu"] - s0["cpu"],
        "supervisor_cpu_s": s1["sup_cpu"] - s0["sup_cpu"],
        "job_ms_mean": job_ms(s0, s1),
        "cpu_s_per_1000": (s1["cpu"] - s0["cpu"]) / max(1, rec) * 1000,
        "control_plane_cpu_s": s1["cp_cpu"] - s0["cp_cpu"],
    }
    log("steady: %.2f cycles in %.1fs; %d Secret writes, %.2f status writes and %.2f PAM "
        "requests per MonoSecret per cycle" % (c, secs, out["secret_writes"],
                                               out["status_writes_per_msec_cycle"],
                                               out["pam_requests_per_msec_cycle"]))
    return out


def samples(n, k, offset):
    """samples - k indices spread evenly over n, shifted by offset."""
    k = min(k, n)
    return sorted({(i * n // k + offset) % n for i in range(k)})


def latencies(done, t0):
    """latencies - p50/p99/max in ms of arrival times against their start(s)."""
    ms = [max(0.0, (t - t0[name] if isinstance(t0, dict) else t - t0)) * 1000
          for name, t in done.items()]
    return {"samples": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms) if ms else None}


def change(ctx, n, secrets, left, cycle_secs):
    """change - new PAM values for k items; time until their Secrets hold them."""
    idx = samples(n, ctx.opts.samples, 0)
    for i in idx:
        secrets.expect_change(ob.target_name(i), ob.b64(ob.password(i, 1)))
    ctx.pamsim.put_vaults(ob.vaults(n, 0, idx))
    t0 = time.monotonic()
    end = t0 + min(max(3 * cycle_secs, 3 * ctx.opts.refresh_s) + 30, left)
    while len(secrets.changed) < len(idx) and time.monotonic() < end:
        time.sleep(0.05)
    out = latencies(dict(secrets.changed), t0)
    out["wanted"] = len(idx)
    log("change: %d/%d arrived, p50 %s ms, p99 %s ms" % (
        out["samples"], len(idx), fmt(out["p50_ms"]), fmt(out["p99_ms"])))
    return out


def restore(ctx, n, ns, secrets, left):
    """restore - delete k target Secrets by hand; time until each is back."""
    idx = samples(n, ctx.opts.samples, max(1, n // (2 * min(n, ctx.opts.samples))))
    names = [ob.target_name(i) for i in idx]
    for name in names:
        secrets.expect_back(name)
    answered = {}

    def delete(client, name):
        st, _ = kubeapi.retry(client, "DELETE", ob.API_SECRETS % ns + "/" + name, ok=(200,))
        answered[name] = time.monotonic()
        return st
    ctx.pool.run(names, delete)
    end = time.monotonic() + min(60 + n / 50, left)
    while len(secrets.back) < len(names) and time.monotonic() < end:
        time.sleep(0.05)
    with secrets.lock:
        # deleted at the earlier of the DELETE's answer and its watch event
        t0 = {k: min(answered.get(k, secrets.gone.get(k)), secrets.gone.get(k, 1e18))
              for k in secrets.back}
        out = latencies(dict(secrets.back), t0)
    out["wanted"] = len(names)
    log("restore: %d/%d back, p50 %s ms, p99 %s ms" % (
        out["samples"], len(names), fmt(out["p50_ms"]), fmt(out["p99_ms"])))
    return out


def fmt(v):
    return "-" if v is None else "%.0f" % v


def cleanup(ctx, ns, n):
    """cleanup - with the operator stopped, drop our finalizer from every
    MonoSecret so the namespace can go without N cleanup jobs."""
    patch = {"metadata": {"finalizers": None}}

    def strip(client, i):
        st, _ = kubeapi.retry(client, "PATCH", ob.API_MS % ns + "/" + ob.msec_name(i), patch,
                              ok=(200, 404), ctype="application/merge-patch+json")
        return st
    ctx.pool.run(range(n), strip)
    # Past the budget the namespace controller may finish on its own; the
    # run only waits a little so that `make bench` ends on time.
    delete_ns(ctx, ns, min(60 + n // 50, max(15, ctx.budget.left() + 45)))


def phase_deadline(ctx, n, rate, rest_need, reserve):
    """phase_deadline - when this size's steady, change and restore phases
    must stop. Convergence of the sizes still to come goes first
    (rest_need(rate) estimates it at the rate just seen), but every size
    keeps a floor: its cycles at about twice the convergence rate plus the
    two latency phases, at most a quarter of what is left. Its own cleanup
    (reserve) comes after the deadline."""
    o, left = ctx.opts, ctx.budget.left(reserve)
    own = o.cycles * max(o.refresh_s, n / max(2 * rate, 1)) + 2 * o.refresh_s + 20
    return time.monotonic() + max(min(own, left / 4), left - rest_need(rate))


def latency_phases(ctx, res, n, ns, secrets, deadline, cycle_s):
    """latency_phases - change, then restore, each while time is left."""
    for name in ("change", "restore"):
        left = share_left(ctx, *deadline)
        if left <= 0:
            res["skipped"].append(name)
        elif name == "change":
            res[name] = change(ctx, n, secrets, left / 2, cycle_s)
        else:
            res[name] = restore(ctx, n, ns, secrets, left)


def run_size(ctx, n, label, rest_need, raw=True, latency=True):
    """run_size - every measurement at one N; returns the result record.
    Convergence may use the whole budget; the later phases stop at the
    deadline phase_deadline() sets, so that the larger sizes still run.
    raw=False skips the raw writer, latency=False the change and restore
    phases (the repeat with unrelated Secrets is about memory)."""
    o = ctx.opts
    reserve = 30 + n / 150          # time kept back for the cleanup
    res = {"n": n, "label": label, "loadavg_before": loadavg(), "skipped": []}
    t_start = time.monotonic()
    log("== %s (N=%d), %.0fs of budget left" % (label, n, ctx.budget.left()))
    if raw:
        res["raw"] = raw_phase(ctx, n)
    ns = "bench-%s" % label.replace("_", "-")
    ctx.pamsim.reset()
    mgr = start_operator(ctx, n, ns, label)
    mem = procs.MemSampler(mgr.pid)
    try:
        res["converge"] = c = converge(ctx, n, ns, mgr, reserve)
        if raw and c["complete"]:
            res["ratio"] = res["raw"]["seconds"] / c["seconds"]
        until = phase_deadline(ctx, n, c["per_second"], rest_need, reserve)
        if c["complete"]:
            log("%.0fs for the steady and latency phases" % share_left(ctx, until, reserve))
            secrets = SecretTracker()
            w = kubeapi.Watch(ctx.kc, ob.API_SECRETS % ns,
                              kubeapi.list_rv(ctx.api, ob.API_SECRETS % ns), secrets.on_event)
            try:
                # the latency phases wait about a refresh cycle each
                left = share_left(ctx, until, reserve)
                room = min(left / 3, 2 * max(o.refresh_s, n / max(2 * c["per_second"], 1)) + 30
                           ) if latency else 0
                res["steady"] = s = steady(ctx, n, mgr, secrets, left - room, c["seconds"])
                if latency:
                    latency_phases(ctx, res, n, ns, secrets, (until, reserve),
                                   s["cycle_seconds"] or o.refresh_s)
            finally:
                w.stop()
        else:
            res["skipped"] += ["steady", "change", "restore"]
        mem.stop()
        res["memory"] = mem.result()
        res["operator_cpu_s_total"] = mgr.cpu()
    finally:
        mem.stop()
        mgr.stop()
        cleanup(ctx, ns, n)
    res["seconds"] = time.monotonic() - t_start
    res["loadavg_after"] = loadavg()
    m = res["memory"]
    log("memory: supervisor %.1f MiB, workers %s MiB (VmHWM), together %.1f MiB with shared "
        "pages once" % (
        m["supervisor_hwm_kib"] / 1024, "+".join("%.1f" % (k / 1024) for k in m["worker_hwm_kib"]),
        m["peak_unique_kib"] / 1024))
    return res


def unrelated_fill(ctx, count, kib):
    """unrelated_fill - count Secrets of kib KiB, unlabelled, in their own
    namespace: the rest of a big cluster. Returns (namespace, record)."""
    ns = "bench-unrelated"
    create_ns(ctx, ns)
    secs, failed = post_all(ctx, ob.API_SECRETS, ns,
                            (ob.unrelated_secret(ns, i, kib * 1024) for i in range(count)))
    log("unrelated: %d Secrets of %d KiB in %.1fs (%d failed)" % (count, kib, secs, failed))
    return ns, {"count": count, "kib": kib, "seconds": secs, "failed": failed}
