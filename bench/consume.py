"""Consuming throughput: publish -> queue -> handler, draining while publishing vs after.

Each round subscribes a fresh queue to SalesEventBus, publishes the same 2,000 sales with
mk.events.publish (one call per PutEvents request of 10 events) and feeds the queue to a handler
with mk.consumers.run, in one of two modes:

- drain while publishing: the runner is started in a thread before the first event is published;
- drain after publishing: the runner is started once every event is on the queue.

Rounds alternate the modes (A B, B A, ...) so that machine noise and server warm-up hit them
alike. The script prints, per mode: events per second end to end (first publish to last event
handled), publishing alone (overall, and over the first and the last tenth of the events), and
draining alone (after publishing), each the median of the rounds; the queue's depth when
publishing ended; and the p50 / p95 latency from publish to handler over every event of the
mode's rounds. An event's publish time is taken just before the call that sends it, its handling
time when the handler sees it. The script fails (exit status 1) unless every event published was
handled exactly once.

Why draining while publishing wins on the embedded server: it keeps the queue shallower, and
there every message costs more to send to, and to receive from, a deep queue. The table shows
both sides of that: the depth when publishing ended, and the publishing rate over the last tenth
of the events against the first tenth (and the draining rate of a full queue). The figures of
draining while publishing vary more from run to run: once the runner falls behind, the deeper
queue slows it further.

Last, it measures what the runner itself costs: it drains 300 events from a full queue with
mk.consumers.run and with the plain boto3 receive / delete loop it replaces, in alternating rounds,
and prints the ratio of their rates.

The server runs in a process of its own, as under `make lab` (and as AWS is remote), so that its
work does not compete with the client's for one interpreter.
Run it with `.venv/bin/python bench/consume.py` (about ten minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from publish import BUS, embedded_server_process

import meshkit as mk

WHILE, AFTER = "drain while publishing", "drain after publishing"


@dataclass
class Round:
    """What one round measured; times are time.perf_counter() readings."""

    published: dict[str, float] = field(default_factory=dict)  # key -> its request's start
    handled: dict[str, float] = field(default_factory=dict)  # key -> first seen by the handler
    chunk_seconds: list[tuple[int, float]] = field(default_factory=list)  # (events, seconds)
    duplicates: int = 0
    processed: int = 0  # RunSummary.processed, summed over the runs
    failed: int = 0
    dead_lettered: int = 0
    depth_after_publishing: int = 0  # messages waiting or in flight when publishing ended
    first_publish: float = 0.0
    last_publish_done: float = 0.0
    drain_started: float = 0.0
    last_handled: float = 0.0

    def handler(self, event: dict[str, Any], context: Any) -> None:
        """A Lambda-style handler that notes when it saw each event."""
        for record in event["Records"]:
            seen = time.perf_counter()
            key = json.loads(record["body"])["detail"]["metadata"]["idempotency_key"]
            if key in self.handled:
                self.duplicates += 1
            else:
                self.handled[key] = seen
            self.last_handled = seen

    def latencies_ms(self) -> list[float]:
        return [
            (self.handled[key] - sent) * 1000
            for key, sent in self.published.items()
            if key in self.handled
        ]

    def lost(self) -> int:
        return len(self.published.keys() - self.handled.keys())

    def publish_rate(self, part: slice = slice(None)) -> float:
        chunks = self.chunk_seconds[part]
        return sum(n for n, _ in chunks) / sum(s for _, s in chunks)


def sale_events(label: str, count: int, chunk: int) -> Iterator[list[mk.events.DomainEvent]]:
    """The round's events, in lists of ``chunk`` (one mk.events.publish call each)."""
    for start in range(0, count, chunk):
        yield [
            mk.events.DomainEvent(
                source="sales.domain",
                detail_type="SaleRecorded",
                detail={
                    "sale_id": f"S-{i}",
                    "amount": 10 + i % 990,
                    "timestamp": "2026-01-29T10:00:00Z",
                },
                idempotency_key=f"{label}/sale-recorded/S-{i}",
                correlation_id="bench",
            )
            for i in range(start, min(start + chunk, count))
        ]


def publish_all(result: Round, label: str, count: int, chunk: int) -> None:
    result.first_publish = time.perf_counter()
    for events in sale_events(label, count, chunk):
        sent_at = time.perf_counter()
        outcome = mk.events.publish(BUS, events, record=False)
        if outcome.failed:
            raise RuntimeError(f"{len(outcome.failed)} event(s) not accepted: {outcome.failed[0]}")
        result.chunk_seconds.append((len(events), time.perf_counter() - sent_at))
        for event in events:
            result.published[event.idempotency_key] = sent_at
    result.last_publish_done = time.perf_counter()


def drain(
    result: Round, queue_url: str, count: int, deadline: float, stop: threading.Event
) -> None:
    """Run the local event source mapping until ``count`` messages were processed.

    Given max_messages, mk.consumers.run waits for messages still to come; it runs in slices of a
    few seconds so that a publisher that failed can stop it.
    """
    while result.processed + result.dead_lettered < count and not stop.is_set():
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        summary = mk.consumers.run(
            result.handler,
            queue_url,
            batch_size=10,
            wait_time_s=1,
            time_budget_s=min(left, _SLICE_S),
            max_messages=count - result.processed - result.dead_lettered,
        )
        result.processed += summary.processed
        result.failed += summary.failed
        result.dead_lettered += summary.dead_lettered


_SLICE_S = 5.0


def depth(queue_url: str) -> int:
    waiting, in_flight, _ = mk.subscriptions.queue_depths(queue_url)
    return waiting + in_flight


def one_round(mode: str, label: str, count: int, chunk: int, timeout_s: float) -> Round:
    result = Round()
    name = f"bench-{label}"
    sub = mk.subscriptions.subscribe(
        "bench", bus=BUS, pattern={"source": ["sales.domain"]}, name=name, visibility_timeout_s=30
    )
    deadline = time.perf_counter() + timeout_s
    try:
        if mode == WHILE:
            stop = threading.Event()
            runner = threading.Thread(
                target=drain, args=(result, sub.queue_url, count, deadline, stop)
            )
            runner.start()
            result.drain_started = time.perf_counter()
            try:
                publish_all(result, label, count, chunk)
                result.depth_after_publishing = depth(sub.queue_url)
            except BaseException:
                stop.set()
                raise
            finally:
                runner.join()
        else:
            publish_all(result, label, count, chunk)
            result.depth_after_publishing = depth(sub.queue_url)
            result.drain_started = time.perf_counter()
            drain(result, sub.queue_url, count, deadline, threading.Event())
    finally:
        mk.subscriptions.unsubscribe("bench", bus=BUS, name=name, force=True)
    return result


def drain_raw(queue_url: str, count: int) -> int:
    """What mk.consumers.run replaces: a plain boto3 receive / handle / delete loop."""
    sqs = mk._aws.client("sqs")
    handled = 0
    while handled < count:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            json.loads(message["Body"])["detail"]["metadata"]["idempotency_key"]
        if messages:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        handled += len(messages)
    return handled


def runner_overhead(count: int, rounds: int) -> dict[str, list[float]]:
    """Drain rates (events/s) of mk.consumers.run and of drain_raw, from the same full queue."""
    rates: dict[str, list[float]] = {"mk.consumers.run": [], "raw boto3 loop": []}
    for round_ in range(rounds):
        order = list(rates) if round_ % 2 == 0 else list(rates)[::-1]
        for way in order:
            name = f"bench-overhead-{round_}-{'mk' if way == 'mk.consumers.run' else 'raw'}"
            sub = mk.subscriptions.subscribe(
                "bench", bus=BUS, pattern={"source": ["sales.domain"]}, name=name
            )
            for events in sale_events(name, count, 10):
                mk.events.publish(BUS, events, record=False)
            started = time.perf_counter()
            if way == "mk.consumers.run":
                drained = Round()
                mk.consumers.run(drained.handler, sub.queue_url, max_messages=count)
            else:
                drain_raw(sub.queue_url, count)
            rates[way].append(count / (time.perf_counter() - started))
            mk.subscriptions.unsubscribe("bench", bus=BUS, name=name, force=True)
    return rates


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per mode")
    parser.add_argument("--chunk", type=int, default=10, help="events per mk.events.publish call")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per round")
    parser.add_argument(
        "--overhead-events", type=int, default=300, help="events per runner-overhead round"
    )
    args = parser.parse_args()
    if args.events < 10 or args.rounds < 1 or args.chunk < 1:
        parser.error("give at least 10 events, 1 round and 1 event per call")

    rounds: dict[str, list[Round]] = {WHILE: [], AFTER: []}
    with embedded_server_process() as url:
        os.environ["AWS_ENDPOINT_URL"] = url
        mk.sandbox.start(quiet=True)
        mk.buses.create_domain_bus("sales")
        modes = list(rounds)
        for round_ in range(args.rounds):
            line = []
            for mode in modes if round_ % 2 == 0 else modes[::-1]:
                label = f"{'while' if mode == WHILE else 'after'}-{round_ + 1}"
                result = one_round(mode, label, args.events, args.chunk, args.timeout)
                rounds[mode].append(result)
                seconds = result.last_handled - result.first_publish
                line.append(f"{label} {args.events / seconds:,.0f} events/s ({seconds:.0f} s)")
            print(f"round {round_ + 1}/{args.rounds}: {', '.join(line)}", flush=True)
        overhead = runner_overhead(args.overhead_events, rounds=3)

    failing = report(rounds, args.events, args.chunk)
    mk_rate, raw_rate = (statistics.median(rates) for rates in overhead.values())
    print(
        f"\ndraining {args.overhead_events} events from a full queue, 3 alternating rounds each: "
        f"mk.consumers.run {mk_rate:,.1f} events/s, raw boto3 loop {raw_rate:,.1f} events/s: "
        f"{mk_rate / raw_rate:.2f}x"
    )
    if failing:
        sys.exit(1)


def report(rounds: dict[str, list[Round]], events: int, chunk: int) -> bool:
    """Print the table and the tally; return True if an event was lost or doubled."""
    tenth = max(1, len(rounds[WHILE][0].chunk_seconds) // 10)
    per_mode = len(rounds[WHILE])
    print(
        f"\n{events:,} events per round, {per_mode} alternating rounds per mode, "
        f"{chunk} events per publish call\n(rates and depths: medians of the rounds; latencies: "
        "over every event of a mode)"
    )
    header = f"{'':<34}{WHILE:>24}{AFTER:>24}"
    print(header)
    print("-" * len(header))

    def row(
        label: str, measure: Callable[[Round], float], form: str = ",.1f", modes=(WHILE, AFTER)
    ) -> dict[str, float]:
        values = {m: statistics.median(measure(r) for r in rounds[m]) for m in modes}
        shown = {m: format(v, form) for m, v in values.items()}
        print(f"{label:<34}{shown.get(WHILE, '-'):>24}{shown.get(AFTER, '-'):>24}")
        return values

    end_to_end = row("end to end, events/s", lambda r: events / (r.last_handled - r.first_publish))
    row("publishing alone, events/s", lambda r: events / (r.last_publish_done - r.first_publish))
    row("  over the first tenth of events", lambda r: r.publish_rate(slice(None, tenth)))
    row("  over the last tenth of events", lambda r: r.publish_rate(slice(-tenth, None)))
    row("queue depth when publishing ended", lambda r: r.depth_after_publishing, ",.0f")
    row(
        "draining alone, events/s",
        lambda r: events / (r.last_handled - r.drain_started),
        modes=(AFTER,),
    )
    latencies = {m: [ms for r in rounds[m] for ms in r.latencies_ms()] for m in rounds}
    for p in (50, 95):
        shown = {m: f"{percentile(v, p):,.0f}" if len(v) > 1 else "-" for m, v in latencies.items()}
        print(f"{f'publish -> handler, p{p} ms':<34}{shown[WHILE]:>24}{shown[AFTER]:>24}")
    print(f"\n{WHILE} / {AFTER}, end to end: {end_to_end[WHILE] / end_to_end[AFTER]:.2f}x")

    failing = False
    print()
    for mode, results in rounds.items():
        published = sum(len(r.published) for r in results)
        processed = sum(r.processed for r in results)
        lost = sum(r.lost() for r in results)
        duplicates = sum(r.duplicates for r in results)
        failed = sum(r.failed for r in results)
        dead = sum(r.dead_lettered for r in results)
        print(
            f"{mode}: published {published:,}, processed {processed:,}, lost {lost}, "
            f"handled twice {duplicates}, failed deliveries {failed}, dead-lettered {dead}"
        )
        if lost or duplicates or failed or dead or processed != published:
            failing = True
            print(f"FAIL: {mode}: not every event published was handled exactly once")
    return failing


if __name__ == "__main__":
    main()
