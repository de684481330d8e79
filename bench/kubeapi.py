"""kubeapi - a small Kubernetes REST client for the benchmark driver.

Standard library only: http.client over TLS with the client certificate
the testenv kubeconfig embeds. One Client per thread (a connection is not
shared); Pool runs many requests over several connections at once, which
is how the raw-write ceiling and the bulk creates are driven.
"""

import base64
import http.client
import json
import os
import re
import ssl
import tempfile
import threading
import time


class Kubeconfig:
    """kubeconfig - server and embedded credentials of a kubeconfig file.

    Only the shape scripts/testenv writes (one cluster, one user, *-data
    fields) is read; stdlib Python has no YAML parser, and anything else
    is refused with a clear error rather than half-understood.
    """

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            text = f.read()

        def field(name):
            m = re.search(r"^\s*%s:\s*(\S+)\s*$" % re.escape(name), text, re.M)
            if not m:
                raise ValueError("%s: no %s (only kubeconfigs with embedded "
                                 "*-data credentials are supported)" % (path, name))
            return m.group(1)

        m = re.match(r"https://([^:/]+):(\d+)/?$", field("server"))
        if not m:
            raise ValueError("%s: server must be https://HOST:PORT" % path)
        self.host, self.port = m.group(1), int(m.group(2))
        self.ca = base64.b64decode(field("certificate-authority-data")).decode()
        cert = base64.b64decode(field("client-certificate-data"))
        key = base64.b64decode(field("client-key-data"))
        # ssl wants the client pair as files: a private directory, removed
        # as soon as the context has read them.
        d = tempfile.mkdtemp(prefix="pamop-bench-")
        try:
            cp, kp = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
            for p, data in ((cp, cert), (kp, key)):
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
            self.ctx = ssl.create_default_context(cadata=self.ca)
            self.ctx.load_cert_chain(cp, kp)
        finally:
            for p in os.listdir(d):
                os.unlink(os.path.join(d, p))
            os.rmdir(d)


class Error(Exception):
    """Error - a request that got no usable answer."""


class Client:
    """Client - one keep-alive connection; reconnects once on a dropped one."""

    def __init__(self, kc, timeout=60):
        self.kc = kc
        self.timeout = timeout
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPSConnection(
            self.kc.host, self.kc.port, context=self.kc.ctx, timeout=self.timeout)

    def request(self, method, path, body=None, ctype="application/json",
                accept="application/json"):
        """request - returns (status, parsed JSON or raw text or None)."""
        data = None
        headers = {"Accept": accept}
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
            headers["Content-Type"] = ctype
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError) as e:
                self.close()
                if attempt:
                    raise Error("%s %s: %s" % (method, path, e)) from e
        if resp.getheader("Content-Type", "").startswith("application/json"):
            return resp.status, json.loads(raw) if raw else None
        return resp.status, raw.decode(errors="replace")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def retry(client, method, path, body=None, ok=(200, 201), ctype="application/json",
          tries=5):
    """retry - a request retried on transport errors, 429 and 5xx (the
    API server sheds load that way); returns (status, body)."""
    delay = 0.1
    for i in range(tries):
        try:
            st, out = client.request(method, path, body, ctype)
        except Error:
            if i == tries - 1:
                raise
            st, out = 0, None
        if st in ok or (st != 0 and st != 429 and st < 500):
            return st, out
        time.sleep(delay)
        delay = min(delay * 2, 2)
    return st, out


class Pool:
    """Pool - run fn(client, item) for every item on `threads` connections.

    Returns (results in item order, seconds from the first request to
    the last answer)."""

    def __init__(self, kc, threads):
        self.clients = [Client(kc) for _ in range(threads)]

    def run(self, items, fn):
        items = list(items)
        out = [None] * len(items)
        lock = threading.Lock()
        nxt = [0]

        def work(client):
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= len(items):
                    return
                try:
                    out[i] = fn(client, items[i])
                except Error as e:
                    out[i] = e

        ts = [threading.Thread(target=work, args=(c,), daemon=True) for c in self.clients]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return out, time.monotonic() - t0

    def close(self):
        for c in self.clients:
            c.close()


class Watch:
    """Watch - a watch stream on a collection, read by its own thread.

    on_event(type, obj, t) is called for every event with the monotonic
    time it was read; the stream is resumed from the last resourceVersion
    when the server ends it. stop() closes it."""

    def __init__(self, kc, path, rv, on_event):
        self.kc, self.path, self.rv, self.on_event = kc, path, rv, on_event
        self.stopping = False
        self.error = None
        self.conn = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                self._stream()
            except (http.client.HTTPException, OSError, ValueError) as e:
                if self.stopping:
                    return
                self.error = str(e)
                time.sleep(0.2)

    def _stream(self):
        """_stream - one watch request, read line by line until it ends."""
        sep = "&" if "?" in self.path else "?"
        url = "%s%swatch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=%s" % (
            self.path, sep, self.rv)
        self.conn = http.client.HTTPSConnection(self.kc.host, self.kc.port, context=self.kc.ctx)
        self.conn.request("GET", url, headers={"Accept": "application/json"})
        resp = self.conn.getresponse()
        if resp.status != 200:
            raise ValueError("watch %s: HTTP %d" % (self.path, resp.status))
        while not self.stopping:
            line = resp.readline()
            if not line:
                return
            ev = json.loads(line)
            obj = ev.get("object") or {}
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if ev.get("type") == "ERROR":
                raise ValueError("watch %s: %s" % (self.path, obj.get("message")))
            if rv:
                self.rv = rv
            if ev.get("type") != "BOOKMARK":
                self.on_event(ev["type"], obj, time.monotonic())

    def stop(self):
        self.stopping = True
        conn = self.conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(2)
            except OSError:
                pass
        self.thread.join(timeout=5)


def list_rv(client, path):
    """list_rv - the collection's current resourceVersion (a watch from
    it sees only what happens next)."""
    sep = "&" if "?" in path else "?"
    st, out = client.request("GET", path + sep + "limit=1")
    if st != 200:
        raise Error("list %s: HTTP %d" % (path, st))
    return out["metadata"]["resourceVersion"]


def request_counts(client):
    """request_counts - apiserver_request_total from the API server's own
    /metrics, as {(verb, resource, subresource): count}; the one count of
    every request, the operator's worker processes included."""
    st, text = client.request("GET", "/metrics", accept="text/plain")
    if st != 200:
        raise Error("GET /metrics: HTTP %d" % st)
    out = {}
    pat = re.compile(r'^apiserver_request_total\{(.*)\} (\S+)$')
    for line in text.splitlines():
        m = pat.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if not labels.get("resource"):
            continue
        k = (labels.get("verb", ""), labels["resource"], labels.get("subresource", ""))
        out[k] = out.get(k, 0) + float(m.group(2))
    return out
