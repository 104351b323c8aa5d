"""Customer commands (CI-1..CI-4, UP-1, UP-3, UP-4) and their handlers, one per command:
register a customer, propose a change, verify or reject it (or, its proposer, withdraw
it), record a review."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from pydantic import Field

from commands.command import Command, Handler, Result
from commands.ports import UnitOfWork
from ledger.documented import ChangeSetBody, ProfileBody
from ledger.domain.customer import Customer, ReviewOutcome, quarter_of
from ledger.domain.deadlines import working_day_deadline
from ledger.domain.errors import ConflictError
from ledger.domain.free_text import CHANGE_REJECTION_PATH
from ledger.domain.profile import validate_changes, validate_profile

# No record of this ledger's customers is older: a day before it is a typo (0001-01-01).
EARLIEST_DAY = date(1900, 1, 1)


class RegisterCustomer(Command):
    """Register a new customer with a complete profile (CI-1..CI-4)."""

    name = "register-customer"
    profile: ProfileBody
    customer_id: UUID | None = None


class ProposeChange(Command):
    """Propose new values for any fields of one customer, to be verified (UP-3, UP-4)."""

    name = "propose-change"
    customer_id: UUID
    changes: ChangeSetBody
    happened_on: date = Field(ge=EARLIEST_DAY)
    expected_version: int | None = Field(default=None, ge=1)


class VerifyChange(Command):
    """Accept a pending change proposal; its changes apply atomically."""

    name = "verify-change"
    customer_id: UUID
    proposal_id: str = Field(min_length=1, max_length=100)
    expected_version: int | None = Field(default=None, ge=1)


class RejectChange(Command):
    """Reject a pending change proposal, giving the reason."""

    name = "reject-change"
    customer_id: UUID
    proposal_id: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)
    expected_version: int | None = Field(default=None, ge=1)


class WithdrawChange(Command):
    """Withdraw your own pending change proposal (not a rejection: no verifier involved)."""

    name = "withdraw-change"
    customer_id: UUID
    proposal_id: str = Field(min_length=1, max_length=100)
    expected_version: int | None = Field(default=None, ge=1)


class RecordReview(Command):
    """Record the quarterly review of one customer (UP-1)."""

    name = "record-review"
    customer_id: UUID
    outcome: ReviewOutcome = ReviewOutcome.CONFIRMED
    reviewed_on: date | None = Field(default=None, ge=EARLIEST_DAY)
    expected_version: int | None = Field(default=None, ge=1)

def register_customer(command: RegisterCustomer, uow: UnitOfWork) -> Result:
    profile = validate_profile(command.profile, uow.policy.mandatory_fields)
    customer_id = command.customer_id or uow.new_customer_id()
    if command.customer_id is not None and uow.exists(command.customer_id):
        raise ConflictError("a customer with this id already exists",
                            details={"customer_id": str(command.customer_id)})
    # Personal values are sealed with the customer's own key before they enter an event.
    sealed = uow.personal_data.seal_profile(str(customer_id), profile)
    customer = Customer.register(sealed, customer_id=customer_id)
    uow.add(customer)
    return {"customer_id": str(customer.id)}


def _plain_profile(uow: UnitOfWork, customer: Customer) -> dict[str, Any]:
    customer.check_not_erased()
    return uow.personal_data.open_profile(str(customer.id), customer.profile)


def propose_change(command: ProposeChange, uow: UnitOfWork) -> Result:
    customer = uow.customer(command.customer_id, command.expected_version)
    current = _plain_profile(uow, customer)
    plain = validate_changes(current, command.changes, uow.policy.mandatory_fields)
    changes = uow.personal_data.seal_changes(str(customer.id), plain, current)
    # A future day is refused by the customer below; its deadline is not worked out first
    # (for a day late in 9999 the holiday calendar would need the year 10000).
    record_by = working_day_deadline(command.happened_on,
                                     uow.policy.key_change_deadline_working_days,
                                     uow.policy.holiday_calendar
                                     ) if command.happened_on <= uow.today() else None
    proposal_id = customer.propose_change(
        changes, happened_on=command.happened_on, proposed_by=uow.actor, today=uow.today(),
        record_by=record_by,
    )
    return {"customer_id": str(customer.id), "proposal_id": proposal_id}


def verify_change(command: VerifyChange, uow: UnitOfWork) -> Result:
    customer = uow.customer(command.customer_id, command.expected_version)
    proposal = customer.check_pending(command.proposal_id)
    # The record may have moved on since the proposal: the result must still be valid.
    proposed = uow.personal_data.open_changes(str(customer.id), proposal["changes"])
    validate_changes(_plain_profile(uow, customer), proposed, uow.policy.mandatory_fields)
    customer.verify_change(command.proposal_id, verified_by=uow.actor)
    return {"customer_id": str(customer.id), "proposal_id": command.proposal_id,
            "applied_fields": sorted(proposal["changes"])}


def reject_change(command: RejectChange, uow: UnitOfWork) -> Result:
    customer = uow.customer(command.customer_id, command.expected_version)
    customer.check_pending(command.proposal_id)
    reason = uow.personal_data.seal_text(str(customer.id), CHANGE_REJECTION_PATH,
                                         command.reason)
    customer.reject_change(command.proposal_id, rejected_by=uow.actor, reason=reason)
    return {"customer_id": str(customer.id), "proposal_id": command.proposal_id}


def withdraw_change(command: WithdrawChange, uow: UnitOfWork) -> Result:
    customer = uow.customer(command.customer_id, command.expected_version)
    customer.withdraw_change(command.proposal_id, withdrawn_by=uow.actor)
    return {"customer_id": str(customer.id), "proposal_id": command.proposal_id}


def record_review(command: RecordReview, uow: UnitOfWork) -> Result:
    customer = uow.customer(command.customer_id, command.expected_version)
    today = uow.today()
    reviewed_on = command.reviewed_on or today
    customer.record_review(reviewed_on=reviewed_on, outcome=command.outcome,
                           reviewed_by=uow.actor, today=today)
    return {"customer_id": str(customer.id), "quarter": quarter_of(reviewed_on)}


HANDLERS: dict[type[Command], Handler] = {
    RegisterCustomer: register_customer,
    ProposeChange: propose_change,
    VerifyChange: verify_change,
    RejectChange: reject_change,
    RecordReview: record_review,
    WithdrawChange: withdraw_change,
}
