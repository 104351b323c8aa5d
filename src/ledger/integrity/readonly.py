"""A read-only connection to a ledger's database: verification never writes, and can run on
a live store or on a restored copy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from ledger.connect import check_postgres_answers, postgres_conninfo
from ledger.crypto import KeyMaterialError, named
from ledger.domain.errors import NotFoundError
from ledger.domain.messages import message
from ledger.integrity.checkpoints import SignedCheckpoint
from ledger.integrity.keys import DEFAULT_KEY_FILE_NAME, read_key_file, read_public_key_file
from ledger.integrity.report import VerifyReport
from ledger.integrity.storage import stored_event_log
from ledger.integrity.verify import Progress, verify_chain
from ledger.policy import load_policy
from ledger.settings import Settings, sqlite_path_of
from ledger.sql import SqlDatabase
from ledger.sql_postgres import PostgresDatabase
from ledger.sql_sqlite import SQLiteDatabase


def open_read_only(settings: Settings) -> SqlDatabase:
    """SQLite opened with ``mode=ro``; PostgreSQL sessions with
    ``default_transaction_read_only`` (and every snapshot ``READ ONLY`` as well)."""
    if settings.backend == "sqlite":
        path = sqlite_path_of(settings.database_url)
        if not path.is_file():
            raise NotFoundError(message("no ledger database at {path}", path=str(path)))
        return SQLiteDatabase(path, read_only=True, busy_timeout=settings.sqlite_busy_timeout)
    check_postgres_answers(settings.database_url, settings.connect_timeout)
    conninfo = postgres_conninfo(settings.database_url,
                                 options="-c default_transaction_read_only=on")
    return PostgresDatabase(conninfo, pool_size=1, name="ledger-verify")


def configured_public_keys(settings: Settings) -> dict[bytes, str]:
    """The public keys verify trusts, each from outside the database: the configured public
    key file, and the signing key file's public half when this machine has it."""
    trusted: dict[bytes, str] = {}
    if settings.signing_public_key_file is not None:
        path = settings.signing_public_key_file
        trusted[read_public_key_file(path, "LEDGER_SIGNING_PUBLIC_KEY_FILE")] = (
            f"the public key file {path}")
    path = settings.signing_key_file or settings.data_dir / DEFAULT_KEY_FILE_NAME
    if path.exists():
        try:
            key = read_key_file(path)
        except KeyMaterialError as error:
            raise named(error, "LEDGER_SIGNING_KEY_FILE" if settings.signing_key_file
                        else None) from None
        trusted.setdefault(key.public_key, f"the signing key file {path}")
    return trusted


def verify_database(settings: Settings, *, trusted_keys: Mapping[bytes, str] | None = None,
                    exported: SignedCheckpoint | None = None, from_exported: bool = False,
                    progress: Progress | None = None, now: datetime | None = None
                    ) -> VerifyReport:
    """Verify the configured database over a read-only connection, in one snapshot, against
    ``trusted_keys`` and the configured public keys; records older than the policy's
    checkpoint interval must be covered by a checkpoint one of them verifies."""
    trusted = dict(trusted_keys or {}) | configured_public_keys(settings)
    interval = timedelta(seconds=load_policy(settings.policy_file).checkpoint_every_seconds)
    database = open_read_only(settings)
    try:
        with database.snapshot() as cursor:
            return verify_chain(cursor, stored_event_log(cursor, database.dialect),
                                trusted_keys=trusted, exported=exported,
                                from_exported=from_exported, progress=progress, now=now,
                                interval=interval)
    finally:
        database.close()
