"""A command's reason in its events' metadata (``ledger.domain.free_text`` states the rule):
sealed under the customer's key when the command is about a customer, else stored as typed
once it is found to hold no phone number or e-mail address."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from commands.ports import PersonalData
from ledger.domain.customer import Customer
from ledger.domain.deletion import DeletionRequest
from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.events import LedgerAggregate
from ledger.domain.free_text import CONTACT_DATA_MESSAGE, looks_like_contact_data


def customer_concerned(aggregates: Iterable[LedgerAggregate]) -> str | None:
    """The customer a command's new events are about: a customer's own, or a deletion
    request's; None for a command about accounts."""
    for aggregate in aggregates:
        if not aggregate.pending_events:
            continue
        if isinstance(aggregate, Customer):
            return str(aggregate.id)
        if isinstance(aggregate, DeletionRequest):
            return aggregate.customer_id
    return None


def protected_reason(reason: str | None, changed: Iterable[LedgerAggregate],
                     personal_data: PersonalData) -> Any:
    """What the metadata of a command's events holds for ``reason``: None for none, the
    sealed reason for a command about a customer, else the text, checked first."""
    if not reason:
        return None
    customer_id = customer_concerned(changed)
    if customer_id is not None:
        return personal_data.seal_reason(customer_id, reason)
    if looks_like_contact_data(reason):
        raise ValidationFailedError([Problem("reason", CONTACT_DATA_MESSAGE)])
    return reason


def give_reason(aggregates: Iterable[LedgerAggregate], reason: Any) -> None:
    """Put ``reason`` in the metadata of every new event of ``aggregates``, before they are
    saved (the bus recorded them with none)."""
    for aggregate in aggregates:
        for event in aggregate.pending_events:
            if isinstance(event, LedgerAggregate.Event):
                event.meta["reason"] = reason
