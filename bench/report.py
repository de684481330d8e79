"""report - the machine, the targets, and the tables, as Markdown and JSON.

The same Markdown is printed, written to bench/results/<stamp>.md and
put between the markers of docs/performance.md (the text around the
markers is written by hand and kept).
"""

import json
import os
import platform

MIB = 1024.0
TARGET_RSS_MIB = 16
TARGET_RATIO = 0.5
FLAT_SLACK = 1.10         # "flat": at most 10% more with the unrelated Secrets
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def machine():
    """machine - what the figures were measured on."""
    model, mem = "unknown", 0
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1])
    return {"nproc": os.cpu_count(), "memory_gib": round(mem / MIB / MIB, 1),
            "cpu_model": model, "kernel": platform.release(), "python": platform.python_version()}


def f(v, spec="%.1f", none="-"):
    return none if v is None else spec % v


def mib(kib):
    return kib / MIB


def label(r):
    if r["label"].endswith("unrelated"):
        return "%d + unrelated" % r["n"]
    return str(r["n"])


def lat(x):
    """lat - "p50 / p99", and how many arrived when not all did in time."""
    if not x:
        return "-"
    out = "%s / %s" % (f(x["p50_ms"], "%.0f"), f(x["p99_ms"], "%.0f"))
    if x["samples"] < x["wanted"] / 2:    # too few to say anything about the rest
        out = "-"
    if x["samples"] < x["wanted"]:
        out += " (%d of %d in time)" % (x["samples"], x["wanted"])
    return out


def size_rows(runs):
    """size_rows - one line per run: throughput, steady state, latency."""
    head = ("| N | raw writes/s | converge s (first / half / all Ready) | operator Ready/s | "
            "ratio | Secret writes "
            "(steady) | status writes / MS / cycle | PAM req / MS / cycle | cycle s | change "
            "p50 / p99 ms | restore p50 / p99 ms |\n|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    for r in runs:
        raw, c, s = r.get("raw"), r.get("converge", {}), r.get("steady")
        ch, rs = r.get("change"), r.get("restore")
        conv = "%s / %s / %s" % (f(c.get("t_first")), f(c.get("t50")), f(c.get("seconds")))
        if c and not c["complete"]:
            conv = "stopped at %.0f: %d/%d Ready (first at %s)" % (
                c["seconds"], c["ready"], r["n"], f(c.get("t_first")))
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label(r), f(raw and raw["per_second"], "%.0f"), conv,
            f(c.get("per_second"), "%.0f"), f(r.get("ratio"), "%.2f"),
            "-" if not s else "%d (%.1f of %d cycles)" % (
                s["secret_watch_events"] + s.get("secret_writes_not_delete", 0), s["cycles"],
                s["cycles_wanted"]),
            f(s and s["status_writes_per_msec_cycle"], "%.2f"),
            f(s and s["pam_requests_per_msec_cycle"], "%.2f"),
            f(s and s["cycles"] >= 1 and s["cycle_seconds"] or None),
            lat(ch), lat(rs)))
    return "\n".join(rows)


def resource_rows(runs):
    """resource_rows - memory and CPU per run."""
    head = ("| N | supervisor VmHWM MiB | worker VmHWM MiB | sum of VmHWM MiB | together, "
            "shared pages once MiB | private MiB (supervisor / one worker) | CPU s / 1000 "
            "reconciles (converge) | (steady) | API requests / MS (converge) | loadavg "
            "before -> after |\n|---|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    for r in runs:
        m, c, s = r.get("memory", {}), r.get("converge", {}), r.get("steady")
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s -> %s |" % (
            label(r), f(m and mib(m["supervisor_hwm_kib"])),
            " + ".join("%.1f" % mib(k) for k in m.get("worker_hwm_kib", [])) or "-",
            f(m and mib(m["sum_hwm_kib"])), f(m and mib(m["peak_unique_kib"])),
            "-" if not m else "%.1f / %.1f" % (mib(m["supervisor_private_kib"]),
                                                mib(m["worker_private_kib"])),
            f(c.get("cpu_s_per_1000"), "%.2f"), f(s and s["cpu_s_per_1000"], "%.2f"),
            f(c.get("api_requests_per_msec"), "%.1f"),
            "%.2f" % r["loadavg_before"][0], "%.2f" % r["loadavg_after"][0]))
    return "\n".join(rows)


def targets(res):
    """targets - each target of the issue: met or missed, and by how much."""
    runs = [r for r in res["runs"] if not r["label"].endswith("unrelated")]
    out = []
    big = max((r for r in runs if "memory" in r), key=lambda r: r["n"], default=None)
    if big:
        mem = big["memory"]
        for what, kib in (("sum of VmHWM", mem["sum_hwm_kib"]),
                          ("shared library pages counted once", mem["peak_unique_kib"])):
            got = mib(kib)
            out.append(("operator RSS (supervisor + workers, %s) < %d MiB at N=%d" % (
                what, TARGET_RSS_MIB, big["n"]), got < TARGET_RSS_MIB,
                "%.1f MiB (%+.1f MiB; private pages %.1f MiB supervisor + %d x %.1f MiB "
                "worker, shared library pages %.1f MiB: %s)" % (
                    got, got - TARGET_RSS_MIB, mib(mem["supervisor_private_kib"]),
                    len(mem["worker_hwm_kib"]), mib(mem["worker_private_kib"]),
                    mib(mem.get("shared_kib", 0)), ", ".join(
                        "%s %.1f" % (k, mib(v)) for k, v in sorted(
                            mem.get("shared_top_kib", {}).items(), key=lambda kv: -kv[1])[:5]))))
    un = [r for r in res["runs"] if r["label"].endswith("unrelated") and "memory" in r]
    for u in un:
        base = next((r for r in runs if r["n"] == u["n"] and "memory" in r), None)
        if base:
            a, b = base["memory"]["peak_unique_kib"], u["memory"]["peak_unique_kib"]
            out.append(("RSS flat with %d unrelated %d KiB Secrets (N=%d)" % (
                res["unrelated"]["count"], res["unrelated"]["kib"], u["n"]),
                b <= a * FLAT_SLACK, "%.1f -> %.1f MiB (%+.0f KiB)" % (mib(a), mib(b), b - a)))
    for r in res["runs"]:
        s = r.get("steady")
        if s and s["cycles"] < 1:
            out.append(("zero Secret writes in steady state (N=%s)" % label(r), None,
                        "not measured: %.2f cycles in the time left" % s["cycles"]))
        elif s:
            out.append(("zero Secret writes in steady state (N=%s)" % label(r),
                        steady_no_writes(s),
                        "%d watch events on the run's Secrets, %d Secret writes in the whole "
                        "cluster (%d of them not DELETEs) over %.1f cycles" % (
                            s["secret_watch_events"], s["secret_writes"],
                            s.get("secret_writes_not_delete", s["secret_writes"]),
                            s["cycles"])))
    for r in runs:
        if "raw" in r:
            ratio = r.get("ratio")
            out.append(("convergence >= %.1f x raw write ceiling (N=%d)" % (TARGET_RATIO, r["n"]),
                        ratio is not None and ratio >= TARGET_RATIO,
                        "ratio %s (%s)" % (f(ratio, "%.2f"), why_ratio(r, res.get("costs")))))
    return out


def floor_ratio(costs):
    """floor_ratio - the best ratio any operator could reach here when the
    control plane is the limit: the user's MonoSecret create, one Secret
    write and one Ready status write, against one Secret write."""
    try:
        need = (costs["POST monosecrets"]["cp_cpu_ms"] + costs["POST secrets"]["cp_cpu_ms"] +
                costs["PATCH monosecrets/status (Ready)"]["cp_cpu_ms"])
        return costs["POST secrets"]["cp_cpu_ms"] / need
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def steady_no_writes(s):
    """steady_no_writes - nothing wrote the run's Secrets (watch), and no
    create/update/patch of any Secret reached the API server; DELETEs are
    left out because the namespace controller may still be removing
    another run's namespace, which the operator cannot cause."""
    return s["secret_watch_events"] == 0 and s.get("secret_writes_not_delete",
                                                   s["secret_writes"]) == 0


def why_ratio(r, costs):
    """why_ratio - the operator's cost per MonoSecret next to the raw writer's."""
    c, raw = r.get("converge", {}), r["raw"]
    if not c or not c.get("ready"):
        return "no MonoSecret got Ready"
    ms_cp = c["control_plane_cpu_s"] / c["ready"] * 1000
    raw_cp = raw["control_plane_cpu_s"] / r["n"] * 1000
    fl = floor_ratio(costs)
    return ("%.1f API requests per MonoSecret, the user's create included, vs 1 per raw Secret; "
            "API server + etcd CPU %.1f ms per MonoSecret vs %.1f ms per raw Secret%s" % (
                c["api_requests_per_msec"] + 1, ms_cp, raw_cp,
                "" if fl is None else "; even a minimal operator (create + Secret + Ready "
                "status) would be held to %.2f by this control plane" % fl))


def cost_rows(costs):
    """cost_rows - control-plane CPU per request kind."""
    rows = ["| request | API server + etcd CPU ms | wall ms |", "|---|---|---|"]
    for k, v in costs.items():
        rows.append("| %s | %.2f | %.2f |" % (k, v["cp_cpu_ms"], v["wall_ms"]))
    return "\n".join(rows)


def breakdown(res):
    """breakdown - API requests per MonoSecret by verb and resource."""
    lines = []
    for r in res["runs"]:
        c = r.get("converge")
        if not c or not c.get("ready"):
            continue
        items = sorted(((v / c["ready"], k) for k, v in c["api_requests"].items()
                        if not k.startswith(("WATCH", "LIST"))), reverse=True)
        lines.append("- N=%s converge: %s (plus the driver's 1 POST monosecrets)%s" % (
            label(r), ", ".join("%s %.2f" % (k, v) for v, k in items if v >= 0.005),
            "" if c["complete"] else "; per Ready MonoSecret of an unfinished run, so the "
            "finalizer writes, made for all N first, count more than once"))
        s = r.get("steady")
        if s and s["reconciles"]:
            items = sorted(((v / s["reconciles"], k) for k, v in s["api_requests"].items()
                            if not k.startswith(("WATCH", "LIST"))), reverse=True)
            lines.append("- N=%s steady, per MonoSecret per cycle: %s" % (
                label(r), ", ".join("%s %.2f" % (k, v) for v, k in items if v >= 0.005)))
    return "\n".join(lines)


def markdown(res):
    """markdown - the whole report."""
    m, o = res["machine"], res["options"]
    lines = [
        "Run %s, %.0f s in all%s." % (res["started"], res["seconds"],
                                      " (stopped at the time budget)" if res["budget_hit"]
                                      else ""),
        "",
        "Machine: %d CPUs (%s), %.1f GiB memory, Linux %s; operator %s, kube-apiserver %s." % (
            m["nproc"], m["cpu_model"], m["memory_gib"], m["kernel"], res["operator_version"],
            res["apiserver_version"]),
        "Load average (1 min) %.2f before and %.2f after the run%s." % (
            res["loadavg_before"][0], res["loadavg_after"][0],
            "; the machine was shared with other work" if max(
                res["loadavg_before"][0], res["loadavg_after"][0]) > 0.5 else ""),
        "Settings: refreshInterval %s, %d steady cycles, %d latency samples per size, "
        "%d writer connections, manager workers %s, pamsim over %s." % (
            o["refresh"], o["cycles"], o["samples"], o["threads"],
            o["workers"] or "default", "HTTPS" if o["pam_tls"] else "plain HTTP"),
        "",
        size_rows(res["runs"]),
        "",
        resource_rows(res["runs"]),
        "",
        "Targets:",
        "",
    ]
    for name, ok, detail in targets(res):
        word = "NOT MEASURED" if ok is None else "MET" if ok else "MISSED"
        lines.append("- %s %s: %s" % (word, name, detail))
    lines += ["", "API requests per MonoSecret (API server's own count, all operator "
              "processes):", "", breakdown(res)]
    if res.get("costs"):
        lines += ["", "What one request costs the control plane (one at a time, no operator "
                  "running):", "", cost_rows(res["costs"])]
    notes = list(res.get("notes", []))
    for r in res["runs"]:
        if r.get("skipped"):
            notes.append("N=%s: %s not measured (time budget)" % (label(r), ", ".join(
                r["skipped"])))
    if notes:
        lines += ["", "Notes:", ""] + ["- " + n for n in notes]
    return "\n".join(lines) + "\n"


def write(res, out_dir, docs):
    """write - <stamp>.json and <stamp>.md in out_dir, and the docs section."""
    os.makedirs(out_dir, exist_ok=True)
    md = markdown(res)
    base = os.path.join(out_dir, res["stamp"])
    with open(base + ".json", "w") as fh:
        json.dump(res, fh, indent=1)
    with open(base + ".md", "w") as fh:
        fh.write("# pam-operator benchmark %s\n\n" % res["stamp"] + md)
    if docs:
        with open(docs) as fh:
            text = fh.read()
        a, b = text.find(BEGIN), text.find(END)
        if a < 0 or b < a:
            raise RuntimeError("%s lacks the %s/%s markers" % (docs, BEGIN, END))
        with open(docs, "w") as fh:
            fh.write(text[:a + len(BEGIN)] + "\n" + md + text[b:])
    return md, base
