#!/usr/bin/env python3
"""How many admissions and settlements one Redis sustains with the ledger's
real Lua scripts. A script that prints figures, not a test.

Run (needs redis-server and redis-benchmark >= 7.0 on PATH, redis-py):

    python3 tests/bench/ledger_bench.py                  # defaults below
    python3 tests/bench/ledger_bench.py --requests 500000 --clients 100
    python3 tests/bench/ledger_bench.py --no-python      # redis-benchmark only
    python3 tests/bench/ledger_bench.py --aof            # as the stack runs it
    python3 tests/bench/ledger_bench.py --lua-dir /tmp/old/lua   # compare
    python3 tests/bench/ledger_bench.py --batch 64       # batched calls

With --batch N each redis-benchmark command is one call of
admit_batch.lua / finish_batch.lua (the build's, BUILD/ledger/lua, made by
ledger/embed_lua.cmake) carrying N requests with their own random ids, as
the worker sends them (--ledger-batch); rates, us/call and CPU-s/1k are
then per request, not per call, so they compare with --batch 1 directly.

It starts its own redis-server on a free port (no persistence, or with
--aof the stack's `appendonly yes`, `appendfsync everysec`: Redis then
propagates every write of a script to the AOF, which costs CPU), loads
ledger/lua/admit.lua and finish.lua (or those of --lua-dir) with SCRIPT LOAD, writes --budgets budget
definitions (hash tg:{tg}:budgets, tg:{tg}:budgets:version), all matching
every request, with limits too high to reject (the checks still run), and
measures, median of --runs runs each:

  trivial  EVALSHA of `return 1`: the server's ceiling for a script call
           with the same clients and pipelining
  admit    admit.lua on a fresh request id each time (the reserving path:
           check every budget, HINCRBY reserved, write the idempotency
           record, ZADD the lease)
  finish   finish.lua settling a reservation, on ids reserved beforehand
           (--preadmit of them; the few random picks that repeat an id take
           the cheap "already done" path, the share is printed), storing
           realistic completion and usage events (~1.3 KB) for
           re-publication
  pairs    admit+finish pairs/s = 1 / (1/admit + 1/finish): Redis runs
           scripts one at a time, so a pair costs the sum of both

with redis-benchmark (-c clients, -P pipeline, -n requests, -r for a random
12-digit request id via __rand_int__; redis-benchmark shares the machine's
CPUs with redis-server). Then, unless --no-python, the same pairs measured
directly by --py-procs processes with redis-py pipelines, each admitting an
id and then settling that id, beside those clients' own trivial EVALSHA rate
(Python is the bottleneck there, so this is a lower bound and a check).

The script arguments follow the current admit.lua/finish.lua (5 arguments
per budget with rate-limit keys, or the older 3; finish 3 or 4 per budget):
read from the scripts themselves.

For each redis-benchmark phase it also reports, from the server itself, the
microseconds inside each EVALSHA (INFO commandstats, reset before the
phase) and the redis-server process's CPU seconds per 1,000 calls
(/proc/PID/stat, utime + stime over the phase): both count Redis's own work
only, so they are less disturbed by other load on the machine than rates.
"""

import argparse
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LUA = REPO / "ledger" / "lua"
PREFIX = "tg:{tg}:"
WORKER = "bench-worker"
RES_NANO, RES_TOKENS, COST_NANO, TOKENS = 26282, 117, 10020, 47
LEASE_MS, RETENTION_S = 900000, 604800
REDIS_PREADMIT = 2_000_000  # finish ids are drawn from these
ADMIT_IDS = 10**9  # admit ids are drawn from these (so nearly all fresh)

COMPLETION = json.dumps({
    "requestId": "bench", "status": "completed", "model": "nova-lite",
    "modelId": "amazon.nova-lite-v1:0",
    "output": {"text": "word " * 40, "stopReason": "end_turn"},
    "usage": {"inputTokens": 7, "outputTokens": 40, "totalTokens": 47},
    "costNanoUsd": COST_NANO,
    "tags": {"applicationId": "app-eng", "costCenter": "eng",
             "environment": "prod", "requestId": "bench",
             "timestamp": "2026-11-27T05:51:37.598239Z"},
    "attempts": 1, "latencyMs": 2,
    "completedAt": "2026-11-27T05:51:37.598239Z"}, separators=(",", ":"))


def usage_json(budget_ids, period):
    return json.dumps({
        "schema": "tollgate.usage.v1", "requestId": "bench",
        "timestamp": "2026-11-27T05:51:37.598239Z",
        "decidedAt": "2026-11-27T05:51:37.598239Z", "decision": "approved",
        "budgets": [{"id": b, "period": period, "limitNanoUsd": 10**15,
                     "spentNanoUsd": f"#tg:spent:{i + 1}#"}
                    for i, b in enumerate(budget_ids)],
        "model": "nova-lite", "modelId": "amazon.nova-lite-v1:0",
        "target": "amazon.nova-lite-v1:0",
        "tags": {"applicationId": "app-eng", "costCenter": "eng",
                 "environment": "prod"},
        "inputTokens": 7, "outputTokens": 40, "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0, "reservedNanoUsd": RES_NANO,
        "costNanoUsd": COST_NANO, "priceVersion": "aws-us-on-demand-2026-11",
        "workerId": WORKER, "attempts": 1, "latencyMs": 2,
        "bedrockLatencyMs": 1}, separators=(",", ":"))


# ------------------------------------------------------------- redis server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, aof=False):
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory(prefix="ledger-bench-")
        persist = (["--appendonly", "yes", "--appendfsync", "everysec"]
                   if aof else ["--appendonly", "no"])
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", *persist, "--dir", self.dir.name,
             "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        self.r = redis.Redis(port=self.port, decode_responses=True)
        for _ in range(100):
            try:
                self.r.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cpu_s(self):
        """utime + stime of redis-server (all its threads), seconds."""
        f = Path(f"/proc/{self.proc.pid}/stat").read_text()
        f = f[f.rindex(")") + 2:].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def evalsha_us(self):
        """usec_per_call of EVALSHA since the last CONFIG RESETSTAT."""
        stats = self.r.info("commandstats").get("cmdstat_evalsha", {})
        return float(stats.get("usec_per_call", 0))

    def stop(self):
        self.r.close()
        self.proc.terminate()
        self.proc.wait(10)
        self.dir.cleanup()


# ------------------------------------------------------------- the scripts


def script_layout():
    """(args per budget in admit, rate keys?, args per budget in finish)
    read from the scripts, so the bench follows their current format."""
    admit = (LUA / "admit.lua").read_text()
    finish = (LUA / "finish.lua").read_text()
    m = re.search(r"local PER = (\d+)", admit)
    per, rate_keys = (int(m.group(1)), "rate:" in admit) if m else (3, False)
    m = re.search(r"local a = 8 \+ \(i - 3\) \* (\d+)", finish)
    if not m:
        sys.exit("finish.lua: unknown argument layout; update the bench")
    return per, rate_keys, int(m.group(1))


def budgets(n):
    ids = ["all"] + [f"team-{i}" for i in range(1, n)]
    defs = {}
    for i, b in enumerate(ids):
        defs[b] = json.dumps({
            "id": b, "selector": {} if i == 0 else {"costCenter": "eng"},
            "period": "month", "limitNanoUsd": 10**15,
            "limitTokens": 10**12, "thresholds": [50, 80, 100], "rpm": 0,
            "tpm": 0, "onExceed": "reject"})
    return ids, defs


def admit_cmd(sha, ids, period, layout, rid):
    per, rate_keys, _ = layout
    keys = [PREFIX + "budgets:version", PREFIX + "req:" + rid,
            PREFIX + "leases"] + [f"{PREFIX}b:{b}:{period}" for b in ids]
    if rate_keys:
        keys += [f"{PREFIX}rate:{b}:0" for b in ids]
    args = ["1", WORKER, str(int(time.time() * 1000)), str(LEASE_MS),
            str(RES_NANO), str(RES_TOKENS), str(RETENTION_S), "bench-lease"]
    for b in ids:
        args += [b, str(10**15), str(10**12), "0", "0"][:per]
    return ["EVALSHA", sha, str(len(keys)), *keys, *args]


def finish_cmd(sha, ids, period, layout, rid, usage):
    fper = layout[2]
    keys = [PREFIX + "req:" + rid, PREFIX + "leases"] + \
        [f"{PREFIX}b:{b}:{period}" for b in ids]
    args = ["bench-lease", "1", str(COST_NANO), str(TOKENS), str(RETENTION_S),
            COMPLETION, usage]
    for b in ids:
        args += ([b, str(10**15), "50,80,100"] if fper == 3
                 else [b, str(10**15), str(10**12), "50,80,100"])
    return ["EVALSHA", sha, str(len(keys)), *keys, *args]


PREADMIT = """
-- KEYS: leases, budget keys...; ARGV: count, prefix, res_nano, res_tokens,
-- lease deadline. Writes what admit.lua writes for each of `count` ids.
local n, keys = tonumber(ARGV[1]), {}
for i = 2, #KEYS do keys[#keys + 1] = KEYS[i] end
local joined = table.concat(keys, '\\n')
for i = 0, n - 1 do
  local id = string.format('bench-%012d', i)
  redis.call('HSET', ARGV[2] .. id, 'state', 'reserved', 'worker', 'w',
             'lease', ARGV[5], 'keys', joined, 'resNano', ARGV[3],
             'resTokens', ARGV[4])
  redis.call('ZADD', KEYS[1], ARGV[5], id)
end
for i = 2, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'reserved', n * tonumber(ARGV[3]))
  redis.call('HINCRBY', KEYS[i], 'reservedTokens', n * tonumber(ARGV[4]))
end
return n
"""


def batch_cmd(sha, cmds):
    """One call of a batch script carrying the single EVALSHA `cmds`
    (ledger/lua/batch.lua.in: KEYS all keys; ARGV n, per request its key
    and argument counts, then all arguments)."""
    keys, counts, args = [], [], []
    for c in cmds:
        nk = int(c[2])
        keys += c[3:3 + nk]
        args += c[3 + nk:]
        counts += [str(nk), str(len(c) - 3 - nk)]
    return ["EVALSHA", sha, str(len(keys)), *keys, str(len(cmds)), *counts,
            *args]


def batched(cmd, sha, n):
    """cmd (one request, ids by __rand_int__) n times in one batch call:
    redis-benchmark draws every __rand_int__ of a command apart."""
    return cmd if n <= 1 else batch_cmd(sha, [cmd] * n)


def setup(r, ids, defs, preadmit=0, period="2026-11"):
    r.flushall()
    r.hset(PREFIX + "budgets", mapping=defs)
    r.set(PREFIX + "budgets:version", "1")
    shas = {name: r.script_load((LUA / f"{name}.lua").read_text())
            for name in ("admit", "finish")}
    if BATCH > 1:
        for name in ("admit", "finish"):
            path = BATCH_LUA / f"{name}_batch.lua"
            if not path.is_file():
                sys.exit(f"{path} not built; --batch-lua-dir")
            shas[name + "_batch"] = r.script_load(path.read_text())
    shas["trivial"] = r.script_load("return 1")
    if preadmit:
        keys = [PREFIX + "leases"] + [f"{PREFIX}b:{b}:{period}" for b in ids]
        for start in range(0, preadmit, 20_000):  # keep each call short
            n = min(20_000, preadmit - start)
            r.eval(PREADMIT.replace("for i = 0, n - 1",
                                    f"for i = {start}, {start} + n - 1"),
                   len(keys), *keys, n, PREFIX + "req:", RES_NANO,
                   RES_TOKENS, int(time.time() * 1000) + LEASE_MS)
    return shas


# ------------------------------------------------------- redis-benchmark


def bench(srv, cmd, a, keyspace, stats, per=1):
    """Rate of `cmd` (per requests each: a batch call), in requests/s;
    appends (us per request, CPU-s per 1,000 requests) to stats."""
    srv.r.config_resetstat()
    cpu0 = srv.cpu_s()
    n = max(1, a.requests // per)
    rate = bench_rate(srv.port, cmd, a, keyspace, n)
    stats.append((srv.evalsha_us() / per,
                  (srv.cpu_s() - cpu0) * 1000 / (n * per)))
    return rate * per


def bench_rate(port, cmd, a, keyspace, n):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-n", str(n),
         "-c", str(a.clients), "-P", str(a.pipeline), "-r", str(keyspace),
         "--csv", *cmd], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.exit(f"redis-benchmark failed: {out.stderr}")
    # "test","rps",6 latency columns: the test name is the command, quotes
    # and commas unescaped, so read the numbers from the right
    line = out.stdout.strip().splitlines()[-1]
    return float(line.rsplit(",", 7)[1].strip('"'))


def check(r, cmd):
    """Runs one command as redis-benchmark would, to see the script's
    verdict (a bench of error replies would measure nothing)."""
    reply = r.execute_command(*[c.replace("__rand_int__", "999999999999")
                                for c in cmd])
    if isinstance(reply, list) and reply and isinstance(reply[0], list):
        reply = reply[0]  # a batch: the first request's reply
    return reply[0] if isinstance(reply, list) else reply


# ---------------------------------------------------- direct Python pairs


def py_client(port, kind, shas, ids, period, layout, usage, n, batch, tag,
              out):
    try:
        py_loop(port, kind, shas, ids, period, layout, usage, n, batch, tag,
                out)
    except Exception as e:  # the parent must not wait for it forever
        out.put(e)


def py_loop(port, kind, shas, ids, period, layout, usage, n, batch, tag,
            out):
    import redis

    r = redis.Redis(port=port)
    done, t0 = 0, time.perf_counter()
    while done < n:
        p = r.pipeline(transaction=False)
        for i in range(done, min(n, done + batch)):
            if kind == "trivial":
                p.execute_command("EVALSHA", shas["trivial"], 0)
                p.execute_command("EVALSHA", shas["trivial"], 0)
            else:
                rid = f"py-{tag}-{i}"
                p.execute_command(*admit_cmd(shas["admit"], ids, period,
                                             layout, rid))
                p.execute_command(*finish_cmd(shas["finish"], ids, period,
                                              layout, rid, usage))
        replies = p.execute()
        if kind == "pairs":
            bad = [x for x in replies[::2] if x[0] != b"ok"]
            if bad:
                raise RuntimeError(f"admit said {bad[0]}")
        done = min(n, done + batch)
    out.put((n, time.perf_counter() - t0))


def py_rate(port, kind, shas, ids, period, layout, usage, a, run):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(
        target=py_client,
        args=(port, kind, shas, ids, period, layout, usage, a.py_pairs,
              a.py_batch, f"{run}-{k}", q)) for k in range(a.py_procs)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    res = [q.get(timeout=900) for _ in procs]
    for p in procs:
        p.join()
    for x in res:
        if isinstance(x, Exception):
            raise RuntimeError(f"a Python client failed: {x!r}")
    return sum(n for n, _ in res) / (time.perf_counter() - t0)


# ------------------------------------------------------------------ main


def machine():
    ver = subprocess.run(["redis-server", "--version"], capture_output=True,
                         text=True).stdout.split()
    bver = subprocess.run(["redis-benchmark", "--version"],
                          capture_output=True, text=True).stdout.strip()
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model,
            "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "redis": next((v[2:] for v in ver if v.startswith("v=")), "?"),
            "redis-benchmark": bver}


BATCH = 1
BATCH_LUA = Path(os.environ.get("TOLLGATE_BUILD_DIR", REPO / "build")) / \
    "ledger" / "lua"


def main():
    global LUA, BATCH, BATCH_LUA  # pylint: disable=global-statement
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--preadmit", type=int, default=REDIS_PREADMIT,
                    help="reservations made before the finish run, whose "
                    "ids it draws from (admit draws from 10^9)")
    ap.add_argument("--budgets", type=int, default=3,
                    help="budgets every request matches")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-python", action="store_true")
    ap.add_argument("--py-procs", type=int, default=4)
    ap.add_argument("--py-pairs", type=int, default=10_000,
                    help="pairs per Python process")
    ap.add_argument("--py-batch", type=int, default=50,
                    help="pairs per pipeline")
    ap.add_argument("--aof", action="store_true",
                    help="appendonly yes, appendfsync everysec (the stack's "
                    "setting) instead of no persistence")
    ap.add_argument("--lua-dir", type=Path, default=REPO / "ledger" / "lua",
                    help="the scripts to measure (default ledger/lua)")
    ap.add_argument("--batch", type=int, default=1,
                    help="requests per admit/finish call (batch scripts)")
    ap.add_argument("--batch-lua-dir", type=Path, default=BATCH_LUA,
                    help="where the built admit_batch.lua/finish_batch.lua "
                    "are (default $TOLLGATE_BUILD_DIR/ledger/lua)")
    a = ap.parse_args()
    LUA = a.lua_dir
    BATCH, BATCH_LUA = a.batch, a.batch_lua_dir
    for tool in ("redis-server", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found")

    layout = script_layout()
    ids, defs = budgets(a.budgets)
    period = datetime.now(timezone.utc).strftime("%Y-%m")
    usage = usage_json(ids, period)
    srv = Server(aof=a.aof)
    results = {k: [] for k in ("trivial", "admit", "finish", "py_trivial",
                               "py_pairs")}
    stats = {k: [] for k in ("trivial", "admit", "finish")}
    settled = []  # share of finish calls that settled a reservation
    try:
        for run in range(a.runs):
            shas = setup(srv.r, ids, defs, period=period)
            triv = ["EVALSHA", shas["trivial"], "0"]
            adm = batched(admit_cmd(shas["admit"], ids, period, layout,
                                    "bench-__rand_int__"),
                          shas.get("admit_batch"), BATCH)
            results["trivial"].append(bench(srv, triv, a, ADMIT_IDS,
                                            stats["trivial"]))
            verdict = check(srv.r, adm)
            assert verdict == "ok", f"admit replied {verdict}"
            results["admit"].append(bench(srv, adm, a, ADMIT_IDS,
                                          stats["admit"], BATCH))

            shas = setup(srv.r, ids, defs, preadmit=a.preadmit, period=period)
            fin = batched(finish_cmd(shas["finish"], ids, period, layout,
                                     "bench-__rand_int__", usage),
                          shas.get("finish_batch"), BATCH)
            results["finish"].append(bench(srv, fin, a, a.preadmit,
                                           stats["finish"], BATCH))
            settled.append(int(srv.r.hget(f"{PREFIX}b:all:{period}",
                                          "approved")) / a.requests)
            if not a.no_python:
                shas = setup(srv.r, ids, defs, period=period)
                results["py_trivial"].append(py_rate(
                    srv.port, "trivial", shas, ids, period, layout, usage, a,
                    run) * 2)
                results["py_pairs"].append(py_rate(
                    srv.port, "pairs", shas, ids, period, layout, usage, a,
                    run))
                b = srv.r.hgetall(f"{PREFIX}b:all:{period}")
                assert int(b["reserved"]) == 0 and \
                    int(b["approved"]) == a.py_procs * a.py_pairs, b
            print(f"run {run + 1}/{a.runs}: " + ", ".join(
                f"{k} {v[-1]:,.0f}" for k, v in results.items() if v) +
                f" (finish settled a reservation in {settled[-1]:.1%} of "
                "calls)", file=sys.stderr)
    finally:
        srv.stop()

    med = {k: statistics.median(v) for k, v in results.items() if v}
    us = {k: statistics.median(x[0] for x in v) for k, v in stats.items()}
    cpu = {k: statistics.median(x[1] for x in v) for k, v in stats.items()}
    pairs = 1 / (1 / med["admit"] + 1 / med["finish"])
    m = machine()
    print(f"\nledger bench: {m['nproc']} CPUs ({m['cpu']}), load average "
          f"{m['load']} at the end, redis {m['redis']}, "
          f"{m['redis-benchmark']}")
    print(f"{a.budgets} matching budgets per request; redis-benchmark -n "
          f"{a.requests} -c {a.clients} -P {a.pipeline} (-r {ADMIT_IDS} "
          f"for admit, {a.preadmit} pre-admitted ids for finish); "
          f"median of {a.runs} runs; admit.lua {layout[0]} args/budget"
          f"{' + rate keys' if layout[1] else ''}, finish.lua {layout[2]}; "
          f"{'AOF everysec' if a.aof else 'no persistence'}; scripts from "
          f"{LUA}; {BATCH} request(s) per admit/finish call"
          f"{' (batch scripts from ' + str(BATCH_LUA) + ')' if BATCH > 1 else ''}"
          "; admit/finish rates, us and CPU are per request")
    print()
    rows = [("trivial EVALSHA (return 1)", med["trivial"], "ops/s"),
            ("admit.lua", med["admit"], "ops/s"),
            (f"finish.lua ({statistics.median(settled):.0%} settling)",
             med["finish"], "ops/s"),
            ("admit+finish", pairs, "pairs/s")]
    us["pairs"] = us["admit"] + us["finish"]
    cpu["pairs"] = cpu["admit"] + cpu["finish"]
    print(f"{'':40} {'rate':>12} {'':8} {'vs trivial':>10} "
          f"{'us/call':>8} {'CPU-s/1k':>9}")
    for (name, v, unit), k in zip(rows, ("trivial", "admit", "finish",
                                         "pairs")):
        calls = 2 if unit == "pairs/s" else 1
        ratio = v * calls / med["trivial"]
        print(f"{name:40} {v:12,.0f} {unit:8} {ratio:10.2f} {us[k]:8.1f} "
              f"{cpu[k]:9.3f}")
    if "py_pairs" in med:
        print(f"\nredis-py, {a.py_procs} processes x {a.py_pairs} pairs, "
              f"pipelines of {a.py_batch} pairs (admit id X, then finish X):")
        print(f"{'trivial EVALSHA (same clients)':40} "
              f"{med['py_trivial']:12,.0f} {'ops/s':8}")
        print(f"{'admit+finish, measured':40} {med['py_pairs']:12,.0f} "
              f"{'pairs/s':8} {med['py_pairs'] * 2 / med['py_trivial']:10.2f}")
    print("\n'vs trivial' = script calls/s over trivial EVALSHA calls/s "
          "(a pair is 2 calls); us/call = usec_per_call of EVALSHA in INFO "
          "commandstats;\nCPU-s/1k = redis-server CPU seconds per 1,000 "
          "calls (pairs: per 1,000 pairs), AOF writing included.")


if __name__ == "__main__":
    main()
