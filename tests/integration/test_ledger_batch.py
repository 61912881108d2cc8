"""Batched ledger calls decide exactly as one call per request.

The worker admits (and settles) several requests in one call of
admit_batch.lua / finish_batch.lua: admit.lua's and finish.lua's own bodies
wrapped by ledger/lua/batch.lua.in at build time (the build writes the
generated scripts to BUILD/ledger/lua/). Here thousands of generated
sequences of admissions and settlements -- small budgets that run out
inside a batch, rate limits, degrading, the same request id several times
in one batch, re-admission after a reservation (resume) and after a
settlement (done), stale definitions, leases held by another worker,
leases that expire -- run twice on the real Redis, under two key prefixes:
(a) one EVALSHA of admit.lua / finish.lua per request, (b) runs of
consecutive admissions (settlements) sent as batches of random sizes. Every
per-request reply and the final Redis state (every key, its value and TTL)
must be the same. Needs only Redis (TOLLGATE_REDIS).
"""

import os
import random
import time
import uuid
from pathlib import Path

import pytest
import redis

REPO = Path(__file__).resolve().parents[2]
LUA = REPO / "ledger" / "lua"
CASES = int(os.environ.get("TG_BATCH_CASES", "2000"))
SEED = int(os.environ.get("TG_BATCH_SEED", "0")) or random.randrange(1 << 30)


def build_dir():
    return Path(os.environ.get("TOLLGATE_BUILD_DIR", REPO / "build"))


def batch_script(name):
    path = build_dir() / "ledger" / "lua" / f"{name}_batch.lua"
    assert path.is_file(), f"{path} not built (ledger/embed_lua.cmake)"
    return path.read_bytes()


@pytest.fixture(scope="module")
def r():
    url = os.environ.get("TOLLGATE_REDIS", "redis://127.0.0.1:16379")
    return redis.Redis.from_url(url)


@pytest.fixture(scope="module")
def shas(r):
    return {
        "admit": r.script_load((LUA / "admit.lua").read_bytes()),
        "finish": r.script_load((LUA / "finish.lua").read_bytes()),
        "admit_batch": r.script_load(batch_script("admit")),
        "finish_batch": r.script_load(batch_script("finish")),
    }


# ------------------------------------------------------------ generation

def gen_case(rng):
    budgets = []
    for i in range(rng.randint(1, 4)):
        budgets.append({
            "id": f"b{i}",
            "limit_nano": rng.choice([-1, rng.randint(0, 600),
                                      rng.randint(0, 3000)]),
            "limit_tokens": rng.choice([-1, -1, rng.randint(0, 400)]),
            "rpm": rng.choice([0, 0, 0, rng.randint(1, 4)]),
            "tpm": rng.choice([0, 0, 0, rng.randint(1, 300)]),
            "thresholds": rng.choice(["", "50,80,100",
                                      "10,20,30,40,50,60,70,80,90,100"]),
            "degrade_pct": rng.choice([0, 0, 1, 50, 80]),
        })
    ids = [f"r{i}" for i in range(rng.randint(1, 10))]
    nb = len(budgets)
    req_budgets = {rid: sorted(rng.sample(range(nb), rng.randint(0, nb)))
                   for rid in ids}
    now = 1_000_000_000 + rng.randint(0, 59_999)
    ops = []
    for _ in range(rng.randint(4, 40)):
        if rng.random() < 0.1:
            now += rng.choice([30, 1000, 30_000, 61_000, 130_000])
        rid = rng.choice(ids)
        op = {"rid": rid, "budgets": req_budgets[rid], "now": now}
        if rng.random() < 0.6:
            op.update(kind="admit",
                      worker=rng.choice(["w1"] * 8 + ["w2"]),
                      version=rng.choice(["1"] * 19 + ["0"]),
                      lease_ms=rng.choice([20, 60_000]),
                      res_nano=rng.randint(0, 800),
                      res_tokens=rng.randint(0, 120),
                      degrade=rng.random() < 0.3,
                      dres=[rng.choice([-1, rng.randint(0, 500)])
                            for _ in range(nb)])
        else:
            op.update(kind="finish",
                      approved=rng.random() < 0.7,
                      cost=rng.randint(0, 1200),
                      tokens=rng.randint(0, 150),
                      completion=rng.randbytes(rng.randint(0, 40)),
                      usage=b'{"b":["#tg:spent:1#"],"x":"' +
                      rng.randbytes(8).hex().encode() + b'"}')
        ops.append(op)
    return {"budgets": budgets, "ops": ops}


def admit_call(p, case, op):
    bs = [case["budgets"][i] for i in op["budgets"]]
    minute = op["now"] // 60_000
    keys = [p + "budgets:version", p + "req:" + op["rid"], p + "leases"]
    keys += [f"{p}b:{b['id']}:2026-11" for b in bs]
    keys += [f"{p}rate:{b['id']}:{minute}" for b in bs]
    args = [op["version"], op["worker"], op["now"], op["lease_ms"],
            op["res_nano"], op["res_tokens"], 3600, op["rid"]]
    for b in bs:
        args += [b["id"], b["limit_nano"], b["limit_tokens"], b["rpm"],
                 b["tpm"]]
    if op["degrade"]:
        args.append("standard")
        for i, b in zip(op["budgets"], bs):
            args += [b["degrade_pct"], "flex", op["dres"][i]]
    return keys, args


def finish_call(p, case, op):
    bs = [case["budgets"][i] for i in op["budgets"]]
    keys = [p + "req:" + op["rid"], p + "leases"]
    keys += [f"{p}b:{b['id']}:2026-11" for b in bs]
    args = [op["rid"], "1" if op["approved"] else "0",
            op["cost"] if op["approved"] else 0,
            op["tokens"] if op["approved"] else 0, 3600,
            op["completion"], op["usage"]]
    for b in bs:
        args += [b["id"], b["limit_nano"], b["limit_tokens"],
                 b["thresholds"]]
    return keys, args


CALLS = {"admit": admit_call, "finish": finish_call}


# ------------------------------------------------------------- the runs

def norm(reply, p):
    """Replies as comparable values: the run's key prefix (in alerts and
    reservation records) as "P:", an error element as its text."""
    if isinstance(reply, list):
        return [norm(x, p) for x in reply]
    if isinstance(reply, Exception):
        return ("error", str(reply).replace(p, "P:"))
    if isinstance(reply, bytes):
        return reply.replace(p.encode(), b"P:")
    return reply


def run_single(r, shas, p, case):
    pipe = r.pipeline(transaction=False)
    for op in case["ops"]:
        keys, args = CALLS[op["kind"]](p, case, op)
        pipe.evalsha(shas[op["kind"]], len(keys), *keys, *args)
    return [norm(x, p) for x in pipe.execute(raise_on_error=False)]


def run_batched(r, shas, p, case, rng, bmax):
    """Consecutive ops of one kind go in batches of random sizes (as the
    worker's loop forms them); returns the per-op replies in op order."""
    ops, replies, i = case["ops"], [], 0
    while i < len(ops):
        kind = ops[i]["kind"]
        n = 1
        limit = rng.randint(1, bmax)
        while n < limit and i + n < len(ops) and ops[i + n]["kind"] == kind:
            n += 1
        keys, counts, args = [], [], []
        for op in ops[i:i + n]:
            k, a = CALLS[kind](p, case, op)
            keys += k
            args += a
            counts += [len(k), len(a)]
        out = r.evalsha(shas[kind + "_batch"], len(keys), *keys, n, *counts,
                        *args)
        assert isinstance(out, list) and len(out) == n, out
        replies += [norm(x, p) for x in out]
        i += n
    return replies


def key_names(case):
    """Every key the case's calls name, without their prefix (a script
    touches only its KEYS)."""
    names = set()
    for op in case["ops"]:
        names.update(CALLS[op["kind"]]("", case, op)[0])
    return names


def dump(r, prefix, names):
    """{key without prefix: (type, value, ttl in ms)} of the keys that
    exist."""
    out = {}
    for name in sorted(names):
        key = (prefix + name).encode()
        t = r.type(key).decode()
        if t == "none":
            continue
        if t == "hash":
            v = sorted((f, norm(x, prefix))
                       for f, x in r.hgetall(key).items())
        elif t == "zset":
            v = r.zrange(key, 0, -1, withscores=True)
        else:
            v = r.get(key)
        ttl = r.pttl(key)
        out[name] = (t, v, ttl)
    return out


def same_ttl(a, b):
    if a < 0 or b < 0:
        return a == b
    return abs(a - b) < 15_000  # the two runs happen seconds apart


def setup(r, p, case):
    r.set(p + "budgets:version", "1")


def test_batched_ledger_calls_decide_as_one_call_each(r, shas):
    rng = random.Random(SEED)
    run = uuid.uuid4().hex[:8]
    t0 = time.monotonic()
    stats = {"ops": 0, "batched_ops": 0, "verdicts": {}}
    try:
        for c in range(CASES):
            case = gen_case(rng)
            pa, pb = f"tgeq:{run}:{c}:a:", f"tgeq:{run}:{c}:b:"
            setup(r, pa, case)
            setup(r, pb, case)
            single = run_single(r, shas, pa, case)
            batched = run_batched(r, shas, pb, case, rng,
                                  rng.choice([2, 4, 8, 64]))
            for k, (op, x, y) in enumerate(zip(case["ops"], single, batched)):
                assert x == y, (f"seed {SEED} case {c} op {k} {op['kind']} "
                                f"{op['rid']}: one call {x!r}, batched {y!r}")
                v = x[0] if isinstance(x, list) and x else x
                stats["verdicts"][(op["kind"], v)] = \
                    stats["verdicts"].get((op["kind"], v), 0) + 1
            names = key_names(case)
            da, db = dump(r, pa, names), dump(r, pb, names)
            assert sorted(da) == sorted(db), (f"seed {SEED} case {c}: keys "
                                              f"{sorted(da)} vs {sorted(db)}")
            for key in da:
                ta, va, la = da[key]
                tb, vb, lb = db[key]
                assert (ta, va) == (tb, vb), (f"seed {SEED} case {c} {key}: "
                                              f"{va!r} vs {vb!r}")
                assert same_ttl(la, lb), f"seed {SEED} case {c} {key} TTL"
            stats["ops"] += len(case["ops"])
        # The generator must reach the cases the batch could get wrong.
        v = stats["verdicts"]
        for want in [("admit", b"ok"), ("admit", b"rejected"),
                     ("admit", b"rate"), ("admit", b"done"),
                     ("admit", b"resume"), ("admit", b"busy"),
                     ("admit", b"stale"), ("finish", b"ok"),
                     ("finish", b"done")]:
            assert v.get(want, 0) >= 20, (want, v)
    finally:
        keys = list(r.scan_iter(match=f"tgeq:{run}:*", count=5000))
        for i in range(0, len(keys), 1000):
            r.unlink(*keys[i:i + 1000])
    print(f"seed {SEED}: {CASES} cases, {stats['ops']} requests, "
          f"{time.monotonic() - t0:.1f}s, verdicts {v}")


def test_an_error_in_one_request_stays_with_it(r, shas):
    """A request whose body raises (a non-number where a number goes) gets
    an error element; the requests around it are decided as usual."""
    p = f"tgeq:{uuid.uuid4().hex[:8]}:"
    r.set(p + "budgets:version", "1")
    case = {"budgets": [{"id": "b0", "limit_nano": 1000, "limit_tokens": -1,
                         "rpm": 0, "tpm": 0, "thresholds": "",
                         "degrade_pct": 0}], "ops": []}
    base = {"kind": "admit", "budgets": [0], "now": 1000, "worker": "w1",
            "version": "1", "lease_ms": 60000, "res_nano": 400,
            "res_tokens": 1, "degrade": False, "dres": [-1]}
    keys, counts, args = [], [], []
    for rid, res in [("x1", 400), ("x2", "nan-ish"), ("x3", 400),
                     ("x4", 400)]:
        k, a = admit_call(p, case, dict(base, rid=rid, res_nano=res))
        keys += k
        args += a
        counts += [len(k), len(a)]
    try:
        out = r.evalsha(shas["admit_batch"], len(keys), *keys, 4, *counts,
                        *args)
        assert out[0][0] == b"ok" and out[2][0] == b"ok"
        assert isinstance(out[1], redis.ResponseError), out[1]
        assert out[3][0] == b"rejected", out[3]  # 400 + 400 + 400 > 1000
    finally:
        r.delete(*list(r.scan_iter(match=p + "*")))
