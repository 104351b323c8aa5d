"""What a verification found: counts, and each finding with its position and kind."""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from typing import Any

from ledger.domain.errors import LedgerError

MAX_FINDINGS = 20


class IntegrityViolationError(LedgerError):
    """Verification found the stored history altered, or a checkpoint that does not hold."""

    code = "integrity_violation"
    http_status = 500
    exit_code = 11


class IntegrityUnverifiedError(LedgerError):
    """Verification found nothing altered, but older records that no trusted signed
    checkpoint covers: their integrity cannot be shown."""

    code = "integrity_unverified"
    http_status = 500
    exit_code = 12


# What can be wrong, as reported in ``Finding.kind``.
MODIFIED = "modified"            # a sealed record's stored bytes changed
MISSING = "missing"              # a sealed record is gone
INSERTED = "inserted"            # a record that was never sealed sits inside the sealed range
REORDERED = "reordered"          # a sealed record sits at another position than it was sealed at
SEAL_ALTERED = "seal_altered"    # the chain table itself was changed
REWRITTEN = "rewritten"          # the chain no longer matches a signed checkpoint
BAD_SIGNATURE = "bad_signature"  # a checkpoint's signature does not verify
CHECKPOINT_MISSING = "checkpoint_missing"  # a signed checkpoint was removed or replaced

# At one position, the finding that says most comes first.
_RANK = {MODIFIED: 0, MISSING: 0, INSERTED: 0, REORDERED: 0, SEAL_ALTERED: 1, REWRITTEN: 2,
         BAD_SIGNATURE: 3, CHECKPOINT_MISSING: 4}


@dataclass(frozen=True)
class Finding:
    """One thing wrong: where, what, and (when it cannot be pinned down) from where."""

    position: int
    kind: str
    detail: str
    since: int | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"position": self.position, "kind": self.kind,
                                 "detail": self.detail}
        if self.since is not None:
            found["since"] = self.since
        return found


@dataclass
class VerifyReport:
    """The outcome of one verification."""

    records: int = 0
    sealed: int = 0
    unsealed: int = 0
    head_position: int = 0
    sealed_position: int = 0
    started_after: int = 0
    checkpoints_stored: int = 0
    checkpoints_verified: int = 0
    exported_checkpoint: dict[str, Any] | None = None
    trust: str = ""
    findings: list[Finding] = field(default_factory=list)
    findings_total: int = 0
    # The last position a trusted signed checkpoint vouches for, and the records after it
    # older than the checkpoint interval (or of no readable age): what nothing verifies.
    covered_up_to: int = 0
    unverified: int = 0
    first_unverified_position: int | None = None

    @property
    def tampered(self) -> bool:
        return self.findings_total > 0

    @property
    def status(self) -> str:
        """``tampered`` if anything was found; else ``unverified`` if older records are
        covered by no trusted checkpoint; else ``ok``."""
        if self.tampered:
            return "tampered"
        return "unverified" if self.unverified else "ok"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def add(self, finding: Finding) -> None:
        """Count every finding, keep the lowest ``MAX_FINDINGS``: findings arrive out of
        position order (checkpoints are checked before the walk), and whatever is added
        first must not push the true first bad position out."""
        self.findings_total += 1
        insort(self.findings, finding, key=_order)
        if len(self.findings) > MAX_FINDINGS:
            self.findings.pop()

    def as_dict(self) -> dict[str, Any]:
        first = self.first
        return {
            "ok": self.ok, "status": self.status, "records": self.records,
            "sealed": self.sealed,
            "unsealed": self.unsealed, "head_position": self.head_position,
            "sealed_position": self.sealed_position, "started_after": self.started_after,
            "checkpoints_stored": self.checkpoints_stored,
            "checkpoints_verified": self.checkpoints_verified,
            "exported_checkpoint": self.exported_checkpoint, "trust": self.trust,
            "covered_up_to": self.covered_up_to, "unverified": self.unverified,
            "first_unverified_position": self.first_unverified_position,
            "first_bad_position": first.position if first else None,
            "findings": [f.as_dict() for f in self.findings],
            "findings_total": self.findings_total,
        }


def _order(finding: Finding) -> tuple[int, int]:
    return finding.position, _RANK.get(finding.kind, 5)
