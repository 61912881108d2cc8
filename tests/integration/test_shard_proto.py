"""The multi-Redis prototype (tests/bench/shard_proto.py, docs/scaling.md
"Past one Redis: the prototype") stays exact: budgets spread over three
redis-servers of its own, cross-shard requests, clients that die or stall
between steps, a reaper, and leased slices of one hot budget.

It needs redis-server on PATH, not the stack; the servers take free ports
(or SHARD_PROTO_BASE_PORT, +1, +2). The assertions are about exactness only,
never speed, and hold under any interleaving.
"""

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import shard_proto  # noqa: E402

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"),
                                reason="needs redis-server")


@pytest.fixture(scope="module")
def cluster():
    with shard_proto.Cluster(3) as c:
        yield c


def test_grouped_and_cross_shard_exact(cluster):
    rep = shard_proto.run(cluster, 3, seed=7, **shard_proto.EXACT)
    c = rep["counts"]
    # The run must have gone through every path it checks.
    for what in ("admitted across shards", "refused at home",
                 "refused at a part", "crash between reservations",
                 "crash before the call", "crash after the commit",
                 "stalled past the lease", "repeated finish"):
        assert c.get(what, 0) > 0, (what, c)
    assert rep["samples"] > 100
    assert rep["reaped_during"] + rep["reaped_after"] > 0
    assert rep["violations"] == []


def test_release_on_refusal_is_what_keeps_the_books(cluster):
    """The checker itself: without the release after a refused part, the
    home's reservation stays behind (until a reaper would free it), which
    the run reports."""
    rep = shard_proto.run(cluster, 3, seed=7, breaks=("no-release",),
                          **shard_proto.EXACT)
    assert any("not abandoned" in v for v in rep["violations"]), rep["violations"][:5]


def test_fixed_order_avoids_mutual_refusal(cluster):
    # Room for one of two requests on both budgets: in one order, one is
    # admitted; in opposite orders each holds one budget and both are refused.
    assert shard_proto.order_scenario(cluster, ordered=True) == 1
    assert shard_proto.order_scenario(cluster, ordered=False) == 0


@pytest.mark.parametrize("slices", [False, True])
def test_hot_budget_never_overshot(cluster, slices):
    rep = shard_proto.run(cluster, 1, "hot", seed=3, slices=slices,
                          **shard_proto.EXACT_SLICES)
    hot = rep["hot"]
    assert rep["violations"] == []
    assert hot["usage"] <= hot["limit"]
    # the limit was reached: requests were refused with little left over
    assert rep["counts"].get("refused", 0) + rep["counts"].get("refused at home", 0) > 0
    assert hot["unused_share"] < 0.02
    if slices:
        assert rep["counts"].get("slice abandoned", 0) > 0
        assert rep["calls_per_req"] < 2
