#!/usr/bin/env python3
"""Bytes stored per request record (issue 15): for up to N finished
records tg:{tg}:req:<id> in the Redis of TOLLGATE_REDIS, the median of
MEMORY USAGE (SAMPLES 0: every field) and of the stored completion and
usage (HSTRLEN), and how many are packed (ledger/stored.h).

Run it after tests/bench/instr.py (which leaves its 5,000 requests of
benchlib's shape in Redis), once per build, on the same stack:

  TOLLGATE_REDIS=redis://127.0.0.1:PORT python3 tests/bench/record_bytes.py [N]
"""

import os
import statistics
import sys

import redis


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    r = redis.Redis.from_url(os.environ.get("TOLLGATE_REDIS",
                                            "redis://127.0.0.1:56379"))
    mem, comp, usage, packed = [], [], [], 0
    for key in r.scan_iter("tg:{tg}:req:*", count=1000):
        if r.hget(key, "state") != b"done":
            continue
        mem.append(r.memory_usage(key, samples=0))
        comp.append(r.hstrlen(key, "completion"))
        usage.append(r.hstrlen(key, "usage"))
        packed += r.hget(key, "completion")[:1] == b"\x01"
        if len(mem) == n:
            break
    if not mem:
        raise SystemExit("no finished request record in this Redis")
    med = statistics.median
    print(f"records {len(mem)} (packed {packed}): MEMORY USAGE median "
          f"{med(mem):.0f} B; completion {med(comp):.0f} B, usage "
          f"{med(usage):.0f} B (median HSTRLEN)")


if __name__ == "__main__":
    main()
