"""procs - the processes under test and what /proc says about them.

pamsim and the manager are started as real processes on loopback ports;
the manager's workers are its exec'd children. Memory is read from
/proc/<pid>/status (VmHWM, VmRSS) and CPU from /proc/<pid>/stat (utime,
stime and the reaped children's cutime, cstime), so a worker that died
and was replaced still counts.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    """free_port - a TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, method="GET", body=None, timeout=30):
    """http_get - plain HTTP to a loopback admin/metrics port: (status, text)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def wait_http(port, path, secs, proc=None):
    """wait_http - until port answers 200 on path; False after secs."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if http_get(port, path, timeout=2)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def children(pid):
    """children - pids whose parent is pid (pgrep -P, without pgrep)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st[st.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return out


def cpu_secs(pid):
    """cpu_secs - utime+stime+cutime+cstime of pid in seconds (0 if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return 0.0
    f = st[st.rindex(")") + 2:].split()
    return sum(int(x) for x in f[11:15]) / TICK


def mem_kib(pid):
    """mem_kib - (VmHWM, VmRSS) of pid in KiB, (0, 0) if gone."""
    hwm = rss = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return hwm, rss


def tree_cpu(pid):
    """tree_cpu - CPU seconds of pid and its live children, dead ones included
    through cutime/cstime."""
    return cpu_secs(pid) + sum(cpu_secs(c) for c in children(pid))


class Pamsim:
    """Pamsim - the PAM simulator, over HTTPS with the bench's CA or, when
    tls is False, over plain HTTP."""

    def __init__(self, binary, pki, workdir, key, tls):
        self.port, self.admin = free_port(), free_port()
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        transport = ["--tls-cert", os.path.join(pki, "server.crt"),
                     "--tls-key", os.path.join(pki, "server.key")] if tls else ["--plain-http"]
        keys = os.path.join(workdir, "pamsim.keys")
        with open(keys, "w") as f:
            f.write(key + "\n")
        self.log = open(os.path.join(workdir, "pamsim.log"), "ab")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:%d" % self.port,
             "--admin-listen", "127.0.0.1:%d" % self.admin,
             "--access-key-file", keys, "--log-level", "warn"] + transport,
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        if not wait_http(self.admin, "/stats", 10, self.proc):
            raise RuntimeError("pamsim did not start (see %s)" % self.log.name)

    def put_vaults(self, vaults):
        st, out = http_get(self.admin, "/vaults", "PUT", json.dumps({"vaults": vaults}))
        if st != 200:
            raise RuntimeError("pamsim PUT /vaults: %d %s" % (st, out))

    def stats(self):
        return json.loads(http_get(self.admin, "/stats")[1])

    def reset(self):
        http_get(self.admin, "/reset", "POST", "")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


class Manager:
    """Manager - bin/manager (and so its pam-worker children) as a user runs it."""

    def __init__(self, binary, kubeconfig, ca, log, extra=()):
        self.metrics, self.health = free_port(), free_port()
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(
            [binary, "--kubeconfig", kubeconfig, "--pam-ca-file", ca,
             "--metrics-bind-address=127.0.0.1:%d" % self.metrics,
             "--health-probe-bind-address=127.0.0.1:%d" % self.health] + list(extra),
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        if not wait_http(self.health, "/readyz", 30, self.proc):
            self.stop()
            raise RuntimeError("manager did not become ready (see %s)" % log)

    def metrics_text(self):
        return http_get(self.metrics, "/metrics")[1]

    def metric(self, name, label_filter=None):
        """metric - sum of a metric's series whose labels contain label_filter."""
        total = 0.0
        for line in self.metrics_text().splitlines():
            m = re.match(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), line)
            if m and (label_filter is None or label_filter in (m.group(1) or "")):
                total += float(m.group(2))
        return total

    def kube_requests(self):
        """kube_requests - the supervisor's own API requests by verb."""
        out = {}
        for line in self.metrics_text().splitlines():
            m = re.match(r'^pamop_kube_requests_total\{verb="(\w+)",code="\d+"\} (\S+)$', line)
            if m:
                out[m.group(1)] = out.get(m.group(1), 0) + float(m.group(2))
        return out

    def cpu(self):
        return tree_cpu(self.pid)

    def own_cpu(self):
        """own_cpu - the supervisor alone (without its workers)."""
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                st = f.read()
        except OSError:
            return 0.0
        return sum(int(x) for x in st[st.rindex(")") + 2:].split()[11:13]) / TICK

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def smaps(pid):
    """smaps - (private KiB, {file: shareable KiB}) of pid: anonymous and
    copy-on-write pages belong to the process alone; the clean pages of a
    mapped file (shared libraries, mostly) are the same page-cache pages
    in every process that maps it."""
    private, files = 0, {}
    path, rss = None, 0
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                head = line.split(None, 6)
                if "-" in head[0] and len(head) >= 5 and ":" in head[3]:
                    inode = head[4]
                    path = head[5].strip() if len(head) > 5 and inode != "0" else None
                elif head[0] == "Rss:":
                    rss = int(head[1])
                    if path is None:
                        private += rss
                elif head[0] == "Private_Dirty:" and path is not None:
                    dirty = int(head[1])
                    private += dirty
                    files[path] = files.get(path, 0) + rss - dirty
    except OSError:
        pass
    return private, files


class MemSampler:
    """MemSampler - samples the manager and its workers every interval.

    VmHWM is the kernel's own peak per process; the sampler keeps the last
    one seen per pid (a worker may be replaced). It also keeps the largest
    footprint of the whole tree at one instant with shared file pages
    counted once (what a container's memory cgroup is charged): the
    private pages of every process plus, per mapped file, the most any one
    process has resident (a lower bound of their union)."""

    def __init__(self, pid, interval=0.5):
        self.pid = pid
        self.hwm = {}            # pid -> (role, KiB)
        self.peak_sum_rss = 0
        self.peak_unique = 0
        self.peak_private = {}   # role -> largest private KiB of one process
        self.peak_shared = {}    # file -> resident KiB, at the peak
        self.stopping = False
        self.interval = interval
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def sample(self):
        """sample - read every process of the tree once."""
        total = private_all = 0
        shared = {}
        for p, role in [(self.pid, "supervisor")] + [(c, "worker") for c in children(self.pid)]:
            hwm, rss = mem_kib(p)
            if not hwm:
                continue
            self.hwm[p] = (role, max(hwm, self.hwm.get(p, (role, 0))[1]))
            total += rss
            private, files = smaps(p)
            private_all += private
            self.peak_private[role] = max(self.peak_private.get(role, 0), private)
            for k, v in files.items():
                shared[k] = max(shared.get(k, 0), v)
        self.peak_sum_rss = max(self.peak_sum_rss, total)
        unique = private_all + sum(shared.values())
        if unique >= self.peak_unique:
            self.peak_unique = unique
            self.peak_shared = shared

    def _run(self):
        while not self.stopping:
            self.sample()
            time.sleep(self.interval)

    def stop(self):
        if not self.stopping:
            self.stopping = True
            self.thread.join(timeout=5)
            self.sample()

    def result(self):
        """result - the peaks, in KiB, for the report."""
        sup = [k for _, (r, k) in self.hwm.items() if r == "supervisor"]
        workers = sorted((k for _, (r, k) in self.hwm.items() if r == "worker"), reverse=True)
        return {
            "supervisor_hwm_kib": sup[0] if sup else 0,
            "worker_hwm_kib": workers,
            "sum_hwm_kib": (sup[0] if sup else 0) + sum(workers),
            "peak_sum_rss_kib": self.peak_sum_rss,
            "peak_unique_kib": self.peak_unique,
            "supervisor_private_kib": self.peak_private.get("supervisor", 0),
            "worker_private_kib": self.peak_private.get("worker", 0),
            "shared_kib": sum(self.peak_shared.values()),
            "shared_top_kib": dict(sorted(((os.path.basename(k), v) for k, v in
                                           self.peak_shared.items()),
                                          key=lambda kv: -kv[1])[:8]),
        }
