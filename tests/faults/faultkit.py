"""What the fault tests share: a private redis-server and Kafka broker (the
shared test stack is never restarted), a request stream that keeps flowing
while faults hit, the invariants every fault test ends with, and the report
that the README's fault table is built from.

The invariants, checked by `verify` after each fault:
  - every requestId has exactly one terminal usage event (and one
    completion) for a read_committed consumer: nothing lost, and with
    transactions no duplicate either;
  - every budget's spent equals the sum of costNanoUsd of the approved usage
    events that name it, and the number of charges Redis counted (the
    budget's `approved`) equals the number of those events: nothing was
    charged twice (or not at all);
  - no reservation is left (leases empty, reserved 0, every record done);
  - no budget passed its limit;
  - tollgate-ledger reconcile passes;
  - every alert threshold the final spend crossed was published (once,
    with transactions).
"""

import collections
import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import redis

from conftest import REPO, consume_all, create_topics
from tgstack import (Sim, Worker, assert_clean, build_dir, free_port, ledger,
                     request, wait_assigned)

LEASES = "tg:{tg}:leases"
KAFKA_SH = REPO / "deploy" / "local" / "kafka.sh"
# Faster group changes than the 45 s default, so a killed worker's
# partitions move on within seconds (as the integration tests do).
FAST_GROUP = ["-X", "consumer.session.timeout.ms=6000",
              "-X", "consumer.heartbeat.interval.ms=1000"]
# Demand of one request(): ~10,300 nano-USD with max_tokens 45 (the
# simulator answers 40 words); budgets are set as shares of it.
MAX_TOKENS = 45
NANO_PER_REQUEST = 10_300
CENTERS = ("eng", "ops", "sales")


# ------------------------------------------------------------------ Redis


class RedisServer:
    """A redis-server of one test: its own port and directory, AOF on
    (appendonly yes, as deploy/local/redis.sh and the docs configure it)."""

    def __init__(self, tmp_path, password=None, fsync="everysec"):
        self.port = free_port()
        self.dir = Path(tmp_path) / f"redis-{self.port}"
        self.dir.mkdir(parents=True)
        self.password = password
        self.fsync = fsync
        self.proc = None
        self.extra = []  # more redis-server arguments for the next start
        self.start()

    @property
    def url(self):
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self, socket_timeout=30):
        return redis.Redis(host="127.0.0.1", port=self.port,
                           password=self.password, decode_responses=True,
                           socket_timeout=socket_timeout)

    def start(self):
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
               "--dir", str(self.dir), "--appendonly", "yes",
               "--appendfsync", self.fsync, "--save", "",
               "--enable-debug-command", "local",
               "--logfile", str(self.dir / "redis.log")]
        if self.password:
            cmd += ["--requirepass", self.password]
        cmd += self.extra
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        try:
            self._wait_up()
        except BaseException:
            self.stop()  # never leave a server behind
            raise

    def _wait_up(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                c = self.client(socket_timeout=1)
                c.ping()
                c.close()
                return
            except redis.exceptions.BusyLoadingError:
                pass
            except redis.exceptions.ConnectionError:
                assert self.proc.poll() is None, self.log()
            time.sleep(0.05)
        raise AssertionError(f"redis on {self.port} not up:\n{self.log()}")

    def log(self):
        p = self.dir / "redis.log"
        return p.read_text(errors="replace")[-3000:] if p.exists() else ""

    def shutdown(self):
        """A clean stop: SHUTDOWN writes and fsyncs the AOF first.
        (redis-cli: redis-py retries the connection SHUTDOWN closes.)"""
        env = {**os.environ, "REDISCLI_AUTH": self.password or ""}
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown"],
                       env=env, capture_output=True, timeout=30)
        self.proc.wait(timeout=30)

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------ Kafka


class KafkaBroker:
    """A single-node broker of one test, by deploy/local/kafka.sh with a
    state directory and ports of its own (nothing shared is restarted)."""

    def __init__(self, tmp_path):
        self.port, self.cport = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("TOLLGATE_KAFKA_")}
        self.env.update(TOLLGATE_STATE_DIR=str(Path(tmp_path) / "kafka-state"),
                        TOLLGATE_KAFKA_PORT=str(self.port),
                        TOLLGATE_KAFKA_CONTROLLER_PORT=str(self.cport))
        self.brokers = f"127.0.0.1:{self.port}"

    def _run(self, verb):
        res = subprocess.run([str(KAFKA_SH), verb], env=self.env, timeout=180,
                             capture_output=True, text=True)
        assert res.returncode == 0, f"kafka.sh {verb}: {res.stderr[-3000:]}"

    def start(self):
        self._run("start")

    def stop(self):
        self._run("stop")

    def kill(self):
        """kill -9: no clean shutdown, the log is recovered on start."""
        pidfile = Path(self.env["TOLLGATE_STATE_DIR"]) / "kafka" / "kafka.pid"
        pid = int(pidfile.read_text())
        os.kill(pid, signal.SIGKILL)
        while Path(f"/proc/{pid}").exists():
            time.sleep(0.05)

    def topics(self, prefix):
        names = create_topics(self.brokers, prefix, build_dir())
        return {"prefix": prefix, **names}


# --------------------------------------------------------------- requests


RUN = uuid.uuid4().hex[:6]  # ids of this run only: no stale ledger record


def stream_request(i, prefix):
    """Request i of a stream: the three cost centres and two environments in
    turn, texts of varying length."""
    return request(f"{prefix}-{RUN}-{i:05d}", CENTERS[i % 3],
                   text=f"question {i} " + "x" * (i % 37),
                   env=("prod", "dev")[(i // 3) % 2], max_tokens=MAX_TOKENS)


def set_stream_budgets(url, n):
    """Budgets a stream of n requests runs out of part way (so rejections
    happen under the fault too) and which overlap (a request of eng is
    charged to "all" and "eng" at once)."""
    usd = lambda share: f"{share * n * NANO_PER_REQUEST / 1e9:.9f}"
    ledger(url, "budget", "set", "all", "--selector", "none", "--period",
           "month", "--limit-usd", usd(0.7))
    ledger(url, "budget", "set", "eng", "--selector", "costCenter=eng",
           "--period", "day", "--limit-usd", usd(0.2))
    ledger(url, "budget", "set", "ops-prod", "--selector",
           "costCenter=ops,environment=prod", "--period", "total",
           "--limit-tokens", str(int(0.1 * n * 55)))
    ledger(url, "budget", "set", "sales", "--selector", "costCenter=sales",
           "--period", "month", "--limit-usd", "1000")  # never reached


class Feeder(threading.Thread):
    """Produces requests at a steady rate in the background, so faults hit
    a running stream rather than a backlog."""

    def __init__(self, brokers, topic, reqs, rate):
        super().__init__(daemon=True)
        self.brokers, self.topic, self.reqs, self.rate = brokers, topic, reqs, rate
        self.sent = 0
        self.error = None

    def run(self):
        from confluent_kafka import Producer

        try:
            # quiet: a broker restart would fill the output with
            # connection errors; delivery is checked by the flush
            p = Producer({"bootstrap.servers": self.brokers,
                          "enable.idempotence": True, "linger.ms": 5,
                          "message.timeout.ms": 120000, "log_level": 0})
            t0 = time.monotonic()
            for i, r in enumerate(self.reqs):
                delay = t0 + i / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                p.produce(self.topic, key=r["requestId"],
                          value=json.dumps(r).encode())
                p.poll(0)
                self.sent = i + 1
            assert p.flush(120) == 0, "requests not delivered"
        except Exception as e:  # reported by finish()
            self.error = e

    def finish(self, timeout=180):
        self.join(timeout)
        assert not self.is_alive(), "feeder stuck"
        if self.error:
            raise self.error


# ------------------------------------------------------------ observation


def in_flight(sim, redis_url):
    """(Bedrock calls in flight at the simulator, reservations held)."""
    calls = sim.stats()["inFlight"] if sim else 0
    c = redis.Redis.from_url(redis_url, decode_responses=True,
                             socket_timeout=5)
    try:
        held = c.zcard(LEASES)
    except redis.exceptions.RedisError:
        held = -1  # Redis is the fault
    finally:
        c.close()
    return calls, held


class Sampler(threading.Thread):
    """Samples in_flight every 100 ms; `at(t0, t1)` is the peak in a time
    window (the moments around a fault)."""

    def __init__(self, sim, redis_url):
        super().__init__(daemon=True)
        self.sim, self.url = sim, redis_url
        self.samples = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                calls, held = in_flight(self.sim, self.url)
                self.samples.append((time.monotonic(), calls, held))
            except Exception:
                pass
            self.stopped.wait(0.1)

    def now(self):
        """The latest sample: (calls, reservations)."""
        return self.samples[-1][1:] if self.samples else (0, 0)

    def at(self, t0, t1):
        win = [s for s in self.samples if t0 <= s[0] <= t1]
        return (max((s[1] for s in win), default=0),
                max((s[2] for s in win), default=0))

    def stop(self):
        self.stopped.set()
        if self.is_alive():
            self.join(5)


# --------------------------------------------------------------- workers


class Pool:
    """Workers by name; kill -9 and restart under the same --worker-id (so
    the restarted one fences its predecessor's open transaction)."""

    def __init__(self, tmp_path, prefix, redis_url, names, args, env=None,
                 group=None, default_membership=False):
        self.tmp, self.prefix, self.url = tmp_path, prefix, redis_url
        self.args, self.env, self.group = list(args), env, group
        self.default_membership = default_membership
        self.live = {n: self._start(n) for n in names}
        self.dead = []
        self.kills = 0

    def _start(self, name):
        return Worker(self.tmp, self.prefix, self.url, name=name,
                      args=self.args, env=self.env, group=self.group,
                      default_membership=self.default_membership)

    def kill9(self, name):
        w = self.live.pop(name)
        w.kill()
        self.dead.append(w)
        self.kills += 1

    def restart(self, name):
        self.live[name] = self._start(name)

    def workers(self):
        return list(self.live.values())

    def restart_exited(self):
        """Starts again each worker that exited, as systemd's
        Restart=on-failure or Kubernetes would; returns [(name, rc)]."""
        exits = []
        for name, w in list(self.live.items()):
            if w.proc.poll() is not None:
                w.log.close()
                assert_clean(w.text(), name)
                self.dead.append(w)
                exits.append((name, w.proc.returncode))
                self.live[name] = self._start(name)
        return exits

    def logs(self):
        return "\n".join(w.text() for w in self.dead + self.workers())

    def assert_running(self):
        for w in self.workers():
            assert w.proc.poll() is None, \
                f"{w.name} exited ({w.proc.returncode}):\n{w.text()[-3000:]}"

    def stop(self, timeout=60):
        """SIGTERM to all at once (each drains), then waits; checks the
        logs for sanitizer reports as Worker.stop does."""
        ws = self.workers()
        for w in ws:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        rcs = {}
        deadline = time.monotonic() + timeout
        for w in ws:
            try:
                rcs[w.name] = w.proc.wait(max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.proc.kill()
                rcs[w.name] = w.proc.wait()
            w.log.close()
            assert_clean(w.text(), w.name)
        return rcs


def kill_randomly(pool, names, every_s, until, sampler, rng=None):
    """kill -9 a random worker every `every_s` seconds (once Bedrock calls
    are in flight again, so each kill hits work) until `until()`; restarts
    it at once. Returns the in-flight figures at the kills."""
    rng = rng or random.Random(int(os.environ.get("TOLLGATE_FAULTS_SEED", "0"))
                               or None)
    peaks = []
    while not until():
        time.sleep(every_s * rng.uniform(0.7, 1.3))
        busy_by = time.monotonic() + 5
        while sampler.now()[0] == 0 and time.monotonic() < busy_by:
            time.sleep(0.05)
        if until():
            break
        name = rng.choice(names)
        peaks.append(sampler.now())
        pool.kill9(name)
        pool.restart(name)
    return peaks


# -------------------------------------------------------------- invariants


def usage_of(brokers, topic, ids, timeout):
    """Every message of topic (read_committed), once each id has one or the
    timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        left = max(2.0, deadline - time.monotonic())
        msgs = consume_all(brokers, topic, timeout=min(left, 20),
                           min_count=len(ids))
        have = {k for k, _, _ in msgs}
        if ids <= have or time.monotonic() >= deadline:
            return msgs
        time.sleep(1)


def nothing_reserved(redis_url, timeout=20):
    """Waits for leases to empty; returns what is still held (should be
    nothing): [leases...], [budget keys with reserved != 0], [records not
    done]."""
    c = redis.Redis.from_url(redis_url, decode_responses=True)
    deadline = time.monotonic() + timeout
    try:
        while True:
            leases = c.zrange(LEASES, 0, 20)
            held = [k for k in c.scan_iter("tg:{tg}:b:*")
                    if int(c.hget(k, "reserved") or 0) or
                    int(c.hget(k, "reservedTokens") or 0)]
            open_ = [k for k in c.scan_iter("tg:{tg}:req:*")
                     if c.hget(k, "state") != "done"]
            if not (leases or held or open_) or time.monotonic() > deadline:
                return leases, held, open_
            time.sleep(0.5)
    finally:
        c.close()


def verify(brokers, topics, redis_url, ids, txn=True, timeout=120):
    """Checks the invariants above; returns the figures for the report."""
    ids = set(ids)
    usage = usage_of(brokers, topics["usage"], ids, timeout)
    comps = usage_of(brokers, topics["completions"], ids, 30)
    per_id = collections.defaultdict(list)
    for k, v, _ in usage:
        per_id[k].append(v)
    comp_ids = collections.Counter(k for k, _, _ in comps)
    lost = sorted(ids - set(per_id))
    dups = sum(len(v) - 1 for v in per_id.values())
    conflicts = sorted(k for k, v in per_id.items() if len(set(v)) > 1)
    events = {k: json.loads(v[0]) for k, v in per_id.items()}
    assert not lost, f"{len(lost)} requests lost, e.g. {lost[:5]}"
    assert not conflicts, f"different events for one request: {conflicts[:5]}"
    assert ids <= set(comp_ids), f"completions missing: {sorted(ids - set(comp_ids))[:5]}"
    assert set(per_id) <= ids, f"events of unknown requests: {sorted(set(per_id) - ids)[:5]}"
    if txn:
        assert dups == 0, f"{dups} duplicate usage events for read_committed"
        extra = sum(n - 1 for n in comp_ids.values())
        assert extra == 0, f"{extra} duplicate completions for read_committed"

    leases, held, open_ = nothing_reserved(redis_url)
    assert not leases, f"reservations left: {leases}"
    assert not held, f"budgets with reserved left: {held}"
    assert not open_, f"records not done: {open_[:10]}"

    status = {b["id"]: b for b in json.loads(
        ledger(redis_url, "status", "--json").stdout)}
    sums, charges = collections.Counter(), collections.Counter()
    for u in events.values():
        if u["decision"] == "approved":
            for b in u["budgets"]:
                sums[b["id"]] += u["costNanoUsd"]
                charges[b["id"]] += 1
    # charged twice: charges Redis counted (the budget's `approved`) beyond
    # the approved requests that name the budget
    twice = 0
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    for bid, b in status.items():
        counted = int(r.hget(f"tg:{{tg}}:b:{bid}:{b['period']}", "approved")
                      or 0)
        twice += counted - charges[bid]
        assert counted == charges[bid], (bid, counted, charges[bid])
    r.close()
    for bid, b in status.items():
        assert b["reservedNanoUsd"] == 0, (bid, b)
        assert b.get("reservedTokens", 0) == 0, (bid, b)
        assert b["spentNanoUsd"] == sums[bid], \
            f"{bid}: Redis spent {b['spentNanoUsd']} != events {sums[bid]}"
        limit = b.get("limitNanoUsd")
        if limit is not None:
            assert b["spentNanoUsd"] <= limit, (bid, b)
        if b.get("limitTokens") is not None:
            assert b["spentTokens"] <= b["limitTokens"], (bid, b)
    rec = ledger(redis_url, "reconcile", brokers=brokers,
                 usage_topic=topics["usage"], check=False)
    assert rec.returncode == 0, f"reconcile:\n{rec.stdout}\n{rec.stderr}"
    crossed, alerted, twice_alerted = alerts = alerts_check(brokers, topics,
                                                           status)
    assert alerted == crossed, f"alerts lost: {alerted} of {crossed}"
    if txn:
        assert not twice_alerted, f"{twice_alerted} alerts published twice"
    decisions = collections.Counter(u["decision"] for u in events.values())
    return {"requests": len(ids), "lost": len(lost), "charged_twice": twice,
            "dups": dups, "decisions": dict(decisions),
            "alerts": alerts,
            "reconcile": rec.stdout.strip().splitlines()[-1]}


def alerts_check(brokers, topics, status):
    """(thresholds crossed by the final spend, alerts published for them,
    alerts published more than once): one alert per crossing is the aim."""
    want = set()
    for bid, b in status.items():
        limit, spent = b.get("limitNanoUsd"), b["spentNanoUsd"]
        if limit is None:  # a token-only budget alerts on tokens
            limit, spent = b.get("limitTokens"), b.get("spentTokens", 0)
        for th in (50, 80, 100):
            if limit and spent * 100 >= th * limit:
                want.add((bid, b["period"], th))
    got = collections.Counter()
    for _, v, _ in consume_all(brokers, topics["alerts"], timeout=10):
        a = json.loads(v)
        got[(a["budgetId"], a["period"], a["thresholdPercent"])] += 1
    return (len(want), len(want & set(got)),
            sum(n - 1 for n in got.values() if n > 1))


# ------------------------------------------------------------------ report


def report_path():
    return build_dir() / "faults-report.md"


REPORT_HEAD = ("| fault | requests | in flight at the fault (Bedrock calls / "
               "reservations) | lost | charged twice | duplicates "
               "(read_committed) | decisions | threshold alerts published "
               "| notes |\n|---|---|---|---|---|---|---|---|---|\n")


def report(fault, figures, peak=None, notes=""):
    """One row of the fault table, printed and appended to
    $TOLLGATE_BUILD_DIR/faults-report.md."""
    calls, held = peak if peak else ("-", "-")
    d = ", ".join(f"{k} {v}" for k, v in sorted(figures["decisions"].items()))
    crossed, alerted, twice = figures["alerts"]
    row = (f"| {fault} | {figures['requests']} | {calls} / {held} | "
           f"{figures['lost']} | {figures['charged_twice']} | "
           f"{figures['dups']} | {d} | {alerted} of {crossed} "
           f"({twice} twice) | {notes} |\n")
    print("\nFAULT " + row.strip())
    path = report_path()
    if not path.exists():
        path.write_text("# tollgate fault tests\n\n" + REPORT_HEAD)
    with path.open("a") as f:
        f.write(row)


def worst(peaks):
    """The highest in-flight figures over several faults."""
    return (max((p[0] for p in peaks), default=0),
            max((p[1] for p in peaks), default=0))


# ------------------------------------------------------------- a fault run


class Supervisor(threading.Thread):
    """Pool.restart_exited every half second, in the background."""

    def __init__(self, pool):
        super().__init__(daemon=True)
        self.pool, self.exits = pool, []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(0.5):
            self.exits += self.pool.restart_exited()

    def stop(self):
        self.stopped.set()
        if self.is_alive():
            self.join(10)


def run_faults(tmp_path, brokers, topics, redis_url, n, rate, schedule, *,
               names=("w1", "w2"), sim_args=("--latency", "uniform:200:1500"),
               worker_args=(), txn=True, verify_timeout=90, id_prefix="f",
               sim=None, supervise=False, default_membership=False):
    """Streams n requests at `rate`/s through workers on `brokers`, runs
    `schedule` ([(seconds after the stream starts, label, fn)], in order)
    meanwhile, then checks the invariants. Returns (figures, {label: in
    flight just before it}, the workers' logs). With supervise, a worker
    that exits is started again (figures["exits"]: [(name, rc)])."""
    set_stream_budgets(redis_url, n)
    own_sim = sim is None
    sim = sim or Sim(*sim_args)
    args = ["--brokers", brokers, "--bedrock-endpoint", sim.url, *FAST_GROUP,
            *worker_args]
    sampler = Sampler(sim, redis_url)
    reqs = [stream_request(i, id_prefix) for i in range(n)]
    peaks, pool, sup = {}, None, None
    try:
        pool = Pool(tmp_path, topics["prefix"], redis_url, list(names), args,
                    default_membership=default_membership)
        wait_assigned(pool.workers(), 4)
        if supervise:
            sup = Supervisor(pool)
            sup.start()
        sampler.start()
        feeder = Feeder(brokers, topics["requests"], reqs, rate)
        t0 = time.monotonic()
        feeder.start()
        for at, label, fn in schedule:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            peaks[label] = sampler.now()
            fn()
        feeder.finish()
        if not sup:
            pool.assert_running()
        figures = verify(brokers, topics, redis_url,
                         [r["requestId"] for r in reqs], txn=txn,
                         timeout=verify_timeout)
        figures["exits"] = sup.exits if sup else []
        st = sim.stats()
        figures["simPeak"] = st["peakInFlight"]
        figures["calls"] = st["converse"]
    finally:
        sampler.stop()
        if sup:
            sup.stop()
        rcs = pool.stop() if pool else {}
        if own_sim:
            sim.stop()
    assert all(rc == 0 for rc in rcs.values()), (rcs, pool.logs()[-3000:])
    return figures, peaks, pool.logs()


def calls_note(figures):
    """Bedrock calls beyond one per approved request (without Bedrock
    errors each is a call made twice: billed by AWS, charged once here)."""
    extra = figures["calls"] - figures["decisions"].get("approved", 0)
    return f"{figures['calls']} Bedrock calls ({extra:+d})"


def log_count(logs, needle):
    return sum(needle in line for line in logs.splitlines())
