"""(m) Soak and recovery over HTTP on PostgreSQL: does the service keep its pace, memory
and descriptors under a few minutes of mixed load, and how soon does it write again after
its database sessions are terminated?

Soak: 8 clerks (threads, each its own ``LedgerClient.over_http``) loop a mix of commands
and reads (register 40 %, read one customer 40 %, find by name prefix 20 %) against
``ledger serve`` with projections running, for ``soak_seconds``; per ``soak_window``:
completed requests/s, p99 latency, and the server's resident memory and open file
descriptors (from /proc). Baseline, same run: the first window after the warm-up; the ratio
is the last window over it (growth, or slowdown).

Recovery: after every session of the service's database is terminated
(``pg_terminate_backend``), the time until one registration completes (the service's own
retries, then the client's); median of ``recovery_trials``. Baseline, same run: the same
registration with no fault.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from tests.accounts import PASSWORD

from bench.context import BenchContext, database_of
from bench.harness import Result, Stats, fmt, percentile
from bench.register_http import SERVING, clerk, running_service
from ledger.domain.errors import LedgerError
from service.client import LedgerClient
from service.client_retry import RetryPolicy

NAME = "soak-http"
CLERKS = 8
WARMUP_SECONDS = 3.0
RETRY = RetryPolicy(first_delay=0.05, longest_delay=0.5, deadline=30)


def server_memory_and_fds(pid: int) -> tuple[float, int]:
    """Resident memory in MiB and open descriptors of a process (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    rss_kib = next(int(line.split()[1]) for line in status.splitlines()
                   if line.startswith("VmRSS:"))
    return rss_kib / 1024, len(os.listdir(f"/proc/{pid}/fd"))


class Soak:
    """What the clerks did: each request's end time and latency, and per window the
    server's memory and descriptors."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: list[tuple[float, float]] = []  # (finished at, latency ms)
        self.errors: dict[str, int] = {}  # by error code
        self.samples: list[tuple[float, float, int]] = []  # (at, RSS MiB, fds)

    def clerk_loop(self, client: LedgerClient, number: int, until: float,
                   profiles: list[dict[str, Any]]) -> None:
        rng = random.Random(number)
        known: list[tuple[str, int]] = []  # a customer registered, and its position
        names = [str(p["basic"]["name"])[:2] for p in profiles]
        index = number
        while (now := time.perf_counter()) < until:
            pick = rng.random()
            try:
                if pick < 0.4 or not known:
                    outcome = client.register_customer(profiles[index % len(profiles)])
                    index += CLERKS
                    known.append((outcome["aggregate_id"], outcome["position"]))
                elif pick < 0.8:
                    customer_id, position = rng.choice(known)
                    client.get_customer(customer_id, min_position=position)
                else:
                    client.find_customers(name_prefix=rng.choice(names), limit=20)
            except LedgerError as error:
                with self.lock:
                    self.errors[error.code] = self.errors.get(error.code, 0) + 1
                continue
            finished = time.perf_counter()
            with self.lock:
                self.done.append((finished, (finished - now) * 1000))

    def windows(self, start: float, window: float, count: int
                ) -> list[tuple[float, float, float, int]]:
        """Per window: requests/s, p99 ms, RSS MiB and fds at its end."""
        rows = []
        for number in range(count):
            begin, end = start + number * window, start + (number + 1) * window
            latencies = [ms for at, ms in self.done if begin <= at < end]
            sample = min(self.samples, key=lambda s: abs(s[0] - end))
            rows.append((len(latencies) / window,
                         percentile(latencies, 0.99) if latencies else 0.0,
                         sample[1], sample[2]))
        return rows


def soak(ctx: BenchContext, progress: Callable[[str], None]) -> tuple[list[tuple[float, float,
                                                                            float, int]], Soak]:
    sizes = ctx.sizes
    profiles = ctx.profiles(max(500, sizes.http_customers))
    with running_service(ctx, "postgres", CLERKS, LEDGER_RUN_PROJECTIONS="true") as url:
        pid = SERVING[url][0]
        clients = [LedgerClient.over_http(url, username=clerk(n), password=PASSWORD,
                                          retry=RETRY) for n in range(CLERKS)]
        record = Soak()
        started = time.perf_counter()
        measured_from = started + WARMUP_SECONDS
        until = measured_from + sizes.soak_seconds
        threads = [threading.Thread(target=record.clerk_loop,
                                    args=(client, n, until, profiles), daemon=True)
                   for n, client in enumerate(clients)]
        for thread in threads:
            thread.start()
        while (now := time.perf_counter()) < until + 0.5:
            record.samples.append((now, *server_memory_and_fds(pid)))
            progress(f"soak {now - started:.0f}/{until - started:.0f} s")
            time.sleep(1.0)
        for thread in threads:
            thread.join(timeout=60)
        for client in clients:
            client.close()
    count = max(1, int(sizes.soak_seconds // sizes.soak_window))
    return record.windows(measured_from, sizes.soak_window, count), record


def recovery(ctx: BenchContext, progress: Callable[[str], None]) -> tuple[Stats, Stats]:
    profiles = ctx.profiles(ctx.sizes.recovery_trials * 2 + 10)
    faulted: list[float] = []
    calm: list[float] = []
    with running_service(ctx, "postgres", 1) as url:
        database = database_of(SERVING[url][1])
        with LedgerClient.over_http(url, username=clerk(0), password=PASSWORD,
                                    retry=RETRY) as client:
            client.register_customer(profiles[-1])  # warm
            for trial in range(ctx.sizes.recovery_trials):
                progress(f"recovery trial {trial + 1}")
                started = time.perf_counter()
                client.register_customer(profiles[2 * trial])
                calm.append((time.perf_counter() - started) * 1000)
                terminate_sessions(ctx.postgres.admin_url, database)
                started = time.perf_counter()
                client.register_customer(profiles[2 * trial + 1])
                faulted.append((time.perf_counter() - started) * 1000)
                time.sleep(0.5)
    return Stats(tuple(faulted)), Stats(tuple(calm))


def terminate_sessions(admin_url: str, database: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        return len(admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchall())


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    if ctx.postgres_problem is not None:
        return []
    windows, record = soak(ctx, progress)
    faulted, calm = recovery(ctx, progress)
    first, last = windows[0], windows[-1]
    window = f"{fmt(ctx.sizes.soak_window)} s"
    per_window = "; ".join(
        f"w{n + 1}: {fmt(rate)}/s p99 {fmt(p99)} ms {fmt(rss)} MiB {fds} fds"
        for n, (rate, p99, rss, fds) in enumerate(windows))
    size = (f"{CLERKS} clerks over HTTP, {fmt(ctx.sizes.soak_seconds)} s after a "
            f"{fmt(WARMUP_SECONDS)} s warm-up, register 40 % / read 40 % / find 20 %, "
            f"projections on; {len(record.done)} requests, errors by code: "
            f"{record.errors or 'none'}")
    return [
        Result(benchmark="soak over HTTP: throughput, last window", backend="postgres",
               unit="requests/s", figure=Stats((last[0],)), baseline=Stats((first[0],)),
               baseline_label=f"requests/s in the first {window} window of the same soak",
               notes=[size, per_window]),
        Result(benchmark="soak over HTTP: p99 latency, last window", backend="postgres",
               unit="ms", figure=Stats((last[1],)), baseline=Stats((first[1],)),
               baseline_label=f"p99 ms in the first {window} window of the same soak",
               higher_is_better=False, notes=[size]),
        Result(benchmark="soak over HTTP: server RSS, last window", backend="postgres",
               unit="MiB", figure=Stats((last[2],)), baseline=Stats((first[2],)),
               baseline_label=f"server RSS at the end of the first {window} window",
               higher_is_better=False, notes=[size]),
        Result(benchmark="soak over HTTP: server open fds, last window", backend="postgres",
               unit="fds", figure=Stats((float(last[3]),)),
               baseline=Stats((float(first[3]),)),
               baseline_label=f"server open fds at the end of the first {window} window",
               higher_is_better=False, notes=[size]),
        Result(benchmark="recovery: first write after pg_terminate_backend",
               backend="postgres", unit="ms", figure=faulted, baseline=calm,
               baseline_label="ms of the same registration with no fault, same run",
               higher_is_better=False,
               notes=[f"{ctx.sizes.recovery_trials} trials, every session of the service's "
                      "database terminated just before the write; the service's and the "
                      "client's retries included"]),
    ]
