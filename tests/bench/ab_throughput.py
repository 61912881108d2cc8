#!/usr/bin/env python3
"""Quick A/B of worker builds on benchmark 1's load, without its ceilings:
N requests pre-loaded (benchlib's), one worker, simulator latency 0, each
variant run in turn RUNS times on one stack; prints every run and the
medians of end-to-end req/s, worker and Redis CPU-s per 1,000, peak RSS.

  python3 tests/bench/ab_throughput.py N RUNS 'NAME|ENV|BUILD_DIR|ARGS' ...

  ENV   comma-separated VAR=value for the worker only (e.g. LD_PRELOAD=..)
  ARGS  extra tollgate-worker arguments, space-separated

e.g. python3 tests/bench/ab_throughput.py 60000 3 \\
       'base||/work/base/build-bench|' 'new||build-bench|'

The stack comes from the environment as for the other benchmarks
(TOLLGATE_BROKERS, TOLLGATE_REDIS: start one with run.sh and
BENCH_KEEP_STACK=1, or deploy/local/stack.sh with the bench ports).
"""

import os
import statistics
import sys
from pathlib import Path

import benchlib as bl


def one(sim, path, n, tag, env, build, args):
    bl.reset_ledger()
    bl.create_topics(tag)
    bl.submit(path, tag)
    bl.wait_quiet()
    old = dict(os.environ)
    for kv in filter(None, env.split(",")):
        k, v = kv.split("=", 1)
        os.environ[k] = v
    bl.BUILD = Path(build).resolve()
    rpid = bl.stack_pids()["redis"]
    r0 = bl.cpu_seconds(rpid)
    w = bl.Worker(tag, sim.url, name=f"ab-{tag}", args=args.split())
    os.environ.clear()
    os.environ.update(old)
    watch = bl.GroupWatch(w.group, f"{tag}.requests")
    done = watch.wait(n, timeout=600)
    watch.close()
    cpu, rcpu = bl.cpu_seconds(w.pid), bl.cpu_seconds(rpid) - r0
    rss = bl.vm_hwm_mib(w.pid)
    w.stop()
    if done is None:
        raise SystemExit(f"{tag}: not done:\n" + w.text()[-2000:])
    ts = sorted(t for t, _ in bl.usage_events(tag, n))
    return (n / (ts[-1] / 1000 - w.started), cpu / n * 1000,
            rcpu / n * 1000, rss)


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    n, runs = int(sys.argv[1]), int(sys.argv[2])
    variants = [v.split("|") for v in sys.argv[3:]]
    res = {v[0]: [] for v in variants}
    sim = bl.Sim("--latency-ms", "0", name="sim-ab")
    try:
        tag0 = bl.run_tag("ab")
        path = bl.OUT / "ab.jsonl"
        bl.write_requests(path, n, tag0)
        for r in range(runs):
            for name, env, build, args in variants:
                x = one(sim, path, n, f"{tag0}{name}{r}", env, build, args)
                res[name].append(x)
                print(f"{name} run {r + 1}: {x[0]:,.0f} req/s, worker "
                      f"{x[1]:.3f}, Redis {x[2]:.3f} CPU-s/1k, RSS "
                      f"{x[3]:.0f} MiB", flush=True)
    finally:
        sim.stop()
    for name, xs in res.items():
        m = [statistics.median(x[i] for x in xs) for i in range(4)]
        print(f"median {name}: {m[0]:,.0f} req/s, worker {m[1]:.3f}, Redis "
              f"{m[2]:.3f} CPU-s/1k, RSS {m[3]:.0f} MiB")


if __name__ == "__main__":
    main()
