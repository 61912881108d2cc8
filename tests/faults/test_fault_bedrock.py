"""Bedrock storms, one after another, on a running stream: 50 % throttling
for 20 s, then every call answered 503 ServiceUnavailableException for 10 s,
then answers slower than --request-timeout-ms. Throttling slows the workers
(a per-model rate learned from the throttles; throttled calls wait for it
and do not use up attempts); a request that runs out of attempts on other
errors ends `failed` with the AWS error and its reservation released; a
call that timed out is not charged (the worker never learnt its usage).
"""

from faultkit import report, run_faults, worst
from tgstack import Sim

N, RATE = 900, 20
TIMEOUT_MS = 1500


def test_bedrock_storms(tmp_path, brokers, topics, ledger_redis):
    sim = Sim("--latency", "uniform:50:500")
    phases = [
        (2, "throttle 50 %", dict(throttleRate=0.5)),
        (22, "503 100 %", dict(throttleRate=0,
                               errorRates={"ServiceUnavailableException": 1})),
        (32, "slow", dict(errorRates={}, latency=f"fixed:{TIMEOUT_MS + 1000}")),
        (40, "calm", dict(latency="uniform:50:500")),
    ]

    def phase(knobs):
        return lambda: sim.config(**knobs)

    try:
        figures, peaks, logs = run_faults(
            tmp_path, brokers, topics, ledger_redis, N, RATE,
            [(at, label, phase(knobs)) for at, label, knobs in phases],
            sim=sim, worker_args=["--request-timeout-ms", str(TIMEOUT_MS)],
            id_prefix="bs", verify_timeout=100)
        by_type = sim.stats()["byErrorType"]
    finally:
        sim.stop()
    storm = {k: v for k, v in peaks.items() if k != "calm"}
    # Each storm reached the workers. Fewer calls than requests meet it:
    # the rate each worker learns from the throttles paces its calls (the
    # point of it), through the 503 storm too.
    assert by_type.get("ThrottlingException", 0) >= 20, by_type
    assert by_type.get("ServiceUnavailableException", 0) >= 10, by_type
    failed = figures["decisions"].get("failed", 0)
    report("Bedrock storms: 50 % throttling 20 s, then 100 % 503 for 10 s, "
           f"then answers past the {TIMEOUT_MS} ms timeout for 8 s",
           figures, worst(storm.values()),
           f"{by_type.get('ThrottlingException', 0)} throttled, "
           f"{by_type.get('ServiceUnavailableException', 0)} 503 answers; "
           f"{failed} requests failed after their attempts; "
           f"{figures['calls']} Bedrock calls")
