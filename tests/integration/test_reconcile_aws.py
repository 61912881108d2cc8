"""`tollgate-ledger reconcile --aws-cost`: AWS's bill (an AWS Data Exports
CUR 2.0 CSV) against the usage topic, on the real stack.

Requests run through a worker on three (faked) days, over two application
inference profiles (tag routes) and a plain model id. The test writes the
CUR 2.0 file AWS would deliver for them, with the documented column names
(AWS Data Exports user guide, CUR 2.0 table dictionary), from the usage
events: each request's cost split over an input-token and an
output-token line, plus lines reconcile must ignore (another service, a
credit). Then: the file agrees; each injected difference is found and
named; bad input is reported by line and the rest still compared."""

import csv
import gzip
import io
import json
import subprocess

import pytest

from conftest import REPO, create_topics, unique_prefix
from tgstack import Worker, next_ledger_db, assert_clean, binary, events, produce, request, wait_assigned

DAYS = ("2026-11-28", "2026-11-29", "2026-11-30")
ACCOUNT = "123456789012"
PROFILE = {c: f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/{c}-nova"
           for c in ("eng", "sales")}
MODEL_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
COLUMNS = ["identity_line_item_id", "bill_payer_account_id", "line_item_line_item_type",
           "line_item_usage_start_date", "line_item_usage_end_date",
           "line_item_product_code", "line_item_usage_type", "line_item_operation",
           "line_item_resource_id", "line_item_usage_amount", "line_item_currency_code",
           "line_item_unblended_cost", "resource_tags"]
PER_DAY = 9  # 3 per cost center


def catalog(tmp_path):
    cat = json.loads((REPO / "worker" / "catalog.json").read_text())
    cat["routes"] = [{"match": {"costCenter": c}, "model": "nova-lite", "target": arn}
                     for c, arn in PROFILE.items()]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(cat))
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory, brokers, redis_url, bedrock_endpoint, build_dir):
    """Runs the three days through a worker once for the whole module."""
    tmp = tmp_path_factory.mktemp("awscost")
    prefix = unique_prefix("reconcile-aws")
    topics = create_topics(brokers, prefix, build_dir)
    db = next_ledger_db()
    url = f"{redis_url.rstrip('/')}/{db}"
    import redis
    redis.Redis.from_url(url).flushdb()
    cat = catalog(tmp)
    usage = {}
    for d, day in enumerate(DAYS):
        w = Worker(tmp, prefix, url, name=f"w{d}",
                   # One worker a day, each with its own id: as dynamic
                   # members they leave the group at once when stopped (a
                   # static member would hold its partitions for
                   # session.timeout.ms, 45 s, before the next one gets them).
                   args=["--bedrock-endpoint", bedrock_endpoint, "--catalog", str(cat),
                         "--static-membership", "0"],
                   env={"TOLLGATE_FAKE_NOW": f"{day}T12:00:00Z"})
        try:
            wait_assigned([w], 4)
            reqs = [request(f"aws-{day}-{i}", ("eng", "sales", "ops")[i % 3],
                            text=f"question {i} " * (i + 1)) for i in range(PER_DAY)]
            produce(brokers, topics["requests"], [(r["requestId"], r) for r in reqs])
            usage = dict(events(brokers, topics["usage"], (d + 1) * PER_DAY))
        finally:
            assert w.stop() == 0
    assert len(usage) == len(DAYS) * PER_DAY
    assert all(u["decision"] == "approved" for u in usage.values()), usage
    return {"brokers": brokers, "usage_topic": topics["usage"], "redis": url,
            "usage": usage, "tmp": tmp}


def nano_str(n):
    sign = "-" if n < 0 else ""
    n = abs(n)
    return f"{sign}{n // 10**9}.{n % 10**9:09d}"


def cur_rows(usage):
    """The CUR 2.0 lines AWS bills for the approved events."""
    rows = []
    for rid, u in sorted(usage.items()):
        day = u["decidedAt"][:10]
        target = u["target"]
        res = target if target.startswith("arn:") else MODEL_ARN
        tags = json.dumps({"user:costCenter": u["tags"]["costCenter"],
                           "user:applicationId": u["tags"]["applicationId"]})
        # AWS bills per token class; split the cost over two lines
        first = u["costNanoUsd"] // 3
        for kind, tokens, cost in (("input-tokens", u["inputTokens"], first),
                                   ("output-tokens", u["outputTokens"],
                                    u["costNanoUsd"] - first)):
            rows.append({
                "identity_line_item_id": f"{rid}-{kind}", "bill_payer_account_id": ACCOUNT,
                "line_item_line_item_type": "Usage",
                "line_item_usage_start_date": f"{day}T00:00:00Z",
                "line_item_usage_end_date": f"{day}T23:59:59Z",
                "line_item_product_code": "AmazonBedrock",
                "line_item_usage_type": f"USE1-NovaLite-{kind}",
                "line_item_operation": "InvokeModelInference",
                "line_item_resource_id": res, "line_item_usage_amount": str(tokens),
                "line_item_currency_code": "USD",
                "line_item_unblended_cost": nano_str(cost), "resource_tags": tags})
    # what reconcile must leave alone: another service, and a credit
    rows.append({**rows[0], "identity_line_item_id": "ec2", "line_item_product_code": "AmazonEC2",
                 "line_item_unblended_cost": "12.5"})
    rows.append({**rows[0], "identity_line_item_id": "credit",
                 "line_item_line_item_type": "Credit", "line_item_unblended_cost": "-1.0"})
    return rows


def write(path, rows, columns=COLUMNS, gz=False, extra_lines=()):
    buf = io.StringIO()
    wr = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    wr.writeheader()
    wr.writerows(rows)
    for line in extra_lines:
        buf.write(line + "\n")
    data = buf.getvalue().encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def reconcile(stack, path, *args):
    cmd = [binary("tollgate-ledger"), "--redis", stack["redis"], "--brokers", stack["brokers"],
           "--usage-topic", stack["usage_topic"], "reconcile", "--aws-cost", str(path), *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert_clean(res.stderr, "tollgate-ledger reconcile --aws-cost")
    return res


def diffs(res):
    return [l for l in res.stdout.splitlines() if " DIFF " in l]


def test_agrees_per_profile_and_per_tag(stack):
    path = write(stack["tmp"] / "agree.csv", cur_rows(stack["usage"]))
    res = reconcile(stack, path, "--tolerance-usd", "0")
    assert res.returncode == 0, res.stdout + res.stderr
    last = res.stdout.strip().splitlines()[-1]
    # 3 days x (2 profiles + the model id)
    assert "9 day/profile pairs, 0 differ" in last and last.endswith("OK"), last
    assert "eng-nova" in res.stdout and "amazon.nova-lite-v1:0" in res.stdout
    res = reconcile(stack, path, "--by", "tag:costCenter", "--tolerance-usd", "0", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    assert doc["ok"] and doc["by"] == "costCenter"
    assert {c["key"] for c in doc["cells"]} == {"eng", "sales", "ops"}
    assert all(c["diffNanoUsd"] == 0 and c["match"] for c in doc["cells"])
    assert doc["stats"]["notUsageRows"] == 1 and doc["stats"]["notUsageNanoUsd"] == -10**9
    total = sum(u["costNanoUsd"] for u in stack["usage"].values())
    assert sum(c["awsNanoUsd"] for c in doc["cells"]) == total


def test_gzip_input(stack):
    rows = cur_rows(stack["usage"])
    path = write(stack["tmp"] / "agree.csv.gz", rows, gz=True)
    res = reconcile(stack, path, "--tolerance-usd", "0")
    assert res.returncode == 0 and res.stdout.strip().endswith("OK"), res.stdout + res.stderr
    rows[0]["line_item_unblended_cost"] = "0.75"
    res = reconcile(stack, write(stack["tmp"] / "changed.csv.gz", rows, gz=True),
                    "--tolerance-usd", "0")
    assert res.returncode == 1 and len(diffs(res)) == 1, res.stdout


def test_changed_cost_on_one_day(stack):
    rows = cur_rows(stack["usage"])
    row = next(r for r in rows if r["line_item_resource_id"] == PROFILE["eng"]
               and r["line_item_usage_start_date"].startswith(DAYS[1]))
    row["line_item_unblended_cost"] = nano_str(
        int(row["line_item_unblended_cost"].replace(".", "")) + 250_000)
    path = write(stack["tmp"] / "changed.csv", rows)
    res = reconcile(stack, path, "--tolerance-usd", "0")
    assert res.returncode == 1
    (line,) = diffs(res)
    assert line.startswith(DAYS[1]) and "eng-nova" in line, res.stdout
    assert "0.000250000" in line and "AWS billed more" in line
    assert res.stdout.strip().endswith("DIFFERENCES")
    # within a tolerance it is not a difference
    res = reconcile(stack, path, "--tolerance-usd", "0.0003")
    assert res.returncode == 0, res.stdout
    # AWS billing less names a price change
    row["line_item_unblended_cost"] = "0"
    res = reconcile(stack, write(stack["tmp"] / "less.csv", rows), "--tolerance-usd", "0")
    (line,) = diffs(res)
    assert "AWS billed less" in line and "price change" in line, line


def test_extra_profile_not_in_tollgate(stack):
    rows = cur_rows(stack["usage"])
    shadow = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/shadow"
    rows.append({**rows[0], "identity_line_item_id": "shadow",
                 "line_item_resource_id": shadow, "line_item_unblended_cost": "0.42"})
    res = reconcile(stack, write(stack["tmp"] / "extra.csv", rows), "--tolerance-usd", "0")
    assert res.returncode == 1
    (line,) = diffs(res)
    assert "profile/shadow" in line and "requests outside tollgate" in line, line


def test_missing_day_and_billing_lag(stack):
    rows = cur_rows(stack["usage"])
    middle = [r for r in rows if not r["line_item_usage_start_date"].startswith(DAYS[1])]
    res = reconcile(stack, write(stack["tmp"] / "gap.csv", middle), "--tolerance-usd", "0")
    assert res.returncode == 1
    lines = diffs(res)
    assert len(lines) == 3 and all(l.startswith(DAYS[1]) for l in lines), res.stdout
    assert all("missing day" in l for l in lines)
    last = [r for r in rows if not r["line_item_usage_start_date"].startswith(DAYS[2])]
    res = reconcile(stack, write(stack["tmp"] / "lag.csv", last), "--tolerance-usd", "0")
    lines = diffs(res)
    assert len(lines) == 3 and all(l.startswith(DAYS[2]) for l in lines), res.stdout
    assert all("billing lag" in l and DAYS[1] in l for l in lines), lines


def test_non_usd_and_malformed_lines_reported_rest_compared(stack):
    rows = cur_rows(stack["usage"])
    eur = {**rows[0], "identity_line_item_id": "eur", "line_item_currency_code": "EUR"}
    bad = {**rows[0], "identity_line_item_id": "bad", "line_item_unblended_cost": "1,5x"}
    n = len(rows)
    path = write(stack["tmp"] / "bad.csv", rows + [eur, bad],
                 extra_lines=['x,"unterminated'])
    res = reconcile(stack, path, "--tolerance-usd", "0")
    assert res.returncode == 1
    # header is line 1, rows 2..n+1, then eur, bad, the broken one
    assert f"line {n + 2}: line_item_currency_code: \"EUR\"" in res.stderr, res.stderr
    assert f"line {n + 3}: line_item_unblended_cost: \"1,5x\" is not a number" in res.stderr
    assert f"line {n + 4}: unterminated quoted field" in res.stderr
    assert diffs(res) == [], res.stdout  # everything else still compared, and agrees
    assert "9 day/profile pairs, 0 differ" in res.stdout and "3 input problems" in res.stdout


def test_missing_column(stack):
    cols = [c for c in COLUMNS if c != "line_item_unblended_cost"]
    path = write(stack["tmp"] / "nocost.csv", cur_rows(stack["usage"]), columns=cols)
    res = reconcile(stack, path)
    assert res.returncode == 1
    assert "line 1: missing column line_item_unblended_cost" in res.stderr, res.stderr
    assert "nothing could be compared" in res.stderr
    # resource_tags is only needed per tag
    cols = [c for c in COLUMNS if c != "resource_tags"]
    path = write(stack["tmp"] / "notags.csv", cur_rows(stack["usage"]), columns=cols)
    assert reconcile(stack, path, "--tolerance-usd", "0").returncode == 0
    res = reconcile(stack, path, "--by", "tag:costCenter")
    assert res.returncode == 1 and "missing column resource_tags" in res.stderr


def test_usage_errors(stack, tmp_path):
    res = reconcile(stack, tmp_path / "x.csv", "--by", "tags")
    assert res.returncode == 2
    res = reconcile(stack, tmp_path / "absent.csv")
    assert res.returncode == 1 and "cannot open" in res.stderr


def test_cost_notations(stack):
    """CUR costs come with up to 15+ decimals or in E notation: each is
    rounded to the nano-dollar once, and still agrees."""
    rows = cur_rows(stack["usage"])
    a, b = rows[0], rows[1]
    na = int(a["line_item_unblended_cost"].replace(".", ""))
    nb = int(b["line_item_unblended_cost"].replace(".", ""))
    a["line_item_unblended_cost"] = f"{na}E-9"             # 10020E-9
    b["line_item_unblended_cost"] = nano_str(nb) + "4999"  # below half a nano
    res = reconcile(stack, write(stack["tmp"] / "notation.csv", rows), "--tolerance-usd", "0")
    assert res.returncode == 0, res.stdout + res.stderr
    b["line_item_unblended_cost"] = nano_str(nb) + "5"     # half a nano rounds up
    res = reconcile(stack, write(stack["tmp"] / "notation2.csv", rows), "--tolerance-usd", "0")
    (line,) = diffs(res)
    assert "0.000000001" in line, line
