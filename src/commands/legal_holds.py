"""Legal holds (DL-5): a customer whose data must be kept, whatever the deletion workflow
says, for litigation or a regulator (PIPL Art. 47). A hold is placed with a reason, a
reference and an end date or none; a second authorised person lifts it."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import Field

from commands.command import Command, Handler, Result
from commands.ports import UnitOfWork
from ledger.domain.customer import LEGAL_HOLD_REASON_PATH
from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.free_text import CONTACT_DATA_MESSAGE, looks_like_contact_data


class PlaceLegalHold(Command):
    """Hold a customer's data against erasure: deletion requests may go on, but none is
    executed while the hold is in force (DL-5)."""

    name = "place-legal-hold"
    customer_id: UUID
    # Required here, and sealed in the event under the customer's key, not in the metadata.
    reason: str = Field(min_length=1, max_length=2000)
    reference: str = Field(min_length=1, max_length=100,
                           description="The case, order or file the hold answers to.")
    until: date | None = Field(default=None, description="The last day the hold is in "
                                                         "force; none: until it is lifted.")

    def audit_reason(self) -> str | None:
        return None


class LiftLegalHold(Command):
    """End a legal hold: a second authorised person, never the one who placed it."""

    name = "lift-legal-hold"
    customer_id: UUID
    hold_id: UUID


def place_legal_hold(command: PlaceLegalHold, uow: UnitOfWork) -> Result:
    if looks_like_contact_data(command.reference):
        # The reference is stored as typed (a case or file number), so it must name no one.
        raise ValidationFailedError([Problem("reference", CONTACT_DATA_MESSAGE)])
    customer = uow.customer(command.customer_id)
    customer.check_not_erased()
    sealed = uow.personal_data.seal_text(str(customer.id), LEGAL_HOLD_REASON_PATH, command.reason)
    hold_id = customer.place_legal_hold(
        reference=command.reference, sealed_reason=sealed, until=command.until,
        placed_by=uow.actor, today=uow.today())
    return {"hold_id": hold_id, "customer_id": str(customer.id),
            "until": command.until.isoformat() if command.until else None}


def lift_legal_hold(command: LiftLegalHold, uow: UnitOfWork) -> Result:
    customer = uow.customer(command.customer_id)
    customer.lift_legal_hold(str(command.hold_id), lifted_by=uow.actor)
    return {"hold_id": str(command.hold_id), "customer_id": str(customer.id)}


HANDLERS: dict[type[Command], Handler] = {
    PlaceLegalHold: place_legal_hold,
    LiftLegalHold: lift_legal_hold,
}
