"""Real-time analytics: simulator rate, detector throughput against plain pandas, and end to end.

Three parts, each printed as a table with its ratios:

1. The simulator: ``mk.analytics.simulate_sales(100_000, seed=13)`` in sales per second, and
   ``SalesSimulation.events()`` (the SaleRecorded events, made lazily) in events per second.
2. The detector over those 100,000 sales: ``mk.analytics.FraudDetector`` with its in-memory
   state (all four rules; and one rule at a time) and ``mk.analytics.detect_fraud``, in sales
   per second, against a plain vectorised pandas pass that finds the same sales for two rules
   (``card_burst``: a groupby and a rolling count over time per card; ``new_customer_high_amount``:
   each customer's first sale). The pandas passes apply one rule each, so each is compared with
   the detector applying that rule alone (``kinds=(rule,)``). The detector keeps per-card state
   and goes sale by sale, as it must on a stream; pandas sees the whole day at once.
3. End to end on the embedded AWS: the same N sales (default 2,000, from
   ``simulate_sales(N, seed=13)``) through the two paths the Fraud domain reads:

   - SQS: ``mk.events.publish`` to SalesEventBus, subscribed by the Fraud domain, drained while
     publishing by ``mk.consumers.run`` (in runs of 20 handler calls) with
     ``mk.analytics.fraud_handler`` (DynamoDB state);
   - Kinesis: ``mk.analytics.record_events`` to a stream (partitioned by card),
     read while recording by ``mk.analytics.KinesisRunner`` with
     ``fraud_handler(..., event_source="kinesis")`` (DynamoDB state).

   Both handlers publish ``FraudSuspected`` to FraudEventBus, which a collecting queue subscribes
   to. Both paths send in calls of ``--chunk`` events. A sale's publish time is taken just
   before the call that sends it, its handling time when the handler first sees it; the script
   prints events per second end to end (first publish to last sale handled), the publish-to-
   handler latency p50 / p95 / p99 over every sale, and Kinesis / SQS ratios.

Rounds alternate the order of the things compared (A B, B A, ...) so that machine noise and
server warm-up hit them alike; rates are medians of the rounds. The script fails (exit status 1)
unless the pandas passes suspect exactly the detector's sales for their rules, and on each path
every sale was handled at least once and the FraudSuspected events collected are exactly the
suspicions of the in-memory detector over the same sales.

The server runs in a process of its own, as under `make lab` (and as AWS is remote), so that its
work does not compete with the client's for one interpreter.
Run it with `.venv/bin/python bench/analytics.py` (about four minutes), `--quick` for a smoke run.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from consume import Round, percentile
from publish import BUS, embedded_server_process, measure

import meshkit as mk

SEED = 13
FRAUD_BUS = "FraudEventBus"
SQS, KINESIS = "SQS", "Kinesis"
RULES = ("card_burst", "new_customer_high_amount")


# -- 1 and 2: in memory ---------------------------------------------------------------------------


def pandas_card_burst(sales: pd.DataFrame, rules: mk.analytics.FraudThresholds) -> set[str]:
    """Sales of a card with at least ``burst_sales`` of its sales within ``burst_window``
    (limit included) at or before some later sale of the card: a rolling count per card."""
    frame = sales[["sale_id", "card_id", "time"]].sort_values(["time", "sale_id"])
    frame = frame.sort_values("card_id", kind="stable").reset_index(drop=True)
    counts = (
        frame.set_index("time")
        .groupby("card_id", sort=False)["sale_id"]
        .rolling(rules.burst_window, closed="both")
        .count()
    )
    trips = counts.to_numpy() >= rules.burst_sales
    # A sale is suspected when a tripping sale of its card follows it within the window.
    trip_time = frame["time"].where(trips)
    next_trip = trip_time.groupby(frame["card_id"], sort=False).bfill()
    suspected = (next_trip - frame["time"]) <= rules.burst_window
    return set(frame.loc[suspected.to_numpy(), "sale_id"])


def pandas_new_customer(sales: pd.DataFrame, rules: mk.analytics.FraudThresholds) -> set[str]:
    """Each customer's first sale (in time order), when at least ``high_amount``."""
    frame = sales.sort_values(["time", "sale_id"])
    first = frame.drop_duplicates("customer_id", keep="first")
    return set(first.loc[first["amount"] >= rules.high_amount, "sale_id"])


PANDAS_PASSES: dict[str, Callable[[pd.DataFrame, mk.analytics.FraudThresholds], set[str]]] = {
    "card_burst": pandas_card_burst,
    "new_customer_high_amount": pandas_new_customer,
}


def suspected_sales(suspicions: list[mk.analytics.Suspicion]) -> set[str]:
    return {sale_id for s in suspicions for sale_id in s.sale_ids}


def in_memory(count: int, rounds: int) -> bool:
    """Parts 1 and 2; return True if a pandas pass disagreed with the detector."""
    simulation = mk.analytics.simulate_sales(count, seed=SEED)
    sales, stores = simulation.sales, simulation.stores
    rules = mk.analytics.FRAUD_THRESHOLDS
    found: dict[str, set[str]] = {}

    def simulate() -> int:
        mk.analytics.simulate_sales(count, seed=SEED)
        return 0

    def generate() -> int:
        return sum(1 for _ in simulation.events())

    seconds, _ = measure({"simulate_sales": simulate, "events()": generate}, rounds)
    print(f"\n{count:,} sales, medians of {rounds} alternating rounds")
    print(f"{'simulator':<44}{'per second':>14}")
    for name, label in (("simulate_sales", "sales"), ("events()", "events")):
        rate = count / statistics.median(seconds[name])
        print(f"{f'{name}, {label}':<44}{rate:>14,.0f}")

    def detector(kinds: tuple[str, ...]) -> Callable[[], int]:
        def run() -> int:
            result = mk.analytics.FraudDetector(stores, kinds=kinds).process(sales)
            if len(kinds) == 1:
                found[f"detector {kinds[0]}"] = suspected_sales(result)
            return len(result)

        return run

    def pandas_pass(rule: str) -> Callable[[], int]:
        def run() -> int:
            found[f"pandas {rule}"] = PANDAS_PASSES[rule](sales, rules)
            return len(found[f"pandas {rule}"])

        return run

    approaches: dict[str, Callable[[], int]] = {
        "FraudDetector, all four rules": detector(mk.analytics.FRAUD_KINDS),
        "detect_fraud, all four rules": lambda: len(mk.analytics.detect_fraud(simulation)),
    }
    for rule in RULES:
        approaches[f"FraudDetector, {rule} only"] = detector((rule,))
        approaches[f"pandas, {rule}"] = pandas_pass(rule)
    seconds, _ = measure(approaches, rounds)
    rate = {name: count / statistics.median(times) for name, times in seconds.items()}
    print(f"\n{'detector (in-memory state)':<44}{'sales/s':>14}{'µs per sale':>14}")
    for name in approaches:
        print(f"{name:<44}{rate[name]:>14,.0f}{1e6 / rate[name]:>14,.1f}")
    print()
    failing = False
    for rule in RULES:
        ours, theirs = found[f"detector {rule}"], found[f"pandas {rule}"]
        ratio = rate[f"pandas, {rule}"] / rate[f"FraudDetector, {rule} only"]
        same = "same" if ours == theirs else "DIFFERENT"
        print(
            f"{f'pandas / FraudDetector, {rule}:':<55}{ratio:>7.1f}x  "
            f"({len(ours)} sales suspected by the detector, {len(theirs)} by pandas: {same})"
        )
        if ours != theirs:
            failing = True
            print(
                f"FAIL: {rule}: only the detector: {sorted(ours - theirs)[:5]}, "
                f"only pandas: {sorted(theirs - ours)[:5]}"
            )
    return failing


# -- 3: end to end -------------------------------------------------------------------------------


@dataclass
class Path(Round):
    """One path's round: Round's tally, with the fraud handler behind the noting handler."""

    source: str = "sqs"
    inner: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None
    invocations: int = 0
    item_failures: int = 0
    suspicions: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen = time.perf_counter()
        for record in event["Records"]:
            if self.source == "sqs":
                envelope = json.loads(record["body"])
            else:
                envelope = json.loads(base64.b64decode(record["kinesis"]["data"]))
            key = envelope["detail"]["metadata"]["idempotency_key"]
            if key in self.handled:
                self.duplicates += 1
            else:
                self.handled[key] = seen
        assert self.inner is not None
        response = self.inner(event, context)
        self.invocations += 1
        self.item_failures += len(response.get("batchItemFailures", []))
        self.last_handled = time.perf_counter()
        return response


def chunks(simulation: mk.analytics.SalesSimulation, size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for event in simulation.events():
        chunk.append(event)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def send_all(result: Path, simulation: mk.analytics.SalesSimulation, chunk: int, send) -> None:
    result.first_publish = time.perf_counter()
    for events in chunks(simulation, chunk):
        sent_at = time.perf_counter()
        send(events)
        result.chunk_seconds.append((len(events), time.perf_counter() - sent_at))
        for event in events:
            result.published[event.idempotency_key] = sent_at
    result.last_publish_done = time.perf_counter()


def publish_sales(events: list[Any]) -> None:
    outcome = mk.events.publish(BUS, events, record=False)
    if not outcome.ok:
        raise RuntimeError(f"{len(outcome.failed)} sale(s) not accepted by {BUS}")


def collect_suspicions(result: Path, queue_url: str) -> None:
    """Drain the collecting queue: every FraudSuspected the handlers published."""

    def note(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            detail = json.loads(record["body"])["detail"]["data"]
            result.suspicions[detail["suspicion_id"]] = tuple(detail["sale_ids"])

    mk.consumers.run(note, queue_url, wait_time_s=1, time_budget_s=120)


def drain_sqs(
    result: Path, queue_url: str, count: int, deadline: float, stop: threading.Event
) -> None:
    """As bench/consume.py's drain, but runs end after a number of handler calls rather than at
    a time slice: a run whose time budget ends in the middle of a call leaves that call's
    messages in the queue until their visibility timeout (30 s) ends, and this handler's calls
    take long enough for that to happen often. The time budget only bounds how long a run waits
    for messages that do not come (a publisher that failed)."""
    while result.processed + result.dead_lettered < count and not stop.is_set():
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        summary = mk.consumers.run(
            result.handler,
            queue_url,
            batch_size=10,
            wait_time_s=1,
            time_budget_s=min(left, 60),
            max_batches=20,
            max_messages=count - result.processed - result.dead_lettered,
        )
        result.processed += summary.processed
        result.failed += summary.failed
        result.dead_lettered += summary.dead_lettered


def sqs_round(label: str, simulation, chunk: int, timeout_s: float) -> Path:
    table = f"BenchDetector-{label}"
    mk.analytics.create_detector_table(name=table)
    result = Path(
        source="sqs",
        inner=mk.analytics.fraud_handler(simulation, table_name=table, bus=FRAUD_BUS),
    )
    count = len(simulation.sales)
    sub = mk.subscriptions.subscribe(
        "fraud",
        bus=BUS,
        pattern={"source": ["sales.domain"], "detail-type": ["SaleRecorded"]},
        name=f"bench-{label}",
    )
    collector = mk.subscriptions.subscribe(
        "bench", bus=FRAUD_BUS, pattern={"source": ["fraud.domain"]}, name=f"collect-{label}"
    )
    try:
        stop = threading.Event()
        deadline = time.perf_counter() + timeout_s
        runner = threading.Thread(
            target=drain_sqs, args=(result, sub.queue_url, count, deadline, stop)
        )
        runner.start()
        result.drain_started = time.perf_counter()
        try:
            send_all(result, simulation, chunk, publish_sales)
        except BaseException:
            stop.set()
            raise
        finally:
            runner.join()
        collect_suspicions(result, collector.queue_url)
    finally:
        mk.subscriptions.unsubscribe("fraud", bus=BUS, name=f"bench-{label}", force=True)
        mk.subscriptions.unsubscribe("bench", bus=FRAUD_BUS, name=f"collect-{label}", force=True)
        mk.analytics.delete_detector_table(name=table)
    return result


def kinesis_round(label: str, simulation, chunk: int, timeout_s: float) -> Path:
    table, stream = f"BenchDetector-{label}", f"bench-sales-{label}"
    mk.analytics.create_detector_table(name=table)
    arn = mk.analytics.create_stream(stream, domain="sales")
    result = Path(
        source="kinesis",
        inner=mk.analytics.fraud_handler(
            simulation, event_source="kinesis", table_name=table, bus=FRAUD_BUS
        ),
    )
    count = len(simulation.sales)
    collector = mk.subscriptions.subscribe(
        "bench", bus=FRAUD_BUS, pattern={"source": ["fraud.domain"]}, name=f"collect-{label}"
    )
    runner = mk.analytics.KinesisRunner(result.handler, arn, batch_size=100)
    stop = threading.Event()
    deadline = time.perf_counter() + timeout_s

    def read() -> None:
        while len(result.handled) < count and not stop.is_set():
            if time.perf_counter() > deadline:
                break
            summary = runner.run(time_budget_s=5)
            result.processed += summary.processed
            result.failed += summary.failed
            result.dead_lettered += summary.dead_lettered
            if summary.processed == 0:
                time.sleep(0.02)

    def record(events: list[Any]) -> None:
        outcome = mk.analytics.record_events(arn, events, partition_key="detail.data.card_id")
        if not outcome.ok:
            raise RuntimeError(f"{len(outcome.failed)} sale(s) not recorded on {stream}")

    try:
        reader = threading.Thread(target=read)
        reader.start()
        result.drain_started = time.perf_counter()
        try:
            send_all(result, simulation, chunk, record)
        except BaseException:
            stop.set()
            raise
        finally:
            reader.join()
        collect_suspicions(result, collector.queue_url)
    finally:
        mk.subscriptions.unsubscribe("bench", bus=FRAUD_BUS, name=f"collect-{label}", force=True)
        mk.analytics.delete_stream(arn)
        mk.analytics.delete_detector_table(name=table)
    return result


def end_to_end(count: int, rounds: int, chunk: int, timeout_s: float) -> bool:
    """Part 3; return True if a sale was lost or the suspicions differ from the detector's."""
    simulation = mk.analytics.simulate_sales(count, seed=SEED)
    expected = {
        s.suspicion_id: s.sale_ids
        for s in mk.analytics.FraudDetector(simulation.stores).process(simulation.sales)
    }
    mk.buses.create_domain_bus("sales")
    mk.buses.create_domain_bus("fraud")
    paths: dict[str, list[Path]] = {SQS: [], KINESIS: []}
    run = {SQS: sqs_round, KINESIS: kinesis_round}
    for round_ in range(rounds):
        line = []
        for name in list(paths) if round_ % 2 == 0 else list(paths)[::-1]:
            label = f"{name.lower()}-{round_ + 1}"
            result = run[name](label, simulation, chunk, timeout_s)
            paths[name].append(result)
            seconds = result.last_handled - result.first_publish
            line.append(f"{name} {count / seconds:,.1f} sales/s ({seconds:.0f} s)")
        print(f"end to end, round {round_ + 1}/{rounds}: {', '.join(line)}", flush=True)

    print(
        f"\n{count:,} sales (seed {SEED}, {len(expected)} suspicions), {rounds} alternating "
        f"round(s) per path, {chunk} sales per send call\n(rates: medians of the rounds; "
        "latencies: over every sale of a path)"
    )
    header = f"{'':<36}{'SQS (bus -> queue)':>22}{'Kinesis (stream)':>22}"
    print(header)
    print("-" * len(header))

    def row(label: str, measure: Callable[[Path], float], form: str = ",.1f") -> dict[str, float]:
        values = {p: statistics.median(measure(r) for r in paths[p]) for p in paths}
        print(f"{label:<36}{format(values[SQS], form):>22}{format(values[KINESIS], form):>22}")
        return values

    rate = row("end to end, sales/s", lambda r: count / (r.last_handled - r.first_publish))
    row("sending alone, sales/s", lambda r: count / (r.last_publish_done - r.first_publish))
    row("handler invocations", lambda r: r.invocations, ",.0f")
    latencies = {p: [ms for r in rs for ms in r.latencies_ms()] for p, rs in paths.items()}
    shown: dict[str, dict[int, float]] = {p: {} for p in paths}
    for p in (50, 95, 99):
        for name, values in latencies.items():
            shown[name][p] = percentile(values, p) if len(values) > 1 else float("nan")
        label = f"publish -> handler, p{p} ms"
        print(f"{label:<36}{shown[SQS][p]:>22,.0f}{shown[KINESIS][p]:>22,.0f}")
    print(f"\n{'Kinesis / SQS, end to end sales/s:':<55}{rate[KINESIS] / rate[SQS]:>7.2f}x")
    for p in (50, 99):
        print(f"{f'SQS / Kinesis, p{p} latency:':<55}{shown[SQS][p] / shown[KINESIS][p]:>7.2f}x")

    failing = False
    print()
    for name, results in paths.items():
        for index, r in enumerate(results):
            lost = r.lost()
            wrong = r.suspicions != expected
            print(
                f"{name} round {index + 1}: sent {len(r.published):,}, handled {len(r.handled):,} "
                f"(twice: {r.duplicates}), item failures {r.item_failures}, FraudSuspected "
                f"collected {len(r.suspicions)} of {len(expected)} "
                f"({'different' if wrong else 'same'} as the in-memory detector's)"
            )
            if lost:
                failing = True
                print(f"FAIL: {name}: {lost} sale(s) never handled")
            if wrong:
                failing = True
                only_ours = sorted(expected.keys() - r.suspicions.keys())[:3]
                only_theirs = sorted(r.suspicions.keys() - expected.keys())[:3]
                print(f"FAIL: {name}: only in memory {only_ours}, only on the path {only_theirs}")
    return failing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=100_000, help="sales for parts 1 and 2")
    parser.add_argument("--rounds", type=int, default=5, help="rounds for parts 1 and 2")
    parser.add_argument("--events", type=int, default=2000, help="sales sent end to end")
    parser.add_argument("--e2e-rounds", type=int, default=1, help="end-to-end rounds per path")
    parser.add_argument("--chunk", type=int, default=10, help="sales per send call end to end")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per path")
    parser.add_argument("--quick", action="store_true", help="a smoke run (under a minute)")
    args = parser.parse_args()
    if args.quick:
        args.sales, args.rounds, args.events, args.e2e_rounds = 20_000, 2, 200, 1
    if args.sales < 1_000 or args.events < 50 or min(args.rounds, args.e2e_rounds, args.chunk) < 1:
        parser.error("give at least 1,000 sales, 50 events, 1 round and 1 sale per call")

    failing = in_memory(args.sales, args.rounds)
    with embedded_server_process() as url:
        os.environ["AWS_ENDPOINT_URL"] = url
        mk.sandbox.start(quiet=True)
        failing = end_to_end(args.events, args.e2e_rounds, args.chunk, args.timeout) or failing
    if failing:
        sys.exit(1)


if __name__ == "__main__":
    main()
