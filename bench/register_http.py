"""(a) Register N customers over HTTP, 1 and 16 clients, against the real service.

Figure: commands/s of ``LedgerClient.over_http(...).register_customer`` against ``ledger
serve`` (the real executable, its own process, uvicorn on a free loopback port, plain
HTTP as allowed on 127.0.0.1), on a fresh store per run; 16 clients are 16 threads in
this process, each logged in as its own clerk with its own keep-alive connection.
Baselines, same run, same rows: raw single-row INSERT per transaction on 1 connection
(for 1 client) and from 16 connections (for 16 clients), as in the in-process rows.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from tests.accounts import PASSWORD, open_account

from bench import REPO_ROOT, raw
from bench.context import POSTGRES_POOL_SIZE, Backend, BenchContext
from bench.harness import Result, Stats, fmt, interleave, percentile, rate, timed_threads
from bench.register_concurrent import registering
from service.client import LedgerClient

NAME = "register-http"
LEDGER = str(Path(sys.executable).with_name("ledger"))
# Logins and account set-up are untimed: the cheapest argon2 parameters keep them quick.
FAST_HASHING = REPO_ROOT / "tests" / "fast_hashing_policy.toml"
STARTUP_TIMEOUT = 60.0
# The process id and database of the service at each URL ``running_service`` yields (the
# soak reads its memory and descriptors, the recovery trials terminate its sessions).
SERVING: dict[str, tuple[int, str]] = {}
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clerk(number: int) -> str:
    return f"bench.http.{number}"


def service_env(ctx: BenchContext, database_url: str, **extra_env: str) -> dict[str, str]:
    """The environment a benchmark's ``ledger`` process runs in: this run's store, keys and
    fast-hashing policy, JSON logs, projections off unless ``extra_env`` says otherwise."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith("LEDGER_")} | {
        "LEDGER_DATABASE_URL": database_url,
        "LEDGER_DATA_DIR": str(ctx.keys_dir), "LEDGER_POLICY_FILE": str(FAST_HASHING),
        "LEDGER_RUN_PROJECTIONS": "false", "LEDGER_LOG_FORMAT": "json",
        "LEDGER_POSTGRES_POOL_SIZE": str(POSTGRES_POOL_SIZE)} | extra_env


@contextlib.contextmanager
def running_service(ctx: BenchContext, backend: Backend, clerks: int, *args: str,
                    **extra_env: str) -> Iterator[str]:
    """``ledger serve`` (with ``args``) on a fresh store holding ``clerks`` sales accounts;
    yields its URL.

    Projections do not run (as in the in-process benchmarks) unless ``extra_env`` says
    otherwise; the service logs JSON at info level into a file, as a deployment would."""
    with ctx.fresh_database(backend, stem="http") as location:
        settings = ctx.settings_for(backend, location, policy_file=FAST_HASHING)
        with ctx.open_ledger(backend, location, policy_file=FAST_HASHING) as ledger:
            for number in range(clerks):
                open_account(ledger, clerk(number), "sales")
        port = free_port()
        log = ctx.workdir / f"serve-{port}.log"
        env = service_env(ctx, settings.database_url, **extra_env)
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [LEDGER, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
                cwd=ctx.workdir, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        SERVING[url] = (process.pid, settings.database_url)
        try:
            wait_until_healthy(process, url, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
            log.unlink(missing_ok=True)


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ledger serve exited with {process.returncode}: "
                               f"{log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"ledger serve was not healthy within {STARTUP_TIMEOUT:.0f} s")


def register_over_http(ctx: BenchContext, backend: Backend, clients: int,
                       profiles: list[dict[str, Any]], warmup: list[dict[str, Any]]
                       ) -> tuple[float, list[float]]:
    with running_service(ctx, backend, clients) as url:
        logged_in = [LedgerClient.over_http(url, username=clerk(n), password=PASSWORD)
                     for n in range(clients)]
        try:
            for index, profile in enumerate(warmup):
                logged_in[index % clients].register_customer(profile)
            return timed_threads([registering(client, profiles) for client in logged_in],
                                 len(profiles))
        finally:
            for client in logged_in:
                client.close()


def run(ctx: BenchContext, backend: Backend, progress: Any) -> list[Result]:
    threads = ctx.sizes.threads
    profiles = ctx.profiles(ctx.sizes.http_customers)
    warmup = ctx.warmup_profiles()
    rows = raw.raw_rows(profiles)
    warm_rows = raw.raw_rows(warmup)
    p50: list[float] = []
    p99: list[float] = []

    def http_run(clients: int) -> float:
        seconds, latencies = register_over_http(ctx, backend, clients, profiles, warmup)
        if clients > 1:
            p50.append(percentile(latencies, 0.50))
            p99.append(percentile(latencies, 0.99))
        return rate(len(profiles), seconds)

    def raw_single_run() -> float:
        return raw.single_connection_rate(ctx, backend, rows, warm_rows)

    def raw_threads_run() -> float:
        return raw.threaded_run(ctx, backend, rows, warm_rows, threads)[0]

    stats = interleave(ctx.sizes.runs, {
        "http-1": lambda: http_run(1), "raw-1": raw_single_run,
        "http-16": lambda: http_run(threads), "raw-16": raw_threads_run,
    }, progress, budget=ctx.sizes.budget)
    size = (f"N={len(profiles)} commands per run after {len(warmup)} warm-up; a fresh store "
            "and a fresh `ledger serve` process each run (projections off, JSON logs on)")
    median = statistics.median
    return [
        Result(benchmark="register over HTTP, 1 client", backend=backend, unit="commands/s",
               figure=stats["http-1"], baseline=stats["raw-1"],
               baseline_label="rows/s of raw single-row INSERT per transaction on 1 "
                              "connection (sqlite3 / psycopg)",
               notes=[size]),
        Result(benchmark=f"register over HTTP, {threads} clients", backend=backend,
               unit="commands/s", figure=stats["http-16"], baseline=stats["raw-16"],
               baseline_label=f"rows/s of raw single-row INSERT per transaction from {threads} "
                              "threads, a connection each (sqlite3 / psycopg)",
               notes=[size, f"{threads} clerks logged in, a keep-alive connection each",
                      f"command latency p50 {fmt(median(p50))} ms, p99 "
                      f"{fmt(Stats(tuple(p99)).median)} ms (medians over runs)"]),
    ]


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [result for backend in ctx.backends() for result in run(ctx, backend, progress)]
