"""(b) Register N customers from 16 concurrent client threads on PostgreSQL.

Figure: commands/s of 16 in-process ``LedgerClient`` threads sharing one ledger (store pool
of 16 connections) drawing from one queue of profiles. Baseline, same run: raw psycopg
single-row INSERT per transaction from 16 threads with a connection each. The raw rate on
one connection is measured too, because that is what issue 6's target is stated against.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench import raw
from bench.context import CLERK, CLERK_ROLES, BenchContext
from bench.harness import Result, Stats, fmt, interleave, percentile, rate, timed_threads
from commands.client import LedgerClient

NAME = "register-16"
TITLE = "register, 16 clients"


def register_concurrently(ledger: Any, profiles: list[dict[str, Any]],
                          warmup: list[dict[str, Any]], threads: int
                          ) -> tuple[float, list[float]]:
    clients = [LedgerClient.in_process(ledger, actor=f"{CLERK}-{n}", roles=CLERK_ROLES)
               for n in range(threads)]
    for index, profile in enumerate(warmup):
        clients[index % threads].register_customer(profile)
    return timed_threads(
        [lambda index, client=client: client.register_customer(profiles[index])
         for client in clients],
        len(profiles))


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
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
        with ctx.fresh_ledger("postgres") as ledger:
            seconds, latencies = register_concurrently(ledger, profiles, warmup, threads)
        keep("ledger", latencies)
        return rate(len(profiles), seconds)

    def raw_run() -> float:
        with ctx.fresh_database("postgres") as url:
            seconds, latencies = raw.postgres_insert_threads(url, rows, warm_rows, threads)
        keep("raw", latencies)
        return rate(len(rows), seconds)

    def raw_single_run() -> float:
        with ctx.fresh_database("postgres") as url:
            return rate(len(rows), raw.postgres_insert_each(url, rows, warm_rows))

    stats = interleave(ctx.sizes.runs, {"ledger": ledger_run, "raw": raw_run,
                                        "raw-1": raw_single_run}, progress,
                       budget=ctx.sizes.budget)
    single: Stats = stats["raw-1"]
    versus_single = stats["ledger"].median / single.median
    median = statistics.median
    return [Result(
        benchmark=TITLE, backend="postgres", unit="commands/s", figure=stats["ledger"],
        baseline=stats["raw"],
        baseline_label=f"rows/s of raw psycopg single-row INSERT per transaction from "
                       f"{threads} threads, a connection each",
        notes=[
            f"N={len(profiles)} commands per run from {threads} threads after "
            f"{len(warmup)} warm-up",
            f"command latency p50 {fmt(median(p50['ledger']))} ms, p99 "
            f"{fmt(median(p99['ledger']))} ms (raw insert p50 {fmt(median(p50['raw']))} ms, "
            f"p99 {fmt(median(p99['raw']))} ms); medians over runs",
            f"raw INSERT on 1 connection in the same runs: {single.spread} rows/s; "
            f"ledger at 16 clients / raw at 1 connection = {versus_single:.2f}x",
        ],
    )]
