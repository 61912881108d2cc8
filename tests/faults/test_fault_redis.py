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


def test_redis_restart_slow_to_load(tmp_path, brokers, topics):
    # A Redis restarted from a large AOF answers SELECT but refuses SCRIPT
    # LOAD (-LOADING) while it reads it, then meets every EVALSHA with
    # NOSCRIPT. A link set up then must not count as up. key-load-delay
    # (Redis's own test knob) stretches the load to seconds, and
    # loading-process-events-interval-bytes makes Redis answer meanwhile,
    # as it does with a dataset of gigabytes.
    rs = RedisServer(tmp_path, fsync="always")
    c = rs.client()
    pipe = c.pipeline(transaction=False)
    for i in range(5000):
        pipe.set(f"filler:{i}", "x" * 100)
    pipe.execute()
    c.execute_command("BGREWRITEAOF")  # the base file is RDB: delay works
    deadline = time.monotonic() + 20
    while c.info("persistence")["aof_rewrite_in_progress"]:
        assert time.monotonic() < deadline, "AOF rewrite never ended"
        time.sleep(0.1)
    c.close()

    def restart():
        rs.kill()
        rs.extra = ["--key-load-delay", "500",
                    "--loading-process-events-interval-bytes", "1024"]
        rs.start()  # waits until loaded, while the workers try

    try:
        figures, peaks, logs = run_faults(
            tmp_path, brokers, topics, rs.url, N, RATE,
            [(4, "restart", restart)], id_prefix="rl")
    finally:
        rs.stop()
    refused = log_count(logs, "SCRIPT LOAD: LOADING")
    assert refused >= 2, "no worker ever met a Redis still loading"
    report("Redis restarted from a large AOF (kill -9; loading for seconds)",
           figures, worst(peaks.values()),
           f"{refused} links refused while loading; {calls_note(figures)}")


def test_redis_script_cache_flushed_mid_run(tmp_path, brokers, topics):
    # A Redis that restarts from its AOF answers -LOADING while it reads it,
    # so the scripts a new link loads can be refused and its first calls
    # meet NOSCRIPT; SCRIPT FLUSH gives the same NOSCRIPT on a link that
    # stays up. No state change comes: each call so refused must be sent
    # again by itself (it once waited for a reconnect that never came, and
    # its request never finished).
    rs = RedisServer(tmp_path)

    def flush():
        c = rs.client()
        c.execute_command("SCRIPT", "FLUSH")
        c.close()

    try:
        figures, peaks, logs = run_faults(
            tmp_path, brokers, topics, rs.url, N, RATE,
            [(3, "first", flush), (6, "second", flush), (9, "third", flush)],
            id_prefix="rf")
    finally:
        rs.stop()
    assert log_count(logs, "admissions paused") == 0, \
        "the link dropped: NOSCRIPT was not what was tested"
    report("Redis script cache flushed three times mid-run (SCRIPT FLUSH)",
           figures, worst(peaks.values()), calls_note(figures))
