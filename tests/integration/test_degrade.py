"""A budget that degrades instead of rejecting (docs/operations.md, "Service
tiers, prompt caching and request metadata"), on the real stack: requests
go at the default tier until the budget's spend reaches 80 % of its limit,
then at flex (reserved and priced at flex), and only when even flex does
not fit are they rejected; nothing passes the limit, the ledger equals the
usage events and `tollgate-ledger reconcile` passes. Requests go one at a
time, so the spend each one was admitted against is known exactly."""

import json
import math
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from tgstack import Worker, ledger, produce, request, wait_assigned

# nova-pro in worker/catalog.json, nano-USD per 1M tokens
PRICES = {"default": (800_000_000, 3_200_000_000),
          "flex": (400_000_000, 1_600_000_000)}


def cost(tier, u):
    pin, pout = PRICES[tier]
    return (math.ceil(u["inputTokens"] * pin / 10**6) +
            math.ceil(u["outputTokens"] * pout / 10**6))


class Reader:
    """Reads the usage topic as events arrive (one consumer, kept)."""

    def __init__(self, brokers, topic):
        self.c = Consumer({"bootstrap.servers": brokers,
                           "group.id": f"tgtest-{uuid.uuid4().hex}",
                           "enable.auto.commit": False,
                           "isolation.level": "read_committed"})
        parts = self.c.list_topics(topic, timeout=30).topics[topic].partitions
        self.c.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                       for p in parts])
        self.seen = {}

    def wait(self, rid, timeout=60):
        deadline = time.monotonic() + timeout
        while rid not in self.seen and time.monotonic() < deadline:
            m = self.c.poll(0.1)
            if m is not None and not m.error():
                v = json.loads(m.value())
                self.seen[v["requestId"]] = v
        assert rid in self.seen, f"no usage event for {rid}"
        return self.seen[rid]


def usd(nano):
    return f"{nano // 10**9}.{nano % 10**9:09d}"


def test_budget_degrades_to_flex_then_rejects(tmp_path, brokers, topics,
                                              ledger_redis):
    ledger(ledger_redis, "budget", "set", "deg", "--selector",
           "costCenter=deg", "--period", "day", "--limit-usd", "1",
           "--degrade-at", "80", "--degrade-tier", "flex")
    w = Worker(tmp_path, topics["prefix"], ledger_redis)
    reader = Reader(brokers, topics["usage"])
    runs = []
    try:
        wait_assigned([w], 4)
        # Bad input first: nothing reserved, nothing charged, no call.
        bad_tier = request("bad-tier", "deg", model="nova-lite")
        bad_tier["prompt"]["parameters"]["service_tier"] = "priority"
        bad_cache = request("bad-cache", "deg", model="llama3-8b")
        bad_cache["prompt"]["messages"][0]["cachePoint"] = {}
        produce(brokers, topics["requests"],
                [("bad-tier", bad_tier), ("bad-cache", bad_cache)])
        for rid, field in (("bad-tier", "prompt.parameters.service_tier"),
                           ("bad-cache", "prompt.messages[0].cachePoint")):
            u = reader.wait(rid)
            assert u["decision"] == "invalid", u
            assert u["reason"].startswith(f"invalid: {field}: "), u
            assert u["costNanoUsd"] == 0 and u["reservedNanoUsd"] == 0
        # The first request prices the limit: 10 of it, so the mark (80 %)
        # comes after 8 at the default tier and flex fits a few more.
        def send(i):
            rid = f"d-{i}"
            produce(brokers, topics["requests"], [(rid, request(
                rid, "deg", model="nova-pro", max_tokens=40))])
            return reader.wait(rid)
        first = send(0)
        assert first["decision"] == "approved", first
        limit = 10 * first["costNanoUsd"]
        ledger(ledger_redis, "budget", "set", "deg", "--limit-usd",
               usd(limit))
        spent = first["costNanoUsd"]
        runs.append((0, first))
        for i in range(1, 40):
            u = send(i)
            runs.append((spent, u))
            if u["decision"] == "approved":
                spent += u["costNanoUsd"]
            elif sum(r["decision"] == "rejected_budget" for _, r in runs) >= 2:
                break
    finally:
        assert w.stop() == 0
    tiers = {"default": 0, "flex": 0, "rejected": 0}
    for before, u in runs:
        if u["decision"] == "rejected_budget":
            # only once flex too no longer fits
            assert before * 100 >= 80 * limit, (before, u)
            assert u["reason"] == "budget_exceeded:deg", u
            assert u["costNanoUsd"] == 0
            tiers["rejected"] += 1
            continue
        assert u["decision"] == "approved", u
        if before * 100 >= 80 * limit:
            assert u["serviceTier"] == "flex", (before, u)
            assert u["degraded"] == {"budgetId": "deg", "fromTier": "default",
                                     "toTier": "flex"}, u
        else:
            assert u["serviceTier"] == "default", (before, u)
            assert "degraded" not in u, u
        assert u["costNanoUsd"] == cost(u["serviceTier"], u), u
        assert u["costNanoUsd"] <= u["reservedNanoUsd"], u
        tiers[u["serviceTier"]] += 1
    assert tiers["default"] >= 5 and tiers["flex"] >= 2, tiers
    assert tiers["rejected"] >= 1, tiers
    # none passed the limit; the ledger equals the usage events
    assert spent <= limit
    st = {b["id"]: b for b in json.loads(
        ledger(ledger_redis, "status", "--json").stdout)}
    assert st["deg"]["spentNanoUsd"] == spent
    assert st["deg"]["reservedNanoUsd"] == 0
    assert st["deg"]["degrade"] == {"atPercent": 80, "tier": "flex",
                                    "active": True}, st["deg"]
    res = ledger(ledger_redis, "reconcile", brokers=brokers,
                 usage_topic=topics["usage"], check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_degrade_options_stored_and_refused(ledger_redis):
    import redis
    r = redis.Redis.from_url(ledger_redis, decode_responses=True)
    ledger(ledger_redis, "budget", "set", "d1", "--selector", "none",
           "--period", "month", "--limit-usd", "5", "--degrade-at", "80")
    d = json.loads(r.hget("tg:{tg}:budgets", "d1"))
    assert (d["degradeAt"], d["degradeTier"]) == (80, "flex")

    def status():
        st = {b["id"]: b for b in json.loads(
            ledger(ledger_redis, "status", "--json").stdout)}
        lines = ledger(ledger_redis, "status").stdout.splitlines()
        head = lines[0].split()
        row = next(ln.split() for ln in lines[1:] if ln.split()[0] == "d1")
        return st["d1"]["degrade"], row[head.index("DEGRADE")]
    assert status() == ({"atPercent": 80, "tier": "flex", "active": False},
                        "80%:flex")
    for args, words in (
            (["--degrade-at", "101"], "not a percentage 1-100"),
            (["--degrade-tier", "turbo"], "not flex, default or priority"),
            (["--limit-usd", "none", "--limit-tokens", "100"],
             "it needs a USD limit")):
        res = ledger(ledger_redis, "budget", "set", "d1", *args, check=False)
        assert res.returncode != 0 and words in res.stderr, res.stderr
    ledger(ledger_redis, "budget", "set", "d1", "--degrade-at", "none")
    d = json.loads(r.hget("tg:{tg}:budgets", "d1"))
    assert "degradeAt" not in d and "degradeTier" not in d
    assert status() == (None, "-")


def test_admit_script_degrades_atomically(ledger_redis):
    """admit.lua itself, called as the worker calls it with the degrade
    arguments: below the mark the request keeps its tier and bound; at it
    the flex bound is reserved; when even that does not fit, rejected; a
    resume gets the tier back."""
    import pathlib

    import redis
    r = redis.Redis.from_url(ledger_redis, decode_responses=True)
    lua = (pathlib.Path(__file__).resolve().parents[2] /
           "ledger/lua/admit.lua").read_text()
    sha = r.script_load(lua)
    P, b = "tg:{tg}:", "tg:{tg}:b:deg:2026-12-02"
    r.set(P + "budgets:version", "1")

    def admit(rid, res=1000, dres=400, worker="w1", now=1000):
        keys = [P + "budgets:version", P + "req:" + rid, P + "leases", b,
                P + "rate:deg:0"]
        args = ["1", worker, str(now), "60000", str(res), "10", "3600", rid,
                "deg", "10000", "-1", "0", "0",
                "default", "80", "flex", str(dres)]
        return r.evalsha(sha, len(keys), *keys, *args)

    assert admit("a") == ["ok", "0", "default", "", "1000"]
    assert r.hget(b, "reserved") == "1000"
    r.hset(b, mapping={"spent": "7999", "reserved": "0"})
    assert admit("b")[2:] == ["default", "", "1000"]  # 79.99 %: not yet
    r.hset(b, mapping={"spent": "8000", "reserved": "0"})
    assert admit("c") == ["ok", "8000", "flex", "deg", "400"]
    assert r.hget(b, "reserved") == "400"
    assert r.hmget(P + "req:c", "tier", "degradedBy", "resNano") == [
        "flex", "deg", "400"]
    # a dead worker's reservation resumes at its tier
    assert admit("c", worker="w2", now=10**9) == [
        "resume", b, "400", "10", "flex", "deg"]
    # a flex bound that is not cheaper, or not offered, does not move it
    r.hset(b, "reserved", "0")
    assert admit("d", dres=1000)[2:] == ["default", "", "1000"]
    r.hset(b, "reserved", "0")
    assert admit("e", dres=-1)[2:] == ["default", "", "1000"]
    # even flex no longer fits: rejected, nothing reserved
    r.hset(b, mapping={"spent": "9700", "reserved": "0"})
    assert admit("f")[:2] == ["rejected", "deg"]
    assert r.hget(b, "reserved") == "0"
    assert not r.exists(P + "req:f")
