"""MSK IAM authentication (--kafka-auth aws-msk-iam), docs/operations.md
"MSK with IAM authentication".

1. tollgate's token is byte for byte the one AWS's signer
   (aws-msk-iam-sasl-signer-python 1.0.2) makes for the same credentials,
   region and second (its clock pinned, ours by msk-token --at).
2. A broker of this module gets an extra SASL_PLAINTEXT OAUTHBEARER listener
   whose validator is ours (tests/integration/msk/MskIamValidator.java,
   compiled here against deploy/local/lib): it recomputes each token's SigV4
   signature with the test's secret, checks action, scope and expiry, and
   logs every token it sees. Over that listener only: the topics tool creates
   the topics, tollgate-submit submits and waits, a worker answers every
   request once while its short-lived tokens are refreshed, and
   tollgate-ledger reconcile finds the ledger equal to the usage events. A
   worker with the wrong secret is refused and admits nothing.
3. /readyz tells the truth (docs/operations.md, "Readiness"): a worker
   whose credentials (from a credential_process it cannot refresh) expire,
   or whose tokens the broker refuses, answers 503 with the reason, and 200
   again by itself once that clears.
"""

import base64
import datetime
import json
import os
import subprocess
import time
from pathlib import Path
from unittest import mock

import pytest

from conftest import REPO, unique_prefix
from tgstack import (TEST_AWS_ENV, Worker, assert_clean, binary, free_port,
                     ledger, produce, readyz, request)


KAFKA_SH = REPO / "deploy" / "local" / "kafka.sh"
LIB = REPO / "deploy" / "local" / "lib"
VALIDATOR = Path(__file__).parent / "msk" / "MskIamValidator.java"
REGION = TEST_AWS_ENV["AWS_REGION"]
SECRET = TEST_AWS_ENV["AWS_SECRET_ACCESS_KEY"]
AUTH = ["--kafka-auth", "aws-msk-iam", "-X", "security.protocol=SASL_PLAINTEXT"]


# ------------------------------------------------------------- 1. the token


def python_token(akid, secret, token, region, when):
    """The Python signer's token and expiry with botocore's clock pinned."""
    import botocore.auth
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider as provider
    from botocore.credentials import Credentials

    creds = Credentials(akid, secret, token)
    fixed = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
    with mock.patch.object(botocore.auth, "get_current_datetime",
                           lambda *a, **k: fixed):
        return getattr(provider, "__construct_auth_token")(region, creds)


def tollgate_token(env, *args):
    res = subprocess.run([binary("tollgate-ledger"), "msk-token", *args],
                         env=env, capture_output=True, text=True, timeout=60)
    assert_clean(res.stderr, "tollgate-ledger msk-token")
    return res


@pytest.mark.parametrize("region,session_token", [
    ("us-east-1", None),
    ("eu-west-3", "FwoGZXIvYXdzEXAMPLE//+==token/with+specials"),
    ("ap-southeast-2", "A" * 1200),
])
def test_token_equals_the_python_signers(region, session_token):
    akid, secret = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    when = 1796209200 + len(region)  # 2026-12-02T11:00:xxZ
    env = {"PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": akid,
           "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": region,
           # a Bedrock API key cannot sign for Kafka: it must be ignored
           "AWS_BEARER_TOKEN_BEDROCK": "bedrock-api-key-not-for-kafka"}
    if session_token:
        env["AWS_SESSION_TOKEN"] = session_token
    res = tollgate_token(env, "--at", str(when))
    assert res.returncode == 0, res.stderr
    token, expiry = res.stdout.splitlines()
    want, want_ms = python_token(akid, secret, session_token, region, when)
    assert token == want  # byte for byte
    assert expiry.endswith(f"({want_ms})") and want_ms == (when + 900) * 1000
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    assert url.startswith(f"https://kafka.{region}.amazonaws.com/?Action="
                          "kafka-cluster%3AConnect&")
    assert secret not in res.stderr and secret not in url


def test_msk_token_refusals():
    base = {"PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": "AKIDX",
            "AWS_SECRET_ACCESS_KEY": "secret-never-printed"}
    res = tollgate_token(base)  # no region anywhere
    assert res.returncode == 1 and "region" in res.stderr
    res = tollgate_token({**base, "AWS_REGION": "us-east-1"},
                         "--msk-token-lifetime-s", "0")
    assert res.returncode == 2 and "1-3600" in res.stderr
    only_bearer = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1",
                   "AWS_BEARER_TOKEN_BEDROCK": "key",
                   "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                   "AWS_CONFIG_FILE": "/nonexistent", "HOME": "/nonexistent"}
    res = tollgate_token(only_bearer)
    assert res.returncode == 1 and "credential" in res.stderr.lower()
    assert "secret-never-printed" not in res.stderr


# ------------------------------------------------------- 2. against a broker


class Validated:
    """The validator's log: one line per token seen."""

    def __init__(self, path):
        self.path = path

    def lines(self):
        try:
            return self.path.read_text().splitlines()
        except FileNotFoundError:
            return []

    def mark(self):
        return len(self.lines())

    def ok_since(self, mark):
        return {ln.split()[1] for ln in self.lines()[mark:]
                if ln.startswith("OK ")}

    def expiries_since(self, mark, lifetime):
        """Expiry times (ms) of the distinct tokens of this lifetime."""
        return {int(ln.split()[2]) for ln in self.lines()[mark:]
                if ln.startswith("OK ") and ln.split()[3] == str(lifetime)}

    def rejected_since(self, mark):
        return [ln for ln in self.lines()[mark:] if ln.startswith("REJECT ")]


@pytest.fixture(scope="module")
def msk(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("msk")
    classes = tmp / "classes"
    classes.mkdir()
    res = subprocess.run(["javac", "-d", str(classes), "-cp", f"{LIB}/*",
                          str(VALIDATOR)], capture_output=True, text=True,
                         timeout=180)
    assert res.returncode == 0, res.stderr
    port, cport, oport = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TOLLGATE_KAFKA_")}
    env.update(TOLLGATE_STATE_DIR=str(tmp / "state"),
               TOLLGATE_KAFKA_PORT=str(port),
               TOLLGATE_KAFKA_CONTROLLER_PORT=str(cport),
               TOLLGATE_KAFKA_OAUTH_PORT=str(oport),
               TOLLGATE_KAFKA_OAUTH_HANDLER="MskIamValidator",
               TOLLGATE_KAFKA_OAUTH_REAUTH_MS="60000",
               TOLLGATE_KAFKA_CLASSPATH=str(classes),
               MSK_TEST_SECRET=SECRET, MSK_TEST_REGION=REGION,
               MSK_TEST_LOG=str(tmp / "validated.log"))
    res = subprocess.run([str(KAFKA_SH), "start"], env=env, timeout=240,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    try:
        yield {"brokers": f"127.0.0.1:{oport}", "plain": f"127.0.0.1:{port}",
               "validated": Validated(tmp / "validated.log")}
    finally:
        subprocess.run([str(KAFKA_SH), "stop"], env=env, timeout=120,
                       capture_output=True)


def aws_env(**over):
    return {**os.environ, **TEST_AWS_ENV, **over}


def make_topics(msk, prefix):
    res = subprocess.run(
        [binary("tollgate-topics"), "--brokers", msk["brokers"], "--prefix",
         prefix, "--partitions", "2", *AUTH], env=aws_env(),
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert_clean(res.stderr, "tollgate-topics")


def batch(path, n, tag):
    path.write_text("".join(json.dumps({
        "requestId": f"{tag}-{i}", "model": "nova-lite",
        "prompt": {"messages": [{"role": "user", "content": f"q {i}"}],
                   "parameters": {"max_tokens": 50}},
        "tags": {"applicationId": "msk", "costCenter": "eng"}}) + "\n"
        for i in range(n)))
    return path


def submit_wait(msk, prefix, src, out, *extra):
    res = subprocess.run(
        [binary("tollgate-submit"), "--brokers", msk["brokers"],
         "--topic-prefix", prefix, *AUTH, *extra, "--wait", "--out", str(out),
         "--timeout", "150", str(src)],
        env=aws_env(), capture_output=True, text=True, timeout=240)
    assert_clean(res.stderr, "tollgate-submit")
    return res


def answered_once(out, n, tag):
    ids = [json.loads(ln)["requestId"] for ln in out.read_text().splitlines()]
    assert sorted(ids) == sorted(f"{tag}-{i}" for i in range(n))
    for ln in out.read_text().splitlines():
        assert json.loads(ln)["status"] == "completed", ln


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_submit_ledger_over_msk_iam_with_refresh(tmp_path, msk,
                                                        ledger_redis):
    prefix = unique_prefix("msk")
    make_topics(msk, prefix)
    v = msk["validated"]
    lifetime = 6  # s: librdkafka refreshes at 80%, the broker ends sessions
    ledger(ledger_redis, "budget", "set", "eng", "--selector",
           "costCenter=eng", "--period", "day", "--limit-usd", "100")
    mark = v.mark()
    w = Worker(tmp_path, prefix, ledger_redis, name="msk-w",
               args=["--brokers", msk["brokers"], *AUTH,
                     "--msk-token-lifetime-s", str(lifetime)])
    try:
        wait_for(lambda: w.assigned() == 2, 90, "the worker's assignment")
        out1 = tmp_path / "out1.jsonl"
        res = submit_wait(msk, prefix, batch(tmp_path / "b1.jsonl", 30, "a"),
                          out1)
        assert res.returncode == 0, res.stderr
        answered_once(out1, 30, "a")
        # run well past several lifetimes: the worker's tokens (the only
        # ones with this lifetime) are renewed, each checked by the broker
        def renewed():
            exp = v.expiries_since(mark, lifetime)
            return len(exp) >= 4 and max(exp) - min(exp) > 2 * lifetime * 1000
        wait_for(renewed, 120, "the worker's tokens renewed")
        out2 = tmp_path / "out2.jsonl"
        res = submit_wait(msk, prefix, batch(tmp_path / "b2.jsonl", 20, "b"),
                          out2)
        assert res.returncode == 0, res.stderr
        answered_once(out2, 20, "b")
        assert w.proc.poll() is None, w.text()[-3000:]
        assert renewed()
    finally:
        assert w.stop() == 0
    log = w.text()
    assert "credentials from env" in log
    assert SECRET not in log
    assert not v.rejected_since(mark), v.rejected_since(mark)
    # the ledger over the same listener: Redis equals the usage events
    mark = v.mark()
    res = subprocess.run(
        [binary("tollgate-ledger"), "--redis", ledger_redis, "--brokers",
         msk["brokers"], "--usage-topic", f"{prefix}.usage", *AUTH,
         "--region", REGION, "reconcile"], env=aws_env(AWS_REGION=""),
        capture_output=True, text=True, timeout=120)
    assert_clean(res.stderr, "tollgate-ledger")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 budget periods, 0 differ; 50 events from 2 partitions" \
        in res.stdout and res.stdout.rstrip().endswith("OK"), res.stdout
    assert v.ok_since(mark)  # the ledger authenticated too
    # release (a consumer group and a producer) over it as well
    res = subprocess.run(
        [binary("tollgate-ledger"), "--brokers", msk["brokers"], *AUTH,
         "release", "--topic-prefix", prefix], env=aws_env(),
        capture_output=True, text=True, timeout=120)
    assert_clean(res.stderr, "tollgate-ledger release")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "released 0 deferred request(s)" in res.stdout, res.stdout
    assert SECRET not in res.stdout + res.stderr


def test_wrong_secret_is_refused_and_admits_nothing(tmp_path, msk,
                                                    ledger_redis):
    prefix = unique_prefix("msk-bad")
    make_topics(msk, prefix)
    ledger(ledger_redis, "budget", "set", "eng", "--selector",
           "costCenter=eng", "--period", "day", "--limit-usd", "100")
    # requests are waiting (put there over the broker's plain listener)
    produce(msk["plain"], f"{prefix}.requests",
            [(f"bad-{i}".encode(), request(f"bad-{i}", "eng"))
             for i in range(5)])
    v = msk["validated"]
    mark = v.mark()
    mport = free_port()
    w = Worker(tmp_path, prefix, ledger_redis, name="msk-bad",
               args=["--brokers", msk["brokers"], *AUTH,
                     "--metrics-port", str(mport)],
               env={"AWS_SECRET_ACCESS_KEY": "the-wrong-secret"})
    try:
        wait_for(lambda: "SASL authentication error" in w.text(), 90,
                 "the authentication error")
        wait_for(lambda: v.rejected_since(mark), 30, "the broker's refusal")
        assert all("signature does not match" in ln
                   for ln in v.rejected_since(mark))
        # past its start (the producer gives up waiting for the broker),
        # it keeps being refused and gets no partition: nothing is read,
        # and it says so on /readyz (worker/readiness.c)
        wait_for(lambda: "worker msk-bad: consuming" in w.text(), 120,
                 "the worker's start")
        wait_for(lambda: readyz(mport) == (503, "kafka authentication "
                                           "failed\n"), 30, "not ready")
        seen = len(v.rejected_since(mark))
        wait_for(lambda: len(v.rejected_since(mark)) > seen, 60,
                 "more refusals")
        assert w.proc.poll() is None and w.assigned() == 0
    finally:
        w.stop()
    log = w.text()
    assert "the-wrong-secret" not in log
    assert not v.ok_since(mark)
    status = json.loads(ledger(ledger_redis, "status", "--json").stdout)
    assert [(b["id"], b["spentNanoUsd"], b["reservedNanoUsd"])
            for b in status] == [("eng", 0, 0)]  # nothing admitted


CREDS_SH = """#!/bin/sh
# credential_process: the secret in MODE, or "fail"; 6 s credentials
s=$(cat "$(dirname "$0")/mode")
[ "$s" = fail ] && { echo "refresh refused (test)" >&2; exit 1; }
exp=$(date -u -d "@$(( $(date +%s) + 6 ))" +%Y-%m-%dT%H:%M:%SZ)
printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", \
"Expiration": "%s"}' AKIDTOLLGATETEST "$s" "$exp"
"""


def test_readyz_follows_credentials_and_kafka_auth(tmp_path, msk,
                                                   ledger_redis):
    """The worker's AWS credentials come from a credential_process that
    issues 6 s credentials: it refuses to refresh (they expire), then works
    again; then it hands out a wrong secret (the broker refuses the
    tokens), then the right one. /readyz follows, by itself."""
    prefix = unique_prefix("msk-ready")
    make_topics(msk, prefix)
    (tmp_path / "mode").write_text(SECRET)
    script = tmp_path / "creds.sh"
    script.write_text(CREDS_SH)
    script.chmod(0o755)
    (tmp_path / "config").write_text(
        f"[profile rd]\ncredential_process={script}\n")
    (tmp_path / "credentials").write_text("")
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
           "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "rd",
           "AWS_CONFIG_FILE": str(tmp_path / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
           "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)}
    mport = free_port()
    w = Worker(tmp_path, prefix, ledger_redis, name="msk-ready",
               args=["--brokers", msk["brokers"], *AUTH,
                     "--msk-token-lifetime-s", "6",
                     "--metrics-port", str(mport)], env=env)

    def mode(text):
        (tmp_path / "mode").write_text(text)

    try:
        wait_for(lambda: readyz(mport) == (200, "ready\n"), 90, "ready")
        # the refresh fails and the credentials expire (6 s): not ready,
        # saying so (librdkafka 2.8 may report an authentication failure
        # first, as the last tokens run out)
        mode("fail")
        wait_for(lambda: readyz(mport)[0] == 503 and "aws credentials "
                 "expired or unobtainable" in readyz(mport)[1], 30,
                 "not ready for the credentials")
        mode(SECRET)
        wait_for(lambda: readyz(mport) == (200, "ready\n"), 60,
                 "ready after the credentials came back")
        # a wrong secret: the broker refuses the next tokens
        mode("the-wrong-secret")
        wait_for(lambda: readyz(mport) == (503, "kafka authentication "
                                           "failed\n"), 60,
                 "not ready while refused")
        mode(SECRET)
        wait_for(lambda: readyz(mport) == (200, "ready\n"), 60,
                 "ready after the broker accepted again")
        assert w.proc.poll() is None, w.text()[-3000:]
    finally:
        assert w.stop() == 0
    log = w.text()
    assert SECRET not in log and "the-wrong-secret" not in log
    # each change logged once, never the same state twice in a row
    states = [json.loads(ln)["msg"] for ln in log.splitlines()
              if '"not ready: ' in ln or '"msg":"ready"' in ln]
    assert all(a != b for a, b in zip(states, states[1:])), states
    assert any("aws credentials expired" in s for s in states), states
    assert "not ready: kafka authentication failed" in states, states
    assert states[-2:] == ["ready", "not ready: draining"], states


@pytest.mark.parametrize("extra,words", [
    (["-X", "sasl.mechanisms=PLAIN"], "sasl.mechanisms=PLAIN conflicts"),
    (["-X", "security.protocol=SSL"], "security.protocol=ssl conflicts"),
    (["-X", "sasl.oauthbearer.config=x"], "sasl.oauthbearer.config"),
    (["--kafka-auth", "aws-iam"], "not none or aws-msk-iam"),
])
def test_conflicting_settings_refused_at_start(tmp_path, extra, words):
    res = subprocess.run(
        [binary("tollgate-worker"), "--brokers", "127.0.0.1:1",
         "--kafka-auth", "aws-msk-iam", *extra, "--topic-prefix", "x",
         "--redis", "redis://127.0.0.1:1"], env=aws_env(),
        capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert words in res.stderr, res.stderr
