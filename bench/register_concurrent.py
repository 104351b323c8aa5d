"""(a) Register N customers from 16 concurrent client threads, on each backend; (e) raw
baselines at 1 and 16 connections and a raw bulk load of the same rows.

Figure: commands/s of 16 in-process ``LedgerClient`` threads sharing one ledger (store pool
of 16 connections) drawing from one queue of profiles, on a fresh store. Baselines, same
run, same rows: raw single-row INSERT per transaction from 16 threads with a connection
each, and on one connection (issue 6's target: 16 ledger clients >= 1 raw connection);
the raw bulk load (PostgreSQL COPY; on SQLite, which has no COPY, one executemany
transaction) is measured beside them as the ceiling batching could reach.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from bench import raw
from bench.context import CLERK, CLERK_ROLES, Backend, BenchContext
from bench.harness import Result, Stats, fmt, interleave, percentile, rate, timed_threads
from service.client import LedgerClient

NAME = "register-16"
TITLE = "register, 16 clients"
P99_TARGET_MS = 25.0


def registering(client: LedgerClient, profiles: list[dict[str, Any]]
                ) -> Callable[[int], object]:
    """What one client thread does with item ``index`` of the shared queue."""
    return lambda index: client.register_customer(profiles[index])


def register_concurrently(ledger: Any, profiles: list[dict[str, Any]],
                          warmup: list[dict[str, Any]], threads: int
                          ) -> tuple[float, list[float]]:
    clients = [LedgerClient.in_process(ledger, actor=f"{CLERK}-{n}", roles=CLERK_ROLES)
               for n in range(threads)]
    for index, profile in enumerate(warmup):
        clients[index % threads].register_customer(profile)
    return timed_threads([registering(client, profiles) for client in clients],
                         len(profiles))


def run(ctx: BenchContext, backend: Backend, progress: Any) -> list[Result]:
    threads = ctx.sizes.threads
    profiles = ctx.profiles(ctx.sizes.customers)
    warmup = ctx.warmup_profiles()
    rows = raw.raw_rows(profiles)
    warm_rows = raw.raw_rows(warmup)
    p50: dict[str, list[float]] = {"ledger": [], "raw": []}
    p99: dict[str, list[float]] = {"ledger": [], "raw": []}

    def keep(name: str, latencies: list[float]) -> None:
        p50[name].append(percentile(latencies, 0.50))
        p99[name].append(percentile(latencies, 0.99))

    def ledger_run() -> float:
        with ctx.fresh_ledger(backend) as ledger:
            seconds, latencies = register_concurrently(ledger, profiles, warmup, threads)
        keep("ledger", latencies)
        return rate(len(profiles), seconds)

    def raw_threads_run() -> float:
        per_second, latencies = raw.threaded_run(ctx, backend, rows, warm_rows, threads)
        keep("raw", latencies)
        return per_second

    def raw_single_run() -> float:
        return raw.single_connection_rate(ctx, backend, rows, warm_rows)

    def raw_bulk_run() -> float:
        with ctx.fresh_database(backend) as location:
            load = raw.sqlite_insert_batch if backend == "sqlite" else raw.postgres_copy
            return rate(len(rows), load(location, rows, warm_rows))

    stats = interleave(ctx.sizes.runs, {"ledger": ledger_run, "raw": raw_threads_run,
                                        "raw-1": raw_single_run, "raw-bulk": raw_bulk_run},
                       progress, budget=ctx.sizes.budget)
    median = statistics.median
    single: Stats = stats["raw-1"]
    size = (f"N={len(profiles)} commands per run from {threads} threads after "
            f"{len(warmup)} warm-up, fresh store each run")
    one_connection = ("rows/s of raw sqlite3 single-row INSERT + COMMIT on 1 connection"
                      if backend == "sqlite" else
                      "rows/s of raw psycopg single-row INSERT per transaction on 1 connection")
    bulk_name = ("raw one-transaction insert, same rows" if backend == "sqlite"
                 else "raw COPY, same rows")
    latency = Stats(tuple(p99["ledger"]))
    return [
        Result(benchmark=TITLE, backend=backend, unit="commands/s", figure=stats["ledger"],
               baseline=stats["raw"],
               baseline_label=f"rows/s of raw single-row INSERT per transaction from "
                              f"{threads} threads, a connection each (sqlite3 / psycopg)",
               notes=[size,
                      f"ledger at {threads} clients / raw at 1 connection = "
                      f"{stats['ledger'].median / single.median:.2f}x (next row)"]),
        Result(benchmark=f"{TITLE} vs raw 1 connection", backend=backend,
               unit="commands/s", figure=stats["ledger"], baseline=single,
               baseline_label=one_connection + " (issue 6 target: ratio >= 1.0 on PostgreSQL)",
               notes=["the same ledger runs as the row above, judged against one raw "
                      "connection"]),
        Result(benchmark=f"{TITLE}, p99 latency", backend=backend, unit="ms",
               figure=latency, baseline=Stats(tuple(p99["raw"])), higher_is_better=False,
               baseline_label=f"p99 ms of one raw single-row INSERT + COMMIT with {threads} "
                              "connections inserting at once",
               notes=[f"p99 of each run's {len(profiles)} command latencies"
                      + ("" if backend == "sqlite" else
                         f" (issue 6 target: < {P99_TARGET_MS:.0f} ms, "
                         f"{'met' if latency.median < P99_TARGET_MS else 'not met'})"),
                      f"p50 {fmt(median(p50['ledger']))} ms (raw insert p50 "
                      f"{fmt(median(p50['raw']))} ms); medians over runs"]),
        Result(benchmark=bulk_name, backend=backend, unit="rows/s", figure=stats["raw-bulk"],
               baseline=single, baseline_label=one_connection,
               notes=[f"{len(rows)} rows (~{fmt(raw.mean_bytes(rows))} B) in one "
                      + ("executemany transaction" if backend == "sqlite" else
                         "COPY FROM STDIN and one commit") + ": what batching could reach"]),
    ]


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [result for backend in ctx.backends() for result in run(ctx, backend, progress)]
