"""Where the chain lives: three tables beside the events, in the same database.

``integrity_chain`` holds one row per sealed record (its position, the position sealed
before it, the record's identity and digest, and the chain value after it);
``integrity_seal`` is the sealer's checkpoint (one row: how far it has sealed, the chain
head there, and the last checkpoint's sequence), moved in the same transaction as the
chain rows it covers; ``integrity_checkpoints`` holds the signed checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from uuid import UUID

from ledger.domain.errors import NotFoundError, ValidationFailedError
from ledger.domain.messages import message
from ledger.integrity.chain import GENESIS
from ledger.integrity.checkpoints import Checkpoint, SignedCheckpoint
from ledger.integrity.report import IntegrityViolationError
from ledger.sql import Cursor

Dialect = Literal["sqlite", "postgres"]
INSERT_CHUNK = 500


class ChainRow(NamedTuple):
    """The seal of one record."""

    position: int
    previous_position: int
    originator_id: str
    originator_version: int
    record_digest: bytes
    chain_hash: bytes


@dataclass(frozen=True)
class SealHead:
    """How far the chain reaches, and the last signed checkpoint's sequence number."""

    position: int
    records: int
    chain_hash: bytes
    checkpoint_sequence: int


EMPTY_HEAD = SealHead(0, 0, GENESIS, 0)


@dataclass(frozen=True)
class EventLog:
    """The library's events table and its global position column, per database."""

    dialect: Dialect
    table: str
    position: str

    @classmethod
    def of(cls, dialect: Dialect) -> EventLog:
        # The eventsourcing library's names: SQLite's rowid table ``stored_events``,
        # PostgreSQL's ``<application name>_events`` with a bigserial notification id.
        if dialect == "sqlite":
            return cls(dialect, "stored_events", "rowid")
        return cls(dialect, "ledger_events", "notification_id")

    def page_sql(self) -> str:
        return (f"SELECT {self.position}, originator_id, originator_version, topic, state "  # noqa: S608 - names are constants
                f"FROM {self.table} WHERE {self.position} > :after "
                f"ORDER BY {self.position} LIMIT :limit")

    def read_page(self, cursor: Cursor, after: int, limit: int) -> list[tuple[Any, ...]]:
        return cursor.all(self.page_sql(), {"after": after, "limit": limit})

    def head_position(self, cursor: Cursor) -> int:
        row = cursor.one(f"SELECT MAX({self.position}) FROM {self.table}")  # noqa: S608
        return int(row[0]) if row and row[0] is not None else 0

    def count_after(self, cursor: Cursor, after: int) -> int:
        row = cursor.one(f"SELECT COUNT(*) FROM {self.table} "  # noqa: S608
                         f"WHERE {self.position} > :after", {"after": after})
        return int(row[0]) if row else 0

    def position_of(self, cursor: Cursor, originator_id: str, version: int) -> int | None:
        """Where the record with this identity is stored now, if anywhere."""
        key: Any = originator_id
        if self.dialect == "postgres":
            try:
                key = UUID(hex=originator_id)
            except ValueError:  # a seal whose identity was altered names no stored record
                return None
        row = cursor.one(f"SELECT {self.position} FROM {self.table} "  # noqa: S608
                         "WHERE originator_id = :id AND originator_version = :version",
                         {"id": key, "version": version})
        return int(row[0]) if row else None


@dataclass(frozen=True)
class AbsentEventLog(EventLog):
    """An events table that is gone (dropped by hand): it holds no record, so each one the
    chain sealed reads as missing rather than the walk failing on the table."""

    def read_page(self, cursor: Cursor, after: int, limit: int) -> list[tuple[Any, ...]]:
        return []

    def head_position(self, cursor: Cursor) -> int:
        return 0

    def count_after(self, cursor: Cursor, after: int) -> int:
        return 0

    def position_of(self, cursor: Cursor, originator_id: str, version: int) -> int | None:
        return None


def stored_event_log(cursor: Cursor, dialect: Dialect) -> EventLog:
    """The events table the checks read: the library's, or, where it was dropped beside a
    chain that still names its records, an absent one. A database with neither is no
    ledger's (``NotFoundError``), not an empty history."""
    events = EventLog.of(dialect)
    if _table_exists(cursor, dialect, events.table):
        return events
    if tables_exist(cursor, dialect):
        return AbsentEventLog(dialect, events.table, events.position)
    raise NotFoundError(message("the database holds no ledger tables (neither the event log "
                                "nor its hash chain): is LEDGER_DATABASE_URL the ledger's?"))


def identity_of(originator_id: object) -> str:
    """The record's originator id as the chain row keeps it: UUID hex, as stored on SQLite."""
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)


def create_tables(cursor: Cursor, dialect: Dialect) -> None:
    integer, blob = ("INTEGER", "BLOB") if dialect == "sqlite" else ("BIGINT", "BYTEA")
    cursor.execute(f"CREATE TABLE IF NOT EXISTS integrity_chain ("
                   f" position {integer} PRIMARY KEY, previous_position {integer} NOT NULL,"
                   f" originator_id TEXT NOT NULL, originator_version {integer} NOT NULL,"
                   f" record_digest {blob} NOT NULL, chain_hash {blob} NOT NULL)")
    cursor.execute(f"CREATE TABLE IF NOT EXISTS integrity_seal ("
                   f" id INTEGER PRIMARY KEY CHECK (id = 1), position {integer} NOT NULL,"
                   f" records {integer} NOT NULL, chain_hash {blob} NOT NULL,"
                   f" checkpoint_sequence {integer} NOT NULL)")
    cursor.execute(f"CREATE TABLE IF NOT EXISTS integrity_checkpoints ("
                   f" sequence {integer} PRIMARY KEY, position {integer} NOT NULL,"
                   f" payload TEXT NOT NULL, signature {blob} NOT NULL,"
                   f" public_key {blob} NOT NULL)")
    # Read first: an INSERT that conflicts still takes SQLite's write lock.
    if cursor.one("SELECT 1 FROM integrity_seal WHERE id = 1") is None:
        cursor.execute("INSERT INTO integrity_seal (id, position, records, chain_hash, "
                       "checkpoint_sequence) VALUES (1, 0, 0, :genesis, 0) "
                       "ON CONFLICT (id) DO NOTHING", {"genesis": GENESIS})


def tables_exist(cursor: Cursor, dialect: Dialect) -> bool:
    return _table_exists(cursor, dialect, "integrity_seal")


def _table_exists(cursor: Cursor, dialect: Dialect, table: str) -> bool:
    if dialect == "sqlite":
        row = cursor.one("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
                         "AND name = :table", {"table": table})
    else:
        row = cursor.one("SELECT COUNT(*) FROM information_schema.tables "
                         "WHERE table_schema = current_schema() "
                         "AND table_name = :table", {"table": table})
    return bool(row and row[0])


def read_head(cursor: Cursor) -> SealHead:
    row = cursor.one("SELECT position, records, chain_hash, checkpoint_sequence "
                     "FROM integrity_seal WHERE id = 1")
    if row is None:
        return EMPTY_HEAD
    if not (type(row[0]) is int and type(row[1]) is int and type(row[3]) is int
            and isinstance(row[2], bytes | bytearray | memoryview)):
        # SQLite keeps whatever an edit by hand writes: the sealer must not build on it.
        raise IntegrityViolationError(message(
            "the seal head was altered outside the ledger: `ledger audit verify` reports "
            "it; nothing more is sealed until it is repaired"))
    return SealHead(row[0], row[1], bytes(row[2]), row[3])


def read_stored_head(cursor: Cursor) -> SealHead:
    """The seal head as the read-only checks see it: a head edited by hand to hold text
    where numbers or bytes belong reads as values that match nothing (a finding), not as
    an error; the sealer itself reads it strictly (``read_head``)."""
    row = cursor.one("SELECT position, records, chain_hash, checkpoint_sequence "
                     "FROM integrity_seal WHERE id = 1")
    if row is None:
        return EMPTY_HEAD
    return SealHead(_as_int(row[0]), _as_int(row[1]), _as_bytes(row[2]), _as_int(row[3]))


def move_head(cursor: Cursor, old: SealHead, new: SealHead) -> bool:
    """Claim the move from ``old`` to ``new``; False if another sealer moved it first."""
    moved = cursor.execute(
        "UPDATE integrity_seal SET position = :position, records = :records, "
        "chain_hash = :chain_hash, checkpoint_sequence = :sequence "
        "WHERE id = 1 AND position = :old_position AND checkpoint_sequence = :old_sequence",
        {"position": new.position, "records": new.records, "chain_hash": new.chain_hash,
         "sequence": new.checkpoint_sequence, "old_position": old.position,
         "old_sequence": old.checkpoint_sequence})
    return moved == 1


def insert_chain_rows(cursor: Cursor, rows: Sequence[ChainRow]) -> None:
    # Multi-row INSERTs: one round trip per chunk instead of one per record on PostgreSQL.
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start:start + INSERT_CHUNK]
        values: list[str] = []
        params: dict[str, object] = {}
        for index, row in enumerate(chunk):
            names = [f"{column}{index}" for column in ChainRow._fields]
            values.append("(" + ", ".join(f":{name}" for name in names) + ")")
            params.update(zip(names, row, strict=True))
        cursor.execute("INSERT INTO integrity_chain (position, previous_position, "
                       "originator_id, originator_version, record_digest, chain_hash) "
                       "VALUES " + ", ".join(values), params)


CHAIN_PAGE = ("SELECT position, previous_position, originator_id, originator_version, "
              "record_digest, chain_hash FROM integrity_chain WHERE position > :after "
              "ORDER BY position LIMIT :limit")


def read_chain_page(cursor: Cursor, after: int, limit: int) -> list[ChainRow]:
    rows = cursor.all(CHAIN_PAGE, {"after": after, "limit": limit})
    return [ChainRow(*row) for row in well_typed(rows)]


def well_typed(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Chain rows as the walk reads them (int, int, str, int, bytes, bytes). Both drivers
    return those types as written by the sealer, so a page is checked, not converted; but
    SQLite keeps whatever was written into a column, and a row edited by hand to hold text
    where bytes belong (or the reverse) is read as a value that matches nothing, a
    finding, never one the walk cannot use."""
    if all(type(r[1]) is int and type(r[2]) is str and type(r[3]) is int
           and type(r[4]) is bytes and type(r[5]) is bytes for r in rows):
        return rows
    return [(r[0], _as_int(r[1]), str(r[2]), _as_int(r[3]), _as_bytes(r[4]), _as_bytes(r[5]))
            for r in rows]


def _as_int(value: object) -> int:
    if type(value) is int:
        return value
    try:
        return int(str(value))
    except ValueError:
        return -1


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def read_chain_row(cursor: Cursor, position: int) -> ChainRow | None:
    rows = read_chain_page(cursor, position - 1, 1)
    return rows[0] if rows and rows[0].position == position else None


def sealed_position_of(cursor: Cursor, originator_id: str, version: int) -> int | None:
    """Where the record with this identity was sealed, if it ever was."""
    row = cursor.one("SELECT position FROM integrity_chain WHERE originator_id = :id "
                     "AND originator_version = :version",
                     {"id": originator_id, "version": version})
    return int(row[0]) if row else None


def insert_checkpoint(cursor: Cursor, signed: SignedCheckpoint) -> None:
    cursor.execute("INSERT INTO integrity_checkpoints (sequence, position, payload, signature, "
                   "public_key) VALUES (:sequence, :position, :payload, :signature, :public_key)",
                   {"sequence": signed.checkpoint.sequence,
                    "position": signed.checkpoint.position,
                    "payload": signed.checkpoint.payload().decode(),
                    "signature": signed.signature, "public_key": signed.public_key})


class StoredCheckpoint(NamedTuple):
    """A checkpoint row as found: its parsed checkpoint, or why it could not be read."""

    sequence: int
    position: int
    signed: SignedCheckpoint | None
    problem: str | None


def read_checkpoints(cursor: Cursor, *, latest_only: bool = False) -> list[StoredCheckpoint]:
    sql = ("SELECT sequence, position, payload, signature, public_key "
           "FROM integrity_checkpoints ORDER BY sequence")
    if latest_only:
        sql += " DESC LIMIT 1"
    return [_stored_checkpoint(row) for row in cursor.all(sql)]


def _stored_checkpoint(row: tuple[Any, ...]) -> StoredCheckpoint:
    # Leniently, as the chain's rows: SQLite keeps whatever is written into a column.
    sequence, position = _as_int(row[0]), _as_int(row[1])
    try:
        checkpoint = Checkpoint.from_fields(json.loads(row[2]))
    except (ValueError, TypeError, ValidationFailedError) as error:
        return StoredCheckpoint(sequence, position, None, f"unreadable payload ({error})")
    if (checkpoint.sequence, checkpoint.position) != (sequence, position):
        return StoredCheckpoint(sequence, position, None,
                                "its row does not match its signed sequence and position")
    signed = SignedCheckpoint(checkpoint, _as_bytes(row[3]), _as_bytes(row[4]))
    return StoredCheckpoint(sequence, position, signed, None)
