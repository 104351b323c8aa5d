"""Fault and incident commands (FT-3, IR-1) and their handlers, one per command: report a
fault, acknowledge it, record an action, resolve it; report a security incident, record a
response step, take the one-step lock from it, close it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from commands.accounts import Username, load_account
from commands.command import Command, Handler, Result
from commands.ports import UnitOfWork
from commands.roles import LockRole, Role, lock_role
from ledger.domain.account import LockReason
from ledger.domain.deadlines import working_hours_deadline
from ledger.domain.errors import ConflictError, Problem, ValidationFailedError
from ledger.domain.faults import Fault, Incident, IncidentKind, Severity

Text = Annotated[str, Field(min_length=1, max_length=2000)]

# A fault started "now" by a reporter whose clock runs a little ahead is not in the future.
CLOCK_SKEW = timedelta(minutes=5)


class ReportFault(Command):
    """Record a fault: its symptom, when it started, its impact and severity (FT-3)."""

    name = "report-fault"
    symptom: Text
    started_at: AwareDatetime
    impact: Text
    severity: Severity = Severity.GENERAL
    alert: str | None = Field(default=None, max_length=100,
                              description="The alert that opened the fault, if one did.")
    alert_fingerprint: str | None = Field(default=None, max_length=100)
    fault_id: UUID | None = None


class FaultCommand(Command):
    """A command on one fault; the fault is its audited target."""

    fault_id: UUID

    @property
    def audit_target(self) -> str:
        return str(self.fault_id)


class AcknowledgeFault(FaultCommand):
    """Say that someone is handling the fault."""

    name = "acknowledge-fault"


class RecordFaultAction(FaultCommand):
    """Record one step taken to handle the fault."""

    name = "record-fault-action"
    action: Text


class ResolveFault(FaultCommand):
    """Close the fault with its resolution and the evidence that it is repaired."""

    name = "resolve-fault"
    resolution: Text
    evidence: str | None = Field(default=None, max_length=2000)


class ReportIncident(Command):
    """Record a security incident: an attack, a data leak or a system failure (IR)."""

    name = "report-incident"
    kind: IncidentKind
    summary: Text
    detected_at: AwareDatetime


class IncidentCommand(Command):
    """A command on one incident; the incident is its audited target."""

    incident_id: UUID

    @property
    def audit_target(self) -> str:
        return str(self.incident_id)


class RecordIncidentStep(IncidentCommand):
    """Record one response step taken for the incident."""

    name = "record-incident-step"
    step: Text


class LockForIncident(IncidentCommand):
    """Lock an account, or every account holding a role, in one step from the incident,
    which records the lock (IR-1)."""

    name = "lock-for-incident"
    username: Username | None = None
    role: Role | None = None

    @model_validator(mode="after")
    def _one_target(self) -> LockForIncident:
        if (self.username is None) == (self.role is None):
            raise ValueError("give either username or role")
        return self


class CloseIncident(IncidentCommand):
    """Close the incident with how it ended."""

    name = "close-incident"
    resolution: Text


def _fault(uow: UnitOfWork, fault_id: UUID) -> Fault:
    return uow.load(fault_id, Fault, "fault")


def _incident(uow: UnitOfWork, incident_id: UUID) -> Incident:
    return uow.load(incident_id, Incident, "incident")


def report_fault(command: ReportFault, uow: UnitOfWork) -> Result:
    if command.fault_id is not None and uow.exists(command.fault_id):
        raise ConflictError("a fault with this id already exists",
                            details={"fault_id": str(command.fault_id)})
    policy = uow.policy
    hours = (policy.faults.general_repair_hours if command.severity is Severity.GENERAL
             else policy.faults.complex_repair_hours)
    reported_at = uow.clock()
    if command.started_at > reported_at + CLOCK_SKEW:
        raise ValidationFailedError([Problem("started_at", "lies in the future")])
    due_by = working_hours_deadline(reported_at, hours, policy.zone, policy.holiday_calendar,
                                    policy.audit.working_hours_start,
                                    policy.audit.working_hours_end)
    fault = Fault.report(symptom=command.symptom, started_at=command.started_at,
                         impact=command.impact, severity=command.severity, due_by=due_by,
                         reported_by=uow.actor, alert=command.alert,
                         alert_fingerprint=command.alert_fingerprint,
                         fault_id=command.fault_id)
    uow.add(fault)
    return {"fault_id": str(fault.id), "due_by": due_by.isoformat()}


def acknowledge_fault(command: AcknowledgeFault, uow: UnitOfWork) -> Result:
    _fault(uow, command.fault_id).acknowledge(by=uow.actor)
    return {"fault_id": str(command.fault_id), "status": "acknowledged"}


def record_fault_action(command: RecordFaultAction, uow: UnitOfWork) -> Result:
    _fault(uow, command.fault_id).record_action(action=command.action, by=uow.actor)
    return {"fault_id": str(command.fault_id)}


def resolve_fault(command: ResolveFault, uow: UnitOfWork) -> Result:
    _fault(uow, command.fault_id).resolve(resolution=command.resolution,
                                          evidence=command.evidence, by=uow.actor)
    return {"fault_id": str(command.fault_id), "status": "resolved"}


def report_incident(command: ReportIncident, uow: UnitOfWork) -> Result:
    if command.detected_at > uow.clock() + CLOCK_SKEW:
        raise ValidationFailedError([Problem("detected_at", "lies in the future")])
    incident = Incident.report(kind=command.kind, summary=command.summary,
                               detected_at=command.detected_at, reported_by=uow.actor)
    uow.add(incident)
    return {"incident_id": str(incident.id)}


def record_incident_step(command: RecordIncidentStep, uow: UnitOfWork) -> Result:
    _incident(uow, command.incident_id).record_step(step=command.step, by=uow.actor)
    return {"incident_id": str(command.incident_id)}


def lock_for_incident(command: LockForIncident, uow: UnitOfWork) -> Result:
    incident = _incident(uow, command.incident_id)
    incident.check_open()
    if command.username is not None:
        load_account(uow, command.username).lock(reason=LockReason.INCIDENT, by=uow.actor)
        target, locked = command.username, [command.username]
    else:
        role = str(command.role)
        target, locked = f"role:{role}", lock_role(LockRole(role=role), uow)["locked"]
    # The lock and its record on the incident are saved in one transaction.
    incident.record_lock(target=target, locked=locked, by=uow.actor)
    return {"incident_id": str(incident.id), "target": target, "locked": locked}


def close_incident(command: CloseIncident, uow: UnitOfWork) -> Result:
    _incident(uow, command.incident_id).close(resolution=command.resolution, by=uow.actor)
    return {"incident_id": str(command.incident_id), "closed": True}


HANDLERS: dict[type[Command], Handler] = {
    ReportFault: report_fault,
    AcknowledgeFault: acknowledge_fault,
    RecordFaultAction: record_fault_action,
    ResolveFault: resolve_fault,
    ReportIncident: report_incident,
    RecordIncidentStep: record_incident_step,
    LockForIncident: lock_for_incident,
    CloseIncident: close_incident,
}
