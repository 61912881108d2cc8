"""Broker errors the real broker does not produce on demand, from
librdkafka's mock cluster (tollgate-mock-cluster, built from
tests/faults/mock_cluster.c): errors injected into the produce, offset
commit and transaction requests of a worker running against it, with
transactions on and off. The worker must retry what is retriable, abort and
read again what the transaction cannot commit, and never lose a request or
charge one twice.

librdkafka 2.0.2's mock keeps no transaction markers: a read_committed
reader of the mock also sees messages of aborted transactions. Duplicates
are therefore counted (they must be byte-identical re-publications) but
only required to be absent on the real broker (the other fault tests).
"""

import subprocess
import time

import pytest

from faultkit import (FAST_GROUP, Pool, report, set_stream_budgets,
                      stream_request, usage_of, verify)
from tgstack import Sim, binary, produce, wait_assigned

# Kafka error codes (the protocol's numbers).
REQUEST_TIMED_OUT = 7
NOT_LEADER = 6
NOT_ENOUGH_REPLICAS = 19
COORDINATOR_LOAD = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
CONCURRENT_TRANSACTIONS = 51
TOPIC_AUTHORIZATION_FAILED = 29
INVALID_RECORD = 87
# ApiKeys
PRODUCE, OFFSET_COMMIT, INIT_PID, ADD_PARTS, END_TXN, TXN_OFFSET_COMMIT = (
    0, 8, 22, 24, 26, 28)
API_NAMES = {0: "Produce", 8: "OffsetCommit", 22: "InitProducerId",
             24: "AddPartitionsToTxn", 26: "EndTxn", 28: "TxnOffsetCommit"}

BATCH = 60


class MockCluster:
    """tollgate-mock-cluster as a child; commands on its stdin."""

    def __init__(self, topics):
        self.proc = subprocess.Popen(
            [binary("tollgate-mock-cluster"), "--partitions", "4", *topics],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        assert line.startswith("bootstrap "), line
        self.brokers = line.split()[1]

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer.startswith("ok"), f"{line}: {answer}"

    def errors(self, api, *codes):
        self.command(f"err {api} {','.join(map(str, codes))}")

    def stop(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


# (ApiKey, codes) per step, injected after a batch is produced; the worker's
# requests of that kind meet them while it answers the batch.
TXN_STEPS = [
    (PRODUCE, [NOT_LEADER, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS]),
    (ADD_PARTS, [CONCURRENT_TRANSACTIONS, COORDINATOR_NOT_AVAILABLE]),
    (TXN_OFFSET_COMMIT, [COORDINATOR_LOAD, NOT_COORDINATOR]),
    (END_TXN, [CONCURRENT_TRANSACTIONS, COORDINATOR_NOT_AVAILABLE]),
    (ADD_PARTS, [TOPIC_AUTHORIZATION_FAILED]),  # abortable: abort, re-read
    (PRODUCE, [INVALID_RECORD]),  # a permanent produce error: abort
]
IDEMPOTENT_STEPS = [
    (PRODUCE, [NOT_LEADER, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS]),
    (OFFSET_COMMIT, [COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
                     REQUEST_TIMED_OUT]),
    (PRODUCE, [INVALID_RECORD]),  # permanent: the worker produces it again
]


def steps_text(steps, init):
    parts = [f"{API_NAMES[a]} {'/'.join(map(str, c))}" for a, c in steps]
    if init:
        parts.insert(0, f"InitProducerId {'/'.join(map(str, init))}")
    return "; ".join(parts)


@pytest.mark.parametrize("txn", [1, 0], ids=["transactions", "idempotent"])
def test_mock_cluster_injected_errors(tmp_path, ledger_redis, txn):
    prefix = f"mock{txn}"
    names = {s: f"{prefix}.{s}" for s in ("requests", "completions", "usage",
                                          "alerts", "dlq", "deferred")}
    steps = TXN_STEPS if txn else IDEMPOTENT_STEPS
    init = [COORDINATOR_LOAD, CONCURRENT_TRANSACTIONS] if txn else []
    n = BATCH * (len(steps) + 1)
    set_stream_budgets(ledger_redis, n)
    reqs = [stream_request(i, prefix) for i in range(n)]
    topics = {"prefix": prefix, **names}
    mc = MockCluster(names.values())
    sim = pool = None
    try:
        sim = Sim("--latency", "uniform:20:200")
        for code in init:  # met by the worker's first InitProducerId
            mc.errors(INIT_PID, code)
        args = ["--brokers", mc.brokers, "--bedrock-endpoint", sim.url,
                "--transactions", str(txn), *FAST_GROUP]
        pool = Pool(tmp_path, prefix, ledger_redis, ["m1"], args)
        wait_assigned(pool.workers(), 4)
        txn_on = txn and "falling back to idempotent" not in pool.logs()
        for k in range(len(steps) + 1):
            batch = reqs[k * BATCH:(k + 1) * BATCH]
            produce(mc.brokers, names["requests"],
                    [(r["requestId"], r) for r in batch])
            if k < len(steps):
                api, codes = steps[k]
                mc.errors(api, *codes)
            usage_of(mc.brokers, names["usage"],
                     {r["requestId"] for r in batch}, timeout=60)
            pool.assert_running()
        time.sleep(1)  # the last transaction commits
        figures = verify(mc.brokers, topics, ledger_redis,
                         [r["requestId"] for r in reqs], txn=False,
                         timeout=60)
    finally:
        rcs = pool.stop() if pool else {}
        if sim:
            sim.stop()
        mc.stop()
    logs = pool.logs()
    assert all(rc == 0 for rc in rcs.values()), (rcs, logs[-3000:])
    aborted = sum("transaction aborted" in ln for ln in logs.splitlines())
    resent = sum("resending" in ln for ln in logs.splitlines())
    mode = ("transactions" if txn_on else
            "transactions requested, fell back to idempotent" if txn else
            "idempotent (--transactions 0)")
    notes = (f"{aborted} transactions aborted and re-read; duplicates: "
             f"the mock keeps no transaction markers, read_committed sees "
             f"aborted copies (all identical)" if txn_on else
             f"{resent} failed deliveries produced again")
    report(f"librdkafka mock cluster, {mode}: {steps_text(steps, init)}",
           figures, None, notes)
    if txn:
        assert txn_on, "the worker could not use transactions on the mock"
