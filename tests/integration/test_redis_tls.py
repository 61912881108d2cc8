"""Redis over TLS (rediss://, docs/operations.md "Redis over TLS").

On a build with Redis TLS (hiredis >= 1.0 with hiredis_ssl: Debian 13) the
test makes its own CAs and certificates, starts redis-server with a TLS port
only (port 0), mutual TLS and an ACL user, and runs the worker and
tollgate-ledger over rediss://: every request answered once, the ledger
equal to the usage events; a wrong CA, a wrong server name, a self-signed
and an expired certificate are each refused naming the check that failed,
the worker stays not ready and loses nothing.

On a build without it (hiredis 0.14: Debian 12) the same file asserts the
clear refusal at start instead. The build says which it is in
tollgate-features.txt (written by CMake into the build directory).
"""

import collections
import datetime
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tgstack import (TEST_AWS_ENV, Worker, assert_clean, binary, build_dir,
                     events, free_port, produce, request)

MISSING = "this build has no Redis TLS"


def features():
    path = build_dir() / "tollgate-features.txt"
    assert path.exists(), f"{path}: the build writes it (CMakeLists.txt)"
    out = {}
    for line in path.read_text().splitlines():
        name, _, rest = line.partition("=")
        out[name] = rest.split(" ", 1)[0]
    return out


HAVE_TLS = features().get("redis-tls") == "yes"


# Each build runs the half that is its documented behaviour, and only that
# half exists for it (nothing is skipped): a test defined for the other
# build is left out of the module.
def tls_only(test):
    return test if HAVE_TLS else None


def no_tls_only(test):
    return None if HAVE_TLS else test


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TOLLGATE_REDIS")}
    return {**env, **TEST_AWS_ENV, **extra}


def run_ledger(url, *args, env=None, timeout=60):
    res = subprocess.run([binary("tollgate-ledger"), "--redis", url, *args],
                         capture_output=True, text=True, timeout=timeout,
                         env=clean_env(**(env or {})))
    assert_clean(res.stderr, "tollgate-ledger")
    return res


def run_worker_start(*args, env=None):
    """A worker that must refuse at start: its exit code and stderr."""
    res = subprocess.run([binary("tollgate-worker"), "--worker-id", "tls",
                          *args], capture_output=True, text=True,
                         timeout=60, env=clean_env(**(env or {})))
    assert_clean(res.stderr, "tollgate-worker")
    return res.returncode, res.stderr


# --- a build without Redis TLS: refused at start, clearly -----------------

@no_tls_only
@pytest.mark.parametrize("args,env", [
    (["--redis", "rediss://:hunter2@127.0.0.1:6380"], {}),
    ([], {"TOLLGATE_REDIS": "rediss://:hunter2@127.0.0.1:6380"}),
    (["--redis", "redis://:hunter2@127.0.0.1:6380",
      "--redis-tls-ca-file", "/etc/ssl/certs/ca-certificates.crt"], {}),
    (["--redis", "redis://:hunter2@127.0.0.1:6380"],
     {"TOLLGATE_REDIS_TLS_INSECURE": "1"}),
])
def test_no_tls_build_worker_refuses(args, env):
    rc, err = run_worker_start(*args, env=env)
    assert rc != 0
    assert MISSING + ": hiredis" in err, err
    assert "hiredis_ssl" in err and "Debian 13" in err, err
    assert "hunter2" not in err


@no_tls_only
@pytest.mark.parametrize("url,args,env", [
    ("rediss://:hunter2@127.0.0.1:6380", [], {}),
    ("redis://:hunter2@127.0.0.1:6380",
     ["--redis-tls-cert", "/c.pem", "--redis-tls-key", "/k.pem"], {}),
    ("redis://:hunter2@127.0.0.1:6380", [],
     {"TOLLGATE_REDIS_TLS_CA_FILE": "/ca.pem"}),
])
def test_no_tls_build_ledger_refuses(url, args, env):
    res = run_ledger(url, *args, "status", env=env)
    assert res.returncode == 2, res.stderr
    assert MISSING + ": hiredis" in res.stderr, res.stderr
    assert "hunter2" not in res.stderr


@no_tls_only
def test_no_tls_build_print_config_still_works():
    """--print-config shows what was asked before anything is refused."""
    res = subprocess.run([binary("tollgate-worker"), "--redis",
                          "rediss://u:hunter2@h:6380", "--redis-tls-insecure",
                          "--print-config"], capture_output=True, text=True,
                         timeout=30, env=clean_env())
    assert res.returncode == 0, res.stderr
    assert "redis = rediss://***@h:6380" in res.stdout
    assert "redis-tls-insecure = 1" in res.stdout
    assert "hunter2" not in res.stdout


# --- a build with Redis TLS ------------------------------------------------

class Pki:
    """A CA, a second (wrong) CA, and certificates made with `cryptography`."""

    def __init__(self, d):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.x509, self.hashes, self.ec, self.oid = x509, hashes, ec, NameOID
        self.ser = serialization
        self.d = d
        self.ca = self._ca("tollgate test CA")
        self.wrong_ca = self._ca("some other CA")

    def _name(self, cn):
        return self.x509.Name([self.x509.NameAttribute(self.oid.COMMON_NAME, cn)])

    def _write(self, stem, key, cert):
        kp, cp = self.d / f"{stem}.key", self.d / f"{stem}.crt"
        kp.write_bytes(key.private_bytes(
            self.ser.Encoding.PEM, self.ser.PrivateFormat.PKCS8,
            self.ser.NoEncryption()))
        cp.write_bytes(cert.public_bytes(self.ser.Encoding.PEM))
        kp.chmod(0o600)
        return str(cp), str(kp)

    def _ca(self, cn):
        x509 = self.x509
        key = self.ec.generate_private_key(self.ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(self._name(cn))
                .issuer_name(self._name(cn)).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                               critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True,
                    content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False,
                    encipher_only=False, decipher_only=False), critical=True)
                .sign(key, self.hashes.SHA256()))
        stem = cn.replace(" ", "-")
        path, _ = self._write(stem, key, cert)
        return {"key": key, "cert": cert, "path": path}

    def leaf(self, stem, cn, ca=None, dns=(), ips=(), client=False,
             expired=False):
        """Signed by `ca` (default the test CA), or self-signed if ca is
        False. Returns (cert path, key path)."""
        import ipaddress

        x509 = self.x509
        key = self.ec.generate_private_key(self.ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        start = now - datetime.timedelta(days=10 if expired else 1)
        end = now - datetime.timedelta(days=2) if expired else \
            now + datetime.timedelta(days=10)
        issuer = ca if ca is not None else self.ca
        b = (x509.CertificateBuilder().subject_name(self._name(cn))
             .issuer_name(self._name(cn) if issuer is False
                          else issuer["cert"].subject)
             .public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(start).not_valid_after(end))
        sans = [x509.DNSName(n) for n in dns] + \
            [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans),
                                critical=False)
        usage = (x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH if client
                 else x509.oid.ExtendedKeyUsageOID.SERVER_AUTH)
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        cert = b.sign(key if issuer is False else issuer["key"],
                      self.hashes.SHA256())
        return self._write(stem, key, cert)


class TlsRedis:
    """redis-server with only a TLS port on loopback, an ACL user, and
    optionally mutual TLS. restart() swaps the server certificate on the
    same port (the operator fixing it)."""

    USER, PASSWORD = "tollgate", "tls-acl-s3cret"

    def __init__(self, d, cert, key, ca, mutual=False):
        self.d, self.ca, self.mutual = d, ca, mutual
        self.port = free_port()
        self.proc = None
        self.start(cert, key)

    def start(self, cert, key):
        conf = self.d / f"redis-{self.port}.conf"
        conf.write_text(
            f"port 0\ntls-port {self.port}\nbind 127.0.0.1\n"
            f"tls-cert-file {cert}\ntls-key-file {key}\n"
            f"tls-ca-cert-file {self.ca}\n"
            f"tls-auth-clients {'yes' if self.mutual else 'no'}\n"
            f"save \"\"\nappendonly yes\nappendfsync always\n"
            f"appenddirname aof-{self.port}\ndir {self.d}\n"
            # default stays on (Redis 8 replays the AOF's MULTI/EXEC with
            # its rights) behind a password nobody is given
            f"user default on >{os.urandom(16).hex()} ~* &* +@all\n"
            f"user {self.USER} on >{self.PASSWORD} ~* &* +@all\n")
        self.log = self.d / f"redis-{self.port}.log"
        seen = self.log.read_text().count("Ready to accept") \
            if self.log.exists() else 0
        self.proc = subprocess.Popen([shutil.which("redis-server"), str(conf)],
                                     stdout=open(self.log, "a"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            if self.log.read_text().count("Ready to accept") > seen:
                return
            time.sleep(0.1)
        raise AssertionError("redis-server did not start:\n" +
                             self.log.read_text())

    def restart(self, cert, key):
        self.stop()
        self.start(cert, key)

    def url(self, db=0):
        return (f"rediss://{self.USER}:{self.PASSWORD}@127.0.0.1:"
                f"{self.port}/{db}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    assert shutil.which("redis-server"), "redis-server is needed (Debian)"
    p = Pki(tmp_path_factory.mktemp("pki"))
    p.server = p.leaf("server", "redis.test", dns=["redis.test"],
                      ips=["127.0.0.1"])
    p.client = p.leaf("client", "tollgate-worker", client=True)
    p.wrong_server = p.leaf("wrong-server", "redis.test",
                            ca=p.wrong_ca, dns=["redis.test"],
                            ips=["127.0.0.1"])
    p.self_signed = p.leaf("self-signed", "redis.test", ca=False,
                           dns=["redis.test"], ips=["127.0.0.1"])
    p.expired = p.leaf("expired", "redis.test", dns=["redis.test"],
                       ips=["127.0.0.1"], expired=True)
    return p


@pytest.fixture
def mtls_redis(pki, tmp_path):
    r = TlsRedis(tmp_path, *pki.server, pki.ca["path"], mutual=True)
    yield r
    r.stop()


def client_tls_env(pki, **extra):
    return {"TOLLGATE_REDIS_TLS_CA_FILE": pki.ca["path"],
            "TOLLGATE_REDIS_TLS_CERT": pki.client[0],
            "TOLLGATE_REDIS_TLS_KEY": pki.client[1], **extra}


def client_tls_flags(pki, ca=None):
    return ["--redis-tls-ca-file", ca or pki.ca["path"],
            "--redis-tls-cert", pki.client[0],
            "--redis-tls-key", pki.client[1]]


def readyz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz",
                                    timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def wait_for(cond, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def check_ledger_equals_usage(url, env, reqs, comps, usage, brokers, topic):
    ids = {r["requestId"] for r in reqs}
    assert collections.Counter(k for k, _ in comps) == \
        collections.Counter(ids), "every request answered exactly once"
    assert collections.Counter(k for k, _ in usage) == collections.Counter(ids)
    spent = sum(u["costNanoUsd"] for _, u in usage
                if u["decision"] == "approved")
    assert spent > 0
    res = run_ledger(url, "status", "--json", env=env)
    assert res.returncode == 0, res.stderr
    found = [b for b in json.loads(res.stdout) if b["id"] == "tls-all"]
    assert len(found) == 1, res.stdout + res.stderr
    b = found[0]
    assert b["spentNanoUsd"] == spent and b["reservedNanoUsd"] == 0, b
    res = run_ledger(url, "--brokers", brokers, "--usage-topic", topic,
                     "reconcile", env=env, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


@tls_only
def test_worker_and_ledger_over_mutual_tls_with_acl_user(
        tmp_path, pki, mtls_redis, brokers, topics):
    """Worker flags and ledger environment, ACL user, client certificate,
    server verified by the CA file and its IP address SAN."""
    url, env = mtls_redis.url(), client_tls_env(pki)
    res = run_ledger(url, "budget", "set", "tls-all", "--selector", "none",
                     "--period", "month", "--limit-usd", "100", env=env)
    assert res.returncode == 0, res.stderr
    port = free_port()
    w = Worker(tmp_path, topics["prefix"], url, name="tls-w",
               args=[*client_tls_flags(pki), "--metrics-port", str(port)])
    try:
        wait_for(lambda: readyz(port)[0] == 200, "the worker ready over TLS")
        reqs = [request(f"tls-{i:03d}", ("eng", "ops")[i % 2],
                        text=f"q {i}") for i in range(60)]
        produce(brokers, topics["requests"],
                [(r["requestId"], r) for r in reqs])
        comps = events(brokers, topics["completions"], len(reqs))
        usage = events(brokers, topics["usage"], len(reqs))
    finally:
        assert w.stop() == 0, w.text()[-3000:]
    assert all(c["status"] == "completed" for _, c in comps), comps[:3]
    assert TlsRedis.PASSWORD not in w.text()
    check_ledger_equals_usage(url, env, reqs, comps, usage, brokers,
                              topics["usage"])


@tls_only
def test_wrong_ca_not_ready_nothing_lost_until_the_cert_is_fixed(
        tmp_path, pki, brokers, topics):
    """The server presents a certificate of another CA: refused naming the
    check, /readyz 503, nothing admitted. The operator fixes the server's
    certificate (same port): the worker reconnects by itself, handshakes
    again and answers every request once."""
    r = TlsRedis(tmp_path, *pki.wrong_server, pki.ca["path"], mutual=True)
    port = free_port()
    w = None
    try:
        # set up through the wrong certificate on purpose (kept in the AOF)
        res = run_ledger(r.url(), "budget", "set", "tls-all", "--selector",
                         "none", "--period", "month", "--limit-usd", "100",
                         env=client_tls_env(pki,
                                            TOLLGATE_REDIS_TLS_INSECURE="1"))
        assert res.returncode == 0, res.stderr
        w = Worker(tmp_path, topics["prefix"], r.url(), name="tls-ca",
                   args=[*client_tls_flags(pki), "--metrics-port", str(port)])
        wait_for(lambda: "unable to get local issuer certificate" in w.text(),
                 "the verify failure in the log")
        line = [l for l in w.text().splitlines()
                if "certificate verify failed" in l][0]
        assert "redis TLS to 127.0.0.1" in line and "some other CA" in line
        reqs = [request(f"ca-{i}", "eng") for i in range(10)]
        produce(brokers, topics["requests"],
                [(q["requestId"], q) for q in reqs])
        time.sleep(3)  # a worker that admitted anything would answer now
        code, body = readyz(port)
        # not ready: "starting" until Redis was reached once, then
        # "redis unavailable" (docs/operations.md, Health endpoints)
        assert code == 503 and body.strip() in ("starting",
                                                "redis unavailable"), body
        from conftest import consume_all
        assert consume_all(brokers, topics["completions"], timeout=5) == []
        assert w.proc.poll() is None

        r.restart(*pki.server)
        wait_for(lambda: readyz(port)[0] == 200, "ready after the fix")
        comps = events(brokers, topics["completions"], len(reqs))
        usage = events(brokers, topics["usage"], len(reqs))
        assert w.stop() == 0, w.text()[-3000:]
        w = None
        check_ledger_equals_usage(r.url(), client_tls_env(pki), reqs, comps,
                                  usage, brokers, topics["usage"])
    finally:
        if w:
            assert w.stop() == 0, w.text()[-3000:]
        r.stop()


@tls_only
def test_wrong_server_name_refused(tmp_path, pki, mtls_redis, topics):
    env = client_tls_env(pki, TOLLGATE_REDIS_TLS_SERVER_NAME="cache.example")
    res = run_ledger(mtls_redis.url(), "status", env=env)
    assert res.returncode == 1
    assert "certificate verify failed: hostname mismatch" in res.stderr
    assert 'expected "cache.example"' in res.stderr
    assert TlsRedis.PASSWORD not in res.stderr
    # the right name, from the option, passes (SNI and check)
    env["TOLLGATE_REDIS_TLS_SERVER_NAME"] = "redis.test"
    assert run_ledger(mtls_redis.url(), "status", env=env).returncode == 0

    port = free_port()
    w = Worker(tmp_path, topics["prefix"], mtls_redis.url(), name="tls-name",
               args=[*client_tls_flags(pki), "--redis-tls-server-name",
                     "cache.example", "--metrics-port", str(port)])
    try:
        wait_for(lambda: "hostname mismatch" in w.text(),
                 "the name check failure in the log")
        assert readyz(port)[0] == 503
    finally:
        assert w.stop() == 0


@tls_only
@pytest.mark.parametrize("which,words", [
    ("self_signed", "certificate verify failed: self-signed certificate"),
    ("expired", "certificate verify failed: certificate has expired"),
])
def test_bad_server_certificates_refused(tmp_path, pki, which, words):
    r = TlsRedis(tmp_path, *getattr(pki, which), pki.ca["path"])
    try:
        res = run_ledger(r.url(), "status", env=client_tls_env(pki))
        assert res.returncode == 1 and words in res.stderr, res.stderr
        # asked for, and warned about: no verification at all
        res = run_ledger(r.url(), "status", env={
            "TOLLGATE_REDIS_TLS_INSECURE": "1"})
        assert res.returncode == 0, res.stderr
        assert "NOT verified" in res.stderr
    finally:
        r.stop()


@tls_only
def test_system_store_by_default_and_server_wants_client_cert(pki,
                                                              mtls_redis):
    # no CA given: the system store, which does not know the test CA
    res = run_ledger(mtls_redis.url(), "status")
    assert res.returncode == 1
    # redis-server sends its CA along: OpenSSL names that one
    assert ("certificate verify failed: self-signed certificate in "
            "certificate chain" in res.stderr or
            "unable to get local issuer certificate" in res.stderr), res.stderr
    # the server demands a client certificate we did not give
    res = run_ledger(mtls_redis.url(), "status", "--redis-tls-ca-file",
                     pki.ca["path"])
    assert res.returncode == 1
    # TLS 1.3: refused after the handshake, as an alert or a reset
    assert ("alert certificate required" in res.stderr or
            "may require a client certificate" in res.stderr), res.stderr


@tls_only
def test_usage_errors_and_print_config(pki):
    res = run_ledger("redis://127.0.0.1:1", "status", "--redis-tls-ca-file",
                     pki.ca["path"])
    assert res.returncode == 2 and "needs a rediss:// URL" in res.stderr
    res = run_ledger("rediss://127.0.0.1:1", "status", "--redis-tls-cert",
                     pki.client[0])
    assert res.returncode == 2 and "both tls-cert and tls-key" in res.stderr
    rc, err = run_worker_start("--redis", "rediss://127.0.0.1:1",
                               "--redis-tls-ca-file", "/nonexistent/ca.pem")
    assert rc != 0 and "cannot load CA /nonexistent/ca.pem" in err, err
    res = subprocess.run([binary("tollgate-worker"), "--redis",
                          "rediss://u:hunter2@h:6380", "--redis-tls-insecure",
                          "--redis-tls-ca-file", "/ca.pem", "--print-config"],
                         capture_output=True, text=True, timeout=30,
                         env=clean_env())
    assert res.returncode == 0, res.stderr
    assert "redis = rediss://***@h:6380" in res.stdout
    assert "redis-tls-insecure = 1" in res.stdout
    assert "redis-tls-ca-file = /ca.pem" in res.stdout
    assert "hunter2" not in res.stdout


@tls_only
def test_stalled_handshake_times_out_like_tcp(tmp_path, pki, topics):
    """A server that accepts and never answers the TLS hello: the CLI gives
    up after --timeout, the worker's watchdog drops the link and retries
    (not ready meanwhile), as over TCP."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    url = f"rediss://127.0.0.1:{port}/0"
    try:
        t0 = time.monotonic()
        res = run_ledger(url, "--timeout", "1", "status",
                         env=client_tls_env(pki))
        assert res.returncode == 1, res.stderr
        assert time.monotonic() - t0 < 20
        assert "TLS handshake with 127.0.0.1" in res.stderr, res.stderr
        mport = free_port()
        w = Worker(tmp_path, topics["prefix"], url, name="tls-stall",
                   args=[*client_tls_flags(pki), "--metrics-port",
                         str(mport)])
        try:
            wait_for(lambda: "redis link not ready after" in w.text(),
                     "the watchdog dropping the stalled link")
            assert readyz(mport)[0] == 503
        finally:
            assert w.stop() == 0
    finally:
        srv.close()
