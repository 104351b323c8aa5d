"""Baselines: the database driven directly, with rows shaped like the ledger's stored events.

The scratch table has the shape of the library's ``stored_events`` (id, version, topic,
state; the same primary key; on PostgreSQL the same ``bigserial`` notification id and its
unique index) and each row's state is a ~1 KB JSON document made from the same profile
the ledger registers, with event-like metadata around it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from bench.harness import Stopwatch, rate, timed_threads

if TYPE_CHECKING:
    from bench.context import Backend, BenchContext

RAW_TOPIC = "bench.raw:CustomerRegistered"
Row = tuple[uuid.UUID, bytes]

SQLITE_TABLE = (
    "CREATE TABLE IF NOT EXISTS raw_events (originator_id TEXT, originator_version INTEGER, "
    "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
)
POSTGRES_TABLE = (
    "CREATE TABLE IF NOT EXISTS raw_events (originator_id uuid NOT NULL, "
    "originator_version bigint NOT NULL, topic text, state bytea, "
    "notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
)
POSTGRES_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS raw_events_notification_id_idx "
    "ON raw_events (notification_id ASC)"
)
INSERT_SQLITE = "INSERT INTO raw_events VALUES (?, 1, ?, ?)"
INSERT_POSTGRES = ("INSERT INTO raw_events (originator_id, originator_version, topic, state) "
                   "VALUES (%s, 1, %s, %s)")
COPY_POSTGRES = "COPY raw_events (originator_id, originator_version, topic, state) FROM STDIN"


def raw_rows(profiles: Sequence[dict[str, Any]]) -> list[Row]:
    """One row per profile, built before timing: a new id and an event-like JSON state."""
    now = datetime.now(UTC).isoformat()
    rows = []
    for profile in profiles:
        originator = uuid.uuid4()
        state = {
            "originator_id": str(originator), "originator_version": 1, "timestamp": now,
            "profile": profile,
            "metadata": {"actor": "bench-clerk", "command_id": str(uuid.uuid4()),
                         "correlation_id": str(uuid.uuid4()), "recorded_at": now},
        }
        rows.append((originator, json.dumps(state, ensure_ascii=False).encode()))
    return rows


def mean_bytes(rows: Sequence[Row]) -> float:
    return sum(len(state) for _, state in rows) / len(rows)


# SQLite ---------------------------------------------------------------------------------

def sqlite_connect(path: str) -> sqlite3.Connection:
    """Connected as the library connects: autocommit mode, WAL journal, default sync."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                 timeout=10)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(SQLITE_TABLE)
    return connection


def sqlite_inserter(connection: sqlite3.Connection) -> Callable[[Row], None]:
    """One INSERT + COMMIT of a row, in a deferred transaction as the library's recorder
    opens it (concurrent writers wait on the busy timeout for the write lock)."""
    def insert(row: Row) -> None:
        connection.execute("BEGIN")
        connection.execute(INSERT_SQLITE, (row[0].hex, RAW_TOPIC, row[1]))
        connection.execute("COMMIT")
    return insert


def sqlite_insert_each(path: str, rows: Sequence[Row], warmup: Sequence[Row]) -> float:
    """Seconds for one INSERT + COMMIT per row (the warm-up rows are not timed)."""
    connection = sqlite_connect(path)
    try:
        insert = sqlite_inserter(connection)
        for row in warmup:
            insert(row)
        with Stopwatch() as watch:
            for row in rows:
                insert(row)
        return watch.seconds
    finally:
        connection.close()


def sqlite_insert_threads(path: str, rows: Sequence[Row], warmup: Sequence[Row],
                          threads: int) -> tuple[float, list[float]]:
    """Seconds for ``threads`` connections, each inserting single rows per transaction
    from one shared queue of rows until it is empty; and each insert's latency in ms.

    Writers take turns on an in-process lock, as the library's SQLite pool makes them:
    left to SQLite's busy handler (which sleeps in steps of up to 100 ms), 16 raw
    connections manage well under 100 rows/s with a p99 over a second."""
    connections = [sqlite_connect(path) for _ in range(threads)]
    writer = threading.Lock()

    def serialised(insert: Callable[[Row], None]) -> Callable[[Row], None]:
        def insert_in_turn(row: Row) -> None:
            with writer:
                insert(row)
        return insert_in_turn

    try:
        inserters = [serialised(sqlite_inserter(connection)) for connection in connections]
        for index, row in enumerate(warmup):
            inserters[index % threads](row)
        def taking_rows(insert: Callable[[Row], None]) -> Callable[[int], object]:
            return lambda index: insert(rows[index])

        return timed_threads([taking_rows(insert) for insert in inserters], len(rows))
    finally:
        for connection in connections:
            connection.close()


def sqlite_insert_batch(path: str, rows: Sequence[Row], warmup: Sequence[Row]) -> float:
    """Seconds for every row in one transaction (executemany): SQLite has no COPY, and
    this is its bulk-load ceiling."""
    connection = sqlite_connect(path)
    try:
        for row in warmup:
            sqlite_inserter(connection)(row)
        with Stopwatch() as watch:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(INSERT_SQLITE,
                                   [(row[0].hex, RAW_TOPIC, row[1]) for row in rows])
            connection.execute("COMMIT")
        return watch.seconds
    finally:
        connection.close()


# PostgreSQL -----------------------------------------------------------------------------

def postgres_prepare(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(POSTGRES_TABLE)
        connection.execute(POSTGRES_INDEX)


def postgres_insert_each(url: str, rows: Sequence[Row], warmup: Sequence[Row]) -> float:
    """Seconds for one single-row INSERT per transaction (autocommit) on one connection."""
    postgres_prepare(url)
    with psycopg.connect(url, autocommit=True) as connection:
        for row in warmup:
            connection.execute(INSERT_POSTGRES, (row[0], RAW_TOPIC, row[1]))
        with Stopwatch() as watch:
            for row in rows:
                connection.execute(INSERT_POSTGRES, (row[0], RAW_TOPIC, row[1]))
        return watch.seconds


def postgres_copy(url: str, rows: Sequence[Row], warmup: Sequence[Row]) -> float:
    """Seconds for every row in one COPY and one commit: PostgreSQL's bulk-load ceiling."""
    postgres_prepare(url)
    with psycopg.connect(url, autocommit=True) as connection:
        for row in warmup:
            connection.execute(INSERT_POSTGRES, (row[0], RAW_TOPIC, row[1]))
        with (Stopwatch() as watch, connection.transaction(), connection.cursor() as cursor,
              cursor.copy(COPY_POSTGRES) as copy):
            for originator, state in rows:
                copy.write_row((originator, 1, RAW_TOPIC, state))
        return watch.seconds


def postgres_insert_threads(url: str, rows: Sequence[Row], warmup: Sequence[Row],
                            threads: int) -> tuple[float, list[float]]:
    """Seconds for ``threads`` connections, each inserting single rows per transaction
    from one shared queue of rows until it is empty; and each insert's latency in ms."""
    postgres_prepare(url)
    connections = [psycopg.connect(url, autocommit=True) for _ in range(threads)]
    try:
        for index, row in enumerate(warmup):
            connections[index % threads].execute(INSERT_POSTGRES, (row[0], RAW_TOPIC, row[1]))
        def inserter(connection: psycopg.Connection[Any]) -> Callable[[int], object]:
            return lambda index: connection.execute(
                INSERT_POSTGRES, (rows[index][0], RAW_TOPIC, rows[index][1]))

        return timed_threads([inserter(c) for c in connections], len(rows))
    finally:
        for connection in connections:
            connection.close()


SINGLE_CONNECTION_LABEL = "rows/s of raw single-row INSERT per transaction on 1 connection"


def single_connection_rate(ctx: BenchContext, backend: Backend, rows: Sequence[Row],
                           warmup: Sequence[Row]) -> float:
    """rows/s of one raw single-row INSERT per transaction on one connection, on a fresh
    database of ``backend``: the baseline the register benchmarks share."""
    with ctx.fresh_database(backend) as location:
        insert_each = sqlite_insert_each if backend == "sqlite" else postgres_insert_each
        return rate(len(rows), insert_each(location, rows, warmup))


def threaded_run(ctx: BenchContext, backend: Backend, rows: Sequence[Row],
                 warmup: Sequence[Row], threads: int) -> tuple[float, list[float]]:
    """(rows/s, per-insert latencies) of raw single-row INSERTs from ``threads`` threads,
    a connection each, on a fresh database of ``backend``."""
    with ctx.fresh_database(backend) as location:
        insert = sqlite_insert_threads if backend == "sqlite" else postgres_insert_threads
        seconds, latencies = insert(location, rows, warmup, threads)
    return rate(len(rows), seconds), latencies
