"""A customer's history, read straight from the event store: the audit trail itself."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.domain.customer import Customer
from ledger.domain.errors import NotFoundError
from ledger.store import LedgerStore
from projections.queries import Query


class CustomerHistory(Query):
    """Every event of one customer in order, with who, when, which command and why."""

    name = "customer-history"
    customer_id: UUID


def _facts(event: Any) -> dict[str, Any]:
    # Field names and workflow facts only: values stay out of the trail's summary view.
    if isinstance(event, Customer.Registered):
        return {"source_channel": event.profile.get("source_channel")}
    if isinstance(event, Customer.ChangeProposed):
        return {"proposal_id": event.proposal_id, "fields": sorted(event.changes),
                "happened_on": event.happened_on, "base_version": event.base_version}
    if isinstance(event, Customer.ChangeVerified):
        return {"proposal_id": event.proposal_id, "fields": sorted(event.applied)}
    if isinstance(event, Customer.ChangeRejected):
        return {"proposal_id": event.proposal_id, "reason": event.reason}
    if isinstance(event, Customer.Reviewed):
        return {"quarter": event.quarter, "reviewed_on": event.reviewed_on,
                "outcome": event.outcome}
    return {}


def customer_history(store: LedgerStore, query: CustomerHistory) -> dict[str, Any]:
    events: list[Any] = list(store.events.get(query.customer_id))
    if not events or not isinstance(events[0], Customer.Registered):
        raise NotFoundError("no customer with this id",
                            details={"customer_id": str(query.customer_id)})
    return {
        "customer_id": str(query.customer_id),
        "events": [
            {
                "version": event.originator_version,
                "event": type(event).__name__,
                "recorded_at": event.timestamp.isoformat(),
                "actor": event.meta.get("actor"),
                "command_id": event.meta.get("command_id"),
                "correlation_id": event.meta.get("correlation_id"),
                "reason": event.meta.get("reason"),
                "facts": _facts(event),
            }
            for event in events
        ],
    }
