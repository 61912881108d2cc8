"""--admit-window: at most that many admissions await Redis at once, so a
settlement is never queued behind a whole consumer batch of them (the
convoy of RESULTS.md, F8). A proxy between the worker and Redis reads both
directions of the protocol and counts the admissions sent and not yet
answered on each connection (Redis answers a connection in order)."""

import collections
import hashlib
import os
import socket
import threading
from pathlib import Path

import pytest

from tgstack import Sim, Worker, events, free_port, ledger, produce, request, wait_assigned

REPO = Path(__file__).resolve().parents[2]
ADMIT_SHA = hashlib.sha1(
    (REPO / "ledger/lua/admit.lua").read_bytes()).hexdigest().encode()
# Admissions also go out batched (--ledger-batch): the batch script is
# generated at build time (ledger/embed_lua.cmake).
ADMIT_BATCH_SHA = hashlib.sha1(
    (Path(os.environ.get("TOLLGATE_BUILD_DIR", REPO / "build")) /
     "ledger/lua/admit_batch.lua").read_bytes()).hexdigest().encode()


def admissions_in(cmd):
    """How many admissions one command carries: 1 for admit.lua, ARGV[1]
    for a batch of them (ledger/lua/batch.lua.in), else 0."""
    if not (isinstance(cmd, list) and len(cmd) > 3 and
            cmd[0].upper() == b"EVALSHA"):
        return 0
    if cmd[1] == ADMIT_SHA:
        return 1
    if cmd[1] == ADMIT_BATCH_SHA:
        return int(cmd[3 + int(cmd[2])])
    return 0


class Resp:
    """Incremental RESP2 parser: feed bytes, take complete values."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            value, end = self._parse(0)
            if end is None:
                return out
            self.buf = self.buf[end:]
            out.append(value)

    def _parse(self, i):
        nl = self.buf.find(b"\r\n", i)
        if nl < 0:
            return None, None
        kind, head = self.buf[i:i + 1], self.buf[i + 1:nl]
        if kind in (b"+", b"-", b":"):
            return head, nl + 2
        n = int(head)
        if kind == b"$":
            if n < 0:
                return None, nl + 2
            end = nl + 2 + n + 2
            return (self.buf[nl + 2:end - 2], end) if len(self.buf) >= end \
                else (None, None)
        items, j = [], nl + 2
        for _ in range(max(n, 0)):
            item, j = self._parse(j)
            if j is None:
                return None, None
            items.append(item)
        return items, j


class CountingProxy:
    """Forwards TCP to Redis; tracks the most admissions ever unanswered on
    one connection (a batch counts as the admissions in it)."""

    def __init__(self, redis_port):
        self.redis_port = redis_port
        self.lock = threading.Lock()
        self.peak = 0
        self.admits = 0
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.redis_port))
            st = {"pending": collections.deque(), "admits": 0}
            threading.Thread(target=self._up, args=(c, s, st), daemon=True).start()
            threading.Thread(target=self._down, args=(s, c, st), daemon=True).start()

    def _up(self, src, dst, st):
        parser = Resp()
        while data := src.recv(65536):
            with self.lock:
                for cmd in parser.feed(data):
                    admits = admissions_in(cmd)
                    st["pending"].append(admits)
                    st["admits"] += admits
                    self.admits += admits
                    self.peak = max(self.peak, st["admits"])
            dst.sendall(data)
        dst.close()

    def _down(self, src, dst, st):
        parser = Resp()
        while data := src.recv(65536):
            with self.lock:
                for _ in parser.feed(data):
                    if st["pending"]:
                        st["admits"] -= st["pending"].popleft()
            dst.sendall(data)
        dst.close()

    def close(self):
        self.srv.close()


@pytest.mark.parametrize("window", [4, 0])
def test_admissions_awaiting_redis_stay_within_the_window(
        tmp_path, brokers, topics, ledger_redis, window):
    ledger(ledger_redis, "budget", "set", "eng", "--selector", "costCenter=eng",
           "--period", "day", "--limit-usd", "100")
    port = int(ledger_redis.rsplit(":", 1)[1].split("/")[0])
    db = ledger_redis.rsplit("/", 1)[1]
    proxy = CountingProxy(port)
    sim = Sim("--latency-ms", "0")
    n = 400
    reqs = [request(f"aw-{window}-{i}", "eng") for i in range(n)]
    # Loaded before the worker starts: its first fetch hands over a batch.
    produce(brokers, topics["requests"], [(r["requestId"], r) for r in reqs])
    w = Worker(tmp_path, topics["prefix"], f"redis://127.0.0.1:{proxy.port}/{db}",
               args=["--bedrock-endpoint", sim.url,
                     "--admit-window", str(window)])
    try:
        wait_assigned([w], 4)
        usage = collections.Counter(
            u["requestId"] for _, u in events(brokers, topics["usage"], n,
                                              timeout=120))
    finally:
        assert w.stop() == 0
        sim.stop()
        proxy.close()
    assert len(usage) == n and set(usage.values()) == {1}
    assert proxy.admits >= n
    if window:
        assert 2 <= proxy.peak <= window, proxy.peak
    else:
        # Without a window the batch goes out at once: what the bound stops.
        assert proxy.peak > 4 * 8, proxy.peak
