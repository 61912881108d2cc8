"""`tollgate-ledger profiles sync` against the simulator's control plane
(docs/operations.md, "Application inference profiles (profiles sync)"):
missing profiles are created with the routes' tags, existing ones found
by name across pages, a second run changes nothing and calls no Create,
--dry-run writes nothing, and a control-plane error on one route names it
and leaves the catalog byte for byte as it was. Needs only the simulator
(a tgstack.Sim of its own, SigV4 with test keys)."""

import json
import os
import re
import subprocess

import boto3
import pytest
from botocore.config import Config

from conftest import REPO
from tgstack import Sim, assert_clean, binary

AKID = "AKIDPROFILESSYNC0001"
SECRET = "profiles/sync+secret/0123456789abcdefghij"
SHIPPED = REPO / "worker" / "catalog.json"
ROUTES = [
    {"match": {"costCenter": "sales"}, "model": "nova-lite"},
    {"match": {"costCenter": "eng", "team": "ml"}, "model": "claude-sonnet-4.5",
     "copyFrom": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
    {"match": {"costCenter": "ops"}, "model": "nova-lite"},
]
ARN_RE = re.compile(r"^arn:aws:bedrock:us-east-1:123456789012:"
                    r"application-inference-profile/[a-z0-9]{12}$")


@pytest.fixture(scope="module")
def sim():
    s = Sim("--access-key-id", AKID, "--secret-access-key", SECRET)
    yield s
    assert s.stop() == 0


@pytest.fixture(autouse=True)
def fresh(sim):
    admin(sim, "/_sim/control/reset", {})


def admin(sim, path, body=None):
    import urllib.request
    req = urllib.request.Request(
        sim.url + path, method="GET" if body is None else "POST",
        data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def calls(sim, op="CreateInferenceProfile"):
    return admin(sim, "/_sim/control")["calls"][op]


def bedrock(sim):
    return boto3.client("bedrock", endpoint_url=sim.url,
                        region_name="us-east-1", aws_access_key_id=AKID,
                        aws_secret_access_key=SECRET,
                        config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def catalog(tmp_path):
    """The shipped catalog with ROUTES (no targets) in place of its empty
    routes list, the rest of the text as shipped."""
    text = SHIPPED.read_text()
    assert '"routes": []' in text
    path = tmp_path / "catalog.json"
    path.write_text(text.replace('"routes": []',
                                 '"routes": ' + json.dumps(ROUTES)))
    return path


def sync(sim, *args, secret=SECRET):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=secret,
               AWS_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true",
               TOLLGATE_BEDROCK_CONTROL_ENDPOINT=sim.url)
    res = subprocess.run([binary("tollgate-ledger"), "profiles", "sync",
                          *map(str, args)], capture_output=True, text=True,
                         timeout=60, env=env)
    assert_clean(res.stderr, "tollgate-ledger profiles sync")
    assert SECRET not in res.stderr + res.stdout
    return res


def names_to_create(res):
    return re.findall(r"would create (\S+) from", res.stderr)


def test_creates_missing_profiles_with_their_tags(sim, catalog):
    before = catalog.read_text()
    res = sync(sim, catalog)
    assert res.returncode == 0, res.stderr
    assert calls(sim) == 3
    cat = json.loads(catalog.read_text())
    c = bedrock(sim)
    for route, want in zip(cat["routes"], ROUTES):
        assert ARN_RE.match(route["target"]), route
        tags = c.list_tags_for_resource(resourceARN=route["target"])["tags"]
        assert sorted((t["key"], t["value"]) for t in tags) == sorted(
            want["match"].items())
        prof = c.get_inference_profile(
            inferenceProfileIdentifier=route["target"])
        assert prof["type"] == "APPLICATION"
        model_id = next(m["modelId"] for m in cat["models"]
                        if m["alias"] == want["model"])
        assert all(m["modelArn"].endswith("/" + model_id)
                   for m in prof["models"])
        # The name is the documented one: tg-<alias>-<tags>-<hash>.
        assert re.match(r"^tg-[A-Za-z0-9-]+-[0-9a-f]{10}$",
                        prof["inferenceProfileName"])
        assert len(prof["inferenceProfileName"]) <= 64
    geo = c.get_inference_profile(
        inferenceProfileIdentifier=cat["routes"][1]["target"])["models"]
    assert len(geo) == 3  # copied from the us. system profile
    # Only the routes were rewritten; the worker's loader accepts it.
    after = catalog.read_text()
    head = before.index('"routes"')
    assert after[:head] == before[:head]
    check = subprocess.run([binary("tollgate-ledger"), "catalog", "check",
                            str(catalog)], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_second_run_is_a_no_op(sim, catalog):
    assert sync(sim, catalog).returncode == 0
    text, mtime = catalog.read_bytes(), catalog.stat().st_mtime_ns
    n_create, n_list = calls(sim), calls(sim, "ListInferenceProfiles")
    res = sync(sim, catalog)
    assert res.returncode == 0, res.stderr
    assert "unchanged" in res.stderr
    assert calls(sim) == n_create
    assert calls(sim, "ListInferenceProfiles") == n_list  # nothing to look up
    assert catalog.read_bytes() == text
    assert catalog.stat().st_mtime_ns == mtime


def test_finds_existing_profiles_by_name_across_pages(sim, catalog, tmp_path):
    c = bedrock(sim)
    nova = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
    for i in range(5):  # other profiles first: the list takes several pages
        c.create_inference_profile(inferenceProfileName=f"other-{i}",
                                   modelSource={"copyFrom": nova})
    first = tmp_path / "first.json"
    assert sync(sim, catalog, "--output", first).returncode == 0
    assert calls(sim) == 8
    res = sync(sim, catalog)  # the profiles exist: found, not created
    assert res.returncode == 0, res.stderr
    assert calls(sim) == 8
    assert res.stderr.count(" found tg-") == 3
    # Pages of 2: 5 profiles took 3 calls, then 8 took 4.
    assert calls(sim, "ListInferenceProfiles") == 3 + 4
    assert json.loads(catalog.read_text())["routes"] == json.loads(
        first.read_text())["routes"]


def test_dry_run_writes_nothing(sim, catalog):
    before = catalog.read_bytes()
    res = sync(sim, catalog, "--dry-run")
    assert res.returncode == 0, res.stderr
    assert catalog.read_bytes() == before
    assert calls(sim) == 0
    assert len(names_to_create(res)) == 3
    printed = json.loads(res.stdout)
    assert all("target" not in r for r in printed["routes"])
    # With the profiles made elsewhere, the dry run prints their ARNs.
    bedrock(sim).create_inference_profile(
        inferenceProfileName=names_to_create(res)[0],
        modelSource={"copyFrom": "arn:aws:bedrock:us-east-1::foundation-model/"
                                 "amazon.nova-lite-v1:0"},
        tags=[{"key": "costCenter", "value": "sales"}])
    res = sync(sim, catalog, "--dry-run")
    assert res.returncode == 0, res.stderr
    assert catalog.read_bytes() == before
    printed = json.loads(res.stdout)
    assert ARN_RE.match(printed["routes"][0]["target"])
    assert "target" not in printed["routes"][1]
    assert calls(sim) == 1  # only the test's own


@pytest.mark.parametrize("error", ["ThrottlingException",
                                   "ServiceQuotaExceededException",
                                   "AccessDeniedException"])
def test_error_on_one_route_leaves_the_catalog_unchanged(sim, catalog, error):
    before = catalog.read_bytes()
    name = names_to_create(sync(sim, catalog, "--dry-run"))[1]
    admin(sim, "/_sim/control/config", {"faults": [
        {"operation": "CreateInferenceProfile", "error": error,
         "match": name}]})
    res = sync(sim, catalog)
    assert res.returncode == 1
    line = next(ln for ln in res.stderr.splitlines() if "ERROR" in ln)
    assert line.startswith("profiles sync: routes[1] (costCenter=eng,team=ml")
    assert error in line
    assert "not changed" in res.stderr
    assert catalog.read_bytes() == before
    assert not list(catalog.parent.glob("catalog.json.tmp*"))
    # The other routes' profiles were made; the next run finds them.
    admin(sim, "/_sim/control/config", {"faults": []})
    res = sync(sim, catalog)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count(" found tg-") == 2
    assert res.stderr.count(" created tg-") == 1


def test_name_taken_by_a_profile_with_other_tags(sim, catalog):
    before = catalog.read_bytes()
    name = names_to_create(sync(sim, catalog, "--dry-run"))[0]
    bedrock(sim).create_inference_profile(
        inferenceProfileName=name,
        modelSource={"copyFrom": "arn:aws:bedrock:us-east-1::foundation-model/"
                                 "amazon.nova-lite-v1:0"},
        tags=[{"key": "costCenter", "value": "marketing"}])
    res = sync(sim, catalog)
    assert res.returncode == 1
    assert re.search(r"routes\[0\] .*ERROR: the name " + name +
                     r" is taken by arn:\S+, a profile with other tags",
                     res.stderr), res.stderr
    assert catalog.read_bytes() == before


def test_listing_denied_and_bad_signature(sim, catalog):
    before = catalog.read_bytes()
    admin(sim, "/_sim/control/config", {"faults": [
        {"operation": "ListInferenceProfiles", "error": "AccessDeniedException"}]})
    res = sync(sim, catalog)
    assert res.returncode == 1
    assert "ListInferenceProfiles: AccessDeniedException (HTTP 403)" in res.stderr
    admin(sim, "/_sim/control/config", {"faults": []})
    res = sync(sim, catalog, secret="not/the/secret")
    assert res.returncode == 1
    assert "InvalidSignatureException" in res.stderr
    assert catalog.read_bytes() == before
    assert calls(sim) == 0


def test_route_without_model_and_bad_tag(sim, tmp_path):
    text = SHIPPED.read_text().replace('"routes": []', '"routes": ' + json.dumps(
        [{"match": {"costCenter": "x"}}, {"match": {"bad!": "y"},
                                          "model": "nova-lite"}]))
    path = tmp_path / "c.json"
    path.write_text(text)
    res = sync(sim, path)
    assert res.returncode == 1
    assert "routes[0] (costCenter=x -> any model): ERROR: a route to sync " \
           "needs \"model\"" in res.stderr
    assert "routes[1]" in res.stderr and "cannot be a cost allocation tag" \
        in res.stderr
    assert path.read_text() == text


def documented_name(alias, model_id, copy_from, match):
    """docs/operations.md's rule, written again from the text."""
    import hashlib
    canon = (f"tollgate-profile-v1\n{model_id}\n{copy_from}\n" +
             "".join(f"{k}={v}\n" for k, v in sorted(match.items())))
    readable = re.sub(r"[^A-Za-z0-9]+", "-", "tg-" + alias + "".join(
        f"-{k}-{v}" for k, v in sorted(match.items())))
    return (readable[:53].rstrip("-") + "-" +
            hashlib.sha256(canon.encode()).hexdigest()[:10])


def test_names_follow_the_documented_rule(sim, tmp_path):
    routes = ROUTES + [{"match": {"team": "a very long team name / with "
                                  "symbols", "zone": "x" * 40},
                        "model": "nova-lite"}]
    path = tmp_path / "c.json"
    path.write_text(SHIPPED.read_text().replace(
        '"routes": []', '"routes": ' + json.dumps(routes)))
    cat = json.loads(path.read_text())
    ids = {m["alias"]: m["modelId"] for m in cat["models"]}
    got = names_to_create(sync(sim, path, "--dry-run"))
    want = [documented_name(r["model"], ids[r["model"]], r.get("copyFrom", ""),
                            r["match"]) for r in routes]
    assert got == want
    assert all(len(n) <= 64 and re.fullmatch(r"([0-9a-zA-Z][ _-]?)+", n)
               for n in got)
    assert "zone" not in got[3] and len(got[3]) >= 60  # cut at 53 + hash


def test_only_the_top_level_routes_value_is_rewritten(sim, tmp_path):
    """routes first, compact, and look-alikes elsewhere: a "routes" key
    inside a model and a string holding quotes and brackets."""
    shipped = json.loads(SHIPPED.read_text())
    nova = next(m for m in shipped["models"] if m["alias"] == "nova-lite")
    nova = dict(nova, routes=[], _note='a "routes": [] look-alike } ]')
    rest = (', "priceVersion": "t-1",\n  "models": [' +
            json.dumps(nova, indent=4) + ']\n}\n')
    text = '{"routes":' + json.dumps(ROUTES[:1]) + rest
    path = tmp_path / "c.json"
    path.write_text(text)
    res = sync(sim, path)
    assert res.returncode == 0, res.stderr
    after = path.read_text()
    assert after.startswith('{"routes":[\n')
    assert after.endswith(rest)
    cat = json.loads(after)
    assert ARN_RE.match(cat["routes"][0]["target"])
    assert cat["models"][0]["routes"] == []


def test_name_taken_by_a_profile_for_another_model(sim, catalog):
    before = catalog.read_bytes()
    name = names_to_create(sync(sim, catalog, "--dry-run"))[0]
    bedrock(sim).create_inference_profile(
        inferenceProfileName=name,
        modelSource={"copyFrom": "arn:aws:bedrock:us-east-1::foundation-model/"
                                 "amazon.nova-pro-v1:0"},
        tags=[{"key": "costCenter", "value": "sales"}])
    res = sync(sim, catalog)
    assert res.returncode == 1
    assert "a profile for another model" in res.stderr
    assert catalog.read_bytes() == before


def test_bedrock_api_key(tmp_path, catalog):
    """A Bedrock API key (bearer token) instead of SigV4: the control
    plane's model lists httpBearerAuth too."""
    token = "ABSKcHJvZmlsZXMtc3luYy1iZWFyZXI="
    s = Sim("--bearer-token", token)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_BEARER_TOKEN_BEDROCK=token, AWS_REGION="us-east-1",
                   AWS_CONFIG_FILE=os.devnull,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        res = subprocess.run(
            [binary("tollgate-ledger"), "profiles", "sync", str(catalog),
             "--bedrock-control-endpoint", s.url],
            capture_output=True, text=True, timeout=60, env=env)
        assert_clean(res.stderr, "tollgate-ledger profiles sync")
        assert res.returncode == 0, res.stderr
        assert token not in res.stderr + res.stdout
        assert all(ARN_RE.match(r["target"])
                   for r in json.loads(catalog.read_text())["routes"])
    finally:
        assert s.stop() == 0
