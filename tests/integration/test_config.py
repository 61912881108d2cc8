"""Configuration as SREs use it: a file, environment and flags with one
precedence, --print-config with secrets masked, -X pass-through (SASL on the
local broker), Redis over a unix socket with a password and a db."""

import json
import os
import subprocess
import time

import pytest

from tgstack import (TEST_AWS_ENV, Worker, binary, events, ledger, produce,
                     request, wait_assigned)


def print_config(*args, env=None):
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("TOLLGATE_")}
    res = subprocess.run([binary("tollgate-worker"), *args, "--print-config"],
                         capture_output=True, text=True, timeout=30,
                         env={**base, **(env or {})})
    assert res.returncode == 0, res.stderr
    return dict(line.split(" = ", 1) for line in res.stdout.splitlines())


def test_precedence_file_env_flags_and_masking(tmp_path):
    conf = tmp_path / "worker.conf"
    conf.write_text("# file\nmax-inflight = 11\ngroup = from-file\n"
                    "redis = redis://:hunter2@10.0.0.1:6380/2\n"
                    "kafka.sasl.password = s3cret-pass\n"
                    "metrics-port = 9464\n")
    env = {"TOLLGATE_MAX_INFLIGHT": "22", "TOLLGATE_GROUP": "from-env"}
    got = print_config("--config", str(conf), "--group", "from-flag",
                       "-X", "sasl.username=alice",
                       "-X", "sasl.oauthbearer.config=principal=bob "
                             "extension_x=bearer-s3cret",
                       "-X", "producer.ssl.key.pem=PEM-S3CRET", env=env)
    assert got["max-inflight"] == "22"          # env beats file
    assert got["group"] == "from-flag"          # flag beats env
    assert got["metrics-port"] == "9464"        # file beats default
    assert got["kafka.sasl.username"] == "alice"
    assert got["kafka.sasl.password"] == "***"
    assert got["redis"] == "redis://***@10.0.0.1:6380/2"
    text = "\n".join(f"{k} = {v}" for k, v in got.items())
    assert got["kafka.sasl.oauthbearer.config"] == "***"
    assert got["kafka.producer.ssl.key.pem"] == "***"
    for secret in ("hunter2", "s3cret-pass", "bearer-s3cret", "PEM-S3CRET"):
        assert secret not in text


def test_bad_option_is_a_clear_error():
    res = subprocess.run([binary("tollgate-worker"), "--max-inflight", "lots"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2
    assert "--max-inflight: expected a non-negative integer" in res.stderr


def test_sasl_listener_via_x_passthrough(tmp_path, sasl_brokers, topics,
                                         ledger_redis):
    sasl = ["-X", "security.protocol=SASL_PLAINTEXT",
            "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=tollgate",
            "-X", "sasl.password=tollgate-secret",
            "--brokers", sasl_brokers, "--log-decisions", "1"]
    w = Worker(tmp_path, topics["prefix"], ledger_redis, args=sasl)
    try:
        wait_assigned([w], 4)
        produce(os.environ.get("TOLLGATE_BROKERS", "127.0.0.1:19092"),
                topics["requests"], [("sasl-1", request("sasl-1", "eng"))])
        comps = dict(events(os.environ.get("TOLLGATE_BROKERS",
                                           "127.0.0.1:19092"),
                            topics["completions"], 1))
    finally:
        assert w.stop() == 0
    assert comps["sasl-1"]["status"] == "completed"
    decisions = [json.loads(l) for l in w.text().splitlines()
                 if '"msg":"decision"' in l]
    assert decisions and decisions[0]["requestId"] == "sasl-1"
    assert "tollgate-secret" not in w.text()


@pytest.fixture
def unix_redis(tmp_path):
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket",
                             str(sock), "--requirepass", "pw-unix-1",
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.05)
    yield f"unix://{sock}?db=3&password=pw-unix-1"
    proc.terminate()
    proc.wait()


def test_redis_over_unix_socket_with_password_and_db(tmp_path, brokers, topics,
                                                     unix_redis):
    ledger(unix_redis, "budget", "set", "u", "--selector", "none",
           "--period", "day", "--limit-usd", "1")
    w = Worker(tmp_path, topics["prefix"], unix_redis)
    try:
        wait_assigned([w], 4)
        produce(brokers, topics["requests"], [("ux-1", request("ux-1", "eng"))])
        comps = dict(events(brokers, topics["completions"], 1))
    finally:
        assert w.stop() == 0
    assert comps["ux-1"]["status"] == "completed"
    st = json.loads(ledger(unix_redis, "status", "--json").stdout)
    assert st[0]["spentNanoUsd"] == comps["ux-1"]["costNanoUsd"] > 0
    assert "pw-unix-1" not in w.text()
