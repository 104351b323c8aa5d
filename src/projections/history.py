"""A customer's history, read straight from the event store: the audit trail itself.

Personal values are never shown here: ``[protected]`` while the customer's key exists,
``[erased]`` once it is destroyed. Non-personal values and every workflow fact are shown.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.crypto import ERASED, is_envelope
from ledger.domain.customer import Customer
from ledger.domain.errors import NotFoundError
from ledger.protection import ProfileProtector
from ledger.store import LedgerStore
from projections.queries import Query

PROTECTED = "[protected]"


class CustomerHistory(Query):
    """Every event of one customer in order, with who, when, which command and why."""

    name = "customer-history"
    customer_id: UUID


def _shown(values: dict[str, Any], hidden: str) -> dict[str, Any]:
    return {path: hidden if is_envelope(value) else value for path, value in values.items()}


def _facts(event: Any, hidden: str) -> dict[str, Any]:
    if isinstance(event, Customer.Registered):
        return {"source_channel": event.profile.get("source_channel")}
    if isinstance(event, Customer.ChangeProposed):
        return {"proposal_id": event.proposal_id, "fields": sorted(event.changes),
                "values": _shown(event.changes, hidden), "happened_on": event.happened_on,
                "base_version": event.base_version, "late": event.late}
    if isinstance(event, Customer.ChangeVerified):
        return {"proposal_id": event.proposal_id, "fields": sorted(event.applied),
                "values": _shown(event.applied, hidden)}
    if isinstance(event, Customer.ChangeRejected):
        return {"proposal_id": event.proposal_id, "reason": event.reason}
    if isinstance(event, Customer.Reviewed):
        return {"quarter": event.quarter, "reviewed_on": event.reviewed_on,
                "outcome": event.outcome}
    if isinstance(event, Customer.Erased):
        return {"request_id": event.request_id, "ground": event.ground}
    return {}


def customer_history(store: LedgerStore, query: CustomerHistory,
                     protector: ProfileProtector | None = None) -> dict[str, Any]:
    events: list[Any] = list(store.events.get(query.customer_id))
    if not events or not isinstance(events[0], Customer.Registered):
        raise NotFoundError("no customer with this id",
                            details={"customer_id": str(query.customer_id)})
    erased = any(isinstance(event, Customer.Erased) for event in events) or (
        protector is not None and protector.keys.is_erased(str(query.customer_id)))
    hidden = ERASED if erased else PROTECTED
    return {
        "customer_id": str(query.customer_id),
        "erased": erased,
        "events": [
            {
                "version": event.originator_version,
                "event": type(event).__name__,
                "recorded_at": event.timestamp.isoformat(),
                "actor": event.meta.get("actor"),
                "command_id": event.meta.get("command_id"),
                "correlation_id": event.meta.get("correlation_id"),
                "reason": event.meta.get("reason"),
                "facts": _facts(event, hidden),
            }
            for event in events
        ],
    }
