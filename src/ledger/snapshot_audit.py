"""Snapshots checked against the events they summarise (AU-6), for ``ledger projections
verify``. A snapshot lies outside the hash chain: the auditor's replay never starts from
one, and this check names every stored snapshot whose state is not what folding its
aggregate's events up to its version gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.sql import SqlDatabase
from ledger.store import LedgerStore

MAX_FINDINGS = 20


@dataclass
class SnapshotCheck:
    """Every stored snapshot, refolded from the events."""

    checked: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)
    findings_total: int = 0

    @property
    def ok(self) -> bool:
        return self.findings_total == 0

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "findings": self.findings,
                "findings_total": self.findings_total}


def _state(aggregate: Any) -> dict[str, Any]:
    return {name: value for name, value in vars(aggregate).items()
            if name != "_pending_events"}


def _problem(store: LedgerStore, row: StoredEvent) -> str | None:
    try:
        restored: Any = store.mapper.to_domain_event(row).mutate(None)  # type: ignore[attr-defined]
    except Exception:  # a forged state need not even decode
        return "the snapshot cannot be read"
    folded: Any = None
    for event in store.events.get(row.originator_id, lte=row.originator_version):
        folded = event.mutate(folded)  # type: ignore[attr-defined]
    if folded is None or folded.version != row.originator_version:
        return "the log has no events up to the snapshot's version"
    if _state(restored) != _state(folded):
        return "the snapshot's state differs from its events folded up to its version"
    return None


def verify_snapshots(store: LedgerStore, database: SqlDatabase) -> SnapshotCheck:
    """Refold each snapshot's aggregate up to the snapshot's version and compare."""
    check = SnapshotCheck()
    if store.snapshots is None:
        return check
    table = store.snapshots.recorder.events_table_name  # type: ignore[attr-defined]
    with database.snapshot() as cursor:
        rows = cursor.all("SELECT originator_id, originator_version, topic, state "  # noqa: S608
                          f"FROM {table} ORDER BY originator_id, originator_version")
    for originator_id, version, topic, state in rows:
        check.checked += 1
        stored = StoredEvent(originator_id=UUID(str(originator_id)),
                             originator_version=int(version), topic=str(topic),
                             state=bytes(state))
        problem = _problem(store, stored)
        if problem is None:
            continue
        check.findings_total += 1
        if len(check.findings) < MAX_FINDINGS:
            check.findings.append({"aggregate_id": str(stored.originator_id),
                                   "version": stored.originator_version, "problem": problem})
    return check
