"""Forecasts: `status` (text and --json) projects each money budget's
period-end spend from the period's average rate and the date it would
pass its limit; `report --format html` draws a burn-down per budget with
the limit line and the threshold marks (docs/operations.md, "Forecasts").
The arithmetic is unit-tested in tests/unit/test_forecast.c; here the
binaries, on the real stack."""

import calendar
import datetime
import json
import os
import re
import subprocess

from tgstack import Worker, assert_clean, binary, events, produce, request, wait_assigned


def run(url, *args, fake_now=None, brokers=None, usage_topic=None):
    cmd = [binary("tollgate-ledger"), "--redis", url]
    if brokers:
        cmd += ["--brokers", brokers, "--usage-topic", usage_topic]
    env = dict(os.environ)
    if fake_now:
        env["TOLLGATE_FAKE_NOW"] = fake_now
    res = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120,
                         env=env)
    assert_clean(res.stderr, "tollgate-ledger")
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def ts(*a):
    return calendar.timegm(datetime.datetime(*a).timetuple())


def iso(t):
    return datetime.datetime.utcfromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def test_status_projection_and_passing_date(ledger_redis, redis_client):
    run(ledger_redis, "budget", "set", "team", "--selector", "costCenter=eng",
        "--period", "month", "--limit-usd", "50")
    run(ledger_redis, "budget", "set", "slow", "--selector", "costCenter=ops",
        "--period", "month", "--limit-usd", "100")
    run(ledger_redis, "budget", "set", "today", "--selector", "none",
        "--period", "day", "--limit-usd", "0.000002")
    run(ledger_redis, "budget", "set", "over", "--selector", "x=y",
        "--period", "day", "--limit-usd", "0.000001")
    import redis
    r = redis.Redis.from_url(ledger_redis)
    r.hset("tg:{tg}:b:team:2026-12", "spent", 3 * 10**9)
    r.hset("tg:{tg}:b:slow:2026-12", "spent", 3 * 10**9)
    r.hset("tg:{tg}:b:today:2026-12-02", "spent", 1000)
    r.hset("tg:{tg}:b:over:2026-12-02", "spent", 1001)
    now = "2026-12-02T06:00:00Z"
    rows = {b["id"]: b for b in json.loads(run(ledger_redis, "status", "--json",
                                                fake_now=now))}
    # independent arithmetic: rate = spent / seconds elapsed in the period
    start, end, t = ts(2026, 12, 1), ts(2027, 1, 1), ts(2026, 12, 2, 6)
    el = t - start
    team = rows["team"]["forecast"]
    assert team["periodEnd"] == iso(end)
    assert team["ratePerDayNanoUsd"] == 3 * 10**9 * 86400 // el
    assert team["projectedNanoUsd"] == -(-3 * 10**9 * (end - start) // el)
    assert team["passesLimitAt"] == iso(start + 50 * 10**9 * el // (3 * 10**9) + 1)
    assert rows["slow"]["forecast"]["passesLimitAt"] is None  # not this month
    day0, day1 = ts(2026, 12, 2), ts(2026, 12, 3)
    today = rows["today"]["forecast"]
    assert today["projectedNanoUsd"] == 4000 and today["periodEnd"] == iso(day1)
    assert today["passesLimitAt"] == iso(day0 + 2000 * (t - day0) // 1000 + 1)
    table = run(ledger_redis, "status", fake_now=now).splitlines()
    head = table[0].split()
    assert head[8:10] == ["PROJECTED", "PASSES"], head
    cells = {l.split()[0]: l.split() for l in table[1:]}
    # 3 * 31 / 1.25 days = $74.40; 50e9 * 108,000 / 3e9 s = 20 d 20 h after the 1st
    assert cells["team"][8] == "$74.40" and cells["team"][9] == "2026-12-21"
    assert cells["slow"][9] == "-"
    assert cells["today"][9] == "2026-12-02"
    assert cells["over"][9] == "over"


def test_html_burn_down(tmp_path, brokers, topics, ledger_redis, bedrock_endpoint):
    run(ledger_redis, "budget", "set", "eng-month", "--selector", "costCenter=eng",
        "--period", "month", "--limit-usd", "0.0002", "--thresholds", "50,80,100")
    run(ledger_redis, "budget", "set", "all-day", "--selector", "none",
        "--period", "day", "--limit-usd", "1", "--thresholds", "25,90")
    run(ledger_redis, "budget", "set", "tokens-only", "--selector", "none",
        "--period", "day", "--limit-tokens", "100000")
    w = Worker(tmp_path, topics["prefix"], ledger_redis,
               args=["--bedrock-endpoint", bedrock_endpoint])
    try:
        wait_assigned([w], 4)
        reqs = [request(f"burn-{i}", ("eng", "ops")[i % 2]) for i in range(10)]
        produce(brokers, topics["requests"], [(q["requestId"], q) for q in reqs])
        usage = dict(events(brokers, topics["usage"], len(reqs)))
    finally:
        assert w.stop() == 0
    out = tmp_path / "report.html"
    run(ledger_redis, "report", "--format", "html", "--out", str(out),
        brokers=brokers, usage_topic=topics["usage"])
    html = out.read_text()
    assert "<h2>Budgets: burn-down this period</h2>" in html
    charts = re.findall(r'<svg class="burndown".*?</svg>', html, re.S)
    assert len(charts) == 2, charts  # money budgets only
    eng = next(c for c in charts if 'aria-label="burn-down of budget eng-month"' in c)
    # the limit line, the 50 % and 80 % marks (100 % is the limit itself)
    assert eng.count('class="limit"') == 1 and "limit $0.0002" in eng
    assert ">50%</text>" in eng and ">80%</text>" in eng and ">100%<" not in eng
    assert 'class="spent"' in eng and 'class="proj"' in eng
    day = next(c for c in charts if "all-day" in c)
    assert ">25%</text>" in day and ">90%</text>" in day
    # the caption's spend is the approved events' (the sum Redis holds)
    spent = sum(u["costNanoUsd"] for u in usage.values()
                if u["decision"] == "approved" and u["tags"]["costCenter"] == "eng")
    assert spent > 0
    usd = f"${spent // 10**9}.{spent % 10**9:09d}".rstrip("0")
    usd = usd if len(usd.split(".")[1]) >= 2 else usd + "0"
    assert f"spent {usd}; projected" in html, (usd, html[html.find("eng-month ("):][:300])
    # the cumulative line ends at the spend: its last point's height
    pts = re.search(r'class="spent" points="([^"]+)"', eng).group(1).split()
    assert float(pts[-1].split(",")[1]) < float(pts[0].split(",")[1])
