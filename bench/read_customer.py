"""(c) Read one customer: through the projection and through the aggregate, on each backend.

Figures: median latency per read of ``ledger.bus.ask(GetCustomer(...))`` (the customer view,
with the checkpoint it reflects, in one read-only transaction) and of
``ledger.store.repository.get(id)`` (replaying the customer's events), over random
customers of a store of registered customers. Baselines, same run: the same row read
raw by primary key (and its JSON decoded) on a plain driver connection, and the
customer's stored events read raw the same way.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
from collections.abc import Callable
from typing import Any

import psycopg

from bench.context import CLERK, CLERK_ROLES, Backend, BenchContext, events_table
from bench.harness import Result, fmt, interleave, latencies_ms, percentile
from commands.actor import Actor
from ledger.settings import sqlite_path_of
from projections.queries import GetCustomer

NAME = "read"

VIEW_SQL = ("SELECT customer_id, version, name, source_channel, profile, last_review, "
            "registered_at, updated_at, position FROM customer_view WHERE customer_id = {p}")
EVENTS_SQL = ("SELECT originator_version, topic, state FROM {table} "
              "WHERE originator_id = {p} ORDER BY originator_version")


def raw_readers(backend: Backend, database_url: str, table: str
                ) -> tuple[Callable[[Any], object], Callable[[Any], list[object]], Any]:
    """Two raw read functions (view row, stored events) and the connection they use."""
    if backend == "sqlite":
        connection: Any = sqlite3.connect(str(sqlite_path_of(database_url)),
                                          isolation_level=None, check_same_thread=False)
        view_sql, events_sql = VIEW_SQL.format(p="?"), EVENTS_SQL.format(p="?", table=table)

        def read_view(customer_id: Any) -> object:
            row = connection.execute(view_sql, (str(customer_id),)).fetchone()
            return json.loads(row[4])

        def read_events(customer_id: Any) -> list[object]:
            # The library keeps SQLite originator ids as UUID hex, without dashes.
            rows = connection.execute(events_sql, (customer_id.hex,)).fetchall()
            return [json.loads(row[2]) for row in rows]
    else:
        connection = psycopg.connect(database_url, autocommit=True)
        view_sql, events_sql = VIEW_SQL.format(p="%s"), EVENTS_SQL.format(p="%s", table=table)

        def read_view(customer_id: Any) -> object:
            row = connection.execute(view_sql, (str(customer_id),)).fetchone()
            return json.loads(row[4])

        def read_events(customer_id: Any) -> list[object]:
            rows = connection.execute(events_sql, (customer_id,)).fetchall()
            return [json.loads(row[2]) for row in rows]
    return read_view, read_events, connection


def run(ctx: BenchContext, backend: Backend, progress: Any) -> list[Result]:
    ledger, ids = ctx.populated(backend)
    rng = random.Random(7)
    chosen = [rng.choice(ids) for _ in range(ctx.sizes.reads)]
    warm = [rng.choice(ids) for _ in range(ctx.sizes.warmup)]
    queries = [GetCustomer(customer_id=customer_id) for customer_id in chosen]
    warm_queries = [GetCustomer(customer_id=customer_id) for customer_id in warm]
    actor = Actor(CLERK, frozenset(CLERK_ROLES))
    read_view, read_events, connection = raw_readers(
        backend, ledger.settings.database_url, events_table(ledger))
    p99: dict[str, list[float]] = {}
    # The baselines must read what the ledger reads, or their figures mean nothing.
    aggregate: Any = ledger.store.repository.get(chosen[0])
    if len(read_events(chosen[0])) != aggregate.version or read_view(chosen[0]) is None:
        connection.close()
        raise RuntimeError("the raw readers do not find the customer the ledger finds")

    def ask(query: Any) -> object:
        return ledger.bus.ask(query, actor)

    def get(customer_id: Any) -> object:
        return ledger.store.repository.get(customer_id)

    def measured(name: str, call: Callable[[object], object], items: list[Any],
                 warm_items: list[Any]) -> Callable[[], float]:
        def measure() -> float:
            for item in warm_items:
                call(item)
            latencies = latencies_ms(call, items)
            p99.setdefault(name, []).append(percentile(latencies, 0.99))
            return statistics.median(latencies)
        return measure

    try:
        stats = interleave(ctx.sizes.runs, {
            "projection": measured("projection", ask, queries, warm_queries),
            "raw-view": measured("raw-view", read_view, chosen, warm),
            "aggregate": measured("aggregate", get, chosen, warm),
            "raw-events": measured("raw-events", read_events, chosen, warm),
        }, progress, budget=ctx.sizes.budget)
    finally:
        connection.close()
    median = statistics.median
    size = f"{len(chosen)} reads per run of random customers among {len(ids)}"
    return [
        Result(benchmark="read via projection",
               backend=backend, unit="ms/read", figure=stats["projection"],
               baseline=stats["raw-view"], higher_is_better=False,
               baseline_label="median ms of a raw SELECT of the view row by key + JSON "
                              "decode, one autocommit connection",
               notes=["ledger.bus.ask(GetCustomer)", size,
                      f"p99 {fmt(median(p99['projection']))} ms "
                      f"(raw {fmt(median(p99['raw-view']))} ms)"]),
        Result(benchmark="read via aggregate",
               backend=backend, unit="ms/read", figure=stats["aggregate"],
               baseline=stats["raw-events"], higher_is_better=False,
               baseline_label="median ms of a raw SELECT of the customer's stored events "
                              "+ JSON decode, one autocommit connection",
               notes=["ledger.store.repository.get", size,
                      f"p99 {fmt(median(p99['aggregate']))} ms "
                      f"(raw {fmt(median(p99['raw-events']))} ms)"]),
    ]


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [result for backend in ctx.backends() for result in run(ctx, backend, progress)]
