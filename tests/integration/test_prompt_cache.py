"""Prompt caching and request metadata through the worker on the real stack
(docs/operations.md, "Service tiers, prompt caching and request metadata"):
a system prompt marked as a 1-hour cache point is written on the first
request and read on the second, each priced from its usage (1-hour writes
at the 1-hour rate) to the nano-dollar; a request with 32 tags still
calls Bedrock (requestMetadata keeps 16 entries, never an error)."""

import json
from decimal import Decimal
from pathlib import Path

from tgstack import Worker, events, ledger, produce, request, wait_assigned

CATALOG = Path(__file__).resolve().parents[2] / "worker/catalog.json"


def prices(alias, target):
    m = next(m for m in json.loads(CATALOG.read_text())["models"]
             if m["alias"] == alias)
    p = m["global"]["price"] if target.startswith("global.") else m["price"]
    return {k: int(Decimal(v) * 1000) for k, v in p.items()}  # per token


def test_cache_write_then_read_priced_and_metadata_cap(
        tmp_path, brokers, topics, ledger_redis):
    ledger(ledger_redis, "budget", "set", "all", "--selector", "none",
           "--period", "day", "--limit-usd", "5")
    # unique per run: the simulator's cache outlives a test
    system = f"You answer release questions ({topics['prefix']}). " * 40
    reqs = []
    for i in range(2):
        r = request(f"c-{i}", "eng", model="claude-sonnet-4.5", max_tokens=40)
        r["prompt"]["messages"].insert(0, {"role": "system",
                                           "content": system,
                                           "cachePoint": {"ttl": "1h"}})
        reqs.append(r)
    many = request("tags-32", "eng", model="nova-lite")
    many["tags"].update({f"t{i}": "v" for i in range(29)})
    assert len(many["tags"]) == 32
    w = Worker(tmp_path, topics["prefix"], ledger_redis)
    try:
        wait_assigned([w], 4)
        produce(brokers, topics["requests"], [("c-0", reqs[0])])
        events(brokers, topics["usage"], 1)
        produce(brokers, topics["requests"],
                [("c-1", reqs[1]), ("tags-32", many)])
        usage = dict(events(brokers, topics["usage"], 3))
    finally:
        assert w.stop() == 0
    first, second = usage["c-0"], usage["c-1"]
    assert usage["tags-32"]["decision"] == "approved", usage["tags-32"]
    assert first["decision"] == second["decision"] == "approved"
    assert first["cacheWriteInputTokens"] > 0
    assert first["cacheWrite1hInputTokens"] == first["cacheWriteInputTokens"]
    assert first["cacheReadInputTokens"] == 0
    assert second["cacheReadInputTokens"] == first["cacheWriteInputTokens"]
    assert second["cacheWriteInputTokens"] == 0
    assert "cacheWrite1hInputTokens" not in second
    for u in (first, second):
        p = prices("claude-sonnet-4.5", u["target"])
        w1h = u.get("cacheWrite1hInputTokens", 0)
        want = (u["inputTokens"] * p["input"] +
                u["outputTokens"] * p["output"] +
                u["cacheReadInputTokens"] * p["cacheRead"] +
                (u["cacheWriteInputTokens"] - w1h) * p["cacheWrite"] +
                w1h * p["cacheWrite1h"])
        assert u["costNanoUsd"] == want, (u, want)
        assert u["costNanoUsd"] <= u["reservedNanoUsd"]
    st = {b["id"]: b for b in json.loads(
        ledger(ledger_redis, "status", "--json").stdout)}
    assert st["all"]["spentNanoUsd"] == sum(
        u["costNanoUsd"] for u in usage.values())
