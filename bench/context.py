"""What every benchmark shares: sizes, test data made before timing, and scratch databases.

SQLite stores are files in a temporary directory removed at the end. PostgreSQL stores are
databases this run creates (named ``ledger_bench_<pid>_<token>_<n>``) and drops again,
also when a benchmark fails or the run is interrupted; no other database is touched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import psycopg
import structlog
from psycopg import sql
from tests.factories import make_profile

from ledger.logging import configure_logging
from ledger.settings import Settings
from service.bootstrap import Ledger, bootstrap
from service.client import LedgerClient

Backend = Literal["sqlite", "postgres"]

ADMIN_URL = os.environ.get("LEDGER_BENCH_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
CLERK = "bench-clerk"
# The clerk acts in-process with fixed roles, as an embedding application would.
CLERK_ROLES = ["sales", "info_specialist"]
# As many store connections as the 16-client benchmark has clients (the library adds
# POSTGRES_MAX_OVERFLOW=4 on top), so the ledger is not starved next to raw 16 connections.
POSTGRES_POOL_SIZE = 16


@dataclass(frozen=True)
class Sizes:
    customers: int = 2000        # commands per register run
    reads: int = 1000            # reads per read-latency run
    catch_up_customers: int = 2000  # customers behind the catch-up and read benchmarks
    runs: int = 5                # runs of each measurement (median and min/max over them)
    warmup: int = 50             # untimed commands/reads before each timed run
    threads: int = 16            # concurrent clients
    budget: float = 40.0         # seconds per measurement group before runs are cut to 3
    http_customers: int = 500    # commands per register-over-HTTP run
    pairs: int = 300             # propose + verify pairs per run
    catch_up_events: int = 100_000  # events in the store the catch-up rebuilds from zero
    growth_events: tuple[int, ...] = (10_000, 100_000, 1_000_000)  # cost-growth store sizes
    growth_operations: int = 100  # timed operations per cost-growth measurement
    soak_seconds: float = 180.0  # the mixed-load soak over HTTP (PostgreSQL)
    soak_window: float = 60.0    # one row of throughput, p99, RSS and fds per window
    recovery_trials: int = 5     # sessions terminated, first write timed, this often

    @classmethod
    def quick(cls) -> Sizes:
        return cls(customers=100, reads=100, catch_up_customers=200, runs=3, warmup=10,
                   budget=10.0, http_customers=50, pairs=30, catch_up_events=2_000,
                   growth_events=(2_000, 6_000, 20_000), growth_operations=20,
                   soak_seconds=30.0, soak_window=10.0, recovery_trials=3)


def events_table(ledger: Ledger) -> str:
    """The library's events table: ``stored_events`` on SQLite, ``ledger_events`` on
    PostgreSQL (named after the application there)."""
    name: str = ledger.store.app_recorder.events_table_name  # type: ignore[attr-defined]
    return name


def url_with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


class PostgresScratch:
    """Creates databases for this run only and drops every one of them again."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"ledger_bench_{os.getpid()}_{secrets.token_hex(3)}"
        self.created: list[str] = []
        self._counter = 0

    def available(self) -> str | None:
        """None if the server answers, otherwise why not."""
        try:
            with psycopg.connect(self.admin_url, connect_timeout=3):
                return None
        except psycopg.Error as error:
            return str(error).splitlines()[0] if str(error) else type(error).__name__

    def create(self) -> str:
        self._counter += 1
        name = f"{self.prefix}_{self._counter}"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0")
                          .format(sql.Identifier(name)))
        self.created.append(name)
        return url_with_database(self.admin_url, name)

    def drop(self, url: str) -> None:
        name = database_of(url)
        if name not in self.created:  # only ever drop what this run created
            raise ValueError(f"refusing to drop a database this run did not create: {name}")
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))
        self.created.remove(name)

    def drop_all(self) -> list[str]:
        """Drop every database still left; return the names that could not be dropped."""
        failed = []
        for name in list(self.created):
            try:
                self.drop(url_with_database(self.admin_url, name))
            except psycopg.Error as error:
                print(f"bench: could not drop database {name}: {error}", file=sys.stderr)
                failed.append(name)
        return failed


class BenchContext:
    """Sizes, profiles, scratch stores and the ledgers built on them, for one bench run."""

    def __init__(self, sizes: Sizes, admin_url: str = ADMIN_URL) -> None:
        self.sizes = sizes
        self.workdir = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
        self.postgres = PostgresScratch(admin_url)
        self.postgres_problem = self.postgres.available()
        self._profiles: list[dict[str, Any]] = []
        self._populated: dict[Backend, tuple[Ledger, list[uuid.UUID]]] = {}
        self._files = 0

    # Data, made before any timing -----------------------------------------------------

    def profiles(self, count: int, *, offset: int = 0) -> list[dict[str, Any]]:
        """``count`` realistic zh_CN profiles (Faker, fixed seeds), the same every run."""
        needed = offset + count
        while len(self._profiles) < needed:
            self._profiles.append(make_profile("zh_CN", seed=len(self._profiles)))
        return self._profiles[offset:needed]

    def warmup_profiles(self) -> list[dict[str, Any]]:
        return [make_profile("zh_CN", seed=10_000_000 + i) for i in range(self.sizes.warmup)]

    # Backends ---------------------------------------------------------------------------

    def backends(self) -> list[Backend]:
        """SQLite always; PostgreSQL when the server answers (else its rows are skipped)."""
        return ["sqlite"] if self.postgres_problem else ["sqlite", "postgres"]

    def sqlite_path(self, stem: str) -> Path:
        self._files += 1
        return self.workdir / f"{stem}-{self._files}.sqlite3"

    @contextlib.contextmanager
    def fresh_database(self, backend: Backend, stem: str = "raw") -> Iterator[str]:
        """A new, empty database: yields a file path (SQLite) or a URL (PostgreSQL)."""
        if backend == "sqlite":
            path = self.sqlite_path(stem)
            try:
                yield str(path)
            finally:
                for leftover in path.parent.glob(path.name + "*"):
                    leftover.unlink()
        else:
            url = self.postgres.create()
            try:
                yield url
            finally:
                self.postgres.drop(url)

    @property
    def keys_dir(self) -> Path:
        """Development key files (KEK, blind-index and signing keys) for every ledger of
        this run, here rather than in the checkout's ./var."""
        return self.workdir / "keys"

    def settings_for(self, backend: Backend, location: str, **overrides: Any) -> Settings:
        database_url = f"sqlite:///{location}" if backend == "sqlite" else location
        chosen: dict[str, Any] = {"database_url": database_url, "run_projections": False,
                                  "postgres_pool_size": POSTGRES_POOL_SIZE,
                                  "data_dir": self.keys_dir}
        return Settings(**(chosen | overrides))

    def open_ledger(self, backend: Backend, location: str, **overrides: Any) -> Ledger:
        return bootstrap(self.settings_for(backend, location, **overrides),
                         start_projections=False)

    @contextlib.contextmanager
    def fresh_ledger(self, backend: Backend) -> Iterator[Ledger]:
        """A ledger on a new, empty store (projections not running), gone afterwards."""
        with self.fresh_database(backend, stem="ledger") as location:
            ledger = self.open_ledger(backend, location)
            try:
                yield ledger
            finally:
                ledger.close()

    def populated(self, backend: Backend) -> tuple[Ledger, list[uuid.UUID]]:
        """A ledger holding ``catch_up_customers`` customers registered through the bus and
        projected; built once per run (untimed) and shared by the read and catch-up benches."""
        if backend not in self._populated:
            location = (str(self.sqlite_path("populated")) if backend == "sqlite"
                        else self.postgres.create())
            ledger = self.open_ledger(backend, location)
            client = LedgerClient.in_process(ledger, actor=CLERK, roles=CLERK_ROLES)
            ids = [uuid.UUID(client.register_customer(profile)["aggregate_id"])
                   for profile in self.profiles(self.sizes.catch_up_customers)]
            ledger.runner.catch_up()
            self._populated[backend] = (ledger, ids)
        return self._populated[backend]

    # Lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        for ledger, _ in self._populated.values():
            with contextlib.suppress(Exception):
                ledger.close()
        self._populated.clear()
        if self.postgres_problem is None:
            self.postgres.drop_all()
        shutil.rmtree(self.workdir, ignore_errors=True)


def quiet_service_logs() -> None:
    """The service's own logging (JSON, info level: every command is logged and its cost
    paid) written to /dev/null instead of the terminal."""
    configure_logging(Settings(log_format="json", log_level="info"))
    sink = open(os.devnull, "w")  # noqa: SIM115 - open for the whole run
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sink))
