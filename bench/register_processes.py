"""(p) Register from 16 in-process clients spread over 1 and 2 processes, PostgreSQL only:
issue 13's first target (16 clients over 2 processes >= 1.0x a raw single-row INSERT on one
connection, p99 under 25 ms).

Figure: commands/s of ``LedgerClient.in_process`` threads, 16 in all, split evenly over P
processes (P = 1, 2). Each process bootstraps its own ledger on the same fresh database
(and the same key files), as ``serve --workers`` does, and registers its share of the
profiles from its threads; the clock runs from the moment every process is warmed up and
told to start until the last one has finished. Baseline, same run: raw single-row INSERT
per transaction on one connection, the same rows.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import Any

from bench import raw
from bench.context import (
    CLERK,
    CLERK_ROLES,
    POSTGRES_POOL_SIZE,
    BenchContext,
    quiet_service_logs,
)
from bench.cpu import per_item_note, postgres_seconds
from bench.harness import Result, Stats, interleave, percentile, rate, timed_threads
from bench.register_concurrent import registering
from ledger.settings import Settings
from service.bootstrap import bootstrap
from service.client import LedgerClient

NAME = "register-processes"
PROCESSES = (1, 2)
START_TIMEOUT = 120.0


def client_process(settings: dict[str, Any], first_client: int, clients: int,
                   profiles: list[dict[str, Any]], warmup: list[dict[str, Any]],
                   pipe: Connection) -> None:
    """One process of the run: its own ledger and ``clients`` threads; says when it is
    warm, waits for the word to start, answers its latencies and CPU (or its error), and
    closes its ledger when told."""
    quiet_service_logs()
    try:
        ledger = bootstrap(Settings(**settings), start_projections=False)
        try:
            logged_in = [LedgerClient.in_process(ledger, actor=f"{CLERK}-{first_client + n}",
                                                 roles=CLERK_ROLES) for n in range(clients)]
            for index, profile in enumerate(warmup):
                logged_in[index % clients].register_customer(profile)
            pipe.send("warm")
            pipe.recv()
            cpu_before = time.process_time()
            _, latencies = timed_threads([registering(c, profiles) for c in logged_in],
                                         len(profiles))
            pipe.send(("done", (latencies, time.process_time() - cpu_before)))
            pipe.recv()  # PostgreSQL's CPU is read while this ledger's connections live
        finally:
            ledger.close()
    except Exception as error:  # reported to the parent, which fails the benchmark
        pipe.send(("failed", f"{type(error).__name__}: {error}"))


def register_in_processes(ctx: BenchContext, processes: int, profiles: list[dict[str, Any]],
                          warmup: list[dict[str, Any]], p99: list[float],
                          cpu: dict[str, list[float]]) -> float:
    threads = ctx.sizes.threads
    spawn = multiprocessing.get_context("spawn")  # no lock or pool thread of ours inherited
    with ctx.fresh_database("postgres", stem="processes") as url:
        # The tables and key files made once, before the processes start together.
        ctx.open_ledger("postgres", url).close()
        settings = {"database_url": url, "run_projections": False,
                    "postgres_pool_size": max(4, POSTGRES_POOL_SIZE // processes),
                    "data_dir": str(ctx.keys_dir)}
        share = threads // processes
        pipes, children = [], []
        for number in range(processes):
            parent_end, child_end = spawn.Pipe()
            child = spawn.Process(target=client_process, daemon=True, args=(
                settings, number * share, share, profiles[number::processes],
                warmup[number::processes] or warmup[:1], child_end))
            child.start()
            pipes.append(parent_end)
            children.append(child)
        try:
            for pipe in pipes:
                _expect(pipe, "warm")
            postgres_before, started = postgres_seconds(url), time.perf_counter()
            for pipe in pipes:
                pipe.send("start")
            latencies: list[float] = []
            ledger_seconds = 0.0
            for pipe in pipes:
                their_latencies, their_cpu = _expect(pipe, "done")
                latencies += their_latencies
                ledger_seconds += their_cpu
            seconds = time.perf_counter() - started
            postgres_spent = postgres_seconds(url) - postgres_before
            for pipe in pipes:
                pipe.send("close")
        finally:
            for child in children:
                child.join(timeout=30)
                if child.is_alive():
                    child.kill()
    p99.append(percentile(latencies, 0.99))
    cpu["ledger"].append(ledger_seconds / len(profiles))
    cpu["postgres"].append(postgres_spent / len(profiles))
    return rate(len(profiles), seconds)


def _expect(pipe: Connection, word: str) -> Any:
    if not pipe.poll(START_TIMEOUT):
        raise RuntimeError(f"a client process did not answer {word!r} in time")
    answer = pipe.recv()
    if answer == word:
        return None
    if isinstance(answer, tuple) and answer[0] == word:
        return answer[1]
    reason = answer[1] if isinstance(answer, tuple) else answer
    raise RuntimeError(f"a client process failed: {reason}")


def run(ctx: BenchContext, progress: Any) -> list[Result]:
    profiles = ctx.profiles(ctx.sizes.customers)
    warmup = ctx.warmup_profiles()
    rows, warm_rows = raw.raw_rows(profiles), raw.raw_rows(warmup)
    p99: dict[int, list[float]] = {p: [] for p in PROCESSES}
    cpu: dict[int, dict[str, list[float]]] = {p: {"ledger": [], "postgres": []}
                                              for p in PROCESSES}
    measures = {f"processes-{p}": (lambda p=p: register_in_processes(
        ctx, p, profiles, warmup, p99[p], cpu[p])) for p in PROCESSES}
    measures["raw-1"] = lambda: raw.single_connection_rate(ctx, "postgres", rows, warm_rows)
    stats = interleave(ctx.sizes.runs, measures, progress, budget=ctx.sizes.budget)
    threads = ctx.sizes.threads
    return [Result(
        benchmark=f"register, {threads} in-process clients over {p} "
                  f"process{'es' if p > 1 else ''}",
        backend="postgres", unit="commands/s", figure=stats[f"processes-{p}"],
        baseline=stats["raw-1"],
        baseline_label=raw.SINGLE_CONNECTION_LABEL,
        notes=[f"{threads // p} client threads in each of {p} process{'es' if p > 1 else ''}"
               f", each with its own ledger on one fresh database; N={len(profiles)} "
               f"commands per run after {len(warmup)} warm-up; p99 "
               f"{Stats(tuple(p99[p])).median:.1f} ms (issue 13 target: ratio >= 1.0 with "
               "2 processes, p99 < 25 ms)", cpu_note(cpu[p], stats["raw-1"].median)])
        for p in PROCESSES]


def cpu_note(cpu: dict[str, list[float]], raw_median: float) -> str:
    """What a command costs in CPU, and the most this machine's cores could do at that
    however the clients were spread over processes."""
    text, limit = per_item_note(cpu, ("ledger", "postgres"), "command")
    return f"{text} ({limit / raw_median:.2f}x the raw baseline)"


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    if "postgres" not in ctx.backends():
        return []
    return run(ctx, progress)
