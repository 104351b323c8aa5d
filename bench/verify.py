"""(e) Verify the hash chain: ``ledger audit verify`` over a sealed store.

Figure: events/s of ``verify_database()`` (a read-only connection, one snapshot, every
stored record read in pages of 5,000, its digest and chain link recomputed and compared
with its seal, the signed checkpoints checked). Baseline, same run: the same rows (position,
originator id, version, topic, state) read raw in pages of 5,000 on a read-only connection
of the plain driver, nothing computed.

The store holds real ledger events: the customers registered through the bus for the
catch-up benchmark, copied under new originator ids until the log holds 50 events per
customer (100,000 at full size), then sealed with checkpoints by policy (untimed).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from bench.context import Backend, BenchContext, events_table
from bench.harness import Result, Stopwatch, interleave, rate
from ledger.integrity.readonly import verify_database
from ledger.integrity.verify import PAGE
from ledger.settings import Settings, sqlite_path_of
from service.bootstrap import bootstrap

NAME = "verify"
TITLE = "verify the hash chain"
EVENTS_PER_CUSTOMER = 50

COPY_SQLITE = ("INSERT INTO stored_events (originator_id, originator_version, topic, state) "
               "SELECT lower(hex(randomblob(16))), originator_version, topic, state "
               "FROM stored_events ORDER BY rowid LIMIT ?")
COPY_POSTGRES = ("INSERT INTO {table} (originator_id, originator_version, topic, state) "
                 "SELECT gen_random_uuid(), originator_version, topic, state FROM {table} "
                 "ORDER BY notification_id LIMIT %s")


def grow_sqlite(path: str, source: list[tuple[Any, ...]], target: int) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", source)
        while (count := connection.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
               ) < target:
            connection.execute(COPY_SQLITE, (target - count,))
        connection.execute("COMMIT")
    finally:
        connection.close()


def grow_postgres(url: str, table: str, source: list[tuple[Any, ...]], target: int) -> None:
    with psycopg.connect(url, autocommit=True) as connection, connection.transaction():
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} (originator_id, originator_version, topic, "
                               "state) VALUES (%s, %s, %s, %s)", source)
        while (count := connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # type: ignore[index]
               ) < target:
            connection.execute(COPY_POSTGRES.format(table=table), (target - count,))


def raw_read_sqlite(path: str, table: str) -> int:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        connection.execute("BEGIN")
        after, count = -(2**63), 0
        while page := connection.execute(
                f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
                "WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, PAGE)).fetchall():
            after, count = page[-1][0], count + len(page)
        connection.execute("ROLLBACK")
        return count
    finally:
        connection.close()


def raw_read_postgres(url: str, table: str) -> int:
    with psycopg.connect(url, autocommit=True) as connection, connection.transaction():
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        after, count = -(2**63), 0
        while page := connection.execute(
                f"SELECT notification_id, originator_id, originator_version, topic, state "
                f"FROM {table} WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
                (after, PAGE)).fetchall():
            after, count = page[-1][0], count + len(page)
        return count


def sealed_store(ctx: BenchContext, backend: Backend, location: str) -> tuple[Settings, int]:
    """A store of real ledger events, grown to size and sealed (untimed)."""
    populated, ids = ctx.populated(backend)
    table = events_table(populated)
    with populated.views.snapshot() as cursor:
        source = cursor.all(f"SELECT originator_id, originator_version, topic, state "
                            f"FROM {table}")
    target = max(len(source), len(ids) * EVENTS_PER_CUSTOMER)
    database_url = f"sqlite:///{location}" if backend == "sqlite" else location
    chosen = Settings(database_url=database_url, data_dir=ctx.workdir / "keys",
                      run_projections=False)
    with bootstrap(chosen, start_projections=False) as ledger:
        if backend == "sqlite":
            grow_sqlite(location, source, target)
        else:
            grow_postgres(location, table, source, target)
        # Every record covered by a checkpoint: an old uncovered tail would be unverified.
        ledger.sealer.seal_all(force_checkpoint=True)
    return chosen, target


def run(ctx: BenchContext, backend: Backend, progress: Any) -> Result:
    with ctx.fresh_database(backend, stem="verify") as location:
        progress("building and sealing the store")
        chosen, events = sealed_store(ctx, backend, location)
        table = "stored_events" if backend == "sqlite" else "ledger_events"
        checkpoints = 0

        def verify() -> float:
            nonlocal checkpoints
            with Stopwatch() as watch:
                report = verify_database(chosen)
            if not report.ok or report.records != events:
                raise RuntimeError(f"verify failed on an untouched store: {report.as_dict()}")
            checkpoints = report.checkpoints_verified
            return rate(report.records, watch.seconds)

        def raw_read() -> float:
            with Stopwatch() as watch:
                count = (raw_read_sqlite(str(sqlite_path_of(chosen.database_url)), table)
                         if backend == "sqlite" else raw_read_postgres(location, table))
            if count != events:
                raise RuntimeError(f"the raw read found {count} events, the log holds {events}")
            return rate(count, watch.seconds)

        stats = interleave(ctx.sizes.runs, {"verify": verify, "raw": raw_read}, progress,
                           budget=ctx.sizes.budget)
    return Result(
        benchmark=TITLE, backend=backend, unit="events/s", figure=stats["verify"],
        baseline=stats["raw"],
        baseline_label=f"events/s of a raw read of the same rows (position, id, version, "
                       f"topic, state) in pages of {PAGE:,} on a read-only connection, "
                       "nothing computed",
        notes=[f"verify_database() as `ledger audit verify` runs it: {events} sealed events "
               f"(real ledger events copied under new ids), {checkpoints} signed checkpoints "
               "checked; target >= 50,000 events/s on SQLite"],
    )


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [run(ctx, backend, progress) for backend in ctx.backends()]
