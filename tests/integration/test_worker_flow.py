"""The worker under load: backpressure bounds what is in flight, SIGTERM
drains and commits without losing anything, a group that changes shape
mid-run still answers every request once, and /metrics counts what the
events say."""

import collections
import json
import signal
import time
import urllib.request

from conftest import consume_all
from tgstack import free_port, Sim, Worker, events, ledger, produce, request, wait_assigned


def scrape(port):
    """Parses the Prometheus text format into {(name, labels): value}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read()
    out = {}
    for line in text.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _, labels = head.partition("{")
        pairs = tuple(sorted(
            tuple(p.split("=", 1)) for p in labels.rstrip("}").split(",") if p))
        out[(name, tuple((k, v.strip('"')) for k, v in pairs))] = float(value)
    return out


def total(metrics, name, **labels):
    return sum(v for (n, ls), v in metrics.items() if n == name and
               all(dict(ls).get(k) == val for k, val in labels.items()))


def test_backpressure_and_metrics_match_events(tmp_path, brokers, topics,
                                               ledger_redis):
    ledger(ledger_redis, "budget", "set", "eng", "--selector", "costCenter=eng",
           "--period", "day", "--limit-usd", "0.0005")
    sim = Sim("--latency-ms", "200")
    port = free_port()
    w = Worker(tmp_path, topics["prefix"], ledger_redis,
               args=["--bedrock-endpoint", sim.url, "--max-inflight", "16",
                     "--metrics-port", str(port)])
    try:
        wait_assigned([w], 4)
        reqs = [request(f"bp-{i}", ("eng", "sales")[i % 2]) for i in range(300)]
        reqs[7]["model"] = "nope"
        produce(brokers, topics["requests"], [(r["requestId"], r) for r in reqs])
        usage = dict(events(brokers, topics["usage"], 300, timeout=90))
        time.sleep(0.5)
        m = scrape(port)
        peak = sim.stats()["peakInFlight"]
    finally:
        assert w.stop() == 0
        sim.stop()
    assert total(m, "tollgate_inflight_peak") <= 16
    assert 1 <= peak <= 16
    assert total(m, "tollgate_inflight") == 0
    by = collections.Counter(u["decision"] for u in usage.values())
    assert total(m, "tollgate_requests_total") == 300
    assert total(m, "tollgate_requests_total", status="completed") == by["approved"]
    assert total(m, "tollgate_requests_total", status="rejected") == by["rejected_budget"]
    assert total(m, "tollgate_requests_total", status="invalid") == by["invalid"] == 1
    assert total(m, "tollgate_requests_total", costCenter="sales") == 150
    assert total(m, "tollgate_cost_nano_usd_total") == sum(
        u["costNanoUsd"] for u in usage.values())
    assert total(m, "tollgate_input_tokens_total") == sum(
        u["inputTokens"] for u in usage.values())
    assert total(m, "tollgate_output_tokens_total") == sum(
        u["outputTokens"] for u in usage.values())
    assert total(m, "tollgate_bedrock_latency_seconds_count") == by["approved"]
    assert total(m, "tollgate_ready") == 1


def test_keepalive_connections_keep_their_poll_handles(tmp_path, brokers,
                                                      topics, ledger_redis):
    """curl reports every keep-alive connection going idle as
    CURL_POLL_REMOVE; the worker keeps that socket's uv_poll handle until
    curl closes the socket (http.c), so 200 calls over a handful of
    connections make a handful of handles, not one per call (the old code
    made ~0.7 per call: tests/bench/RESULTS.md, F11)."""
    ledger(ledger_redis, "budget", "set", "ka", "--selector", "costCenter=ka",
           "--period", "day", "--limit-usd", "100")
    sim = Sim("--latency-ms", "0")
    port = free_port()
    w = Worker(tmp_path, topics["prefix"], ledger_redis,
               args=["--bedrock-endpoint", sim.url, "--max-inflight", "8",
                     "--metrics-port", str(port)])
    try:
        wait_assigned([w], 4)
        reqs = [request(f"ka-{i}", "ka") for i in range(200)]
        produce(brokers, topics["requests"], [(r["requestId"], r) for r in reqs])
        usage = dict(events(brokers, topics["usage"], 200, timeout=90))
        time.sleep(0.5)
        m = scrape(port)
        calls = sim.stats()["converse"]
    finally:
        assert w.stop() == 0
        sim.stop()
    assert collections.Counter(u["decision"] for u in usage.values()) == {
        "approved": 200}
    assert calls == 200
    sockets = total(m, "tollgate_http_sockets_opened_total")
    polls = total(m, "tollgate_http_poll_handles_created_total")
    # at most one connection per call in flight (curl may open a few more
    # while others are busy), each with one handle for its whole life
    assert 1 <= sockets <= 16, sockets
    assert 1 <= polls <= sockets, (polls, sockets)


def test_connections_closed_by_the_endpoint_close_their_sockets(
        tmp_path, brokers, topics, ledger_redis):
    """The simulator is restarted between two batches: every kept
    connection dies, curl closes it (through the worker's close callback,
    which closes its poll handle first) and opens new ones, which get the
    freed descriptor numbers again. The second batch is answered in full
    (no stale poll handle takes a reused number's wake-ups), every socket
    closed is counted, and what stays open is what curl keeps."""
    ledger(ledger_redis, "budget", "set", "rs", "--selector", "costCenter=rs",
           "--period", "day", "--limit-usd", "100")
    sim_port = free_port()
    sim = Sim("--port", str(sim_port), "--latency-ms", "0")
    port = free_port()
    w = Worker(tmp_path, topics["prefix"], ledger_redis,
               args=["--bedrock-endpoint", f"http://127.0.0.1:{sim_port}",
                     "--max-inflight", "8", "--metrics-port", str(port)])
    try:
        wait_assigned([w], 4)
        first = [request(f"rs1-{i}", "rs") for i in range(100)]
        produce(brokers, topics["requests"],
                [(r["requestId"], r) for r in first])
        usage1 = dict(events(brokers, topics["usage"], 100, timeout=90))
        m1 = scrape(port)
        sim.stop()
        sim = Sim("--port", str(sim_port), "--latency-ms", "0")
        second = [request(f"rs2-{i}", "rs") for i in range(100)]
        produce(brokers, topics["requests"],
                [(r["requestId"], r) for r in second])
        usage = dict(events(brokers, topics["usage"], 200, timeout=90))
        time.sleep(0.5)
        m2 = scrape(port)
    finally:
        assert w.stop() == 0
        sim.stop()
    assert len(usage1) == 100
    assert collections.Counter(u["decision"] for u in usage.values()) == {
        "approved": 200}
    opened1 = total(m1, "tollgate_http_sockets_opened_total")
    closed1 = total(m1, "tollgate_http_sockets_closed_total")
    opened = total(m2, "tollgate_http_sockets_opened_total")
    closed = total(m2, "tollgate_http_sockets_closed_total")
    polls = total(m2, "tollgate_http_poll_handles_created_total")
    assert 1 <= opened1 <= 16 and closed1 < opened1, (opened1, closed1)
    # the dead connections were closed through the callback, new ones made
    assert closed >= opened1 and opened > opened1, (opened1, opened, closed)
    assert 1 <= opened - closed <= 16, (opened, closed)
    assert 1 <= polls <= opened, (polls, opened)


def committed(brokers, group, topic):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": brokers, "group.id": group})
    try:
        md = c.list_topics(topic, timeout=10)
        parts = [TopicPartition(topic, p) for p in md.topics[topic].partitions]
        return sum(max(tp.offset, 0) for tp in c.committed(parts, timeout=10))
    finally:
        c.close()


def test_sigterm_drains_commits_and_loses_nothing(tmp_path, brokers, topics,
                                                  ledger_redis):
    sim = Sim("--latency-ms", "1500")
    group = topics["prefix"] + ".g"
    args = ["--bedrock-endpoint", sim.url, "--drain-timeout-ms", "20000"]
    w = Worker(tmp_path, topics["prefix"], ledger_redis, args=args, group=group)
    try:
        wait_assigned([w], 4)
        produce(brokers, topics["requests"],
                [(f"dr-{i}", request(f"dr-{i}", "eng")) for i in range(200)])
        deadline = time.monotonic() + 30
        while sim.stats()["inFlight"] < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        assert w.stop(signal.SIGTERM) == 0
        drained_in = time.monotonic() - started
        after_first = consume_all(brokers, topics["usage"], timeout=10)
        done = committed(brokers, group, topics["requests"])
        # every request the first worker answered is below its commit, and
        # everything below the commit was answered
        assert len({k for k, _, _ in after_first}) == done, (len(after_first), done)
        assert drained_in < 20
        w2 = Worker(tmp_path, topics["prefix"], ledger_redis, args=args,
                    group=group, name="w2")
        wait_assigned([w2], 4)
        usage = events(brokers, topics["usage"], 200, timeout=60)
        assert w2.stop() == 0
    finally:
        sim.stop()
    per_id = collections.defaultdict(set)
    for k, u in usage:
        per_id[k].add(json.dumps(u, sort_keys=True))
    assert len(per_id) == 200
    assert all(len(v) == 1 for v in per_id.values())


def test_rebalance_three_workers_join_and_leave(tmp_path, brokers, topics,
                                                ledger_redis):
    ledger(ledger_redis, "budget", "set", "all", "--selector", "none",
           "--period", "day", "--limit-usd", "0.02")
    sim = Sim("--latency-ms", "100")
    args = ["--bedrock-endpoint", sim.url]
    ws = [Worker(tmp_path, topics["prefix"], ledger_redis, name="r0", args=args)]
    try:
        wait_assigned(ws, 4)
        n = 3000
        produce(brokers, topics["requests"],
                [(f"rb-{i}", request(f"rb-{i}", "eng")) for i in range(n)])
        time.sleep(1)
        ws.append(Worker(tmp_path, topics["prefix"], ledger_redis, name="r1",
                         args=args))
        time.sleep(1.5)
        ws.append(Worker(tmp_path, topics["prefix"], ledger_redis, name="r2",
                         args=args))
        time.sleep(1.5)
        assert ws[0].stop() == 0
        time.sleep(1)
        assert ws[1].stop() == 0
        usage = events(brokers, topics["usage"], n, timeout=120)
    finally:
        # every worker stopped and the simulator too, then the verdict
        rcs = [w.stop() for w in ws if w.proc.poll() is None]
        sim.stop()
        assert rcs == [0] * len(rcs), rcs
    per_id = collections.defaultdict(set)
    for k, u in usage:
        per_id[k].add(json.dumps(u, sort_keys=True))
    assert len(per_id) == n
    assert all(len(v) == 1 for v in per_id.values())  # duplicates identical
    st = {b["id"]: b for b in json.loads(
        ledger(ledger_redis, "status", "--json").stdout)}
    approved = [json.loads(next(iter(v))) for v in per_id.values()]
    assert st["all"]["spentNanoUsd"] == sum(
        u["costNanoUsd"] for u in approved if u["decision"] == "approved")
    assert st["all"]["spentNanoUsd"] <= st["all"]["limitNanoUsd"]
    assert st["all"]["reservedNanoUsd"] == 0


def test_state_gauge_on_a_running_worker(tmp_path, brokers, topics,
                                         ledger_redis):
    # tollgate_requests_in_state is published once a tick: mid-run the
    # requests held by a slow Bedrock show as "calling", the rest of the
    # window waits for a slot at the gate or in consumption, and once all
    # are answered every state reads 0 (a count that leaked a transition
    # would stay above 0 or go below).
    ledger(ledger_redis, "budget", "set", "eng", "--selector", "costCenter=eng",
           "--period", "day", "--limit-usd", "100")
    sim = Sim("--latency-ms", "3000")
    port = free_port()
    w = Worker(tmp_path, topics["prefix"], ledger_redis,
               args=["--bedrock-endpoint", sim.url, "--max-inflight", "8",
                     "--metrics-port", str(port)])
    try:
        wait_assigned([w], 4)
        reqs = [request(f"gs-{i}", "eng") for i in range(20)]
        produce(brokers, topics["requests"], [(r["requestId"], r) for r in reqs])
        deadline = time.monotonic() + 20
        while True:  # the tick (1 s) after the first calls went out
            mid = scrape(port)
            if total(mid, "tollgate_requests_in_state", state="calling") or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        events(brokers, topics["usage"], 20, timeout=60)
        time.sleep(2.5)  # two ticks: the last transitions are published
        end = scrape(port)
    finally:
        assert w.stop() == 0
        sim.stop()
    states = {dict(ls)["state"]: v for (n, ls), v in mid.items()
              if n == "tollgate_requests_in_state"}
    assert 1 <= states["calling"] <= 8, states
    assert 1 <= sum(states.values()) <= 8, states
    assert all(v >= 0 for v in states.values()), states
    after = {dict(ls)["state"]: v for (n, ls), v in end.items()
             if n == "tollgate_requests_in_state"}
    assert len(after) >= 15 and set(after.values()) == {0}, after


def run_preloaded(tmp_path, brokers, topics, ledger_redis, batch, n=400):
    """n requests on the topic before the worker starts (so many are ready
    on one loop iteration), a budget that runs out part way; returns the
    worker's /metrics at the end and the usage events."""
    import redis

    ledger(ledger_redis, "budget", "set", "eng", "--selector", "costCenter=eng",
           "--period", "day", "--limit-usd", "0.002")
    reqs = [request(f"lb{batch}-{i}", ("eng", "sales")[i % 3 == 0])
            for i in range(n)]
    produce(brokers, topics["requests"], [(r["requestId"], r) for r in reqs])
    sim = Sim("--latency-ms", "5")
    port = free_port()
    w = Worker(tmp_path, topics["prefix"], ledger_redis,
               args=["--bedrock-endpoint", sim.url, "--metrics-port", str(port),
                     "--ledger-batch", str(batch)])
    try:
        usage = dict(events(brokers, topics["usage"], n, timeout=120))
        time.sleep(0.5)
        m = scrape(port)
    finally:
        assert w.stop() == 0
        sim.stop()
    assert len(usage) == n
    by = collections.Counter(u["decision"] for u in usage.values())
    assert by["approved"] > 10 and by["rejected_budget"] > 10, by
    # The ledger equals the usage events, to the nano-dollar.
    status = {b["id"]: b for b in
              json.loads(ledger(ledger_redis, "status", "--json").stdout)}
    eng = [u for u in usage.values() if u["decision"] == "approved"
           and u["tags"]["costCenter"] == "eng"]
    assert status["eng"]["spentNanoUsd"] == sum(u["costNanoUsd"] for u in eng)
    assert status["eng"]["reservedNanoUsd"] == 0
    assert status["eng"]["spentNanoUsd"] <= status["eng"]["limitNanoUsd"]
    assert redis.Redis.from_url(ledger_redis).zcard("tg:{tg}:leases") == 0
    res = ledger(ledger_redis, "reconcile", brokers=brokers,
                 usage_topic=topics["usage"], check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    for script in ("admit", "finish"):
        # every request admitted once and settled once (no retries here)
        assert total(m, "tollgate_ledger_batch_requests_total",
                     script=script) == n, (script, m)
    return m


def test_ledger_calls_are_batched(tmp_path, brokers, topics, ledger_redis):
    # --ledger-batch 64 (the default): what is ready on one loop iteration
    # goes in one call, so with 400 requests waiting some calls carry many.
    m = run_preloaded(tmp_path, brokers, topics, ledger_redis, 64)
    for script in ("admit", "finish"):
        calls = total(m, "tollgate_ledger_batches_total", script=script)
        most = total(m, "tollgate_ledger_batch_max_requests", script=script)
        print(f"{script}: {calls:.0f} calls, at most {most:.0f} requests")
        assert 1 < most <= 64, (script, most)
        assert calls < 400, (script, calls)


def test_ledger_batch_1_sends_one_call_per_request(tmp_path, brokers, topics,
                                                   ledger_redis):
    m = run_preloaded(tmp_path, brokers, topics, ledger_redis, 1)
    for script in ("admit", "finish"):
        assert total(m, "tollgate_ledger_batches_total", script=script) == 400
        assert total(m, "tollgate_ledger_batch_max_requests",
                     script=script) == 1


def test_ledger_batch_out_of_range_is_refused(tmp_path, topics, ledger_redis):
    for bad, why in (("0", "0 is not in 1-1024"),
                     ("1025", "1025 is not in 1-1024"),
                     ("-3", "expected a non-negative integer")):
        w = Worker(tmp_path, topics["prefix"], ledger_redis,
                   args=["--ledger-batch", bad])
        assert w.proc.wait(timeout=30) != 0
        w.stop()
        assert f"--ledger-batch: {why}" in w.text(), w.text()
