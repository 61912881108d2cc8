#!/usr/bin/env python3
"""Benchmark 1, throughput: simulator latency 0, N requests pre-loaded on
the requests topic, one worker process started after the load.

Measured per run:
  end-to-end rate   N / (last usage event's Kafka timestamp - worker start)
  after-join rate   N / (last usage event - first usage event): the same
                    without the process start and the consumer-group join
  CPU / 1,000 req   the worker's utime+stime (/proc/PID/stat) / N * 1000,
                    and the same for Redis, the broker and the simulator
Beside the ceilings of the same run (ceilings.py): librdkafka consume +
produce of the same messages, a kcat pipe, redis-benchmark of the same
EVALSHA calls.

Done is detected from the group's committed offsets (the worker commits a
request only after both its events were acknowledged); the figures come
from the usage events read afterwards.
"""

import argparse
import collections
import re
import subprocess
import sys
import time

import benchlib as bl
import ceilings


def capture_redis_calls(sim):
    """A 50-request warm-up run under MONITOR: the worker's real admit and
    finish calls for redis-benchmark (and a warm broker and page cache)."""
    tag = bl.run_tag("tw")
    bl.reset_ledger()
    bl.create_topics(tag)
    path = bl.OUT / "throughput-warmup.jsonl"
    bl.write_requests(path, 50, tag)
    bl.submit(path, tag)
    mon = ceilings.Monitor()
    # One call per request while captured: redis-benchmark replays single
    # admit and finish calls (a batch call's other requests would keep
    # their ids, and be answered "done" from the second run on). A
    # baseline built before --ledger-batch existed makes single calls.
    help_text = subprocess.run([bl.binary("tollgate-worker"), "--help"],
                               capture_output=True, text=True).stdout
    single = ("--ledger-batch", "1") if "--ledger-batch" in help_text else ()
    w = bl.Worker(tag, sim.url, name="warmup", args=single)
    watch = bl.GroupWatch(w.group, f"{tag}.requests")
    ok = watch.wait(50, timeout=120)
    watch.close()
    w.stop()
    time.sleep(0.5)
    mon.stop()
    if not ok:
        raise SystemExit("warm-up run did not finish:\n" + w.text()[-2000:])
    return mon.admit, mon.finish


def one_run(args, sim, path, run, captured):
    n = args.requests
    prefix = f"{args.tag}r{run}"
    bl.reset_ledger()
    bl.create_topics(prefix)
    submit_s = bl.submit(path, prefix)
    bl.log(f"run {run}: {n:,} requests loaded in {submit_s:.1f}s "
           f"({n / submit_s:,.0f}/s); starting the worker")
    busy = bl.wait_quiet()
    sim.reset()
    bl.redis_cli("CONFIG", "RESETSTAT")
    aof0 = bl.redis_cli("INFO", "persistence")
    meter = bl.CpuMeter({**bl.stack_pids(), "simulator": sim.pid}).start()
    w = bl.Worker(prefix, sim.url, name=f"tp{run}", args=args.worker_args)
    meter.pids["worker"] = w.pid
    meter.c0["worker"] = 0.0  # all of its life
    rpid = bl.stack_pids().get("redis")
    ss0 = {"worker": (0, 0, 0), "redis": bl.schedstat(rpid)}
    watch = bl.GroupWatch(w.group, f"{prefix}.requests")
    t_seen = watch.wait(n, timeout=args.timeout)
    watch.close()
    used = meter.stop()
    main_cpu, other_cpu = bl.thread_cpu(w.pid)
    ss1 = {"worker": bl.schedstat(w.pid), "redis": bl.schedstat(rpid)}
    aof1 = bl.redis_cli("INFO", "persistence")
    cmdstats = bl.redis_cli("INFO", "commandstats")
    hwm = bl.vm_hwm_mib(w.pid)
    fds = bl.open_fds(w.pid)
    metrics = w.metrics()
    w.stop()
    if t_seen is None:
        raise SystemExit(f"run {run}: not done after {args.timeout}s:\n"
                         + w.text()[-3000:])
    events = bl.usage_events(prefix, n)
    ts = sorted(t for t, _ in events)
    decisions = collections.Counter(e["decision"] for _, e in events)
    first, last = ts[0] / 1000, ts[-1] / 1000
    rewrites = (int(dict(l.split(":", 1) for l in aof1.split() if ":" in l)
                    .get("aof_rewrites", 0)) -
                int(dict(l.split(":", 1) for l in aof0.split() if ":" in l)
                    .get("aof_rewrites", 0)))
    evalsha = re.search(r"cmdstat_evalsha:calls=(\d+),usec=(\d+)", cmdstats)
    r = {"run": run, "requests": n, "events": len(events),
         "busyCoresBefore": busy,
         "redisEvalsha": evalsha and {"calls": int(evalsha.group(1)),
                                      "usecPerCall": int(evalsha.group(2)) /
                                      max(1, int(evalsha.group(1)))},
         "decisions": dict(decisions),
         "submitSeconds": submit_s,
         "startToFirstEvent": first - w.started,
         "seconds": last - w.started,
         "rateEndToEnd": n / (last - w.started),
         "rateAfterJoin": (n - 1) / (last - first),
         "cpu": used, "wall": meter.wall,
         "machineCapacity": meter.machine_capacity,
         "cpuPer1000": {k: v / n * 1000 for k, v in used.items()},
         "workerLoopCpu": main_cpu, "workerOtherThreadsCpu": other_cpu,
         "workerLoopBusy": main_cpu / (last - w.started),
         # runnable but waiting for a core, ms per second of the run
         "runQueueWaitMsPerSecond": {
             k: (ss1[k][1] - ss0[k][1]) / 1e6 / meter.wall for k in ss0},
         "workerRssPeakMiB": hwm, "workerFds": fds,
         "metricsReachable": metrics is not None,
         "aofRewritesDuringRun": rewrites}
    if metrics:
        pm = bl.parse_metrics(metrics)
        r["metricsRequestsTotal"] = bl.metric_sum(pm, "tollgate_requests_total")
    if not args.no_ceilings:
        bl.log(f"run {run}: ceilings")
        r["kafkaCeiling"] = ceilings.kafka_ceiling(prefix, n)
        r["kcatPipe"] = ceilings.kcat_pipe(prefix, n)
        bl.redis_cli("FLUSHALL")
        r["redisCeiling"] = ceilings.redis_ceiling(captured,
                                                   args.redis_requests)
    return r


def report(runs, args):
    print(f"\n== 1. Throughput: {args.requests:,} requests pre-loaded, "
          f"simulator latency 0, one worker ({len(runs)} run(s))")
    rows = []
    for r in runs:
        kc, kp, rc = (r.get("kafkaCeiling"), r.get("kcatPipe"),
                      r.get("redisCeiling"))
        rows.append([r["run"], bl.fmt(r["rateEndToEnd"], 0),
                     bl.fmt(r["rateAfterJoin"], 0),
                     bl.fmt(r["startToFirstEvent"], 2),
                     bl.fmt(r["cpuPer1000"]["worker"], 3),
                     f'{r["workerLoopBusy"]:.0%}',
                     f'{r["runQueueWaitMsPerSecond"]["worker"]:.0f} / '
                     f'{r["runQueueWaitMsPerSecond"]["redis"]:.0f}',
                     bl.fmt(r["cpuPer1000"].get("redis"), 3),
                     bl.fmt(r["cpuPer1000"].get("kafka"), 3),
                     bl.fmt(r["cpuPer1000"].get("simulator"), 3),
                     bl.fmt(r["cpuPer1000"].get("others (not this benchmark)"), 3),
                     bl.fmt(r["workerRssPeakMiB"], 0),
                     bl.fmt(kc and kc["rate"], 0), bl.fmt(kp and kp["rate"], 0),
                     bl.fmt(rc and rc["pairsPerSec"], 0),
                     r["aofRewritesDuringRun"],
                     bl.fmt(r["busyCoresBefore"], 2)])
    bl.table(rows, ["run", "req/s e2e", "req/s after join", "join s",
                    "worker cpu-s/1k", "loop thread busy",
                    "waited for a core ms/s loop/redis", "redis cpu-s/1k", "broker cpu-s/1k",
                    "sim cpu-s/1k", "others cpu-s/1k", "RSS MiB", "kafka ceiling/s",
                    "kcat pipe/s", "redis ceiling pairs/s", "AOF rewrites",
                    "busy cores before"])
    med = lambda f: bl.median([f(r) for r in runs])  # noqa: E731
    e2e = med(lambda r: r["rateEndToEnd"])
    kc = med(lambda r: (r.get("kafkaCeiling") or {}).get("rate"))
    kp = med(lambda r: (r.get("kcatPipe") or {}).get("rate"))
    ra = med(lambda r: (r.get("redisCeiling") or {}).get("admitPerSec"))
    rf = med(lambda r: (r.get("redisCeiling") or {}).get("finishPerSec"))
    rp = med(lambda r: (r.get("redisCeiling") or {}).get("pairsPerSec"))
    cpu = med(lambda r: r["cpuPer1000"]["worker"])
    print(f"\n  median end-to-end: {bl.fmt(e2e, 0)} requests/s "
          f"(after join {bl.fmt(med(lambda r: r['rateAfterJoin']), 0)}/s); "
          f"target >= 5,000/s: {'MET' if e2e and e2e >= 5000 else 'MISSED'}"
          + (f" ({e2e / 5000:.0%} of it)" if e2e else ""))
    print(f"  worker CPU: {bl.fmt(cpu, 3)} s per 1,000 requests "
          f"({bl.fmt(cpu and cpu * 1000, 0)} us each); whole machine "
          f"{bl.fmt(med(lambda r: r['cpuPer1000']['machine (all processes)']), 3)}"
          f" s per 1,000")
    stack = med(lambda r: sum(r["cpuPer1000"].get(k, 0) for k in
                              ("worker", "redis", "kafka", "simulator")))
    if stack:
        print(f"  CPU of the whole pipeline (worker + Redis + broker + "
              f"simulator): {bl.fmt(stack, 3)} s per 1,000 requests, so "
              f"2 idle cores could carry at most {bl.fmt(2000 / stack, 0)}/s; "
              f"the worker alone on one core at most {bl.fmt(1000 / cpu, 0)}/s")
    if kc:
        print(f"  librdkafka consume + 2x produce ceiling: {bl.fmt(kc, 0)}/s "
              f"(worker at {e2e / kc:.1%} of it); kcat pipe {bl.fmt(kp, 0)}/s")
    if rp:
        print(f"  redis-benchmark EVALSHA (-c {ceilings.REDIS_CLIENTS} -P "
              f"{ceilings.REDIS_PIPELINE}): admit {bl.fmt(ra, 0)}/s, finish "
              f"{bl.fmt(rf, 0)}/s, admit+finish pairs {bl.fmt(rp, 0)}/s "
              f"(worker at {e2e / rp:.1%} of it)")
    return {"medianRateEndToEnd": e2e, "medianWorkerCpuPer1000": cpu,
            "medianPipelineCpuPer1000": stack,
            "idleMachineBound": stack and 2000 / stack,
            "medianKafkaCeiling": kc, "medianKcatPipe": kp,
            "medianRedisPairs": rp}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--redis-requests", type=int, default=100_000)
    ap.add_argument("--no-ceilings", action="store_true")
    ap.add_argument("--worker-arg", dest="worker_args", action="append",
                    default=[], help="extra tollgate-worker argument")
    args, unknown = ap.parse_known_args()
    if unknown:
        bl.log(f"{ap.prog}: ignoring {' '.join(unknown)}")
    args.tag = bl.run_tag("tp")
    sim = bl.Sim("--latency-ms", "0", name="sim-throughput")
    try:
        path = bl.OUT / "throughput.jsonl"
        size = bl.write_requests(path, args.requests, args.tag)
        bl.log(f"{args.requests:,} requests of {size:.0f} bytes in {path}")
        captured = (None, None) if args.no_ceilings else capture_redis_calls(sim)
        runs = [one_run(args, sim, path, i + 1, captured)
                for i in range(args.runs)]
    finally:
        sim.stop()
    summary = report(runs, args)
    bl.save("throughput", {"args": vars(args), "requestBytes": size,
                           "summary": summary, "runs": runs,
                           "capturedCalls": {"admit": captured[0],
                                             "finish": captured[1]}})


if __name__ == "__main__":
    sys.exit(main())
