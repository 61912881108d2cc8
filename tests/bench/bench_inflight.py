#!/usr/bin/env python3
"""Benchmark 2, in flight: simulator latency 1,000 ms, N requests
pre-loaded, one worker process with --max-inflight 4096 and
--model-concurrency 4096 (the default per-model start, 1024, would cap two
models at 2,048 calls, i.e. ~2,000 requests/s at 1 s).

Measured per run:
  sustained rate   completions in the middle 80 % of the run (10th to 90th
                   percentile of usage-event timestamps) / their time span
  end-to-end rate  N / (last usage event - worker start)
  peak in flight   requests in the worker at once, reconstructed from the
                   usage events (each was inside from Kafka ts - latencyMs
                   to its Kafka ts); also the simulator's peak of
                   concurrent calls and, when reachable, the worker's
                   tollgate_inflight_peak
  peak RSS         VmHWM of the worker (/proc/PID/status)
  Bedrock latency  bedrockLatencyMs of the usage events (the simulator
                   answers after exactly 1,000 ms; the rest is queueing in
                   the simulator, connection set-up and the worker's loop)
"""

import argparse
import collections
import sys
import threading
import time

import benchlib as bl

WORKER_ARGS = ["--max-inflight", "4096", "--model-concurrency", "4096"]


class Sampler(threading.Thread):
    """Once a second: the simulator's calls in flight, the worker's RSS,
    CPU and open descriptors."""

    def __init__(self, sim, worker):
        super().__init__(daemon=True)
        self.sim, self.w, self.rows, self.stop_ = sim, worker, [], False

    def run(self):
        while not self.stop_ and self.w.alive():
            try:
                s = self.sim.stats()
                self.rows.append({"t": round(time.time() - self.w.started, 2),
                                  "simInFlight": s.get("inFlight"),
                                  "rssMiB": round(bl.vm_rss_mib(self.w.pid), 1),
                                  "cpu": bl.cpu_seconds(self.w.pid),
                                  "fds": bl.open_fds(self.w.pid)})
            except (OSError, ValueError):
                pass
            time.sleep(1.0)


def one_run(args, sim, path, run):
    n = args.requests
    prefix = f"{args.tag}r{run}"
    bl.reset_ledger()
    bl.create_topics(prefix)
    bl.submit(path, prefix)
    busy = bl.wait_quiet()
    sim.reset()
    meter = bl.CpuMeter({**bl.stack_pids(), "simulator": sim.pid}).start()
    w = bl.Worker(prefix, sim.url, name=f"if{run}",
                  args=WORKER_ARGS + args.worker_args)
    meter.pids["worker"] = w.pid
    meter.c0["worker"] = 0.0
    sampler = Sampler(sim, w)
    sampler.start()
    watch = bl.GroupWatch(w.group, f"{prefix}.requests")
    done = watch.wait(n, timeout=args.timeout)
    watch.close()
    sampler.stop_ = True
    used = meter.stop()
    main_cpu, _ = bl.thread_cpu(w.pid)
    hwm = bl.vm_hwm_mib(w.pid)
    fds = bl.open_fds(w.pid)
    metrics = w.metrics()
    simstats = sim.stats()
    w.stop()
    if done is None:
        raise SystemExit(f"run {run}: not done after {args.timeout}s:\n"
                         + w.text()[-3000:])
    events = bl.usage_events(prefix, n)
    ts = sorted(t for t, _ in events)
    k = len(ts)
    lo, hi = ts[k // 10], ts[(k * 9) // 10]
    sustained = ((k * 9) // 10 - k // 10) / ((hi - lo) / 1000)
    br = [e.get("bedrockLatencyMs", 0) for _, e in events]
    ov = [e["latencyMs"] - e.get("bedrockLatencyMs", 0) for _, e in events]
    r = {"run": run, "requests": n, "events": k, "busyCoresBefore": busy,
         "decisions": dict(collections.Counter(e["decision"]
                                               for _, e in events)),
         "rateSustained": sustained,
         "rateEndToEnd": n / (ts[-1] / 1000 - w.started),
         "inflightPeakFromEvents": bl.inflight_peak_from_events(events),
         "simPeakInFlight": simstats.get("peakInFlight"),
         "workerLoopBusy": main_cpu / (ts[-1] / 1000 - w.started),
         "workerRssPeakMiB": hwm, "workerFds": fds,
         "metricsReachable": metrics is not None,
         "bedrockMs": {"p50": bl.quantile(br, .5), "p99": bl.quantile(br, .99),
                       "max": max(br)},
         "overheadMsFromEvents": {"p50": bl.quantile(ov, .5),
                                  "p99": bl.quantile(ov, .99),
                                  "max": max(ov)},
         "cpu": used,
         "cpuPer1000": {k_: v / n * 1000 for k_, v in used.items()},
         "samples": sampler.rows}
    if metrics:
        pm = bl.parse_metrics(metrics)
        r["metricsInflightPeak"] = bl.metric_sum(pm, "tollgate_inflight_peak")
    return r


def report(runs, args):
    print(f"\n== 2. In flight: {args.requests:,} requests pre-loaded, "
          f"simulator latency 1,000 ms, one worker "
          f"({' '.join(WORKER_ARGS + args.worker_args)}), {len(runs)} run(s)")
    rows = []
    for r in runs:
        rows.append([r["run"], bl.fmt(r["rateSustained"], 0),
                     bl.fmt(r["rateEndToEnd"], 0),
                     r["inflightPeakFromEvents"], r["simPeakInFlight"],
                     r.get("metricsInflightPeak", "unreachable"),
                     bl.fmt(r["workerRssPeakMiB"], 0),
                     f'{r["bedrockMs"]["p50"]}/{r["bedrockMs"]["p99"]}',
                     f'{r["overheadMsFromEvents"]["p50"]}/'
                     f'{r["overheadMsFromEvents"]["p99"]}',
                     bl.fmt(r["cpuPer1000"]["worker"], 3),
                     f'{r["workerLoopBusy"]:.0%}',
                     bl.fmt(r["busyCoresBefore"], 2),
                     bl.fmt(r["cpuPer1000"]["others (not this benchmark)"], 3)])
    bl.table(rows, ["run", "req/s sustained", "req/s e2e", "peak in flight",
                    "sim peak calls", "/metrics peak", "RSS MiB",
                    "bedrock ms p50/p99", "outside-bedrock ms p50/p99",
                    "worker cpu-s/1k", "loop thread busy", "busy cores before",
                    "others cpu-s/1k"])
    med = lambda f: bl.median([f(r) for r in runs])  # noqa: E731
    rate = med(lambda r: r["rateSustained"])
    rss = med(lambda r: r["workerRssPeakMiB"])
    rss_max = max(r["workerRssPeakMiB"] for r in runs)
    peak = med(lambda r: r["inflightPeakFromEvents"])
    print(f"\n  median sustained: {bl.fmt(rate, 0)} requests/s, target >= "
          f"2,000/s: {'MET' if rate >= 2000 else 'MISSED'} "
          f"({rate / 2000:.0%}); peak in flight {bl.fmt(peak, 0)}; peak RSS "
          f"{bl.fmt(rss, 0)} MiB (max {bl.fmt(rss_max, 0)}), target <= 256 "
          f"MiB: {'MET' if rss_max <= 256 else 'MISSED'}")
    return {"medianRateSustained": rate, "medianInflightPeak": peak,
            "medianRssPeakMiB": rss, "maxRssPeakMiB": rss_max}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=80_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--latency-ms", type=int, default=1000)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--worker-arg", dest="worker_args", action="append",
                    default=[], help="extra tollgate-worker argument")
    args, unknown = ap.parse_known_args()
    if unknown:
        bl.log(f"{ap.prog}: ignoring {' '.join(unknown)}")
    args.tag = bl.run_tag("if")
    sim = bl.Sim("--latency-ms", str(args.latency_ms), name="sim-inflight")
    try:
        path = bl.OUT / "inflight.jsonl"
        bl.write_requests(path, args.requests, args.tag)
        runs = [one_run(args, sim, path, i + 1) for i in range(args.runs)]
    finally:
        sim.stop()
    summary = report(runs, args)
    bl.save("inflight", {"args": vars(args), "workerArgs": WORKER_ARGS,
                         "summary": summary, "runs": runs})


if __name__ == "__main__":
    sys.exit(main())
