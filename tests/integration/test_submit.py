"""tollgate-submit against the real broker.

No worker runs here: where completions are needed, a fake worker thread
(FakeWorker) reads PREFIX.requests and publishes completion events to
PREFIX.completions keyed by requestId, as the worker would. What it answers
is chosen per request by a tag: want=rejected, want=failed, want=ignore (no
completion at all); anything else completes.
"""

import json
import re
import signal
import subprocess
import threading
import time
import uuid

import pytest

from conftest import consume_all, find_binary


@pytest.fixture(scope="module")
def submit_bin(build_dir):
    path = find_binary(build_dir, "tollgate-submit")
    assert path, f"tollgate-submit not built under {build_dir}"
    return str(path)


def request(i, want=None, request_id=None):
    tags = {"applicationId": "submit-test", "n": str(i)}
    if want:
        tags["want"] = want
    req = {
        "model": "nova-lite",
        "prompt": {
            "messages": [{"role": "user", "content": f"request {i}"}],
            "parameters": {"max_tokens": 16, "temperature": 0.9},
        },
        "tags": tags,
    }
    if request_id:
        req = {"requestId": request_id, **req}
    return json.dumps(req)


BAD_ROLE = json.dumps({
    "model": "nova-lite",
    "prompt": {"messages": [{"role": "robot", "content": "x"}]},
    "tags": {"applicationId": "submit-test"},
})


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def run(submit_bin, brokers, prefix, *args, stdin=None, timeout=120):
    cmd = [submit_bin, "--brokers", brokers, "--topic-prefix", prefix, *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def ids_file(path):
    return path.with_name(path.name + ".tollgate-ids").read_text().split("\n")[:-1]


class FakeWorker:
    """Answers every request on PREFIX.requests with a completion event."""

    def __init__(self, brokers, prefix, duplicate=False):
        from confluent_kafka import Consumer, Producer

        self.prefix = prefix
        self.duplicate = duplicate
        self.answered = 0
        self.stop = threading.Event()
        self.consumer = Consumer({
            "bootstrap.servers": brokers,
            "group.id": f"fake-worker-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        })
        self.producer = Producer({"bootstrap.servers": brokers,
                                  "enable.idempotence": True})
        self.consumer.subscribe([f"{prefix}.requests"])
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        # Noise: completions of requests this test never submitted.
        for _ in range(5):
            rid = str(uuid.uuid4())
            self._publish(rid, {"requestId": rid, "status": "completed"})
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        self.producer.flush(10)
        self.consumer.close()

    def _publish(self, rid, event):
        self.producer.produce(f"{self.prefix}.completions", key=rid,
                              value=json.dumps(event))

    def _answer(self, msg):
        req = json.loads(msg.value())
        rid = req["requestId"]
        assert msg.key().decode() == rid
        want = req["tags"].get("want", "completed")
        if want == "ignore":
            return
        event = {"requestId": rid, "status": want, "model": req["model"],
                 "tags": req["tags"], "attempts": 1}
        if want == "completed":
            event["output"] = {"text": "ok", "stopReason": "end_turn"}
        else:
            event["reason"] = f"fake {want}"
        if self.duplicate:
            self._publish(rid, event)  # a worker re-publication
        self._publish(rid, event)
        self.answered += 1

    def _run(self):
        while not self.stop.is_set():
            msg = self.consumer.poll(0.1)
            if msg is None or msg.error():
                self.producer.poll(0)
                continue
            self._answer(msg)
            self.producer.poll(0)


def test_submit_file_with_a_bad_line(submit_bin, brokers, topics, tmp_path):
    n, bad = 50, 17
    lines = [request(i) for i in range(1, n + 1)]
    lines[bad - 1] = BAD_ROLE
    lines[9] = request(10, request_id="explicit-10")
    path = write_lines(tmp_path / "in.jsonl", lines)

    res = run(submit_bin, brokers, topics["prefix"], str(path))

    assert res.returncode == 1, res.stderr
    assert (f"line {bad}: prompt.messages[0].role: must be one of system, "
            "user, assistant") in res.stderr
    assert "submitted 49, rejected 1 (invalid), undelivered 0" in res.stderr
    msgs = consume_all(brokers, topics["requests"], min_count=n - 1)
    assert len(msgs) == n - 1
    by_id = {}
    for key, value, _ in msgs:
        req = json.loads(value)
        assert key == req["requestId"]
        assert req["timestamp"].endswith("Z")
        by_id[key] = req
    assert len(by_id) == n - 1
    assert by_id["explicit-10"]["tags"]["n"] == "10"
    # The sidecar: one id per input line, empty for the rejected one.
    recorded = ids_file(path)
    assert len(recorded) == n and recorded[bad - 1] == ""
    for i, rid in enumerate(recorded, 1):
        if i != bad:
            assert by_id[rid]["tags"]["n"] == str(i)
            # Apart from the filled fields, the request is the input line.
            sent = dict(by_id[rid])
            del sent["timestamp"]
            if rid != "explicit-10":
                del sent["requestId"]
            assert sent == json.loads(lines[i - 1])


def test_overlong_line_and_stdin(submit_bin, brokers, topics):
    big = request(2).replace("request 2", "x" * (1024 * 1024 + 10))
    stdin = "\n".join([request(1), big, "", request(3)]) + "\n"

    res = run(submit_bin, brokers, topics["prefix"], "-", stdin=stdin)

    size = len(big.encode())
    assert res.returncode == 1
    assert (f"line 2: request is {size} bytes, over the 1048576-byte limit"
            in res.stderr)
    assert "submitted 2, rejected 1 (invalid)" in res.stderr
    assert len(consume_all(brokers, topics["requests"], min_count=2)) == 2


def read_output(path):
    return path.read_text().split("\n")[:-1]


def test_wait_all_completed(submit_bin, brokers, topics, tmp_path):
    lines = [request(1), request(2, request_id="mine-2"), "", request(4)]
    path = write_lines(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"

    with FakeWorker(brokers, topics["prefix"], duplicate=True):
        res = run(submit_bin, brokers, topics["prefix"], "--wait", "--out",
                  str(out), "--timeout", "60", str(path))

    assert res.returncode == 0, res.stderr
    assert "completed 3, rejected 0, failed 0, invalid 0, missing 0" in res.stderr
    got = read_output(out)
    recorded = ids_file(path)
    assert len(got) == len(lines) and got[2] == "" and recorded[2] == ""
    for i in (0, 1, 3):
        event = json.loads(got[i])
        assert event["requestId"] == recorded[i]
        assert event["tags"]["n"] == str(i + 1)
        assert event["status"] == "completed"
    assert recorded[1] == "mine-2"


def test_wait_some_not_completed(submit_bin, brokers, topics, tmp_path):
    lines = [request(1), BAD_ROLE, request(3, want="rejected"),
             request(4, want="failed"), request(5)]
    path = write_lines(tmp_path / "in.jsonl", lines)

    with FakeWorker(brokers, topics["prefix"]):
        res = run(submit_bin, brokers, topics["prefix"], "--wait",
                  "--timeout", "60", str(path))

    assert res.returncode == 3, res.stderr
    got = [json.loads(line) for line in res.stdout.split("\n")[:-1]]
    assert len(got) == 5
    assert got[1] == {"line": 2, "status": "invalid", "reason":
                      "prompt.messages[0].role: must be one of system, "
                      "user, assistant"}
    assert [g["status"] for g in got] == ["completed", "invalid", "rejected",
                                          "failed", "completed"]
    assert "completed 2, rejected 1, failed 1, invalid 1, missing 0" in res.stderr


def test_wait_missing_at_timeout(submit_bin, brokers, topics, tmp_path):
    lines = [request(1), request(2, want="ignore"), request(3)]
    path = write_lines(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"

    with FakeWorker(brokers, topics["prefix"]):
        res = run(submit_bin, brokers, topics["prefix"], "--wait", "--out",
                  str(out), "--timeout", "4", str(path))

    assert res.returncode == 4, res.stderr
    got = [json.loads(line) for line in read_output(out)]
    assert got[0]["status"] == "completed" and got[2]["status"] == "completed"
    assert got[1] == {"line": 2, "requestId": ids_file(path)[1],
                      "status": "missing",
                      "reason": "no completion within 4 s"}
    assert res.stdout == ""


def interrupt_after_first_progress(cmd):
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    err = []
    for line in proc.stderr:
        err.append(line)
        if line.startswith("progress:"):
            proc.send_signal(signal.SIGINT)
            break
    err.append(proc.stderr.read())
    return proc.wait(60), "".join(err)


def test_sigint_then_resume(submit_bin, brokers, topics, tmp_path):
    n = 20000
    path = write_lines(tmp_path / "big.jsonl",
                       [request(i) for i in range(1, n + 1)])
    cmd = [submit_bin, "--brokers", brokers, "--topic-prefix",
           topics["prefix"], "--max-rate", "5000", "--progress-interval",
           "0.3", str(path)]

    rc, err = interrupt_after_first_progress(cmd)

    assert rc == 130, err
    m = re.search(r"interrupted: last submitted line (\d+); (\d+) lines not "
                  r"submitted", err)
    assert m, err
    last, rest = int(m.group(1)), int(m.group(2))
    submitted = int(re.search(r"submitted (\d+), rejected 0", err).group(1))
    assert 0 < last < n and last + rest == n and submitted == last
    sent = consume_all(brokers, topics["requests"], min_count=submitted)
    assert len(sent) == submitted
    recorded = ids_file(path)
    assert len(recorded) == last
    assert {k for k, _, _ in sent} == set(recorded)

    # Re-run with --wait: what was submitted before has a completion now,
    # so only the rest goes out, under the ids recorded for it.
    with FakeWorker(brokers, topics["prefix"]) as fake:
        deadline = time.monotonic() + 60
        while fake.answered < submitted and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fake.answered == submitted
        fake.producer.flush(10)
        out = tmp_path / "out.jsonl"
        res = run(submit_bin, brokers, topics["prefix"], "--wait", "--out",
                  str(out), "--timeout", "120", str(path), timeout=300)

    assert res.returncode == 0, res.stderr
    assert (f"submitted {n - submitted}, rejected 0 (invalid), undelivered 0, "
            f"skipped {submitted} (already completed)") in res.stderr
    assert len(consume_all(brokers, topics["requests"], min_count=n)) == n
    recorded = ids_file(path)
    got = read_output(out)
    assert len(recorded) == n and len(got) == n
    for i in (0, last - 1, last, n - 1):
        event = json.loads(got[i])
        assert event["requestId"] == recorded[i]
        assert event["tags"]["n"] == str(i + 1)


def test_errors_and_help(submit_bin, brokers, topics, tmp_path):
    res = run(submit_bin, brokers, topics["prefix"], "--help")
    assert res.returncode == 0
    for word in ("--wait", "--timeout", "tollgate-ids", "Exit status",
                 "--brokers", "130"):
        assert word in res.stdout
    assert run(submit_bin, brokers, topics["prefix"], "--bogus").returncode == 2
    assert run(submit_bin, brokers, topics["prefix"], "--timeout",
               "soon").returncode == 2
    res = run(submit_bin, brokers, topics["prefix"], "--topic", "no.such.topic",
              stdin=request(1) + "\n")
    assert res.returncode == 1 and "does not exist" in res.stderr
    res = run(submit_bin, brokers, topics["prefix"],
              str(tmp_path / "missing.jsonl"))
    assert res.returncode == 1 and "missing.jsonl" in res.stderr
