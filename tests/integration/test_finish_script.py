"""finish.lua and admit.lua on a real Redis, called as the worker calls
them: the stored format (usage with its "#tg:spent:<i>#" markers + the
spent values apart), the replies that re-publication depends on, the
budget counters, the lease and TTL bookkeeping, and threshold alerts
exactly once (including the guard that skips parsing thresholds when no
whole percentage was crossed). Needs only Redis (TOLLGATE_REDIS)."""

import json
import random
from pathlib import Path

import pytest
import redis

LUA = Path(__file__).resolve().parents[2] / "ledger" / "lua"
P = "tg:{tg}:"
LEASES = P + "leases"
PERIOD = "2026-11"
RETENTION = 3600


def usage_template(n):
    return json.dumps({
        "schema": "tollgate.usage.v1",
        "budgets": [{"id": f"b{i}", "spentNanoUsd": f"#tg:spent:{i + 1}#"}
                    for i in range(n)],
        "note": "#tg:spent:1#"}, separators=(",", ":"))


def fill(usage, spent):
    """What tg_ledger_usage_fill does (tests/unit/test_usage_fill.c)."""
    for i, v in enumerate(spent.split(",") if spent else []):
        usage = usage.replace(f'"#tg:spent:{i + 1}#"', v, 1)
    return usage


class Ledger:
    def __init__(self, url):
        self.r = redis.Redis.from_url(url, decode_responses=True)
        self.admit_sha = self.r.script_load((LUA / "admit.lua").read_text())
        self.finish_sha = self.r.script_load((LUA / "finish.lua").read_text())
        self.r.set(P + "budgets:version", "1")

    def admit(self, rid, budgets, res_nano, res_tokens):
        keys = [P + "budgets:version", P + "req:" + rid, LEASES]
        keys += [f"{P}b:{b}:{PERIOD}" for b, *_ in budgets]
        keys += [f"{P}rate:{b}:0" for b, *_ in budgets]
        args = ["1", "w1", "1000", "60000", str(res_nano), str(res_tokens),
                str(RETENTION), rid]
        for b, lim, lim_tok, _ in budgets:
            args += [b, str(lim), str(lim_tok), "0", "0"]
        return self.r.evalsha(self.admit_sha, len(keys), *keys, *args)

    def finish(self, rid, budgets, cost, tokens, approved=True,
               completion='{"c":1}', usage=None):
        keys = [P + "req:" + rid, LEASES]
        keys += [f"{P}b:{b}:{PERIOD}" for b, *_ in budgets]
        args = [rid, "1" if approved else "0", str(cost), str(tokens),
                str(RETENTION), completion,
                usage if usage is not None else usage_template(len(budgets))]
        for b, lim, lim_tok, thresholds in budgets:
            args += [b, str(lim), str(lim_tok), thresholds]
        return self.r.evalsha(self.finish_sha, len(keys), *keys, *args)

    def budget(self, b):
        return self.r.hgetall(f"{P}b:{b}:{PERIOD}")


@pytest.fixture
def ledger(ledger_redis):
    led = Ledger(ledger_redis)
    yield led
    led.r.close()


MONEY = ("money", 10**9, -1, "50,80,100")
TOKENS = ("tok", -1, 1000, "50,100")


def test_settles_and_replies_spent_values_only(ledger):
    budgets = [MONEY, TOKENS]
    assert ledger.admit("r1", budgets, 30000, 200)[0] == "ok"
    assert ledger.r.zscore(LEASES, "r1") is not None
    ttl = ledger.r.ttl(P + "req:r1")
    usage = usage_template(2)

    reply = ledger.finish("r1", budgets, 10020, 47, usage=usage)
    assert reply == ["ok", "10020,10020", "0"]
    rec = ledger.r.hgetall(P + "req:r1")
    assert rec["state"] == "done"
    assert rec["usage"] == usage  # stored as given, markers and all
    assert rec["spent"] == "10020,10020"
    assert rec["completion"] == '{"c":1}' and rec["alerts"] == ""
    assert ledger.r.zscore(LEASES, "r1") is None
    assert 0 < ledger.r.ttl(P + "req:r1") <= ttl  # admit's TTL kept
    for b in ("money", "tok"):
        h = ledger.budget(b)
        assert (h["reserved"], h["reservedTokens"]) == ("0", "0"), h
        assert (h["spent"], h["spentTokens"], h["approved"]) == \
            ("10020", "47", "1"), h
        assert "overrunNano" not in h

    # the second request sees the first's spend
    assert ledger.admit("r2", budgets, 30000, 200)[0] == "ok"
    assert ledger.finish("r2", budgets, 5, 3)[1] == "10025,10025"


def test_done_replies_match_the_first_publication(ledger):
    budgets = [MONEY, TOKENS]
    usage = usage_template(2)
    ledger.admit("r1", budgets, 30000, 200)
    ok = ledger.finish("r1", budgets, 600_000_000, 600, usage=usage)
    first = fill(usage, ok[1])
    assert "#tg:spent:1#" in first  # the free-text copy stays
    assert '"spentNanoUsd":600000000' in first and "#tg:spent:2#" not in first
    alerts = ok[3:]
    assert [a.split("|")[2] for a in alerts] == ["50", "50"], alerts

    # a retry of finish (lost reply) and a redelivery (admit) both get the
    # stored events: the same bytes once filled
    for done in (ledger.finish("r1", budgets, 1, 1, usage="other"),
                 ledger.admit("r1", budgets, 30000, 200)):
        assert done[0] == "done", done
        assert done[1] == '{"c":1}'
        assert fill(done[2], done[4]) == first
        assert done[3] == "\n".join(alerts)
    for b in ("money", "tok"):
        assert ledger.budget(b)["approved"] == "1"  # charged once


def test_packed_events_come_back_byte_for_byte(ledger_redis):
    """The worker sends the events packed (ledger/stored.h: 0x01, a length
    with NUL bytes, a zstd frame): both scripts store and return them as
    binary strings, every byte value and NULs included."""
    r = redis.Redis.from_url(ledger_redis)  # bytes, not str
    try:
        led = Ledger(ledger_redis)
        led.r.close()
        led.r = r
        led.admit("p1", [MONEY], 1000, 10)
        comp = b"\x01\x00\x00\x01\x00" + bytes(range(256)) + b"\x00end"
        usage = b"\x01\x00\x00\x00\x07" + bytes(range(255, -1, -1))
        assert led.finish("p1", [MONEY], 10, 1, completion=comp,
                          usage=usage)[0] == b"ok"
        for done in (led.finish("p1", [MONEY], 10, 1),
                     led.admit("p1", [MONEY], 1000, 10)):
            assert done[0] == b"done"
            assert done[1] == comp and done[2] == usage
    finally:
        r.close()


def test_overrun_is_recorded(ledger):
    ledger.admit("r1", [MONEY], 1000, 10)
    assert ledger.finish("r1", [MONEY], 1500, 10) == ["ok", "1500", "500"]
    assert ledger.budget("money")["overrunNano"] == "500"


def test_not_approved_reports_spend_and_charges_nothing(ledger):
    budgets = [MONEY, TOKENS]
    ledger.admit("r1", budgets, 1000, 10)
    ledger.finish("r1", budgets, 700, 7)
    # a reserved request that failed: reservation released, spent as is
    ledger.admit("r2", budgets, 1000, 10)
    assert ledger.finish("r2", budgets, 0, 0, approved=False) == \
        ["ok", "700,700", "0"]
    # a request that never reserved (rejected): nothing to release, but
    # the record must expire on its own
    assert ledger.finish("r3", [MONEY, ("new", 5, -1, "50")], 0, 0,
                         approved=False) == ["ok", "700,0", "0"]
    assert 0 < ledger.r.ttl(P + "req:r3") <= RETENTION
    h = ledger.budget("money")
    assert (h["spent"], h["approved"], h["reserved"]) == ("700", "1", "0")
    assert ledger.r.zcard(LEASES) == 0
    assert ledger.r.exists(f"{P}b:new:{PERIOD}") == 0


def crossings(before, after, limit, thresholds):
    return [t for t in thresholds
            if before * 100 < t * limit <= after * 100]


# the largest keeps 1,100 % of it below 2^53, where Lua's doubles are exact
@pytest.mark.parametrize("limit", [3, 7, 100, 999_983, 8_000_000_000_003])
def test_alerts_exactly_once_at_every_crossing(ledger, limit):
    """Steps through a budget up to 11x its limit: to 1 below each
    threshold then 1 more (a crossing by a hair, where the "whole
    percentage" guard must not skip it), random steps, and a last one
    crossing several at once: every threshold alerts once, at the request
    whose spend crossed it (as exact integers say)."""
    thresholds = [1, 33, 50, 66, 67, 99, 100, 101, 250, 1000]
    spec = ("b", limit, -1, ",".join(map(str, thresholds)))
    rnd = random.Random(limit)
    costs = []
    spent = 0
    for t in thresholds[:7]:
        below = -(-t * limit // 100) - 1  # the most that stays under t
        if below > spent:
            part = rnd.randint(0, below - spent)
            costs += [part, below - spent - part]
            spent = below
        costs.append(1)
        spent += 1
    costs.append(11 * limit - spent)
    spent, seen = 0, []
    for n, cost in enumerate(costs):
        reply = ledger.finish(f"a{n}", [spec], cost, 1)
        want = crossings(spent, spent + cost, limit, thresholds)
        spent += cost
        got = [int(a.split("|")[2]) for a in reply[3:]]
        assert got == want, (spent - cost, cost, limit)
        assert reply[1] == str(spent)
        seen += got
    assert seen == thresholds
    # already alerted: crossing again (after a correction) stays silent
    ledger.r.hset(f"{P}b:b:{PERIOD}", "spent", 0)
    assert ledger.finish("again", [spec], limit * 2, 1)[3:] == []


def test_token_only_budget_alerts_on_tokens(ledger):
    spec = ("tok", -1, 1000, "50,100")
    assert ledger.finish("t1", [spec], 10**12, 499)[3:] == []
    alerts = ledger.finish("t2", [spec], 1, 1)[3:]
    assert alerts == [f"tok|{P}b:tok:{PERIOD}|50|500|1000|tokens"]
    assert ledger.budget("tok")["alertTokens:50"] == "500"
    assert ledger.finish("t3", [spec], 1, 500)[3:] == \
        [f"tok|{P}b:tok:{PERIOD}|100|1000|1000|tokens"]
    # the spent value in the usage event is money all the same
    assert ledger.finish("t4", [spec], 1, 0)[1] == str(10**12 + 3)


def test_money_stays_exact_beyond_doubles(ledger):
    """HINCRBY keeps int64 sums exact: past 2^53 a Lua double would not."""
    big = 2**53 + 1
    ledger.r.hset(f"{P}b:m:{PERIOD}", "spent", big)
    assert ledger.finish("x", [("m", -1, -1, "")], 2, 1)[0] == "ok"
    assert ledger.budget("m")["spent"] == str(big + 2)
