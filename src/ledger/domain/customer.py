"""The customer aggregate: registration, the propose/verify change flow, quarterly reviews."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from ledger.domain.errors import (
    ConflictError,
    LegalHoldInForceError,
    NotFoundError,
    Problem,
    ValidationFailedError,
    WorkflowViolationError,
)
from ledger.domain.events import LedgerAggregate
from ledger.domain.messages import message
from ledger.domain.paths import JsonDict, apply_changes, paths_overlap

KEY_FIELD_PATHS = (
    "basic.legal_representative",
    "basic.address",
    "basic.phone",
    "basic.fax",
    "basic.email",
    "basic.business_scope",
    "contacts",
)
"""Fields whose real-world change must be recorded within the policy deadline (UP-2)."""


LEGAL_HOLD_REASON_PATH = "legal_hold.reason"
"""Where a legal hold's reason is sealed under the customer's key (its envelope is bound
to this path): free text about the customer, gone with an erasure."""


class ReviewOutcome(StrEnum):
    CONFIRMED = "confirmed"
    NEEDS_UPDATE = "needs_update"


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def day_after_quarter(quarter: str) -> date:
    """The first day of the quarter after ``quarter`` (``2026-Q4`` -> 2027-01-01)."""
    year, number = int(quarter[:4]), int(quarter[-1])
    return date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)


class Customer(LedgerAggregate):
    """One customer record: its validated profile and the changes waiting for verification."""

    class Registered(LedgerAggregate.Created):
        profile: JsonDict

        def apply(self, customer: Customer) -> None:
            customer.profile = self.profile

    class ChangeProposed(LedgerAggregate.Event):
        proposal_id: str
        changes: JsonDict
        happened_on: str
        base_version: int
        proposed_by: str
        # UP-2: the key fields touched, the last day to record them in time, and whether
        # this proposal came after it; decided when recorded, under the policy then in force.
        key_fields: list[str]
        record_by: str | None
        late: bool

        def apply(self, customer: Customer) -> None:
            customer.pending[self.proposal_id] = {
                "proposal_id": self.proposal_id,
                "changes": self.changes,
                "happened_on": self.happened_on,
                "base_version": self.base_version,
                "proposed_by": self.proposed_by,
                "key_fields": self.key_fields,
                "record_by": self.record_by,
                "late": self.late,
            }

    class ChangeVerified(LedgerAggregate.Event):
        proposal_id: str
        applied: JsonDict
        verified_by: str

        def apply(self, customer: Customer) -> None:
            customer.pending.pop(self.proposal_id, None)
            customer.profile = apply_changes(customer.profile, self.applied)
            for path in self.applied:
                customer.changed_at_version[path] = self.originator_version

    class ChangeRejected(LedgerAggregate.Event):
        proposal_id: str
        rejected_by: str
        # Sealed under the customer's key (``ledger.domain.free_text``); plaintext in
        # rejections stored before free text was sealed.
        reason: JsonDict | str

        def apply(self, customer: Customer) -> None:
            customer.pending.pop(self.proposal_id, None)

    class ChangeWithdrawn(LedgerAggregate.Event):
        """The proposer took their own pending proposal back; nothing of it applies."""

        proposal_id: str
        withdrawn_by: str

        def apply(self, customer: Customer) -> None:
            customer.pending.pop(self.proposal_id, None)

    class Reviewed(LedgerAggregate.Event):
        quarter: str
        reviewed_on: str
        outcome: str
        reviewed_by: str

        def apply(self, customer: Customer) -> None:
            customer.last_review = {
                "quarter": self.quarter,
                "reviewed_on": self.reviewed_on,
                "outcome": self.outcome,
                "reviewed_by": self.reviewed_by,
            }

    class Erased(LedgerAggregate.Event):
        """The customer's personal data was destroyed (DL-3); the facts of it remain."""

        request_id: str
        ground: str

        def apply(self, customer: Customer) -> None:
            customer.erased = True
            customer.pending.clear()

    class LegalHoldPlaced(LedgerAggregate.Event):
        """The customer must not be erased while the hold is in force (DL-5)."""

        hold_id: str
        reference: str
        # Free text about the customer: sealed under its key, gone with an erasure.
        reason: JsonDict
        until: str | None
        placed_by: str

        def apply(self, customer: Customer) -> None:
            customer.holds[self.hold_id] = {"hold_id": self.hold_id, "until": self.until,
                                            "placed_by": self.placed_by}

    class LegalHoldLifted(LedgerAggregate.Event):
        hold_id: str
        lifted_by: str

        def apply(self, customer: Customer) -> None:
            customer.holds.pop(self.hold_id, None)

    # Snapshots record this; version 2 added the legal holds (a snapshot taken before had
    # none, since no hold existed).
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["holds"] = {}

    def __init__(self) -> None:
        self.erased = False
        # Legal holds not lifted, by id (one whose ``until`` has passed is no longer in force).
        self.holds: dict[str, JsonDict] = {}
        self.profile: JsonDict = {}
        self.pending: dict[str, JsonDict] = {}
        # The aggregate version at which each changeable path last took a new value.
        self.changed_at_version: dict[str, int] = {}
        self.last_review: JsonDict | None = None

    # Decisions ---------------------------------------------------------------

    @classmethod
    def register(cls, profile: JsonDict, *, customer_id: UUID | None = None) -> Customer:
        """Register a customer from an already validated, normalised profile."""
        customer: Customer = cls._create(cls.Registered, id=customer_id or uuid4(), profile=profile)
        return customer

    def propose_change(
        self, changes: JsonDict, *, happened_on: date, proposed_by: str, today: date,
        record_by: date | None = None,
    ) -> str:
        """Record a change waiting for verification; return its proposal id.

        ``record_by`` is the deadline for key-field changes (UP-2); a proposal after it
        is still accepted, and marked late so the late ones can be listed.
        """
        self.check_not_erased()
        # A date after today is a bad value (validation), not a step out of order (workflow).
        if happened_on > today:
            raise ValidationFailedError([Problem("happened_on", "must not be in the future")])
        key_fields = sorted(path for path in changes
                            if any(paths_overlap(path, key) for key in KEY_FIELD_PATHS))
        deadline = record_by if key_fields else None
        proposal_id = str(uuid4())
        self.trigger_event(
            self.ChangeProposed,
            proposal_id=proposal_id,
            changes=changes,
            happened_on=happened_on.isoformat(),
            base_version=self.version,
            proposed_by=proposed_by,
            key_fields=key_fields,
            record_by=deadline.isoformat() if deadline else None,
            late=bool(deadline and today > deadline),
        )
        return proposal_id

    def verify_change(self, proposal_id: str, *, verified_by: str) -> JsonDict:
        """Accept a pending proposal; its changes apply together or not at all (UP-4)."""
        proposal = self.check_pending(proposal_id)
        if proposal["proposed_by"] == verified_by:
            raise WorkflowViolationError(
                "a change cannot be verified by the person who proposed it")
        self.check_no_conflict(proposal)
        self.trigger_event(
            self.ChangeVerified,
            proposal_id=proposal_id,
            applied=proposal["changes"],
            verified_by=verified_by,
        )
        return dict(proposal)

    def reject_change(self, proposal_id: str, *, rejected_by: str, reason: JsonDict | str
                      ) -> None:
        """Refuse a pending proposal: a verifier's step, so never the proposer's (UP-3)."""
        proposal = self.check_pending(proposal_id)
        if proposal["proposed_by"] == rejected_by:
            raise WorkflowViolationError(
                "a change cannot be rejected by the person who proposed it; the proposer "
                "may withdraw it instead")
        self.trigger_event(
            self.ChangeRejected, proposal_id=proposal_id, rejected_by=rejected_by, reason=reason
        )

    def withdraw_change(self, proposal_id: str, *, withdrawn_by: str) -> None:
        """Take back one's own pending proposal; no one else's."""
        proposal = self.check_pending(proposal_id)
        if proposal["proposed_by"] != withdrawn_by:
            raise WorkflowViolationError(
                "only the person who proposed a change may withdraw it")
        self.trigger_event(self.ChangeWithdrawn, proposal_id=proposal_id,
                           withdrawn_by=withdrawn_by)

    def record_review(self, *, reviewed_on: date, outcome: ReviewOutcome, reviewed_by: str,
                      today: date) -> None:
        self.check_not_erased()
        if reviewed_on > today:
            raise ValidationFailedError([Problem("reviewed_on", "must not be in the future")])
        self.trigger_event(
            self.Reviewed,
            quarter=quarter_of(reviewed_on),
            reviewed_on=reviewed_on.isoformat(),
            outcome=outcome.value,
            reviewed_by=reviewed_by,
        )

    def place_legal_hold(self, *, reference: str, sealed_reason: JsonDict, until: date | None,
                         placed_by: str, today: date) -> str:
        """Hold the customer's data against erasure until ``until`` (None: until lifted)."""
        self.check_not_erased()
        if until is not None and until < today:
            raise ValidationFailedError([Problem("until", "must not be in the past")])
        hold_id = str(uuid4())
        self.trigger_event(self.LegalHoldPlaced, hold_id=hold_id, reference=reference,
                           reason=sealed_reason, until=until.isoformat() if until else None,
                           placed_by=placed_by)
        return hold_id

    def lift_legal_hold(self, hold_id: str, *, lifted_by: str) -> None:
        """End a hold; a second person lifts it, never the one who placed it (DL-5)."""
        hold = self.holds.get(hold_id)
        if hold is None:
            raise NotFoundError("no legal hold with this id on this customer",
                                details={"hold_id": hold_id})
        if hold["placed_by"] == lifted_by:
            raise WorkflowViolationError(
                "a legal hold is lifted by a second person, not the one who placed it",
                details={"hold_id": hold_id})
        self.trigger_event(self.LegalHoldLifted, hold_id=hold_id, lifted_by=lifted_by)

    def holds_in_force(self, today: date) -> list[JsonDict]:
        """The holds not lifted whose ``until`` (if any) is today or later."""
        return [hold for hold in self.holds.values()
                if hold["until"] is None or date.fromisoformat(hold["until"]) >= today]

    def check_no_hold_in_force(self, today: date) -> None:
        held = self.holds_in_force(today)
        if held:
            raise LegalHoldInForceError(held[0]["hold_id"], held[0]["until"], str(self.id))

    # Guards ------------------------------------------------------------------

    def erase(self, *, request_id: str, ground: str) -> None:
        """Record that this customer's personal data is destroyed by an approved request."""
        self.check_not_erased()
        self.trigger_event(self.Erased, request_id=request_id, ground=ground)

    def check_not_erased(self) -> None:
        if self.erased:
            raise WorkflowViolationError("this customer's data has been erased")

    def check_pending(self, proposal_id: str) -> JsonDict:
        self.check_not_erased()
        proposal = self.pending.get(proposal_id)
        if proposal is None:
            raise NotFoundError("no pending change proposal with this id for this customer",
                                details={"proposal_id": proposal_id})
        return proposal

    def check_no_conflict(self, proposal: JsonDict) -> None:
        clashes = sorted(
            path
            for path in proposal["changes"]
            for changed, version in self.changed_at_version.items()
            if version > proposal["base_version"] and paths_overlap(path, changed)
        )
        if clashes:
            raise ConflictError(
                message("the proposal was made against an older version and these fields "
                        "have changed since: {fields}", fields=", ".join(dict.fromkeys(clashes))),
                details={"fields": list(dict.fromkeys(clashes)),
                         "base_version": proposal["base_version"]},
            )

    # State -------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": str(self.id),
            "version": self.version,
            "erased": self.erased,
            "profile": self.profile,
            "pending_proposals": sorted(self.pending),
            "last_review": self.last_review,
            "legal_holds": sorted(self.holds),
        }
