"""Group membership settings (worker/assignment.c): the defaults, and the
settings the worker cannot honour, refused at start with the reason rather
than a consumer that runs and reads nothing (docs/operations.md, "Pod
churn")."""

import pytest

from tgstack import Worker, wait_assigned


def start_refused(tmp_path, topics, redis_url, *args):
    w = Worker(tmp_path, topics["prefix"], redis_url, name="m1",
               args=list(args))
    try:
        rc = w.proc.wait(timeout=60)
    finally:
        w.stop()
    return rc, w.text()


@pytest.mark.parametrize("args,words", [
    (["-X", "consumer.partition.assignment.strategy=range,cooperative-sticky"],
     "mixes eager and cooperative assignors"),
    (["-X", "consumer.partition.assignment.strategy=sticky"],
     "is not one the worker supports"),
    (["-X", "consumer.group.instance.id=pod-0", "--static-membership", "0"],
     "static-membership is 0"),
    (["-X", "consumer.enable.auto.offset.store=true"],
     "enable.auto.offset.store=true is refused"),
    (["--worker-id", "pod 0/bad", "--static-membership", "1"],
     "cannot be a group.instance.id"),
])
def test_unhonourable_setting_refused_at_start(tmp_path, topics, redis_url,
                                               args, words):
    rc, text = start_refused(tmp_path, topics, redis_url, *args)
    assert rc == 1, text[-2000:]
    assert "cannot start" in text and words in text, text[-2000:]


def test_defaults_cooperative_static(tmp_path, topics, redis_url,
                                    bedrock_endpoint):
    a = Worker(tmp_path, topics["prefix"], redis_url, name="pod-a",
               args=["--bedrock-endpoint", bedrock_endpoint],
               default_membership=True)
    b = None
    try:
        wait_assigned([a], 4)
        b = Worker(tmp_path, topics["prefix"], redis_url, name="pod-b",
                   args=["--bedrock-endpoint", bedrock_endpoint,
                         "--static-membership", "0"])
        wait_assigned([a, b], 4)
        # The first worker gave up only what moved, incrementally; pod-a,
        # with the defaults and an explicit id, joined as a static member,
        # pod-b, which turned it off, did not.
        assert "cooperative)" in a.text() and "(-" in a.text(), a.text()
        assert '"revoked ' not in a.text()
        assert "static membership as pod-a" in a.text(), a.text()
        assert "static membership as" not in b.text(), b.text()
    finally:
        for w in (a, b):
            if w:
                assert w.stop() == 0


def librdkafka_version():
    """The version of the librdkafka the worker is linked with (the
    system's, not the one bundled in the confluent-kafka wheel)."""
    import ctypes
    return ctypes.CDLL("librdkafka.so.1").rd_kafka_version()


def test_sigterm_before_first_assignment_exits_cleanly(tmp_path, topics,
                                                       redis_url,
                                                       bedrock_endpoint):
    """A worker stopped while its first rebalance is still held open by
    another member: librdkafka < 2.3 aborts destroying such a consumer
    (#4312). The worker exits 0 at once instead (docs/operations.md, "Pod
    churn"). The rebalance is held by a member that stops answering
    (SIGSTOP), as a pod frozen on a dying node does."""
    import signal
    import time
    args = ["--bedrock-endpoint", bedrock_endpoint]
    a = Worker(tmp_path, topics["prefix"], redis_url, name="hold", args=args)
    b = None
    try:
        wait_assigned([a], 4)
        a.proc.send_signal(signal.SIGSTOP)
        b = Worker(tmp_path, topics["prefix"], redis_url, name="late",
                   args=args)
        deadline = time.monotonic() + 30
        while "consuming" not in b.text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)  # b's JoinGroup now waits for the stopped member
        assert "\"assigned " not in b.text(), b.text()[-2000:]
        started = time.monotonic()
        rc = b.stop()
        took = time.monotonic() - started
        assert rc == 0, b.text()[-3000:]
        assert took < 10, took
        old = librdkafka_version() < 0x020300ff
        assert ("not destroyed" in b.text()) == old, b.text()[-2000:]
    finally:
        a.proc.send_signal(signal.SIGCONT)
        assert a.stop() == 0
        if b and b.proc.poll() is None:
            b.stop()
