"""Verify: recompute the chain over the stored records and compare it with the seals and the
signed checkpoints; report the first bad position and what is wrong there.

Records and seals are read in one read-only snapshot, in position order, as two streams
merged by position. After a finding the walk continues from the stored seal, so one
tampered record is reported once and later, independent findings are still counted. What
each disagreement means is ``ledger.integrity.diagnosis``'s to say.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any

from ledger.integrity.chain import GENESIS, record_digest
from ledger.integrity.checkpoints import SignedCheckpoint
from ledger.integrity.claims import SignedClaims
from ledger.integrity.coverage import unverified_records
from ledger.integrity.diagnosis import Diagnosis
from ledger.integrity.report import (
    MODIFIED,
    REWRITTEN,
    SEAL_ALTERED,
    VerifyReport,
)
from ledger.integrity.storage import (
    CHAIN_PAGE,
    EMPTY_HEAD,
    ChainRow,
    EventLog,
    SealHead,
    identity_of,
    read_chain_row,
    read_checkpoints,
    read_stored_head,
    tables_exist,
    well_typed,
)
from ledger.sql import Cursor

PAGE = 5000
# The policy's default ``checkpoint_every_seconds``, for callers that name no policy.
DEFAULT_INTERVAL = timedelta(seconds=300)
NO_POSITION = 2**63
Progress = Callable[[int, int], None]


def verify_chain(cursor: Cursor, events: EventLog, *,
                 trusted_keys: Mapping[bytes, str] | None = None,
                 exported: SignedCheckpoint | None = None, from_exported: bool = False,
                 progress: Progress | None = None, now: datetime | None = None,
                 interval: timedelta = DEFAULT_INTERVAL) -> VerifyReport:
    """Verify everything the cursor's snapshot holds; ``trusted_keys`` maps the public keys
    configured outside the database to where they came from (stored checkpoints vouch for
    nothing without one). With ``from_exported``, trust the history up to ``exported``.
    Records that no trusted checkpoint covers and older than ``interval`` at ``now`` are
    unverified."""
    return _Verification(cursor, events, dict(trusted_keys or {}), exported, from_exported,
                         progress, (now or datetime.now(UTC), interval)).run()


class _Verification(Diagnosis):
    def __init__(self, cursor: Cursor, events: EventLog, trusted_keys: dict[bytes, str],
                 exported: SignedCheckpoint | None, from_exported: bool,
                 progress: Progress | None, age_limit: tuple[datetime, timedelta]) -> None:
        self.cursor = cursor
        self.events = events
        self.trusted_keys = trusted_keys
        self.exported = exported
        self.from_exported = from_exported and exported is not None
        self.progress = progress
        self.age_limit = age_limit
        self.report = VerifyReport()
        self.claims = SignedClaims(self.report, trusted_keys)
        self.running = GENESIS
        self.sealed_count = 0
        self.last_chain_position = 0
        self.last_flagged: int | None = None
        self.head = EMPTY_HEAD

    def run(self) -> VerifyReport:
        report = self.report
        if self.exported is not None:
            self.trusted_keys.setdefault(self.exported.public_key, "the exported checkpoint")
        report.trust = (", ".join(sorted(set(self.trusted_keys.values())))
                        or "none: no public key is configured outside the database, so the "
                           "stored checkpoints vouch for nothing (configure "
                           "LEDGER_SIGNING_PUBLIC_KEY_FILE or pass --public-key)")
        sealing = tables_exist(self.cursor, self.events.dialect)
        head = self.head = read_stored_head(self.cursor) if sealing else EMPTY_HEAD
        report.head_position = self.events.head_position(self.cursor)
        report.sealed_position = head.position
        if sealing:
            self.claims.check_stored(read_checkpoints(self.cursor), head)
        if self.exported is not None and not self.claims.check_exported(self.exported):
            self.from_exported = False
        start = self._start()
        self._walk(start, head)
        self._check_head(head)
        self._judge_uncovered()
        return report

    def _judge_uncovered(self) -> None:
        """Read again what no trusted checkpoint covers (normally the last few records)
        and count the ones too old to be still waiting for a checkpoint."""
        covered = self.report.covered_up_to = self.claims.covered_up_to
        now, interval = self.age_limit
        self.report.unverified, self.report.first_unverified_position = unverified_records(
            self._event_pages(covered), now, interval)

    def _start(self) -> int:
        """Where the walk begins: the start of the log, or a trusted exported checkpoint."""
        if not self.from_exported or self.exported is None:
            self.claims.ready()
            return 0
        checkpoint = self.exported.checkpoint
        self.running = bytes.fromhex(checkpoint.chain_head)
        self.sealed_count = checkpoint.records
        self.last_chain_position = checkpoint.position
        self.report.started_after = checkpoint.position
        self.claims.ready(trusted_up_to=checkpoint.position)
        row = read_chain_row(self.cursor, checkpoint.position)
        if row is None or row.chain_hash != self.running:
            self._found(checkpoint.position, REWRITTEN, "the seal at the exported checkpoint's "
                        "position is not the one it signed: history up to it was rewritten",
                        since=1)
        elif self.report.exported_checkpoint is not None:
            # The walk starts from it: its claim is met here, not later (ready() dropped it).
            self.report.exported_checkpoint["matches"] = True
        return checkpoint.position

    # The walk ----------------------------------------------------------------

    def _walk(self, start: int, head: SealHead) -> None:
        report = self.report
        chain = self._chain_rows(start)
        event_pages = self._event_pages(start)
        sealed_up_to = head.position
        chain_row = next(chain, None)
        for page in event_pages:
            for event in page:
                position = event[0]
                while chain_row is not None and chain_row[0] < position:
                    self._seal_without_record(chain_row)
                    chain_row = next(chain, None)
                report.records += 1
                if chain_row is None or chain_row[0] != position:
                    if position <= sealed_up_to:
                        self._record_without_seal(event)
                    else:
                        report.unsealed += 1
                    continue
                digest = record_digest(event[1], event[2], event[3], event[4])
                linked = sha256(self.running + position.to_bytes(8, "big", signed=True)
                                + digest).digest()
                if linked == chain_row[5]:
                    if (chain_row[4] != digest or chain_row[1] != self.last_chain_position
                            or chain_row[3] != event[2]
                            or chain_row[2] != identity_of(event[1])):
                        self._found(position, SEAL_ALTERED,
                                    f"the seal stored for position {position} was changed: "
                                    "its record digest, identity or previous position no "
                                    "longer match the record it seals")
                    self.running = linked
                    self.sealed_count += 1
                    self.last_chain_position = position
                    report.sealed += 1
                else:
                    self._diagnose(ChainRow(*chain_row), event, digest)
                next_claim = self.claims.next_position
                if next_claim is not None and next_claim <= position:
                    self._meet_claims(position)
                chain_row = next(chain, None)
            if self.progress is not None and page:
                self.progress(page[-1][0], report.head_position)
        while chain_row is not None:
            self._seal_without_record(chain_row)
            chain_row = next(chain, None)
        self._meet_claims(NO_POSITION)

    def _event_pages(self, after: int) -> Iterator[list[tuple[Any, ...]]]:
        # From the lowest possible position: a record moved below 1 is still seen.
        after = after if after > 0 else -NO_POSITION
        while page := self.events.read_page(self.cursor, after, PAGE):
            yield page
            after = page[-1][0]

    def _chain_rows(self, after: int) -> Iterator[tuple[Any, ...]]:
        if not tables_exist(self.cursor, self.events.dialect):
            return
        while page := self.cursor.all(CHAIN_PAGE, {"after": after, "limit": PAGE}):
            yield from well_typed(page)
            after = int(page[-1][0])

    def _check_head(self, head: SealHead) -> None:
        if head.position != max(self.last_chain_position, self.report.started_after):
            self._found(head.position, SEAL_ALTERED,
                        f"the seal head says position {head.position}, the chain ends at "
                        f"position {self.last_chain_position}")
        elif (head.position > self.report.started_after and head.chain_hash != self.running
              and self.last_flagged != head.position):
            # The last record and its seal changed together leave only the head to disagree.
            self._found(head.position, MODIFIED,
                        f"the record at position {head.position} is not the one sealed there: "
                        "its stored bytes and its seal were changed together (the seal head "
                        "still names the original chain value; or the head was changed)")
        elif head.records != self.sealed_count and self.last_flagged != head.position:
            self._found(head.position, SEAL_ALTERED,
                        f"the seal head counts {head.records} sealed records, the chain holds "
                        f"{self.sealed_count}")
