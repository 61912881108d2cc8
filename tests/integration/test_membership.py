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
