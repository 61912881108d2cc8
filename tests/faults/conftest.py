"""Fault tests: real broker, real Redis and the simulator, with faults
injected mid-run (workers killed, Redis and Kafka restarted or paused,
Bedrock storms, broker errors from librdkafka's mock cluster), hostile input
and a secrets check. Each test is bounded in time (TEST_BUDGET_S).

The helpers and fixtures of tests/integration are used as they are: its
conftest is loaded under another module name and everything is re-exported
here (pytest keeps one module named `conftest` at a time, and tgstack
imports from it). Tests that restart Redis or Kafka start private ones
(faultkit.RedisServer, faultkit.KafkaBroker); the shared stack is never
restarted.

Sizes are the issue's (5,000 requests through 3 workers killed every few
seconds) in every run: there is no separate long variant. The figures of
every fault go to $TOLLGATE_BUILD_DIR/faults-report.md (a table, rewritten per session).
"""

import importlib.util
import signal
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INTEGRATION = HERE.parent / "integration"
for _p in (str(INTEGRATION), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

_spec = importlib.util.spec_from_file_location(
    "tg_integration_conftest", INTEGRATION / "conftest.py")
_base = importlib.util.module_from_spec(_spec)
sys.modules["tg_integration_conftest"] = _base
_spec.loader.exec_module(_base)

from tg_integration_conftest import (  # noqa: E402,F401  (re-exported)
    REPO, TOPIC_SUFFIXES, bedrock_endpoint, brokers, build_dir, consume_all,
    create_topics, find_binary, ledger_redis, redis_client, redis_url,
    sasl_brokers, topics, unique_prefix)

# Everything else public as well: tests/integration imports from
# `conftest` lazily too, and in a run of both directories that is this
# module once it is loaded.
globals().update({k: v for k, v in vars(_base).items()
                  if not k.startswith("_") and k not in globals()})

TEST_BUDGET_S = 120


class TimeBoundExceeded(Exception):
    pass


@pytest.fixture(autouse=True)
def time_bound(request):
    """Fails a test that runs over its budget (the finally blocks still stop
    what it started) and prints how long it took. A test may ask for more
    with @pytest.mark.budget(seconds) (the kill -9 run does)."""
    mark = request.node.get_closest_marker("budget")
    budget = mark.args[0] if mark else TEST_BUDGET_S

    def expired(signum, frame):
        raise TimeBoundExceeded(f"{request.node.name} ran over {budget} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(budget)
    t0 = time.monotonic()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        print(f"\n[{request.node.name}] {time.monotonic() - t0:.1f} s")


@pytest.fixture(scope="session", autouse=True)
def fresh_report():
    """Starts the session's fault table afresh."""
    from faultkit import report_path

    path = report_path()
    if path.exists():
        path.unlink()
    yield


def pytest_configure(config):
    config.addinivalue_line("markers",
                            "budget(seconds): time bound of a fault test")
