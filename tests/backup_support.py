"""Shared by the backup tests: a live ledger with a backup directory, empty databases to
restore into (on either backend), a restored ledger to read, and every byte a backup left."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ledger.settings import postgres_params_of
from projections.digest import read_model_digests
from service.backup import BackupPlace
from service.bootstrap import Ledger, open_database
from tests.privacy_support import database_bytes


@dataclass
class EmptyDatabases:
    """New, empty databases to restore into: SQLite files, PostgreSQL databases (dropped
    at the end of the test)."""

    directory: Path
    admin_url: Callable[[], str]
    made: list[str] = field(default_factory=list)

    def sqlite(self) -> str:
        return f"sqlite:///{self.directory / uuid.uuid4().hex[:8] / 'restored.sqlite3'}"

    def postgres(self) -> str:
        admin = self.admin_url()
        name = f"ledger_test_restore_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(
                sql.Identifier(name)))
        head, _, _ = admin.rpartition("/")
        self.made.append(f"{head}/{name}")
        return self.made[-1]

    def of(self, backend: str) -> str:
        return self.sqlite() if backend == "sqlite" else self.postgres()

    def drop_all(self) -> None:
        if not self.made:
            return
        admin = self.admin_url()
        with psycopg.connect(admin, autocommit=True) as connection:
            for url in self.made:
                connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(postgres_params_of(url)["dbname"])))


@pytest.fixture
def empty_databases(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
                    ) -> Iterator[EmptyDatabases]:
    databases = EmptyDatabases(tmp_path_factory.mktemp("restored"),
                               lambda: str(request.getfixturevalue("postgres_admin_url")))
    yield databases
    databases.drop_all()


@pytest.fixture
def backup_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Outside the live data directory (a test's own tmp_path holds its SQLite file)."""
    return tmp_path_factory.mktemp("backups") / "events"


def place_of(ledger: Ledger) -> BackupPlace:
    assert ledger.backups is not None
    return ledger.backups.place


def restore(ledger: Ledger, backup_id: str, url: str, **options: Any) -> dict[str, Any]:
    return place_of(ledger).restore(backup_id, url, open_database=open_database, **options)


def digests(ledger: Ledger) -> dict[str, str]:
    ledger.runner.catch_up()
    return read_model_digests(ledger.views, ledger.runner.projections)


def backup_bytes(ledger: Ledger) -> dict[str, bytes]:
    """Every file under both backup directories and the key ring, by path."""
    place = place_of(ledger)
    found: dict[str, bytes] = {}
    for root in (place.events.path, place.keys.path):
        for path in sorted(root.rglob("*")):
            if path.is_file():
                found[str(path)] = path.read_bytes()
    return found


def restored_bytes(url: str) -> dict[str, bytes]:
    """The restored event store's and key store's bytes (the SQLite key store is a sibling
    file; on PostgreSQL, in development, the same database)."""
    found = database_bytes(url)
    if url.startswith("sqlite"):
        keys_url = url.replace("restored.sqlite3", "restored.keys.sqlite3")
        found |= {f"keys:{name}": data for name, data in database_bytes(keys_url).items()}
    return found
