"""Part 4, cost growth: command and read latency on stores of 10,000 to 1,000,000 events.

Figures, per store size: median ms of registering a new customer and of proposing a
change on an existing one (in-process client, through the bus), and of reading one
customer through the projection (``GetCustomer``), through the aggregate (a customer of
one event), and through the aggregate of a long customer (~250 events, snapshots every
100, so a read is one snapshot and under 100 events). Baseline, same run: the same
operation on the smallest store. The stores of every size are open side by side and
their measurements interleave, so drift hits every size alike.

Each store is built untimed: the customers read (real registrations with their keys, a
few lengthened by propose + verify pairs) go in first and are projected; then the log is
filled to size by copying registration and command-record rows under new ids inside the
database (one INSERT ... SELECT), and the customer view gets one copied row per filler
customer, so both the log and the view the reads search grow with the store. Filler rows
are never read, opened or projected.
"""

from __future__ import annotations

import contextlib
import math
import random
import sqlite3
import statistics
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import psycopg

from bench.bulk import lengthen, register_in_bulk
from bench.context import CLERK, CLERK_ROLES, Backend, BenchContext, events_table
from bench.harness import Result, Stats, fmt, interleave, latencies_ms
from commands.actor import Actor
from ledger.settings import sqlite_path_of
from projections.customer_view import COLUMNS as VIEW_TABLE_COLUMNS
from projections.queries import GetCustomer
from service.bootstrap import Ledger
from service.client import LedgerClient

NAME = "growth"
READ_CUSTOMERS = 200
LONG_CUSTOMERS = 5
LONG_EVENTS = 250
WARMUP = 5

FILL_SQLITE = (
    "WITH RECURSIVE copies(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM copies WHERE n < ?) "
    "INSERT INTO {table} (originator_id, originator_version, topic, state) "
    "SELECT lower(hex(randomblob(16))), 1, t.topic, t.state FROM copies, "
    "(SELECT topic, state FROM {table} WHERE originator_version = 1) t LIMIT ?")
FILL_POSTGRES = (
    "INSERT INTO {table} (originator_id, originator_version, topic, state) "
    "SELECT gen_random_uuid(), 1, t.topic, t.state FROM generate_series(1, %s) g, "
    "(SELECT topic, state FROM {table} WHERE originator_version = 1) t LIMIT %s")
# Every column but the id, from the read model itself: a column added there is copied too.
VIEW_COLUMNS = ", ".join(VIEW_TABLE_COLUMNS[1:])
FILL_VIEW_SQLITE = (
    "WITH RECURSIVE copies(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM copies WHERE n < ?) "
    f"INSERT INTO customer_view (customer_id, {VIEW_COLUMNS}) "
    f"SELECT lower(hex(randomblob(16))), {VIEW_COLUMNS} FROM copies, customer_view LIMIT ?")
FILL_VIEW_POSTGRES = (
    f"INSERT INTO customer_view (customer_id, {VIEW_COLUMNS}) "
    f"SELECT gen_random_uuid()::text, {VIEW_COLUMNS} FROM generate_series(1, %s) g, "
    "customer_view LIMIT %s")


def fill(ledger: Ledger, backend: Backend, events: int) -> None:
    """Copy version-1 rows (registrations and command records) under new ids until the
    log holds ``events``; one customer-view row per copied registration."""
    table = events_table(ledger)
    missing = events - ledger.store.head_position()
    if missing <= 0:
        return
    templates = 2 * READ_CUSTOMERS  # version-1 rows: each customer's and its command's
    copies, view_rows = math.ceil(missing / templates), missing // 2
    if backend == "sqlite":
        path = str(sqlite_path_of(ledger.settings.database_url))
        lite = sqlite3.connect(path, isolation_level=None, timeout=10)
        try:
            lite.execute("BEGIN IMMEDIATE")
            lite.execute(FILL_SQLITE.format(table=table), (copies, missing))
            lite.execute(FILL_VIEW_SQLITE, (copies, view_rows))
            lite.execute("COMMIT")
        finally:
            lite.close()
    else:
        with psycopg.connect(ledger.settings.database_url, autocommit=True) as pg:
            with pg.transaction():
                pg.execute(FILL_POSTGRES.format(table=table), (copies, missing))
                pg.execute(FILL_VIEW_POSTGRES, (copies, view_rows))
            # Vacuumed and analysed now, as a store in steady state would be: otherwise
            # autovacuum wakes on the freshly loaded tables in the middle of the timing.
            pg.execute(f"VACUUM (ANALYZE) {table}")
            pg.execute("VACUUM (ANALYZE) customer_view")


class GrownStore:
    """A ledger on a store of ``events`` events, and the operations timed on it."""

    def __init__(self, ctx: BenchContext, backend: Backend, location: str, events: int,
                 progress: Callable[[str], None]) -> None:
        self.events = events
        self.ledger = ctx.open_ledger(backend, location)
        progress(f"building a store of {events:,} events")
        ids = register_in_bulk(self.ledger, ctx.profiles(READ_CUSTOMERS), READ_CUSTOMERS)
        self.long, self.short = ids[:LONG_CUSTOMERS], ids[LONG_CUSTOMERS:]
        lengthen(self.ledger, self.long, LONG_EVENTS)
        self.ledger.runner.catch_up()
        fill(self.ledger, backend, events)
        self.client = LedgerClient.in_process(self.ledger, actor=CLERK, roles=CLERK_ROLES)
        self.actor = Actor(CLERK, frozenset(CLERK_ROLES))
        self.rng = random.Random(events)
        registrations = ctx.sizes.runs * (WARMUP + ctx.sizes.growth_operations)
        self.new_profiles = iter(ctx.profiles(registrations, offset=READ_CUSTOMERS))
        self.today = date.today()

    def some(self, ids: list[uuid.UUID], count: int) -> list[uuid.UUID]:
        return [self.rng.choice(ids) for _ in range(count)]

    def measures(self, count: int) -> dict[str, Callable[[], float]]:
        """Operation name -> one run: the median ms of ``count`` timed operations after a
        short untimed warm-up."""
        client, bus, repository = self.client, self.ledger.bus, self.ledger.store.repository

        def load(customer: uuid.UUID) -> object:
            loaded: object = repository.get(customer)
            return loaded

        def timed(call: Callable[[Any], object], items: Callable[[int], list[Any]]
                  ) -> Callable[[], float]:
            def measure() -> float:
                for item in items(WARMUP):
                    call(item)
                return statistics.median(latencies_ms(call, items(count)))
            return measure

        return {
            "register a customer": timed(
                lambda profile: client.register_customer(profile),
                lambda n: [next(self.new_profiles) for _ in range(n)]),
            "propose a change": timed(
                lambda customer: client.propose_change(
                    str(customer), {"basic.name": f"更名 {self.rng.random()}"}, self.today),
                lambda n: self.some(self.short, n)),
            "read via projection": timed(
                lambda customer: bus.ask(GetCustomer(customer_id=customer), self.actor),
                lambda n: self.some(self.short, n)),
            "read via aggregate": timed(load, lambda n: self.some(self.short, n)),
            f"read a {LONG_EVENTS}-event aggregate": timed(
                load, lambda n: self.some(self.long, n)),
        }

    def close(self) -> None:
        self.ledger.close()


def short_size(events: int) -> str:
    if events >= 1_000_000 and events % 1_000_000 == 0:
        return f"{events // 1_000_000}M"
    return f"{events // 1000}k" if events % 1000 == 0 else f"{events:,}"


def slope_per_decade(sizes: list[int], medians: list[float]) -> float:
    """Least-squares slope of the median latency against log10(events): ms per x10."""
    xs = [math.log10(size) for size in sizes]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(medians)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, medians, strict=True)) / spread


def run(ctx: BenchContext, backend: Backend, progress: Any) -> list[Result]:
    sizes = sorted(ctx.sizes.growth_events)
    with contextlib.ExitStack() as stack:
        stores = []
        for events in sizes:
            location = stack.enter_context(ctx.fresh_database(backend, stem="growth"))
            store = GrownStore(ctx, backend, location, events, progress)
            stack.callback(store.close)
            stores.append(store)
        measures = {f"{name}@{store.events}": measure for store in stores
                    for name, measure in store.measures(ctx.sizes.growth_operations).items()}
        names = list(stores[0].measures(0))
        stats = interleave(ctx.sizes.runs, measures, progress, budget=ctx.sizes.budget)
    results = []
    smallest, largest = sizes[0], sizes[-1]
    for name in names:
        found: dict[int, Stats] = {size: stats[f"{name}@{size}"] for size in sizes}
        medians = [found[size].median for size in sizes]
        results.append(Result(
            benchmark=f"growth: {name}, {short_size(largest)} events", backend=backend,
            unit="ms", figure=found[largest], baseline=found[smallest],
            higher_is_better=False,
            baseline_label=f"median ms of the same operation on a store of "
                           f"{short_size(smallest)} events, same run (ratio = growth)",
            notes=[", ".join(f"{short_size(size)} events: {fmt(found[size].median)} ms"
                             for size in sizes),
                   f"slope {slope_per_decade(sizes, medians):+.3f} ms per x10 events",
                   f"median of {ctx.sizes.growth_operations} operations per run"]))
    return results


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [result for backend in ctx.backends() for result in run(ctx, backend, progress)]
