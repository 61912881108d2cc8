"""The Kafka broker stops (or is killed) and comes back mid-run (a broker
of the test's own; the shared one is never restarted). While it is away the
workers cannot consume, publish or commit; the open transaction either
commits once the broker is back or is aborted and its requests read again,
which the ledger answers from what it stored.

An outage longer than the transaction timeout (15 s) can end with the
coordinator aborting the transaction and fencing the producer's epoch, and
a killed coordinator can lose the open transaction (INVALID_TXN_STATE):
librdkafka reports either as fatal and the worker exits with status 1, to be
started again by its supervisor (systemd Restart=on-failure, Kubernetes).
The test plays the supervisor; the restarted worker (same --worker-id)
resumes its own reservations at once. The workers use the default group
membership (static, from the explicit --worker-id): static members
restarted in the middle of a cooperative rebalance once left partitions
without an owner here (docs/operations.md, "Pod churn").
"""

import time

import pytest

from conftest import unique_prefix
from faultkit import (KafkaBroker, calls_note, log_count, report, run_faults,
                      worst)

N, RATE = 600, 40
DOWN_S = 8


# A killed broker recovers its logs on start: 20-45 s away on a busy
# 2-core machine, hence the budget.
@pytest.mark.budget(300)
@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_kafka_broker_restart_mid_run(tmp_path, ledger_redis, how):
    kb = KafkaBroker(tmp_path)
    down = {}

    def restart():
        t = time.monotonic()
        kb.kill() if how == "kill9" else kb.stop()
        time.sleep(DOWN_S)
        kb.start()
        down["s"] = time.monotonic() - t

    try:
        kb.start()
        topics = kb.topics(unique_prefix("kafka-restart"))
        figures, peaks, logs = run_faults(
            tmp_path, kb.brokers, topics, ledger_redis, N, RATE,
            [(5, "restart", restart)], id_prefix="kr", verify_timeout=150,
            supervise=True, default_membership=True)
    finally:
        kb.stop()
    aborted = log_count(logs, "transaction aborted")
    # librdkafka's fatal producer errors: fenced after a long outage, or
    # INVALID_TXN_STATE when a killed coordinator lost the open transaction
    fatal = log_count(logs, "Fatal error:")
    exits = figures["exits"]
    # the only acceptable exit: a fatal producer error, as described above
    assert len(exits) <= fatal, (exits, fatal)
    what = "killed (kill -9)" if how == "kill9" else "stopped (SIGTERM)"
    report(f"Kafka broker {what} and restarted mid-run "
           f"(away {down['s']:.0f} s)", figures, worst(peaks.values()),
           f"{aborted} transactions aborted and re-read; {len(exits)} "
           f"workers exited (fatal producer error) and were restarted; "
           f"{calls_note(figures)}")
