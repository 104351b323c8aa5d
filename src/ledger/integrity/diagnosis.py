"""Diagnosis: where the recomputed chain and the stored seals disagree, say what was done
(a record modified, inserted, removed or moved; a seal altered), and step past it in step
with the stored chain, so one tampered record is reported once.

``Diagnosis`` holds the walk's position in the chain; ``ledger.integrity.verify`` walks the
records and the seals and calls on it where they disagree.
"""

from __future__ import annotations

from typing import Any

from ledger.integrity.chain import link
from ledger.integrity.claims import SignedClaims
from ledger.integrity.report import (
    INSERTED,
    MISSING,
    MODIFIED,
    REORDERED,
    SEAL_ALTERED,
    Finding,
    VerifyReport,
)
from ledger.integrity.storage import (
    ChainRow,
    EventLog,
    SealHead,
    identity_of,
    read_chain_page,
    sealed_position_of,
)
from ledger.sql import Cursor


class Diagnosis:
    """The walk's state: the chain value so far, what it has sealed and flagged."""

    cursor: Cursor
    events: EventLog
    report: VerifyReport
    claims: SignedClaims
    head: SealHead
    running: bytes
    sealed_count: int
    last_chain_position: int
    last_flagged: int | None

    def _meet_claims(self, up_to: int) -> None:
        failed = self.claims.meet(up_to, self.last_chain_position, self.running,
                                  self.sealed_count)
        if failed is not None:
            self.last_flagged = failed

    def _advance_past(self, row: ChainRow, chain_value: bytes) -> None:
        self.running = chain_value
        self.sealed_count += 1
        self.last_chain_position = row.position
        self._meet_claims(row.position)

    def _seal_without_record(self, raw: tuple[Any, ...]) -> None:
        row = ChainRow(*raw)
        self._gap_in_seals(row)
        moved_to = self.events.position_of(self.cursor, row.originator_id,
                                           row.originator_version)
        if moved_to is not None:
            self._found(row.position, REORDERED, f"the record sealed at position "
                                                 f"{row.position} is now at position {moved_to}")
        else:
            self._found(row.position, MISSING,
                        f"the record sealed at position {row.position} is gone")
        self._advance_past(row, row.chain_hash)

    def _record_without_seal(self, event: tuple[Any, ...]) -> None:
        position, identity, version = event[0], identity_of(event[1]), event[2]
        sealed_at = sealed_position_of(self.cursor, identity, version)
        if sealed_at is not None and sealed_at != position:
            self._found(position, REORDERED, f"the record sealed at position {sealed_at} is "
                                             f"now at position {position}")
        else:
            self._found(position, INSERTED, f"a record that was never sealed is at position "
                                            f"{position}, inside the sealed history")

    def _diagnose(self, row: ChainRow, event: tuple[Any, ...], digest: bytes) -> None:
        """The record at ``row.position`` does not extend the chain as sealed: say why."""
        position = row.position
        if self._gap_in_seals(row):
            self._advance_past(row, row.chain_hash)
            return
        seal_consistent = link(self.running, position, row.record_digest) == row.chain_hash
        if digest == row.record_digest:
            self._diagnose_broken_link(row, digest)
            return
        same_identity = (identity_of(event[1]), event[2]) == (row.originator_id,
                                                             row.originator_version)
        if not seal_consistent or same_identity:
            also = "" if seal_consistent else " (and its seal was altered to match)"
            self._found(position, MODIFIED, f"the record at position {position} is not the "
                                            f"one sealed there: its stored bytes changed{also}")
        else:
            self._classify_stranger(row, event)
        self._advance_past(row, row.chain_hash)

    def _diagnose_broken_link(self, row: ChainRow, digest: bytes) -> None:
        """The record is as sealed, but its seal does not extend the chain the walk holds.
        Either this seal's chain value was changed, or the record before it was changed
        and its seal recomputed to match (the formula is public): then this seal, made over
        the original chain value, is the first that no longer fits. What follows tells them
        apart: a seal that the next one (or the seal head) extends is the original."""
        position, before = row.position, self.last_chain_position
        if not self._confirmed_by_what_follows(row) or before <= self.report.started_after:
            self._found(position, SEAL_ALTERED, f"the chain value stored for position "
                                                f"{position} was changed")
            self._advance_past(row, link(self.running, position, digest))
            return
        if self.last_flagged != before:
            self._found(before, MODIFIED, f"the record at position {before} is not the one "
                                          f"sealed there: its stored bytes and its seal were "
                                          f"changed together (the seal at position {position} "
                                          "still extends the original; or the digest stored "
                                          f"at {position} was changed with its record)")
        # In step with the stored chain again: one altered record, one finding.
        self._advance_past(row, row.chain_hash)

    def _confirmed_by_what_follows(self, row: ChainRow) -> bool:
        following = read_chain_page(self.cursor, row.position, 1)
        if following:
            after = following[0]
            return (after.previous_position == row.position
                    and link(row.chain_hash, after.position, after.record_digest)
                    == after.chain_hash)
        return (self.head.position, self.head.chain_hash) == (row.position, row.chain_hash)

    def _classify_stranger(self, row: ChainRow, event: tuple[Any, ...]) -> None:
        """Another record than the sealed one sits at ``row.position``."""
        position = row.position
        sealed_at = sealed_position_of(self.cursor, identity_of(event[1]), event[2])
        if sealed_at is not None:
            self._found(position, REORDERED, f"the record sealed at position {sealed_at} is "
                                             f"now at position {position}")
            return
        moved_to = self.events.position_of(self.cursor, row.originator_id,
                                           row.originator_version)
        if moved_to is not None and moved_to > position:
            self._found(position, INSERTED, f"a record that was never sealed was inserted at "
                                            f"position {position}; the record sealed there "
                                            f"is now at {moved_to}")
        elif moved_to is not None:
            self._found(position, REORDERED, f"the record sealed at position {position} is "
                                             f"now at position {moved_to}")
        else:
            self._found(position, MODIFIED, f"the record sealed at position {position} was "
                                            "replaced by one that was never sealed")

    def _gap_in_seals(self, row: ChainRow) -> bool:
        """Seals (and their records) removed just before this one: report it once."""
        if row.previous_position == self.last_chain_position:
            return False
        self._found(row.previous_position, MISSING,
                    f"the record sealed at position {row.previous_position} and its seal are "
                    "gone", since=self.last_chain_position + 1)
        return True

    def _found(self, position: int, kind: str, detail: str, since: int | None = None) -> None:
        self.last_flagged = position
        self.report.add(Finding(position, kind, detail, since))
