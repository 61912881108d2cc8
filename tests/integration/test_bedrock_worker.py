"""The worker against a simulator that behaves like AWS: signatures checked
(with a session token, and an ARN model id), throttling retried, errors
answered with the AWS type, reservations returned exactly."""

import collections

import pytest

from tgstack import Sim, Worker, events, ledger, produce, request, wait_assigned

KEY, SECRET, TOKEN = "AKIDSIGNEDTEST", "signed-test-secret", "session-token-xyz"
ARN = ("arn:aws:bedrock:us-east-1:123456789012:"
       "application-inference-profile/abc123")
CATALOG = """{"priceVersion": "test-1", "models": [
 {"alias": "nova-lite", "modelId": "amazon.nova-lite-v1:0", "family": "nova",
  "maxOutputTokens": 5000,
  "price": {"input": "0.06", "output": "0.24", "cacheRead": "0.015"}}],
 "routes": [{"match": {"costCenter": "sales"}, "model": "nova-lite",
             "target": "%s"}]}""" % ARN


def run(tmp_path, brokers, topics, url, sim, reqs, env=None, args=()):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(CATALOG)
    w = Worker(tmp_path, topics["prefix"], url,
               args=["--bedrock-endpoint", sim.url, "--catalog", str(catalog),
                     *args], env=env)
    try:
        wait_assigned([w], 4)
        produce(brokers, topics["requests"], [(r["requestId"], r) for r in reqs])
        comps = dict(events(brokers, topics["completions"], len(reqs)))
        usage = dict(events(brokers, topics["usage"], len(reqs)))
    finally:
        assert w.stop() == 0
    return comps, usage, w


def test_signed_requests_with_session_token_and_arn(tmp_path, brokers, topics,
                                                    ledger_redis):
    sim = Sim("--access-key-id", KEY, "--secret-access-key", SECRET,
              "--session-token", TOKEN)
    env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_SESSION_TOKEN": TOKEN}
    reqs = [request(f"sig-{i}", "sales" if i % 2 else "eng") for i in range(20)]
    try:
        comps, usage, w = run(tmp_path, brokers, topics, ledger_redis, sim,
                              reqs, env=env)
        stats = sim.stats()
    finally:
        sim.stop()
    assert all(c["status"] == "completed" for c in comps.values()), comps
    assert stats["authFailures"] == 0
    # the sales half went to the application inference profile (routing)
    assert stats["byModel"].get(ARN) == 10, stats["byModel"]
    assert stats["byModel"].get("amazon.nova-lite-v1:0") == 10
    assert {u["target"] for k, u in usage.items() if k.endswith(("1", "3"))} == {ARN}
    log = w.text()
    for secret in (SECRET, TOKEN):
        assert secret not in log


def test_wrong_secret_fails_with_aws_type(tmp_path, brokers, topics,
                                          ledger_redis):
    ledger(ledger_redis, "budget", "set", "all", "--selector", "none",
           "--period", "day", "--limit-usd", "1")
    sim = Sim("--access-key-id", KEY, "--secret-access-key", SECRET)
    env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    try:
        comps, usage, _ = run(tmp_path, brokers, topics, ledger_redis, sim,
                              [request("badsig", "eng")], env=env)
    finally:
        sim.stop()
    assert comps["badsig"]["status"] == "failed"
    assert comps["badsig"]["reason"].startswith("InvalidSignatureException: ")
    assert usage["badsig"]["decision"] == "failed"
    status = {b["id"]: b for b in __import__("json").loads(
        ledger(ledger_redis, "status", "--json").stdout)}
    assert status["all"]["spentNanoUsd"] == 0
    assert status["all"]["reservedNanoUsd"] == 0


def test_throttling_at_30_percent_every_request_completes(tmp_path, brokers,
                                                          topics, ledger_redis):
    ledger(ledger_redis, "budget", "set", "all", "--selector", "none",
           "--period", "day", "--limit-usd", "10")
    sim = Sim("--throttle-rate", "0.3", "--seed", "7")
    reqs = [request(f"thr-{i}", "eng") for i in range(300)]
    try:
        comps, usage, w = run(tmp_path, brokers, topics, ledger_redis, sim,
                              reqs, args=["--backoff-base-ms", "5",
                                          "--max-attempts", "12",
                                          "--metrics-port", "0"])
        stats = sim.stats()
    finally:
        sim.stop()
    assert {c["status"] for c in comps.values()} == {"completed"}
    attempts = collections.Counter(c["attempts"] for c in comps.values())
    assert sum(n for a, n in attempts.items() if a > 1) > 30, attempts
    throttled = stats["byErrorType"].get("ThrottlingException", 0)
    assert sum((a - 1) * n for a, n in attempts.items()) == throttled
    assert all(u["attempts"] == comps[k]["attempts"] for k, u in usage.items())
    spent = sum(u["costNanoUsd"] for u in usage.values())
    status = {b["id"]: b for b in __import__("json").loads(
        ledger(ledger_redis, "status", "--json").stdout)}
    assert status["all"]["spentNanoUsd"] == spent
    assert status["all"]["reservedNanoUsd"] == 0


@pytest.mark.parametrize("etype,status", [("ValidationException", 400),
                                          ("ModelErrorException", 424),
                                          ("ServiceQuotaExceededException", 400)])
def test_non_retryable_error_fails_and_returns_reservation(
        tmp_path, brokers, topics, ledger_redis, etype, status):
    ledger(ledger_redis, "budget", "set", "all", "--selector", "none",
           "--period", "day", "--limit-usd", "1")
    sim = Sim("--error-rate", f"{etype}=1")
    try:
        comps, usage, _ = run(tmp_path, brokers, topics, ledger_redis, sim,
                              [request(f"err-{i}", "eng") for i in range(5)])
        stats = sim.stats()
    finally:
        sim.stop()
    for k, c in comps.items():
        assert c["status"] == "failed" and c["attempts"] == 1
        assert c["reason"].startswith(etype + ": "), c["reason"]
        assert usage[k]["decision"] == "failed"
        assert usage[k]["costNanoUsd"] == 0 and usage[k]["reservedNanoUsd"] > 0
    assert stats["byStatus"][str(status)] == 5
    st = {b["id"]: b for b in __import__("json").loads(
        ledger(ledger_redis, "status", "--json").stdout)}
    assert st["all"]["spentNanoUsd"] == 0 and st["all"]["reservedNanoUsd"] == 0
