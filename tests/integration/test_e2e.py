"""The whole path on the real broker, real Redis and the simulator: two
workers, 500 requests over three cost centers, budgets that run out part
way (one in USD, one in tokens)."""

import collections
import json

from tgstack import Worker, events, ledger, produce, request, wait_assigned

N = 500
CENTERS = ("eng", "sales", "ops")
# selector, period, limit flags
BUDGETS = {
    "global": ({}, ["--limit-usd", "1"]),
    "eng": ({"costCenter": "eng"}, ["--limit-usd", "0.001"]),
    "sales": ({"costCenter": "sales"}, ["--limit-usd", "0.01"]),
    "ops-tokens": ({"costCenter": "ops", "environment": "prod"},
                   ["--limit-tokens", "5000"]),
}


def set_budgets(url):
    for bid, (sel, limits) in BUDGETS.items():
        selector = ",".join(f"{k}={v}" for k, v in sel.items()) or "none"
        ledger(url, "budget", "set", bid, "--selector", selector,
               "--period", "month", *limits)


def matches(selector, tags):
    return all(tags.get(k) == v for k, v in selector.items())


def run_batch(tmp_path, brokers, topics, url, n=N, workers=2):
    ws = [Worker(tmp_path, topics["prefix"], url, name=f"w{i}")
          for i in range(workers)]
    try:
        wait_assigned(ws, 4)
        reqs = [request(f"e2e-{i:04d}", CENTERS[i % 3], text=f"question {i}")
                for i in range(n)]
        produce(brokers, topics["requests"], [(r["requestId"], r) for r in reqs])
        comps = events(brokers, topics["completions"], n)
        usage = events(brokers, topics["usage"], n)
    finally:
        rcs = [w.stop() for w in ws]
    assert rcs == [0] * workers, [w.text()[-2000:] for w in ws]
    return reqs, comps, usage


def test_two_workers_500_requests(tmp_path, brokers, topics, ledger_redis,
                                  redis_client):
    set_budgets(ledger_redis)
    reqs, comps, usage = run_batch(tmp_path, brokers, topics, ledger_redis)

    ids = {r["requestId"] for r in reqs}
    comp_ids = collections.Counter(k for k, _ in comps)
    usage_ids = collections.Counter(k for k, _ in usage)
    assert set(comp_ids) == ids and max(comp_ids.values()) == 1
    assert set(usage_ids) == ids and max(usage_ids.values()) == 1
    by_id = {k: v for k, v in comps}
    for k, u in usage:
        assert u["requestId"] == k == by_id[k]["requestId"]

    status = collections.defaultdict(collections.Counter)
    for k, c in comps:
        status[c["tags"]["costCenter"]][c["status"]] += 1
        if c["status"] == "rejected":
            bid = c["reason"].split(":", 1)[1]
            assert c["reason"].startswith("budget_exceeded:")
            assert matches(BUDGETS[bid][0], c["tags"]), c
        else:
            assert c["status"] == "completed", c
            assert c["costNanoUsd"] > 0 and c["output"]["text"]
    n_sales = sum(1 for r in reqs if r["tags"]["costCenter"] == "sales")
    assert status["sales"] == {"completed": n_sales}
    for center in ("eng", "ops"):  # ran out part way
        assert status[center]["completed"] > 10, status
        assert status[center]["rejected"] > 10, status

    # Redis equals the sum of approved usage events, to the nano-dollar,
    # computed independently from the tags; nothing passed its limit.
    import redis
    r = redis.Redis.from_url(ledger_redis, decode_responses=True)
    status_json = json.loads(ledger(ledger_redis, "status", "--json").stdout)
    by_budget = {b["id"]: b for b in status_json}
    for bid, (sel, _) in BUDGETS.items():
        approved = [u for _, u in usage
                    if u["decision"] == "approved" and matches(sel, u["tags"])]
        cost = sum(u["costNanoUsd"] for u in approved)
        tokens = sum(u["inputTokens"] + u["outputTokens"] for u in approved)
        b = by_budget[bid]
        assert b["spentNanoUsd"] == cost, (bid, b, cost)
        assert b["reservedNanoUsd"] == 0, b
        if b.get("limitNanoUsd") is not None:
            assert cost <= b["limitNanoUsd"], b
        if b.get("limitTokens") is not None:
            assert b["spentTokens"] == tokens and tokens <= b["limitTokens"]
        # the events say the same about themselves
        for u in approved:
            assert bid in [x["id"] for x in u["budgets"]]
    assert r.zcard("tg:{tg}:leases") == 0
    res = ledger(ledger_redis, "reconcile", brokers=brokers,
                 usage_topic=topics["usage"], check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_bad_input_is_answered_and_nothing_blocks(tmp_path, brokers, topics,
                                                  ledger_redis):
    ledger(ledger_redis, "budget", "set", "all", "--selector", "none",
           "--period", "day", "--limit-usd", "5")
    big = request("big", "eng", text="x" * 100_000)
    no_msgs = request("nomsg", "eng")
    no_msgs["prompt"]["messages"] = []
    unknown = request("unknown", "eng", model="gpt-4o")
    bad_tag = request("badtag", "eng")
    bad_tag["tags"]["team"] = "a{b}c"
    items = [("junk", b"\x00not json at all"),
             ("nomsg", no_msgs), ("unknown", unknown), ("big", big),
             ("badtag", bad_tag), ("good", request("good", "eng"))]
    w = Worker(tmp_path, topics["prefix"], ledger_redis,
               args=["--max-request-bytes", "65536"])
    try:
        wait_assigned([w], 4)
        produce(brokers, topics["requests"], items)
        comps = dict(events(brokers, topics["completions"], 5))
        from conftest import consume_all
        dlq = consume_all(brokers, topics["dlq"], min_count=1, timeout=30)
    finally:
        assert w.stop() == 0
    assert set(comps) == {"nomsg", "unknown", "big", "badtag", "good"}
    reasons = {k: c.get("reason", "") for k, c in comps.items()}
    assert comps["good"]["status"] == "completed"
    for k in ("nomsg", "unknown", "big", "badtag"):
        assert comps[k]["status"] == "invalid", comps[k]
    assert "prompt.messages: required, a non-empty array" in reasons["nomsg"]
    assert 'unknown model "gpt-4o"' in reasons["unknown"]
    assert "over the 65536-byte limit" in reasons["big"]
    assert "tags.team: value has a character outside" in reasons["badtag"]
    assert len(dlq) == 1
    key, value, headers = dlq[0]
    assert key == "junk" and value == b"\x00not json at all"
    assert b"not a JSON object" in headers["tollgate-dlq-reason"]
