"""(d) Projection catch-up from zero: rebuild every read model over the stored events.

Figure: events/s of ``ledger.runner.rebuild()`` (empty the views, reset the checkpoints,
apply the whole log again in checkpointed pages of 5,000, each projection writing a page
in bulk statements), counting each event in the log once, although each projection reads
the whole log. Baseline, same run: the same log read raw in pages of 1,000 by notification
id, each customer event's state inserted as a row into a scratch table, one transaction per
page.

The log (100,000 events at full size) is built once per backend, untimed, by
``bench.bulk``: customers registered with their sealed profiles and command records as
the bus writes them, saved 500 at a time, so every timed run rebuilds the same real log.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from bench.bulk import register_in_bulk
from bench.context import Backend, BenchContext, events_table
from bench.harness import Result, Stopwatch, interleave, rate
from ledger.settings import sqlite_path_of
from ledger.store import NOTIFICATION_BATCH
from projections.customer_view import CustomerView

NAME = "catch-up"
TITLE = "catch-up from zero"

SCRATCH = "CREATE TABLE raw_view (customer_id TEXT PRIMARY KEY, state {blob})"


def raw_copy_sqlite(path: str, table: str, topics: frozenset[str]) -> tuple[float, int]:
    connection = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        connection.execute("DROP TABLE IF EXISTS raw_view")
        connection.execute(SCRATCH.format(blob="BLOB"))
        position, count = 0, 0
        with Stopwatch() as watch:
            while True:
                page = connection.execute(
                    f"SELECT rowid, originator_id, topic, state FROM {table} "
                    "WHERE rowid > ? ORDER BY rowid LIMIT ?", (position, NOTIFICATION_BATCH),
                ).fetchall()
                if not page:
                    break
                connection.execute("BEGIN IMMEDIATE")
                for _, originator, topic, state in page:
                    if topic in topics:
                        connection.execute("INSERT OR REPLACE INTO raw_view VALUES (?, ?)",
                                           (originator, state))
                connection.execute("COMMIT")
                position, count = page[-1][0], count + len(page)
        connection.execute("DROP TABLE raw_view")
        return watch.seconds, count
    finally:
        connection.close()


def raw_copy_postgres(url: str, table: str, topics: frozenset[str]) -> tuple[float, int]:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS raw_view")
        connection.execute(SCRATCH.format(blob="bytea"))
        position, count = 0, 0
        with Stopwatch() as watch:
            while True:
                page = connection.execute(
                    f"SELECT notification_id, originator_id, topic, state FROM {table} "
                    "WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
                    (position, NOTIFICATION_BATCH),
                ).fetchall()
                if not page:
                    break
                with connection.transaction():
                    for _, originator, topic, state in page:
                        if topic in topics:
                            connection.execute(
                                "INSERT INTO raw_view VALUES (%s, %s) ON CONFLICT (customer_id) "
                                "DO UPDATE SET state = excluded.state", (str(originator), state))
                position, count = page[-1][0], count + len(page)
        connection.execute("DROP TABLE raw_view")
        return watch.seconds, count


def run(ctx: BenchContext, backend: Backend, progress: Any) -> Result:
    with (ctx.fresh_database(backend, stem="catch-up") as location,
          ctx.open_ledger(backend, location) as ledger):
        # Two events per registration: the customer's and its command record.
        customers = ctx.sizes.catch_up_events // 2
        register_in_bulk(ledger, ctx.profiles(ctx.sizes.catch_up_customers), customers,
                         progress)
        return measure(ctx, backend, ledger, customers, progress)


def measure(ctx: BenchContext, backend: Backend, ledger: Any, customers: int,
            progress: Any) -> Result:
    table = events_table(ledger)
    with ledger.views.snapshot() as cursor:
        row = cursor.one(f"SELECT COUNT(*) FROM {table}")
    events = int(row[0]) if row else 0
    topics = CustomerView.topics
    projections = len(ledger.runner.projections)

    def rebuild() -> float:
        with Stopwatch() as watch:
            ledger.runner.rebuild()
        return rate(events, watch.seconds)

    def raw_copy() -> float:
        if backend == "sqlite":
            seconds, count = raw_copy_sqlite(str(sqlite_path_of(ledger.settings.database_url)),
                                             table, topics)
        else:
            seconds, count = raw_copy_postgres(ledger.settings.database_url, table, topics)
        if count != events:
            raise RuntimeError(f"the raw scan read {count} events, the log holds {events}")
        return rate(count, seconds)

    stats = interleave(ctx.sizes.runs, {"rebuild": rebuild, "raw": raw_copy}, progress,
                       budget=ctx.sizes.budget)
    return Result(
        benchmark=TITLE, backend=backend, unit="events/s", figure=stats["rebuild"],
        baseline=stats["raw"],
        baseline_label="events/s of a raw scan of the log in pages of 1,000 with one INSERT "
                       "per customer event into a scratch table, 1 transaction per page",
        notes=[f"ledger.runner.rebuild(); {events:,} events in the log ({customers:,} "
               "customers registered in bulk, each with its command record); "
               f"{projections} projections, each reading the whole log"],
    )


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [run(ctx, backend, progress) for backend in ctx.backends()]
