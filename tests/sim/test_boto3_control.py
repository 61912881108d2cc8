"""The simulator's Bedrock control plane (application inference profiles)
driven by boto3's real ``bedrock`` client: every operation tollgate-ledger
profiles sync uses, its pagination, its errors and the injected faults.
Runs like test_boto3.py (its Sim class: a simulator of its own, SigV4
with fixed test keys, no ambient AWS configuration)."""

import os
import re
import sys

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(__file__))
from test_boto3 import AKID, SECRET, Sim, error_of  # noqa: E402

NOVA_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
APP_ARN_RE = re.compile(r"^arn:aws:bedrock:us-east-1:123456789012:"
                        r"application-inference-profile/[a-z0-9]{12}$")


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch):
    for var in ("AWS_BEARER_TOKEN_BEDROCK", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture(scope="module")
def sim():
    s = Sim("--access-key-id", AKID, "--secret-access-key", SECRET)
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.admin("/_sim/control/reset", {})


def bedrock(sim, secret=SECRET):
    return boto3.client("bedrock", endpoint_url=sim.url,
                        region_name="us-east-1", aws_access_key_id=AKID,
                        aws_secret_access_key=secret,
                        config=Config(retries={"total_max_attempts": 1}))


def create(c, name, tags=(("costCenter", "sales"),), source=NOVA_ARN, **kw):
    return c.create_inference_profile(
        inferenceProfileName=name, modelSource={"copyFrom": source},
        tags=[{"key": k, "value": v} for k, v in tags], **kw)


def test_create_get_and_tags(sim):
    c = bedrock(sim)
    r = create(c, "tg-sales", description="sales team")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert r["status"] == "ACTIVE"
    arn = r["inferenceProfileArn"]
    assert APP_ARN_RE.match(arn), arn
    for ident in (arn, arn.rsplit("/", 1)[1]):
        g = c.get_inference_profile(inferenceProfileIdentifier=ident)
        assert g["inferenceProfileName"] == "tg-sales"
        assert g["inferenceProfileArn"] == arn
        assert g["type"] == "APPLICATION" and g["status"] == "ACTIVE"
        assert g["models"] == [{"modelArn": NOVA_ARN}]
        assert g["description"] == "sales team"
        assert g["createdAt"].tzinfo is not None
    t = c.list_tags_for_resource(resourceARN=arn)
    assert t["tags"] == [{"key": "costCenter", "value": "sales"}]


def test_create_from_system_profile(sim):
    c = bedrock(sim)
    sysp = c.get_inference_profile(
        inferenceProfileIdentifier="us.amazon.nova-lite-v1:0")
    assert sysp["type"] == "SYSTEM_DEFINED"
    assert sysp["inferenceProfileArn"] == (
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
        "us.amazon.nova-lite-v1:0")
    assert len(sysp["models"]) == 3
    arn = create(c, "tg-geo", source=sysp["inferenceProfileArn"])[
        "inferenceProfileArn"]
    models = c.get_inference_profile(inferenceProfileIdentifier=arn)["models"]
    assert [m["modelArn"] for m in models] == [m["modelArn"]
                                               for m in sysp["models"]]
    assert all(m["modelArn"].endswith("::foundation-model/amazon.nova-lite-v1:0")
               for m in models)


def test_list_paginates(sim):
    c = bedrock(sim)
    arns = [create(c, f"tg-p{i}")["inferenceProfileArn"] for i in range(5)]
    first = c.list_inference_profiles(typeEquals="APPLICATION")
    assert len(first["inferenceProfileSummaries"]) == 2  # the default page
    assert "nextToken" in first
    seen = []
    for page in c.get_paginator("list_inference_profiles").paginate(
            typeEquals="APPLICATION"):
        seen += page["inferenceProfileSummaries"]
    assert [s["inferenceProfileArn"] for s in seen] == arns
    assert [s["inferenceProfileName"] for s in seen] == [f"tg-p{i}"
                                                         for i in range(5)]
    assert all(s["type"] == "APPLICATION" for s in seen)
    big = c.list_inference_profiles(typeEquals="APPLICATION", maxResults=10)
    assert len(big["inferenceProfileSummaries"]) == 5
    assert "nextToken" not in big
    none = c.list_inference_profiles(typeEquals="SYSTEM_DEFINED")
    assert none["inferenceProfileSummaries"] == []
    with pytest.raises(ClientError) as e:
        c.list_inference_profiles(nextToken="not-a-token")
    assert error_of(e) == ("ValidationException", 400)
    assert sim.admin("/_sim/control")["calls"]["ListInferenceProfiles"] == 7  # 1 + 3 pages + 3


def test_delete(sim):
    c = bedrock(sim)
    arn = create(c, "tg-gone")["inferenceProfileArn"]
    r = c.delete_inference_profile(inferenceProfileIdentifier=arn)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    for call in (lambda: c.get_inference_profile(inferenceProfileIdentifier=arn),
                 lambda: c.delete_inference_profile(
                     inferenceProfileIdentifier=arn),
                 lambda: c.list_tags_for_resource(resourceARN=arn)):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("ResourceNotFoundException", 404)


def test_name_taken_and_idempotency_token(sim):
    c = bedrock(sim)
    a = create(c, "tg-one", clientRequestToken="tok-1")["inferenceProfileArn"]
    # The same token again is a retry: the same profile, no new one.
    assert create(c, "tg-one",
                  clientRequestToken="tok-1")["inferenceProfileArn"] == a
    with pytest.raises(ClientError) as e:
        create(c, "tg-one", tags=(("costCenter", "eng"),))
    assert error_of(e) == ("ConflictException", 400)
    assert sim.admin("/_sim/control")["profiles"] == 1


def test_validation(sim):
    c = boto3.client("bedrock", endpoint_url=sim.url, region_name="us-east-1",
                     aws_access_key_id=AKID, aws_secret_access_key=SECRET,
                     config=Config(retries={"total_max_attempts": 1},
                                   parameter_validation=False))
    for name, source, tags in (
            ("bad..name", NOVA_ARN, ()),
            ("tg-x", "not-an-arn", ()),
            ("tg-x", NOVA_ARN, (("bad!key", "v"),)),
            ("tg-x", NOVA_ARN, (("aws:reserved", "v"),)),
            ("tg-x", NOVA_ARN, (("k", "v"), ("k", "w")))):
        with pytest.raises(ClientError) as e:
            create(c, name, tags=tags, source=source)
        assert error_of(e) == ("ValidationException", 400), (name, source)
    with pytest.raises(ClientError) as e:
        create(c, "tg-x", tags=[(f"k{i}", "v") for i in range(201)])
    assert error_of(e) == ("TooManyTagsException", 400)
    with pytest.raises(ClientError) as e:
        c.get_inference_profile(inferenceProfileIdentifier="nope")
    assert error_of(e) == ("ResourceNotFoundException", 404)


def test_signature_checked(sim):
    with pytest.raises(ClientError) as e:
        bedrock(sim, secret="wrong").list_inference_profiles()
    assert error_of(e) == ("InvalidSignatureException", 403)


@pytest.mark.parametrize("code,status", [
    ("ThrottlingException", 429), ("ServiceQuotaExceededException", 400),
    ("AccessDeniedException", 403), ("InternalServerException", 500)])
def test_injected_faults(sim, code, status):
    c = bedrock(sim)
    sim.admin("/_sim/control/config", {"faults": [
        {"operation": "CreateInferenceProfile", "error": code,
         "match": "-bad", "times": 1}]})
    with pytest.raises(ClientError) as e:
        create(c, "tg-bad")
    assert error_of(e) == (code, status)
    assert e.value.response["Error"]["Message"]
    create(c, "tg-good")     # not matched
    create(c, "tg-bad")      # times: 1 used up
    st = sim.admin("/_sim/control")
    assert st["calls"]["CreateInferenceProfile"] == 3 and st["profiles"] == 2


def test_admin_config_rejects_bad_values(sim):
    import urllib.error
    for bad in ({"pageSize": 0}, {"faults": [{"operation": "Nope",
                                              "error": "ThrottlingException"}]},
                {"faults": [{"operation": "GetInferenceProfile",
                             "error": "NoSuchError"}]}):
        with pytest.raises(urllib.error.HTTPError) as e:
            sim.admin("/_sim/control/config", bad)
        assert e.value.code == 400
    assert sim.admin("/_sim/control/config", {"pageSize": 3})["pageSize"] == 3
