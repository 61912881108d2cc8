"""Rate limits hold requests instead of rejecting them; deferral parks
over-budget requests until `tollgate-ledger release`."""

import collections
import json
import re
import time
import urllib.request

from conftest import consume_all
from tgstack import free_port, Worker, events, ledger, produce, request, wait_assigned


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read()
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_rate_limit_holds_requests_until_the_next_minute(tmp_path, brokers,
                                                          topics, ledger_redis):
    ledger(ledger_redis, "budget", "set", "rpm", "--selector", "none",
           "--period", "day", "--limit-usd", "10", "--rpm", "30")
    # 5 s before a minute turns, so the held requests wait about 5 s
    env = {"TOLLGATE_FAKE_NOW": "2030-01-01T00:00:55Z"}
    port = free_port()
    w = Worker(tmp_path, topics["prefix"], ledger_redis, env=env,
               args=["--metrics-port", str(port)])
    try:
        wait_assigned([w], 4)
        produce(brokers, topics["requests"],
                [(f"rl-{i}", request(f"rl-{i}", "eng")) for i in range(50)])
        comps = dict(events(brokers, topics["completions"], 50, timeout=90))
        held = metric(port, "tollgate_rate_limited_total")
    finally:
        assert w.stop() == 0
    assert {c["status"] for c in comps.values()} == {"completed"}
    minutes = collections.Counter(c["completedAt"][:16] for c in comps.values())
    assert minutes == {"2030-01-01T00:00": 30, "2030-01-01T00:01": 20}, minutes
    assert held >= 20


def test_defer_parks_then_release_brings_back(tmp_path, brokers, topics,
                                              ledger_redis):
    ledger(ledger_redis, "budget", "set", "small", "--selector", "none",
           "--period", "day", "--limit-usd", "0.00006", "--on-exceed", "defer")
    w = Worker(tmp_path, topics["prefix"], ledger_redis)
    try:
        wait_assigned([w], 4)
        produce(brokers, topics["requests"],
                [(f"df-{i}", request(f"df-{i}", "eng")) for i in range(10)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            parked = consume_all(brokers, topics["deferred"], timeout=5)
            first = dict(events(brokers, topics["completions"], 0, timeout=5))
            if len(parked) + len(first) >= 10:
                break
            time.sleep(0.5)
        assert len(parked) + len(first) == 10, (len(parked), first.keys())
        # $0.00006 holds two reservations at a time; settled costs are lower
        assert 2 <= len(first) <= 5 and len(parked) >= 5
        for key, value, headers in parked:
            assert headers["tollgate-deferred-budget"] == b"small"
            assert re.fullmatch(rb"\d{4}-\d\d-\d\d",
                                headers["tollgate-deferred-period"])
            assert json.loads(value)["requestId"] == key
        # nothing published for a parked request
        assert not set(first) & {k for k, _, _ in parked}

        ledger(ledger_redis, "budget", "set", "small", "--limit-usd", "1")
        res = ledger(ledger_redis, "release", "--topic-prefix",
                     topics["prefix"], brokers=brokers)
        assert f"released {len(parked)} deferred" in res.stdout
        comps = events(brokers, topics["completions"], 10, timeout=60)
    finally:
        assert w.stop() == 0
    ids = collections.Counter(k for k, _ in comps)
    assert set(ids) == {f"df-{i}" for i in range(10)} and max(ids.values()) == 1
    assert {c["status"] for _, c in comps} == {"completed"}
