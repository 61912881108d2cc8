"""Secrets never reach an output: AWS credentials (access key, secret,
session token), a Bedrock bearer token, a Redis password and a Kafka SASL
password are given to workers that succeed and to workers that fail with
them (wrong secret, wrong token, wrong passwords), with debug logging on;
then every output of the run is searched for every secret value: worker
logs (librdkafka's debug lines included), every topic of the run
(completions, usage, alerts, DLQ), /metrics, --print-config, the
simulator's log and what the ledger stored in Redis.
"""

import json
import os
import subprocess
import time
import urllib.request
import uuid

import redis

from conftest import TOPIC_SUFFIXES, consume_all
from faultkit import RedisServer, usage_of
from tgstack import (Sim, Worker, assert_clean, binary, free_port, ledger,
                     produce, request, wait_assigned)

SASL_USER, SASL_PASSWORD = "tollgate", "tollgate-secret"


def tag(name):
    return f"{name}{uuid.uuid4().hex[:12]}"


SECRETS = {
    "aws access key id": "AKIA" + uuid.uuid4().hex[:16].upper(),
    "aws secret access key": tag("tgSecretKey/"),
    "aws session token": tag("tgSessionToken+"),
    "bedrock bearer token": tag("bedrock-api-key-"),
    "redis password": tag("tgRedisPw"),
    "kafka sasl password": SASL_PASSWORD,
    "wrong aws secret": tag("tgWrongSecret"),
    "wrong bearer token": tag("tgWrongBearer"),
    "wrong redis password": tag("tgWrongRedis"),
    "wrong sasl password": tag("tgWrongSasl"),
}
DEBUG = ["--log-level", "debug", "-X", "debug=broker,security,conf,protocol"]


def sasl(password=SASL_PASSWORD):
    return ["-X", "security.protocol=SASL_PLAINTEXT", "-X",
            "sasl.mechanisms=PLAIN", "-X", f"sasl.username={SASL_USER}",
            "-X", f"sasl.password={password}"]


def sigv4_env(secret):
    return {"AWS_ACCESS_KEY_ID": SECRETS["aws access key id"],
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_SESSION_TOKEN": SECRETS["aws session token"]}


def bearer_env(token):
    # the bearer token takes precedence over the keys (AWS's order)
    return {"AWS_BEARER_TOKEN_BEDROCK": token}


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                timeout=10) as r:
        return r.read().decode()


def stop_sim(sim):
    sim.proc.terminate()
    out, err = sim.proc.communicate(timeout=20)
    assert_clean(err, "simulator")
    return out + err


def unpacked(v):
    """A value as text; a packed stored event (ledger/stored.h, 0x01 first)
    unpacked by the worker's own codec, so a secret inside it is seen."""
    if v[:1] != b"\x01":
        return v.decode(errors="replace")
    res = subprocess.run([binary("tollgate-stored-unpack")], input=v,
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout.decode()


def redis_dump(rs):
    c = redis.Redis(host="127.0.0.1", port=rs.port, password=rs.password,
                    socket_timeout=30)  # bytes: packed events are binary
    try:
        out, packed = [], 0
        for k in c.scan_iter("*"):
            t = c.type(k)
            if t == b"hash":
                h = c.hgetall(k)
                packed += sum(v[:1] == b"\x01" for v in h.values())
                out.append(json.dumps({f.decode(): unpacked(v)
                                       for f, v in h.items()}))
            elif t == b"string":
                out.append(unpacked(c.get(k)))
            elif t == b"zset":
                out.append(json.dumps([m.decode(errors="replace")
                                       for m in c.zrange(k, 0, -1)]))
            out.append(k.decode(errors="replace"))
        assert packed, "no packed event seen: the unpacking went untested"
        return "\n".join(out)
    finally:
        c.close()


def test_secrets_never_reach_outputs(tmp_path, brokers, sasl_brokers, topics):
    rs = RedisServer(tmp_path, password=SECRETS["redis password"])
    sims = []
    try:
        sims.append(Sim("--verbose", "--access-key-id",
                        SECRETS["aws access key id"], "--secret-access-key",
                        SECRETS["aws secret access key"], "--session-token",
                        SECRETS["aws session token"]))
        sims.append(Sim("--verbose", "--bearer-token",
                        SECRETS["bedrock bearer token"]))
    except BaseException:
        for s in sims:
            stop_sim(s)
        rs.stop()
        raise
    sim_keys, sim_bearer = sims
    outputs = {}
    # Workers run one after another with their own ids: dynamic members leave
    # at once (a static one holds its partitions for session.timeout.ms).
    base = ["--brokers", sasl_brokers, *sasl(), *DEBUG, "--static-membership", "0"]
    ports = [free_port(), free_port()]
    runs = [  # name, sim, env, redis url, extra args, requests, decision
        ("keys", sim_keys, sigv4_env(SECRETS["aws secret access key"]),
         rs.url, base, 10, "approved"),
        ("bearer", sim_bearer, bearer_env(SECRETS["bedrock bearer token"]),
         rs.url, base, 10, "approved"),
        ("wrong-keys", sim_keys, sigv4_env(SECRETS["wrong aws secret"]),
         rs.url, base, 5, "failed"),
        ("wrong-bearer", sim_bearer, bearer_env(SECRETS["wrong bearer token"]),
         rs.url, base, 5, "failed"),
    ]
    try:
        ledger(rs.url, "budget", "set", "eng", "--selector", "costCenter=eng",
               "--period", "day", "--limit-usd", "1")
        for i, (name, sim, env, url, args, n, decision) in enumerate(runs):
            port = ports[i % 2]
            w = Worker(tmp_path, topics["prefix"], url, name=name, env=env,
                       args=[*args, "--bedrock-endpoint", sim.url,
                             "--metrics-port", str(port),
                             "--max-attempts", "2"])
            try:
                wait_assigned([w], 4)
                reqs = [request(f"{name}-{k}", "eng") for k in range(n)]
                produce(brokers, topics["requests"],
                        [(r["requestId"], r) for r in reqs])
                got = {k: json.loads(v) for k, v, _ in usage_of(
                    brokers, topics["usage"],
                    {r["requestId"] for r in reqs}, 60)}
                for r in reqs:
                    assert got[r["requestId"]]["decision"] == decision, \
                        got[r["requestId"]]
                outputs[f"/metrics of {name}"] = scrape(port)
            finally:
                assert w.stop() == 0
            outputs[f"log of worker {name}"] = w.text()
        # wrong Redis and SASL passwords: the worker can do nothing, says why
        bad_url = rs.url.replace(SECRETS["redis password"],
                                 SECRETS["wrong redis password"])
        w = Worker(tmp_path, topics["prefix"], bad_url, name="wrong-pw",
                   env=sigv4_env(SECRETS["aws secret access key"]),
                   args=["--brokers", sasl_brokers,
                         *sasl(SECRETS["wrong sasl password"]), *DEBUG,
                         "--bedrock-endpoint", sim_keys.url])
        time.sleep(6)
        w.stop()
        outputs["log of worker wrong-pw"] = w.text()
        assert "WRONGPASS" in w.text() or "invalid" in w.text().lower()
        cfg = subprocess.run(
            [binary("tollgate-worker"), "--print-config", "--redis", rs.url,
             *sasl(), "-X", f"ssl.key.password={SECRETS['redis password']}",
             "--bedrock-endpoint", sim_keys.url],
            capture_output=True, text=True, timeout=30,
            env={**os.environ, **sigv4_env(SECRETS["aws secret access key"]),
                 **bearer_env(SECRETS["bedrock bearer token"])})
        outputs["--print-config"] = cfg.stdout + cfg.stderr
        assert "redis = redis://***@" in cfg.stdout, cfg.stdout
        for suffix in TOPIC_SUFFIXES:
            msgs = consume_all(brokers, topics[suffix], timeout=10)
            outputs[f"topic {suffix}"] = "\n".join(
                f"{k} {v!r} {h!r}" for k, v, h in msgs)
        outputs["redis (ledger records)"] = redis_dump(rs)
    finally:
        outputs["simulator log (keys)"] = stop_sim(sim_keys)
        outputs["simulator log (bearer)"] = stop_sim(sim_bearer)
        rs.stop()
    assert len(outputs["log of worker keys"]) > 10000, "debug logs expected"
    leaks = [(secret, where) for secret, value in SECRETS.items()
             for where, text in outputs.items() if value in text]
    print(f"\nsearched {len(outputs)} outputs "
          f"({sum(map(len, outputs.values())):,} bytes) for "
          f"{len(SECRETS)} secrets: {len(leaks)} found")
    assert not leaks, f"secrets found: {leaks}"
