"""`tollgate-ledger catalog check`: the shipped catalog passes, and each
kind of bad entry is refused with the entry named (docs/operations.md,
"Prices"). Runs the real binary; needs no stack."""

import copy
import json
import os
import subprocess

import pytest

from conftest import REPO
from tgstack import assert_clean, binary

SHIPPED = REPO / "worker" / "catalog.json"


def check(*args, env=None):
    res = subprocess.run([binary("tollgate-ledger"), "catalog", "check", *args],
                         capture_output=True, text=True, timeout=60, env=env)
    assert_clean(res.stderr, "tollgate-ledger catalog check")
    return res


def shipped():
    return json.loads(SHIPPED.read_text())


def model(cat, alias):
    return next(m for m in cat["models"] if m["alias"] == alias)


def test_shipped_catalog_passes():
    res = check(str(SHIPPED))
    assert res.returncode == 0, res.stdout + res.stderr
    last = res.stdout.strip().splitlines()[-1]
    cat = shipped()
    assert f"priceVersion {cat['priceVersion']}" in last
    assert f"{len(cat['models'])} models, 0 problems" in last and last.endswith("OK")
    # every unconfirmed price is listed as a warning, by name
    for m in cat["models"]:
        if "unconfirmed" in m["pricing"]:
            assert f"({m['alias']}): warning: unconfirmed" in res.stdout


def test_default_is_the_shipped_catalog(tmp_path):
    res = check()
    assert res.returncode == 0 and str(SHIPPED) in res.stdout
    bad = tmp_path / "c.json"
    bad.write_text("{")
    res = check(env={**os.environ, "TOLLGATE_CATALOG": str(bad)})
    assert res.returncode == 1 and str(bad) in res.stdout


def mutate(fn):
    cat = copy.deepcopy(shipped())
    fn(cat)
    return cat


CASES = {
    "missing price": (
        lambda c: model(c, "nova-lite")["price"].pop("output"),
        "(nova-lite): model.price.output: missing price"),
    "negative price": (
        lambda c: model(c, "claude-sonnet-4.5")["global"]["price"].update(cacheRead="-0.30"),
        "(claude-sonnet-4.5): global.price.cacheRead: negative price"),
    "negative tier price": (
        lambda c: model(c, "nova-pro")["tiers"]["flex"]["price"].update(input="-1"),
        "(nova-pro): tiers.flex.price.input: negative price"),
    "tier without a price": (
        lambda c: model(c, "nova-premier")["tiers"].update(priority={}),
        "(nova-premier): tiers.priority: tier without a price"),
    "long context without its prices": (
        lambda c: model(c, "claude-sonnet-4").pop("longContextPrice"),
        "(claude-sonnet-4): model.longContextPrice: missing price"),
    "duplicate alias": (
        lambda c: model(c, "llama4-scout").update(alias="llama4-maverick"),
        'duplicate alias "llama4-maverick" (also models['),
    "caching without cache prices": (
        lambda c: model(c, "claude-haiku-4.5")["price"].pop("cacheRead"),
        "(claude-haiku-4.5): price.cacheRead: missing price (promptCaching is true)"),
    "silent about caching": (
        lambda c: model(c, "mistral-7b").pop("promptCaching"),
        "(mistral-7b): promptCaching: missing"),
    "no source": (
        lambda c: model(c, "deepseek-r1")["pricing"].update(sources=[]),
        "(deepseek-r1): pricing.sources: missing"),
    "no check date": (
        lambda c: model(c, "nova-micro")["pricing"].pop("checked"),
        "(nova-micro): pricing.checked: missing"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_and_named(tmp_path, name):
    fn, want = CASES[name]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(mutate(fn)))
    res = check(str(path))
    assert res.returncode == 1, res.stdout
    problems = [l for l in res.stdout.splitlines()
                if "warning:" not in l and not l.startswith("catalog check:")]
    assert any(want in l for l in problems), res.stdout
    assert len(problems) == 1, problems  # only the entry at fault
    last = res.stdout.strip().splitlines()[-1]
    assert ", 1 problems," in last and last.endswith("REFUSED")


def test_every_bad_entry_is_reported(tmp_path):
    def two(c):
        model(c, "nova-lite")["price"]["input"] = "-1"
        model(c, "llama3.3-70b")["tiers"] = {"flex": {}}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(mutate(two)))
    res = check(str(path))
    assert res.returncode == 1
    assert "(nova-lite): model.price.input: negative price" in res.stdout
    assert "(llama3.3-70b): tiers.flex: tier without a price" in res.stdout
    assert ", 2 problems," in res.stdout


def test_usage_errors(tmp_path):
    res = subprocess.run([binary("tollgate-ledger"), "catalog"], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 2 and "missing subcommand" in res.stderr
    res = check("a.json", "b.json")
    assert res.returncode == 2
    res = check(str(tmp_path / "nonexistent.json"))
    assert res.returncode == 1 and "nonexistent.json" in res.stdout
