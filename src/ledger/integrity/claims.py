"""The signed claims a verification holds the chain to: the stored checkpoints and, when
given, an exported one. Each says "after N sealed records, at position P, the chain head
was H"; the walk meets them in position order."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.integrity.checkpoints import Checkpoint, SignedCheckpoint
from ledger.integrity.report import (
    BAD_SIGNATURE,
    CHECKPOINT_MISSING,
    REWRITTEN,
    SEAL_ALTERED,
    Finding,
    VerifyReport,
)
from ledger.integrity.storage import SealHead, StoredCheckpoint


@dataclass(frozen=True)
class Claim:
    """A signed checkpoint the chain must match at its position."""

    label: str
    checkpoint: Checkpoint
    exported: bool = False
    # Signed by a key configured outside the database; an untrusted claim is still held
    # to the chain (a mismatch is evidence) but vouches for nothing.
    trusted: bool = True

    @property
    def position(self) -> int:
        return self.checkpoint.position


class SignedClaims:
    """Checks the checkpoints themselves, then the chain against each one as it is reached."""

    def __init__(self, report: VerifyReport, trusted_keys: dict[bytes, str]) -> None:
        self.report = report
        self.trusted_keys = trusted_keys
        self.pending: list[Claim] = []
        self.stored: dict[int, Checkpoint] = {}
        self.last_good = 0
        self.covered_up_to = 0

    def check_stored(self, rows: list[StoredCheckpoint], head: SealHead) -> None:
        """Signatures, an unbroken sequence, and trusted keys; valid ones become claims."""
        report = self.report
        report.checkpoints_stored = len(rows)
        previous: Checkpoint | None = None
        for row in rows:
            label = f"checkpoint #{row.sequence}"
            if row.signed is None or not row.signed.signature_valid:
                why = row.problem or "the signature does not verify"
                report.add(Finding(row.position, BAD_SIGNATURE, f"{label}: {why}"))
                continue
            checkpoint = row.signed.checkpoint
            self._check_sequence(label, checkpoint, previous)
            previous = checkpoint
            self.stored[checkpoint.sequence] = checkpoint
            if self.trusted_keys and row.signed.public_key not in self.trusted_keys:
                report.add(Finding(checkpoint.position, BAD_SIGNATURE,
                                   f"{label} is signed by key {checkpoint.key_id}, which is "
                                   "not a trusted key"))
            else:
                self.pending.append(Claim(label, checkpoint, trusted=bool(self.trusted_keys)))
        last = previous.sequence if previous else 0
        if head.checkpoint_sequence < last:
            # The sealer stores each checkpoint and moves the head in one transaction.
            report.add(Finding(head.position, SEAL_ALTERED,
                               f"the seal head records checkpoint #{head.checkpoint_sequence}, "
                               f"but #{last} is stored: the seal head was changed"))
        elif head.checkpoint_sequence > last:
            report.add(Finding(head.position, CHECKPOINT_MISSING,
                               f"the seal head records checkpoint #{head.checkpoint_sequence}, "
                               f"the last one stored is #{last}",
                               since=previous.position + 1 if previous else 1))

    def _check_sequence(self, label: str, checkpoint: Checkpoint,
                        previous: Checkpoint | None) -> None:
        expected = previous.sequence + 1 if previous else 1
        if checkpoint.sequence != expected:
            self.report.add(Finding(checkpoint.position, CHECKPOINT_MISSING,
                                    f"{label} follows #{expected - 1}: checkpoints between "
                                    "them were removed",
                                    since=previous.position + 1 if previous else 1))
        elif checkpoint.previous != (previous.digest() if previous else None):
            self.report.add(Finding(checkpoint.position, CHECKPOINT_MISSING,
                                    f"{label} does not name #{expected - 1} as its "
                                    "predecessor: a checkpoint was replaced"))

    def check_exported(self, exported: SignedCheckpoint) -> bool:
        """Add an exported checkpoint as a claim; False if its signature does not verify."""
        checkpoint = exported.checkpoint
        label = f"exported checkpoint #{checkpoint.sequence}"
        valid = exported.signature_valid
        self.report.exported_checkpoint = {"sequence": checkpoint.sequence,
                                           "position": checkpoint.position,
                                           "key_id": checkpoint.key_id,
                                           "signature_valid": valid, "matches": False}
        if not valid:
            self.report.add(Finding(checkpoint.position, BAD_SIGNATURE,
                                    f"{label}: the signature does not verify"))
            return False
        stored = self.stored.get(checkpoint.sequence)
        if stored is None:
            self.report.add(Finding(checkpoint.position, CHECKPOINT_MISSING,
                                    f"{label} is no longer in the store"))
        elif stored != checkpoint:
            self.report.add(Finding(checkpoint.position, CHECKPOINT_MISSING,
                                    f"the store's checkpoint #{checkpoint.sequence} is not the "
                                    "one exported: it was replaced"))
        self.pending.append(Claim(label, checkpoint, exported=True))
        return True

    def ready(self, trusted_up_to: int = 0) -> None:
        """Order the claims; with a trusted start, drop the ones it already covers."""
        self.pending = sorted((c for c in self.pending if c.position > trusted_up_to),
                              key=lambda c: c.position)
        self.last_good = self.covered_up_to = trusted_up_to

    @property
    def next_position(self) -> int | None:
        return self.pending[0].position if self.pending else None

    def meet(self, up_to: int, chain_position: int, chain_head: bytes, records: int
             ) -> int | None:
        """Hold the chain (reached ``chain_position`` with ``records`` sealed records and
        head ``chain_head``) to every claim at or before ``up_to``; return the position of
        the last one that does not hold, if any."""
        failed: int | None = None
        while self.pending and self.pending[0].position <= up_to:
            claim = self.pending.pop(0)
            checkpoint = claim.checkpoint
            reached = chain_position == checkpoint.position
            if (reached and chain_head.hex() == checkpoint.chain_head
                    and records == checkpoint.records):
                if claim.exported and self.report.exported_checkpoint is not None:
                    self.report.exported_checkpoint["matches"] = True
                elif claim.trusted:
                    self.report.checkpoints_verified += 1
                if claim.trusted:
                    self.covered_up_to = max(self.covered_up_to, checkpoint.position)
                self.last_good = checkpoint.position
                continue
            why = ("the chain head there differs from the one it signed" if reached
                   else "no sealed record is at its position any more")
            self.report.add(Finding(
                checkpoint.position, REWRITTEN,
                f"{claim.label} does not match: {why} ({checkpoint.records} records signed, "
                f"{records} found); history after position {self.last_good} and up to "
                f"{checkpoint.position} was rewritten", since=self.last_good + 1))
            failed = checkpoint.position
        return failed
