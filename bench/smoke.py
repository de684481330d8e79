"""smoke - what `make check` asserts about a small benchmark run: that
each phase measured something real, and the one guarantee the operator
makes about steady state (no Secret writes while PAM data is unchanged)."""

import report


def check(res, reread, o):
    """check - print one line per check and the Check-style tally; the
    exit status is the number of failures (capped)."""
    runs = {r["label"]: r for r in res["runs"]}
    n = o.sizes[0]
    r = runs.get(str(n), {})
    u = runs.get("%d-unrelated" % n, {})
    raw, c, s = r.get("raw", {}), r.get("converge", {}), r.get("steady", {})
    ch, rs, m = r.get("change", {}), r.get("restore", {}), r.get("memory", {})
    checks = [
        ("raw writer wrote every Secret", raw.get("failed") == 0 and raw.get("per_second", 0) > 0),
        ("every MonoSecret became Ready", c.get("complete") is True and c.get("ready") == n),
        ("convergence ratio measured", (r.get("ratio") or 0) > 0),
        ("steady state ran its refresh cycles", s.get("complete") is True),
        # The run's own Secrets, by watch: an integration suite that ran just
        # before may still be deleting its namespaces, which the cluster-wide
        # count would include (the full report shows both).
        ("no Secret writes in steady state", s.get("secret_watch_events") == 0),
        ("one PAM request per MonoSecret per refresh",
         0.9 <= (s.get("pam_requests_per_msec_cycle") or 0) <= 1.2),
        ("status writes counted", (s.get("status_writes") or 0) > 0),
        ("every PAM change reached its Secret",
         ch.get("samples") == ch.get("wanted") and ch.get("p99_ms") is not None),
        ("every deleted Secret came back",
         rs.get("samples") == rs.get("wanted") and rs.get("p99_ms") is not None),
        ("peak RSS of supervisor and workers read",
         m.get("supervisor_hwm_kib", 0) > 0 and len(m.get("worker_hwm_kib", [])) >= 1),
        ("operator CPU per reconcile measured", (s.get("cpu_s_per_1000") or 0) > 0),
        ("run with unrelated Secrets converged", u.get("converge", {}).get("complete") is True),
        ("RSS flat with unrelated Secrets",
         bool(u.get("memory")) and u["memory"]["peak_unique_kib"] <=
         m.get("peak_unique_kib", 0) * report.FLAT_SLACK),
        ("per-request costs measured",
         all(v["cp_cpu_ms"] > 0 for v in (res.get("costs") or {"-": {"cp_cpu_ms": 0}}).values())),
        ("JSON result written whole", reread == res),
    ]
    failed = 0
    for name, ok in checks:
        print("bench-smoke: %s: %s" % ("ok" if ok else "FAILED", name))
        failed += not ok
    print("bench-smoke: %d passed, %d failed" % (len(checks) - failed, failed))
    return min(failed, 100)
