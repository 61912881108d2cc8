"""The Kafka broker stops and comes back mid-run (a broker of the test's
own; the shared one is never restarted). While it is away the workers
cannot consume, publish or commit; the open transaction either commits once
the broker is back or is aborted and its requests read again, which the
ledger answers from what it stored.
"""

import time

from faultkit import (KafkaBroker, calls_note, log_count, report, run_faults,
                      worst)
from conftest import unique_prefix

N, RATE = 600, 40
DOWN_S = 8


def test_kafka_broker_restart_mid_run(tmp_path, ledger_redis):
    kb = KafkaBroker(tmp_path)
    down = {}

    def restart():
        t = time.monotonic()
        kb.stop()
        time.sleep(DOWN_S)
        kb.start()
        down["s"] = time.monotonic() - t

    try:
        kb.start()
        topics = kb.topics(unique_prefix("kafka-restart"))
        figures, peaks, logs = run_faults(
            tmp_path, kb.brokers, topics, ledger_redis, N, RATE,
            [(5, "restart", restart)], id_prefix="kr", verify_timeout=100)
    finally:
        kb.stop()
    aborted = log_count(logs, "transaction aborted")
    report(f"Kafka broker stopped (SIGTERM) and restarted mid-run "
           f"(away {down['s']:.0f} s)", figures, worst(peaks.values()),
           f"{aborted} transactions aborted and re-read; "
           f"{calls_note(figures)}")
