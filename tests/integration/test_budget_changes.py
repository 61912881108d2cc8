"""Budget definitions change while workers run: the next request sees the
change, and no worker admits against the view it had before."""

import json

from tgstack import Worker, events, ledger, produce, request, wait_assigned


def test_new_and_changed_budgets_apply_to_the_next_request(
        tmp_path, brokers, topics, ledger_redis):
    ledger(ledger_redis, "budget", "set", "roomy", "--selector", "none",
           "--period", "day", "--limit-usd", "1")
    ws = [Worker(tmp_path, topics["prefix"], ledger_redis, name=f"w{i}")
          for i in range(2)]
    try:
        wait_assigned(ws, 4)
        produce(brokers, topics["requests"],
                [(f"a-{i}", request(f"a-{i}", "eng")) for i in range(10)])
        first = dict(events(brokers, topics["completions"], 10))
        # both workers loaded the old definitions; now a tight one appears
        ledger(ledger_redis, "budget", "set", "eng-zero", "--selector",
               "costCenter=eng", "--period", "day", "--limit-usd",
               "0.000000001")
        produce(brokers, topics["requests"],
                [(f"b-{i}", request(f"b-{i}", ("eng", "sales")[i % 2]))
                 for i in range(10)])
        second = dict(events(brokers, topics["completions"], 20))
        # and a limit raised takes effect at once too
        ledger(ledger_redis, "budget", "set", "eng-zero", "--limit-usd", "1")
        produce(brokers, topics["requests"],
                [(f"c-{i}", request(f"c-{i}", "eng")) for i in range(4)])
        third = dict(events(brokers, topics["completions"], 24))
    finally:
        assert [w.stop() for w in ws] == [0, 0]
    assert {c["status"] for c in first.values()} == {"completed"}
    for i in range(10):
        c = second[f"b-{i}"]
        if i % 2 == 0:
            assert c["status"] == "rejected", c
            assert c["reason"] == "budget_exceeded:eng-zero"
        else:
            assert c["status"] == "completed", c
    assert all(third[f"c-{i}"]["status"] == "completed" for i in range(4))
    st = {b["id"]: b for b in json.loads(
        ledger(ledger_redis, "status", "--json").stdout)}
    assert st["eng-zero"]["spentNanoUsd"] == sum(
        third[f"c-{i}"]["costNanoUsd"] for i in range(4))
