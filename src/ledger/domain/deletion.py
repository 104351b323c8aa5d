"""A deletion request (DL-1, DL-2): requested, reviewed by the requesting department's
head, approved by the head of customer-information management, executed by a system
administrator. Each step may reject instead, with a reason. No person fills two roles.

Which role takes each step is the policy's (``[deletion]``, by default ``department_head``,
``info_mgmt_head``, ``sysadmin``); each step is given it as ``StepRoles``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from ledger.domain.errors import PermissionDeniedError, WorkflowViolationError
from ledger.domain.events import LedgerAggregate
from ledger.domain.messages import message
from ledger.domain.paths import JsonDict


class Ground(StrEnum):
    """Why a customer's data may be deleted (DL-1)."""

    RELATIONSHIP_ENDED = "relationship_ended"
    ERRONEOUS_OR_DUPLICATE = "erroneous_or_duplicate"
    LEGAL_OBLIGATION = "legal_obligation"


class Stage(StrEnum):
    REQUESTED = "requested"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    EXECUTED = "executed"
    REJECTED = "rejected"


# Which stage each step needs.
_STAGE_BEFORE: dict[str, Stage] = {
    "review": Stage.REQUESTED,
    "approve": Stage.REVIEWED,
    "execute": Stage.APPROVED,
}
STEPS = tuple(_STAGE_BEFORE)


@dataclass(frozen=True)
class StepRoles:
    """The role that may take each step of a deletion request (the policy says which)."""

    review: str
    approve: str
    execute: str

    def of(self, step: str) -> str:
        return {"review": self.review, "approve": self.approve, "execute": self.execute}[step]


class DeletionRequest(LedgerAggregate):
    """One request to erase one customer's personal data, and who decided what."""

    class Requested(LedgerAggregate.Created):
        customer_id: str
        ground: str
        # Sealed under the customer's key (``ledger.domain.free_text``); plaintext in
        # requests stored before free text was sealed.
        details: JsonDict | str
        department: str
        requested_by: str

        def apply(self, request: DeletionRequest) -> None:
            request.customer_id = self.customer_id
            request.ground = self.ground
            request.department = self.department
            request.participants = {self.requested_by: "requested"}

    class Reviewed(LedgerAggregate.Event):
        reviewed_by: str

        def apply(self, request: DeletionRequest) -> None:
            request.stage = Stage.REVIEWED
            request.participants[self.reviewed_by] = "reviewed"

    class Approved(LedgerAggregate.Event):
        approved_by: str

        def apply(self, request: DeletionRequest) -> None:
            request.stage = Stage.APPROVED
            request.participants[self.approved_by] = "approved"

    class Executed(LedgerAggregate.Event):
        executed_by: str
        key_id: str | None

        def apply(self, request: DeletionRequest) -> None:
            request.stage = Stage.EXECUTED
            request.participants[self.executed_by] = "executed"

    class Rejected(LedgerAggregate.Event):
        step: str
        rejected_by: str
        reason: JsonDict | str  # sealed as ``Requested.details`` is

        def apply(self, request: DeletionRequest) -> None:
            request.stage = Stage.REJECTED
            request.participants[self.rejected_by] = f"rejected at {self.step}"

    def __init__(self) -> None:
        self.customer_id = ""
        self.ground = ""
        self.department = ""
        self.stage = Stage.REQUESTED
        self.participants: dict[str, str] = {}

    @classmethod
    def request(cls, *, customer_id: UUID, ground: Ground, details: JsonDict | str,
                department: str,
                requested_by: str) -> DeletionRequest:
        request: DeletionRequest = cls._create(
            cls.Requested, id=uuid4(), customer_id=str(customer_id), ground=ground.value,
            details=details, department=department, requested_by=requested_by)
        return request

    def review(self, *, actor: str, roles: frozenset[str], department: str | None,
               step_roles: StepRoles) -> None:
        self.check_step("review", actor, roles, step_roles)
        if department != self.department:
            raise PermissionDeniedError(
                "only the head of the requesting department may review this request",
                details={"department": self.department})
        self.trigger_event(self.Reviewed, reviewed_by=actor)

    def approve(self, *, actor: str, roles: frozenset[str], step_roles: StepRoles) -> None:
        self.check_step("approve", actor, roles, step_roles)
        self.trigger_event(self.Approved, approved_by=actor)

    def execute(self, *, actor: str, roles: frozenset[str], key_id: str | None,
                step_roles: StepRoles) -> None:
        self.check_step("execute", actor, roles, step_roles)
        self.trigger_event(self.Executed, executed_by=actor, key_id=key_id)

    def reject(self, *, step: str, actor: str, roles: frozenset[str], reason: JsonDict | str,
               step_roles: StepRoles) -> None:
        """Stop the request at ``step`` (review, approve or execute), giving the reason."""
        if step not in _STAGE_BEFORE:
            raise WorkflowViolationError(message("unknown step: {step}", step=step))
        self.check_step(step, actor, roles, step_roles)
        self.trigger_event(self.Rejected, step=step, rejected_by=actor, reason=reason)

    def check_step(self, step: str, actor: str, roles: frozenset[str],
                   step_roles: StepRoles) -> None:
        stage, role = _STAGE_BEFORE[step], step_roles.of(step)
        if role not in roles:
            raise PermissionDeniedError(message("the {step} step needs the {role} role",
                                                step=step, role=role),
                                        details={"step": step, "role": role})
        if self.stage != stage:
            raise WorkflowViolationError(
                message("the request is {stage}; {step} needs it {needed}",
                        stage=self.stage.value, step=step, needed=stage.value),
                details={"stage": self.stage.value, "step": step})
        if actor in self.participants:
            raise WorkflowViolationError(
                "no person may act in two roles on one deletion request",
                details={"already": self.participants[actor]})

    @property
    def is_open(self) -> bool:
        return self.stage not in (Stage.EXECUTED, Stage.REJECTED)

    def as_dict(self) -> dict[str, Any]:
        return {"request_id": str(self.id), "customer_id": self.customer_id,
                "ground": self.ground, "department": self.department,
                "stage": self.stage.value, "participants": dict(self.participants),
                "version": self.version}
