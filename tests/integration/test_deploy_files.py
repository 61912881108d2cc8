"""Checks of the deployment files, schemas and operator docs.

Needs no Kafka, Redis or cluster: it lints and parses every YAML under
deploy/ (yamllint with the repository's .yamllint.yaml, then PyYAML), checks
the shape and cross-references of the Kubernetes manifests, the Compose file
(against the Compose specification), the Dockerfile and the systemd units
(`systemd-analyze verify` when the binary exists), validates schema/*.json
against the JSON Schema metaschema and every example against its schema,
checks the schemas against the fields worker/events.c emits, the docs
against the metrics in worker/metrics_render.c and the options in
common/config.c, and that examples/usage_consumer.py compiles and sums.

Runs as part of tests/run.sh (pytest on tests/integration), or alone:
    python3 -m pytest -q tests/integration/test_deploy_files.py
"""

import copy
import importlib.util
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
SCHEMA_DIR = REPO / "schema"
EXAMPLES_DIR = SCHEMA_DIR / "examples"
DOCS = REPO / "docs"

METRICS_PORT = 9464
DEFAULT_DRAIN_MS = 30000
# Folders under deploy/ that hold no YAML of ours to lint: Maven jars, and
# the Helm chart's templates (Go templates, not YAML until rendered;
# tests/integration/test_helm_chart.py lints what they render).
NOT_LINTED = ("deploy/local/lib", "deploy/local/target",
              "deploy/helm/tollgate/templates")


# --- helpers -----------------------------------------------------------------

def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(cmd, check=False, **kw)


def yaml_files():
    files = []
    for path in sorted(DEPLOY.rglob("*")):
        rel = path.relative_to(REPO).as_posix()
        if path.suffix in (".yaml", ".yml") and path.is_file() \
                and not rel.startswith(NOT_LINTED):
            files.append(path)
    return files


def load_docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def k8s_objects():
    """{(kind, name): object} of every manifest in deploy/k8s except the
    kustomization, with the file each came from."""
    objs = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_docs(path):
            objs[(doc["kind"], doc["metadata"]["name"])] = (doc, path)
    return objs


def one(kind):
    found = [(doc, path) for (k, _), (doc, path) in k8s_objects().items()
             if k == kind]
    assert len(found) == 1, f"expected one {kind} in deploy/k8s, got {len(found)}"
    return found[0][0]


def config_options():
    """[(flag name, env var)] of the option table in common/config.c."""
    src = (REPO / "common" / "config.c").read_text()
    table = src[src.index("static const opt_t opts[]"):]
    table = table[:table.index("};")]
    opts = re.findall(r'\{"([a-z][a-z0-9-]*)",\s*"([A-Z][A-Z0-9_]*)"', table)
    assert len(opts) >= 20, "could not read the option table of common/config.c"
    return opts


def worker_conf():
    """The --config file in configmap.yaml as {key: value}."""
    cm = one("ConfigMap")
    conf = {}
    for n, line in enumerate(cm["data"]["worker.conf"].splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert "=" in line, f"worker.conf line {n}: expected key = value: {line!r}"
        key, value = (s.strip() for s in line.split("=", 1))
        conf[key] = value
    return conf


def find_binary(name):
    roots = [os.environ.get("TOLLGATE_BUILD_DIR"), REPO / "build"]
    for root in roots:
        if not root or not Path(root).is_dir():
            continue
        for path in sorted(Path(root).rglob(name)):
            if path.is_file() and os.access(path, os.X_OK):
                return path
    return None


def metric_names():
    src = (REPO / "worker" / "metrics_render.c").read_text()
    names = set(re.findall(r'"(tollgate_[a-z0-9_]+)"', src))
    assert names, "no metric names found in worker/metrics_render.c"
    return names


def seconds(duration):
    """Compose durations such as 45s, 1m30s."""
    total = 0
    for num, unit in re.findall(r"(\d+)(ms|s|m|h)", str(duration)):
        total += int(num) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def memory_mib(quantity):
    m = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert m, f"memory quantity {quantity!r}"
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1)


# --- YAML everywhere under deploy/ ---------------------------------------

def test_yaml_files_exist():
    names = {p.relative_to(REPO).as_posix() for p in yaml_files()}
    for required in ("deploy/docker/compose.yaml", "deploy/k8s/deployment.yaml",
                     "deploy/k8s/configmap.yaml", "deploy/k8s/pdb.yaml",
                     "deploy/k8s/keda-scaledobject.yaml",
                     "deploy/k8s/secret.example.yaml",
                     "deploy/k8s/serviceaccount.yaml",
                     "deploy/k8s/kustomization.yaml",
                     "deploy/prometheus/alerts.yaml"):
        assert required in names


def test_yamllint():
    files = [str(p) for p in yaml_files()] + [str(REPO / ".yamllint.yaml")]
    r = run([sys.executable, "-m", "yamllint", "-c", str(REPO / ".yamllint.yaml"),
             "--strict", "-f", "parsable", *files], cwd=REPO)
    assert r.returncode == 0, "yamllint:\n" + r.stdout + r.stderr


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_yaml_parses(path):
    docs = load_docs(path)
    assert docs, f"{path}: no YAML document"
    for doc in docs:
        assert isinstance(doc, dict), f"{path}: a document is not a mapping"


# --- Kubernetes ----------------------------------------------------------

NAMESPACED = {"ConfigMap", "Secret", "ServiceAccount", "Deployment",
              "PodDisruptionBudget", "ScaledObject", "TriggerAuthentication",
              "CronJob"}


def test_k8s_basic_shape():
    objs = k8s_objects()
    assert objs
    for (kind, name), (doc, path) in objs.items():
        assert doc.get("apiVersion"), f"{path}: {kind} without apiVersion"
        assert kind, f"{path}: document without kind"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name), \
            f"{path}: bad metadata.name {name!r}"
        if kind in NAMESPACED:
            assert doc["metadata"].get("namespace") == "tollgate", \
                f"{path}: {kind}/{name} not in namespace tollgate"


def test_kustomization_lists_manifests_but_not_the_example_secret():
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    resources = kust["resources"]
    for res in resources:
        assert (K8S / res).is_file(), f"kustomization: {res} missing"
    assert "secret.example.yaml" not in resources, \
        "the example Secret (placeholders) must not be applied by kustomize"
    others = {p.name for p in K8S.glob("*.yaml")} - {
        "kustomization.yaml", "secret.example.yaml"}
    assert others == set(resources), "manifests not in kustomization.yaml: " \
        f"{sorted(others - set(resources))}"


def test_kustomize_renders():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl not installed: cannot render with kustomize")
    r = run([kubectl, "kustomize", str(K8S)])
    assert r.returncode == 0, r.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout) if d]
    assert "Deployment" in kinds and "ScaledObject" in kinds


def deployment_container():
    dep = one("Deployment")
    containers = dep["spec"]["template"]["spec"]["containers"]
    worker = [c for c in containers if c["name"] == "worker"]
    assert worker, "the Deployment has no container named worker"
    return dep, worker[0]


def probe_port(container, probe):
    port = container[probe]["httpGet"]["port"]
    if isinstance(port, str):
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert port in named, f"{probe}: port name {port} not declared"
        port = named[port]
    return port


def test_deployment_probes_on_the_metrics_port():
    dep, c = deployment_container()
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe in c:
            assert probe_port(c, probe) == METRICS_PORT, probe
    args = c["args"]
    assert "--metrics-port" in args
    assert str(args[args.index("--metrics-port") + 1]) == str(METRICS_PORT)
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true"
    assert ann["prometheus.io/port"] == str(METRICS_PORT)
    assert ann["prometheus.io/path"] == "/metrics"


def drain_timeout_ms():
    """The drain timeout the pods run with: env beats the config file."""
    _, c = deployment_container()
    for env in c.get("env", []):
        if env["name"] == "TOLLGATE_DRAIN_TIMEOUT_MS":
            return int(env["value"])
    return int(worker_conf().get("drain-timeout-ms", DEFAULT_DRAIN_MS))


def test_deployment_grace_period_exceeds_drain():
    dep, _ = deployment_container()
    grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > 30
    assert grace * 1000 > drain_timeout_ms()


def test_deployment_security_and_resources():
    dep, c = deployment_container()
    pod_sc = dep["spec"]["template"]["spec"]["securityContext"]
    sc = c["securityContext"]
    assert pod_sc.get("runAsNonRoot") is True or sc.get("runAsNonRoot") is True
    assert pod_sc.get("runAsUser", sc.get("runAsUser")) not in (None, 0)
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    res = c["resources"]
    assert res["requests"]["cpu"] == "500m"
    assert res["requests"]["memory"] == "128Mi"
    assert res["limits"]["memory"] == "256Mi"
    assert memory_mib(res["limits"]["memory"]) >= memory_mib(res["requests"]["memory"])
    assert "tests/bench/RESULTS.md" in (K8S / "deployment.yaml").read_text(), \
        "say where the resource figures come from"


def test_deployment_references_exist():
    objs = k8s_objects()
    dep, c = deployment_container()
    spec = dep["spec"]["template"]["spec"]
    assert ("ServiceAccount", spec["serviceAccountName"]) in objs
    for vol in spec.get("volumes", []):
        if "configMap" in vol:
            cm = vol["configMap"]["name"]
            assert ("ConfigMap", cm) in objs, f"ConfigMap {cm} not defined"
            data = objs[("ConfigMap", cm)][0]["data"]
            for item in vol["configMap"].get("items", []):
                assert item["key"] in data
    # The config file the args name is the one the ConfigMap mounts.
    args = c["args"]
    conf_path = args[args.index("--config") + 1]
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert str(Path(conf_path).parent) in mounts


def test_example_secret_holds_every_key_referenced():
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    keys = set(secret["stringData"])
    wanted = set()
    for (kind, _), (doc, _path) in k8s_objects().items():
        text = json.dumps(doc)
        for ref in re.finditer(r'"secretKeyRef": \{"name": "([^"]+)", "key": "([^"]+)"(, "optional": true)?', text):
            if ref.group(1) == secret["metadata"]["name"] and not ref.group(3):
                wanted.add(ref.group(2))
        if kind == "TriggerAuthentication":
            for t in doc["spec"]["secretTargetRef"]:
                assert t["name"] == secret["metadata"]["name"]
                wanted.add(t["key"])
    assert wanted <= keys, f"missing in secret.example.yaml: {sorted(wanted - keys)}"
    text = (K8S / "secret.example.yaml").read_text()
    assert "Pod Identity" in text and "AWS_CONTAINER_CREDENTIALS_FULL_URI" in text


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def test_pdb_targets_the_deployment():
    dep, _ = deployment_container()
    pdb = one("PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert labels_match(pdb["spec"]["selector"], pod_labels)
    assert labels_match(dep["spec"]["selector"], pod_labels)


def test_keda_scaledobject():
    dep, _ = deployment_container()
    so = one("ScaledObject")
    conf = worker_conf()
    ref = so["spec"]["scaleTargetRef"]
    assert ref["name"] == dep["metadata"]["name"]
    assert ref.get("kind", "Deployment") == "Deployment"
    partitions = int(so["metadata"]["annotations"]["tollgate.io/requests-partitions"])
    lo, hi = so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]
    assert 1 <= lo <= hi <= partitions, \
        "partitions >= replicas: maxReplicaCount must not exceed the partitions"
    trig = [t for t in so["spec"]["triggers"] if t["type"] == "kafka"]
    assert len(trig) == 1
    meta = trig[0]["metadata"]
    assert meta["topic"] == f"{conf.get('topic-prefix', 'tollgate')}.requests"
    assert meta["consumerGroup"] == conf.get("group", "tollgate-workers")
    assert int(meta["lagThreshold"]) > 0
    assert str(meta.get("allowIdleConsumers", "false")).lower() == "false"
    auth = trig[0].get("authenticationRef")
    if auth:
        assert ("TriggerAuthentication", auth["name"]) in k8s_objects()
    # The partition count is the one the docs tell to create.
    ops = (DOCS / "operations.md").read_text()
    assert f"--partitions {partitions}" in ops, \
        f"docs/operations.md should create tollgate.requests with --partitions {partitions}"


def test_configmap_catalog_is_worker_catalog():
    cm = one("ConfigMap")
    embedded = json.loads(cm["data"]["catalog.json"])
    assert embedded == json.loads((REPO / "worker" / "catalog.json").read_text()), \
        "deploy/k8s/configmap.yaml's catalog.json differs from worker/catalog.json"


def test_configmap_worker_conf_keys_are_options():
    names = {name for name, _env in config_options()}
    conf = worker_conf()
    assert conf, "worker.conf is empty"
    for key in conf:
        assert key in names or key.startswith("kafka."), f"worker.conf: unknown key {key}"
    assert int(conf["metrics-port"]) == METRICS_PORT
    assert conf["catalog"] == "/etc/tollgate/catalog.json"
    assert "kafka.sasl.password" not in conf, "the password belongs in the Secret"


def test_configmap_worker_conf_loads(tmp_path):
    worker = find_binary("tollgate-worker")
    if not worker:
        pytest.skip("tollgate-worker not built: cannot run --print-config")
    conf = tmp_path / "worker.conf"
    conf.write_text(one("ConfigMap")["data"]["worker.conf"])
    r = run([str(worker), "--config", str(conf), "--metrics-port", "9464",
             "-X", "sasl.password=not-shown", "--print-config"],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert r.returncode == 0, r.stderr
    assert "kafka.sasl.password = ***" in r.stdout
    assert "not-shown" not in r.stdout


# --- Docker ------------------------------------------------------------------

def dockerfile_instructions():
    """[(INSTRUCTION, arguments)] with continuation lines joined."""
    out, buf = [], ""
    for line in (DEPLOY / "docker" / "Dockerfile").read_text().splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        buf += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            buf = ""
    return out


def test_dockerfile_two_stages_non_root():
    ins = dockerfile_instructions()
    froms = [a for i, a in ins if i == "FROM"]
    assert len(froms) == 2, f"expected builder and runtime stages, got {froms}"
    assert froms[0].startswith("debian:") and " AS builder" in froms[0]
    assert "-slim" in froms[1]
    last_from = max(n for n, (i, _) in enumerate(ins) if i == "FROM")
    users = [a for i, a in ins[last_from:] if i == "USER"]
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), "the image must not run as root"


def test_dockerfile_contents():
    ins = dockerfile_instructions()
    text = "\n".join(f"{i} {a}" for i, a in ins)
    last_from = max(n for n, (i, _) in enumerate(ins) if i == "FROM")
    builder = "\n".join(a for i, a in ins[:last_from] if i == "RUN")
    runtime = "\n".join(a for i, a in ins[last_from:] if i == "RUN")
    for pkg in ("cmake", "ninja-build", "librdkafka-dev", "libhiredis-dev",
                "libcurl4-openssl-dev", "libjansson-dev", "libssl-dev",
                "libuv1-dev", "libmicrohttpd-dev", "zlib1g-dev", "libzstd-dev"):
        assert pkg in builder, f"builder stage lacks {pkg}"
    # Debian 13 by default; 12 by build argument (trixie renamed with t64)
    assert re.search(r"^ARG DEBIAN_VERSION=13$",
                     (DEPLOY / "docker" / "Dockerfile").read_text(), re.M)
    runtime_libs = {
        "12": ("librdkafka1", "libhiredis0.14", "libcurl4", "libjansson4",
               "libssl3", "libuv1", "libmicrohttpd12", "zlib1g", "libzstd1"),
        "13": ("librdkafka1", "libhiredis1.1.0", "libcurl4t64", "libjansson4",
               "libssl3t64", "libuv1t64", "libmicrohttpd12t64", "zlib1g", "libzstd1"),
    }
    for version, pkgs in runtime_libs.items():
        line = re.search(rf"(^|\s){version}\) libs=\"([^\"]*)\"", runtime)
        assert line, f"runtime stage has no library list for Debian {version}"
        for pkg in pkgs:
            assert pkg in line.group(2).split(), \
                f"runtime stage lacks {pkg} on Debian {version}"
    assert re.search(r"(^|\s)ca-certificates(\s|$)", runtime)
    assert "-dev" not in runtime, "no -dev packages in the runtime stage"
    assert re.search(r"COPY .*worker/catalog.json /etc/tollgate/catalog.json", text)
    assert "TOLLGATE_CATALOG=/etc/tollgate/catalog.json" in text
    assert ("EXPOSE", str(METRICS_PORT)) in ins
    health = [a for i, a in ins if i == "HEALTHCHECK"]
    assert health and "/healthz" in health[0]
    entry = [a for i, a in ins if i == "ENTRYPOINT"]
    assert entry and "tollgate-worker" in entry[-1]
    # BuildKit's per-Dockerfile ignore file keeps build trees (whose
    # CMakeCache.txt would clash) and the Kafka jars out of the context.
    ignored = (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text().split()
    for pattern in (".git", "build", "build-*", ".local", "deploy/local/lib"):
        assert pattern in ignored, f"Dockerfile.dockerignore lacks {pattern}"


def test_dockerfile_builds_existing_targets():
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    targets = {}
    for cm in REPO.rglob("CMakeLists.txt"):
        rel = cm.relative_to(REPO).as_posix()
        if rel.startswith(("build", ".local")):
            continue
        for name in re.findall(r"add_executable\(\s*([A-Za-z0-9_-]+)", cm.read_text()):
            targets[name] = cm.parent.relative_to(REPO).as_posix()
    for name in ("tollgate-worker", "tollgate-ledger", "tollgate-submit",
                 "tollgate-bedrock-sim", "tollgate-topics"):
        assert name in targets, f"no CMake target {name}"
        assert f"--target" in text and name in text, f"Dockerfile does not build {name}"
        assert f"{targets[name]}/{name}" in text, \
            f"Dockerfile copies {name} from the wrong build folder (expect {targets[name]}/{name})"


def test_compose_file():
    path = DEPLOY / "docker" / "compose.yaml"
    r = run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
             "vendor.compose-spec", str(path)])
    assert r.returncode == 0, "compose.yaml against the Compose spec:\n" + r.stdout + r.stderr
    svc = yaml.safe_load(path.read_text())["services"]
    assert svc["kafka"]["image"] == "apache/kafka:4.1.1"
    assert "broker,controller" in str(svc["kafka"]["environment"]["KAFKA_PROCESS_ROLES"])
    redis_cmd = " ".join(svc["redis"]["command"])
    assert "--appendonly yes" in redis_cmd
    assert "tollgate-bedrock-sim" in " ".join(svc["sim"]["entrypoint"])
    assert "tollgate-topics" in " ".join(svc["topics"]["entrypoint"])
    worker = svc["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    env = worker["environment"]
    assert env["TOLLGATE_BROKERS"].startswith("kafka:")
    assert env["TOLLGATE_REDIS"].startswith("redis://redis")
    assert env["TOLLGATE_BEDROCK_ENDPOINT"].startswith("http://sim:")
    assert int(env["TOLLGATE_METRICS_PORT"]) == METRICS_PORT
    drain = int(env.get("TOLLGATE_DRAIN_TIMEOUT_MS", DEFAULT_DRAIN_MS))
    assert seconds(worker["stop_grace_period"]) * 1000 > drain
    for name, s in svc.items():
        if s.get("image", "").startswith("${TOLLGATE_IMAGE"):
            assert s["build"]["dockerfile"] == "deploy/docker/Dockerfile", name


# --- systemd -----------------------------------------------------------------

SYSTEMD = DEPLOY / "systemd"
UNITS = ("tollgate-worker.service", "tollgate-worker@.service")


def unit_settings(name):
    settings = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@pytest.mark.parametrize("name", UNITS)
def test_systemd_unit_hardening(name):
    s = unit_settings(name)
    expect = {"DynamicUser": "yes", "ProtectSystem": "strict",
              "ProtectHome": "yes", "PrivateTmp": "yes",
              "NoNewPrivileges": "yes", "KillSignal": "SIGTERM",
              "Restart": "on-failure"}
    for key, value in expect.items():
        assert s.get(key, [None])[-1] == value, f"{name}: {key}={value}"
    assert set(s["RestrictAddressFamilies"][-1].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "@system-service" in s["SystemCallFilter"]
    assert re.fullmatch(r"\d+[KMG]?", s["MemoryMax"][-1])
    assert "/etc/tollgate/worker.env" in s["EnvironmentFile"]
    assert int(s["TimeoutStopSec"][-1]) * 1000 > DEFAULT_DRAIN_MS
    assert s["ExecStart"][-1].split()[0].endswith("/tollgate-worker")


def test_systemd_template_uses_instance():
    s = unit_settings("tollgate-worker@.service")
    env = " ".join(s.get("Environment", []))
    assert "TOLLGATE_METRICS_PORT=%i" in env
    assert "%i" in " ".join(s.get("EnvironmentFile", []))


def test_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("systemd-analyze not installed: skipping `systemd-analyze verify`")
        pytest.skip("systemd-analyze not installed")
    # verify insists that ExecStart= exists: point it at a built worker, or
    # at any executable when none is built.
    exe = find_binary("tollgate-worker") or Path(shutil.which("true"))
    for name in UNITS:
        text = (SYSTEMD / name).read_text()
        (tmp_path / name).write_text(
            text.replace("/usr/local/bin/tollgate-worker", str(exe)))
    r = run([analyze, "verify", str(tmp_path / "tollgate-worker.service"),
             str(tmp_path / "tollgate-worker@9464.service")], cwd=tmp_path)
    out = r.stdout + r.stderr
    ours = [line for line in out.splitlines() if "tollgate-worker" in line]
    assert r.returncode == 0 and not ours, f"systemd-analyze verify:\n{out}"


def test_worker_env_example_names_every_option():
    text = (SYSTEMD / "worker.env.example").read_text()
    assigned = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.M))
    known = {env for _name, env in config_options()} | {"TOLLGATE_CONFIG"}
    tollgate = {v for v in assigned if v.startswith("TOLLGATE_")}
    assert tollgate <= known, f"unknown variables: {sorted(tollgate - known)}"
    missing = {env for _n, env in config_options()} - assigned
    assert not missing, f"worker.env.example does not mention {sorted(missing)}"


# --- Prometheus rules ----------------------------------------------------------

def test_prometheus_alert_rules():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yaml").read_text())
    metrics = metric_names()
    names = set()
    assert rules["groups"]
    for group in rules["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            assert rule["alert"] not in names, f"duplicate alert {rule['alert']}"
            names.add(rule["alert"])
            assert rule["expr"].strip()
            assert rule["labels"]["severity"] in ("critical", "warning", "info")
            assert rule["annotations"]["summary"]
            for m in re.findall(r"\btollgate_[a-z0-9_]+", rule["expr"]):
                base = re.sub(r"_(bucket|sum|count)$", "", m)
                assert m in metrics or base in metrics, \
                    f"{rule['alert']}: {m} is not a metric of worker/metrics_render.c"


# --- schemas and examples ----------------------------------------------------

SCHEMAS = {"usage": "usage.v1.schema.json", "completion": "completion.v1.schema.json",
           "alert": "alert.v1.schema.json"}


def schema(kind):
    return json.loads((SCHEMA_DIR / SCHEMAS[kind]).read_text())


def examples():
    return sorted(EXAMPLES_DIR.glob("*.json"))


def kind_of(example):
    kind = example.name.split("-")[0]
    assert kind in SCHEMAS, f"{example.name}: name it usage-*, completion-* or alert-*"
    return kind


def test_schemas_are_valid_json_schema():
    files = [str(SCHEMA_DIR / f) for f in SCHEMAS.values()]
    r = run([sys.executable, "-m", "check_jsonschema", "--check-metaschema", *files])
    assert r.returncode == 0, r.stdout + r.stderr
    for f in SCHEMAS.values():
        s = json.loads((SCHEMA_DIR / f).read_text())
        assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_schema_has_examples():
    kinds = {kind_of(e) for e in examples()}
    assert kinds == set(SCHEMAS)
    names = {e.name for e in examples()}
    for required in ("usage-approved.json", "usage-rejected.json",
                     "usage-invalid.json", "usage-failed.json",
                     "completion-completed.json"):
        assert required in names
    decisions = {json.loads(e.read_text())["decision"]
                 for e in examples() if kind_of(e) == "usage"}
    assert decisions == {"approved", "rejected_budget", "invalid", "failed"}


@pytest.mark.parametrize("example", examples(), ids=lambda p: p.name)
def test_example_validates(example):
    r = run([sys.executable, "-m", "check_jsonschema", "--schemafile",
             str(SCHEMA_DIR / SCHEMAS[kind_of(example)]), str(example)])
    assert r.returncode == 0, r.stdout + r.stderr


def validator(kind):
    from jsonschema import Draft202012Validator
    return Draft202012Validator(schema(kind),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def example_json(name):
    return json.loads((EXAMPLES_DIR / name).read_text())


def mutated(name, fn):
    doc = copy.deepcopy(example_json(name))
    fn(doc)
    return doc


BAD_USAGE = {
    "approved with a reason": ("usage-approved.json", lambda d: d.update(reason="x")),
    "rejected without reason": ("usage-rejected.json", lambda d: d.pop("reason")),
    "rejected with a cost": ("usage-rejected.json", lambda d: d.update(costNanoUsd=5)),
    "failed with an overrun": ("usage-failed.json", lambda d: d.update(overrunNanoUsd=1)),
    "unknown decision": ("usage-approved.json", lambda d: d.update(decision="maybe")),
    "negative tokens": ("usage-approved.json", lambda d: d.update(inputTokens=-1)),
    "money as float": ("usage-approved.json", lambda d: d.update(costNanoUsd=1.5)),
    "money as string": ("usage-approved.json", lambda d: d.update(costNanoUsd="10920")),
    "wrong schema": ("usage-approved.json", lambda d: d.update(schema="tollgate.usage.v2")),
    "missing requestId": ("usage-approved.json", lambda d: d.pop("requestId")),
    "unknown field": ("usage-approved.json", lambda d: d.update(prompt="secret")),
    "approved without modelId": ("usage-approved.json", lambda d: d.update(modelId=None)),
    "budget spent negative": ("usage-approved.json",
                              lambda d: d["budgets"][0].update(spentNanoUsd=-1)),
    "budget bad period": ("usage-approved.json",
                          lambda d: d["budgets"][0].update(period="November")),
    "invalid with budgets": ("usage-invalid.json",
                             lambda d: d["budgets"].append(
                                 {"id": "x", "period": "total", "limitNanoUsd": None,
                                  "spentNanoUsd": 0})),
    "bad timestamp": ("usage-approved.json", lambda d: d.update(timestamp="yesterday")),
}


@pytest.mark.parametrize("case", sorted(BAD_USAGE))
def test_usage_schema_rejects(case):
    name, fn = BAD_USAGE[case]
    errors = list(validator("usage").iter_errors(mutated(name, fn)))
    assert errors, f"usage schema accepted: {case}"


def test_usage_schema_accepts_optional_fields():
    v = validator("usage")
    doc = mutated("usage-approved.json", lambda d: d.update(overrunNanoUsd=12))
    assert not list(v.iter_errors(doc))
    doc = mutated("usage-approved.json", lambda d: d["budgets"][0].update(limitNanoUsd=None))
    assert not list(v.iter_errors(doc)), "token-only budgets have limitNanoUsd null"
    doc = mutated("usage-invalid.json", lambda d: d.update(model=None))
    assert not list(v.iter_errors(doc))


def test_completion_schema_rejects():
    v = validator("completion")
    assert list(v.iter_errors(mutated("completion-completed.json", lambda d: d.pop("output"))))
    assert list(v.iter_errors(mutated("completion-rejected.json", lambda d: d.pop("reason"))))
    assert list(v.iter_errors(mutated("completion-failed.json",
                                      lambda d: d.update(output={"text": "x"}))))
    assert list(v.iter_errors(mutated("completion-completed.json",
                                      lambda d: d["tags"].pop("requestId"))))


def test_alert_schema_rejects():
    v = validator("alert")
    alerts = [e.name for e in examples() if kind_of(e) == "alert"]
    assert list(v.iter_errors(mutated(alerts[0], lambda d: d.update(thresholdPercent=0))))
    assert list(v.iter_errors(mutated(alerts[0], lambda d: d.pop("budgetId"))))


# --- schemas against the code that emits the events ------------------------

EVENTS_C = REPO / "worker" / "events.c"
STATUS_C = REPO / "common" / "status.c"  # the status and decision names


def c_function(src, head):
    start = src.index(head)
    return src[start:src.index("\n}\n", start)]


def keys_set_on(body, var):
    """Keys written on writer `var` (common/jsonw.h: tg_jsonw_key/kstr/kint)."""
    return set(re.findall(r'tg_jsonw_k(?:ey|str|int)\(\s*%s\s*,\s*"(\w+)"' % var,
                          body))


def emitted(src, head, var="o"):
    body = c_function(src, head)
    keys = keys_set_on(body, var)
    for helper in ("set_model", "usage_tokens", "tier_json"):
        if re.search(rf"\b{helper}\(\s*{var}\b", body):
            keys |= keys_set_on(c_function(src, f"static void {helper}("), "o")
    return keys


def test_usage_schema_matches_events_c():
    src = EVENTS_C.read_text()
    s = schema("usage")
    assert emitted(src, "char *tg_events_usage(") == set(s["properties"]), \
        "worker/events.c's usage event and schema/usage.v1.schema.json disagree"
    assert keys_set_on(c_function(src, "static void budgets_json("), "b") == \
        set(s["$defs"]["budget"]["properties"])
    assert keys_set_on(c_function(src, "static void tier_json("), "d") == \
        set(s["properties"]["degraded"]["properties"])
    assert f'"{s["properties"]["schema"]["const"]}"' in src
    decisions = re.search(r"decision_name.*?\{(.*?)\}", STATUS_C.read_text(),
                          re.S).group(1)
    assert set(re.findall(r'"(\w+)"', decisions)) == set(s["properties"]["decision"]["enum"])


def test_completion_schema_matches_events_c():
    src = EVENTS_C.read_text()
    s = schema("completion")
    body = c_function(src, "char *tg_events_completion(")
    assert emitted(src, "char *tg_events_completion(") == set(s["properties"])
    assert '"output"' in body and '"usage"' in body
    assert keys_set_on(c_function(src, "static void output_json("), "out") == \
        set(s["properties"]["output"]["properties"])
    assert keys_set_on(c_function(src, "static void usage_json("), "u") == \
        set(s["properties"]["usage"]["properties"])
    statuses = re.search(r"status_name.*?\{(.*?)\}", STATUS_C.read_text(),
                         re.S).group(1)
    assert set(re.findall(r'"(\w+)"', statuses)) == set(s["properties"]["status"]["enum"])


def test_alert_schema_matches_events_c():
    src = EVENTS_C.read_text()
    s = schema("alert")
    assert emitted(src, "char *tg_events_alert(") == set(s["properties"])
    assert f'"{s["properties"]["schema"]["const"]}"' in src


# --- docs and examples -----------------------------------------------------------

def test_operations_doc_covers_every_metric_and_option():
    text = (DOCS / "operations.md").read_text()
    missing = sorted(m for m in metric_names() if f"`{m}" not in text)
    assert not missing, f"docs/operations.md does not describe {missing}"
    for name, env in config_options():
        assert f"--{name}" in text and env in text, f"docs/operations.md: --{name} / {env}"
    for word in ("tollgate-ledger reconcile", "tollgate-ledger rebuild",
                 "appendfsync everysec", "stunnel", "tests/bench/RESULTS.md",
                 "tollgate.alerts", "deploy/prometheus/alerts.yaml",
                 "SCRAM-SHA-512", "OAUTHBEARER"):
        assert word in text, f"docs/operations.md should cover {word}"


def test_usage_doc_links_schema_and_consumer():
    text = (DOCS / "usage-events.md").read_text()
    assert "schema/usage.v1.schema.json" in text
    assert "examples/usage_consumer.py" in text
    assert "kcat -C -b" in text and "costNanoUsd" in text
    for field in schema("usage")["properties"]:
        assert f"`{field}" in text, f"docs/usage-events.md does not explain {field}"


CONSUMER = REPO / "examples" / "usage_consumer.py"


def test_usage_consumer_compiles(tmp_path):
    py_compile.compile(str(CONSUMER), cfile=str(tmp_path / "c.pyc"), doraise=True)


def test_usage_consumer_sums_examples():
    spec = importlib.util.spec_from_file_location("usage_consumer", CONSUMER)
    mod = importlib.util.module_from_spec(spec)
    keep, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:  # no examples/__pycache__ left behind
        spec.loader.exec_module(mod)
    finally:
        sys.dont_write_bytecode = keep
    totals = mod.UsageTotals("costCenter")
    usage = [e for e in examples() if kind_of(e) == "usage"]
    for e in usage:
        assert totals.add_message(e.read_bytes())
    # A redelivered (identical) event and a foreign message are not counted.
    assert not totals.add_message(usage[0].read_bytes())
    assert not totals.add_message(b"not json")
    assert totals.duplicates == 1 and totals.skipped == 1
    events = [json.loads(e.read_text()) for e in usage]
    want = sum(ev["costNanoUsd"] for ev in events)
    assert totals.total_nano() == want
    assert sum(r["requests"] for r in totals.rows.values()) == len(events)
    assert str(mod.nano_to_usd(10920)) == "0.00001092"
