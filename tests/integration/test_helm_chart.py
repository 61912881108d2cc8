"""Checks of the Helm chart deploy/helm/tollgate against deploy/k8s.

Needs helm (deploy/local/install-helm.sh builds it from the Go module proxy
into GOPATH/bin; deploy/local/install-deps.sh calls it) and no cluster:
`helm lint --strict`, then `helm template` with the default values and with
variations, and the rendered objects compared with deploy/k8s object by
object (deploy/k8s stays the reference: with the defaults and release name
`tollgate` in namespace `tollgate` the chart must render the same specs,
labels aside), plus what each value should change.

Without helm every test fails (not skips) and says how to install it.

Runs as part of tests/run.sh (pytest on tests/integration), or alone:
    python3 -m pytest -q tests/integration/test_helm_chart.py
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "tollgate"
K8S = REPO / "deploy" / "k8s"
HELM_VERSION = "v3.22.0"
ARN = "arn:aws:iam::123456789012:role/tollgate-worker"
# Kinds of deploy/k8s the chart renders too; the Namespace is left to
# `helm install --create-namespace` (or to whoever owns the namespace).
NOT_IN_CHART = {"Namespace"}


# --- helm --------------------------------------------------------------------

def helm_candidates():
    """Where a helm may be: TOLLGATE_HELM, Go's bin folder (where
    deploy/local/install-helm.sh puts it), then PATH."""
    candidates = [os.environ.get("TOLLGATE_HELM")]
    go = shutil.which("go")
    if go:
        r = subprocess.run([go, "env", "GOBIN", "GOPATH"], capture_output=True,
                           text=True, check=False)
        gobin, _, gopath = r.stdout.partition("\n")
        candidates += [gobin.strip() and f"{gobin.strip()}/helm",
                       gopath.strip() and f"{gopath.strip()}/bin/helm"]
    candidates += [str(Path.home() / "go" / "bin" / "helm"), shutil.which("helm")]
    seen = []
    for c in candidates:
        if c and c not in seen and Path(c).is_file() and os.access(c, os.X_OK):
            seen.append(c)
    return seen


def helm_version(path):
    r = subprocess.run([path, "version", "--template", "{{.Version}}"],
                       capture_output=True, text=True, check=False, timeout=60)
    return r.stdout.strip() if r.returncode == 0 else f"error: {r.stderr.strip()}"


@pytest.fixture(scope="session")
def helm():
    found = {path: helm_version(path) for path in helm_candidates()}
    for path, version in found.items():
        if version == HELM_VERSION:
            return path
    pytest.fail(f"helm {HELM_VERSION} not found (TOLLGATE_HELM, GOBIN, GOPATH/bin, PATH"
                + (f"; found {found}" if found else "")
                + "): run deploy/local/install-helm.sh (deploy/local/install-deps.sh "
                "does, and CI runs that)", pytrace=False)


def run_helm(helm, *args):
    return subprocess.run([helm, *args], capture_output=True, text=True,
                          check=False, timeout=120, cwd=REPO)


def template_args(sets=(), release="tollgate", namespace="tollgate", extra=()):
    args = ["template", release, str(CHART), "--namespace", namespace]
    for s in sets:
        args += ["--set", s]
    return args + list(extra)


def render_text(helm, sets=(), **kw):
    r = run_helm(helm, *template_args(sets, **kw))
    assert r.returncode == 0, f"helm template {' '.join(sets)}:\n{r.stderr}"
    return r.stdout


def render(helm, sets=(), **kw):
    """{(kind, name): object} of what the chart renders."""
    objs = {}
    for doc in yaml.safe_load_all(render_text(helm, sets, **kw)):
        if doc is None:
            continue
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in objs, f"rendered twice: {key}"
        objs[key] = doc
    return objs


def refused(helm, sets, **kw):
    """helm template's error text; fails the test when it renders."""
    r = run_helm(helm, *template_args(sets, **kw))
    assert r.returncode != 0, f"helm template accepted {sets}"
    return r.stderr


@pytest.fixture(scope="module")
def default(helm):
    return render(helm)


# --- deploy/k8s, the reference -----------------------------------------------

def k8s_objects():
    objs = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name in ("kustomization.yaml", "secret.example.yaml"):
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                objs[(doc["kind"], doc["metadata"]["name"])] = doc
    return objs


def of_kind(objs, kind):
    found = [d for (k, _), d in objs.items() if k == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def maybe_kind(objs, kind):
    found = [d for (k, _), d in objs.items() if k == kind]
    assert len(found) <= 1
    return found[0] if found else None


def container(obj, name):
    spec = obj["spec"]["template"]["spec"] if obj["kind"] == "Deployment" \
        else obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    found = [c for c in spec["containers"] if c["name"] == name]
    assert len(found) == 1, f"{obj['kind']}: no container {name}"
    return spec, found[0]


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def worker_conf(cm):
    conf = {}
    for line in cm["data"]["worker.conf"].splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert "=" in line, f"worker.conf: not key = value: {line!r}"
            key, value = (s.strip() for s in line.split("=", 1))
            assert key not in conf, f"worker.conf sets {key} twice"
            conf[key] = value
    return conf


def without_labels(obj, drop_annotations=("checksum/config",)):
    """A copy with every labels/matchLabels map removed (the chart adds
    instance and Helm labels) and the chart's own pod annotations."""
    obj = copy.deepcopy(obj)

    def walk(node):
        if isinstance(node, dict):
            for key in ("labels", "matchLabels"):
                node.pop(key, None)
            ann = node.get("annotations")
            if isinstance(ann, dict):
                for a in drop_annotations:
                    ann.pop(a, None)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(obj)
    return obj


def pull_policy_defaulted(obj):
    """Containers with imagePullPolicy as Kubernetes defaults it (IfNotPresent
    for a tag other than latest), so an explicit default compares equal."""
    def walk(node):
        if isinstance(node, dict):
            for c in node.get("containers", []) if isinstance(node.get("containers"), list) else []:
                if "image" in c and "imagePullPolicy" not in c:
                    latest = ":" not in c["image"] or c["image"].endswith(":latest")
                    c["imagePullPolicy"] = "Always" if latest else "IfNotPresent"
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(obj)
    return obj


def labels_match(selector, labels):
    return selector["matchLabels"] and all(
        labels.get(k) == v for k, v in selector["matchLabels"].items())


def check_references(objs):
    """What the objects name exists among them, for any release name."""
    dep = of_kind(objs, "Deployment")
    pod = dep["spec"]["template"]
    spec, c = container(dep, "worker")
    assert labels_match(dep["spec"]["selector"], pod["metadata"]["labels"])
    assert ("ServiceAccount", spec["serviceAccountName"]) in objs
    for vol in spec["volumes"]:
        if "configMap" in vol:
            cm = objs[("ConfigMap", vol["configMap"]["name"])]
            for item in vol["configMap"]["items"]:
                assert item["key"] in cm["data"]
    mounts = {m["name"] for m in c["volumeMounts"]}
    assert mounts <= {v["name"] for v in spec["volumes"]}
    pdb = maybe_kind(objs, "PodDisruptionBudget")
    if pdb:
        assert labels_match(pdb["spec"]["selector"], pod["metadata"]["labels"])
    so = maybe_kind(objs, "ScaledObject")
    if so:
        ref = so["spec"]["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) == ("Deployment", dep["metadata"]["name"])
        for trig in so["spec"]["triggers"]:
            if "authenticationRef" in trig:
                assert ("TriggerAuthentication", trig["authenticationRef"]["name"]) in objs
    for t in spec.get("topologySpreadConstraints", []):
        assert labels_match(t["labelSelector"], pod["metadata"]["labels"])
    cron = maybe_kind(objs, "CronJob")
    if cron:
        cspec, _ = container(cron, "release")
        if "serviceAccountName" in cspec:
            assert ("ServiceAccount", cspec["serviceAccountName"]) in objs


# --- lint and render ---------------------------------------------------------

VARIATIONS = {
    "defaults": [],
    "keda off": ["keda.enabled=false", "replicas=3"],
    "msk iam": ["kafkaAuth=aws-msk-iam", f"serviceAccount.roleArn={ARN}"],
    "no kafka auth": ["kafkaAuth=none", "kafka.tls=false"],
    "redis tls": ["redisTls.enabled=true", "redisTls.existingSecret=redis-ca",
                  "redisTls.clientCert=true"],
    "everything off": ["keda.enabled=false", "release.enabled=false",
                       "podDisruptionBudget.enabled=false", "topologySpread=false",
                       "serviceAccount.create=false", "serviceAccount.name=default"],
}


@pytest.mark.parametrize("case", sorted(VARIATIONS))
def test_helm_lint_strict(helm, case):
    args = ["lint", "--strict", str(CHART)]
    for s in VARIATIONS[case]:
        args += ["--set", s]
    r = run_helm(helm, *args)
    assert r.returncode == 0, f"helm lint --strict ({case}):\n{r.stdout}{r.stderr}"
    assert "1 chart(s) linted, 0 chart(s) failed" in r.stdout


@pytest.mark.parametrize("case", sorted(VARIATIONS))
def test_rendered_yaml_lints_and_refers_to_itself(helm, case, tmp_path):
    text = render_text(helm, VARIATIONS[case])
    out = tmp_path / "rendered.yaml"
    out.write_text(text)
    # The repository's rules, less line length (catalog lines are long) and
    # with Helm's toYaml style of lists (not indented under their key).
    conf = tmp_path / "yamllint.yaml"
    conf.write_text(f"extends: {REPO / '.yamllint.yaml'}\n"
                    "rules:\n  line-length: disable\n"
                    "  indentation:\n    indent-sequences: whatever\n")
    r = subprocess.run([sys.executable, "-m", "yamllint", "-c", str(conf),
                        "--strict", "-f", "parsable", str(out)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, f"yamllint of the rendered chart ({case}):\n{r.stdout}{r.stderr}"
    objs = render(helm, VARIATIONS[case])
    if case != "everything off":
        check_references(objs)
    for (kind, name), doc in objs.items():
        assert doc["metadata"]["namespace"] == "tollgate", f"{kind}/{name}"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63


def test_same_kinds_and_names_as_k8s(default):
    want = {k for k in k8s_objects() if k[0] not in NOT_IN_CHART}
    assert set(default) == want, \
        f"chart only: {sorted(set(default) - want)}; deploy/k8s only: {sorted(want - set(default))}"


def test_other_release_name_and_namespace(helm):
    objs = render(helm, release="acme", namespace="payments")
    assert ("Deployment", "acme-tollgate-worker") in objs
    assert ("CronJob", "acme-tollgate-release-deferred") in objs
    assert ("TriggerAuthentication", "acme-tollgate-kafka") in objs
    for (kind, name), doc in objs.items():
        assert doc["metadata"]["namespace"] == "payments", f"{kind}/{name}"
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == "acme"
    check_references(objs)
    dep = of_kind(objs, "Deployment")
    _, c = container(dep, "worker")
    assert env_of(c)["TOLLGATE_REDIS"]["valueFrom"]["secretKeyRef"]["name"] == "acme-tollgate-worker"
    # Two releases in one namespace select only their own pods.
    other = of_kind(render(helm, release="tollgate"), "Deployment")
    assert dep["spec"]["selector"] != other["spec"]["selector"]


def test_kube_version_below_1_27_is_refused(helm):
    err = refused(helm, [], extra=["--kube-version", "1.26.0"])
    assert "kubeVersion" in err or "incompatible" in err, err
    assert run_helm(helm, *template_args(extra=["--kube-version", "1.27.0"])).returncode == 0


# --- the defaults equal deploy/k8s -------------------------------------------

@pytest.mark.parametrize("kind", ["Deployment", "PodDisruptionBudget", "ScaledObject",
                                  "TriggerAuthentication", "CronJob", "ServiceAccount"])
def test_spec_equals_k8s(default, kind):
    chart, ref = of_kind(default, kind), of_kind(k8s_objects(), kind)
    assert chart["apiVersion"] == ref["apiVersion"]
    assert chart["metadata"]["name"] == ref["metadata"]["name"]
    assert chart["metadata"].get("annotations") == ref["metadata"].get("annotations"), kind
    body = {k: v for k, v in chart.items() if k not in ("metadata",)}
    want = {k: v for k, v in ref.items() if k not in ("metadata",)}
    body = pull_policy_defaulted(without_labels(body))
    want = pull_policy_defaulted(without_labels(want))
    assert body == want, \
        f"{kind} differs from deploy/k8s:\nchart: {json.dumps(body, sort_keys=True)}\n" \
        f"k8s:   {json.dumps(want, sort_keys=True)}"


def test_labels_keep_those_of_k8s(default):
    k8s = k8s_objects()
    for key, ref in k8s.items():
        if key[0] in NOT_IN_CHART:
            continue
        labels = default[key]["metadata"]["labels"]
        for k, v in ref["metadata"]["labels"].items():
            assert labels.get(k) == v, f"{key}: label {k}={v}"
    dep = of_kind(default, "Deployment")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    ref_sel = of_kind(k8s, "Deployment")["spec"]["selector"]
    assert labels_match(ref_sel, pod_labels), "pods lost deploy/k8s's selector labels"
    pdb = of_kind(default, "PodDisruptionBudget")
    assert labels_match(pdb["spec"]["selector"], pod_labels)
    assert pdb["spec"]["selector"] == dep["spec"]["selector"]


def test_worker_container_as_k8s(default):
    _, c = container(of_kind(default, "Deployment"), "worker")
    _, ref = container(of_kind(k8s_objects(), "Deployment"), "worker")
    assert c["image"] == ref["image"] == "tollgate:0.1.0"
    assert c["args"] == ref["args"]
    assert c["env"] == ref["env"]
    assert c["ports"] == ref["ports"] == [
        {"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe] == ref[probe], probe
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    # The pod name is the worker id (events, leases, transactional id).
    assert env_of(c)["TOLLGATE_WORKER_ID"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}}
    assert "TOLLGATE_KAFKA_AUTH" not in env_of(c)


def test_non_root_and_read_only(default):
    for obj, name in ((of_kind(default, "Deployment"), "worker"),
                      (of_kind(default, "CronJob"), "release")):
        spec, c = container(obj, name)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}


def test_configmap_as_k8s(default):
    cm, ref = of_kind(default, "ConfigMap"), of_kind(k8s_objects(), "ConfigMap")
    assert set(cm["data"]) == set(ref["data"]) == {"worker.conf", "catalog.json"}
    assert worker_conf(cm) == worker_conf(ref)
    catalog = json.loads((REPO / "worker" / "catalog.json").read_text())
    assert json.loads(cm["data"]["catalog.json"]) == catalog
    assert json.loads((CHART / "files" / "catalog.json").read_text()) == catalog, \
        "deploy/helm/tollgate/files/catalog.json differs from worker/catalog.json"


def test_worker_conf_keys_are_options(default):
    src = (REPO / "common" / "config.c").read_text()
    table = src[src.index("static const opt_t opts[]"):]
    names = set(re.findall(r'\{"([a-z][a-z0-9-]*)",\s*"[A-Z]', table[:table.index("};")]))
    assert len(names) >= 20
    for key in worker_conf(of_kind(default, "ConfigMap")):
        assert key in names or key.startswith("kafka."), f"worker.conf: unknown key {key}"


def test_cronjob_command(default):
    _, c = container(of_kind(default, "CronJob"), "release")
    assert c["command"] == ["/usr/local/bin/tollgate-ledger"]
    assert c["args"][0] == "release"
    assert "sasl.password=$(KAFKA_SASL_PASSWORD)" in c["args"]
    assert env_of(c)["TOLLGATE_BROKERS"]["value"] == worker_conf(
        of_kind(default, "ConfigMap"))["brokers"]


# --- what each value changes -------------------------------------------------

def test_service_account_role_arn(helm, default):
    sa = of_kind(default, "ServiceAccount")
    assert "eks.amazonaws.com/role-arn" not in (sa["metadata"].get("annotations") or {})
    sa = of_kind(render(helm, [f"serviceAccount.roleArn={ARN}"]), "ServiceAccount")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ARN
    assert sa["automountServiceAccountToken"] is False
    objs = render(helm, ["serviceAccount.create=false", "serviceAccount.name=shared"])
    assert maybe_kind(objs, "ServiceAccount") is None
    spec, _ = container(of_kind(objs, "Deployment"), "worker")
    assert spec["serviceAccountName"] == "shared"
    assert "serviceAccount.name" in refused(helm, ["serviceAccount.create=false"])


def test_keda_off_sets_replicas(helm, default):
    assert "replicas" not in of_kind(default, "Deployment")["spec"], \
        "with KEDA on, spec.replicas must be left to KEDA"
    objs = render(helm, ["keda.enabled=false", "replicas=3"])
    assert maybe_kind(objs, "ScaledObject") is None
    assert maybe_kind(objs, "TriggerAuthentication") is None
    assert of_kind(objs, "Deployment")["spec"]["replicas"] == 3


def test_keda_replicas_bounded_by_partitions(helm):
    err = refused(helm, ["keda.maxReplicas=13"])
    assert "exceeds keda.requestsPartitions (12)" in err, err
    so = of_kind(render(helm, ["keda.maxReplicas=24", "keda.requestsPartitions=24"]),
                 "ScaledObject")
    assert so["spec"]["maxReplicaCount"] == 24
    assert so["metadata"]["annotations"]["tollgate.io/requests-partitions"] == "24"
    assert "minReplicas" in refused(helm, ["keda.minReplicas=5", "keda.maxReplicas=4"])


def test_kafka_auth_aws_msk_iam(helm, default):
    objs = render(helm, ["kafkaAuth=aws-msk-iam", f"serviceAccount.roleArn={ARN}",
                         "kafkaAwsRegion=eu-west-1"])
    dep = of_kind(objs, "Deployment")
    _, c = container(dep, "worker")
    env = env_of(c)
    assert env["TOLLGATE_KAFKA_AUTH"]["value"] == "aws-msk-iam"
    assert "KAFKA_SASL_PASSWORD" not in env
    assert not any("sasl" in a for a in c["args"]), c["args"]
    conf = worker_conf(of_kind(objs, "ConfigMap"))
    assert not any(k.startswith("kafka.sasl.") for k in conf), conf
    assert conf["kafka.ssl.ca.location"] == "/etc/ssl/certs/ca-certificates.crt"
    meta = of_kind(objs, "ScaledObject")["spec"]["triggers"][0]["metadata"]
    assert (meta["sasl"], meta["saslTokenProvider"], meta["tls"], meta["awsRegion"]) == \
        ("oauthbearer", "aws_msk_iam", "enable", "eu-west-1")
    ta = of_kind(objs, "TriggerAuthentication")["spec"]
    assert ta == {"podIdentity": {"provider": "aws", "identityOwner": "workload"}}
    cspec, cc = container(of_kind(objs, "CronJob"), "release")
    assert env_of(cc)["TOLLGATE_KAFKA_AUTH"]["value"] == "aws-msk-iam"
    assert cc["args"] == ["release"]
    assert cspec["serviceAccountName"] == container(dep, "worker")[0]["serviceAccountName"]
    # The default (SCRAM) runs the job under no account of ours.
    assert "serviceAccountName" not in container(of_kind(default, "CronJob"), "release")[0]
    # Pod Identity (no role ARN): KEDA cannot borrow the workers' role.
    err = refused(helm, ["kafkaAuth=aws-msk-iam"])
    assert "keda.awsIdentityOwner=keda" in err, err
    objs = render(helm, ["kafkaAuth=aws-msk-iam", "keda.awsIdentityOwner=keda"])
    meta = of_kind(objs, "ScaledObject")["spec"]["triggers"][0]["metadata"]
    assert meta["awsRegion"] == "us-east-1", "the MSK region defaults to config.region"
    assert of_kind(objs, "TriggerAuthentication")["spec"] == {
        "podIdentity": {"provider": "aws", "identityOwner": "keda"}}
    objs = render(helm, ["kafkaAuth=aws-msk-iam", f"keda.awsRoleArn={ARN}"])
    assert of_kind(objs, "TriggerAuthentication")["spec"] == {
        "podIdentity": {"provider": "aws", "roleArn": ARN}}


def test_kafka_auth_none(helm):
    objs = render(helm, ["kafkaAuth=none", "kafka.tls=false"])
    conf = worker_conf(of_kind(objs, "ConfigMap"))
    assert conf["kafka.security.protocol"] == "PLAINTEXT"
    assert not any(k.startswith(("kafka.sasl.", "kafka.ssl.")) for k in conf)
    trig = of_kind(objs, "ScaledObject")["spec"]["triggers"][0]
    assert "authenticationRef" not in trig and "sasl" not in trig["metadata"]
    assert "tls" not in trig["metadata"]
    assert maybe_kind(objs, "TriggerAuthentication") is None
    _, c = container(of_kind(objs, "Deployment"), "worker")
    assert "KAFKA_SASL_PASSWORD" not in env_of(c)


def test_unknown_or_mistyped_values_are_refused(helm):
    # values.schema.json first; the templates' own checks behind it.
    err = refused(helm, ["kafkaAuth=kerberos"])
    assert "/kafkaAuth" in err and "aws-msk-iam" in err, err
    err = refused(helm, ["kafkAuth=aws-msk-iam"])
    assert "'kafkAuth' not allowed" in err, err
    err = refused(helm, ["keda.maxReplica=4"])
    assert "'maxReplica' not allowed" in err, err
    assert "/serviceAccount/roleArn" in refused(helm, ["serviceAccount.roleArn=tollgate-worker"])
    assert "/replicas" in refused(helm, ["replicas=two"])


def test_redis_tls(helm, default):
    _, c = container(of_kind(default, "Deployment"), "worker")
    assert not any(n.startswith("TOLLGATE_REDIS_TLS") for n in env_of(c))
    objs = render(helm, ["redisTls.enabled=true", "redisTls.existingSecret=redis-ca"])
    for obj, name in ((of_kind(objs, "Deployment"), "worker"),
                      (of_kind(objs, "CronJob"), "release")):
        spec, c = container(obj, name)
        env = env_of(c)
        assert env["TOLLGATE_REDIS_TLS_CA_FILE"]["value"] == "/etc/tollgate-redis-tls/ca.crt"
        assert "TOLLGATE_REDIS_TLS_CERT" not in env and "TOLLGATE_REDIS_TLS_KEY" not in env
        vol = {v["name"]: v for v in spec["volumes"]}["redis-tls"]
        assert vol["secret"]["secretName"] == "redis-ca"
        assert [i["key"] for i in vol["secret"]["items"]] == ["ca.crt"]
        mount = {m["name"]: m for m in c["volumeMounts"]}["redis-tls"]
        assert mount["mountPath"] == "/etc/tollgate-redis-tls" and mount["readOnly"] is True
    objs = render(helm, ["redisTls.enabled=true", "redisTls.existingSecret=redis-mtls",
                         "redisTls.clientCert=true"])
    spec, c = container(of_kind(objs, "Deployment"), "worker")
    env = env_of(c)
    assert env["TOLLGATE_REDIS_TLS_CERT"]["value"] == "/etc/tollgate-redis-tls/tls.crt"
    assert env["TOLLGATE_REDIS_TLS_KEY"]["value"] == "/etc/tollgate-redis-tls/tls.key"
    vol = {v["name"]: v for v in spec["volumes"]}["redis-tls"]
    assert [i["key"] for i in vol["secret"]["items"]] == ["ca.crt", "tls.crt", "tls.key"]
    assert "existingSecret" in refused(helm, ["redisTls.enabled=true"])


def test_image_resources_scheduling_extra_env(helm):
    objs = render(helm, [
        "image.repository=registry.example/tollgate", "image.tag=0.2.0",
        "image.pullPolicy=Always",
        "resources.requests.cpu=1", "resources.limits.memory=512Mi",
        "nodeSelector.pool=batch",
        "tolerations[0].key=dedicated", "tolerations[0].operator=Exists",
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchExpressions[0].key=arch",
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
        "extraEnv[0].name=TOLLGATE_LOG_LEVEL", "extraEnv[0].value=debug",
        "podSecurityContext.runAsUser=20000",
    ])
    spec, c = container(of_kind(objs, "Deployment"), "worker")
    assert c["image"] == "registry.example/tollgate:0.2.0"
    assert c["imagePullPolicy"] == "Always"
    assert c["resources"]["requests"] == {"cpu": 1, "memory": "128Mi"}
    assert c["resources"]["limits"] == {"memory": "512Mi"}
    assert spec["nodeSelector"] == {"pool": "batch"}
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    terms = spec["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0] == {"key": "arch", "operator": "Exists"}
    assert c["env"][-1] == {"name": "TOLLGATE_LOG_LEVEL", "value": "debug"}
    assert c["env"][0]["name"] == "TOLLGATE_WORKER_ID"
    assert spec["securityContext"]["runAsUser"] == 20000
    assert spec["securityContext"]["runAsNonRoot"] is True
    cspec, cc = container(of_kind(objs, "CronJob"), "release")
    assert cc["image"] == "registry.example/tollgate:0.2.0"
    assert cspec["nodeSelector"] == {"pool": "batch"}
    assert of_kind(objs, "Deployment")["metadata"]["labels"]["app.kubernetes.io/version"] == "0.2.0"


def test_config_change_rolls_the_pods(helm, default):
    objs = render(helm, ["config.log-level=debug", "config.max-request-bytes=2097152",
                         "kafka.properties.session\\.timeout\\.ms=45000"])
    conf = worker_conf(of_kind(objs, "ConfigMap"))
    assert conf["log-level"] == "debug"
    # Helm reads numbers as floats; worker.conf must not get 2.097152e+06.
    assert conf["max-request-bytes"] == "2097152"
    assert conf["kafka.session.timeout.ms"] == "45000"

    def checksum(o):
        return of_kind(o, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert re.fullmatch(r"[0-9a-f]{64}", checksum(default))
    assert checksum(objs) != checksum(default)
    assert checksum(render(helm)) == checksum(default), "the checksum must be stable"


def test_grace_period_must_exceed_drain(helm):
    err = refused(helm, ["terminationGracePeriodSeconds=30"])
    assert "must exceed config.drain-timeout-ms (30000 ms)" in err, err
    dep = of_kind(render(helm, ["terminationGracePeriodSeconds=30",
                                "config.drain-timeout-ms=20000"]), "Deployment")
    assert dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30


def test_custom_catalog(helm, tmp_path):
    mine = {"priceVersion": "test", "models": []}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(mine))
    objs = render(helm, extra=["--set-file", f"catalogJson={path}"])
    assert json.loads(of_kind(objs, "ConfigMap")["data"]["catalog.json"]) == mine


def test_release_and_pdb_can_be_turned_off(helm):
    objs = render(helm, ["release.enabled=false", "podDisruptionBudget.enabled=false"])
    assert maybe_kind(objs, "CronJob") is None
    assert maybe_kind(objs, "PodDisruptionBudget") is None
    assert maybe_kind(objs, "Deployment") is not None


# --- documentation -----------------------------------------------------------

def test_values_are_documented():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    lines = (CHART / "values.yaml").read_text().splitlines()
    for key in values:
        assert f"`{key}" in readme, f"deploy/helm/tollgate/README.md does not list {key}"
        # A comment in the paragraph (lines up to a blank one) above the key.
        n = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
        block = []
        for line in reversed(lines[:n]):
            if not line.strip():
                break
            block.append(line)
        assert any(line.startswith("#") for line in block), \
            f"values.yaml: no comment above {key}"


def test_docs_tell_how_to_install():
    ops = (REPO / "docs" / "operations.md").read_text()
    assert "\n## Helm\n" in ops
    section = ops.split("\n## Helm\n", 1)[1].split("\n## ", 1)[0]
    assert "helm install tollgate deploy/helm/tollgate" in section
    assert "eks.amazonaws.com/role-arn" in section and "kafkaAuth" in section
    assert "deploy/local/install-helm.sh" in section
    assert "deploy/helm" in (REPO / "README.md").read_text()
