#!/usr/bin/env python3
"""Charge-back from the tollgate usage topic: cost and tokens per tag value.

Reads tollgate.usage (the audit record, one event per request; see
docs/usage-events.md and schema/usage.v1.schema.json) with a Kafka consumer
group, counts each requestId once, and sums per value of one tag
(costCenter by default):

    python3 examples/usage_consumer.py --brokers 127.0.0.1:19092 --once
    python3 examples/usage_consumer.py --brokers b1:9093 --tag applicationId \
        -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 \
        -X sasl.username=chargeback -X sasl.password=...

--once reads to the end of every partition, prints the totals and exits;
without it the consumer keeps running and prints the totals every
--report-every seconds and on Ctrl-C. Offsets are committed after the
events are counted, so a restarted consumer continues where it stopped
(and counts from zero: keep the totals elsewhere if you need them across
restarts, or use `tollgate-ledger report`, which replays the whole topic).

Money is integer nano-USD in the events; it is converted to USD here with
Decimal, exactly. Needs confluent-kafka (pip install confluent-kafka).
"""

import argparse
import json
import signal
import sys
import time
import uuid
from collections import OrderedDict, defaultdict
from decimal import Decimal

NANO_PER_USD = Decimal(1_000_000_000)
SCHEMA = "tollgate.usage.v1"


def nano_to_usd(nano):
    """Integer nano-USD to an exact Decimal in USD: 10320 -> 0.00001032."""
    return (Decimal(nano) / NANO_PER_USD).normalize()


class SeenIds:
    """The requestIds already counted, bounded: duplicates are byte-identical
    redeliveries of one request (a worker restarted before committing), and
    they arrive within minutes of the first copy, not weeks later."""

    def __init__(self, capacity=1_000_000):
        self.capacity = capacity
        self._ids = OrderedDict()

    def add(self, request_id):
        """True the first time an id is seen, False for a duplicate."""
        if request_id in self._ids:
            self._ids.move_to_end(request_id)
            return False
        self._ids[request_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True


class UsageTotals:
    """Sums of usage events per value of one tag."""

    def __init__(self, tag="costCenter"):
        self.tag = tag
        self.seen = SeenIds()
        self.duplicates = 0
        self.skipped = 0
        self.rows = defaultdict(lambda: {
            "requests": 0, "approved": 0, "rejected_budget": 0,
            "invalid": 0, "failed": 0, "inputTokens": 0,
            "outputTokens": 0, "costNanoUsd": 0,
        })

    def add_message(self, value):
        """Counts one Kafka message value (bytes). Returns True if it was
        counted, False if skipped (not a usage event) or a duplicate."""
        try:
            event = json.loads(value)
        except (TypeError, ValueError):
            self.skipped += 1
            return False
        return self.add(event)

    def add(self, event):
        if not isinstance(event, dict) or event.get("schema") != SCHEMA:
            self.skipped += 1
            return False
        if not self.seen.add(event["requestId"]):
            self.duplicates += 1
            return False
        key = (event.get("tags") or {}).get(self.tag, "(none)")
        row = self.rows[key]
        row["requests"] += 1
        row[event["decision"]] = row.get(event["decision"], 0) + 1
        # costNanoUsd is 0 unless approved; tokens are what Bedrock billed.
        row["costNanoUsd"] += event["costNanoUsd"]
        row["inputTokens"] += event["inputTokens"]
        row["outputTokens"] += event["outputTokens"]
        return True

    def total_nano(self):
        return sum(r["costNanoUsd"] for r in self.rows.values())

    def report(self, out=sys.stdout):
        header = (f"{self.tag:<24} {'requests':>9} {'approved':>9} "
                  f"{'rejected':>9} {'invalid':>8} {'failed':>7} "
                  f"{'in tokens':>11} {'out tokens':>11} {'USD':>16}")
        print(header, file=out)
        for key in sorted(self.rows, key=lambda k: -self.rows[k]["costNanoUsd"]):
            r = self.rows[key]
            print(f"{key:<24} {r['requests']:>9} {r['approved']:>9} "
                  f"{r['rejected_budget']:>9} {r['invalid']:>8} "
                  f"{r['failed']:>7} {r['inputTokens']:>11} "
                  f"{r['outputTokens']:>11} "
                  f"{nano_to_usd(r['costNanoUsd']):>16f}", file=out)
        print(f"{'total':<24} {'':>9} {'':>9} {'':>9} {'':>8} {'':>7} "
              f"{'':>11} {'':>11} {nano_to_usd(self.total_nano()):>16f}",
              file=out)
        if self.duplicates or self.skipped:
            print(f"({self.duplicates} duplicate events ignored, "
                  f"{self.skipped} messages that are not usage events)",
                  file=out)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--brokers", required=True, help="bootstrap servers")
    p.add_argument("--topic", default="tollgate.usage")
    p.add_argument("--group", default=None,
                   help="consumer group (default: a new one per run, "
                        "reading from the beginning)")
    p.add_argument("--tag", default="costCenter",
                   help="tag to group by (default costCenter)")
    p.add_argument("--once", action="store_true",
                   help="stop at the end of every partition")
    p.add_argument("--report-every", type=float, default=60.0,
                   help="seconds between reports when not --once")
    p.add_argument("-X", dest="props", action="append", default=[],
                   metavar="PROP=VALUE", help="librdkafka property")
    return p.parse_args(argv)


def consumer_config(args):
    conf = {
        "bootstrap.servers": args.brokers,
        "group.id": args.group or f"usage-consumer-{uuid.uuid4().hex[:8]}",
        # Only events of committed transactions; the default for tollgate.
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        # Commit after counting, not before.
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    }
    for prop in args.props:
        key, sep, value = prop.partition("=")
        if not sep:
            sys.exit(f"-X {prop}: expected PROP=VALUE")
        conf[key] = value
    return conf


def main(argv=None):
    from confluent_kafka import Consumer, KafkaError, KafkaException

    args = parse_args(argv)
    totals = UsageTotals(args.tag)
    consumer = Consumer(consumer_config(args))
    stop = False
    eof = set()
    assigned = set()

    def on_assign(c, partitions):
        assigned.update((p.topic, p.partition) for p in partitions)

    def on_signal(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    consumer.subscribe([args.topic], on_assign=on_assign)
    last_report = time.monotonic()
    try:
        while not stop:
            msgs = consumer.consume(num_messages=500, timeout=1.0)
            for msg in msgs:
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        eof.add((msg.topic(), msg.partition()))
                        continue
                    raise KafkaException(msg.error())
                eof.discard((msg.topic(), msg.partition()))
                totals.add_message(msg.value())
            if msgs:
                consumer.commit(asynchronous=False)
            if args.once and assigned and eof >= assigned:
                break
            if not args.once and time.monotonic() - last_report >= args.report_every:
                totals.report()
                last_report = time.monotonic()
    finally:
        consumer.close()
    totals.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
