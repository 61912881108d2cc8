"""Leases of live reservations. A Bedrock call may outlast --lease-ms (slow
generations, retries); the worker renews its leases every tick, so another
worker's reaper never releases the reservation of a request that is still
running, and the request is charged against what it reserved."""

import json
import time

import redis

from conftest import create_topics, unique_prefix
from tgstack import Sim, Worker, events, ledger, produce, request, wait_assigned

LEASE_MS = 3000
CALL_MS = 9000  # three leases


def test_call_longer_than_the_lease_keeps_its_reservation(
        tmp_path, brokers, topics, ledger_redis):
    ledger(ledger_redis, "budget", "set", "all", "--selector", "none",
           "--period", "day", "--limit-usd", "10")
    sim = Sim("--latency-ms", str(CALL_MS))
    args = ["--bedrock-endpoint", sim.url, "--lease-ms", str(LEASE_MS),
            "--request-timeout-ms", str(CALL_MS * 3)]
    r = redis.Redis.from_url(ledger_redis, decode_responses=True)
    # the reaper of another worker (idle, on topics of its own) watches
    # the same ledger the whole time
    idle = unique_prefix("lease-idle")
    create_topics(brokers, idle)
    reaper = Worker(tmp_path, idle, ledger_redis, name="reaper", args=args)
    w = Worker(tmp_path, topics["prefix"], ledger_redis, name="slow",
               args=args)
    try:
        wait_assigned([w], 4)
        produce(brokers, topics["requests"],
                [("long-1", request("long-1", "eng"))])
        deadline = time.monotonic() + 30
        while not r.zcard("tg:{tg}:leases") and time.monotonic() < deadline:
            time.sleep(0.05)
        first = r.zrange("tg:{tg}:leases", 0, -1, withscores=True)
        assert first, "the request never reserved"
        # well past the first deadline, the lease has moved on
        time.sleep(LEASE_MS * 2 / 1000)
        later = r.zrange("tg:{tg}:leases", 0, -1, withscores=True)
        assert later and later[0][1] > first[0][1] + LEASE_MS / 2, (first,
                                                                   later)
        usage = dict(events(brokers, topics["usage"], 1, timeout=60))
    finally:
        rc = w.stop()
        rc_reaper = reaper.stop()
        sim.stop()
    assert rc == 0 and rc_reaper == 0
    u = usage["long-1"]
    assert u["decision"] == "approved", u
    assert u["bedrockLatencyMs"] >= CALL_MS - 100, u
    for who in (w, reaper):
        assert "released the reservation" not in who.text(), who.text()[-2000:]
        assert "resuming" not in who.text()
    status = {b["id"]: b for b in json.loads(
        ledger(ledger_redis, "status", "--json").stdout)}
    assert status["all"]["spentNanoUsd"] == u["costNanoUsd"]
    assert status["all"]["reservedNanoUsd"] == 0
    assert r.zcard("tg:{tg}:leases") == 0
