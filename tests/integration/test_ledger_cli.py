"""tollgate-ledger against a real Redis and a real Kafka broker.

Budgets, status, reconcile, rebuild and report, driven through the binary
as a user would. Usage events are synthetic (produced here), so the
expected sums are computed independently in Python.

Isolation: the ledger's keys are global (tg:{tg}:...), so these tests use
their own Redis database (DB 5 of the shared server) and flush only that
one; each test uses a topic of its own.
"""

import csv
import io
import json
import os
import random
import subprocess
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

REPO = Path(__file__).resolve().parents[2]
LEDGER_DB = 5

try:  # the shared fixtures (tests/integration/conftest.py)
    from conftest import find_binary, unique_prefix
except ImportError:  # pragma: no cover - conftest missing: a minimal stand-in
    def find_binary(build_dir, name):
        for path in sorted(Path(build_dir).rglob(name)):
            if path.is_file() and os.access(path, os.X_OK):
                return path
        return None

    def unique_prefix(name="t"):
        return f"tgtest.{name}.{uuid.uuid4().hex[:8]}"


def _env(name, default):
    return os.environ.get(name) or default


@pytest.fixture(scope="module")
def kafka():
    return _env("TOLLGATE_BROKERS", "127.0.0.1:19092")


@pytest.fixture(scope="module")
def ledger_url():
    """The shared Redis server, but database LEDGER_DB."""
    u = urlparse(_env("TOLLGATE_REDIS", "redis://127.0.0.1:16379"))
    return urlunparse(u._replace(path=f"/{LEDGER_DB}", query=""))


@pytest.fixture
def rdb(ledger_url):
    """A clean ledger database for this test."""
    import redis

    client = redis.Redis.from_url(ledger_url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="module")
def binary():
    build = Path(_env("TOLLGATE_BUILD_DIR", REPO / "build"))
    path = find_binary(build, "tollgate-ledger")
    assert path, f"tollgate-ledger not built under {build}"
    return path


@pytest.fixture
def ledger(binary, ledger_url, kafka):
    """Runs tollgate-ledger with this test's Redis and Kafka."""

    def run(*args, fake_now=None, expect=None, timeout=120):
        env = dict(os.environ)
        env.pop("TOLLGATE_FAKE_NOW", None)
        if fake_now:
            env["TOLLGATE_FAKE_NOW"] = fake_now
        cmd = [str(binary), "--redis", ledger_url, "--brokers", kafka, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                           timeout=timeout)
        # Under ASan/UBSan a finding must fail the test even where the
        # expected exit status is 1.
        assert "Sanitizer" not in p.stderr, p.stderr
        assert "runtime error:" not in p.stderr, p.stderr
        if expect is not None:
            assert p.returncode == expect, (
                f"{' '.join(args)} exited {p.returncode}, expected {expect}\n"
                f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    return run


@pytest.fixture
def topic(request, kafka):
    from confluent_kafka.admin import AdminClient, NewTopic

    name = unique_prefix(request.node.name) + ".usage"
    admin = AdminClient({"bootstrap.servers": kafka})
    for f in admin.create_topics([NewTopic(name, num_partitions=3,
                                           replication_factor=1)]).values():
        f.result(30)
    return name


def produce(kafka, topic, messages):
    """messages: (key, bytes or dict) pairs, in order."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": kafka, "enable.idempotence": True})
    for key, value in messages:
        if isinstance(value, dict):
            value = json.dumps(value, separators=(",", ":"))
        p.produce(topic, key=key, value=value)
    assert p.flush(30) == 0


def usage_event(rid, *, decision="approved", day="2026-11-10", cost=0,
                inp=0, out=0, cread=0, cwrite=0, tags=None, model="nova-lite",
                budgets=(), hour=10):
    return {
        "schema": "tollgate.usage.v1",
        "requestId": rid,
        "timestamp": f"{day}T{hour:02d}:00:00.000000Z",
        "decidedAt": f"{day}T{hour:02d}:00:01.000000Z",
        "decision": decision,
        "model": model,
        "modelId": f"amazon.{model}-v1:0",
        "tags": tags or {"applicationId": "app"},
        "inputTokens": inp,
        "outputTokens": out,
        "cacheReadInputTokens": cread,
        "cacheWriteInputTokens": cwrite,
        "reservedNanoUsd": cost + 1000,
        "costNanoUsd": cost,
        "priceVersion": "test",
        "budgets": [{"id": b, "period": per, "limitNanoUsd": 0,
                     "spentNanoUsd": 0} for b, per in budgets],
        "workerId": "w1",
        "attempts": 1,
        "latencyMs": 5,
    }


def synthetic_events(n, seed=7):
    """Approved and other events over three days, two cost centers, two
    models, with costs that are not round numbers."""
    rnd = random.Random(seed)
    events = []
    for i in range(n):
        cc = rnd.choice(["eng", "ops"])
        day = rnd.choice(["2026-11-09", "2026-11-10", "2026-11-11"])
        decision = rnd.choice(["approved"] * 6 + ["rejected_budget", "failed",
                                                  "invalid"])
        approved = decision == "approved"
        budgets = [("all", day[:7]), (cc, day[:7]), ("daily", day)]
        events.append(usage_event(
            f"req-{seed}-{i}", decision=decision, day=day,
            hour=rnd.randrange(24),
            cost=rnd.randrange(1, 5_000_000_007) if approved else 0,
            inp=rnd.randrange(1, 5000) if approved else 0,
            out=rnd.randrange(0, 900) if approved else 0,
            cread=rnd.randrange(0, 50) if approved else 0,
            cwrite=rnd.randrange(0, 20) if approved else 0,
            tags={"applicationId": "etl", "costCenter": cc},
            model=rnd.choice(["nova-lite", "nova-pro"]),
            budgets=budgets if decision in ("approved", "rejected_budget")
            else ()))
    return events


def ledger_sums(events):
    """(budget, period) -> [spent, tokens, approved] over approved events,
    each requestId once."""
    sums = defaultdict(lambda: [0, 0, 0])
    seen = set()
    for ev in events:
        if ev["requestId"] in seen or ev["decision"] != "approved":
            continue
        seen.add(ev["requestId"])
        tokens = (ev["inputTokens"] + ev["outputTokens"]
                  + ev["cacheReadInputTokens"] + ev["cacheWriteInputTokens"])
        for b in ev["budgets"]:
            s = sums[(b["id"], b["period"])]
            s[0] += ev["costNanoUsd"]
            s[1] += tokens
            s[2] += 1
    return sums


def write_spend(rdb, sums):
    for (bid, period), (spent, tokens, approved) in sums.items():
        rdb.hset(f"tg:{{tg}}:b:{bid}:{period}", mapping={
            "spent": spent, "spentTokens": tokens, "approved": approved,
            "reserved": 0, "reservedTokens": 0})


# --- command line ---------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--help"], ["budget", "--help"], ["budget", "set", "--help"],
    ["budget", "list", "--help"], ["budget", "show", "--help"],
    ["budget", "delete", "--help"], ["status", "--help"],
    ["reconcile", "--help"], ["rebuild", "--help"], ["report", "--help"]])
def test_help(ledger, args):
    p = ledger(*args, expect=0)
    assert "Usage: tollgate-ledger" in p.stdout


@pytest.mark.parametrize("args,words", [
    ([], "missing command"),
    (["frobnicate"], 'unknown command "frobnicate"'),
    (["budget", "set", "x", "--selector", "a=b", "--period", "week",
      "--limit-usd", "1"], '--period: "week"'),
    (["budget", "set", "x", "--selector", "a=b", "--period", "day",
      "--limit-usd", "12.5.0"], '--limit-usd: "12.5.0"'),
    (["budget", "set", "x", "--selector", "a=b", "--period", "day",
      "--limit-usd", "0.0000000001"], "--limit-usd"),
    (["budget", "set", "x", "--selector", "a=b", "--period", "day"],
     "needs a limit"),
    (["budget", "set", "x", "--selector", "a", "--period", "day",
      "--limit-usd", "1"], '--selector: "a" is not key=value'),
    (["budget", "set", "x", "--selector", "a=<b>", "--period", "day",
      "--limit-usd", "1"], "--selector"),
    (["budget", "set", "x:y", "--selector", "none", "--period", "day",
      "--limit-usd", "1"], 'budget ID "x:y"'),
    (["budget", "set", "x", "--selector", "none", "--period", "day",
      "--limit-usd", "1", "--thresholds", "80,50"], "ascending"),
    (["budget", "set", "x", "--nope"], "unknown option '--nope'"),
    (["status", "--period", "2026-13"], '--period: "2026-13"'),
    (["status", "--period", "2026-02-30"], '--period: "2026-02-30"'),
    (["report", "--format", "pdf"], '--format: "pdf"'),
    (["report", "--from", "yesterday"], '--from: "yesterday"'),
    (["report", "--group-by", "cost center!"], "--group-by"),
    (["--redis", "redis://:hunter2@h:0", "status"], "port"),
])
def test_usage_errors(ledger, rdb, args, words):
    p = ledger(*args, expect=2)
    assert words in p.stderr
    assert "hunter2" not in p.stderr


# --- budgets and status ---------------------------------------------------

def test_budget_set_list_show_delete(ledger, rdb):
    ledger("budget", "set", "eng", "--selector", "costCenter=eng,env=prod",
           "--period", "month", "--limit-usd", "12.50", "--limit-tokens",
           "1000000", "--thresholds", "50,90", "--rpm", "60", expect=0)
    ledger("budget", "set", "global", "--selector", "none", "--period", "day",
           "--limit-usd", "$0.000000001", "--on-exceed", "defer", expect=0)
    assert rdb.get("tg:{tg}:budgets:version") == "2"
    stored = json.loads(rdb.hget("tg:{tg}:budgets", "eng"))
    assert stored == {"id": "eng", "selector": {"costCenter": "eng",
                                                "env": "prod"},
                      "period": "month", "limitNanoUsd": 12500000000,
                      "limitTokens": 1000000, "thresholds": [50, 90],
                      "rpm": 60, "tpm": 0, "onExceed": "reject"}

    shown = json.loads(ledger("budget", "show", "global", expect=0).stdout)
    assert shown["selector"] == {} and shown["limitNanoUsd"] == 1
    assert shown["onExceed"] == "defer" and "limitTokens" not in shown

    out = ledger("budget", "list", expect=0).stdout.splitlines()
    assert out[0].split()[:3] == ["ID", "PERIOD", "LIMIT"]
    assert out[1].startswith("eng ") and "$12.50" in out[1]
    assert "costCenter=eng,env=prod" in out[1]
    assert out[2].startswith("global ") and "(global)" in out[2]
    listed = json.loads(ledger("budget", "list", "--json", expect=0).stdout)
    assert [b["id"] for b in listed] == ["eng", "global"]

    # Changing one field keeps the others.
    ledger("budget", "set", "eng", "--limit-usd", "20", expect=0)
    stored = json.loads(rdb.hget("tg:{tg}:budgets", "eng"))
    assert stored["limitNanoUsd"] == 20000000000
    assert stored["selector"] == {"costCenter": "eng", "env": "prod"}
    assert stored["limitTokens"] == 1000000
    assert rdb.get("tg:{tg}:budgets:version") == "3"

    # A new budget must say its selector and period.
    p = ledger("budget", "set", "new", "--limit-usd", "1", expect=2)
    assert "--selector" in p.stderr

    rdb.hset("tg:{tg}:b:eng:2026-11", mapping={"spent": 7})
    ledger("budget", "delete", "eng", expect=0)
    assert rdb.get("tg:{tg}:budgets:version") == "4"
    assert not rdb.hexists("tg:{tg}:budgets", "eng")
    assert rdb.hget("tg:{tg}:b:eng:2026-11", "spent") == "7"  # history stays
    p = ledger("budget", "delete", "eng", expect=1)
    assert 'no budget "eng"' in p.stderr
    assert rdb.get("tg:{tg}:budgets:version") == "4"
    ledger("budget", "show", "eng", expect=1)


def test_status_json_numbers(ledger, rdb):
    ledger("budget", "set", "eng", "--selector", "costCenter=eng", "--period",
           "month", "--limit-usd", "12.50", expect=0)
    ledger("budget", "set", "tok", "--selector", "none", "--period", "day",
           "--limit-tokens", "5000", "--limit-usd", "1", expect=0)
    ledger("budget", "set", "ever", "--selector", "app=x", "--period",
           "total", "--limit-tokens", "10", expect=0)
    rdb.hset("tg:{tg}:b:eng:2028-02", mapping={
        "spent": 1234567891, "reserved": 99, "spentTokens": 5})
    rdb.hset("tg:{tg}:b:eng:2028-01", mapping={"spent": 42})
    rdb.hset("tg:{tg}:b:tok:2028-02-29", mapping={
        "spent": 10, "spentTokens": 1200, "reservedTokens": 300})
    rdb.hset("tg:{tg}:b:tok:2028-03-01", mapping={"spent": 999})

    now = "2028-02-29T12:00:00Z"  # a leap day
    rows = json.loads(ledger("status", "--json", fake_now=now,
                             expect=0).stdout)
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"eng", "tok", "ever"}
    eng = by_id["eng"]
    # the month-end projection: the average rate so far (28.5 of 29 days
    # of a leap February gone), spent * 29 / 28.5 rounded up; $12.50 is
    # not reached at that rate
    elapsed, length = 28 * 86400 + 43200, 29 * 86400
    assert eng.pop("forecast") == {
        "periodEnd": "2028-03-01T00:00:00.000000Z",
        "ratePerDayNanoUsd": 1234567891 * 86400 // elapsed,
        "projectedNanoUsd": -(-1234567891 * length // elapsed),
        "passesLimitAt": None}
    assert eng == {"id": "eng", "selector": {"costCenter": "eng"},
                   "period": "2028-02", "periodKind": "month",
                   "limitNanoUsd": 12500000000, "spentNanoUsd": 1234567891,
                   "reservedNanoUsd": 99,
                   "remainingNanoUsd": 12500000000 - 1234567891 - 99,
                   "degrade": None}
    tok = by_id["tok"]
    assert tok["period"] == "2028-02-29" and tok["periodKind"] == "day"
    assert tok["spentNanoUsd"] == 10 and tok["limitTokens"] == 5000
    assert tok["spentTokens"] == 1200 and tok["reservedTokens"] == 300
    ever = by_id["ever"]
    assert ever["forecast"] is None  # a total budget has no period end
    assert ever["period"] == "total" and ever["limitNanoUsd"] is None
    assert ever["spentNanoUsd"] == 0 and ever["remainingNanoUsd"] is None

    # The next day's (and month's) period starts empty.
    rows = json.loads(ledger("status", "--json", fake_now="2028-03-01T00:00:05Z",
                             expect=0).stdout)
    by_id = {r["id"]: r for r in rows}
    assert by_id["tok"]["period"] == "2028-03-01"
    assert by_id["tok"]["spentNanoUsd"] == 999
    assert by_id["eng"]["period"] == "2028-03"
    assert by_id["eng"]["spentNanoUsd"] == 0

    past = json.loads(ledger("status", "--json", "--period", "2028-01",
                             expect=0).stdout)
    assert [(r["id"], r["period"], r["spentNanoUsd"]) for r in past] == [
        ("eng", "2028-01", 42)]
    assert past[0]["forecast"] is None  # a past period has no rate

    table = ledger("status", "eng", fake_now=now, expect=0).stdout
    lines = table.splitlines()
    assert len(lines) == 2
    assert lines[0].split() == ["ID", "SELECTOR", "PERIOD", "LIMIT", "SPENT",
                                "RESERVED", "REMAINING", "USED", "PROJECTED",
                                "PASSES", "TOKENS", "DEGRADE"]
    assert lines[1].split()[:8] == [
        "eng", "costCenter=eng", "2028-02", "$12.50", "$1.234567891",
        "$0.000000099", "$11.26543201", "9.8%"]


# --- reconcile and rebuild ------------------------------------------------

def test_reconcile_matches_then_finds_one_nano(ledger, rdb, kafka, topic):
    events = synthetic_events(60)
    messages = [(e["requestId"], e) for e in events]
    # Re-publications after a worker restart: byte-identical duplicates.
    messages += [(e["requestId"], e) for e in events[:7]]
    produce(kafka, topic, messages)
    sums = ledger_sums(events)
    write_spend(rdb, sums)

    p = ledger("--usage-topic", topic, "reconcile", expect=0)
    assert f"{len(sums)} budget periods, 0 differ" in p.stdout
    assert "7 duplicates, 0 conflicts, 0 malformed" in p.stdout
    doc = json.loads(ledger("--usage-topic", topic, "reconcile", "--json",
                            expect=0).stdout)
    assert doc["ok"] is True
    got = {(x["id"], x["period"]): [x["kafkaSpentNanoUsd"], x["kafkaTokens"],
                                    x["kafkaApproved"]] for x in doc["pairs"]}
    assert got == {k: list(v) for k, v in sums.items()}

    # One nano-dollar too much in Redis for one budget period.
    bid, period = sorted(sums)[1]
    key = f"tg:{{tg}}:b:{bid}:{period}"
    rdb.hincrby(key, "spent", 1)
    p = ledger("--usage-topic", topic, "reconcile", expect=1)
    line = next(x for x in p.stdout.splitlines()
                if x.split()[:2] == [bid, period])
    kafka_spent = sums[(bid, period)][0]
    assert line.split()[2:5] == [str(kafka_spent), str(kafka_spent + 1), "+1"]
    assert line.split()[-1] == "spent"
    assert "1 differ" in p.stdout
    doc = json.loads(ledger("--usage-topic", topic, "reconcile", "--json",
                            expect=1).stdout)
    bad = [x for x in doc["pairs"] if not x["match"]]
    assert [(x["id"], x["period"], x["diffNanoUsd"]) for x in bad] == [
        (bid, period, 1)]

    # A leaked reservation is a difference too.
    rdb.hincrby(key, "spent", -1)
    rdb.hset(key, "reserved", 5000)
    p = ledger("--usage-topic", topic, "reconcile", expect=1)
    assert "reserved" in p.stdout

    # Spend in Redis that no event explains.
    rdb.hset(key, "reserved", 0)
    rdb.hset("tg:{tg}:b:ghost:2026-11", mapping={"spent": 3})
    p = ledger("--usage-topic", topic, "reconcile", expect=1)
    assert any(x.split()[:5] == ["ghost", "2026-11", "0", "3", "+3"]
               for x in p.stdout.splitlines())


def test_rebuild_restores_flushed_redis(ledger, rdb, kafka, topic):
    events = synthetic_events(40, seed=11)
    produce(kafka, topic, [(e["requestId"], e) for e in events])
    sums = ledger_sums(events)

    p = ledger("--usage-topic", topic, "rebuild", "--dry-run", expect=0)
    assert f"{len(sums)} would change" in p.stdout
    assert rdb.dbsize() == 0

    rdb.hset("tg:{tg}:b:all:2026-11", mapping={"spent": 1, "reserved": 77})
    rdb.hset("tg:{tg}:b:stale:2026-10", mapping={"spent": 500, "approved": 2})
    p = ledger("--usage-topic", topic, "rebuild", expect=0)
    assert "stale 2026-10: spent 500 -> 0" in p.stdout
    spent_all = sums[("all", "2026-11")][0]
    assert f"all 2026-11: spent 1 -> {spent_all}" in p.stdout
    for (bid, period), (spent, tokens, approved) in sums.items():
        h = rdb.hgetall(f"tg:{{tg}}:b:{bid}:{period}")
        assert (int(h["spent"]), int(h["spentTokens"]),
                int(h["approved"])) == (spent, tokens, approved)
    assert rdb.hget("tg:{tg}:b:all:2026-11", "reserved") == "77"

    # The leaked reservation still makes reconcile fail until reset.
    ledger("--usage-topic", topic, "reconcile", expect=1)
    ledger("--usage-topic", topic, "rebuild", "--reset-reserved", expect=0)
    ledger("--usage-topic", topic, "reconcile", expect=0)

    # From nothing at all.
    rdb.flushdb()
    ledger("--usage-topic", topic, "rebuild", expect=0)
    ledger("--usage-topic", topic, "reconcile", expect=0)
    p = ledger("--usage-topic", topic, "rebuild", expect=0)
    assert "0 changed" in p.stdout


def test_reconcile_reports_conflicts_and_bad_events(ledger, rdb, kafka,
                                                    topic):
    a = usage_event("dup-1", cost=100, inp=1, budgets=[("x", "2026-11")])
    b = dict(a, costNanoUsd=101)  # same requestId, different content
    produce(kafka, topic, [("dup-1", a), ("junk", b"not json"),
                           ("dup-1", b),
                           ("neg", usage_event("neg", cost=-5))])
    rdb.hset("tg:{tg}:b:x:2026-11", mapping={"spent": 100, "spentTokens": 1})
    p = ledger("--usage-topic", topic, "reconcile", expect=1)
    assert "conflict" in p.stderr and "dup-1" in p.stderr
    assert "not JSON" in p.stderr
    assert "costNanoUsd" in p.stderr
    assert "1 conflicts, 2 malformed" in p.stdout
    # The first event read counts; the pair itself matches.
    doc = json.loads(ledger("--usage-topic", topic, "reconcile", "--json",
                            expect=1).stdout)
    assert doc["pairs"][0]["match"] is True
    assert sorted(i["kind"] for i in doc["issues"]) == [
        "conflict", "malformed", "malformed"]

    # rebuild refuses to write from such a topic unless forced.
    rdb.flushdb()
    ledger("--usage-topic", topic, "rebuild", expect=1)
    assert rdb.dbsize() == 0
    ledger("--usage-topic", topic, "rebuild", "--force", expect=0)
    assert rdb.hget("tg:{tg}:b:x:2026-11", "spent") == "100"


def test_reconcile_ignores_aborted_transactions(ledger, rdb, kafka, topic):
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": kafka,
                  "transactional.id": f"tgtest-{uuid.uuid4().hex}"})
    p.init_transactions(30)
    kept = usage_event("kept", cost=700, inp=3, budgets=[("t", "total")])
    lost = usage_event("lost", cost=900, inp=4, budgets=[("t", "total")])
    p.begin_transaction()
    p.produce(topic, key="lost", value=json.dumps(lost))
    p.flush(30)
    p.abort_transaction(30)
    p.begin_transaction()
    p.produce(topic, key="kept", value=json.dumps(kept))
    p.commit_transaction(30)
    rdb.hset("tg:{tg}:b:t:total", mapping={"spent": 700, "spentTokens": 3})
    ledger("--usage-topic", topic, "reconcile", expect=0)


def test_reconcile_missing_topic_and_brokers(ledger, rdb, binary, ledger_url):
    p = ledger("--usage-topic", f"tgtest.absent.{uuid.uuid4().hex}",
               "reconcile", expect=1)
    assert "Unknown topic" in p.stderr or "not found" in p.stderr
    env = {k: v for k, v in os.environ.items() if k != "TOLLGATE_BROKERS"}
    p = subprocess.run([str(binary), "--redis", ledger_url, "reconcile"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1 and "--brokers" in p.stderr


# --- report ---------------------------------------------------------------

def parse_ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def report_sums(events, keys, lo=None, hi=None):
    lo, hi = (parse_ts(lo) if lo else None), (parse_ts(hi) if hi else None)
    groups = defaultdict(lambda: [0] * 7)
    seen = set()
    for ev in events:
        if ev["requestId"] in seen:
            continue
        seen.add(ev["requestId"])
        ts = ev["timestamp"]
        if (lo and parse_ts(ts) < lo) or (hi and parse_ts(ts) >= hi):
            continue
        vals = []
        for k in keys:
            if k == "model":
                vals.append(ev["model"])
            elif k == "day":
                vals.append(ts[:10])
            elif k == "decision":
                vals.append(ev["decision"])
            else:
                vals.append(ev["tags"].get(k))
        g = groups[tuple(vals)]
        g[0] += 1
        g[1] += ev["decision"] == "approved"
        g[2] += ev["inputTokens"]
        g[3] += ev["outputTokens"]
        g[4] += ev["cacheReadInputTokens"]
        g[5] += ev["cacheWriteInputTokens"]
        g[6] += ev["costNanoUsd"]
    return dict(groups)


def usd9(nano):
    return f"{nano // 10**9}.{nano % 10**9:09d}"


def test_report_csv_json_html(ledger, rdb, kafka, topic, tmp_path):
    events = synthetic_events(80, seed=3)
    odd = usage_event("odd", cost=5, inp=1, day="2026-11-10",
                      tags={"applicationId": "x", "costCenter": "<b>&amp;"})
    events.append(odd)
    produce(kafka, topic, [(e["requestId"], e) for e in events]
            + [(events[0]["requestId"], events[0])])  # a duplicate

    p = ledger("--usage-topic", topic, "report", "--format", "csv", expect=0)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    want = report_sums(events, ["costCenter", "model"])
    got = {(r["costCenter"], r["model"]): [
        int(r[c]) for c in ("requests", "approved", "inputTokens",
                            "outputTokens", "cacheReadInputTokens",
                            "cacheWriteInputTokens", "costNanoUsd")]
        for r in rows}
    assert got == {k: v for k, v in want.items()}
    for r in rows:
        assert r["costUsd"] == usd9(int(r["costNanoUsd"]))

    lo, hi = "2026-11-10T00:00:00Z", "2026-11-11T12:00:00Z"
    doc = json.loads(ledger("--usage-topic", topic, "report", "--format",
                            "json", "--group-by", "day,decision", "--from",
                            lo, "--to", hi, expect=0).stdout)
    want = report_sums(events, ["day", "decision"], lo, hi)
    got = {(r["group"]["day"], r["group"]["decision"]): [
        r["requests"], r["approved"], r["inputTokens"], r["outputTokens"],
        r["cacheReadInputTokens"], r["cacheWriteInputTokens"],
        r["costNanoUsd"]] for r in doc["rows"]}
    assert got == want
    assert doc["total"]["costNanoUsd"] == sum(v[6] for v in want.values())
    assert doc["total"]["costUsd"] == usd9(doc["total"]["costNanoUsd"])
    assert doc["groupBy"] == ["day", "decision"]

    table = ledger("--usage-topic", topic, "report", "--group-by", "model",
                   expect=0).stdout
    total = sum(e["costNanoUsd"] for e in events)
    assert table.splitlines()[-1].split()[0] == "TOTAL"
    assert str(total) in table.splitlines()[-1]

    out = tmp_path / "spend.html"
    ledger("--usage-topic", topic, "report", "--format", "html",
           "--group-by", "costCenter", "--out", str(out), expect=0)
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "<rect" in page and "</html>" in page
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page
    assert "<b>&amp;" not in page and "&lt;b&gt;&amp;amp;" in page
