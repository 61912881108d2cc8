"""Fixtures and helpers for tests against the real local stack.

tests/run.sh starts an isolated stack (deploy/local/stack.sh) and exports
where it is; without run.sh the defaults are those of a plain
`deploy/local/stack.sh up`:

    TOLLGATE_BROKERS           Kafka bootstrap servers   (127.0.0.1:19092)
    TOLLGATE_REDIS             Redis URL                 (redis://127.0.0.1:16379)
    TOLLGATE_BEDROCK_ENDPOINT  the Bedrock simulator     (http://127.0.0.1:18080)
    TOLLGATE_BUILD_DIR         the CMake build directory ($REPO/build)
    TOLLGATE_KAFKA_SASL_BROKERS  the SASL_PLAINTEXT listener, if any
                               (PLAIN, user tollgate / tollgate-secret)

The stack is shared by all tests and never wiped between them: a test keeps
to its own topics by using a unique prefix (`unique_prefix()`, or the
`topics` fixture), and to its own Redis keys (budget ids, key prefixes).
"""

import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOPIC_SUFFIXES = ("requests", "completions", "usage", "alerts", "dlq", "deferred")


def unique_prefix(name="t"):
    """A topic prefix no other test (or run) uses, e.g. 'tgtest.budget.3f9a1c2e'."""
    clean = re.sub(r"[^A-Za-z0-9_-]+", "-", name)[:40].strip("-") or "t"
    return f"tgtest.{clean}.{uuid.uuid4().hex[:8]}"


def find_binary(build_dir, name):
    """Path of an executable built somewhere under build_dir, or None."""
    for path in sorted(Path(build_dir).rglob(name)):
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def create_topics(brokers, prefix, build_dir=None, partitions=4, topics=()):
    """Creates PREFIX.requests, PREFIX.completions, ... (or just `topics`,
    suffixes or full names) with tollgate-topics; returns {suffix: name}."""
    build_dir = build_dir or os.environ.get("TOLLGATE_BUILD_DIR", REPO / "build")
    tool = find_binary(build_dir, "tollgate-topics")
    assert tool, f"tollgate-topics not built under {build_dir}"
    cmd = [str(tool), "--brokers", brokers, "--prefix", prefix,
           "--partitions", str(partitions)]
    for t in topics:
        cmd += ["--topic", t]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)
    names = topics or TOPIC_SUFFIXES
    return {t: (f"{prefix}.{t}" if t in TOPIC_SUFFIXES else t) for t in names}


def consume_all(brokers, topic, timeout=10.0, min_count=0):
    """Reads `topic` from the beginning to the end of every partition with
    isolation.level=read_committed, and returns [(key, value, headers)]:
    key as str (or None), value as bytes (or None), headers as a dict of
    bytes. Ordered by partition, then offset. With min_count, keeps reading
    until at least that many messages came (or the timeout passes), which
    is how a test waits for a worker's output."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": f"tgtest-reader-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
    })
    try:
        meta = consumer.list_topics(topic, timeout=timeout)
        parts = meta.topics[topic].partitions
        assert parts, f"topic {topic} has no partitions (does it exist?)"
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        got, at_end = {p: [] for p in parts}, set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if len(at_end) == len(parts) and sum(map(len, got.values())) >= min_count:
                    break
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    continue
                raise RuntimeError(f"consuming {topic}: {msg.error()}")
            at_end.discard(msg.partition())
            key = msg.key().decode("utf-8", "replace") if msg.key() is not None else None
            got[msg.partition()].append((key, msg.value(), dict(msg.headers() or [])))
        return [m for p in sorted(got) for m in got[p]]
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def brokers():
    return os.environ.get("TOLLGATE_BROKERS", "127.0.0.1:19092")


@pytest.fixture(scope="session")
def sasl_brokers():
    value = os.environ.get("TOLLGATE_KAFKA_SASL_BROKERS")
    if not value:
        pytest.skip("no SASL listener (TOLLGATE_KAFKA_SASL_BROKERS unset)")
    return value


@pytest.fixture(scope="session")
def redis_url():
    return os.environ.get("TOLLGATE_REDIS", "redis://127.0.0.1:16379")


@pytest.fixture(scope="session")
def bedrock_endpoint():
    return os.environ.get("TOLLGATE_BEDROCK_ENDPOINT", "http://127.0.0.1:18080")


@pytest.fixture(scope="session")
def build_dir():
    return Path(os.environ.get("TOLLGATE_BUILD_DIR", REPO / "build")).resolve()


@pytest.fixture
def redis_client(redis_url):
    """A redis-py client (str replies). The DB is not flushed: use your own keys."""
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def topics(request, brokers, build_dir):
    """Fresh topics for this test: {'prefix': P, 'requests': 'P.requests', ...}."""
    prefix = unique_prefix(request.node.name)
    names = create_topics(brokers, prefix, build_dir)
    return {"prefix": prefix, **names}


@pytest.fixture
def ledger_redis(redis_url):
    """A Redis URL on a database of its own, flushed, for a test whose
    workers and ledger must not see other tests' budgets (the ledger's keys
    are global by design). DBs 6-15 are handed out in turn."""
    import redis

    from tgstack import next_ledger_db  # here: tgstack imports conftest

    db = next_ledger_db()
    url = f"{redis_url.rstrip('/').rsplit('/', 1)[0] if redis_url.count('/') > 2 else redis_url.rstrip('/')}/{db}"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    client.close()
    return url
