"""A pipeline's view, on the real stack with real workers: submit 1,000
lines with --wait and read the results file; interrupt a submission with
SIGINT, re-run it, and nothing is submitted twice."""

import collections
import json
import signal
import subprocess
import time

from conftest import consume_all
from tgstack import Worker, binary, events, ledger, wait_assigned


def lines(n, prefix_text):
    out = []
    for i in range(n):
        cc = ("eng", "sales")[i % 2]
        out.append(json.dumps({
            "model": "nova-lite",
            "prompt": {"messages": [{"role": "user",
                                     "content": f"{prefix_text} {i}"}],
                       "parameters": {"max_tokens": 100}},
            "tags": {"applicationId": "batch", "costCenter": cc}}))
    return "\n".join(out) + "\n"


def submit(brokers, prefix, path, *args):
    return subprocess.Popen(
        [binary("tollgate-submit"), "--brokers", brokers, "--topic-prefix",
         prefix, *args, str(path)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def test_submit_wait_1000_lines_in_order(tmp_path, brokers, topics,
                                         ledger_redis):
    ledger(ledger_redis, "budget", "set", "eng", "--selector",
           "costCenter=eng", "--period", "day", "--limit-usd", "0.002")
    src = tmp_path / "batch.jsonl"
    src.write_text(lines(1000, "question"))
    out = tmp_path / "results.jsonl"
    ws = [Worker(tmp_path, topics["prefix"], ledger_redis, name=f"w{i}")
          for i in range(2)]
    try:
        wait_assigned(ws, 4)
        p = submit(brokers, topics["prefix"], src, "--wait", "--out",
                   str(out), "--timeout", "120")
        _, err = p.communicate(timeout=180)
    finally:
        assert [w.stop() for w in ws] == [0, 0]
    assert p.returncode == 3, err  # some rejected, none missing
    results = out.read_text().splitlines()
    ids = (tmp_path / "batch.jsonl.tollgate-ids").read_text().split()
    assert len(results) == 1000 and len(ids) == 1000
    status = collections.Counter()
    for i, line in enumerate(results):
        c = json.loads(line)
        assert c["requestId"] == ids[i]
        assert c["tags"]["costCenter"] == ("eng", "sales")[i % 2]
        status[(c["tags"]["costCenter"], c["status"])] += 1
        if c["status"] == "rejected":
            assert c["reason"] == "budget_exceeded:eng"
    assert status[("sales", "completed")] == 500
    assert status[("eng", "completed")] > 0 and status[("eng", "rejected")] > 0
    spent = sum(json.loads(l)["costNanoUsd"] for l in results
                if json.loads(l)["status"] == "completed"
                and json.loads(l)["tags"]["costCenter"] == "eng")
    st = json.loads(ledger(ledger_redis, "status", "--json").stdout)
    assert st[0]["spentNanoUsd"] == spent <= st[0]["limitNanoUsd"]


def test_sigint_then_rerun_submits_nothing_twice(tmp_path, brokers, topics,
                                                 ledger_redis):
    src = tmp_path / "big.jsonl"
    src.write_text(lines(1000, "resume"))
    w = Worker(tmp_path, topics["prefix"], ledger_redis)
    try:
        wait_assigned([w], 4)
        p = submit(brokers, topics["prefix"], src, "--max-rate", "400",
                   "--progress-interval", "0.2")
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 130, err
        first = len(consume_all(brokers, topics["requests"], timeout=10))
        assert 0 < first < 1000, first
        events(brokers, topics["completions"], first, timeout=60)
        p = submit(brokers, topics["prefix"], src, "--wait", "--out",
                   str(tmp_path / "out.jsonl"), "--timeout", "120")
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    finally:
        assert w.stop() == 0
    reqs = consume_all(brokers, topics["requests"], timeout=10)
    keys = collections.Counter(k for k, _, _ in reqs)
    assert len(reqs) == 1000 and len(keys) == 1000  # nothing twice
    assert f"{first}" in err or "skipped" in err
    out = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(out) == 1000
    assert {json.loads(l)["status"] for l in out} == {"completed"}
