"""A read-only connection to a ledger's database: verification never writes, and can run on
a live store or on a restored copy."""

from __future__ import annotations

from collections.abc import Mapping

from ledger.domain.errors import NotFoundError
from ledger.integrity.checkpoints import SignedCheckpoint
from ledger.integrity.report import VerifyReport
from ledger.integrity.storage import EventLog
from ledger.integrity.verify import Progress, verify_chain
from ledger.settings import Settings, postgres_params_of, sqlite_path_of
from ledger.sql import PostgresDatabase, SqlDatabase, SQLiteDatabase


def open_read_only(settings: Settings) -> SqlDatabase:
    """SQLite opened with ``mode=ro``; PostgreSQL sessions with
    ``default_transaction_read_only`` (and every snapshot ``READ ONLY`` as well)."""
    if settings.backend == "sqlite":
        path = sqlite_path_of(settings.database_url)
        if not path.is_file():
            raise NotFoundError(f"no ledger database at {path}")
        return SQLiteDatabase(path, read_only=True)
    params = postgres_params_of(settings.database_url)
    conninfo = " ".join(f"{key}={value}" for key, value in params.items() if value)
    return PostgresDatabase(conninfo + " options='-c default_transaction_read_only=on'",
                            pool_size=1, name="ledger-verify")


def verify_database(settings: Settings, *, trusted_keys: Mapping[bytes, str] | None = None,
                    exported: SignedCheckpoint | None = None, from_exported: bool = False,
                    progress: Progress | None = None) -> VerifyReport:
    """Verify the configured database over a read-only connection, in one snapshot."""
    database = open_read_only(settings)
    try:
        with database.snapshot() as cursor:
            return verify_chain(cursor, EventLog.of(database.dialect),
                                trusted_keys=trusted_keys, exported=exported,
                                from_exported=from_exported, progress=progress)
    finally:
        database.close()
