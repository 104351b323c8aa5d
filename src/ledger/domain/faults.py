"""The fault and incident register (FT-3, IR-1): each fault with its symptom, start, impact,
severity, repair deadline and every step of its handling; each security incident with the
response steps taken, among them the one-step locks taken from it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from ledger.domain.errors import WorkflowViolationError
from ledger.domain.events import LedgerAggregate


class Severity(StrEnum):
    """A general fault is repaired within the policy's hours; a complex one has its own."""

    GENERAL = "general"
    COMPLEX = "complex"


class FaultStatus(StrEnum):
    REPORTED = "reported"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class IncidentKind(StrEnum):
    ATTACK = "attack"
    DATA_LEAK = "data_leak"
    SYSTEM_FAILURE = "system_failure"


class Fault(LedgerAggregate):
    """One fault: reported, acknowledged, acted on, resolved; due by its repair deadline."""

    class Reported(LedgerAggregate.Created):
        symptom: str
        started_at: str
        impact: str
        severity: str
        due_by: str
        reported_by: str
        alert: str | None
        alert_fingerprint: str | None

        def apply(self, fault: Fault) -> None:
            fault.severity = Severity(self.severity)
            fault.due_by = datetime.fromisoformat(self.due_by)

    class Acknowledged(LedgerAggregate.Event):
        acknowledged_by: str

        def apply(self, fault: Fault) -> None:
            fault.status = FaultStatus.ACKNOWLEDGED

    class ActionRecorded(LedgerAggregate.Event):
        action: str
        recorded_by: str

        def apply(self, fault: Fault) -> None:
            fault.actions += 1

    class Resolved(LedgerAggregate.Event):
        resolution: str
        evidence: str | None
        resolved_by: str

        def apply(self, fault: Fault) -> None:
            fault.status = FaultStatus.RESOLVED

    def __init__(self) -> None:
        self.status = FaultStatus.REPORTED
        self.severity = Severity.GENERAL
        self.due_by: datetime | None = None
        self.actions = 0

    @classmethod
    def report(cls, *, symptom: str, started_at: datetime, impact: str, severity: Severity,
               due_by: datetime, reported_by: str, alert: str | None = None,
               alert_fingerprint: str | None = None, fault_id: UUID | None = None) -> Fault:
        fault: Fault = cls._create(
            cls.Reported, id=fault_id or uuid4(), symptom=symptom,
            started_at=started_at.isoformat(), impact=impact, severity=severity.value,
            due_by=due_by.isoformat(), reported_by=reported_by, alert=alert,
            alert_fingerprint=alert_fingerprint)
        return fault

    def acknowledge(self, *, by: str) -> None:
        self.check_open()
        if self.status is FaultStatus.ACKNOWLEDGED:
            raise WorkflowViolationError("the fault is already acknowledged")
        self.trigger_event(self.Acknowledged, acknowledged_by=by)

    def record_action(self, *, action: str, by: str) -> None:
        self.check_open()
        self.trigger_event(self.ActionRecorded, action=action, recorded_by=by)

    def resolve(self, *, resolution: str, evidence: str | None, by: str) -> None:
        self.check_open()
        self.trigger_event(self.Resolved, resolution=resolution, evidence=evidence,
                           resolved_by=by)

    def check_open(self) -> None:
        if self.status is FaultStatus.RESOLVED:
            raise WorkflowViolationError("the fault is resolved; report a new one",
                                         details={"status": self.status.value})


class Incident(LedgerAggregate):
    """One security incident and the response steps taken (IR-1)."""

    class Reported(LedgerAggregate.Created):
        kind: str
        summary: str
        detected_at: str
        reported_by: str

        def apply(self, incident: Incident) -> None:
            incident.kind = IncidentKind(self.kind)

    class StepRecorded(LedgerAggregate.Event):
        step: str
        recorded_by: str

        def apply(self, incident: Incident) -> None:
            incident.steps += 1

    class LockTaken(LedgerAggregate.Event):
        """The one-step lock of an account or of every holder of a role, taken from this
        incident in the same transaction as the locks themselves."""

        target: str
        locked: list[str]
        taken_by: str

        def apply(self, incident: Incident) -> None:
            incident.steps += 1

    class Closed(LedgerAggregate.Event):
        resolution: str
        closed_by: str

        def apply(self, incident: Incident) -> None:
            incident.closed = True

    def __init__(self) -> None:
        self.kind = IncidentKind.ATTACK
        self.steps = 0
        self.closed = False

    @classmethod
    def report(cls, *, kind: IncidentKind, summary: str, detected_at: datetime,
               reported_by: str) -> Incident:
        incident: Incident = cls._create(
            cls.Reported, id=uuid4(), kind=kind.value, summary=summary,
            detected_at=detected_at.isoformat(), reported_by=reported_by)
        return incident

    def record_step(self, *, step: str, by: str) -> None:
        self.check_open()
        self.trigger_event(self.StepRecorded, step=step, recorded_by=by)

    def record_lock(self, *, target: str, locked: list[str], by: str) -> None:
        self.check_open()
        self.trigger_event(self.LockTaken, target=target, locked=list(locked), taken_by=by)

    def close(self, *, resolution: str, by: str) -> None:
        self.check_open()
        self.trigger_event(self.Closed, resolution=resolution, closed_by=by)

    def check_open(self) -> None:
        if self.closed:
            raise WorkflowViolationError("the incident is closed")

    def as_dict(self) -> dict[str, Any]:
        return {"incident_id": str(self.id), "kind": self.kind.value, "steps": self.steps,
                "closed": self.closed}
