"""The AWS credential chain against botocore's own resolver.

Each test starts its own simulator (tollgate-bedrock-sim, which serves STS
and IMDSv2 beside Bedrock) on a free port and points both tollgate
(`tollgate-ledger creds`, which prints the source and access key id, never
a secret) and botocore (Session().get_credentials()) at it through
AWS_ENDPOINT_URL_STS and AWS_EC2_METADATA_SERVICE_ENDPOINT, with the same
environment and the same ~/.aws files. Needs no Kafka or Redis.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tgstack import assert_clean, binary, free_port

ACCOUNT = "123456789012"
SOURCE_KEY, SOURCE_SECRET = "AKIDSOURCEKEY", "source-secret"
WEB_TOKEN = "eyJhbGciOiJSUzI1NiJ9.sim-jwt.signature"


class Sim:
    def __init__(self, tmp_path, lifetime=3600, port=None):
        self.port = port or free_port()
        self.log = open(tmp_path / f"sim-{self.port}.log", "a")
        self.proc = subprocess.Popen(
            [binary("tollgate-bedrock-sim"), "--port", str(self.port),
             "--sts-access-key-id", SOURCE_KEY,
             "--sts-secret-access-key", SOURCE_SECRET,
             "--web-identity-token", WEB_TOKEN,
             "--creds-lifetime", str(lifetime), "--threads", "2"],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 10
        import socket
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("simulator did not start")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.log.close()
        assert_clean(open(self.log.name).read(), "simulator")


@pytest.fixture
def sim(tmp_path):
    s = Sim(tmp_path)
    yield s
    s.stop()


def base_env(tmp_path, sim):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_DEFAULT_REGION="us-east-1",
               AWS_REGION="us-east-1",
               AWS_ENDPOINT_URL_STS=sim.url,
               AWS_EC2_METADATA_SERVICE_ENDPOINT=sim.url + "/",
               AWS_METADATA_SERVICE_TIMEOUT="5",
               AWS_CONFIG_FILE=str(home / ".aws" / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"))
    return env, home


BOTO = r"""
import json, botocore.session
c = botocore.session.Session().get_credentials()
if c is None:
    print(json.dumps(None))
else:
    f = c.get_frozen_credentials()
    print(json.dumps({"method": c.method, "key": f.access_key,
                      "secret": f.secret_key, "token": f.token}))
"""


def botocore_creds(env):
    out = subprocess.run([sys.executable, "-c", BOTO], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def tollgate_creds(env, *args):
    out = subprocess.run([binary("tollgate-ledger"), "creds", *args], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    return lines if args else lines[0]


def write(path, text):
    path.write_text(text)


ROLE = f"arn:aws:iam::{ACCOUNT}:role"

# name -> (extra env, config file, credentials file, expected source)
MATRIX = {
    "env": ({"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s"},
            "", "", "env"),
    "env+profile": ({"AWS_ACCESS_KEY_ID": "AKIDENV",
                     "AWS_SECRET_ACCESS_KEY": "s", "AWS_PROFILE": "dev"},
                    "", "[dev]\naws_access_key_id=AKIDDEV\n"
                    "aws_secret_access_key=d\n", "env"),
    "shared-file": ({"AWS_PROFILE": "dev"}, "",
                    "[dev]\naws_access_key_id=AKIDDEV\n"
                    "aws_secret_access_key=d\n", "shared-credentials-file"),
    "config-keys": ({"AWS_PROFILE": "dev"},
                    "[profile dev]\naws_access_key_id=AKIDCFG\n"
                    "aws_secret_access_key=c\n", "", "config-file"),
    "shared-before-config": (
        {}, "[default]\naws_access_key_id=AKIDCFG\naws_secret_access_key=c\n",
        "[default]\naws_access_key_id=AKIDSHARED\naws_secret_access_key=s\n",
        "shared-credentials-file"),
    "web-identity-env": ({"AWS_WEB_IDENTITY_TOKEN_FILE": "@token",
                          "AWS_ROLE_ARN": f"{ROLE}/irsa",
                          "AWS_ROLE_SESSION_NAME": "pod-1"}, "", "",
                         "assume-role-with-web-identity"),
    "web-identity-profile": (
        {}, f"[default]\nweb_identity_token_file=@token\n"
        f"role_arn={ROLE}/irsa\n", "", "assume-role-with-web-identity"),
    "web-identity-before-shared": (
        {"AWS_WEB_IDENTITY_TOKEN_FILE": "@token",
         "AWS_ROLE_ARN": f"{ROLE}/irsa"}, "",
        "[default]\naws_access_key_id=AKIDSHARED\naws_secret_access_key=s\n",
        "assume-role-with-web-identity"),
    "env-before-web-identity": (
        {"AWS_WEB_IDENTITY_TOKEN_FILE": "@token",
         "AWS_ROLE_ARN": f"{ROLE}/irsa", "AWS_ACCESS_KEY_ID": "AKIDENV",
         "AWS_SECRET_ACCESS_KEY": "s"}, "", "", "env"),
    "role-source-profile": (
        {"AWS_PROFILE": "app"},
        f"[profile app]\nrole_arn={ROLE}/app\nsource_profile=base\n", 
        f"[base]\naws_access_key_id={SOURCE_KEY}\n"
        f"aws_secret_access_key={SOURCE_SECRET}\n", "assume-role"),
    "role-before-web-identity": (
        {"AWS_PROFILE": "app", "AWS_WEB_IDENTITY_TOKEN_FILE": "@token",
         "AWS_ROLE_ARN": f"{ROLE}/irsa"},
        f"[profile app]\nrole_arn={ROLE}/app\nsource_profile=base\n",
        f"[base]\naws_access_key_id={SOURCE_KEY}\n"
        f"aws_secret_access_key={SOURCE_SECRET}\n", "assume-role"),
    "role-chain-web-identity": (
        {"AWS_PROFILE": "app"},
        f"[profile app]\nrole_arn={ROLE}/app\nsource_profile=web\n"
        f"[profile web]\nweb_identity_token_file=@token\n"
        f"role_arn={ROLE}/irsa\n", "", "assume-role"),
    "role-credential-source-imds": (
        {"AWS_PROFILE": "app"},
        f"[profile app]\nrole_arn={ROLE}/app\n"
        f"credential_source=Ec2InstanceMetadata\n", "", "assume-role"),
    "credential-process": (
        {"AWS_PROFILE": "proc"},
        "[profile proc]\ncredential_process=@process\n"
        "aws_access_key_id=AKIDCFG\naws_secret_access_key=c\n", "",
        "custom-process"),
    "shared-before-process": (
        {"AWS_PROFILE": "proc"},
        "[profile proc]\ncredential_process=@process\n",
        "[proc]\naws_access_key_id=AKIDSHARED\naws_secret_access_key=s\n",
        "shared-credentials-file"),
    "container": ({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "@container"}, "",
                  "", "container-role"),
    "shared-before-container": (
        {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "@container"}, "",
        "[default]\naws_access_key_id=AKIDSHARED\naws_secret_access_key=s\n",
        "shared-credentials-file"),
    "imds": ({}, "", "", "iam-role"),
    "container-before-imds": (
        {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "@container"}, "", "",
        "container-role"),
}

PROCESS = r"""#!/bin/sh
printf '{"Version": 1, "AccessKeyId": "AKIDPROCESS", "SecretAccessKey": "p", "SessionToken": "ptok", "Expiration": "2099-01-01T00:00:00Z"}'
"""


def container_server(tmp_path):
    """A container credentials endpoint (ECS/EKS JSON) on loopback."""
    port = free_port()
    doc = json.dumps({"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "cs",
                      "Token": "ctok", "Expiration": "2099-01-01T00:00:00Z"})
    script = tmp_path / "container.py"
    write(script, f"""
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = {doc!r}.encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b)))
        self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", {port}), H).serve_forever()
""")
    proc = subprocess.Popen([sys.executable, str(script)])
    import socket
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}/creds"


def subst(text, tmp_path, container_url):
    token = tmp_path / "token"
    write(token, WEB_TOKEN)  # EKS writes it without a newline
    proc = tmp_path / "process.sh"
    write(proc, PROCESS)
    proc.chmod(0o755)
    return (text.replace("@token", str(token)).replace("@process", str(proc))
            .replace("@container", container_url))


def test_matrix_same_source_and_credentials(tmp_path, sim):
    """(a)+(b): for each configuration tollgate picks botocore's source and
    gets the same credentials from the simulators."""
    container, curl = container_server(tmp_path)
    failures = []
    try:
        for name, (extra, config, creds, want) in MATRIX.items():
            env, home = base_env(tmp_path, sim)
            env.update({k: subst(v, tmp_path, curl) for k, v in extra.items()})
            write(home / ".aws" / "config", subst(config, tmp_path, curl))
            write(home / ".aws" / "credentials", subst(creds, tmp_path, curl))
            boto = botocore_creds(env)
            ours = tollgate_creds(env)
            got = (ours["source"], ours["access_key_id"])
            exp = (boto["method"], boto["key"])
            if got != exp or boto["method"] != want:
                failures.append(f"{name}: tollgate {got}, botocore {exp}, "
                                f"expected source {want}")
            if len(boto["secret"]) >= 8:
                assert boto["secret"] not in json.dumps(ours)
    finally:
        container.terminate()
        container.wait(5)
    assert not failures, "\n".join(failures)


def test_clear_errors_at_start(tmp_path, sim):
    env, home = base_env(tmp_path, sim)
    write(home / ".aws" / "config", "")
    write(home / ".aws" / "credentials", "")
    cases = [
        ({"AWS_WEB_IDENTITY_TOKEN_FILE": str(tmp_path / "nope"),
          "AWS_ROLE_ARN": f"{ROLE}/irsa"}, "nope: No such file"),
        ({"AWS_PROFILE": "typo"}, "profile typo is in neither"),
        ({"AWS_WEB_IDENTITY_TOKEN_FILE": str(tmp_path / "bad"),
          "AWS_ROLE_ARN": f"{ROLE}/irsa"}, "InvalidIdentityToken"),
        ({"AWS_WEB_IDENTITY_TOKEN_FILE": str(tmp_path / "bad"),
          "AWS_ROLE_ARN": f"{ROLE}/irsa",
          "AWS_ENDPOINT_URL_STS": f"http://127.0.0.1:{free_port()}"},
         "STS unreachable"),
        ({"AWS_EC2_METADATA_SERVICE_ENDPOINT":
          f"http://127.0.0.1:{free_port()}/"}, "instance metadata failed"),
    ]
    write(tmp_path / "bad", "not-the-token")
    for extra, want in cases:
        out = subprocess.run([binary("tollgate-ledger"), "creds"],
                             env={**env, **extra}, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 1, (extra, out.stdout)
        assert want in out.stderr, (want, out.stderr)
        assert "not-the-token" not in out.stderr


def test_signature_checked(tmp_path, sim):
    """AssumeRole signed with a wrong secret is refused as AWS does."""
    env, home = base_env(tmp_path, sim)
    write(home / ".aws" / "config",
          f"[default]\nrole_arn={ROLE}/app\nsource_profile=base\n")
    write(home / ".aws" / "credentials",
          f"[base]\naws_access_key_id={SOURCE_KEY}\n"
          "aws_secret_access_key=wrong-secret\n")
    out = subprocess.run([binary("tollgate-ledger"), "creds"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "403, SignatureDoesNotMatch" in out.stderr, out.stderr
    assert "wrong-secret" not in out.stderr


def test_refresh_and_fail_closed(tmp_path):
    """(c)+(d): short-lived credentials are refreshed before expiry; when
    STS goes away the last ones are kept until they expire, then none are
    valid; when it returns they are valid again."""
    sim = Sim(tmp_path, lifetime=8)
    try:
        env, home = base_env(tmp_path, sim)
        write(home / ".aws" / "config", "")
        write(home / ".aws" / "credentials", "")
        token = tmp_path / "token"
        write(token, WEB_TOKEN)
        env.update(AWS_WEB_IDENTITY_TOKEN_FILE=str(token),
                   AWS_ROLE_ARN=f"{ROLE}/irsa",
                   TOLLGATE_CREDS_REFRESH_MARGIN="3", TOLLGATE_CREDS_RETRY="1")
        proc = subprocess.Popen([binary("tollgate-ledger"), "creds", "--watch",
                                 "40"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        lines = []

        def until(pred, limit):
            end = time.time() + limit
            while time.time() < end:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(json.loads(line))
                if pred(lines[-1]):
                    return lines[-1]
            raise AssertionError(f"condition not met: {lines[-5:]}")

        first = until(lambda l: True, 10)
        assert first["valid"] and first["source"] == \
            "assume-role-with-web-identity"
        # (c) a new key before the first one expires, never invalid between
        second = until(lambda l: l["access_key_id"] != first["access_key_id"],
                       15)
        assert all(l["valid"] for l in lines)
        assert second["fetches"] >= 2
        # (d) STS goes away: kept while valid, then invalid
        port = sim.port
        sim.stop()
        dead = until(lambda l: not l["valid"], 20)
        assert "STS unreachable" in dead["last_error"]
        assert dead["access_key_id"] == ""
        # ... and back by itself
        sim = Sim(tmp_path, lifetime=8, port=port)
        back = until(lambda l: l["valid"], 15)
        assert back["access_key_id"].startswith("ASIA")
        proc.kill()
        proc.wait(5)
        assert WEB_TOKEN not in proc.stderr.read()
    finally:
        sim.stop()


def test_worker_fails_closed_and_resumes(tmp_path, brokers, topics,
                                         ledger_redis):
    """The worker on IRSA-style web identity: requests complete; STS goes
    away and the credentials expire: the worker admits nothing (no Bedrock
    call with expired credentials) and /readyz says why; STS returns: the
    waiting requests complete by themselves, none failed, and it is ready
    again."""
    from tgstack import Sim as BedrockSim, Worker, events, produce, request
    from tgstack import readyz, wait_assigned

    lifetime = 12
    sts = Sim(tmp_path, lifetime=lifetime)
    bedrock = BedrockSim()
    token = tmp_path / "token"
    write(token, WEB_TOKEN)
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
           "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
           "AWS_ROLE_ARN": f"{ROLE}/worker", "AWS_ENDPOINT_URL_STS": sts.url,
           "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)}
    mport = free_port()
    w = Worker(tmp_path, topics["prefix"], ledger_redis,
               args=["--bedrock-endpoint", bedrock.url,
                     "--metrics-port", str(mport)], env=env)
    try:
        wait_assigned([w], 4)
        assert readyz(mport) == (200, "ready\n")
        assert "AWS credentials from assume-role-with-web-identity" in w.text()
        reqs = [request(f"cr-{i}", "eng") for i in range(3)]
        produce(brokers, topics["requests"],
                [(r["requestId"], r) for r in reqs])
        first = dict(events(brokers, topics["completions"], 3))
        assert all(c["status"] == "completed" for c in first.values()), first
        calls = bedrock.stats()["requests"]
        # STS goes away; wait for a failed refresh and for the expiry
        port = sts.port
        stopped = time.time()
        sts.stop()
        deadline = time.time() + 30
        while "refresh failed" not in w.text() and time.time() < deadline:
            time.sleep(0.2)
        assert "refresh failed" in w.text()
        time.sleep(max(0.0, stopped + lifetime + 1 - time.time()))
        late = [request(f"cr-late-{i}", "eng") for i in range(2)]
        produce(brokers, topics["requests"],
                [(r["requestId"], r) for r in late])
        time.sleep(4)
        assert bedrock.stats()["requests"] == calls, \
            "called Bedrock with expired credentials"
        assert readyz(mport) == (
            503, "aws credentials expired or unobtainable\n")
        assert len(events(brokers, topics["completions"], 5, timeout=3)) == 3
        # STS is back: the worker resumes by itself
        sts = Sim(tmp_path, lifetime=lifetime, port=port)
        comps = dict(events(brokers, topics["completions"], 5, timeout=60))
        assert len(comps) == 5
        assert all(c["status"] == "completed" for c in comps.values()), comps
        assert "refreshed again" in w.text()
        deadline = time.time() + 15
        while readyz(mport)[0] != 200 and time.time() < deadline:
            time.sleep(0.2)
        assert readyz(mport) == (200, "ready\n")
        assert WEB_TOKEN not in w.text()
    finally:
        assert w.stop() == 0
        sts.stop()
        bedrock.stop()
