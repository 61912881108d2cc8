"""kill -9 a random worker every few seconds while requests stream through
three of them; each is restarted at once under its --worker-id (so its
successor fences the dead one's open Kafka transaction). A killed worker's
reservations are resumed by whoever gets its requests once the lease runs
out, or released by the reaper; its uncommitted transaction is aborted, and
the requests it had finished in Redis are answered again from the ledger.

The issue's size, in every run of the README's test command (and so in
CI): 5,000 requests at 80/s, a kill every ~3 s (about 20 kills).
"""

import pytest

from faultkit import (FAST_GROUP, Feeder, Pool, Sampler, calls_note,
                      kill_randomly, log_count, report, set_stream_budgets,
                      stream_request, verify, worst)
from tgstack import Sim, wait_assigned

N, RATE = 5000, 80
KILL_EVERY_S = 3.0
NAMES = ["k1", "k2", "k3"]


@pytest.mark.budget(360)
def test_kill9_random_worker_every_few_seconds(tmp_path, brokers, topics,
                                               ledger_redis):
    set_stream_budgets(ledger_redis, N)
    sim = Sim("--latency", "uniform:100:600")
    args = ["--bedrock-endpoint", sim.url, "--lease-ms", "8000",
            "--max-inflight", "64", *FAST_GROUP]
    sampler = Sampler(sim, ledger_redis)
    reqs = [stream_request(i, "k9") for i in range(N)]
    pool = None
    try:
        pool = Pool(tmp_path, topics["prefix"], ledger_redis, NAMES, args)
        wait_assigned(pool.workers(), 4)
        sampler.start()
        feeder = Feeder(brokers, topics["requests"], reqs, RATE)
        feeder.start()
        peaks = kill_randomly(pool, NAMES, KILL_EVERY_S,
                              lambda: not feeder.is_alive(), sampler)
        feeder.finish()
        pool.assert_running()
        figures = verify(brokers, topics, ledger_redis,
                         [r["requestId"] for r in reqs], timeout=90)
        st = sim.stats()
        figures["calls"] = st["converse"]
    finally:
        sampler.stop()
        rcs = pool.stop() if pool else {}
        sim.stop()
    assert all(rc == 0 for rc in rcs.values()), rcs
    logs = pool.logs()
    resumed = log_count(logs, "after its worker's lease expired")
    released = log_count(logs, "released the reservation of")
    assert pool.kills >= 8, pool.kills
    report(f"kill -9 a random worker every ~{KILL_EVERY_S:.0f} s, restarted "
           f"(3 workers, {pool.kills} kills)", figures, worst(peaks),
           f"{RATE} req/s; {resumed} reservations resumed, {released} "
           f"released by the reaper; {calls_note(figures)}")
