"""(a) Register N customers through the real bus, one in-process client, on each backend.

Figure: commands/s of ``LedgerClient.in_process(...).register_customer`` on a fresh store
(projections not running; each command writes the customer's event and its command record
in one transaction). Baseline, same run, same file system or server: one raw single-row
INSERT + COMMIT per row of a similar ~1 KB row into a table shaped like ``stored_events``.
"""

from __future__ import annotations

from typing import Any

from bench import raw
from bench.context import CLERK, CLERK_ROLES, Backend, BenchContext, events_table
from bench.harness import Result, Stopwatch, fmt, interleave, rate
from service.bootstrap import Ledger
from service.client import LedgerClient

NAME = "register"
TITLE = "register, 1 client"


def stored_bytes(ledger: Ledger) -> tuple[int, float]:
    """Rows in the event store and their mean state size, to compare with the raw rows."""
    table = events_table(ledger)
    with ledger.views.snapshot() as cursor:
        row = cursor.one(f"SELECT COUNT(*), AVG(LENGTH(state)) FROM {table}")
    return (int(row[0]), float(row[1] or 0)) if row else (0, 0.0)


def register_all(ledger: Ledger, profiles: list[dict[str, Any]],
                 warmup: list[dict[str, Any]]) -> float:
    client = LedgerClient.in_process(ledger, actor=CLERK, roles=CLERK_ROLES)
    for profile in warmup:
        client.register_customer(profile)
    with Stopwatch() as watch:
        for profile in profiles:
            client.register_customer(profile)
    return watch.seconds


def run(ctx: BenchContext, backend: Backend, progress: Any) -> Result:
    profiles = ctx.profiles(ctx.sizes.customers)
    warmup = ctx.warmup_profiles()
    rows = raw.raw_rows(profiles)
    warm_rows = raw.raw_rows(warmup)
    shape: dict[str, float] = {}

    def ledger_run() -> float:
        with ctx.fresh_ledger(backend) as ledger:
            seconds = register_all(ledger, profiles, warmup)
            count, mean = stored_bytes(ledger)
            shape["rows_per_command"] = count / (len(profiles) + len(warmup))
            shape["bytes"] = mean
        return rate(len(profiles), seconds)

    def raw_run() -> float:
        return raw.single_connection_rate(ctx, backend, rows, warm_rows)

    stats = interleave(ctx.sizes.runs, {"ledger": ledger_run, "raw": raw_run}, progress,
                       budget=ctx.sizes.budget)
    label = ("rows/s of raw sqlite3 single-row INSERT + COMMIT (SQLite) / raw psycopg "
             "single-row INSERT per transaction on 1 connection (PostgreSQL), ~1 KB rows")
    return Result(
        benchmark=TITLE, backend=backend, unit="commands/s", figure=stats["ledger"],
        baseline=stats["raw"], baseline_label=label,
        notes=[f"LedgerClient.in_process().register_customer, N={len(profiles)} commands "
               f"per run after {len(warmup)} warm-up",
               f"the ledger writes {shape['rows_per_command']:.0f} rows per command "
               f"(mean state {fmt(shape['bytes'])} B); raw rows "
               f"{fmt(raw.mean_bytes(rows))} B"],
    )


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [run(ctx, backend, progress) for backend in ctx.backends()]
