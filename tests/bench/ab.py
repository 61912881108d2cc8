#!/usr/bin/env python3
"""Baseline against current, from the runs of `BENCH_BASELINE=REV
tests/bench/run.sh ...` (results/ab/<bench>.<baseline|current>.<i>.json,
one run each, taken alternately so that both sides see the same machine).
Prints the median of each side and their ratio, per figure.

  python3 tests/bench/ab.py [build-bench/bench-out/results/ab]
"""

import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parents[1] / "build-bench" / "bench-out" / "results" / "ab"


def cpu(role):
    return lambda r: r["cpuPer1000"][role]


def overhead(latency, key):
    return lambda r: r[key] if r["latencyMs"] == latency else None


def quota_throttled(r):
    a = r["after5s"]
    return 100.0 * a["throttled"] / a["calls"] if a["calls"] else None


# (label, getter, unit); higher or lower is better is left to the reader
FIGURES = {
    "throughput": [
        ("req/s end to end", lambda r: r["rateEndToEnd"], ""),
        ("worker CPU-s per 1,000", cpu("worker"), ""),
        ("Redis CPU-s per 1,000", cpu("redis"), ""),
        ("broker CPU-s per 1,000", cpu("kafka"), ""),
        ("simulator CPU-s per 1,000", cpu("simulator"), ""),
        ("worker RSS MiB", lambda r: r["workerRssPeakMiB"], ""),
    ],
    "inflight": [
        ("req/s sustained", lambda r: r["rateSustained"], ""),
        ("peak in flight", lambda r: r["inflightPeakFromEvents"], ""),
        ("worker RSS MiB", lambda r: r["workerRssPeakMiB"], ""),
        ("worker CPU-s per 1,000", cpu("worker"), ""),
    ],
    "overhead": [
        ("latency 0: /metrics p50 ms", overhead(0, "metricsP50Ms"), ""),
        ("latency 0: /metrics p99 ms", overhead(0, "metricsP99Ms"), ""),
        ("latency 0: events p99 ms", overhead(0, "eventsP99Ms"), ""),
        ("latency 1000: events p50 ms", overhead(1000, "eventsP50Ms"), ""),
        ("latency 1000: events p99 ms", overhead(1000, "eventsP99Ms"), ""),
        ("latency 0: worker CPU-s per 1,000",
         lambda r: r["cpuPer1000"]["worker"] if r["latencyMs"] == 0 else None,
         ""),
    ],
    "quota": [
        ("simulator successes/s after 5 s",
         lambda r: r["simOkRateAfter5s"], ""),
        ("% of quota", lambda r: 100.0 * r["simOkRateAfter5s"] / r["quota"],
         ""),
        ("% of calls throttled after 5 s", quota_throttled, ""),
        ("% of calls throttled in the first 5 s",
         lambda r: r["first5s"]["per1000Calls"] / 10.0, ""),
        ("failed requests", lambda r: r["decisions"].get("failed", 0), ""),
    ],
}


def values(files, get):
    out = []
    for f in files:
        for run in json.loads(f.read_text())["runs"]:
            try:
                v = get(run)
            except (KeyError, TypeError, ZeroDivisionError):
                v = None
            if v is not None:
                out.append(float(v))
    return out


def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def main():
    d = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    for bench, figures in FIGURES.items():
        base = sorted(d.glob(f"{bench}.baseline.*.json"))
        cur = sorted(d.glob(f"{bench}.current.*.json"))
        if not base or not cur:
            continue
        print(f"\n== {bench}: {len(base)} baseline and {len(cur)} current "
              f"run(s), medians")
        print(f"  {'figure':<40} {'baseline':>10} {'current':>10} "
              f"{'current/baseline':>17}  (values)")
        for label, get, _ in figures:
            b, c = values(base, get), values(cur, get)
            mb = statistics.median(b) if b else None
            mc = statistics.median(c) if c else None
            ratio = f"{mc / mb:.2f}x" if mb and mc is not None else "-"
            print(f"  {label:<40} {fmt(mb):>10} {fmt(mc):>10} {ratio:>17}"
                  f"  ({', '.join(fmt(x) for x in b)} | "
                  f"{', '.join(fmt(x) for x in c)})")


if __name__ == "__main__":
    main()
