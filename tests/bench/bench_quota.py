#!/usr/bin/env python3
"""Benchmark 4, quota: the simulator enforces an account quota of 200
requests/s (token bucket, 1 s of burst; beyond it 429
ThrottlingException) with a fixed 500 ms latency, and 4 workers of one
consumer group (one partition each) share N requests (~33 s of work at
the quota). The workers start first and settle; then the requests are
submitted at full speed, so all four see the backlog at once.

Measured per run, from t0 = the submit start:
  achieved rate      completions (usage events) with Kafka timestamp after
                     t0 + 5 s / the time from t0 + 5 s to the last one
  throttles          the simulator's 429 ThrottlingException answers
                     (/_sim/stats byErrorType, sampled every 0.5 s):
                     per 1,000 calls and per 1,000 requests, in the first
                     5 s (adapting) and after (adapted)
  outcomes           decisions of the usage events (a request throttled on
                     every one of its --max-attempts ends `failed`)
  the workers' final per-model concurrency limits (/metrics)
"""

import argparse
import collections
import sys
import time

import benchlib as bl

WORKERS = 4
ADAPT_S = 5.0


def one_run(args, sim, path, run):
    n = args.requests
    prefix = f"{args.tag}r{run}"
    bl.reset_ledger()
    bl.create_topics(prefix)
    workers = [bl.Worker(prefix, sim.url, name=f"q{run}-{i + 1}",
                         group=f"{prefix}.workers", args=args.worker_args)
               for i in range(WORKERS)]
    try:
        bl.wait_assigned(workers, 4)
        busy = bl.wait_quiet()
        sim.reset()
        samples = []
        t0 = time.time()
        sub = bl.submit(path, prefix, wait=False)
        watch = bl.GroupWatch(f"{prefix}.workers", f"{prefix}.requests")

        def tick(_):
            s = sim.stats()
            samples.append({"t": time.time() - t0,
                            "calls": s["requests"],
                            "throttled": s.get("byErrorType", {}).get(
                                "ThrottlingException", 0),
                            "s429": s.get("byStatus", {}).get("429", 0),
                            "ok": s.get("byStatus", {}).get("200", 0)})

        done = watch.wait(n, timeout=args.timeout, every=0.5, tick=tick)
        watch.close()
        sub.wait()
        tick(None)
        texts = [w.metrics() for w in workers]
        metrics = [bl.parse_metrics(t) for t in texts]
    finally:
        for w in workers:
            w.stop()
    if done is None:
        raise SystemExit(f"run {run}: not done after {args.timeout}s")
    events = bl.usage_events(prefix, n)
    ts = sorted(t / 1000 - t0 for t, _ in events)
    after = [t for t in ts if t >= ADAPT_S]
    rate_after = (len(after) / (after[-1] - ADAPT_S)) if len(after) > 1 else None
    # The sample closest to t0 + 5 s splits adapting from adapted.
    cut = min(samples, key=lambda s: abs(s["t"] - ADAPT_S))
    last = samples[-1]
    thr_first, calls_first = cut["throttled"], cut["calls"]
    thr_after = last["throttled"] - cut["throttled"]
    calls_after = last["calls"] - cut["calls"]
    done_first = sum(1 for t in ts if t < cut["t"])
    done_after = len(ts) - done_first
    limits = {}
    errors = collections.Counter()
    for i, pm in enumerate(metrics):
        limits[workers[i].name] = {lab.get("model"): v for lab, v in
                                   pm.get("tollgate_model_concurrency_limit", [])}
        for lab, v in pm.get("tollgate_bedrock_errors_total", []):
            errors[lab.get("type")] += int(v)
    # What the simulator served: successful calls per second after t0 + 5 s
    # (the Bedrock side; the events above can lag behind it when finished
    # requests wait for older ones of their partition).
    sim_ok_rate = ((last["ok"] - cut["ok"]) / (last["t"] - cut["t"])
                   if last["t"] > cut["t"] else None)
    # Per-second completions and calls, for the record.
    per_s = collections.Counter(int(t) for t in ts)
    return {"run": run, "requests": n, "events": len(events),
            "busyCoresBefore": busy,
            "decisions": dict(collections.Counter(e["decision"]
                                                  for _, e in events)),
            "attempts": dict(collections.Counter(e.get("attempts")
                                                 for _, e in events)),
            "rateAfter5s": rate_after, "quota": args.quota,
            "shareOfQuota": rate_after / args.quota if rate_after else None,
            "seconds": ts[-1],
            "cutAt": cut["t"],
            "calls": last["calls"], "throttled": last["throttled"],
            "throttlesPer1000Calls": 1000 * last["throttled"] / max(1, last["calls"]),
            "throttlesPer1000Requests": 1000 * last["throttled"] / max(1, len(ts)),
            "first5s": {"calls": calls_first, "throttled": thr_first,
                        "completions": done_first,
                        "per1000Calls": 1000 * thr_first / max(1, calls_first)},
            "after5s": {"calls": calls_after, "throttled": thr_after,
                        "completions": done_after,
                        "per1000Calls": 1000 * thr_after / max(1, calls_after),
                        "per1000Requests": 1000 * thr_after / max(1, done_after)},
            "simOkRateAfter5s": sim_ok_rate,
            "metricsReachable": [t is not None for t in texts],
            "workerBedrockErrors": dict(errors),
            "finalConcurrencyLimits": limits,
            "completionsPerSecond": [per_s.get(i, 0)
                                     for i in range(int(ts[-1]) + 1)],
            "samples": samples}


def report(runs, args):
    print(f"\n== 4. Quota: simulator quota {args.quota} requests/s, latency "
          f"{args.latency_ms} ms, {WORKERS} workers in one group, "
          f"{args.requests:,} requests, {len(runs)} run(s)")
    rows = []
    for r in runs:
        rows.append([r["run"], bl.fmt(r["rateAfter5s"], 1),
                     f'{r["shareOfQuota"]:.1%}',
                     bl.fmt(r["simOkRateAfter5s"], 1),
                     bl.fmt(r["first5s"]["per1000Calls"], 1),
                     bl.fmt(r["after5s"]["per1000Calls"], 1),
                     bl.fmt(r["after5s"]["per1000Requests"], 1),
                     bl.fmt(r["throttlesPer1000Requests"], 1),
                     r["decisions"].get("failed", 0),
                     bl.fmt(r["seconds"], 1),
                     bl.fmt(r["busyCoresBefore"], 2)])
    bl.table(rows, ["run", "req/s after 5 s", "of quota", "sim 200s/s after 5 s",
                    "throttled/1k calls 0-5 s", "throttled/1k calls after",
                    "throttles/1k req after", "throttles/1k req overall",
                    "failed", "seconds", "busy cores before"])
    rate = bl.median([r["rateAfter5s"] for r in runs])
    share = bl.median([r["shareOfQuota"] for r in runs])
    thr = bl.median([r["after5s"]["per1000Calls"] for r in runs])
    ok = share >= 0.9 and thr <= 50
    print(f"\n  median after adaptation: {bl.fmt(rate, 1)} requests/s = "
          f"{share:.1%} of the quota (target >= 90 %), {thr / 10:.2f} % of "
          f"calls throttled (target <= 5 %): {'MET' if ok else 'MISSED'}")
    return {"medianRateAfter5s": rate, "medianShareOfQuota": share,
            "medianThrottledPctAfter5s": thr / 10}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=6600)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quota", type=int, default=200)
    ap.add_argument("--latency-ms", type=int, default=500)
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--worker-arg", dest="worker_args", action="append",
                    default=[], help="extra tollgate-worker argument")
    args, unknown = ap.parse_known_args()
    if unknown:
        bl.log(f"{ap.prog}: ignoring {' '.join(unknown)}")
    args.tag = bl.run_tag("qt")
    sim = bl.Sim("--latency-ms", str(args.latency_ms), "--quota-rps",
                 str(args.quota), name="sim-quota")
    try:
        path = bl.OUT / "quota.jsonl"
        bl.write_requests(path, args.requests, args.tag)
        runs = [one_run(args, sim, path, i + 1) for i in range(args.runs)]
    finally:
        sim.stop()
    summary = report(runs, args)
    bl.save("quota", {"args": vars(args), "summary": summary, "runs": runs})


if __name__ == "__main__":
    sys.exit(main())
