"""A corpus of hostile requests through a real worker: deep JSON nesting,
huge numbers, NaN, duplicate keys, invalid UTF-8, NUL bytes, 10,000 tags,
tag values with {, }, :, newlines and Lua metacharacters, model ids with
../ and @host. Each ends `invalid` (with a reason naming the field) or on
the DLQ untouched (with a reason header); the worker keeps going, and the
valid ones among them (tags that only look dangerous) are charged to the
budget whose selector names those characters.
"""

import json

from conftest import consume_all
from faultkit import report, usage_of, verify
from tgstack import Sim, Worker, ledger, produce, request, wait_assigned

LUA_TAG = "a.b+c-d:e/f@g=h"  # allowed characters; . + - are Lua magic


def req(rid, **over):
    r = request(rid, "eng")
    r.update(over)
    return r


def with_tags(rid, **tags):
    r = request(rid, "eng")
    r["tags"].update(tags)
    return r


def with_model(rid, model):
    return req(rid, model=model)


def with_params(rid, **params):
    r = request(rid, "eng")
    r["prompt"]["parameters"].update(params)
    return r


def raw(obj):
    return json.dumps(obj).encode()


def good_bytes(rid):
    return raw(request(rid, "eng"))


# key -> (message bytes, "dlq" | "invalid" | "completed", reason substring)
def corpus():
    g = good_bytes("x").decode()
    c = {
        "deep-nesting": (b'{"a":' * 50000 + b"1" + b"}" * 50000, "dlq",
                         "nested deeper"),
        "deep-array": (b"[" * 100000 + b"]" * 100000, "dlq", "nested deeper"),
        "huge-int": (g.replace('"max_tokens": 100',
                               '"max_tokens": 1' + "0" * 400).encode(),
                     "dlq", "integer"),
        "huge-real": (g.replace('"max_tokens": 100', '"max_tokens": 1e400')
                      .encode(), "dlq", "overflow"),
        "big-max-tokens": (raw(with_params("big-max-tokens",
                                           max_tokens=10**18)),
                           "invalid", "max_tokens"),
        "float-max-tokens": (raw(with_params("float-max-tokens",
                                             max_tokens=1e300)),
                             "invalid", "max_tokens"),
        "nan": (g.replace('"max_tokens": 100', '"temperature": NaN').encode(),
                "dlq", "invalid token"),
        "infinity": (g.replace('"max_tokens": 100', '"top_p": Infinity')
                     .encode(), "dlq", "invalid token"),
        "dup-keys": (b'{"requestId":"dup-keys","requestId":"other",'
                     + g[1:].encode(), "dlq", "duplicate"),
        "invalid-utf8": (g.replace("hello", "he\udcffllo", 1)
                         .encode("utf-8", "surrogateescape"), "dlq",
                         "unable to decode byte 0xff"),
        "overlong-utf8": (g.replace("hello", "\udcc0\udcafx", 1)
                          .encode("utf-8", "surrogateescape"), "dlq",
                          "unable to decode byte 0xc0"),
        "nul-escaped": (raw(req("nul-escaped", prompt={
            "messages": [{"role": "user", "content": "a\u0000b"}]})),
            "dlq", "\\u0000"),
        "nul-raw": (g.replace("hello", "he\x00llo", 1).encode(), "dlq",
                    "control character"),
        "nul-in-tag": (raw(with_tags("nul-in-tag", team="a\u0000b")), "dlq",
                       "\\u0000"),
        "ten-thousand-tags": (raw(with_tags("ten-thousand-tags", **{
            f"t{i}": "v" for i in range(10000)})), "invalid", "at most 32"),
        "tag-braces": (raw(with_tags("tag-braces", team="{x}")), "invalid",
                       "tags.team"),
        "tag-colon-brace": (raw(with_tags("tag-colon-brace",
                                          team="a:{b}:c")), "invalid",
                            "tags.team"),
        "tag-newline": (raw(with_tags("tag-newline", team="a\nb")), "invalid",
                        "tags.team"),
        "tag-lua-pattern": (raw(with_tags("tag-lua-pattern",
                                          team="%s%d[^a]*$")), "invalid",
                            "tags.team"),
        "tag-key-lua": (raw(with_tags("tag-key-lua", **{"k%]": "v"})),
                        "invalid", "tags"),
        "tag-redis-key": (raw(with_tags("tag-redis-key",
                                        team="tg:{tg}:b:eng")), "invalid",
                          "tags.team"),
        "tag-lua-ok": (raw(with_tags("tag-lua-ok", team=LUA_TAG)),
                       "completed", ""),
        "model-dotdot": (raw(with_model("model-dotdot", "../../etc/passwd")),
                         "invalid", "model"),
        "model-dotdot-id": (raw(with_model(
            "model-dotdot-id", "amazon.nova-lite-v1:0/../../x")),
            "invalid", "model"),
        "model-at-host": (raw(with_model(
            "model-at-host", "amazon.nova-lite-v1:0@evil.example.com")),
            "invalid", "model"),
        "model-at-port": (raw(with_model(
            "model-at-port", "us.amazon.nova-lite-v1:0@127.0.0.1:9")),
            "invalid", "model"),
        "model-url": (raw(with_model("model-url", "http://evil/x")),
                      "invalid", "model"),
        "model-arn-dotdot": (raw(with_model(
            "model-arn-dotdot",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/../x")),
            "invalid", "model"),
        "request-id-dotdot": (raw(req("../../x")), "invalid", "requestId"),
        "unknown-field": (raw(req("unknown-field", evil=1)), "invalid",
                          "evil"),
        "oversize": (raw(req("oversize", prompt={"messages": [
            {"role": "user", "content": "x" * 300_000}]})), "invalid",
            "bytes"),
        "many-messages": (raw(req("many-messages", prompt={"messages": [
            {"role": "user", "content": "x"}] * 1025})), "invalid",
            "at most 1024"),
        "not-an-object": (b"[1,2,3]", "dlq", "not an object"),
        "empty": (b"", "dlq", "expected"),
        "binary": (bytes(range(256)), "dlq", "not a JSON object"),
    }
    return c


def test_hostile_requests(tmp_path, brokers, topics, ledger_redis):
    ledger(ledger_redis, "budget", "set", "eng", "--selector",
           "costCenter=eng", "--period", "day", "--limit-usd", "1")
    ledger(ledger_redis, "budget", "set", "lua", "--selector",
           f"team={LUA_TAG}", "--period", "day", "--limit-usd", "1")
    cases = corpus()
    sim = Sim()
    w = None
    try:
        w = Worker(tmp_path, topics["prefix"], ledger_redis,
                   args=["--bedrock-endpoint", sim.url,
                         "--max-request-bytes", "200000"])
        wait_assigned([w], 4)
        produce(brokers, topics["requests"],
                [(k, v) for k, (v, _, _) in cases.items()])
        # after all of them, on every partition: ordinary requests
        after = [request(f"after-{i}", "eng") for i in range(8)]
        produce(brokers, topics["requests"],
                [(r["requestId"], r) for r in after])
        answered = {k for k, (_, how, _) in cases.items() if how != "dlq"}
        # (a bad requestId is replaced by the Kafka key)
        answered |= {r["requestId"] for r in after}
        usage = {k: json.loads(v) for k, v, _ in usage_of(
            brokers, topics["usage"], answered, 60)}
        dlq = {k: (v, h) for k, v, h in consume_all(
            brokers, topics["dlq"], timeout=30,
            min_count=sum(how == "dlq" for _, how, _ in cases.values()))}
        assert w.proc.poll() is None, w.text()[-3000:]
        figures = verify(brokers, topics, ledger_redis, answered)
    finally:
        sim.stop()
        assert w is None or w.stop() == 0
    rows, bad = [], []
    for key, (value, how, why) in cases.items():
        if how == "dlq":
            body, headers = dlq.get(key, (None, {}))
            reason = headers.get("tollgate-dlq-reason", b"").decode()
            ok = body == value and reason and why in reason
            got = "dlq" if body is not None else "missing"
        else:
            u = usage.get(key, {})
            reason = u.get("reason", "")
            got = u.get("decision", "missing")
            want = "approved" if how == "completed" else "invalid"
            ok = got == want and why in reason
        rows.append(f"{'ok ' if ok else 'BAD'} {key}: {got} ({reason[:100]})")
        if not ok:
            bad.append(key)
    print("\n" + "\n".join(rows))
    assert not bad, f"unexpected outcomes: {bad}"
    for r in after:
        assert usage[r["requestId"]]["decision"] == "approved"
    lua = [b for b in usage["tag-lua-ok"]["budgets"] if b["id"] == "lua"]
    assert lua and lua[0]["spentNanoUsd"] > 0
    n_dlq = sum(how == "dlq" for _, how, _ in cases.values())
    report(f"hostile input corpus ({len(cases)} messages), then good "
           f"requests", figures, None,
           f"{n_dlq} to the DLQ with a reason, "
           f"{figures['decisions'].get('invalid', 0)} invalid with the field "
           f"named; the worker kept going")
