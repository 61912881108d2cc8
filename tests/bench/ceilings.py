"""Ceilings for the throughput benchmark, measured on the same machine in
the same run as the worker:

  kafka_ceiling   librdkafka consuming the same pre-loaded requests and
                  producing two messages per request with the worker's
                  settings (tests/bench/kafka_ceiling.c)
  kcat pipe       kcat -C (the same topic) | kcat -P (one message each)
  redis-benchmark the worker's own EVALSHA admit and finish calls,
                  captured with MONITOR from a warm-up run, replayed with a
                  fresh random request id per call
"""

import json
import re
import subprocess
import threading
import time

import benchlib as bl

REDIS_PIPELINE = 32   # redis-benchmark -P: the worker pipelines on one link
REDIS_CLIENTS = 1     # -c: the worker holds one connection


def kafka_ceiling(prefix, count):
    out = f"{prefix}.ceiling"
    subprocess.run([bl.binary("tollgate-topics"), "--brokers", bl.BROKERS,
                    "--partitions", "4", "-t", out], check=True,
                   capture_output=True)
    res = subprocess.run([bl.binary("kafka_ceiling"), "-b", bl.BROKERS, "-t",
                          f"{prefix}.requests", "-o", out, "-g",
                          f"{prefix}.ceiling", "-n", str(count)],
                         capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        bl.log("kafka_ceiling failed:", res.stderr[-1000:])
        return None
    r = json.loads(res.stdout.strip().splitlines()[-1])
    r["rate"] = r["count"] / r["seconds"]
    r["rateFromFirst"] = r["count"] / r["secondsFromFirst"]
    r["cpuPer1000"] = r["cpuSeconds"] / r["count"] * 1000
    return r


def kcat_pipe(prefix, count):
    out = f"{prefix}.kcat"
    subprocess.run([bl.binary("tollgate-topics"), "--brokers", bl.BROKERS,
                    "--partitions", "4", "-t", out], check=True,
                   capture_output=True)
    cmd = (f"kcat -C -b {bl.BROKERS} -t {prefix}.requests -o beginning -e -q "
           f"-K '\\t' -X isolation.level=read_committed | "
           f"kcat -P -b {bl.BROKERS} -t {out} -K '\\t' "
           f"-X enable.idempotence=true -X acks=all -X linger.ms=5 "
           f"-X compression.codec=lz4")
    t0 = time.monotonic()
    subprocess.run(["bash", "-c", cmd], check=True, timeout=600)
    secs = time.monotonic() - t0
    return {"count": count, "seconds": secs, "rate": count / secs,
            "command": cmd}


# ------------------------------------------------------------ redis

def _unrepr(s):
    """Undoes redis-cli MONITOR's sdscatrepr quoting of one argument."""
    out, i = bytearray(), 0
    esc = {"n": 10, "r": 13, "t": 9, "a": 7, "b": 8, '"': 34, "\\": 92}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "x":
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out.append(esc.get(n, ord(n)))
            i += 2
            continue
        out += c.encode()
        i += 1
    return out.decode("utf-8", "replace")


def _monitor_args(line):
    """The arguments of one MONITOR line, or None."""
    m = re.match(r'^\d+\.\d+ \[[^\]]*\] (.*)$', line)
    if not m:
        return None
    return [_unrepr(a) for a in re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))]


class Monitor:
    """redis-cli MONITOR in the background, keeping the first EVALSHA
    admit and finish calls (told apart by their first key)."""

    def __init__(self):
        self.admit = self.finish = None
        self.p = subprocess.Popen(["redis-cli", "-p", str(bl.REDIS_PORT),
                                   "MONITOR"], stdout=subprocess.PIPE,
                                  text=True, errors="replace")
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            if '"EVALSHA"' not in line and '"evalsha"' not in line:
                continue
            args = _monitor_args(line)
            if not args or len(args) < 4:
                continue
            try:
                keys = args[3:3 + int(args[2])]
            except ValueError:
                continue
            if len(keys) < 2 or ":req:" not in keys[1] and ":req:" not in keys[0]:
                continue  # budget (re)loads, releases by the reaper
            if keys[0].endswith(":budgets:version") and not self.admit:
                self.admit = args
            elif ":req:" in keys[0] and not self.finish:
                self.finish = args

    def stop(self):
        self.p.terminate()
        self.p.wait()


def _randomize(args, request_id):
    """Replaces the captured request id wherever it is a whole key suffix or
    a whole argument, so each call is a new request."""
    out = []
    for a in args:
        if a == request_id:
            out.append("bench-__rand_int__")
        elif a.endswith(":" + request_id):
            out.append(a[: -len(request_id)] + "bench-__rand_int__")
        else:
            out.append(a)
    return out


def _redis_benchmark(args, n):
    # Packed events (ledger/stored.h) are binary and may hold NUL, which no
    # command line can: finish.lua stores them without reading them, so
    # the same number of other bytes costs Redis the same.
    args = [a.replace("\x00", "\x01") for a in args]
    cmd = ["redis-benchmark", "-p", str(bl.REDIS_PORT), "-n", str(n),
           "-c", str(REDIS_CLIENTS), "-P", str(REDIS_PIPELINE),
           "-r", "1000000000", "--csv", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    rps = None
    for line in res.stdout.splitlines():
        # "test","rps","avg","min","p50","p95","p99","max"; the test name
        # (the command) may hold quotes itself, so read from the end.
        m = re.search(r'"([0-9.]+)"(?:,"[0-9.]+"){6}\s*$', line)
        if m and not line.startswith('"test"'):
            rps = float(m.group(1))
    err = res.stderr + "\n".join(
        line for line in res.stdout.splitlines() if line.startswith("Error"))
    if rps is None or "ERR" in err or "NOSCRIPT" in err:
        bl.log("redis-benchmark failed:", (res.stdout + res.stderr)[-1500:])
        return None
    return rps


def redis_ceiling(captured, n):
    """captured: (admit_args, finish_args) from Monitor; returns rates."""
    admit, finish = captured
    if not admit or not finish:
        return None
    # The request id is the suffix of the req:<id> key in both calls.
    rid_a = next(a.split(":req:", 1)[1] for a in admit if ":req:" in a)
    rid_f = next(a.split(":req:", 1)[1] for a in finish if ":req:" in a)
    a_args = _randomize(admit, rid_a)
    f_args = _randomize(finish, rid_f)
    ra = _redis_benchmark(a_args, n)
    rf = _redis_benchmark(f_args, n)
    if not ra or not rf:
        return None
    return {"admitPerSec": ra, "finishPerSec": rf,
            "pairsPerSec": 1 / (1 / ra + 1 / rf),
            "admitKeys": int(admit[2]), "finishKeys": int(finish[2]),
            "finishBytes": sum(len(a) for a in finish),
            "clients": REDIS_CLIENTS, "pipeline": REDIS_PIPELINE, "n": n}
