"""Shared fixtures: a real SQLite file per test, a real PostgreSQL database per test.

PostgreSQL tests skip when no server answers, unless LEDGER_REQUIRE_POSTGRES=1 (set by
.ci/run), which turns a missing server into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from commands.actor import Actor
from ledger.settings import Settings
from service.bootstrap import Ledger, bootstrap

ADMIN_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("LEDGER_REQUIRE_POSTGRES") == "1"
RUN_PREFIX = f"ledger_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
FAST_HASHING_POLICY = Path(__file__).with_name("fast_hashing_policy.toml")


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error).splitlines()[0] if str(error) else type(error).__name__


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    problem = _postgres_available()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (LEDGER_REQUIRE_POSTGRES=1) but: {problem}")
        pytest.skip(f"no PostgreSQL server: {problem}")
    return ADMIN_URL


def _with_database(url: str, name: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


class ReusedDatabases:
    """This test process's PostgreSQL databases: each serves one test at a time, is emptied
    before the next, and all are dropped when the run ends.

    Creating a database and dropping it took about 0.4 s a test, more than many tests
    themselves; emptying one (every schema dropped, ``public`` made anew) takes a tenth of
    that. It is emptied when the next test takes it, not when its test ends: the test's
    ledgers close after its database fixture has ended (fixtures end in reverse order). A
    database some client still holds then, or that cannot be emptied, is dropped instead."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.used: list[str] = []
        self.made: list[str] = []

    def take(self) -> str:
        while self.used:
            name = self.used.pop()
            if self._emptied(name):
                return name
            self.drop(name)
        name = f"{RUN_PREFIX}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')  # type: ignore[arg-type]
        self.made.append(name)
        return name

    def give_back(self, name: str) -> None:
        self.used.append(name)

    def _emptied(self, name: str) -> bool:
        try:
            with psycopg.connect(_with_database(self.admin_url, name), autocommit=True) as db:
                if self._clients(db) != 0:
                    return False
                schemas = [row[0] for row in db.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                    "AND nspname <> 'information_schema'")]
                for schema in schemas:
                    db.execute(f'DROP SCHEMA "{schema}" CASCADE')  # type: ignore[arg-type]
                db.execute("CREATE SCHEMA public")
                return self._clients(db) == 0
        except psycopg.Error:
            return False  # gone, or the server restarted under it: a new one is made

    @staticmethod
    def _clients(db: psycopg.Connection[Any]) -> int:
        row = db.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                         "current_database() AND pid <> pg_backend_pid() "
                         "AND backend_type = 'client backend'").fetchone()
        return -1 if row is None else int(row[0])

    def drop(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        self.made.remove(name)

    def drop_all(self) -> None:
        for name in list(self.made):
            self.drop(name)

    def drop_abandoned(self) -> list[str]:
        """Databases an earlier run on this machine left behind (it was killed before its
        end): named after a test process that no longer exists. Only on a server on this
        machine, whose process ids are ours to check."""
        if urlsplit(self.admin_url).hostname not in ("127.0.0.1", "localhost", "::1", None):
            return []
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            names = [row[0] for row in admin.execute(
                "SELECT datname FROM pg_database WHERE datname ~ '^ledger_test_[0-9]+_'")]
            abandoned = [name for name in names if not _running(int(name.split("_")[2]))]
            for name in abandoned:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        return abandoned


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_REUSED: list[ReusedDatabases] = []


@pytest.fixture(scope="session")
def reused_databases(postgres_admin_url: str) -> ReusedDatabases:
    databases = ReusedDatabases(postgres_admin_url)
    databases.drop_abandoned()
    _REUSED.append(databases)
    return databases


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A ``sqlite_only`` case is not collected for PostgreSQL at all: no test is skipped."""
    def on_postgres(item: pytest.Item) -> bool:
        callspec = getattr(item, "callspec", None)
        return callspec is not None and "postgres" in callspec.params.values()

    dropped = [item for item in items
               if item.get_closest_marker("sqlite_only") and on_postgres(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run's databases are dropped after its last test, not in that test's teardown
    (where a session fixture's end runs), which may be a unit test's that may not connect."""
    for databases in _REUSED:
        databases.drop_all()


@pytest.fixture
def postgres_url(postgres_admin_url: str, reused_databases: ReusedDatabases
                 ) -> Iterator[str]:
    """An empty PostgreSQL database for one test (no schema but an empty ``public``)."""
    name = reused_databases.take()
    try:
        yield _with_database(postgres_admin_url, name)
    finally:
        reused_databases.give_back(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on a SQLite file and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 27, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(scope="session")
def development_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where development key files go: a temporary folder, never the checkout's ./var."""
    return tmp_path_factory.mktemp("development-keys")


@pytest.fixture
def make_ledger(clock: FixedClock, development_keys: Path) -> Iterator[Callable[..., Ledger]]:
    built: list[Ledger] = []

    def make(database_url: str, **options: Any) -> Ledger:
        start = options.pop("start_projections", False)
        options.setdefault("policy_file", FAST_HASHING_POLICY)
        options.setdefault("data_dir", development_keys)
        ledger = bootstrap(Settings(database_url=database_url, **options), clock=clock,
                           start_projections=start)
        built.append(ledger)
        return ledger

    yield make
    for ledger in built:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger], database_url: str) -> Ledger:
    """A ledger on each backend, projections driven by the test (no background thread)."""
    return make_ledger(database_url)


@pytest.fixture
def sqlite_ledger(make_ledger: Callable[..., Ledger], sqlite_url: str) -> Ledger:
    return make_ledger(sqlite_url)


# Trusted in-process actors with every customer-record permission (the authoriser applies
# the policy's permission table to them like to anyone); tests of access control build
# actors with the roles they examine.
SPECIALIST = frozenset({"info_specialist"})
ALICE = Actor("alice", SPECIALIST, department="sales")
BOB = Actor("bob", SPECIALIST, department="sales")
