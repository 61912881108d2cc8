"""Running tollgate binaries from tests: workers, the ledger CLI, requests.

Every worker a test starts is stopped by the test (SIGTERM, drain) and its
stderr checked for sanitizer reports, so a leak or overflow fails the test
that caused it.
"""

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from conftest import REPO, find_binary

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "definitely lost: 1", "definitely lost: 2",
                   "definitely lost: 3", "definitely lost: 4",
                   "definitely lost: 5", "definitely lost: 6",
                   "definitely lost: 7", "definitely lost: 8",
                   "definitely lost: 9", "Invalid read", "Invalid write",
                   "uninitialised value")

# The test stack's simulator checks no signature; the worker still signs.
TEST_AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIDTOLLGATETEST",
                "AWS_SECRET_ACCESS_KEY": "tollgate-test-secret",
                "AWS_REGION": "us-east-1"}


_next_db = [6]


def next_ledger_db():
    """The next Redis database of 6-15, in turn, for a test (or a module's
    fixture) whose ledger must not see other tests' budgets. Kept here, not
    in a conftest, because tests/integration and tests/faults each have a
    module named conftest and `import conftest` finds whichever came first."""
    db = _next_db[0]
    _next_db[0] = 6 + (db - 5) % 10
    return db


def readyz(port):
    """(status, body) of a worker's /readyz; (0, why) when unreachable."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz",
                                    timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_dir():
    return Path(os.environ.get("TOLLGATE_BUILD_DIR", REPO / "build")).resolve()


def binary(name):
    path = find_binary(build_dir(), name)
    assert path, f"{name} is not built under {build_dir()}"
    return str(path)


def assert_clean(text, who):
    for mark in SANITIZER_MARKS:
        assert mark not in text, f"{who}: sanitizer report:\n{text[-4000:]}"


class Worker:
    """One tollgate-worker process with its log in a file."""

    def __init__(self, tmp_path, prefix, redis_url, name="w", args=(),
                 env=None, group=None, default_membership=False):
        self.log_path = Path(tmp_path) / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self.name = name
        # Every test worker has an explicit --worker-id, which makes it a
        # static member by default (docs/operations.md, "Pod churn"); most
        # tests stop workers for good and want their partitions moved at
        # once, so they join dynamically unless they ask for the default.
        dynamic = [] if default_membership or "--static-membership" in args \
            else ["--static-membership", "0"]
        cmd = [binary("tollgate-worker"), "--topic-prefix", prefix,
               "--group", group or f"{prefix}.workers", "--redis", redis_url,
               "--worker-id", name, *dynamic, *args]
        full_env = {**os.environ, **TEST_AWS_ENV, **(env or {})}
        # tests/valgrind.sh runs workers under valgrind this way
        wrapper = os.environ.get("TOLLGATE_WORKER_WRAPPER")
        if wrapper:
            cmd = wrapper.split() + cmd
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log,
                                     env=full_env)

    def text(self):
        return self.log_path.read_text(errors="replace")

    def assigned(self):
        """Partitions held after the last (re)assignment."""
        held = 0
        for line in self.text().splitlines():
            if '"assigned ' in line:
                held = int(line.split('"assigned ')[1].split()[0])
            elif '"revoked ' in line:
                held = 0
        return held

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        assert_clean(self.text(), self.name)
        return rc

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def wait_assigned(workers, partitions, timeout=60):
    """Waits until the group settled: every partition held, each worker
    holding some (when there are enough partitions)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = [w.assigned() for w in workers]
        if sum(held) == partitions and all(held):
            return
        for w in workers:
            assert w.proc.poll() is None, f"{w.name} exited:\n{w.text()[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"group did not settle: {[w.assigned() for w in workers]}")


def ledger(redis_url, *args, brokers=None, usage_topic=None, check=True):
    cmd = [binary("tollgate-ledger"), "--redis", redis_url]
    if brokers:
        cmd += ["--brokers", brokers]
    if usage_topic:
        cmd += ["--usage-topic", usage_topic]
    res = subprocess.run(cmd + list(args), capture_output=True, text=True,
                         timeout=120)
    assert_clean(res.stderr, "tollgate-ledger")
    if check:
        assert res.returncode == 0, f"ledger {args}: {res.stdout}\n{res.stderr}"
    return res


def request(rid, cost_center, text="hello", model="nova-lite", max_tokens=100,
            env="prod"):
    return {"requestId": rid, "model": model,
            "prompt": {"messages": [{"role": "user", "content": text}],
                       "parameters": {"max_tokens": max_tokens}},
            "tags": {"applicationId": "app-" + cost_center,
                     "costCenter": cost_center, "environment": env}}


def produce(brokers, topic, items):
    """Produces (key, value-bytes-or-dict) pairs and waits for delivery."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True,
                  "linger.ms": 5})
    for key, value in items:
        if isinstance(value, dict):
            value = json.dumps(value).encode()
        p.produce(topic, key=key, value=value)
        p.poll(0)
    assert p.flush(60) == 0


def events(brokers, topic, count, timeout=120):
    """Consumes until `count` messages are there; returns parsed JSON values
    with their keys."""
    from conftest import consume_all

    msgs = consume_all(brokers, topic, timeout=timeout, min_count=count)
    return [(k, json.loads(v)) for k, v, _ in msgs]


class Sim:
    """A simulator of a test's own, with the knobs it needs."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [binary("tollgate-bedrock-sim"), "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert "listening on" in line, line + self.proc.stderr.read()
        self.url = line.split("listening on ")[1].split()[0]

    def stats(self):
        import urllib.request

        with urllib.request.urlopen(self.url + "/_sim/stats") as r:
            return json.loads(r.read())

    def config(self, **knobs):
        import urllib.request

        req = urllib.request.Request(self.url + "/_sim/config", method="POST",
                                     data=json.dumps(knobs).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        assert_clean(err, "simulator")
        return self.proc.returncode
