"""Taking a backup of the event log: full or incremental, from one consistent snapshot.

The snapshot is the database's own: one PostgreSQL transaction at REPEATABLE READ (every
read sees the same state, however many writers run meanwhile), one SQLite read
transaction (its snapshot holds until the transaction ends, the WAL keeping the writers
going). A backup reaches up to the sealed head read in that snapshot: every record it
holds is sealed, so a restored store's chain links end to end; records written after
the seal are in the next backup.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from ledger.backup.errors import BackupInvalidError
from ledger.backup.location import BackupDirectory
from ledger.backup.manifest import (
    ChainEnd,
    FileEntry,
    Kind,
    Manifest,
    SignedManifest,
    sign_manifest,
    write_manifest,
)
from ledger.backup.records import (
    EVENTS_FILE,
    FILE_NUMBERS,
    INTEGRITY_FILE,
    b64,
    context_of,
    event_line,
    lines_of,
)
from ledger.backup.sealed_files import write_sealed
from ledger.crypto import key_id_of, wrap
from ledger.domain.messages import message
from ledger.integrity.chain import GENESIS
from ledger.integrity.keys import SigningKey
from ledger.integrity.storage import (
    EMPTY_HEAD,
    EventLog,
    SealHead,
    read_chain_page,
    read_chain_row,
    read_checkpoints,
    read_head,
    tables_exist,
)
from ledger.sql import Cursor, SqlDatabase

PAGE = 5000
Progress = Callable[[int, int], None]
GENESIS_END = ChainEnd(0, 0, GENESIS.hex(), 0)


@dataclass(frozen=True)
class BackupKeys:
    """What signs a backup, and the backup key its data key is wrapped under."""

    signing: SigningKey
    backup_key: bytes

    @property
    def backup_key_id(self) -> str:
        return key_id_of(self.backup_key, "backup")


def end_of(head: SealHead) -> ChainEnd:
    return ChainEnd(head.position, head.records, head.chain_hash.hex(), head.checkpoint_sequence)


def raise_without_a_full() -> NoReturn:
    raise BackupInvalidError("an incremental backup needs a full backup before it: "
                             "take `ledger backup full` first",
                             details={"kind": "incremental"})


def take_event_backup(db: SqlDatabase, directory: BackupDirectory, keys: BackupKeys, *,
                      kind: Kind, parent: SignedManifest | None, created_by: str,
                      now: datetime, register_version: int,
                      progress: Progress | None = None) -> SignedManifest:
    """Write one backup of the event log (``parent``'s successor for an incremental)."""
    if kind == "incremental" and parent is None:
        raise_without_a_full()
    events = EventLog.of(db.dialect)
    backup_id = directory.new_id(kind, now)
    data_key = secrets.token_bytes(32)
    start = parent.manifest.chain_end if parent and parent.manifest.chain_end else GENESIS_END
    after = parent.manifest.last_position if parent else 0
    with directory.writing(backup_id) as staging, db.snapshot() as cursor:
        head = read_head(cursor) if tables_exist(cursor, db.dialect) else EMPTY_HEAD
        _check_continues(cursor, parent, start, head)
        counted = [0]
        written = []
        for name, lines in ((EVENTS_FILE, _event_lines(cursor, events, after, head.position,
                                                       counted, progress)),
                            (INTEGRITY_FILE, _integrity_lines(cursor, after, head.position,
                                                              start.checkpoint_sequence))):
            done = write_sealed(staging / name, lines, data_key,
                                context=context_of(backup_id, name),
                                file_number=FILE_NUMBERS[name])
            written.append(FileEntry(done.name, done.size, done.sha256, done.plain_bytes))
        latest = read_checkpoints(cursor, latest_only=True)
        checkpoint = (latest[0].signed.export() if latest and latest[0].signed is not None
                      else None)
        manifest = Manifest(
            backup_id=backup_id, kind=kind, parent_id=parent.manifest.backup_id if parent
            else None, after_position=after, last_position=head.position,
            records=counted[0], chain_start=start, chain_end=end_of(head),
            checkpoint=checkpoint, files=written, key_id=keys.backup_key_id,
            wrapped_data_key=b64(wrap(keys.backup_key, data_key)),
            source_backend=db.dialect, erasure_register_version=register_version,
            created_at=now.isoformat(), created_by=created_by)
        signed = sign_manifest(manifest, keys.signing)
        write_manifest(staging, signed)
    return signed


def _check_continues(cursor: Cursor, parent: SignedManifest | None, start: ChainEnd,
                     head: SealHead) -> None:
    """An incremental continues its parent only if the live chain still passes through the
    parent's end: a log restored from elsewhere, or rewritten, starts a new full."""
    if parent is None or start.position == 0:
        return
    row = read_chain_row(cursor, start.position)
    if row is None or row.chain_hash.hex() != start.chain_hash or head.position < start.position:
        raise BackupInvalidError(
            message("the live log no longer continues backup {backup_id} at position "
                    "{position}: take a full backup", backup_id=parent.manifest.backup_id,
                    position=start.position), details={
                "parent_id": parent.manifest.backup_id, "position": start.position})


def _event_lines(cursor: Cursor, events: EventLog, after: int, last: int, counted: list[int],
                 progress: Progress | None) -> Iterator[bytes]:
    position = after
    while position < last:
        page = [row for row in events.read_page(cursor, position, PAGE) if row[0] <= last]
        if not page:
            break
        for row in page:
            yield event_line(row)
        counted[0] += len(page)
        position = int(page[-1][0])
        if progress is not None:
            progress(position, last)


def _integrity_lines(cursor: Cursor, after: int, last: int, after_sequence: int
                     ) -> Iterator[bytes]:
    # Checkpoints first: a reader then knows which positions' chain values to compare.
    checkpoints: list[Any] = [
        ["k", {"sequence": c.sequence, "position": c.position,
               "export": c.signed.export() if c.signed else None}]
        for c in read_checkpoints(cursor) if c.sequence > after_sequence]
    yield from lines_of(checkpoints)
    position = after
    while position < last:
        rows = [row for row in read_chain_page(cursor, position, PAGE) if row.position <= last]
        if not rows:
            break
        yield from lines_of(["c", row.position, row.previous_position, row.originator_id,
                             row.originator_version, row.record_digest.hex(),
                             row.chain_hash.hex()] for row in rows)
        position = rows[-1].position
