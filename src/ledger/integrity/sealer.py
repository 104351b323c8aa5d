"""The sealer: follows the global event order and extends the hash chain, batch by batch.

The eventsourcing library owns the write transaction, so the chain is extended by a
follower shortly after each write, like the projection runner: a batch's chain rows and
the sealer's head are written in one transaction, and the head only moves from the
position the batch was read at. If another sealer moved it first, the batch rolls back
and is read again, so a record is sealed exactly once. Every ``checkpoint_every_events``
sealed records (or ``checkpoint_every_seconds``, if anything was sealed since), the same
transaction adds a checkpoint signed with the key kept outside the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from ledger.follower import BackgroundFollower
from ledger.integrity.chain import link, record_digest
from ledger.integrity.checkpoints import Checkpoint, SignedCheckpoint, sign
from ledger.integrity.keys import SigningKeySource
from ledger.integrity.storage import (
    EMPTY_HEAD,
    ChainRow,
    EventLog,
    SealHead,
    create_tables,
    identity_of,
    insert_chain_rows,
    insert_checkpoint,
    move_head,
    read_checkpoints,
    read_head,
    read_stored_head,
    tables_exist,
)
from ledger.sql import Cursor, SqlDatabase

log = structlog.get_logger("ledger.integrity")

SEAL_BATCH = 1000
Clock = Callable[[], datetime]


class SealMovedError(Exception):
    """Another sealer sealed this batch first."""


@dataclass(frozen=True)
class CheckpointPolicy:
    """How often the sealed head is signed."""

    every_events: int
    every_seconds: float


@dataclass(frozen=True)
class SealStatus:
    """How far sealing has got against the head of the log, and the last checkpoint."""

    head_position: int
    sealed_position: int
    sealed_records: int
    unsealed_records: int
    last_checkpoint: Checkpoint | None
    errors: int

    def as_dict(self) -> dict[str, Any]:
        last = self.last_checkpoint
        return {"head_position": self.head_position, "sealed_position": self.sealed_position,
                "sealed_records": self.sealed_records,
                "sealing_lag": self.unsealed_records,
                "last_checkpoint": None if last is None else {
                    "sequence": last.sequence, "position": last.position,
                    "created_at": last.created_at},
                "sealer_errors": self.errors}


@dataclass(frozen=True)
class _Batch:
    start: SealHead
    rows: list[ChainRow]
    last_checkpoint: Checkpoint | None


class Sealer(BackgroundFollower):
    """Extends the hash chain over newly stored records and signs checkpoints."""

    thread_name = "ledger-sealer"
    failure_event = "integrity_seal_failed"

    def __init__(self, database: SqlDatabase, events: EventLog, policy: CheckpointPolicy,
                 keys: SigningKeySource, clock: Clock, *, batch_size: int = SEAL_BATCH) -> None:
        self.database = database
        self.events = events
        self.policy = policy
        self.keys = keys
        self.clock = clock
        self.batch_size = batch_size
        # Without a checkpoint yet, the time interval counts from when this sealer began.
        self._began = clock()
        super().__init__()

    def create_tables(self) -> None:
        with self.database.setup() as cursor:
            create_tables(cursor, self.database.dialect)

    # Sealing -----------------------------------------------------------------

    def run_once(self, *, force_checkpoint: bool = False) -> int:
        """Seal at most one batch (and sign a checkpoint if one is due); return how many
        records were sealed."""
        while True:
            batch = self._read_batch()
            end = batch.rows[-1] if batch.rows else None
            new_head = SealHead(
                position=end.position if end else batch.start.position,
                records=batch.start.records + len(batch.rows),
                chain_hash=end.chain_hash if end else batch.start.chain_hash,
                checkpoint_sequence=batch.start.checkpoint_sequence)
            signed = self._checkpoint_if_due(batch, new_head, force_checkpoint)
            if not batch.rows and signed is None:
                return 0
            if signed is not None:
                new_head = SealHead(new_head.position, new_head.records, new_head.chain_hash,
                                    signed.checkpoint.sequence)
            try:
                with self.database.transaction() as cursor:
                    if not move_head(cursor, batch.start, new_head):
                        raise SealMovedError
                    insert_chain_rows(cursor, batch.rows)
                    if signed is not None:
                        insert_checkpoint(cursor, signed)
            except SealMovedError:
                continue
            if signed is not None:
                log.info("integrity_checkpoint_signed", sequence=signed.checkpoint.sequence,
                         position=signed.checkpoint.position, key_id=signed.checkpoint.key_id)
            return len(batch.rows)

    def seal_all(self, *, force_checkpoint: bool = False) -> int:
        """Seal everything stored so far; with ``force_checkpoint``, end with a checkpoint
        of the sealed head unless the last one already covers it."""
        total = 0
        while done := self.run_once():
            total += done
        if force_checkpoint:
            self.run_once(force_checkpoint=True)
        return total

    def _read_batch(self) -> _Batch:
        with self.database.snapshot() as cursor:
            head = read_head(cursor)
            last = _last_checkpoint(cursor)
            since_checkpoint = head.records - (last.records if last else 0)
            # A batch ends where a checkpoint falls due, so one is signed every N records.
            room = self.policy.every_events - since_checkpoint
            limit = min(self.batch_size, room) if room > 0 else self.batch_size
            page = self.events.read_page(cursor, head.position, limit)
        rows: list[ChainRow] = []
        previous_position, chain_hash = head.position, head.chain_hash
        for position, originator_id, version, topic, state in page:
            digest = record_digest(originator_id, version, topic, state)
            chain_hash = link(chain_hash, position, digest)
            rows.append(ChainRow(position, previous_position, identity_of(originator_id),
                                 version, digest, chain_hash))
            previous_position = position
        return _Batch(head, rows, last)

    def _checkpoint_if_due(self, batch: _Batch, head: SealHead, force: bool
                           ) -> SignedCheckpoint | None:
        last = batch.last_checkpoint
        uncovered = head.records - (last.records if last else 0)
        if uncovered <= 0:
            return None
        now = self.clock()
        since = datetime.fromisoformat(last.created_at) if last else self._began
        due = (force or uncovered >= self.policy.every_events
               or (now - since).total_seconds() >= self.policy.every_seconds)
        if not due:
            return None
        key = self.keys.key()
        checkpoint = Checkpoint(
            sequence=batch.start.checkpoint_sequence + 1, position=head.position,
            records=head.records, chain_head=head.chain_hash.hex(),
            previous=last.digest() if last else None, created_at=now.isoformat(),
            key_id=key.key_id)
        return sign(checkpoint, key)

    # Status ------------------------------------------------------------------

    def status(self) -> SealStatus:
        with self.database.snapshot() as cursor:
            return seal_status(cursor, self.events, errors=self.errors)

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        with self.database.snapshot() as cursor:
            found = read_checkpoints(cursor, latest_only=True)
        return found[0].signed if found else None


def seal_status(cursor: Cursor, events: EventLog, *, errors: int = 0) -> SealStatus:
    """How far sealing has got, read in one snapshot (also on a read-only connection)."""
    head = read_stored_head(cursor) if tables_exist(cursor, events.dialect) else EMPTY_HEAD
    last = _last_checkpoint(cursor) if head.checkpoint_sequence else None
    return SealStatus(events.head_position(cursor), head.position, head.records,
                      events.count_after(cursor, head.position), last, errors)


def _last_checkpoint(cursor: Cursor) -> Checkpoint | None:
    found = read_checkpoints(cursor, latest_only=True)
    if not found or found[0].signed is None:
        return None
    return found[0].signed.checkpoint
