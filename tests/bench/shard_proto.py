#!/usr/bin/env python3
"""A prototype of docs/scaling.md's "Past one Redis" design, against real
redis-server processes: is it exact, and what does it cost per request.

    python3 tests/bench/shard_proto.py exact         # exactness, 3 shards
    python3 tests/bench/shard_proto.py bench         # throughput tables
    python3 tests/bench/shard_proto.py bench --runs 3 --seconds 5
    python3 tests/bench/shard_proto.py order         # why a fixed order

It starts its own redis-servers (one per shard, 127.0.0.1, AOF `appendonly
yes` / `appendfsync everysec` as deploy/local/redis.sh runs it, automatic
AOF rewrites off so that a forked child does not land in one run's figures)
in a temporary directory, on free ports or on --base-port, --base-port+1,
... (env SHARD_PROTO_BASE_PORT), and stops them on exit.

The three mechanisms, each in Lua scripts that are atomic per shard:

1. One group, one shard: ADMIT reserves the worst-case cost against every
   budget the request matches, all or nothing, and writes the request record
   (the idempotency key) with a lease; FINISH settles the real cost (<= the
   reservation) and releases the rest, once (a repeated FINISH answers
   "done" with the first cost), as ledger/lua/admit.lua and finish.lua do.
2. A request that matches budgets on two shards (the company-wide budget on
   shard 0, its team's on shard s): ADMIT on each shard in a fixed shard
   order, the first being the home shard whose record names the others;
   a refusal releases what was taken. FINISH on the home is the commit
   point, then FINISH on each part. A client may die between any two steps
   or stall past its lease; a reaper resolves an expired lease on any shard
   at the home (RELEASE there is atomic: either the home committed, then the
   parts are settled with its cost, or it is released, then so are the
   parts, and a part not yet reserved gets a tombstone that refuses a late
   ADMIT).
3. Leased slices for one hot budget: a worker takes a slice of the remaining
   limit (SLICE_TAKE reserves it), admits against it in its own memory, and
   returns the unused rest with what it spent (SLICE_RETURN). A slice whose
   lease expires (its worker died) is charged in full (`lost`): never over
   the limit, exact again once reconciled from the usage events.

The run checks (a list of violations, empty when exact): a sampler process
reads every budget during the run (spent + reserved <= limit); when the
clients stop, every budget's `reserved` equals the sum of the reservations
of its shard's records still reserved, and each of those, and each the
reaper released, belongs to a request a client abandoned or stalled on; after
a final reaper pass nothing is reserved and every budget's spent equals the
sum of the costs the clients recorded as settled (the ledger equals the
usage events). tests/integration/test_shard_proto.py runs a short version.
"""

import argparse
import multiprocessing as mp
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

# ----------------------------------------------------------------- scripts

# Records: r:<id> {state reserved|done|released, lease, res, cost, keys,
# role local|home|part|tomb, home, parts}; lease set: zset `leases`;
# budgets: b:<name> {limit, spent, reserved}. Money is integer nano-USD in
# HINCRBY, as in the ledger.

COMMON = """
local function keys_match(rec_keys)
  local k = {}
  for i = 3, #KEYS do k[#k + 1] = KEYS[i] end
  return table.concat(k, ' ') == (rec_keys or '')
end
"""

# KEYS r:<id>, leases, b:... ; ARGV id, lease_deadline_ms, res, role, home,
# parts (shard numbers, space separated), ttl_s
ADMIT = """
local st = redis.call('HGET', KEYS[1], 'state')
if st then return {'dup', st} end
local res = tonumber(ARGV[3])
for i = 3, #KEYS do
  local b = redis.call('HMGET', KEYS[i], 'limit', 'spent', 'reserved')
  local limit = tonumber(b[1])
  if not limit then return redis.error_reply('no budget ' .. KEYS[i]) end
  if (tonumber(b[2]) or 0) + (tonumber(b[3]) or 0) + res > limit then
    return {'refused', KEYS[i]}
  end
end
local k = {}
for i = 3, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'reserved', ARGV[3])
  k[#k + 1] = KEYS[i]
end
redis.call('HSET', KEYS[1], 'state', 'reserved', 'lease', ARGV[2],
           'res', ARGV[3], 'keys', table.concat(k, ' '), 'role', ARGV[4],
           'home', ARGV[5], 'parts', ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return {'ok'}
"""

# KEYS r:<id>, leases, the record's b:... ; ARGV id, cost
FINISH = COMMON + """
local rec = redis.call('HMGET', KEYS[1], 'state', 'res', 'cost', 'keys')
if rec[1] == 'done' then return {'done', rec[3]} end
if rec[1] ~= 'reserved' then return {'gone', rec[1] or ''} end
if not keys_match(rec[4]) then return redis.error_reply('keys differ') end
local res, cost = tonumber(rec[2]), tonumber(ARGV[2])
if cost < 0 or cost > res then return redis.error_reply('cost > reserved') end
local rel = string.format('%d', -res)
for i = 3, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'reserved', rel)
  redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2])
end
redis.call('HSET', KEYS[1], 'state', 'done', 'cost', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
return {'ok'}
"""

# KEYS r:<id>, leases, the record's b:... ; ARGV id, now_ms (0: whatever the
# lease), ttl_s. No record: a tombstone, so that a late ADMIT is refused.
RELEASE = COMMON + """
local rec = redis.call('HMGET', KEYS[1], 'state', 'res', 'cost', 'lease',
                       'parts', 'keys')
if not rec[1] then
  redis.call('HSET', KEYS[1], 'state', 'released', 'role', 'tomb')
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {'tomb', ''}
end
if rec[1] == 'done' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'done', rec[5] or '', rec[3]}
end
if rec[1] == 'released' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'was', rec[5] or ''}
end
local now = tonumber(ARGV[2])
if now > 0 and tonumber(rec[4]) > now then return {'live', rec[5] or '', rec[4]} end
if not keys_match(rec[6]) then return redis.error_reply('keys differ') end
local rel = string.format('%d', -tonumber(rec[2]))
for i = 3, #KEYS do redis.call('HINCRBY', KEYS[i], 'reserved', rel) end
redis.call('HSET', KEYS[1], 'state', 'released')
redis.call('ZREM', KEYS[2], ARGV[1])
return {'released', rec[5] or ''}
"""

# KEYS r:<id>, leases ; ARGV id, deadline_ms: a part follows its home's lease
EXTEND = """
if redis.call('HGET', KEYS[1], 'state') ~= 'reserved' then return 0 end
redis.call('HSET', KEYS[1], 'lease', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# KEYS b:<hot>, sleases, s:<slice> ; ARGV id, need, want_max, frac_ppm,
# deadline_ms, ttl_s. The slice is frac of what is free (so slices shrink
# as the budget runs out), at most want_max, at least need.
SLICE_TAKE = """
local b = redis.call('HMGET', KEYS[1], 'limit', 'spent', 'reserved', 'lost')
local reserved = tonumber(b[3]) or 0
local free = tonumber(b[1]) - (tonumber(b[2]) or 0) - reserved -
             (tonumber(b[4]) or 0)
local need = tonumber(ARGV[2])
if free < need then return {'refused', string.format('%d', reserved)} end
local grant = math.floor(free * tonumber(ARGV[4]) / 1000000)
grant = math.max(need, math.min(grant, tonumber(ARGV[3])))
local g = string.format('%d', grant)
redis.call('HINCRBY', KEYS[1], 'reserved', g)
redis.call('HSET', KEYS[3], 'state', 'open', 'grant', g, 'lease', ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return {'ok', g}
"""

# KEYS b:<hot>, sleases, s:<slice> ; ARGV id, used
SLICE_RETURN = """
local s = redis.call('HMGET', KEYS[3], 'state', 'grant')
if s[1] ~= 'open' then return {'gone', s[1] or ''} end
if tonumber(ARGV[2]) > tonumber(s[2]) then
  return redis.error_reply('used > grant')
end
redis.call('HINCRBY', KEYS[1], 'reserved', string.format('%d', -tonumber(s[2])))
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
redis.call('HSET', KEYS[3], 'state', 'returned', 'used', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
return {'ok'}
"""

# KEYS b:<hot>, sleases, s:<slice> ; ARGV id, now_ms: an expired slice is
# charged in full (its worker may have spent any of it).
SLICE_REAP = """
local s = redis.call('HMGET', KEYS[3], 'state', 'grant', 'lease')
if s[1] ~= 'open' then redis.call('ZREM', KEYS[2], ARGV[1]) return 0 end
if tonumber(s[3]) > tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'reserved', string.format('%d', -tonumber(s[2])))
redis.call('HINCRBY', KEYS[1], 'lost', s[2])
redis.call('HSET', KEYS[3], 'state', 'expired')
redis.call('ZREM', KEYS[2], ARGV[1])
return tonumber(s[2])
"""

SCRIPTS = {"admit": ADMIT, "finish": FINISH, "release": RELEASE,
           "extend": EXTEND, "slice_take": SLICE_TAKE,
           "slice_return": SLICE_RETURN, "slice_reap": SLICE_REAP}
TTL_S = 3600
HOT = "b:hot"

# ------------------------------------------------------------------ shards


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Shard:
    """One redis-server, AOF everysec, in its own directory."""

    def __init__(self, port, root):
        self.port = port or free_port()
        self.dir = Path(root) / f"shard-{self.port}"
        self.dir.mkdir()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.dir), "--appendonly", "yes",
             "--appendfsync", "everysec", "--save", "",
             "--auto-aof-rewrite-percentage", "0",
             "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        c = redis.Redis(host="127.0.0.1", port=self.port)
        for _ in range(200):
            try:
                c.ping()
                break
            except redis.exceptions.BusyLoadingError:
                time.sleep(0.05)
            except redis.exceptions.ConnectionError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server on {self.port} exited")
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"redis-server on {self.port} not up")
        c.close()

    def cpu_s(self):
        """utime + stime of redis-server (all its threads), seconds."""
        f = Path(f"/proc/{self.proc.pid}/stat").read_text()
        f = f[f.rindex(")") + 2:].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Cluster:
    """n shards; `with Cluster(3) as c:` starts and stops them."""

    def __init__(self, n, base_port=None):
        if base_port is None:
            base_port = int(os.environ.get("SHARD_PROTO_BASE_PORT", "0"))
        self.tmp = tempfile.TemporaryDirectory(prefix="shard-proto-")
        self.shards = []
        try:
            for i in range(n):
                self.shards.append(Shard(base_port + i if base_port else 0,
                                         self.tmp.name))
            c = redis.Redis(host="127.0.0.1", port=self.shards[0].port)
            self.sha = {k: c.script_load(v) for k, v in SCRIPTS.items()}
        except BaseException:
            self.close()
            raise

    @property
    def ports(self):
        return [s.port for s in self.shards]

    def reset(self, n):
        """Empties the first n shards and loads the scripts there."""
        for s in self.shards[:n]:
            c = redis.Redis(host="127.0.0.1", port=s.port)
            c.flushall()
            for v in SCRIPTS.values():
                c.script_load(v)
            c.close()

    def cpu_s(self, n):
        return [s.cpu_s() for s in self.shards[:n]]

    def close(self):
        for s in self.shards:
            s.stop()
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Ledger:
    """One connection per shard, in whichever process uses it."""

    def __init__(self, ports, sha):
        self.r = [redis.Redis(host="127.0.0.1", port=p, decode_responses=True)
                  for p in ports]
        self.sha = sha
        self.calls = 0

    def call(self, shard, name, keys, args):
        self.calls += 1
        return self.r[shard].execute_command(
            "EVALSHA", self.sha[name], len(keys), *keys, *args)

    def release(self, shard, rid, keys, now):
        return self.call(shard, "release", [f"r:{rid}", "leases", *keys],
                         [rid, now, TTL_S])


def now_ms():
    return int(time.time() * 1000)


# ------------------------------------------------------------------ layout


GROUPS_PER_SHARD = 4
APPS = 2


def group_budgets(g, app):
    return [f"b:g{g}:team", f"b:g{g}:app{app}"]


def all_budgets(n):
    """{(shard, key)} of every budget of the grouped traffic."""
    out = {(0, "b:company")}
    for g in range(n * GROUPS_PER_SHARD):
        out.update((g % n, k) for a in range(APPS) for k in group_budgets(g, a))
    return out


def set_limits(led, n, cfg, rng):
    """Limits low enough to run out (cfg['tight']) or out of reach."""
    if not cfg["tight"]:
        for s, k in all_budgets(n):
            led.r[s].hset(k, mapping={"limit": 10 ** 17})
        return
    total = cfg["clients"] * cfg["requests"]
    mean_cost = cfg["max_res"] / 4  # res uniform in [max/10, max], cost <= res
    per_group = total / (n * GROUPS_PER_SHARD) * mean_cost
    for s, k in all_budgets(n):
        if k == "b:company":
            lim = total * cfg["cross"] * mean_cost * 0.5
        elif k.endswith(":team"):
            lim = per_group * rng.uniform(0.3, 0.9)
        else:
            lim = per_group / APPS * rng.uniform(0.3, 1.2)
        led.r[s].hset(k, mapping={"limit": int(lim)})


# ----------------------------------------------------------------- clients


class Tally:
    def __init__(self):
        self.n = 0
        self.settled = {}  # (shard, key) -> sum of settled costs
        self.counts = {}
        self.abandoned = set()  # ids a client gave up on mid-way
        self.slow = set()  # ids whose client stalled past the lease
        self.violations = []
        self.calls = 0

    def count(self, what, k=1):
        self.counts[what] = self.counts.get(what, 0) + k

    def settle(self, steps, cost):
        for s, keys in steps:
            for k in keys:
                self.settled[(s, k)] = self.settled.get((s, k), 0) + cost

    def merge(self, o):
        self.n += o.n
        self.calls += o.calls
        for k, v in o.settled.items():
            self.settled[k] = self.settled.get(k, 0) + v
        for k, v in o.counts.items():
            self.count(k, v)
        self.abandoned |= o.abandoned
        self.slow |= o.slow
        self.violations += o.violations


def do_request(led, t, rng, cfg, rid, steps):
    """One request over steps [(shard, keys)] sorted by shard: the first is
    the home. Crashes and stalls as cfg says."""
    home = steps[0][0]
    parts = " ".join(str(s) for s, _ in steps[1:])
    role0 = "local" if len(steps) == 1 else "home"
    order = list(steps)
    if "any-order" in cfg["breaks"]:
        rng.shuffle(order)
    res = rng.randint(cfg["max_res"] // 10, cfg["max_res"])
    cost = rng.randint(0, res)
    deadline = now_ms() + cfg["lease_ms"]
    taken = []
    for s, keys in order:
        role = role0 if s == home else "part"
        r = led.call(s, "admit", [f"r:{rid}", "leases", *keys],
                     [rid, deadline, res, role, home, parts, TTL_S])
        if r[0] == "ok":
            taken.append((s, keys))
            if len(taken) < len(order) and rng.random() < cfg["crash"]:
                t.abandoned.add(rid)
                t.count("crash between reservations")
                return
            continue
        if r[0] == "refused":
            t.count("refused at home" if not taken else "refused at a part")
        else:  # a tombstone: the reaper released this request already
            t.count("released by the reaper before a part")
            t.slow.add(rid)
        if "no-release" not in cfg["breaks"]:
            for ts, tkeys in reversed(taken):
                if led.release(ts, rid, tkeys, 0)[0] != "released":
                    t.slow.add(rid)  # late: the reaper was first
        return
    t.count("admitted")
    if len(steps) > 1:
        t.count("admitted across shards")
    if rng.random() < cfg["crash"]:
        t.abandoned.add(rid)
        t.count("crash before the call")
        return
    if rng.random() < cfg["stall"]:
        t.slow.add(rid)
        t.count("stalled past the lease")
        time.sleep(cfg["lease_ms"] * 1.5 / 1000)
    elif cfg["call_ms"]:
        time.sleep(rng.uniform(0, cfg["call_ms"]) / 1000)
    hs, hkeys = steps[0]
    f = led.call(hs, "finish", [f"r:{rid}", "leases", *hkeys], [rid, cost])
    if f[0] != "ok":
        t.slow.add(rid)  # a stall, or this process was not scheduled
        # The reaper released it: the call went uncharged (the lease must
        # outlast a call; the worker renews it).
        t.count("uncharged: lease expired before settling")
        for s, keys in steps[1:]:
            led.release(s, rid, keys, 0)
        return
    t.settle(steps, cost)
    if len(steps) > 1 and rng.random() < cfg["crash"]:
        t.abandoned.add(rid)
        t.count("crash after the commit")
        return
    for s, keys in steps[1:]:
        p = led.call(s, "finish", [f"r:{rid}", "leases", *keys], [rid, cost])
        if p[0] not in ("ok", "done"):
            t.violations.append(f"{rid}: part on shard {s} {p} after commit")
    if rng.random() < cfg["dup"]:
        again = led.call(hs, "finish", [f"r:{rid}", "leases", *hkeys],
                         [rid, rng.randint(0, res)])
        t.count("repeated finish")
        if again != ["done", str(cost)]:
            t.violations.append(f"{rid}: repeated finish gave {again}")


def pick_steps(rng, cfg, n):
    g = rng.randrange(n * GROUPS_PER_SHARD)
    s = g % n
    keys = group_budgets(g, rng.randrange(APPS))
    if n > 1 and rng.random() < cfg["cross"]:
        # a request of a team on another shard that the company cap matches
        g = rng.choice([h for h in range(n * GROUPS_PER_SHARD) if h % n])
        return [(0, ["b:company"]), (g % n, group_budgets(g, rng.randrange(APPS)))]
    return [(s, keys)]


def grouped_client(ports, sha, cfg, idx, barrier, q):
    t = Tally()
    t.refusal_shares = []
    try:
        _grouped_client(ports, sha, cfg, idx, barrier, t)
    except Exception as e:  # reported, so that the run does not hang
        t.violations.append(f"client {idx}: {e!r}")
    q.put(t)


def _grouped_client(ports, sha, cfg, idx, barrier, t):
    rng = random.Random(cfg["seed"] * 7919 + idx)
    led = Ledger(ports, sha)
    n = len(ports)
    barrier.wait()
    stop = time.monotonic() + cfg["seconds"]
    i = 0
    while (i < cfg["requests"] if cfg["requests"] else time.monotonic() < stop):
        i += 1
        try:
            do_request(led, t, rng, cfg, f"{idx}.{i}", pick_steps(rng, cfg, n))
        except redis.exceptions.ResponseError as e:
            t.violations.append(f"script error: {e}")
        t.n += 1
    t.calls = led.calls


def slice_client(ports, sha, cfg, idx, barrier, q):
    t = Tally()
    t.refusal_shares = []
    try:
        _slice_client(ports, sha, cfg, idx, barrier, t)
    except Exception as e:  # reported, so that the run does not hang
        t.violations.append(f"client {idx}: {e!r}")
    q.put(t)


def _slice_client(ports, sha, cfg, idx, barrier, t):
    """The hot budget: per request on Redis (cfg['slices'] false) or
    against a leased slice in this process's memory."""
    rng = random.Random(cfg["seed"] * 7919 + idx)
    led = Ledger(ports, sha)
    limit = int(led.r[0].hget(HOT, "limit"))
    barrier.wait()
    stop = time.monotonic() + cfg["seconds"]
    sid, left, used, grant, k = None, 0, 0, 0, 0
    i = 0
    while (i < cfg["requests"] if cfg["requests"] else time.monotonic() < stop):
        i += 1
        t.n += 1
        rid = f"{idx}.{i}"
        if not cfg["slices"]:
            do_request(led, t, rng, cfg, rid, [(0, [HOT])])
            continue
        res = rng.randint(cfg["max_res"] // 10, cfg["max_res"])
        cost = rng.randint(0, res)
        if res > left:
            if sid:
                r = led.call(0, "slice_return", [HOT, "sleases", f"s:{sid}"],
                             [sid, used])
                t.count("slice returned" if r[0] == "ok" else "slice expired")
                t.count("used in returned slices" if r[0] == "ok"
                        else "used in expired slices", used)
            k += 1
            sid, left, used = f"{idx}.{k}", 0, 0
            r = led.call(0, "slice_take", [HOT, "sleases", f"s:{sid}"],
                         [sid, res, cfg["slice_max"], cfg["slice_ppm"],
                          now_ms() + cfg["lease_ms"], TTL_S])
            if r[0] != "ok":
                t.count("refused")
                t.refusal_shares.append(int(r[1]) / limit)
                sid = None
                continue
            grant = left = int(r[1])
        left -= res  # admitted: the worst case is within the slice
        t.count("admitted")
        left += res - cost
        used += cost
        t.count("usage", cost)
        if rng.random() < cfg["crash"] or (idx == 0 and i in cfg["abandon_at"]):
            t.count("slice abandoned")
            t.count("grants of abandoned slices", grant)
            t.count("used in abandoned slices", used)
            sid, left, used = None, 0, 0
    if sid:
        r = led.call(0, "slice_return", [HOT, "sleases", f"s:{sid}"], [sid, used])
        t.count("slice returned" if r[0] == "ok" else "slice expired")
        t.count("used in returned slices" if r[0] == "ok"
                else "used in expired slices", used)
    t.calls = led.calls


# ------------------------------------------------------------ reaper, checks


def reap_once(led, n, now, reaped):
    """Releases (or settles) what expired on every shard; returns how many
    records it looked at."""
    seen = 0
    for s in range(n):
        for rid in led.r[s].zrangebyscore("leases", 0, now, start=0, num=500):
            seen += 1
            role, home, keys = led.r[s].hmget(f"r:{rid}", "role", "home", "keys")
            if role is None:
                led.r[s].zrem("leases", rid)
            elif role == "local":
                if led.release(s, rid, (keys or "").split(), now)[0] == "released":
                    reaped.add(rid)
            else:
                resolve(led, s, rid, int(home), keys, role, now, reaped)
        for sid in led.r[s].zrangebyscore("sleases", 0, now, start=0, num=500):
            seen += 1
            led.call(s, "slice_reap", [HOT, "sleases", f"s:{sid}"], [sid, now])
    return seen


def resolve(led, s, rid, home, keys, role, now, reaped):
    """A cross-shard request's fate is decided at its home, atomically;
    then every part follows it."""
    hkeys = keys if role == "home" else led.r[home].hget(f"r:{rid}", "keys")
    r = led.release(home, rid, (hkeys or "").split(), now)
    if r[0] == "live":
        led.call(s, "extend", [f"r:{rid}", "leases"], [rid, r[2]])
        return
    parts = [int(p) for p in r[1].split()] if r[0] != "tomb" else [s]
    if r[0] == "released":
        reaped.add(rid)
    for p in parts:
        pkeys = (led.r[p].hget(f"r:{rid}", "keys") or "").split()
        if r[0] == "done":
            led.call(p, "finish", [f"r:{rid}", "leases", *pkeys], [rid, r[2]])
        else:
            led.release(p, rid, pkeys, 0)


def reaper_proc(ports, sha, cfg, stop_evt, q):
    led = Ledger(ports, sha)
    reaped = set()
    while not stop_evt.is_set():
        reap_once(led, len(ports), now_ms(), reaped)
        stop_evt.wait(cfg["reap_every_s"])
    q.put(reaped)


def sampler_proc(ports, sha, budgets, stop_evt, q):
    """spent + reserved (+ lost) <= limit, read on every budget while the
    clients run (one HMGET is atomic on its shard)."""
    led = Ledger(ports, sha)
    samples, bad = 0, []
    while not stop_evt.is_set():
        for s, k in budgets:
            v = led.r[s].hmget(k, "limit", "spent", "reserved", "lost")
            lim, used = int(v[0]), sum(int(x or 0) for x in v[1:])
            samples += 1
            if used > lim:
                bad.append(f"sampled {s}:{k} {used} > {lim}")
        stop_evt.wait(0.005)
    q.put((samples, bad))


def records(led, s):
    """{id: (state, res, keys)} of every request record on shard s."""
    out = {}
    ids = [k[2:] for k in led.r[s].scan_iter("r:*", count=1000)]
    for i in range(0, len(ids), 500):
        p = led.r[s].pipeline(transaction=False)
        for rid in ids[i:i + 500]:
            p.hmget(f"r:{rid}", "state", "res", "keys")
        for rid, v in zip(ids[i:i + 500], p.execute()):
            out[rid] = v
    return out


def check_books(led, n, budgets, t, reaped):
    """At rest, before the final reaper pass: each budget's reserved is the
    sum of its records' reservations, and only abandoned or stalled requests
    hold (or held, until the reaper) one."""
    bad = []
    excused = t.abandoned | t.slow
    for s in range(n):
        held = {}
        for rid, (state, res, keys) in records(led, s).items():
            if state != "reserved":
                continue
            for k in (keys or "").split():
                held[k] = held.get(k, 0) + int(res)
            if rid not in excused:
                bad.append(f"shard {s}: {rid} still reserved, not abandoned")
        for bs, k in budgets:
            got = int(led.r[s].hget(k, "reserved") or 0) if bs == s else None
            if bs == s and got != held.get(k, 0):
                bad.append(f"shard {s}: {k} reserved {got} != records {held.get(k, 0)}")
    leaked = reaped - excused
    if leaked:
        bad.append(f"the reaper released {len(leaked)} reservations of "
                   f"requests nobody abandoned, e.g. {sorted(leaked)[:3]}")
    return bad


def final_reap(led, n):
    reaped, passes = set(), 0
    while reap_once(led, n, 2 ** 62, reaped):
        passes += 1
        if passes > 1000:
            return reaped, ["the reaper does not converge"]
    return reaped, []


def check_ledger(led, budgets, t):
    bad = []
    for s, k in sorted(budgets):
        v = led.r[s].hmget(k, "limit", "spent", "reserved")
        lim, spent, res = int(v[0]), int(v[1] or 0), int(v[2] or 0)
        if res:
            bad.append(f"{s}:{k} reserved {res} after the reaper")
        if spent > lim:
            bad.append(f"{s}:{k} spent {spent} > limit {lim}")
        if spent != t.settled.get((s, k), 0):
            bad.append(f"{s}:{k} spent {spent} != settled by clients "
                       f"{t.settled.get((s, k), 0)}")
    return bad


# -------------------------------------------------------------------- runs


DEFAULTS = {"clients": 4, "requests": 0, "seconds": 3.0, "seed": 1,
            "max_res": 100_000, "cross": 0.0, "crash": 0.0, "stall": 0.0,
            "dup": 0.0, "call_ms": 0.0, "lease_ms": 30_000, "tight": False,
            "breaks": (), "reap_every_s": 0.05, "sample": False,
            "slices": False, "slice_max": 100 * 55_000, "slice_ppm": 5000,
            "hot_limit": 10 ** 17, "abandon_at": ()}


def run(cluster, n, mode="grouped", **kw):
    """One run on the first n shards; returns a report dict."""
    cfg = dict(DEFAULTS, **kw)
    cluster.reset(n)
    ports = cluster.ports[:n]
    led = Ledger(ports, cluster.sha)
    rng = random.Random(cfg["seed"])
    if mode == "grouped":
        budgets = all_budgets(n)
        set_limits(led, n, cfg, rng)
        target = grouped_client
    else:
        budgets = {(0, HOT)}
        led.r[0].hset(HOT, mapping={"limit": cfg["hot_limit"]})
        target = slice_client
    ctx = mp.get_context("fork")
    q, stop_evt = ctx.Queue(), ctx.Event()
    barrier = ctx.Barrier(cfg["clients"] + 1)
    clients = [ctx.Process(target=target,
                           args=(ports, cluster.sha, cfg, i, barrier, q))
               for i in range(cfg["clients"])]
    helpers = [ctx.Process(target=reaper_proc,
                           args=(ports, cluster.sha, cfg, stop_evt, q))]
    if cfg["sample"]:
        helpers.append(ctx.Process(target=sampler_proc, args=(
            ports, cluster.sha, sorted(budgets), stop_evt, q)))
    for p in clients + helpers:
        p.start()
    barrier.wait()
    cpu0, t0 = cluster.cpu_s(n), time.monotonic()
    t = Tally()
    t.refusal_shares = []
    for _ in clients:
        o = q.get(timeout=600)
        t.merge(o)
        t.refusal_shares += getattr(o, "refusal_shares", [])
    elapsed = time.monotonic() - t0
    cpu1 = cluster.cpu_s(n)
    for p in clients:
        p.join()
    stop_evt.set()
    reaped, samples = set(), 0
    for _ in helpers:
        got = q.get()
        if isinstance(got, set):
            reaped = got
        else:
            samples, bad = got
            t.violations += bad
    for p in helpers:
        p.join()
    rep = {"mode": mode, "shards": n, "cfg": cfg, "requests": t.n,
           "seconds": elapsed, "rps": t.n / elapsed,
           "cpu_per_1k": [(b - a) / t.n * 1000 for a, b in zip(cpu0, cpu1)],
           "calls_per_req": t.calls / t.n, "counts": t.counts,
           "samples": samples, "reaped_during": len(reaped)}
    if mode == "grouped":
        t.violations += check_books(led, n, budgets, t, reaped)
        final, bad = final_reap(led, n)
        rep["reaped_after"] = len(final)
        t.violations += bad + check_ledger(led, budgets, t)
    else:
        t.violations += check_slices(led, cfg, t, rep)
    rep["violations"] = t.violations
    return rep


def check_slices(led, cfg, t, rep):
    final_reap(led, 1)
    v = led.r[0].hmget(HOT, "limit", "spent", "reserved", "lost")
    lim, spent, res, lost = (int(x or 0) for x in v)
    c = t.counts
    bad = []
    usage = c.get("usage", 0)
    if not cfg["slices"]:
        usage = sum(t.settled.values())
        if spent != usage:
            bad.append(f"hot spent {spent} != settled {usage}")
    elif spent != c.get("used in returned slices", 0):
        bad.append(f"hot spent {spent} != used in returned slices "
                   f"{c.get('used in returned slices', 0)}")
    if res:
        bad.append(f"hot reserved {res} after the reaper")
    if usage > lim or spent + lost > lim:
        bad.append(f"hot usage {usage} / charged {spent + lost} > limit {lim}")
    if usage > spent + lost:
        bad.append(f"hot usage {usage} > charged {spent} + {lost}")
    rep["hot"] = {"limit": lim, "spent": spent, "lost": lost, "usage": usage,
                  "unused_share": (lim - spent - lost) / lim,
                  "usage_share": usage / lim,
                  "refusals": c.get("refused", 0) + c.get("refused at home", 0),
                  "in_slices_at_refusal_max": max(t.refusal_shares, default=0),
                  "in_slices_at_refusal_mean": statistics.mean(t.refusal_shares)
                  if t.refusal_shares else 0}
    return bad


def order_scenario(cluster, ordered):
    """Two requests, each matching budget A (shard 0) and B (shard 1), each
    budget with room for one of them, interleaved step by step. In a fixed
    order one of them is admitted; in opposite orders each takes one budget
    and is refused the other: both refused though one fits. Returns how many
    were admitted."""
    cluster.reset(2)
    led = Ledger(cluster.ports[:2], cluster.sha)
    led.r[0].hset("b:A", mapping={"limit": 100})
    led.r[1].hset("b:B", mapping={"limit": 100})
    plans = {"x": [(0, ["b:A"]), (1, ["b:B"])], "y": [(0, ["b:A"]), (1, ["b:B"])]}
    if not ordered:
        plans["y"].reverse()
    taken = {"x": [], "y": []}
    alive = {"x": True, "y": True}
    dl = now_ms() + 30_000
    for step in range(2):
        refused = []
        for rid in ("x", "y"):  # both try before either hears back
            if not alive[rid]:
                continue
            s, keys = plans[rid][step]
            r = led.call(s, "admit", [f"r:{rid}", "leases", *keys],
                         [rid, dl, 60, "home" if s == 0 else "part", 0, "1",
                          TTL_S])
            if r[0] == "ok":
                taken[rid].append((s, keys))
            else:
                refused.append(rid)
        for rid in refused:  # then each releases what it took
            alive[rid] = False
            for ts, tkeys in taken[rid]:
                led.release(ts, rid, tkeys, 0)
    return sum(alive.values())


# ------------------------------------------------------------------ output


def show(rep):
    cpu = rep["cpu_per_1k"]
    return (f"{rep['requests']:7d} req {rep['rps']:7.0f} req/s  redis "
            f"{sum(cpu):.4f} CPU-s/1k ({' + '.join(f'{c:.4f}' for c in cpu)})"
            f"  {rep['calls_per_req']:.2f} calls/req")


EXACT = {"clients": 6, "requests": 400, "tight": True, "cross": 0.3,
         "crash": 0.03, "stall": 0.01, "dup": 0.05, "call_ms": 2,
         "lease_ms": 300, "sample": True}
EXACT_SLICES = {"clients": 4, "requests": 600, "crash": 0.002,
                "call_ms": 0, "lease_ms": 300, "sample": True,
                "hot_limit": 4 * 600 * 25_000 * 6 // 10,
                "slice_max": 40 * 55_000, "abandon_at": (100, 300)}


def cmd_exact(args):
    breaks = tuple(args.breaks.split(",")) if args.breaks else ()
    bad = 0
    with Cluster(3, args.base_port) as c:
        rep = run(c, 3, seed=args.seed, breaks=breaks, **EXACT)
        print("grouped, 3 shards:", show(rep))
        print("  counts:", rep["counts"], "reaped during/after:",
              rep["reaped_during"], rep["reaped_after"], "samples:",
              rep["samples"])
        for v in rep["violations"][:20]:
            print("  VIOLATION", v)
        bad += len(rep["violations"])
        for slices in (False, True):
            rep = run(c, 1, "hot", seed=args.seed, slices=slices,
                      **EXACT_SLICES)
            print(f"hot budget, slices={slices}:", show(rep))
            print("  ", rep["hot"], rep["counts"])
            for v in rep["violations"][:20]:
                print("  VIOLATION", v)
            bad += len(rep["violations"])
    print("exact" if not bad else f"{bad} VIOLATIONS")
    return 1 if bad else 0


def cmd_order(args):
    with Cluster(2, args.base_port) as c:
        for ordered in (True, False):
            print(f"fixed order {ordered}: admitted {order_scenario(c, ordered)} of 2"
                  " (room for 1)")
    return 0


def cmd_bench(args):
    configs = [
        ("grouped", 1, {"cross": 0.0}),
        ("grouped", 2, {"cross": 0.0}),
        ("grouped", 3, {"cross": 0.0}),
        ("grouped", 2, {"cross": 0.1}),
        ("grouped", 2, {"cross": 0.5}),
        ("grouped", 3, {"cross": 0.1}),
        ("hot", 1, {"slices": False}),
        ("hot", 1, {"slices": True}),
    ]
    out = []
    with Cluster(3, args.base_port) as c:
        for mode, n, kw in configs:
            reps = [run(c, n, mode, clients=args.clients, seconds=args.seconds,
                        seed=k + 1, **kw) for k in range(args.runs)]
            bad = [v for r in reps for v in r["violations"]]
            rps = statistics.median(r["rps"] for r in reps)
            cpu = statistics.median(sum(r["cpu_per_1k"]) for r in reps)
            calls = statistics.median(r["calls_per_req"] for r in reps)
            name = (f"{mode} {n} shard(s) " +
                    " ".join(f"{k}={v}" for k, v in kw.items()))
            line = (f"{name:36s} {rps:7.0f} req/s  redis {cpu:.4f} CPU-s/1k"
                    f"  {calls:.2f} calls/req  runs: " +
                    ", ".join(f"{r['rps']:.0f}/{sum(r['cpu_per_1k']):.4f}"
                              for r in reps) +
                    ("" if not bad else f"  {len(bad)} VIOLATIONS"))
            print(line, flush=True)
            out.append(bad)
    return 1 if any(out) else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("exact", "bench", "order"))
    ap.add_argument("--base-port", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--breaks", default="",
                    help="no-release,any-order: take a mechanism out")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    return {"exact": cmd_exact, "bench": cmd_bench, "order": cmd_order}[
        args.what](args)


if __name__ == "__main__":
    sys.exit(main())
