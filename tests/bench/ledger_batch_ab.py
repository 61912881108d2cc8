#!/usr/bin/env python3
"""Redis CPU per request of one ledger call per request against batched
calls (--ledger-batch), interleaved. A script that prints figures.

    TOLLGATE_BUILD_DIR=build python3 tests/bench/ledger_batch_ab.py \
        [--requests 25600] [--rounds 6] [--batches 1,8,64]

It starts its own redis-server (no persistence; ledger_bench.py's Server),
loads admit.lua and finish.lua and the build's admit_batch.lua and
finish_batch.lua (BUILD/ledger/lua), and per round, for each batch size in
turn (so a machine shared with other work disturbs each alike): admits
--requests fresh ids (3 matching budgets, ledger_bench's arguments), then
settles those ids, from one redis-py client pipelining 16 calls. Per phase
it reads the redis-server process's CPU (utime + stime) and the usec inside
EVALSHA (INFO commandstats); printed per 1,000 requests, median of rounds.
ledger_bench.py --batch N measures the same with redis-benchmark, one mode
after the other.
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ledger_bench as lb  # noqa: E402

PERIOD = "2026-11"


def phase(srv, rb, shas, cmds, b):
    srv.r.config_resetstat()
    cpu0 = srv.cpu_s()
    p = rb.pipeline(transaction=False)
    for i in range(0, len(cmds), b):
        chunk = cmds[i:i + b]
        if b == 1:
            p.execute_command(*chunk[0])
        else:
            p.execute_command(*lb.batch_cmd(shas, chunk))
        if len(p) >= 16:
            check(p.execute(), b)
    check(p.execute(), b)
    st = srv.r.info("commandstats")["cmdstat_evalsha"]
    n = len(cmds)
    return (srv.cpu_s() - cpu0) * 1000 / n, st["usec"] / 1e3 / n


def check(replies, b):
    for x in replies:
        for y in (x if b > 1 else [x]):
            assert isinstance(y, list) and y[0] == b"ok", y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=25600)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--batches", default="1,8,64")
    a = ap.parse_args()
    batches = [int(x) for x in a.batches.split(",")]
    lb.BATCH = max(batches)
    import redis

    srv = lb.Server()
    ids, defs = lb.budgets(3)
    layout = lb.script_layout()
    usage = lb.usage_json(ids, PERIOD)
    res = {}
    try:
        shas = lb.setup(srv.r, ids, defs, period=PERIOD)
        rb = redis.Redis(port=srv.port)
        for rnd in range(a.rounds):
            for b in batches:
                rids = [f"ab-{rnd}-{b}-{i}" for i in range(a.requests)]
                adm = [lb.admit_cmd(shas["admit"], ids, PERIOD, layout, r)
                       for r in rids]
                fin = [lb.finish_cmd(shas["finish"], ids, PERIOD, layout, r,
                                     usage) for r in rids]
                res.setdefault(("admit", b), []).append(
                    phase(srv, rb, shas.get("admit_batch"), adm, b))
                res.setdefault(("finish", b), []).append(
                    phase(srv, rb, shas.get("finish_batch"), fin, b))
    finally:
        srv.stop()
    print(f"{a.requests} requests per phase, median of {a.rounds} "
          "interleaved rounds, 3 budgets; per 1,000 requests:")
    print(f"{'script':8} {'batch':>5} {'redis CPU-s':>12} {'EVALSHA s':>10}")
    for (script, b), v in sorted(res.items()):
        print(f"{script:8} {b:5} {statistics.median(x[0] for x in v):12.4f}"
              f" {statistics.median(x[1] for x in v):10.4f}")


if __name__ == "__main__":
    main()
