"""Restoring a full backup and its incrementals into a fresh, empty database.

Every backup of the chain is checked completely first (nothing is written while any of
them might be bad); then the event tables are made by the event store itself, and the
records, their seals and the signed checkpoints go in, in one transaction, at the
positions they had, so the chain verifies in the new database as it did in the old,
whichever backend each is.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.backup.check import (
    ChainItem,
    EventRow,
    check_contents,
    check_files,
    check_follows,
    data_key_of,
    integrity_items,
)
from ledger.backup.manifest import SignedManifest
from ledger.domain.errors import ConflictError
from ledger.domain.messages import message
from ledger.integrity.checkpoints import SignedCheckpoint
from ledger.integrity.storage import EventLog, create_tables, insert_checkpoint
from ledger.sql import Cursor, SqlDatabase

BATCH = 5000
Progress = Callable[[int, int], None]
Located = tuple[Path, SignedManifest]


class RestoreTargetNotEmptyError(ConflictError):
    """A restore goes only into an empty database: it never merges into one in use."""


def table_names(db: SqlDatabase) -> list[str]:
    with db.snapshot() as cursor:
        if db.dialect == "sqlite":
            rows = cursor.all("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = cursor.all("SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = current_schema()")
    return sorted(str(row[0]) for row in rows)


def ensure_empty(db: SqlDatabase, what: str) -> None:
    tables = table_names(db)
    if tables:
        raise RestoreTargetNotEmptyError(
            message("the {target} to restore into is not empty ({tables} tables): restore only "
                    "into a new, empty database", target=what, tables=len(tables)),
            details={"target": what, "tables": len(tables)})


def check_chain(chain: Sequence[Located], backup_key: bytes,
                trusted: Collection[bytes] | None) -> None:
    """Check every backup of a restore chain, full first, before anything is written."""
    parent: SignedManifest | None = None
    for directory, signed in chain:
        check_files(directory, signed, trusted)
        check_follows(signed, parent)
        check_contents(directory, signed, backup_key, trusted)
        parent = signed


@dataclass
class RestoredLog:
    records: int
    last_position: int
    checkpoints: int


def restore_events(target: SqlDatabase, chain: Sequence[Located], backup_key: bytes,
                   trusted: Collection[bytes] | None, make_event_tables: Callable[[], None],
                   progress: Progress | None = None) -> RestoredLog:
    """Write the chain's records, seals and checkpoints into ``target`` (checked empty and
    the chain checked by the caller); ``make_event_tables`` is the event store's own set-up."""
    make_event_tables()
    events = EventLog.of(target.dialect)
    last = chain[-1][1].manifest
    total = sum(signed.manifest.records for _, signed in chain)
    restored = RestoredLog(0, 0, 0)
    with target.transaction() as cursor:
        create_tables(cursor, target.dialect)
        for directory, signed in chain:
            writer = _Writer(cursor, events, restored, total, progress)
            check_contents(directory, signed, backup_key, trusted, writer.add)
            writer.flush()
            for checkpoint in _checkpoints_of(directory, signed, backup_key):
                insert_checkpoint(cursor, checkpoint)
                restored.checkpoints += 1
        end = last.chain_end
        if end is not None:
            cursor.execute("UPDATE integrity_seal SET position = :position, records = :records,"
                           " chain_hash = :hash, checkpoint_sequence = :sequence WHERE id = 1",
                           {"position": end.position, "records": end.records,
                            "hash": bytes.fromhex(end.chain_hash),
                            "sequence": end.checkpoint_sequence})
        if target.dialect == "postgres" and restored.last_position:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{events.table}', "
                           f"'{events.position}'), :last)", {"last": restored.last_position})
    return restored


def _checkpoints_of(directory: Path, signed: SignedManifest, backup_key: bytes
                    ) -> list[SignedCheckpoint]:
    checkpoints, _ = integrity_items(directory, signed, data_key_of(signed, backup_key))
    return checkpoints


class _Writer:
    def __init__(self, cursor: Cursor, events: EventLog, restored: RestoredLog, total: int,
                 progress: Progress | None) -> None:
        self.cursor = cursor
        self.events = events
        self.restored = restored
        self.total = total
        self.progress = progress
        self.rows: list[tuple[Any, ...]] = []
        self.seals: list[tuple[Any, ...]] = []

    def add(self, event: EventRow, seal: ChainItem) -> None:
        position, identity, version, topic, state = event
        originator: Any = UUID(hex=identity) if self.events.dialect == "postgres" else identity
        self.rows.append((position, originator, version, topic, state))
        self.seals.append(seal)
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        self.cursor.insert_rows(self.events.table, (
            self.events.position, "originator_id", "originator_version", "topic", "state"),
            self.rows)
        self.cursor.insert_rows("integrity_chain", (
            "position", "previous_position", "originator_id", "originator_version",
            "record_digest", "chain_hash"), self.seals)
        self.restored.records += len(self.rows)
        self.restored.last_position = int(self.rows[-1][0])
        self.rows, self.seals = [], []
        if self.progress is not None:
            self.progress(self.restored.records, self.total)
