"""tollgate-bedrock-sim driven by boto3's real bedrock-runtime client.

The simulator binary is taken from $TOLLGATE_BUILD_DIR (default ``build``)
under ``tests/sim/tollgate-bedrock-sim``. Each fixture starts its own
simulator on a free port and stops it with SIGTERM, checking it exits 0.
"""

import datetime
import json
import math
import os
import re
import selectors
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from unittest import mock

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

AKID = "AKIDSIMTEST0000001"
SECRET = "sim/secret+key/0123456789abcdefghijklmnop"
TOKEN = "FwoGZXIvYXdzEJr//////////session-token-for-the-sim=="
BEARER = "ABSKc2ltLWJlYXJlci10b2tlbg=="
NOVA = "amazon.nova-lite-v1:0"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                     r"[0-9a-f]{12}$")

ERRORS = {
    "AccessDeniedException": 403,
    "ValidationException": 400,
    "ResourceNotFoundException": 404,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "ServiceQuotaExceededException": 400,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
    "ModelTimeoutException": 408,
    "ModelErrorException": 424,
}


def sim_binary():
    build = os.environ.get("TOLLGATE_BUILD_DIR", "build")
    path = os.path.abspath(os.path.join(build, "tests", "sim",
                                        "tollgate-bedrock-sim"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"simulator binary not found at {path}: build the "
                    f"tollgate-bedrock-sim target or set TOLLGATE_BUILD_DIR")
    return path


class Sim:
    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sim_binary(), "--port", "0", "--seed", "42", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={k: v for k, v in os.environ.items()
                 if not k.startswith("TOLLGATE_SIM_")})
        line = self.proc.stdout.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            raise AssertionError(
                f"simulator did not start: {line!r} {self.proc.stderr.read()}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=15)
        assert rc == 0, f"simulator exited {rc}: {self.proc.stderr.read()}"

    def admin(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     method="GET" if body is None else "POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def config(self, **changes):
        return self.admin("/_sim/config", changes)

    def stats(self):
        return self.admin("/_sim/stats")

    def reset(self):
        self.admin("/_sim/reset", {})

    def signed_post(self, path, body):
        """POST a raw body signed by botocore's SigV4 signer; returns
        (status, headers, parsed body)."""
        if isinstance(body, str):
            body = body.encode()
        req = AWSRequest(method="POST", url=self.url + path, data=body,
                         headers={"Content-Type": "application/json"})
        botocore.auth.SigV4Auth(Credentials(AKID, SECRET), "bedrock",
                                "us-east-1").add_auth(req)
        prepared = urllib.request.Request(req.url, data=body, method="POST",
                                          headers=dict(req.headers.items()))
        try:
            with urllib.request.urlopen(prepared, timeout=10) as resp:
                return resp.status, resp.headers, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, e.headers, json.loads(e.read())

    def client(self, key=AKID, secret=SECRET, token=None, validate=True):
        return boto3.client(
            "bedrock-runtime", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=key, aws_secret_access_key=secret,
            aws_session_token=token,
            # One attempt: in a Config object botocore reads max_attempts
            # as retries (max_attempts=1 still retries once), so the total
            # is what pins it; every error reaches the test unretried.
            config=Config(retries={"total_max_attempts": 1},
                          parameter_validation=validate))


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch):
    for var in ("AWS_BEARER_TOKEN_BEDROCK", "AWS_PROFILE",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture(scope="module")
def sim():
    s = Sim("--access-key-id", AKID, "--secret-access-key", SECRET,
            "--bearer-token", BEARER)
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def calm(request):
    """Every test starts with no faults, no delay and zeroed stats."""
    if "sim" in request.fixturenames:
        s = request.getfixturevalue("sim")
        s.config(throttleRate=0, errorRates={}, latencyMs=0, quotaRps=0,
                 outputTokens=40)
        s.reset()


def text_tokens(text):
    return math.ceil(len(text.encode("utf-8")) / 4)


def expected_input(system, messages):
    """The documented formula: ceil(bytes/4) per text, +3 per message."""
    n = sum(text_tokens(b["text"]) for b in system)
    for m in messages:
        n += 3 + sum(text_tokens(b["text"]) for b in m["content"]
                     if "text" in b)
    return n


def user(text):
    return {"role": "user", "content": [{"text": text}]}


def error_of(exc):
    """(Error.Code, HTTP status) of a ClientError or a pytest.raises info."""
    resp = getattr(exc, "value", exc).response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


# --- Converse -------------------------------------------------------------

def test_converse_reply_usage_and_metrics(sim):
    system = [{"text": "You are terse."}]
    messages = [user("Hello, simulator! Ünïcödé counts bytes."),
                {"role": "assistant", "content": [{"text": "Hi."}]},
                user("Say something.")]
    r = sim.client().converse(modelId=NOVA, system=system, messages=messages,
                              inferenceConfig={"maxTokens": 100,
                                               "temperature": 0.2,
                                               "topP": 0.9})
    text = r["output"]["message"]["content"][0]["text"]
    assert r["output"]["message"]["role"] == "assistant"
    assert text.startswith("Simulated reply to: ")
    assert len(text.split()) == 40
    usage = r["usage"]
    assert usage["inputTokens"] == expected_input(system, messages)
    assert usage["outputTokens"] == 40
    assert usage["totalTokens"] == usage["inputTokens"] + 40
    assert r["stopReason"] == "end_turn"
    assert r["metrics"]["latencyMs"] == 0
    headers = r["ResponseMetadata"]["HTTPHeaders"]
    assert UUID_RE.match(headers["x-amzn-requestid"])
    assert headers["content-type"] == "application/json"
    # Deterministic: the same input gives the same text.
    again = sim.client().converse(modelId=NOVA, system=system,
                                  messages=messages,
                                  inferenceConfig={"maxTokens": 100})
    assert again["output"]["message"]["content"][0]["text"] == text


def test_input_tokens_within_reservation_bound(sim):
    messages = [user("a"), {"role": "assistant", "content": [{"text": "bb"}]},
                user("x" * 1001)]
    r = sim.client().converse(modelId=NOVA, messages=messages)
    text_bytes = sum(len(b["text"].encode()) for m in messages
                     for b in m["content"])
    assert r["usage"]["inputTokens"] == expected_input([], messages)
    assert r["usage"]["inputTokens"] <= text_bytes + 3 * len(messages)


def test_converse_capped_by_max_tokens(sim):
    r = sim.client().converse(modelId=NOVA, messages=[user("hi")],
                              inferenceConfig={"maxTokens": 5})
    assert r["usage"]["outputTokens"] == 5
    assert r["stopReason"] == "max_tokens"
    assert len(r["output"]["message"]["content"][0]["text"].split()) == 5


def test_converse_output_tokens_knob_and_stop_sequence(sim):
    sim.config(outputTokens=7)
    r = sim.client().converse(modelId=NOVA, messages=[user("hi")])
    assert r["usage"]["outputTokens"] == 7 and r["stopReason"] == "end_turn"
    r = sim.client().converse(modelId=NOVA, messages=[user("hi")],
                              inferenceConfig={"stopSequences": ["to:"]})
    assert r["output"]["message"]["content"][0]["text"] == "Simulated reply"
    assert r["usage"]["outputTokens"] == 2
    assert r["stopReason"] == "stop_sequence"


def test_converse_model_specific_fields_accepted(sim):
    r = sim.client().converse(
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        messages=[{"role": "user", "content": [{"text": "hi"},
                                               {"cachePoint": {"type":
                                                               "default"}}]}],
        additionalModelRequestFields={"top_k": 200})
    # "hi" sits before the cache point: written to (or read from) the
    # cache, the rest is inputTokens (test_cache_point_write_then_read)
    u = r["usage"]
    assert u["inputTokens"] == 3
    assert u["cacheWriteInputTokens"] + u["cacheReadInputTokens"] == 1
    r = sim.client().converse(
        modelId=NOVA, messages=[user("hi")], inferenceConfig={"maxTokens": 9},
        additionalModelRequestFields={"inferenceConfig": {"topK": 20}})
    assert (r["stopReason"], r["usage"]["outputTokens"]) == ("max_tokens", 9)
    # Members boto3 does not know yet (Nova's inferenceConfig.topK) pass.
    status, _, body = sim.signed_post(
        "/model/amazon.nova-lite-v1%3A0/converse",
        json.dumps({"messages": [user("hi")],
                    "inferenceConfig": {"maxTokens": 10, "topK": 20}}))
    assert status == 200 and body["usage"]["outputTokens"] == 10


def test_converse_arn_model_id(sim):
    arn = ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
           "us.amazon.nova-lite-v1:0")
    r = sim.client().converse(modelId=arn, messages=[user("hi")])
    assert r["usage"]["outputTokens"] == 40
    assert sim.stats()["byModel"] == {arn: 1}


def test_converse_with_session_token():
    s = Sim("--access-key-id", AKID, "--secret-access-key", SECRET,
            "--session-token", TOKEN)
    try:
        r = s.client(token=TOKEN).converse(modelId=NOVA,
                                           messages=[user("hi")])
        assert r["stopReason"] == "end_turn"
        for token in (None, TOKEN + "x"):
            with pytest.raises(ClientError) as e:
                s.client(token=token).converse(modelId=NOVA,
                                               messages=[user("hi")])
            assert error_of(e) == ("UnrecognizedClientException", 403)
    finally:
        s.stop()


# --- InvokeModel ------------------------------------------------------------

def invoke(sim, model, body):
    r = sim.client().invoke_model(modelId=model, body=json.dumps(body),
                                  contentType="application/json",
                                  accept="application/json")
    headers = r["ResponseMetadata"]["HTTPHeaders"]
    return json.loads(r["body"].read()), headers


def test_invoke_model_anthropic(sim):
    body, headers = invoke(sim, "anthropic.claude-3-haiku-20240307-v1:0", {
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 12,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello there"}]})
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"][0]["type"] == "text"
    assert len(body["content"][0]["text"].split()) == 12
    assert body["stop_reason"] == "max_tokens"
    want_in = text_tokens("Be brief.") + text_tokens("Hello there") + 3
    assert body["usage"] == {"input_tokens": want_in, "output_tokens": 12}
    assert headers["x-amzn-bedrock-input-token-count"] == str(want_in)
    assert headers["x-amzn-bedrock-output-token-count"] == "12"
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0


def test_invoke_model_nova_llama_titan(sim):
    body, headers = invoke(sim, NOVA, {
        "schemaVersion": "messages-v1", "messages": [user("hi")],
        "inferenceConfig": {"max_new_tokens": 50}})
    assert body["stopReason"] == "end_turn"
    assert body["usage"]["outputTokens"] == 40
    assert headers["x-amzn-bedrock-input-token-count"] == "4"
    body, _ = invoke(sim, "meta.llama3-8b-instruct-v1:0",
                     {"prompt": "hi", "max_gen_len": 3})
    assert body["generation_token_count"] == 3
    assert body["stop_reason"] == "length"
    body, _ = invoke(sim, "amazon.titan-text-express-v1",
                     {"inputText": "hi"})
    assert body["results"][0]["completionReason"] == "FINISH"
    assert body["inputTextTokenCount"] == 4


def test_invoke_model_malformed_body(sim):
    with pytest.raises(ClientError) as e:
        invoke(sim, "anthropic.claude-3-haiku-20240307-v1:0",
               {"messages": [{"role": "user", "content": "hi"}]})
    assert error_of(e) == ("ValidationException", 400)
    assert "anthropic_version" in e.value.response["Error"]["Message"]


# --- Errors -----------------------------------------------------------------

def test_throttled(sim):
    sim.config(throttleRate=1)
    with pytest.raises(ClientError) as e:
        sim.client().converse(modelId=NOVA, messages=[user("hi")])
    assert error_of(e) == ("ThrottlingException", 429)
    assert e.value.response["Error"]["Message"] == (
        "Too many requests, please wait before trying again.")


@pytest.mark.parametrize("messages, config, fragment", [
    ([], None, "must start with a user message"),
    ([{"role": "system", "content": [{"text": "x"}]}], None,
     "Member must satisfy enum value set: [user, assistant]"),
    ([{"role": "user", "content": []}], None, "is empty"),
    ([user("a"), user("b")], None, "must alternate"),
    ([user("hi")], {"maxTokens": 0},
     "Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint"),
    ([user("hi")], {"temperature": 1.5}, "inferenceConfig.temperature"),
])
def test_validation_errors(sim, messages, config, fragment):
    kwargs = {"inferenceConfig": config} if config else {}
    with pytest.raises(ClientError) as e:
        sim.client(validate=False).converse(modelId=NOVA, messages=messages,
                                            **kwargs)
    assert error_of(e) == ("ValidationException", 400)
    assert fragment in e.value.response["Error"]["Message"]


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_each_error_type(sim, code):
    sim.config(errorRates={code: 1.0})
    for call in ("converse", "invoke_model"):
        with pytest.raises(ClientError) as e:
            if call == "converse":
                sim.client().converse(modelId=NOVA, messages=[user("hi")])
            else:
                invoke(sim, NOVA, {"messages": [user("hi")]})
        assert error_of(e) == (code, ERRORS[code])
        meta = e.value.response["ResponseMetadata"]
        assert UUID_RE.match(meta["RequestId"])
        assert meta["HTTPHeaders"]["x-amzn-errortype"].startswith(code + ":")
        assert e.value.response["Error"]["Message"]
    assert sim.stats()["byErrorType"] == {code: 2}


def test_unknown_operation(sim):
    req = urllib.request.Request(sim.url + "/model/x/converse-nope",
                                 data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    # Authentication comes first, as at AWS's front door.
    assert e.value.code == 403
    for path in ("/model/x/converse-nope", "/model/x", "/models",
                 "/model//converse"):
        status, headers, _ = sim.signed_post(path, b"{}")
        assert status == 404
        assert headers["x-amzn-ErrorType"].startswith(
            "UnknownOperationException:")


def test_body_cap(sim):
    body = b'{"messages":[' + b" " * (9 * 1024 * 1024) + b"]}"
    req = urllib.request.Request(sim.url + "/model/x/converse", data=body,
                                 method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400
    assert e.value.headers["x-amzn-ErrorType"].startswith(
        "ValidationException:")


# --- Authentication ---------------------------------------------------------

def test_bad_secret(sim):
    with pytest.raises(ClientError) as e:
        sim.client(secret=SECRET + "x").converse(modelId=NOVA,
                                                 messages=[user("hi")])
    assert error_of(e) == ("InvalidSignatureException", 403)
    msg = e.value.response["Error"]["Message"]
    assert msg.startswith("The request signature we calculated does not "
                          "match the signature you provided.")
    # AWS shows the canonical request it expected: the path double-encoded.
    assert "/model/amazon.nova-lite-v1%253A0/converse" in msg


def test_unknown_key(sim):
    with pytest.raises(ClientError) as e:
        sim.client(key="AKIDUNKNOWN").converse(modelId=NOVA,
                                               messages=[user("hi")])
    assert error_of(e) == ("UnrecognizedClientException", 403)
    assert e.value.response["Error"]["Message"] == (
        "The security token included in the request is invalid.")


def test_missing_authentication(sim):
    req = urllib.request.Request(
        sim.url + "/model/amazon.nova-lite-v1%3A0/converse",
        data=json.dumps({"messages": [user("hi")]}).encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 403
    assert e.value.headers["x-amzn-ErrorType"].startswith(
        "MissingAuthenticationTokenException:")


def test_clock_skew(sim):
    past = datetime.datetime.now(datetime.timezone.utc).replace(
        tzinfo=None) - datetime.timedelta(minutes=10)
    with mock.patch.object(botocore.auth, "get_current_datetime",
                           return_value=past):
        with pytest.raises(ClientError) as e:
            sim.client().converse(modelId=NOVA, messages=[user("hi")])
    assert error_of(e) == ("InvalidSignatureException", 403)
    assert re.match(r"Signature expired: \d{8}T\d{6}Z is now earlier than "
                    r"\d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)",
                    e.value.response["Error"]["Message"])


def test_any_region_in_scope(sim):
    c = boto3.client("bedrock-runtime", endpoint_url=sim.url,
                     region_name="eu-west-3", aws_access_key_id=AKID,
                     aws_secret_access_key=SECRET,
                     config=Config(retries={"total_max_attempts": 1}))
    assert c.converse(modelId=NOVA, messages=[user("hi")])["usage"]


def test_bearer_token(sim, monkeypatch):
    # botocore 1.43 reads Bedrock API keys from AWS_BEARER_TOKEN_BEDROCK
    # and sends "Authorization: Bearer ..." instead of signing.
    seen = {}
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", BEARER)
    c = sim.client()
    c.meta.events.register(
        "before-send.bedrock-runtime.Converse",
        lambda request, **kw: seen.update(auth=request.headers["Authorization"]))
    r = c.converse(modelId=NOVA, messages=[user("hi")])
    assert r["stopReason"] == "end_turn"
    assert seen["auth"] == ("Bearer " + BEARER).encode() or \
        seen["auth"] == "Bearer " + BEARER
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", BEARER + "x")
    with pytest.raises(ClientError) as e:
        sim.client().converse(modelId=NOVA, messages=[user("hi")])
    assert error_of(e) == ("AccessDeniedException", 403)
    assert sim.stats()["authFailures"] == 1


# --- Quota, latency, stats --------------------------------------------------

def test_quota_rps(sim):
    sim.config(quotaRps=20)
    c = sim.client()
    ok = throttled = 0
    start = time.monotonic()
    for _ in range(80):
        try:
            c.converse(modelId=NOVA, messages=[user("hi")])
            ok += 1
        except ClientError as e:
            assert error_of(e) == ("ThrottlingException", 429)
            throttled += 1
    elapsed = time.monotonic() - start
    # A full bucket of 20, then 20 more per second of test.
    assert ok >= 20
    assert ok <= 20 + math.ceil(20 * elapsed) + 1
    assert throttled == 80 - ok and throttled > 0
    assert sim.stats()["byErrorType"] == {"ThrottlingException": throttled}


def test_latency_knob(sim):
    sim.config(latencyMs=300)
    start = time.monotonic()
    r = sim.client().converse(modelId=NOVA, messages=[user("hi")])
    assert time.monotonic() - start >= 0.3
    assert r["metrics"]["latencyMs"] == 300
    assert sim.config(latency="uniform:5:10")["latency"] == "uniform:5:10"
    r = sim.client().converse(modelId=NOVA, messages=[user("hi")])
    assert 5 <= r["metrics"]["latencyMs"] <= 10
    assert sim.stats()["delayed"] == 2


def test_stats_count_what_was_sent(sim):
    c = sim.client()
    for _ in range(5):
        c.converse(modelId=NOVA, messages=[user("hi")])
    for _ in range(3):
        invoke(sim, "meta.llama3-8b-instruct-v1:0", {"prompt": "hi"})
    sim.config(throttleRate=1)
    for _ in range(4):
        with pytest.raises(ClientError):
            c.converse(modelId=NOVA, messages=[user("hi")])
    with pytest.raises(ClientError):
        sim.client(key="AKIDOTHER").converse(modelId=NOVA,
                                             messages=[user("hi")])
    st = sim.stats()
    assert st["requests"] == 13
    assert st["converse"] == 10 and st["invoke"] == 3
    assert st["byStatus"] == {"200": 8, "429": 4, "403": 1}
    assert st["byErrorType"] == {"ThrottlingException": 4,
                                 "UnrecognizedClientException": 1}
    assert st["byModel"] == {NOVA: 10, "meta.llama3-8b-instruct-v1:0": 3}
    assert st["authFailures"] == 1
    assert st["inputTokens"] == 8 * 4
    assert st["outputTokens"] == 8 * 40
    assert st["inFlight"] == 0


def test_config_rejects_bad_values(sim):
    for bad in ({"throttleRate": 2}, {"errorRates": {"NoSuch": 1}},
                {"latency": "weird:1"}, {"outputTokens": 0}):
        with pytest.raises(urllib.error.HTTPError) as e:
            sim.config(**bad)
        assert e.value.code == 400


# --- No credentials, many connections ---------------------------------------

def test_many_delayed_requests_without_a_thread_each():
    """1,000 keep-alive connections each wait 1.5 s at once."""
    s = Sim("--latency-ms", "1500", "--threads", "2")
    n = 1000
    body = json.dumps({"messages": [user("hi")]}).encode()
    raw = (f"POST /model/{NOVA.replace(':', '%3A')}/converse HTTP/1.1\r\n"
           f"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    sel = selectors.DefaultSelector()
    socks = []
    try:
        for _ in range(n):
            sk = socket.create_connection(("127.0.0.1", s.port))
            socks.append(sk)
        start = time.monotonic()
        for sk in socks:
            sk.sendall(raw)
            sk.setblocking(False)
            sel.register(sk, selectors.EVENT_READ, bytearray())
        # all of them held at once (a loaded machine may take a moment to
        # hand the simulator every request; they are held 1.5 s each)
        while s.stats()["inFlight"] < n and time.monotonic() - start < 1.2:
            time.sleep(0.05)
        threads = int(re.search(r"Threads:\s+(\d+)", open(
            f"/proc/{s.proc.pid}/status").read()).group(1))
        assert s.stats()["inFlight"] == n
        done = 0
        while done < n and time.monotonic() - start < 20:
            for key, _ in sel.select(timeout=1):
                chunk = key.fileobj.recv(65536)
                key.data.extend(chunk)
                if b"}}" in key.data and b"\r\n\r\n" in key.data:
                    assert key.data.startswith(b"HTTP/1.1 200")
                    sel.unregister(key.fileobj)
                    done += 1
        elapsed = time.monotonic() - start
        assert done == n
        assert elapsed < 6, elapsed
        assert threads < 10, threads
        st = s.stats()
        assert st["peakInFlight"] == n and st["delayed"] == n
    finally:
        for sk in socks:
            sk.close()
        s.stop()


# --- Service tiers, prompt caching, request metadata ----------------------
# The shapes are botocore's bedrock-runtime model (ServiceTier,
# CachePointBlock, TokenUsage.cacheDetails, RequestMetadata); botocore
# checks none of their enums, lengths or patterns, so the simulator's
# ValidationExceptions are what AWS would answer.

@pytest.mark.parametrize("tier", ["priority", "default", "flex"])
def test_service_tier_reported(sim, tier):
    r = sim.client().converse(modelId=NOVA, messages=[user("tier?")],
                              serviceTier={"type": tier})
    assert r["serviceTier"] == {"type": tier}


def test_service_tier_default_when_not_asked(sim):
    r = sim.client().converse(modelId=NOVA, messages=[user("tier?")])
    assert r["serviceTier"] == {"type": "default"}


@pytest.mark.parametrize("tier, fragment", [
    ({"type": "turbo"}, "Value 'turbo' at 'serviceTier.type' failed to "
     "satisfy constraint: Member must satisfy enum value set: "
     "[priority, default, flex, reserved]"),
    ({}, "Value null at 'serviceTier.type'"),
])
def test_service_tier_invalid(sim, tier, fragment):
    with pytest.raises(ClientError) as e:
        sim.client(validate=False).converse(modelId=NOVA,
                                            messages=[user("x")],
                                            serviceTier=tier)
    assert error_of(e) == ("ValidationException", 400)
    assert fragment in e.value.response["Error"]["Message"]
    assert sim.stats()["outputTokens"] == 0  # nothing was generated


def cached_prompt(unique, ttl=None):
    point = {"type": "default", **({"ttl": ttl} if ttl else {})}
    system = [{"text": f"Long shared instructions {unique} " * 20},
              {"cachePoint": point}]
    return system, [user("question one")]


@pytest.mark.parametrize("ttl", [None, "5m", "1h"])
def test_cache_point_write_then_read(sim, ttl):
    system, messages = cached_prompt(f"ttl-{ttl}-{time.monotonic_ns()}", ttl)
    prefix = text_tokens(system[0]["text"])
    total = expected_input(system[:1], messages)
    c = sim.client()
    first = c.converse(modelId=NOVA, system=system, messages=messages)["usage"]
    assert first["cacheWriteInputTokens"] == prefix
    assert first["cacheReadInputTokens"] == 0
    assert first["inputTokens"] == total - prefix
    assert first["totalTokens"] == total + first["outputTokens"]
    assert first["cacheDetails"] == [{"ttl": ttl or "5m",
                                      "inputTokens": prefix}]
    second = c.converse(modelId=NOVA, system=system,
                        messages=messages)["usage"]
    assert second["cacheReadInputTokens"] == prefix
    assert second["cacheWriteInputTokens"] == 0
    assert "cacheDetails" not in second
    assert second["inputTokens"] == total - prefix


def test_cache_points_in_messages_split_by_ttl(sim):
    u = f"msgs-{time.monotonic_ns()}"
    a, b = f"first part {u} " * 10, f"second part {u} " * 10
    messages = [{"role": "user", "content": [
        {"text": a}, {"cachePoint": {"type": "default", "ttl": "1h"}},
        {"text": b}, {"cachePoint": {"type": "default", "ttl": "5m"}},
        {"text": "and the question"}]}]
    usage = sim.client().converse(modelId=NOVA, messages=messages)["usage"]
    # sorted 1h before 5m, as the service model documents
    assert usage["cacheDetails"] == [
        {"ttl": "1h", "inputTokens": text_tokens(a)},
        {"ttl": "5m", "inputTokens": text_tokens(b)}]
    assert usage["cacheWriteInputTokens"] == text_tokens(a) + text_tokens(b)


@pytest.mark.parametrize("point, fragment", [
    ({"type": "ephemeral"}, "Value 'ephemeral' at 'system.2.member."
     "cachePoint.type' failed to satisfy constraint: Member must satisfy "
     "enum value set: [default]"),
    ({"type": "default", "ttl": "2h"}, "Value '2h' at 'system.2.member."
     "cachePoint.ttl' failed to satisfy constraint: Member must satisfy "
     "enum value set: [5m, 1h]"),
])
def test_cache_point_invalid(sim, point, fragment):
    with pytest.raises(ClientError) as e:
        sim.client(validate=False).converse(
            modelId=NOVA, system=[{"text": "s"}, {"cachePoint": point}],
            messages=[user("x")])
    assert error_of(e) == ("ValidationException", 400)
    assert fragment in e.value.response["Error"]["Message"]


def test_cache_point_in_message_invalid(sim):
    with pytest.raises(ClientError) as e:
        sim.client(validate=False).converse(
            modelId=NOVA, messages=[{"role": "user", "content": [
                {"text": "x"}, {"cachePoint": {"type": "nope"}}]}])
    assert "'messages.1.member.content.2.member.cachePoint.type'" in \
        e.value.response["Error"]["Message"]


def test_request_metadata_accepted(sim):
    md = {"requestId": "r-1", "applicationId": "app",
          **{f"k{i} :_@$#=/+,-.": "v al/ue" for i in range(14)}}
    assert len(md) == 16
    r = sim.client().converse(modelId=NOVA, messages=[user("md")],
                              requestMetadata=md)
    assert r["stopReason"] in ("end_turn", "max_tokens")


@pytest.mark.parametrize("md, fragment", [
    ({f"k{i}": "v" for i in range(17)},
     "Value at 'requestMetadata' failed to satisfy constraint: Member must "
     "have length less than or equal to 16"),
    ({"bad!key": "v"}, "Map keys must satisfy constraint"),
    ({"k" * 257: "v"}, "Map keys must satisfy constraint"),
    ({"k": "secret!value"}, "Map values must satisfy constraint"),
    ({"k": "v" * 257}, "Map values must satisfy constraint"),
])
def test_request_metadata_invalid(sim, md, fragment):
    with pytest.raises(ClientError) as e:
        sim.client(validate=False).converse(modelId=NOVA,
                                            messages=[user("md")],
                                            requestMetadata=md)
    assert error_of(e) == ("ValidationException", 400)
    msg = e.value.response["Error"]["Message"]
    assert fragment in msg
    assert "secret" not in msg  # sensitive: values are not echoed
