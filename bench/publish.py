"""Publishing throughput: the article's loop vs raw boto3 batches vs mk.events.publish.

All publish the same sales on the same embedded server, in rounds that alternate their order
(so that machine noise and server warm-up hit them alike): raw boto3 batches, mk.events.publish
with contract checks (the default) and without (validate=False). The script prints events
per second (median of the rounds), API calls per 1,000 events, the ratios to raw boto3, and the
peak memory of publishing a generator of 100,000 events. The server runs in a process of its
own, as under `make lab` (and as AWS is remote), so that its work does not compete with the
client's for one interpreter.
Run it with `.venv/bin/python bench/publish.py` (about three minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import meshkit as mk

BUS = "SalesEventBus"


def sales(count: int) -> Iterator[dict]:
    for i in range(count):
        yield {"sale_id": f"S-{i}", "amount": 10 + i % 990, "timestamp": "2026-01-29T10:00:00Z"}


def envelope(sale: dict) -> str:
    """The same Detail meshkit sends, built by hand."""
    metadata = {
        "idempotency_key": f"sale-recorded/{sale['sale_id']}",
        "correlation_id": "bench",
        "schema_version": "1.0",
        "data_product": "sales.sale-recorded",
    }
    return json.dumps({"metadata": metadata, "data": sale}, separators=(",", ":"))


def article_loop(client, count: int) -> int:
    """The article's producer: one PutEvents per sale, response ignored; returns the calls."""
    for sale in sales(count):
        client.put_events(
            Entries=[
                {
                    "Source": "sales.domain",
                    "DetailType": "SaleRecorded",
                    "Detail": envelope(sale),
                    "EventBusName": BUS,
                }
            ]
        )
    return count


def raw_batches(client, count: int) -> int:
    """Hand-made batches of 10 (no size check, no retries, no validation)."""
    calls, batch = 0, []
    for sale in sales(count):
        batch.append(
            {
                "Source": "sales.domain",
                "DetailType": "SaleRecorded",
                "Detail": envelope(sale),
                "EventBusName": BUS,
            }
        )
        if len(batch) == 10:
            client.put_events(Entries=batch)
            calls, batch = calls + 1, []
    if batch:
        client.put_events(Entries=batch)
        calls += 1
    return calls


def domain_events(count: int) -> Iterator[mk.events.DomainEvent]:
    for sale in sales(count):
        yield mk.events.DomainEvent(
            source="sales.domain",
            detail_type="SaleRecorded",
            detail=sale,
            idempotency_key=f"sale-recorded/{sale['sale_id']}",
            correlation_id="bench",
        )


def meshkit_publish(count: int, *, validate: bool = True) -> int:
    result = mk.events.publish(BUS, domain_events(count), record=False, validate=validate)
    assert result.sent == count and not result.failed
    return result.api_calls


def timed(run: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    calls = run()
    return time.perf_counter() - started, calls


def measure(approaches: dict[str, Callable[[], int]], rounds: int):
    """Seconds per round and API calls of each approach. Rounds alternate the order (A B, B A,
    ...) so that no approach always runs first, after another, or on a warmer server."""
    seconds: dict[str, list[float]] = {name: [] for name in approaches}
    calls: dict[str, int] = {}
    names = list(approaches)
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:  # A B C, C B A, ...
            elapsed, calls[name] = timed(approaches[name])
            seconds[name].append(elapsed)
        print(f"round {round_ + 1}/{rounds} done", flush=True)
    return seconds, calls


@contextmanager
def embedded_server_process() -> Iterator[str]:
    """An embedded server in a child process; yields its URL."""
    code = (
        "import time; from meshkit.sandbox import EmbeddedServer; "
        "print(EmbeddedServer().url, flush=True); time.sleep(1e6)"
    )
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the embedded server did not start (printed {url!r})")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500, help="events per approach and round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--memory-events", type=int, default=100_000)
    args = parser.parse_args()

    with embedded_server_process() as url:
        os.environ["AWS_ENDPOINT_URL"] = url
        target = mk.sandbox.start(quiet=True)
        mk.buses.create_domain_bus("sales")
        client = target.session().client("events", endpoint_url=target.endpoint_url)
        raw, checked, unchecked = (
            "raw boto3, batches of 10",
            "mk.events.publish",
            "mk.events.publish, validate=False",
        )
        head_to_head = {
            raw: lambda: raw_batches(client, args.events),
            checked: lambda: meshkit_publish(args.events),
            unchecked: lambda: meshkit_publish(args.events, validate=False),
        }
        seconds, calls = measure(head_to_head, args.rounds)
        print("... and against the article's loop, which is ten times slower", flush=True)
        loop_name = "article loop (1 event per call)"
        loop_seconds, loop_calls = measure(
            {
                loop_name: lambda: article_loop(client, args.events),
                checked: lambda: meshkit_publish(args.events),
            },
            max(3, args.rounds // 5),
        )
        seconds[loop_name] = loop_seconds[loop_name]
        calls[loop_name] = loop_calls[loop_name]

        rate = {name: args.events / statistics.median(times) for name, times in seconds.items()}
        print(f"\n{args.events:,} events per approach, medians of alternating rounds")
        print("(mk.events.publish checks every event against its contract unless validate=False)")
        print(f"{'approach':<36}{'events/s':>10}{'calls/1,000 events':>20}")
        for name in [loop_name, *head_to_head]:
            print(f"{name:<36}{rate[name]:>10,.0f}{calls[name] * 1000 / args.events:>20,.0f}")
        print()
        for name in (checked, unchecked):
            print(f"{name + ' / raw boto3 batches:':<55}{rate[name] / rate[raw]:.2f}x")
        loop_ours = args.events / statistics.median(loop_seconds[checked])
        loop = rate[loop_name]
        print(f"{checked + ' / article loop:':<55}{loop_ours / loop:.2f}x")

        print(
            f"\npeak memory while publishing a generator of {args.memory_events:,} events...",
            flush=True,
        )
        tracemalloc.start()
        started = time.perf_counter()
        meshkit_publish(args.memory_events)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak traced memory: {peak / 2**20:.1f} MiB ({elapsed:.0f} s under tracemalloc)")
        tracemalloc.start()
        held = list(domain_events(args.memory_events))
        _, listed = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"for scale, the same {len(held):,} events held in a list: {listed / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
