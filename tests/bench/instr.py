#!/usr/bin/env python3
"""Instructions per request of tollgate-worker, under callgrind.

Wall-clock figures on this shared 2-core machine move by 30 % between
identical runs; instruction counts do not. This runs one worker under
`valgrind --tool=callgrind` over a fixed load and prints:

  total         every instruction of every thread (Ir), divided by N,
                start-up and the consumer-group join included
  per function  inclusive Ir / N of the functions that matter
                (callgrind_annotate --inclusive=yes), e.g. tg_events_usage

Set-up (the callgrind profile of tests/bench/RESULTS.md): a Release build
with -g (configured and built in BUILD_DIR unless --no-build: cmake
-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g), N requests (default 5,000)
pre-loaded with tollgate-submit on fresh topics, the budgets of benchlib
(Redis is FLUSHALLed first: point it at a bench or test stack only), its
own simulator on a free port at latency 0, one worker with
--max-inflight 256. Done is when the group's committed offsets reach N
(the worker commits a request only after its completion and usage events
were acknowledged); the usage events are then counted, the worker gets
SIGTERM (it drains and exits 0) and callgrind writes its file.

  python3 tests/bench/instr.py BUILD_DIR [--requests N] [--no-build]
          [--func NAME ...]

The stack comes from the environment: TOLLGATE_BROKERS (host:port),
TOLLGATE_REDIS (redis://host:port), as `deploy/local/stack.sh env` prints.
Needs valgrind, callgrind_annotate, redis-cli and python3-confluent-kafka.
It takes a few minutes (callgrind runs the worker ~50x slower). The
callgrind file and the worker log stay in BUILD_DIR/bench-out/.

Caveat: the per-function figures repeat to 0.2 %; the total does not when
the machine is busy. The worker's Redis watchdog (2 s, ledger.c) then sees
a loop that callgrind slowed down as a silent Redis, drops the link and
sends pending admissions again: that work is counted twice. The script
says so (WARNING line, from the worker log); BENCH_WAIT_QUIET=S waits up to
S seconds for a calm machine first.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FUNCS = ("tg_events_usage", "tg_events_completion", "tg_converse_build",
         "tg_converse_parse", "tg_request_parse", "tg_bedrock_auth_headers",
         "curl_multi_socket_action", "admit_send", "finish_send",
         "json_dumps", "json_loadb", "malloc", "free")


def build(build_dir):
    subprocess.run(["cmake", "-S", str(REPO), "-B", str(build_dir), "-G",
                    "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DCMAKE_C_FLAGS=-g"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(build_dir), "-j2"], check=True,
                   stdout=subprocess.DEVNULL)


def run_worker(bl, args, prefix, sim_url, out_file):
    """The worker under callgrind until N requests are committed; returns
    its exit code after SIGTERM."""
    log_path = bl.OUT / "instr-worker.log"
    group = f"{prefix}.workers"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
           bl.binary("tollgate-worker"), "--brokers", bl.BROKERS,
           "--topic-prefix", prefix, "--group", group, "--redis",
           bl.REDIS_URL, "--bedrock-endpoint", sim_url, "--worker-id",
           "instr", "--retention-s", "3600", "--max-inflight", "256"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                                env={**os.environ, **bl.AWS_ENV})
        watch = bl.GroupWatch(group, f"{prefix}.requests")
        t0 = time.monotonic()
        last = [-1]

        def tick(n):
            if proc.poll() is not None:
                raise SystemExit("worker exited:\n" +
                                 log_path.read_text()[-3000:])
            if n is not None and n // 1000 != last[0]:
                last[0] = n // 1000
                bl.log(f"{n:,} / {args.requests:,} committed "
                       f"({time.monotonic() - t0:.0f}s)")

        seen = watch.wait(args.requests, timeout=args.timeout, every=1.0,
                          tick=tick)
        watch.close()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    if seen is None:
        raise SystemExit(f"not done after {args.timeout}s:\n"
                         + log_path.read_text()[-3000:])
    return rc, log_path


def redo_work(log_path):
    """Counts of the log lines that mean work was done twice: the Redis
    watchdog dropped the link (2 s without a reply; under callgrind the loop
    can be that slow) and pending admissions were sent again."""
    text = log_path.read_text(errors="replace")
    return (text.count("redis did not answer"),
            text.count("after its worker's lease expired"))


def annotate(out_file):
    """(total Ir, {function: inclusive Ir}) from callgrind_annotate."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                           "--threshold=100", str(out_file)],
                          capture_output=True, text=True, check=True).stdout
    num = lambda s: int(s.replace(",", ""))  # noqa: E731
    m = re.search(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?PROGRAM TOTALS", text,
                  re.M)
    if not m:
        raise SystemExit("no PROGRAM TOTALS in callgrind_annotate output")
    funcs = {}
    # "  12,345 (1.2%)  file.c:func [obj]" or "  12,345  ???:func [obj]"
    for line in text.splitlines():
        f = re.match(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?\S*?:(\S+)\s", line)
        if f:
            name = f.group(2).split("'")[0]
            funcs[name] = max(funcs.get(name, 0), num(f.group(1)))
    return num(m.group(1)), funcs


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("build_dir", nargs="?", default=str(REPO / "build-instr"),
                    help="Release -g build dir (default build-instr)")
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--no-build", action="store_true",
                    help="use BUILD_DIR as it is")
    ap.add_argument("--func", action="append", default=[],
                    help="another function to report (repeatable)")
    args = ap.parse_args()
    build_dir = Path(args.build_dir).resolve()
    if not args.no_build:
        build(build_dir)
    # benchlib reads its build dir and stack addresses at import
    os.environ["TOLLGATE_BUILD_DIR"] = str(build_dir)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import benchlib as bl

    n = args.requests
    prefix = bl.run_tag("in")
    bl.OUT.mkdir(parents=True, exist_ok=True)
    out_file = bl.OUT / f"callgrind.out.{prefix}"
    sim = bl.Sim("--latency-ms", "0", name="sim-instr")
    try:
        bl.reset_ledger()
        bl.create_topics(prefix)
        path = bl.OUT / "instr.jsonl"
        bl.write_requests(path, n, prefix)
        bl.submit(path, prefix)
        bl.log(f"{n:,} requests loaded on {prefix}.requests; worker under "
               f"callgrind (out {out_file})")
        busy = bl.wait_quiet()  # BENCH_WAIT_QUIET=S waits for a calm machine
        rc, log_path = run_worker(bl, args, prefix, sim.url, out_file)
    finally:
        sim.stop()
    if rc != 0:
        raise SystemExit(f"worker exited {rc} after SIGTERM (expected 0)")
    usage = len(bl.read_topic(f"{prefix}.usage", n, timeout=120))
    if usage < n:
        raise SystemExit(f"only {usage} usage events for {n} requests")
    total, funcs = annotate(out_file)
    print(f"\n== instructions per request: {n:,} requests, latency 0, "
          f"--max-inflight 256, {build_dir}")
    print(f"  total (all threads, start-up included): {total / n:,.0f} "
          f"Ir/request ({total:,} Ir); {busy:.2f} cores busy before")
    rows = [[f, f"{funcs[f] / n / 1000:,.1f}" if f in funcs else "n/a",
             f"{funcs[f] / total:.1%}" if f in funcs else ""]
            for f in (*FUNCS, *args.func)]
    bl.table(rows, ["function (inclusive)", "k Ir/request", "share"])
    drops, resumed = redo_work(log_path)
    if drops or resumed:
        print(f"  WARNING: the Redis watchdog dropped the link {drops} time(s) "
              f"and {resumed} request(s) were resumed: admit_send, "
              "finish_send and the total include work done twice; compare "
              "per-function figures, or run again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
