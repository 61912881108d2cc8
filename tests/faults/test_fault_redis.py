"""Redis goes away mid-run: restarted (AOF on, as the deploy docs configure
it) and paused (DEBUG SLEEP, CLIENT PAUSE). The workers fail closed: no
admission without Redis, consumption pauses, jobs wait and resume where
they stopped once Redis is back; a Lua call whose reply was lost is
repeated, and the request record makes the repeat harmless.

Each test runs its own redis-server; the shared stack's is never touched.
"""

import time

import pytest

from faultkit import (RedisServer, calls_note, log_count, report, run_faults,
                      worst)

N, RATE = 600, 40


@pytest.mark.parametrize("how", ["shutdown", "kill9-fsync-always"])
def test_redis_restart_mid_run(tmp_path, brokers, topics, how):
    # SHUTDOWN writes the AOF out first; a kill -9 loses nothing only when
    # every write is fsynced (with everysec up to a second may be lost:
    # reconcile finds it and rebuild restores it, see docs/operations.md).
    kill = how.startswith("kill9")
    rs = RedisServer(tmp_path, fsync="always" if kill else "everysec")

    def restart():
        rs.kill() if kill else rs.shutdown()
        time.sleep(3)
        rs.start()

    try:
        figures, peaks, logs = run_faults(
            tmp_path, brokers, topics, rs.url, N, RATE,
            [(4, "first", restart), (10, "second", restart)],
            id_prefix="rr")
    finally:
        rs.stop()
    outages = log_count(logs, "admissions paused")
    assert outages >= 2, "the workers never saw Redis go"
    what = ("kill -9, appendfsync always" if kill
            else "SHUTDOWN, appendfsync everysec")
    report(f"Redis restarted twice mid-run ({what}; down 3 s each)",
           figures, worst(peaks.values()),
           f"{outages} outages seen by 2 workers; {calls_note(figures)}")


def test_redis_paused_mid_run(tmp_path, brokers, topics):
    rs = RedisServer(tmp_path)

    def debug_sleep():
        c = rs.client()
        c.execute_command("DEBUG", "SLEEP", "5")
        c.close()

    def client_pause():
        c = rs.client()
        c.execute_command("CLIENT", "PAUSE", "5000", "ALL")
        c.close()
        time.sleep(5)

    try:
        figures, peaks, logs = run_faults(
            tmp_path, brokers, topics, rs.url, N, RATE,
            [(3, "sleep", debug_sleep), (10, "pause", client_pause)],
            id_prefix="rp")
    finally:
        rs.stop()
    slow = log_count(logs, "did not answer within")
    assert slow >= 2, "the watchdog never fired"
    report("Redis paused mid-run: DEBUG SLEEP 5, then CLIENT PAUSE 5000 ALL",
           figures, worst(peaks.values()),
           f"watchdog fired {slow} times (2 s); {calls_note(figures)}")
