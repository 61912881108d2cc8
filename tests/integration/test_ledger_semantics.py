"""The ledger's promises under load, redelivery, crashes, calendar periods and
a lost Redis, on the real broker, real Redis and the Bedrock simulator.

- concurrency: 4 workers race 2,000 requests against overlapping budgets
  that run out part way; no budget passes its limit, Redis equals the usage
  topic to the nano-dollar (summed from the tags, and chained through the
  events' own `budgets[].spentNanoUsd`), every threshold alert exactly once.
- redelivery: a second consumer group re-reads the whole requests topic (the
  effect of an offset reset); nothing is charged or called again and every
  event is re-published byte for byte, from packed records (ledger/stored.h)
  and from records written before packing alike.
- crash: `kill -9` with calls in flight; a new worker (other id: after the
  lease, by the reaper or by resuming; same id: at once; and other id with
  --transactions 0) finishes the dead worker's requests; one distinct usage
  event per request (byte-identical re-publications counted), no
  reservation left.
- periods: with TOLLGATE_FAKE_NOW just before midnight of 2028-02-29, a day
  budget runs out, then midnight (and a new month) starts afresh.
- rebuild: FLUSHDB, set the budgets again, `tollgate-ledger rebuild`, and the
  spend is back to the nano-dollar. Budget definitions are NOT in the usage
  topic (events carry budget ids and periods, not selectors or limits), so
  they must be set again (from the operator's own source, e.g. the script
  that created them) before the workers run; rebuild restores spent,
  spentTokens and approved of every budget period the topic mentions. It
  does not restore the idempotency records (tg:{tg}:req:*), so a request
  redelivered after a rebuild would be charged again: stop the workers and
  let them commit before flushing.

Every test runs on a Redis DB of its own (`ledger_redis`) and fresh topics
(`topics`), and is bounded to TEST_BUDGET_S by SIGALRM.
"""

import collections
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from datetime import datetime, timezone

import pytest
import redis

from conftest import consume_all
from tgstack import (Sim, Worker, assert_clean, binary, ledger, produce,
                     request, wait_assigned)

TEST_BUDGET_S = 90
THRESHOLDS = (50, 80, 100)
LEASES = "tg:{tg}:leases"
# librdkafka's default session timeout (45 s) would keep a kill -9'd member's
# partitions from its successor for that long; 6 s is the broker's minimum.
FAST_SESSION = ["-X", "consumer.session.timeout.ms=6000",
                "-X", "consumer.heartbeat.interval.ms=1000"]


class TimeBoundExceeded(Exception):
    pass


@pytest.fixture(autouse=True)
def time_bound(request):
    """Fails a test that runs longer than TEST_BUDGET_S (its finally blocks
    still stop the workers), and reports how long it took."""
    def expired(signum, frame):
        raise TimeBoundExceeded(
            f"{request.node.name} ran over {TEST_BUDGET_S} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_BUDGET_S)
    t0 = time.monotonic()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        print(f"\n[{request.node.name}] {time.monotonic() - t0:.1f} s")


# ---------------------------------------------------------------- helpers


def set_budget(url, bid, selector, period, limits, thresholds=THRESHOLDS):
    sel = ",".join(f"{k}={v}" for k, v in selector.items()) or "none"
    ledger(url, "budget", "set", bid, "--selector", sel, "--period", period,
           *limits, "--thresholds", ",".join(map(str, thresholds)))


def set_budgets(url, budgets):
    for bid, (sel, period, limits) in budgets.items():
        set_budget(url, bid, sel, period, limits)


def matches(selector, tags):
    return all(tags.get(k) == v for k, v in selector.items())


def ledger_env(url, *args, env=None, brokers=None, usage_topic=None,
               check=True):
    """tollgate-ledger with extra environment (TOLLGATE_FAKE_NOW)."""
    cmd = [binary("tollgate-ledger"), "--redis", url]
    if brokers:
        cmd += ["--brokers", brokers]
    if usage_topic:
        cmd += ["--usage-topic", usage_topic]
    res = subprocess.run(cmd + list(args), capture_output=True, text=True,
                         timeout=60, env={**os.environ, **(env or {})})
    assert_clean(res.stderr, "tollgate-ledger")
    if check:
        assert res.returncode == 0, \
            f"ledger {args}: {res.stdout}\n{res.stderr}"
    return res


def status(url, env=None):
    """The ledger state per budget; `forecast` is left out: it is derived
    from the clock (tests/integration/test_forecast.py checks it), and
    these tests compare states taken seconds apart."""
    out = ledger_env(url, "status", "--json", env=env).stdout
    return {b["id"]: {k: v for k, v in b.items() if k != "forecast"}
            for b in json.loads(out)}


def reconcile(url, brokers, usage_topic):
    res = ledger(url, "reconcile", "--json", brokers=brokers,
                 usage_topic=usage_topic, check=False)
    return res.returncode, res.stdout + res.stderr


def raw(brokers, topic, count, timeout=60):
    """[(key, value bytes)] of a topic, waiting for at least count."""
    msgs = consume_all(brokers, topic, timeout=timeout, min_count=count)
    assert len(msgs) >= count, f"{topic}: {len(msgs)} of {count} messages"
    return [(k, v) for k, v, _ in msgs]


def raw_ids(brokers, topic, ids, timeout=60):
    """[(key, value bytes)] of a topic once every key in ids is there
    (duplicates make a count the wrong thing to wait for)."""
    deadline = time.monotonic() + timeout
    while True:
        left = max(1.0, deadline - time.monotonic())
        msgs = consume_all(brokers, topic, timeout=min(left, 10),
                           min_count=len(ids))
        have = {k for k, _, _ in msgs}
        if ids <= have or time.monotonic() >= deadline:
            assert ids <= have, (f"{topic}: {len(ids - have)} of {len(ids)} "
                                 f"requests never answered, e.g. "
                                 f"{sorted(ids - have)[:5]}")
            return [(k, v) for k, v, _ in msgs]
        time.sleep(0.5)


def parsed(msgs):
    return [(k, json.loads(v)) for k, v in msgs]


def sim_stats(endpoint):
    with urllib.request.urlopen(endpoint.rstrip("/") + "/_sim/stats",
                                timeout=10) as r:
        return json.loads(r.read())


def month_now():
    return datetime.now(timezone.utc).strftime("%Y-%m")


def log_lines(worker):
    out = []
    for line in worker.text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def log_ids(worker, pattern):
    """Request ids named by log messages matching pattern (one group)."""
    rx = re.compile(pattern)
    return {m.group(1) for rec in log_lines(worker)
            if (m := rx.search(rec.get("msg", "")))}


def all_budget_hashes(r):
    return {k: r.hgetall(k) for k in r.scan_iter("tg:{tg}:b:*")}


def assert_nothing_reserved(url):
    r = redis.Redis.from_url(url, decode_responses=True)
    try:
        assert r.zcard(LEASES) == 0, r.zrange(LEASES, 0, 20, withscores=True)
        for key, h in all_budget_hashes(r).items():
            assert int(h.get("reserved", 0)) == 0, (key, h)
            assert int(h.get("reservedTokens", 0)) == 0, (key, h)
        left = [k for k in r.scan_iter("tg:{tg}:req:*")
                if r.hget(k, "state") != "done"]
        assert not left, f"records not done: {left[:10]}"
    finally:
        r.close()


def stop_all(workers):
    rcs = []
    for w in workers:
        if w.log.closed:
            continue
        rcs.append(w.stop())
    return rcs


# ------------------------------------------------------------ concurrency

N_CONC = 2000
# id: (selector, period, limit flags). Overlapping: a request of eng/prod is
# charged to all, eng and eng-prod at once. A request costs ~10,000 nano-USD
# and ~55 tokens (reserved: ~13,000 and ~60); demand is ~3.3 M nano-USD per
# (costCenter, environment) pair, so eng-prod, ops-tokens, eng and all run
# out one after the other part way through (about 900 of 2,000 approved).
CONC_BUDGETS = {
    "all": ({}, "month", ["--limit-usd", "0.009"]),
    "eng": ({"costCenter": "eng"}, "month", ["--limit-usd", "0.0025"]),
    "eng-prod": ({"costCenter": "eng", "environment": "prod"}, "month",
                 ["--limit-usd", "0.001"]),
    "ops-tokens": ({"costCenter": "ops"}, "month",
                   ["--limit-tokens", "12000"]),
}
CENTERS = ("eng", "ops", "sales")
# The simulator answers 40 words; a reservation of 45 output tokens keeps
# reservations close to real costs, and --max-inflight bounds what is
# reserved at once, so budgets run out with their spend near the limit
# (with 2,000 reservations at once they would be "full" at ~40 % spent).
CONC_MAX_TOKENS = 45
CONC_INFLIGHT = ["--max-inflight", "32"]
ENVS = ("prod", "dev")


def conc_request(i, prefix="c"):
    return request(f"{prefix}-{i:05d}", CENTERS[i % 3],
                   text=f"question {i} " + "x" * (i % 37),
                   env=ENVS[(i // 3) % 2], max_tokens=CONC_MAX_TOKENS)


def crossed(spent, limit):
    """Thresholds reached by spent of limit, as finish.lua decides them
    (spent * 100 >= threshold * limit), in integers."""
    if limit is None or limit <= 0:
        return set()
    return {t for t in THRESHOLDS if spent * 100 >= t * limit}


def test_concurrency_overlapping_budgets(tmp_path, brokers, topics,
                                         ledger_redis):
    set_budgets(ledger_redis, CONC_BUDGETS)
    reqs = [conc_request(i) for i in range(N_CONC)]
    ws = [Worker(tmp_path, topics["prefix"], ledger_redis, name=f"c{i}",
                 args=CONC_INFLIGHT)
          for i in range(4)]
    try:
        wait_assigned(ws, 4)
        t0 = time.monotonic()
        produce(brokers, topics["requests"],
                [(r["requestId"], r) for r in reqs])
        comps = parsed(raw(brokers, topics["completions"], N_CONC))
        usage_raw = raw(brokers, topics["usage"], N_CONC)
        took = time.monotonic() - t0
    finally:
        rcs = stop_all(ws)
    assert rcs == [0] * 4, [w.text()[-2000:] for w in ws]
    usage = parsed(usage_raw)
    print(f"\n2000 requests through 4 workers in {took:.1f} s")

    # exactly one completion and one usage event per request
    ids = {r["requestId"] for r in reqs}
    assert collections.Counter(k for k, _ in comps) == \
        collections.Counter({i: 1 for i in ids})
    assert collections.Counter(k for k, _ in usage) == \
        collections.Counter({i: 1 for i in ids})

    st = status(ledger_redis)
    period = month_now()
    decisions = collections.Counter(u["decision"] for _, u in usage)
    assert set(decisions) <= {"approved", "rejected_budget"}, decisions
    rejected_by = collections.Counter(
        u["reason"].split(":", 1)[1] for _, u in usage
        if u["decision"] == "rejected_budget")
    print("decisions", dict(decisions), "rejected by", dict(rejected_by))
    for bid, b in sorted(st.items()):
        print(bid, {k: b.get(k) for k in ("limitNanoUsd", "spentNanoUsd",
                                          "limitTokens", "spentTokens")})
    for _, u in usage:
        if u["decision"] == "rejected_budget":
            assert u["reason"].startswith("budget_exceeded:"), u
            assert u["costNanoUsd"] == 0, u

    for bid, (sel, _, _) in CONC_BUDGETS.items():
        b = st[bid]
        assert b["period"] == period, b
        # every budget ran out part way: it rejected some of its requests
        assert rejected_by[bid] > 0, (bid, rejected_by)
        for _, u in usage:
            if u["decision"] == "rejected_budget" and \
                    u["reason"] == f"budget_exceeded:{bid}":
                assert matches(sel, u["tags"]), u

        # 1. from the tags and the selector, independently of the arrays
        mine = [u for _, u in usage
                if u["decision"] == "approved" and matches(sel, u["tags"])]
        cost = sum(u["costNanoUsd"] for u in mine)
        tokens = sum(u["inputTokens"] + u["outputTokens"] +
                     u["cacheReadInputTokens"] + u["cacheWriteInputTokens"]
                     for u in mine)
        assert b["spentNanoUsd"] == cost, (bid, b, cost)
        assert b["reservedNanoUsd"] == 0, b
        if b["limitNanoUsd"] is not None:
            assert cost <= b["limitNanoUsd"], b
        if b.get("limitTokens") is not None:
            assert b["spentTokens"] == tokens, (bid, b, tokens)
            assert tokens <= b["limitTokens"], b
            assert b["reservedTokens"] == 0, b

        # 2. via the events' own budgets arrays: the approved events that
        # name the budget are exactly those its selector matches, and their
        # spentNanoUsd values chain: each is the one before plus its cost
        # (settlements were serialised, none lost or doubled)
        named = [(u, x) for _, u in usage if u["decision"] == "approved"
                 for x in u["budgets"] if x["id"] == bid]
        assert {u["requestId"] for u, _ in named} == \
            {u["requestId"] for u in mine}, bid
        assert all(x["period"] == period for _, x in named)
        assert sum(u["costNanoUsd"] for u, _ in named) == b["spentNanoUsd"]
        chain = sorted((x["spentNanoUsd"], u["costNanoUsd"]) for u, x in named)
        prev = 0
        for after, c in chain:
            assert c > 0 and after == prev + c, (bid, prev, after, c)
            prev = after
        assert prev == b["spentNanoUsd"], (bid, prev, b)

    # every non-invalid event names exactly the budgets its tags match
    for _, u in usage:
        want = {bid for bid, (sel, _, _) in CONC_BUDGETS.items()
                if matches(sel, u["tags"])}
        assert {x["id"] for x in u["budgets"]} == want, u

    res, out = reconcile(ledger_redis, brokers, topics["usage"])
    assert res == 0, out

    # alerts: exactly one per budget/period/threshold crossed, none other
    alerts = parsed(raw(brokers, topics["alerts"], 0, timeout=15))
    got = collections.Counter((a["budgetId"], a["period"],
                               a["thresholdPercent"]) for _, a in alerts)
    for k, a in alerts:
        assert k == a["budgetId"], (k, a)
    assert max(got.values(), default=1) == 1, f"duplicate alerts: {got}"
    usd_expected = {(bid, period, t) for bid, b in st.items()
                    for t in crossed(b["spentNanoUsd"], b["limitNanoUsd"])}
    tok_expected = {(bid, period, t) for bid, b in st.items()
                    for t in crossed(b.get("spentTokens", 0),
                                     b.get("limitTokens"))}
    print("alerts", sorted(got), "\nexpected (USD)", sorted(usd_expected),
          "\nexpected (tokens)", sorted(tok_expected))
    assert {("all", period, 50), ("all", period, 80)} <= usd_expected
    usd_got = {a for a in got if st[a[0]]["limitNanoUsd"] is not None}
    assert usd_got == usd_expected, (usd_got, usd_expected)
    # A budget limited in tokens only alerts on its tokens (finish.lua used
    # to compare nano-USD with limitNanoUsd alone, so it never alerted).
    tok_got = {a for a in got if st[a[0]]["limitNanoUsd"] is None}
    assert tok_got == tok_expected, (
        "token-limited budget ops-tokens reached thresholds "
        f"{sorted(t for _, _, t in tok_expected)} of its limitTokens but got "
        f"alerts {sorted(t for _, _, t in tok_got)}")


# ------------------------------------------------------------ redelivery

N_REDELIVER = 200


def unpack_half_of_the_records(url, usage, comps):
    """The records store the events packed (ledger/stored.h: 0x01, the
    event's length, a zstd frame); every other one is rewritten as a
    record of before packing (the JSON itself, the usage with its
    "#tg:spent:<i>#" markers), which must be re-published the same.
    usage, comps: {request id: first publication's bytes}."""
    r = redis.Redis.from_url(url)
    try:
        for n, rid in enumerate(sorted(usage)):
            key = f"tg:{{tg}}:req:{rid}"
            rec = r.hmget(key, "state", "completion", "usage")
            assert rec[0] == b"done", (rid, rec[0])
            k = iter(range(1, 1000))
            marked = re.sub(rb'"spentNanoUsd":-?[0-9]+', lambda m:
                            b'"spentNanoUsd":"#tg:spent:%d#"' % next(k),
                            usage[rid])
            for v, event in zip(rec[1:], (comps[rid], marked)):
                assert v[:1] == b"\x01", (rid, v[:40])
                assert int.from_bytes(v[1:5], "big") == len(event)
                # under 60 % (level -1 leaves literals as they are)
                assert len(v) * 5 < len(event) * 3, (rid, len(v), len(event))
            if n % 2:
                r.hset(key, mapping={"completion": comps[rid],
                                     "usage": marked})
    finally:
        r.close()


def test_redelivery_to_a_new_group_charges_and_calls_nothing(
        tmp_path, brokers, topics, ledger_redis, bedrock_endpoint):
    # ~200 x 10,000 nano-USD of demand against 1.5 M: some are rejected,
    # so stored rejections are re-published too
    set_budget(ledger_redis, "all", {}, "month", ["--limit-usd", "0.0015"])
    reqs = [conc_request(i, "rd") for i in range(N_REDELIVER)]
    calls0 = sim_stats(bedrock_endpoint)["converse"]

    w1 = Worker(tmp_path, topics["prefix"], ledger_redis, name="rd1",
                group=topics["prefix"] + ".G1")
    try:
        wait_assigned([w1], 4)
        produce(brokers, topics["requests"],
                [(r["requestId"], r) for r in reqs])
        first_raw = raw(brokers, topics["usage"], N_REDELIVER)
        first = parsed(first_raw)
        comps1 = raw(brokers, topics["completions"], N_REDELIVER)
    finally:
        assert w1.stop() == 0, w1.text()[-2000:]
    calls1 = sim_stats(bedrock_endpoint)["converse"]
    spent1 = status(ledger_redis)["all"]
    approved = sum(1 for _, u in first if u["decision"] == "approved")
    assert 0 < approved < N_REDELIVER, approved
    assert calls1 - calls0 == approved, (calls0, calls1, approved)
    unpack_half_of_the_records(ledger_redis, dict(first_raw), dict(comps1))

    # the same topic from the beginning, by a group that never committed
    w2 = Worker(tmp_path, topics["prefix"], ledger_redis, name="rd2",
                group=topics["prefix"] + ".G2")
    try:
        wait_assigned([w2], 4)
        usage = raw(brokers, topics["usage"], 2 * N_REDELIVER)
        comps = raw(brokers, topics["completions"], 2 * N_REDELIVER)
    finally:
        assert w2.stop() == 0, w2.text()[-2000:]
    calls2 = sim_stats(bedrock_endpoint)["converse"]

    assert status(ledger_redis)["all"] == spent1
    assert calls2 == calls1, \
        f"the second pass called Bedrock {calls2 - calls1} times"
    ids = {r["requestId"] for r in reqs}
    for name, msgs in (("usage", usage), ("completions", comps)):
        by_id = collections.defaultdict(list)
        for k, v in msgs:
            by_id[k].append(v)
        assert set(by_id) == ids, name
        counts = collections.Counter(len(v) for v in by_id.values())
        assert counts == {2: N_REDELIVER}, (name, counts)
        differ = [k for k, v in by_id.items() if v[0] != v[1]]
        assert not differ, \
            f"{name}: re-published bytes differ for {differ[:5]}"
    res, out = reconcile(ledger_redis, brokers, topics["usage"])
    assert res == 0, out
    assert json.loads(out)["stats"]["duplicates"] == N_REDELIVER, out
    assert_nothing_reserved(ledger_redis)


def flip(v, i):
    i %= len(v)
    return v[:i] + bytes([v[i] ^ 0x55]) + v[i + 1:]


def test_unreadable_stored_events_go_to_the_dlq(
        tmp_path, brokers, topics, ledger_redis):
    """A record whose packed events are corrupt, truncated or claim an
    oversized length (ledger/stored.h) would give the same bytes on every
    ask: the request goes to the DLQ with the reason, the partition moves
    on, the worker stays up, and the intact records are re-published."""
    set_budget(ledger_redis, "all", {}, "month", ["--limit-usd", "100"])
    reqs = [conc_request(i, "bad") for i in range(6)]
    ids = [r["requestId"] for r in reqs]
    w1 = Worker(tmp_path, topics["prefix"], ledger_redis, name="bd1",
                group=topics["prefix"] + ".G1")
    try:
        wait_assigned([w1], 4)
        produce(brokers, topics["requests"],
                [(r["requestId"], r) for r in reqs])
        first = dict(raw(brokers, topics["completions"], len(reqs)))
    finally:
        assert w1.stop() == 0, w1.text()[-2000:]
    r = redis.Redis.from_url(ledger_redis)
    try:
        def field(rid):
            return r.hget(f"tg:{{tg}}:req:{rid}", "completion")
        bad = {ids[0]: field(ids[0])[:-3],                      # truncated
               ids[1]: flip(field(ids[1]), -1),                 # checksum
               ids[2]: b"\x01\xff\xff\xff\xff" + field(ids[2])[5:]}  # 4 GiB
        for rid, v in bad.items():
            assert v[:1] == b"\x01"
            r.hset(f"tg:{{tg}}:req:{rid}", "completion", v)
    finally:
        r.close()

    w2 = Worker(tmp_path, topics["prefix"], ledger_redis, name="bd2",
                group=topics["prefix"] + ".G2")
    try:
        wait_assigned([w2], 4)
        dlq = consume_all(brokers, topics["dlq"], min_count=3, timeout=60)
        comps = raw(brokers, topics["completions"], len(reqs) + 3)
        assert w2.proc.poll() is None, w2.text()[-2000:]
    finally:
        assert w2.stop() == 0, w2.text()[-2000:]
    assert sorted(k for k, _, _ in dlq) == sorted(bad)
    for _, _, h in dlq:
        assert h["tollgate-dlq-reason"].startswith(b"stored event: "), h
    seen = collections.Counter(k for k, _ in comps)
    assert all(seen[rid] == 1 for rid in bad), seen
    for rid in ids[3:]:
        assert seen[rid] == 2, seen
        assert all(v == first[rid] for k, v in comps if k == rid)


# ------------------------------------------------------------ crash

N_CRASH = 300
CRASH_BUDGETS = {
    "all": ({}, "month", ["--limit-usd", "5"]),
    "eng": ({"costCenter": "eng"}, "month", ["--limit-usd", "5"]),
    "ops-tokens": ({"costCenter": "ops"}, "month",
                   ["--limit-tokens", "10000000"]),
}


def trickle(brokers, topic, reqs, per_batch=30, every_s=0.3):
    """Produces reqs in batches (so that some finish while others are in
    flight when the worker dies)."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True,
                  "linger.ms": 5})
    for i in range(0, len(reqs), per_batch):
        for r in reqs[i:i + per_batch]:
            p.produce(topic, key=r["requestId"], value=json.dumps(r).encode())
        p.flush(30)
        time.sleep(every_s)
    assert p.flush(60) == 0


@pytest.mark.parametrize("variant", ["other-id", "same-id",
                                     "other-id-no-txn"])
def test_crash_with_calls_in_flight(tmp_path, brokers, topics, ledger_redis,
                                    variant):
    """kill -9 a worker with Bedrock calls in flight (1.5 s each).

    other-id: the successor has another --worker-id; --lease-ms 4000 makes
    it wait out the dead worker's leases, after which its reaper releases a
    reservation or its admission resumes it. same-id: the successor has the
    dead worker's id and resumes its reservations at once; its lease is 30 s
    there, so resuming after the lease would show as a 30 s wait.
    other-id-no-txn: as other-id with --transactions 0 (idempotent producer
    only): the dead worker's events that reached Kafka stay, and the
    successor re-publishes the stored ones, so byte-identical duplicates
    appear (with transactions the dead worker's open transaction is
    aborted and there are none)."""
    set_budgets(ledger_redis, CRASH_BUDGETS)
    lease_ms = 30000 if variant == "same-id" else 4000
    sim = Sim("--latency-ms", "1500")
    reqs = [conc_request(i, f"crash-{variant}") for i in range(N_CRASH)]
    args = ["--bedrock-endpoint", sim.url, "--lease-ms", str(lease_ms),
            *FAST_SESSION]
    if variant.endswith("no-txn"):
        args += ["--transactions", "0"]
    r = redis.Redis.from_url(ledger_redis, decode_responses=True)
    group = topics["prefix"] + ".workers"
    w1 = Worker(tmp_path, topics["prefix"], ledger_redis, name="crash-a",
                args=args, group=group)
    w2 = None
    try:
        wait_assigned([w1], 4)
        feeder = threading.Thread(target=trickle, daemon=True,
                                  args=(brokers, topics["requests"], reqs))
        feeder.start()
        gkey = f"tg:{{tg}}:b:all:{month_now()}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            approved = int(r.hget(gkey, "approved") or 0)
            if r.zcard(LEASES) > 0 and approved >= 40:
                break
            time.sleep(0.05)
        assert r.zcard(LEASES) > 0, "no reservation in flight"
        w1.kill()  # SIGKILL
        killed_at = time.monotonic()
        feeder.join(30)
        leases = r.zrange(LEASES, 0, -1, withscores=True)
        orphans = {m for m, _ in leases}
        lease_left_ms = [int(sc - time.time() * 1000) for _, sc in leases]
        done_at_kill = int(r.hget(gkey, "approved") or 0)
        assert orphans, "nothing was in flight when the worker died"
        # held budget: the dead worker's reservations are still counted
        held = int(r.hget(gkey, "reserved") or 0)
        assert held > 0

        w2 = Worker(tmp_path, topics["prefix"], ledger_redis,
                    name="crash-a" if variant == "same-id" else "crash-b",
                    args=args, group=group)
        wait_assigned([w2], 4)
        ids = {q["requestId"] for q in reqs}
        usage = raw_ids(brokers, topics["usage"], ids)
        comps = raw_ids(brokers, topics["completions"], ids)
        all_done_s = time.monotonic() - killed_at
        # the reaper of the successor may still be looking at a lease
        time.sleep(0.5)
    finally:
        if not w1.log.closed:
            w1.kill()
        rc2 = w2.stop() if w2 else 0
        sim_calls = sim.stats()["converse"]
        sim.stop()
    assert rc2 == 0, w2.text()[-3000:]
    # everything the successor published before it stopped
    usage = raw(brokers, topics["usage"], len(usage))
    comps = raw(brokers, topics["completions"], len(comps))

    resumed = log_ids(w2, r"^resuming (\S+) after")
    released = log_ids(w2, r"^released the reservation of (\S+):")
    report = {"variant": variant, "in flight at kill": len(orphans),
              "approved at kill": done_at_kill, "resumed": len(resumed),
              "released by reaper": len(released),
              "lease left at kill (ms, min..max)":
                  f"{min(lease_left_ms)}..{max(lease_left_ms)}",
              "Bedrock calls": sim_calls, "requests": N_CRASH,
              "kill to all events (s)": round(all_done_s, 1)}

    for name, msgs in (("usage", usage), ("completions", comps)):
        by_id = collections.defaultdict(list)
        for k, v in msgs:
            by_id[k].append(v)
        assert set(by_id) == ids, (name, ids - set(by_id))
        distinct = {k: set(v) for k, v in by_id.items()}
        many = {k: len(v) for k, v in distinct.items() if len(v) > 1}
        assert not many, f"{name}: requests with DIFFERENT events: {many}"
        report[f"{name} byte-identical duplicates"] = sum(
            len(v) - 1 for v in by_id.values())
    print("\n" + json.dumps(report))

    # the dead worker's reservations: each resumed or released after its
    # lease (other id), resumed at once (same id); finished by the successor
    assert orphans <= resumed | released, orphans - resumed - released
    last = {k: json.loads(v) for k, v in usage}
    for rid in orphans:
        assert last[rid]["workerId"] == w2.name, last[rid]
        assert last[rid]["decision"] == "approved", last[rid]
    if variant == "same-id":
        assert not released, released
        assert orphans <= resumed
        assert all_done_s < lease_ms / 1000, all_done_s
    # A resumed request must be settled against the keys it reserved on,
    # tg:{tg}:b:<id>:<this month>. tg_budgets_from_keys() (worker/budgets.c)
    # used to pass jb->period to fill_budget(), which snprintf()s it onto
    # itself; glibc empties it, so the job settled against "tg:{tg}:b:<id>:"
    # (reserved negative there, the real reservation leaked, the spend in no
    # period) and the usage event said "period": "".
    month = month_now()
    bad = {rid: u["budgets"] for rid, u in last.items()
           if any(x["period"] != month for x in u["budgets"])}
    assert not bad, (
        f"{len(bad)} requests (resumed: {len(set(bad) & resumed)}) were "
        f"settled against a period other than {month}, e.g. "
        f"{next(iter(bad.items()))}: tg_budgets_from_keys() loses the "
        "period of a resumed reservation")
    assert_nothing_reserved(ledger_redis)
    st = status(ledger_redis)
    for bid, (sel, _, _) in CRASH_BUDGETS.items():
        cost = sum(u["costNanoUsd"] for u in last.values()
                   if u["decision"] == "approved" and matches(sel, u["tags"]))
        assert st[bid]["spentNanoUsd"] == cost, (bid, st[bid], cost)
        assert st[bid]["reservedNanoUsd"] == 0
    res, out = reconcile(ledger_redis, brokers, topics["usage"])
    assert res == 0, out
    r.close()


# ------------------------------------------------------------ periods

# The worker's clock starts at FAKE_START when it starts and runs in real
# time, so midnight (UTC) of 2028-02-29 -> 2028-03-01 (also a new month, in
# a leap year) comes TO_MIDNIGHT_S after the worker's start.
TO_MIDNIGHT_S = 15
FAKE_START = f"2028-02-29T23:59:{60 - TO_MIDNIGHT_S:02d}Z"
OLD_DAY, OLD_MONTH, NEW_DAY, NEW_MONTH = "2028-02-29", "2028-02", \
    "2028-03-01", "2028-03"


def test_periods_roll_over_at_utc_midnight(tmp_path, brokers, topics,
                                           ledger_redis):
    set_budget(ledger_redis, "daily", {}, "day", ["--limit-usd", "0.0005"])
    set_budget(ledger_redis, "monthly", {}, "month", ["--limit-usd", "1"])
    before_env = {"TOLLGATE_FAKE_NOW": "2028-02-29T23:59:50Z"}
    after_env = {"TOLLGATE_FAKE_NOW": "2028-03-01T00:00:30Z"}
    pre = [request(f"pre-{i:03d}", "eng", text=f"before midnight {i}")
           for i in range(100)]
    post = [request(f"post-{i:03d}", "eng", text=f"after midnight {i}")
            for i in range(10)]

    started = time.monotonic()
    w = Worker(tmp_path, topics["prefix"], ledger_redis, name="clock",
               env={"TOLLGATE_FAKE_NOW": FAKE_START})
    try:
        wait_assigned([w], 4)
        produce(brokers, topics["requests"],
                [(q["requestId"], q) for q in pre])
        first = parsed(raw(brokers, topics["usage"], len(pre)))
        decided_pre = time.monotonic() - started
        assert decided_pre < TO_MIDNIGHT_S - 1, (
            f"the first batch took until {decided_pre:.1f} s, too close to "
            "the fake midnight")
        st_old = status(ledger_redis, env=before_env)
        time.sleep(max(0.0, started + TO_MIDNIGHT_S + 2 - time.monotonic()))
        produce(brokers, topics["requests"],
                [(q["requestId"], q) for q in post])
        every = parsed(raw(brokers, topics["usage"], len(pre) + len(post)))
    finally:
        assert w.stop() == 0, w.text()[-2000:]

    by_id = dict(every)
    assert len(by_id) == len(pre) + len(post)
    pre_u = [by_id[q["requestId"]] for q in pre]
    post_u = [by_id[q["requestId"]] for q in post]

    def periods(u):
        return {x["id"]: x["period"] for x in u["budgets"]}

    # before midnight: the day budget runs out
    for u in pre_u:
        assert periods(u) == {"daily": OLD_DAY, "monthly": OLD_MONTH}, u
    rejected = [u for u in pre_u if u["decision"] != "approved"]
    assert rejected and len(rejected) < len(pre_u), len(rejected)
    for u in rejected:
        assert u["decision"] == "rejected_budget", u
        assert u["reason"] == "budget_exceeded:daily", u
    # after midnight: approved again, charged to the new day and month
    for u in post_u:
        assert u["decision"] == "approved", u
        assert periods(u) == {"daily": NEW_DAY, "monthly": NEW_MONTH}, u

    pre_cost = sum(u["costNanoUsd"] for u in pre_u)
    post_cost = sum(u["costNanoUsd"] for u in post_u)
    assert st_old["daily"]["period"] == OLD_DAY
    assert st_old["monthly"]["period"] == OLD_MONTH
    assert st_old["daily"]["spentNanoUsd"] == pre_cost
    assert st_old["daily"]["spentNanoUsd"] <= st_old["daily"]["limitNanoUsd"]
    assert st_old["monthly"]["spentNanoUsd"] == pre_cost
    # the old periods did not move; the new ones hold only the new spend
    assert status(ledger_redis, env=before_env) == st_old
    st_new = status(ledger_redis, env=after_env)
    assert st_new["daily"]["period"] == NEW_DAY
    assert st_new["monthly"]["period"] == NEW_MONTH
    assert st_new["daily"]["spentNanoUsd"] == post_cost
    assert st_new["monthly"]["spentNanoUsd"] == post_cost
    assert st_new["daily"]["reservedNanoUsd"] == 0
    res, out = reconcile(ledger_redis, brokers, topics["usage"])
    assert res == 0, out


# ------------------------------------------------------------ rebuild

REBUILD_BUDGETS = {
    "all": ({}, "month", ["--limit-usd", "0.002"]),
    "eng-day": ({"costCenter": "eng"}, "day", ["--limit-usd", "0.0008"]),
    "ops-total": ({"costCenter": "ops"}, "total",
                  ["--limit-usd", "1", "--limit-tokens", "4000"]),
}


def test_rebuild_after_flushdb(tmp_path, brokers, topics, ledger_redis):
    set_budgets(ledger_redis, REBUILD_BUDGETS)
    reqs = [conc_request(i, "rb") for i in range(300)]
    ws = [Worker(tmp_path, topics["prefix"], ledger_redis, name=f"rb{i}")
          for i in range(2)]
    try:
        wait_assigned(ws, 4)
        produce(brokers, topics["requests"],
                [(q["requestId"], q) for q in reqs])
        usage = parsed(raw(brokers, topics["usage"], len(reqs)))
    finally:
        assert stop_all(ws) == [0, 0]
    res, out = reconcile(ledger_redis, brokers, topics["usage"])
    assert res == 0, out
    before = status(ledger_redis)
    r = redis.Redis.from_url(ledger_redis, decode_responses=True)
    hashes = all_budget_hashes(r)
    assert len(hashes) == 3
    assert any(u["decision"] == "rejected_budget" for _, u in usage)

    r.flushdb()
    assert r.dbsize() == 0
    r.close()
    # the definitions are not in the usage topic: set them again
    set_budgets(ledger_redis, REBUILD_BUDGETS)
    assert all(b["spentNanoUsd"] == 0 for b in status(ledger_redis).values())
    res, out = reconcile(ledger_redis, brokers, topics["usage"])
    assert res != 0, "reconcile should see the lost spend:\n" + out
    ledger(ledger_redis, "rebuild", brokers=brokers,
           usage_topic=topics["usage"])
    res, out = reconcile(ledger_redis, brokers, topics["usage"])
    assert res == 0, out
    doc = json.loads(out)
    assert doc["ok"] and all(p["match"] for p in doc["pairs"]), out
    assert all(p["diffNanoUsd"] == 0 and p["diffTokens"] == 0
               for p in doc["pairs"]), out
    after = status(ledger_redis)
    assert after == before
    r = redis.Redis.from_url(ledger_redis, decode_responses=True)
    rebuilt = all_budget_hashes(r)
    r.close()
    for key, h in hashes.items():
        for field in ("spent", "spentTokens", "approved"):
            assert rebuilt[key].get(field, "0") == h.get(field, "0"), (
                key, field, h, rebuilt[key])
