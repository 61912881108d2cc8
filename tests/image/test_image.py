"""The container image, run for real (tests/image.sh builds it and starts
the stack): its worker, as the image's non-root user, with --network host
and compose.yaml's own settings (environment names, read-only root,
dropped capabilities), processes a batch from the local broker, Redis and
simulator; compose.yaml's services are checked against the same image.

The helpers and fixtures are those of tests/integration (imported, not
copied), so the checks are the end-to-end test's: every request answered
exactly once, the ledger equal to the usage events, reconcile clean."""

import collections
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
# pylint: disable=wrong-import-position,unused-import
from conftest import (REPO, brokers, build_dir, ledger_redis,  # noqa: E402,F401
                      redis_url, topics)
from tgstack import (Worker, events, free_port, ledger, produce,  # noqa: E402
                     request, wait_assigned)

IMAGE = os.environ.get("TOLLGATE_IMAGE", "tollgate:dev")
IMAGE_UID = 10001  # the Dockerfile's fixed uid (Kubernetes' runAsNonRoot)
COMPOSE = yaml.safe_load(
    (REPO / "deploy" / "docker" / "compose.yaml").read_text())["services"]
TOLLGATE_SERVICES = {n: s for n, s in COMPOSE.items()
                     if str(s.get("image", "")).startswith("${TOLLGATE_IMAGE")}


def podman(*args, check=True, timeout=120):
    res = subprocess.run(["podman", *args], capture_output=True, text=True,
                         timeout=timeout)
    if check:
        assert res.returncode == 0, f"podman {args}: {res.stdout}{res.stderr}"
    return res


def image_inspect():
    return json.loads(podman("image", "inspect", IMAGE).stdout)[0]


def image_config():
    return image_inspect()["Config"]


def in_image(*cmd, entrypoint="/bin/sh"):
    return podman("run", "--rm", "--network", "none", "--pull=never",
                  "--entrypoint", entrypoint, IMAGE, *cmd, check=False)


class ContainerWorker(Worker):
    """The image's worker in a container, configured only through the
    environment variables compose.yaml gives its worker service, and run
    with that service's hardening; its log is podman's attached output."""

    def __init__(self, tmp_path, name, env):  # pylint: disable=super-init-not-called
        self.name = name
        self.ctr = f"tgimg-{name}-{uuid.uuid4().hex[:6]}"
        self.log_path = Path(tmp_path) / f"{self.ctr}.log"
        svc = COMPOSE["worker"]
        cmd = ["podman", "run", "--rm", "--name", self.ctr, "--network", "host",
               "--pull=never"]
        if svc.get("read_only"):
            cmd.append("--read-only")
        for cap in svc.get("cap_drop", []):
            cmd += ["--cap-drop", cap]
        for opt in svc.get("security_opt", []):
            cmd += ["--security-opt", opt]
        for key, value in env.items():
            cmd += ["-e", f"{key}={value}"]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd + [IMAGE], stdout=self.log,
                                     stderr=self.log)

    def host_pid(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            res = podman("inspect", "--format", "{{.State.Pid}}", self.ctr,
                         check=False)
            if res.returncode == 0 and res.stdout.strip() not in ("", "0"):
                return int(res.stdout)
            time.sleep(0.2)
        raise AssertionError(f"container {self.ctr} has no process:\n{self.text()}")

    def remove(self):
        podman("rm", "-f", "-i", self.ctr, check=False)


def worker_env(prefix, redis, brokers_, sim, metrics_port):
    """compose.yaml's worker environment, pointed at the local stack."""
    env = {k: str(v) for k, v in COMPOSE["worker"]["environment"].items()}
    local = {"TOLLGATE_BROKERS": brokers_, "TOLLGATE_REDIS": redis,
             "TOLLGATE_TOPIC_PREFIX": prefix, "TOLLGATE_GROUP": f"{prefix}.workers",
             "TOLLGATE_BEDROCK_ENDPOINT": sim,
             "TOLLGATE_METRICS_PORT": str(metrics_port)}
    for key in local:
        assert key in env, f"compose.yaml's worker sets no {key}"
    env.update(local)
    env["TOLLGATE_WORKER_ID"] = "image-worker"
    return env


def test_image_config_runs_the_worker_as_non_root():
    inspect = image_inspect()
    cfg = inspect["Config"]
    user = cfg.get("User", "")
    assert user.split(":")[0] == str(IMAGE_UID), cfg
    assert cfg["Entrypoint"] == ["/usr/local/bin/tollgate-worker"]
    assert "TOLLGATE_CATALOG=/etc/tollgate/catalog.json" in cfg["Env"]
    assert "9464/tcp" in cfg.get("ExposedPorts", {})
    # podman keeps HEALTHCHECK beside the config (docker image format)
    health = (inspect.get("Healthcheck") or {}).get("Test", [])
    assert health[0] == "CMD" and "/healthz" in " ".join(health), health
    res = in_image("-c", "id -u; id -g")
    assert res.returncode == 0 and res.stdout.split() == [str(IMAGE_UID)] * 2, \
        res.stdout + res.stderr
    # the runtime stage is minimal: no compiler, no package headers
    res = in_image("-c", "command -v cc gcc make cmake; ls /usr/include 2>/dev/null | wc -l")
    assert res.stdout.split() == ["0"], res.stdout


def test_image_worker_processes_a_batch(tmp_path, brokers, topics, ledger_redis):
    sim = os.environ["TOLLGATE_BEDROCK_ENDPOINT"]
    ledger(ledger_redis, "budget", "set", "img-global", "--selector", "none",
           "--period", "month", "--limit-usd", "1")
    ledger(ledger_redis, "budget", "set", "img-eng", "--selector",
           "costCenter=eng", "--period", "month", "--limit-usd", "0.001")
    port = free_port()
    w = ContainerWorker(tmp_path, "w0", worker_env(
        topics["prefix"], ledger_redis, brokers, sim, port))
    n = 200
    try:
        wait_assigned([w], 4, timeout=120)
        # The worker process itself is not root (seen from the host).
        status = Path(f"/proc/{w.host_pid()}/status").read_text()
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        assert uids == [str(IMAGE_UID)] * 4, status
        assert Path(f"/proc/{w.host_pid()}/comm").read_text().strip() == \
            "tollgate-worker"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz",
                                    timeout=5) as r:
            assert r.status == 200
        # The image's own HEALTHCHECK, run by podman inside the container.
        res = podman("healthcheck", "run", w.ctr, check=False)
        assert res.returncode == 0, res.stdout + res.stderr

        reqs = [request(f"img-{i:04d}", ("eng", "sales")[i % 2],
                        text=f"question {i}") for i in range(n)]
        produce(brokers, topics["requests"], [(r["requestId"], r) for r in reqs])
        comps = events(brokers, topics["completions"], n)
        usage = events(brokers, topics["usage"], n)
        rc = w.stop()
    finally:
        w.remove()
    assert rc == 0, w.text()[-3000:]

    ids = {r["requestId"] for r in reqs}
    comp_ids = collections.Counter(k for k, _ in comps)
    usage_ids = collections.Counter(k for k, _ in usage)
    assert set(comp_ids) == ids and max(comp_ids.values()) == 1
    assert set(usage_ids) == ids and max(usage_ids.values()) == 1
    by_status = collections.Counter((c["tags"]["costCenter"], c["status"])
                                    for _, c in comps)
    assert by_status[("sales", "completed")] == n // 2, by_status
    assert by_status[("eng", "completed")] > 0, by_status
    assert by_status[("eng", "rejected")] > 0, by_status  # ran out part way

    budgets = {b["id"]: b for b in
               json.loads(ledger(ledger_redis, "status", "--json").stdout)}
    approved = [u for _, u in usage if u["decision"] == "approved"]
    expect = {"img-global": sum(u["costNanoUsd"] for u in approved),
              "img-eng": sum(u["costNanoUsd"] for u in approved
                             if u["tags"]["costCenter"] == "eng")}
    for bid, cost in expect.items():
        assert budgets[bid]["spentNanoUsd"] == cost > 0, (bid, budgets[bid])
        assert budgets[bid]["reservedNanoUsd"] == 0
    res = ledger(ledger_redis, "reconcile", brokers=brokers,
                 usage_topic=topics["usage"], check=False)
    assert res.returncode == 0, res.stdout + res.stderr


# --- compose.yaml against the same image --------------------------------------

def help_text(binary):
    res = in_image("--help", entrypoint=binary)
    return res.stdout + res.stderr


def test_compose_services_match_the_image():
    cfg = image_config()
    assert set(TOLLGATE_SERVICES) >= {"sim", "topics", "worker", "ledger", "submit"}
    binaries = in_image("-c", "ls /usr/local/bin").stdout.split()
    for name, svc in TOLLGATE_SERVICES.items():
        assert svc["build"]["dockerfile"] == "deploy/docker/Dockerfile", name
        entry = svc.get("entrypoint", cfg["Entrypoint"])
        assert entry[0].startswith("/usr/local/bin/"), (name, entry)
        assert Path(entry[0]).name in binaries, (name, entry, binaries)
        # no service puts the image back to root
        assert str(svc.get("user", IMAGE_UID)).split(":")[0] not in ("0", "root"), name
        # every option of the command is one the program has
        usage = help_text(entry[0])
        for word in svc.get("command", []):
            if word.startswith("--"):
                assert re.search(rf"(^|\s){re.escape(word)}(\s|=|,|$)", usage, re.M), \
                    f"{name}: {entry[0]} has no option {word}"
        # every TOLLGATE_ variable it sets is one the program reads
        for var in svc.get("environment", {}) or {}:
            if var.startswith("TOLLGATE_"):
                assert var in usage, f"{name}: {entry[0]} reads no {var}"


def test_compose_worker_metrics_port_and_healthcheck_are_the_images():
    cfg = image_config()
    worker = COMPOSE["worker"]
    port = int(worker["environment"]["TOLLGATE_METRICS_PORT"])
    assert f"{port}/tcp" in cfg["ExposedPorts"]
    assert str(port) in [str(p) for p in worker.get("expose", [])]
    # compose keeps the image's HEALTHCHECK for the worker (no override)
    assert "healthcheck" not in worker or not worker["healthcheck"].get("disable")
    assert f"TOLLGATE_METRICS_PORT={port}" in cfg["Env"]


def test_compose_sim_healthcheck_passes_in_the_image():
    """compose.yaml's simulator (its entrypoint, command and healthcheck),
    in a container with only a loopback of its own."""
    svc = COMPOSE["sim"]
    test = svc["healthcheck"]["test"]
    assert test[0] == "CMD"
    # compose turns $$ into $; the container runs the test without a shell
    check = [w.replace("$$", "$") for w in test[1:]]
    ctr = f"tgimg-sim-{uuid.uuid4().hex[:6]}"
    podman("run", "-d", "--rm", "--name", ctr, "--network", "none",
           "--pull=never", "--entrypoint", svc["entrypoint"][0], IMAGE,
           *svc["entrypoint"][1:], *svc["command"])
    try:
        deadline, res = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            res = podman("exec", ctr, *check, check=False)
            if res.returncode == 0:
                break
            time.sleep(0.3)
        assert res.returncode == 0, res.stdout + res.stderr
        # the same check fails where nothing answers
        wrong = [w.replace("/127.0.0.1/8080", "/127.0.0.1/8081") for w in check]
        assert wrong != check
        assert podman("exec", ctr, *wrong, check=False).returncode != 0
    finally:
        podman("rm", "-f", "-i", ctr, check=False)
