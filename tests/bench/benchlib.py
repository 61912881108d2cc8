"""Shared helpers of the benchmarks in tests/bench (run them with run.sh).

Everything here talks to the isolated bench stack that run.sh starts
(broker, Redis; simulators are started per benchmark), finds the Release
binaries in build-bench/, and measures processes from /proc:

  cpu_seconds(pid)  utime + stime of every thread, from /proc/PID/stat
  vm_hwm_mib(pid)   peak resident set (VmHWM), from /proc/PID/status

Results go to stdout as tables and, as JSON, to
build-bench/bench-out/results/<bench>.json (one object per invocation).
"""

import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("TOLLGATE_BUILD_DIR", REPO / "build-bench"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD
STATE = Path(os.environ.get("TOLLGATE_STATE_DIR", REPO / ".local" / "bench"))
if not STATE.is_absolute():
    STATE = REPO / STATE
BROKERS = os.environ.get("TOLLGATE_BROKERS", "127.0.0.1:59092")
REDIS_URL = os.environ.get("TOLLGATE_REDIS", "redis://127.0.0.1:56379")
REDIS_PORT = int(REDIS_URL.rsplit(":", 1)[1].split("/")[0])
OUT = BUILD / "bench-out"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The simulator checks no signature; the worker still signs every call.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIDTOLLGATEBENCH",
           "AWS_SECRET_ACCESS_KEY": "tollgate-bench-secret",
           "AWS_REGION": "us-east-1"}

TEAMS = ("eng", "sales", "research", "ops")
MODELS = ("nova-lite", "nova-micro")


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


def binary(name):
    for sub in ("worker", "producer", "ledger", "tests/sim", "deploy/local",
                "bench", ""):
        p = BUILD / sub / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    raise SystemExit(f"{name} is not built under {BUILD} (run tests/bench/run.sh)")


# ---------------------------------------------------------------- /proc

def cpu_seconds(pid):
    """utime + stime of all the process's threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def schedstat(pid, tid=None):
    """(cpu ns, run-queue wait ns, timeslices) of one thread (the main one by
    default), from /proc/PID/task/TID/schedstat: the wait is time spent
    runnable but not running, i.e. waiting for a core."""
    tid = tid or pid
    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
        cpu, wait, slices = (int(x) for x in f.read().split()[:3])
    return cpu, wait, slices


def thread_cpu(pid):
    """CPU seconds of the main thread and of all the others."""
    main = other = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        v = (int(fields[11]) + int(fields[12])) / CLK_TCK
        if int(tid) == pid:
            main += v
        else:
            other += v
    return main, other


def _status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def vm_hwm_mib(pid):
    return _status_kib(pid, "VmHWM") / 1024


def vm_rss_mib(pid):
    return _status_kib(pid, "VmRSS") / 1024


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def stack_pids():
    """The bench stack's long-running processes: name -> pid."""
    out = {}
    for name, rel in (("redis", "redis/redis.pid"), ("kafka", "kafka/kafka.pid")):
        try:
            pid = int((STATE / rel).read_text().strip())
            os.kill(pid, 0)
            out[name] = pid
        except (OSError, ValueError):
            pass
    return out


class CpuMeter:
    """CPU seconds that a set of processes used between start() and stop(),
    and the machine's total (from /proc/stat) over the same window."""

    def __init__(self, pids):
        self.pids = dict(pids)

    @staticmethod
    def _machine():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return (sum(v[:8]) - idle) / CLK_TCK, sum(v[:8]) / CLK_TCK

    def start(self):
        self.t0 = time.monotonic()
        self.c0 = {n: cpu_seconds(p) for n, p in self.pids.items()}
        self.m0 = self._machine()
        return self

    def stop(self):
        self.wall = time.monotonic() - self.t0
        self.used = {}
        for n, p in self.pids.items():
            try:
                self.used[n] = cpu_seconds(p) - self.c0[n]
            except OSError:
                self.used[n] = float("nan")
        m1 = self._machine()
        mine = sum(v for v in self.used.values() if v == v)
        self.used["machine (all processes)"] = m1[0] - self.m0[0]
        self.used["others (not this benchmark)"] = max(
            0.0, self.used["machine (all processes)"] - mine)
        self.machine_capacity = m1[1] - self.m0[1]
        return self.used


# ---------------------------------------------------------------- machine

def machine_info():
    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Model name:\s*(.+)", out)
        if m:
            model = m.group(1).strip()
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    return {"nproc": os.cpu_count(), "cpu": model, "ram_gib": round(mem, 1),
            "kernel": platform.release(), "host": platform.node()}


def busy_cores(seconds=1.0):
    """Cores the whole machine kept busy over a short window."""
    m0 = CpuMeter._machine()
    time.sleep(seconds)
    m1 = CpuMeter._machine()
    return (m1[0] - m0[0]) / seconds


def wait_quiet(max_wait=None, threshold=None):
    """Before a measured run: waits (up to BENCH_WAIT_QUIET seconds, default
    0) until the machine is nearly idle, since other work on this 2-core
    machine slows every figure. Returns the busy cores seen last; every
    result records it."""
    max_wait = float(os.environ.get("BENCH_WAIT_QUIET", 0)
                     if max_wait is None else max_wait)
    threshold = float(os.environ.get("BENCH_QUIET_CORES", 0.25)
                      if threshold is None else threshold)
    deadline = time.monotonic() + max_wait
    busy = busy_cores()
    while busy > threshold and time.monotonic() < deadline:
        log(f"machine busy ({busy:.2f} cores busy: other work and the idle stack); waiting")
        busy = busy_cores(5.0)
    if busy > threshold:
        log(f"warning: {busy:.2f} cores busy (other work and the idle stack) before this "
            "run; its figures are lower than on an idle machine")
    return busy


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- stack

def redis_cli(*args):
    return subprocess.run(["redis-cli", "-p", str(REDIS_PORT), *args],
                          capture_output=True, text=True, check=True).stdout


def reset_ledger(limit_usd=1_000_000):
    """Empties Redis (bench stack only) and sets the bench budgets: a
    global one and one per team, so each request is charged against two
    budgets, never over their limits."""
    redis_cli("FLUSHALL")
    led = binary("tollgate-ledger")
    specs = [("bench-all", "none")] + [(f"bench-{t}", f"costCenter={t}")
                                       for t in TEAMS]
    for bid, sel in specs:
        subprocess.run([led, "--redis", REDIS_URL, "budget", "set", bid,
                        "--selector", sel, "--period", "month",
                        "--limit-usd", str(limit_usd)],
                       check=True, capture_output=True)


def create_topics(prefix, partitions=4):
    subprocess.run([binary("tollgate-topics"), "--brokers", BROKERS,
                    "--prefix", prefix, "--partitions", str(partitions)],
                   check=True, capture_output=True)


def request(i, tag):
    team = TEAMS[i % len(TEAMS)]
    return {"requestId": f"{tag}-{i:07d}", "model": MODELS[i % len(MODELS)],
            "prompt": {"messages": [{"role": "user", "content":
                       "Summarise the attached release notes in three "
                       f"bullet points, please. Item {i}."}],
                       "parameters": {"max_tokens": 200,
                                      "temperature": 0.3}},
            "tags": {"applicationId": "app-" + team, "costCenter": team,
                     "environment": "prod"}}


def write_requests(path, n, tag):
    """n requests as JSONL; returns the mean line size in bytes."""
    total = 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for i in range(n):
            line = json.dumps(request(i, tag), separators=(",", ":")) + "\n"
            total += len(line)
            f.write(line)
    return total / max(n, 1)


def submit(path, prefix, max_rate=None, wait=True):
    """tollgate-submit from stdin (no ids sidecar file). Returns seconds
    taken, or the Popen when wait is False."""
    cmd = [binary("tollgate-submit"), "--brokers", BROKERS, "--topic-prefix",
           prefix, "-q"]
    if max_rate:
        cmd += ["--max-rate", str(max_rate)]
    cmd.append("-")
    t0 = time.monotonic()
    f = open(path, "rb")
    p = subprocess.Popen(cmd, stdin=f, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    f.close()
    if not wait:
        return p
    _, err = p.communicate()
    if p.returncode != 0:
        raise SystemExit(f"tollgate-submit failed: {err.decode()[-2000:]}")
    return time.monotonic() - t0


# ---------------------------------------------------------------- simulator

class Sim:
    """One tollgate-bedrock-sim on a free port."""

    def __init__(self, *args, name="sim"):
        OUT.mkdir(parents=True, exist_ok=True)
        self.log_path = OUT / f"{name}.log"
        self.err = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary("tollgate-bedrock-sim"),
                                      "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=self.err,
                                     text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (http://[0-9.]+:\d+)", line)
        if not m:
            self.stop()
            raise SystemExit(f"simulator did not start: {line!r}")
        self.url = m.group(1)
        self.pid = self.proc.pid

    def _get(self, path, body=None):
        import urllib.request
        req = urllib.request.Request(self.url + path, data=body,
                                     method="POST" if body is not None else "GET")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def stats(self):
        return self._get("/_sim/stats")

    def reset(self):
        self._get("/_sim/reset", b"")

    def config(self, changes=None):
        if changes is None:
            return self._get("/_sim/config")
        return self._get("/_sim/config", json.dumps(changes).encode())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


# ---------------------------------------------------------------- worker

class Worker:
    """One tollgate-worker with its log in bench-out/."""

    def __init__(self, prefix, sim_url, name="w1", group=None, args=(),
                 metrics=True):
        OUT.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = OUT / f"worker-{name}.log"
        self.metrics_port = free_port() if metrics else 0
        self.group = group or f"{prefix}.workers"
        cmd = [binary("tollgate-worker"), "--brokers", BROKERS,
               "--topic-prefix", prefix, "--group", self.group,
               "--redis", REDIS_URL, "--bedrock-endpoint", sim_url,
               "--worker-id", name, "--retention-s", "3600",
               "--metrics-port", str(self.metrics_port), *args]
        self.cmd = cmd
        self.log = open(self.log_path, "w")
        self.started = time.time()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log,
                                     env={**os.environ, **AWS_ENV})
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def text(self):
        return self.log_path.read_text(errors="replace")

    def assigned(self):
        held = 0
        for line in self.text().splitlines():
            if '"assigned ' in line:
                held = int(line.split('"assigned ')[1].split()[0])
            elif '"revoked ' in line:
                held = 0
        return held

    def metrics(self, timeout=3):
        """The /metrics text, or None when it cannot be fetched."""
        import urllib.request
        if not self.metrics_port:
            return None
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.metrics_port}/metrics",
                    timeout=timeout) as r:
                return r.read().decode()
        except OSError:
            return None

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc


def wait_assigned(workers, partitions, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = [w.assigned() for w in workers]
        if sum(held) == partitions and all(held):
            return
        for w in workers:
            if not w.alive():
                raise SystemExit(f"{w.name} exited:\n{w.text()[-3000:]}")
        time.sleep(0.1)
    raise SystemExit(f"group did not settle: {[w.assigned() for w in workers]}")


# ---------------------------------------------------------------- kafka

class GroupWatch:
    """Polls a consumer group's committed offsets on a topic (cheap: one
    OffsetFetch per poll, no consumption). The worker commits an offset
    only after both events of every earlier request were acknowledged."""

    def __init__(self, group, topic, partitions=4):
        from confluent_kafka import Consumer, TopicPartition
        self.c = Consumer({"bootstrap.servers": BROKERS, "group.id": group,
                           "enable.auto.commit": False})
        self.tps = [TopicPartition(topic, p) for p in range(partitions)]

    def committed(self):
        try:
            res = self.c.committed(self.tps, timeout=5)
        except Exception:  # noqa: BLE001 (transient: coordinator moving)
            return None
        return sum(max(tp.offset, 0) for tp in res)

    def wait(self, total, timeout, every=0.25, tick=None):
        """Until the committed offsets add up to total; returns the
        wall-clock time when that was seen, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = self.committed()
            if tick:
                tick(n)
            if n is not None and n >= total:
                return time.time()
            time.sleep(every)
        return None

    def close(self):
        self.c.close()


def read_topic(topic, expect, timeout=120, partitions=4):
    """Every message of the topic from the beginning, until `expect` were
    read: a list of (timestamp_ms, key, value)."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": BROKERS, "group.id": "bench-reader",
                  "enable.auto.commit": False,
                  "isolation.level": "read_committed",
                  "fetch.max.bytes": 52428800})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
              for p in range(partitions)])
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < expect and time.monotonic() < deadline:
        for m in c.consume(10000, timeout=1.0):
            if m.error():
                continue
            out.append((m.timestamp()[1], m.key(), m.value()))
    c.close()
    return out


def usage_events(prefix, expect, timeout=180):
    """The usage events of a run: list of (kafka_ts_ms, event dict)."""
    msgs = read_topic(f"{prefix}.usage", expect, timeout)
    return [(ts, json.loads(v)) for ts, _, v in msgs]


def topic_timestamps(topic, expect, timeout=120):
    """requestId (key) -> Kafka timestamp (ms) of a topic's messages."""
    return {k.decode(): ts for ts, k, _ in read_topic(topic, expect, timeout)}


# ---------------------------------------------------------------- metrics

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def parse_metrics(text):
    """Prometheus text -> {name: [(labels dict, value)]}."""
    out = {}
    for line in (text or "").splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return out


def metric_sum(parsed, name):
    return sum(v for _, v in parsed.get(name, []))


def hist_quantile(parsed, name, q):
    """A quantile of a Prometheus histogram, interpolated linearly inside
    the bucket where it falls (as histogram_quantile() does); the lowest
    bucket interpolates from 0. Returns seconds, or None."""
    buckets = []
    for labels, v in parsed.get(name + "_bucket", []):
        le = labels.get("le")
        buckets.append((float("inf") if le == "+Inf" else float(le), v))
    buckets.sort()
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if le == float("inf"):
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return buckets[-1][0]


def hist_buckets(parsed, name):
    return [(labels.get("le"), int(v))
            for labels, v in parsed.get(name + "_bucket", [])]


# ---------------------------------------------------------------- numbers

def quantile(xs, q):
    """Nearest-rank quantile of a list of numbers."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(q * len(s) + 0.5)) - 1))
    return s[k]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, nd=1):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(rows, header=None):
    """Prints rows (lists) as an aligned plain-text table."""
    rows = [[str(c) for c in r] for r in rows]
    if header:
        rows.insert(0, list(header))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, r in enumerate(rows):
        print("  " + "  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i])
                               for i, c in enumerate(r)))
        if header and n == 0:
            print("  " + "  ".join("-" * x for x in w))
    sys.stdout.flush()


def save(bench, result):
    d = OUT / "results"
    d.mkdir(parents=True, exist_ok=True)
    result = {"bench": bench, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                     time.gmtime()),
              "machine": machine_info(), **result}
    path = d / f"{bench}.json"
    path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    log(f"results written to {path}")
    return path


def run_tag(bench):
    return f"{bench}{int(time.time()) % 100000:05d}"


def inflight_peak_from_events(events):
    """Most requests in flight at once, reconstructed from usage events:
    each was in the worker from (kafka ts - latencyMs) to its kafka ts."""
    edges = []
    for ts, e in events:
        lat = e.get("latencyMs", 0)
        edges.append((ts - lat, 1))
        edges.append((ts, -1))
    edges.sort(key=lambda x: (x[0], x[1]))
    cur = peak = 0
    for _, d in edges:
        cur += d
        peak = max(peak, cur)
    return peak
