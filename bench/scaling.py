"""(s) Scaling over processes, PostgreSQL only: the scaling table of issue 13.

Register over HTTP, 16 clients: ``ledger serve --workers P --no-background`` with P = 1,
2 and 4 server processes and W = 1 and 2 ``ledger worker`` processes running beside them
(keeping every read model current and sealing, as in production), on a fresh store each
run. Baseline, same run: raw single-row INSERT per transaction on 1 connection.

Catch-up from zero with W = 1 and 2 workers: the log of the catch-up benchmark (100,000
events at full size, sealed beforehand), every read model emptied and its checkpoint set
to 0 while this process holds every job's lock; the workers start, and once they are all
up the locks go and the clock runs until every read model reflects the head. So the figure
includes a claim round (at most 0.5 s) but no start-up. Baseline: the catch-up
benchmark's raw scan of the log with one INSERT per customer event.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
from tests.accounts import PASSWORD

from bench import raw
from bench.bulk import register_in_bulk
from bench.catch_up import raw_copy_postgres
from bench.context import POSTGRES_POOL_SIZE, BenchContext, events_table
from bench.cpu import CpuBusy, CpuSpent, per_item_note
from bench.harness import Result, Stats, interleave, percentile, rate, timed_threads
from bench.register_concurrent import registering
from bench.register_http import (
    LEDGER,
    SERVING,
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    clerk,
    running_service,
    service_env,
)
from ledger.job_locks import LOCK_CLASS, LOCK_PARAMS, WORKERS_SQL, job_key
from ledger.sql import sql_placeholders
from projections.customer_view import CustomerView
from service.bootstrap import Ledger
from service.client import LedgerClient
from service.processes import background_jobs

NAME = "scaling"
SERVER_PROCESSES = (1, 2, 4)
WORKERS = (1, 2)
WORKER_POOL_SIZE = 4


@contextlib.contextmanager
def running_workers(ctx: BenchContext, database_url: str, count: int) -> Iterator[list[int]]:
    """``count`` ``ledger worker`` processes; yields their pids once every one has
    announced itself."""
    # A worker's runner and sealer use a connection or two at a time.
    env = service_env(ctx, database_url, LEDGER_POSTGRES_POOL_SIZE=str(WORKER_POOL_SIZE))
    processes = []
    for number in range(count):
        with (ctx.workdir / f"worker-{number}.log").open("wb") as sink:
            processes.append(subprocess.Popen(
                [LEDGER, "worker"], cwd=ctx.workdir, env=env, stdin=subprocess.DEVNULL,
                stdout=sink, stderr=subprocess.STDOUT))
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while live_workers(database_url) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"{count} ledger workers did not start")
            time.sleep(0.05)
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)


def live_workers(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(sql_placeholders(WORKERS_SQL).encode(),
                                 LOCK_PARAMS).fetchone()
    return int(row[0]) if row else 0


def every_process_answers(url: str, processes: int) -> None:
    """Wait until ``processes`` distinct server processes have answered /healthz."""
    seen: set[str] = set()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while len(seen) < processes:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(seen)} of {processes} server processes answered")
        seen.add(httpx.get(f"{url}/healthz", timeout=10).json()["process"])


def register_scaled(ctx: BenchContext, processes: int, workers: int,
                    profiles: list[dict[str, Any]], warmup: list[dict[str, Any]],
                    p99: dict[str, list[float]], busy: dict[str, list[float]],
                    cpu_parts: dict[str, dict[str, list[float]]]) -> float:
    clients = ctx.sizes.threads
    # The same connection budget however many processes share it (PostgreSQL allows
    # 100 connections by default): the pool size is per process.
    with running_service(ctx, "postgres", clients, "--workers", str(processes),
                         "--no-background", LEDGER_RUN_PROJECTIONS="true",
                         LEDGER_POSTGRES_POOL_SIZE=str(max(4, POSTGRES_POOL_SIZE // processes))
                         ) as url:
        every_process_answers(url, processes)
        database_url = service_database(url)
        with running_workers(ctx, database_url, workers) as worker_pids:
            logged_in = [LedgerClient.over_http(url, username=clerk(n), password=PASSWORD)
                         for n in range(clients)]
            try:
                for index, profile in enumerate(warmup):
                    logged_in[index % clients].register_customer(profile)
                with (CpuBusy() as cpu,
                      CpuSpent(database_url, servers=[SERVING[url][0]],
                               workers=worker_pids) as spent):
                    seconds, latencies = timed_threads(
                        [registering(client, profiles) for client in logged_in],
                        len(profiles))
            finally:
                for client in logged_in:
                    client.close()
    key = f"{processes}x{workers}"
    p99.setdefault(key, []).append(percentile(latencies, 0.99))
    busy.setdefault(key, []).append(cpu.share)
    for part, part_seconds in spent.seconds.items():
        cpu_parts.setdefault(key, {}).setdefault(part, []).append(part_seconds / len(profiles))
    return rate(len(profiles), seconds)


def service_database(url: str) -> str:
    return SERVING[url][1]


def reset_read_models(ledger: Ledger) -> None:
    """Every read model empty and at position 0, as before a first catch-up."""
    with ledger.views.transaction() as cursor:
        for projection in ledger.runner.projections.values():
            cursor.execute("UPDATE projection_checkpoints SET position = 0 WHERE name = :name",
                           {"name": projection.name})
            projection.clear(cursor)


def catch_up_with_workers(ctx: BenchContext, ledger: Ledger, workers: int, events: int,
                          busy: list[float], cpu_parts: dict[str, list[float]]) -> float:
    url = ledger.settings.database_url
    jobs = background_jobs(list(ledger.runner.projections))
    head = ledger.store.head_position()
    with psycopg.connect(url, autocommit=True) as gate:
        for job in jobs:  # held here, so no worker starts before the clock does
            gate.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, job_key(job)))
        reset_read_models(ledger)
        with (running_workers(ctx, url, workers) as worker_pids, CpuBusy() as cpu,
              CpuSpent(url, workers=worker_pids) as spent):
            started = time.perf_counter()
            gate.execute("SELECT pg_advisory_unlock_all()")
            while ledger.runner.position() < head:
                time.sleep(0.01)
            seconds = time.perf_counter() - started
    busy.append(cpu.share)
    for part in ("workers", "postgres"):
        cpu_parts.setdefault(part, []).append(spent.seconds[part] / events)
    return rate(events, seconds)


def run(ctx: BenchContext, progress: Any) -> list[Result]:
    profiles = ctx.profiles(ctx.sizes.http_customers)
    warmup = ctx.warmup_profiles()
    rows, warm_rows = raw.raw_rows(profiles), raw.raw_rows(warmup)
    p99: dict[str, list[float]] = {}
    busy: dict[str, list[float]] = {}
    cpu_parts: dict[str, dict[str, list[float]]] = {}
    measures = {f"http-{p}x{w}": (lambda p=p, w=w: register_scaled(
        ctx, p, w, profiles, warmup, p99, busy, cpu_parts))
        for p in SERVER_PROCESSES for w in WORKERS}
    measures["raw-1"] = lambda: raw.single_connection_rate(ctx, "postgres", rows, warm_rows)
    stats = interleave(ctx.sizes.runs, measures, progress, budget=ctx.sizes.budget)
    results = [Result(
        benchmark=f"scaling: register over HTTP, {ctx.sizes.threads} clients, {p} server "
                  f"process{'es' if p > 1 else ''}, {w} worker{'s' if w > 1 else ''}",
        backend="postgres", unit="commands/s", figure=stats[f"http-{p}x{w}"],
        baseline=stats["raw-1"],
        baseline_label=raw.SINGLE_CONNECTION_LABEL,
        notes=[f"`serve --workers {p} --no-background` and {w} `ledger worker`; "
               f"N={len(profiles)} commands per run after {len(warmup)} warm-up, a fresh "
               f"store each run; p99 {Stats(tuple(p99[f'{p}x{w}'])).median:.1f} ms; the "
               f"{os.cpu_count()} cores {Stats(tuple(busy[f'{p}x{w}'])).median:.0%} busy",
               limit_note(cpu_parts[f"{p}x{w}"], ("servers", "workers", "postgres"),
                          "command", stats["raw-1"].median)])
        for p in SERVER_PROCESSES for w in WORKERS]
    return results + catch_up_rows(ctx, progress)


def catch_up_rows(ctx: BenchContext, progress: Any) -> list[Result]:
    with (ctx.fresh_database("postgres", stem="scaling") as location,
          ctx.open_ledger("postgres", location) as ledger):
        customers = ctx.sizes.catch_up_events // 2
        register_in_bulk(ledger, ctx.profiles(ctx.sizes.catch_up_customers), customers,
                         progress)
        ledger.sealer.seal_all()  # sealing is not what this figure measures
        table = events_table(ledger)
        with ledger.views.snapshot() as cursor:
            row = cursor.one(f"SELECT COUNT(*) FROM {table}")
        events = int(row[0]) if row else 0
        busy: dict[int, list[float]] = {w: [] for w in WORKERS}
        cpu_parts: dict[int, dict[str, list[float]]] = {w: {} for w in WORKERS}
        measures = {f"workers-{w}": (lambda w=w: catch_up_with_workers(
            ctx, ledger, w, events, busy[w], cpu_parts[w])) for w in WORKERS}
        measures["raw"] = lambda: rate(events, raw_copy_postgres(
            ledger.settings.database_url, table, CustomerView.topics)[0])
        stats = interleave(ctx.sizes.runs, measures, progress, budget=ctx.sizes.budget)
    return [Result(
        benchmark=f"scaling: catch-up from zero, {w} worker{'s' if w > 1 else ''}",
        backend="postgres", unit="events/s", figure=stats[f"workers-{w}"],
        baseline=stats["raw"],
        baseline_label="events/s of a raw scan of the log in pages of 1,000 with one INSERT "
                       "per customer event into a scratch table, 1 transaction per page",
        notes=[f"{events:,} events; {w} `ledger worker` processes sharing the "
               f"{len(ledger.runner.projections)} read models by their locks; the "
               f"{os.cpu_count()} cores {Stats(tuple(busy[w])).median:.0%} busy",
               limit_note(cpu_parts[w], ("workers", "postgres"), "event",
                          stats["raw"].median)])
        for w in WORKERS]


def limit_note(parts: dict[str, list[float]], service: tuple[str, ...], unit: str,
               raw_median: float) -> str:
    text, limit = per_item_note(parts, service, unit)
    return f"{text} ({limit / raw_median:.2f}x the raw baseline)"


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    if "postgres" not in ctx.backends():
        return []
    return run(ctx, progress)
