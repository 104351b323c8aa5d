"""(b) Propose + verify change pairs on existing customers, one in-process client each.

Figure: pairs/s of one clerk's ``propose_change`` (a new name) followed by another
clerk's ``verify_change`` of that proposal (the proposer may not verify its own), each
pair on a different customer of the store of customers registered through the bus (the
one the read benchmarks use; pairs only add events to it). Baseline, same run: the raw
shape of the same work, a pair being two read-modify-write transactions, each a SELECT
of the customer's rows then one INSERT of the new event and one of the command record
and a COMMIT, on a scratch table holding one registration row per customer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import psycopg

from bench import raw
from bench.context import CLERK, CLERK_ROLES, Backend, BenchContext
from bench.harness import Result, Stopwatch, interleave, rate
from service.client import LedgerClient

NAME = "pairs"
TITLE = "propose + verify pairs"
VERIFIER = "bench-verifier"
# Of the clerk's roles, only info_specialist may verify (sales may propose).
VERIFIER_ROLES = ["info_specialist"]

SELECT = ("SELECT originator_version FROM raw_events WHERE originator_id = {p} "
          "ORDER BY originator_version")
INSERT = ("INSERT INTO raw_events (originator_id, originator_version, topic, state) "
          "VALUES ({p}, {p}, {p}, {p})")


def raw_pair(backend: Backend, connection: Any) -> Callable[[uuid.UUID, bytes], None]:
    """Two raw read-modify-write commands on one customer, on an autocommit connection."""
    p = "?" if backend == "sqlite" else "%s"
    select, insert = SELECT.format(p=p), INSERT.format(p=p)

    def key(customer: uuid.UUID) -> Any:
        # Stored as the library stores ids: hex text on SQLite, uuid on PostgreSQL.
        return customer.hex if backend == "sqlite" else customer

    def command(customer: uuid.UUID, state: bytes) -> None:
        version = connection.execute(select, (key(customer),)).fetchall()[-1][0]
        connection.execute("BEGIN")
        connection.execute(insert, (key(customer), version + 1, raw.RAW_TOPIC, state))
        connection.execute(insert, (key(uuid.uuid4()), 1, raw.RAW_TOPIC, state))
        connection.execute("COMMIT")

    def pair(customer: uuid.UUID, state: bytes) -> None:
        command(customer, state)
        command(customer, state)
    return pair


def prepare_raw(backend: Backend, location: str, ids: Sequence[uuid.UUID],
                rows: Sequence[raw.Row]) -> None:
    """One registration row per customer, like the ledger's store holds (untimed)."""
    registrations = [(customer, 1, raw.RAW_TOPIC, rows[i % len(rows)][1])
                     for i, customer in enumerate(ids)]
    if backend == "sqlite":
        connection = raw.sqlite_connect(location)
        try:
            connection.execute("BEGIN")
            connection.executemany(INSERT.format(p="?"),
                                   [(c.hex, v, t, s) for c, v, t, s in registrations])
            connection.execute("COMMIT")
        finally:
            connection.close()
    else:
        raw.postgres_prepare(location)
        with psycopg.connect(location) as pg, pg.cursor() as cursor:
            cursor.executemany(INSERT.format(p="%s"), registrations)


def run(ctx: BenchContext, backend: Backend, progress: Any) -> Result:
    ledger, ids = ctx.populated(backend)
    count, warm = min(ctx.sizes.pairs, len(ids)), min(ctx.sizes.warmup, len(ids))
    proposer = LedgerClient.in_process(ledger, actor=CLERK, roles=CLERK_ROLES)
    verifier = LedgerClient.in_process(ledger, actor=VERIFIER, roles=VERIFIER_ROLES)
    today = date.today()
    rows = raw.raw_rows(ctx.profiles(count))
    turn = {"ledger": 0, "raw": 0}

    def chosen(name: str, how_many: int) -> list[uuid.UUID]:
        # Each run moves on through the customers, so a pair finds no proposal of its own
        # left pending and the runs do not pile events onto the same few customers.
        start = turn[name]
        turn[name] += how_many
        return [ids[(start + i) % len(ids)] for i in range(how_many)]

    def ledger_pair(customer: uuid.UUID, serial: int) -> None:
        proposed = proposer.propose_change(str(customer), {"basic.name": f"更名 {serial}"},
                                           today)
        verifier.verify_change(str(customer), proposed["result"]["proposal_id"])

    def ledger_run() -> float:
        for serial, customer in enumerate(chosen("ledger", warm)):
            ledger_pair(customer, serial)
        customers = chosen("ledger", count)
        with Stopwatch() as watch:
            for serial, customer in enumerate(customers):
                ledger_pair(customer, serial)
        return rate(count, watch.seconds)

    with ctx.fresh_database(backend, stem="pairs") as location:
        prepare_raw(backend, location, ids, rows)
        connection: Any = (raw.sqlite_connect(location) if backend == "sqlite"
                           else psycopg.connect(location, autocommit=True))
        pair = raw_pair(backend, connection)

        def raw_run() -> float:
            for customer in chosen("raw", warm):
                pair(customer, rows[0][1])
            customers = chosen("raw", count)
            with Stopwatch() as watch:
                for index, customer in enumerate(customers):
                    pair(customer, rows[index][1])
            return rate(count, watch.seconds)

        try:
            stats = interleave(ctx.sizes.runs, {"ledger": ledger_run, "raw": raw_run},
                               progress, budget=ctx.sizes.budget)
        finally:
            connection.close()
    return Result(
        benchmark=TITLE, backend=backend, unit="pairs/s", figure=stats["ledger"],
        baseline=stats["raw"],
        baseline_label="pairs/s of raw read-modify-write: per pair two transactions, each a "
                       "SELECT of the customer's rows, then INSERT of an event row and a "
                       "command row and COMMIT (~1 KB rows, 1 connection)",
        notes=[f"propose_change by {CLERK}, verify_change by {VERIFIER}, in-process; "
               f"{count} pairs per run after {warm} warm-up, each on another of "
               f"{len(ids)} customers registered through the bus (not a fresh store)",
               "each command loads the customer (no snapshot before 100 events), opens "
               "and re-seals its personal fields, and saves event + command record"],
    )


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [run(ctx, backend, progress) for backend in ctx.backends()]
