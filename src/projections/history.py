"""A customer's history, read straight from the event store: the audit trail itself (AU-5).

Personal values are opened with the customer's key for a reader whose clearance covers the
field, masked for one whose clearance does not, and ``[erased]`` once the key is destroyed.
Without the key store (``protector`` None) they stay ``[protected]``. Non-personal values
and every workflow fact are shown.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.crypto import ERASED, is_envelope
from ledger.domain.customer import Customer
from ledger.domain.errors import NotFoundError
from ledger.domain.free_text import CHANGE_REJECTION_PATH
from ledger.domain.sensitivity import current_clearance, mask_changes
from ledger.protection import BUNDLE, IN_BUNDLE, ProfileProtector, is_sealed_reason
from ledger.store import LedgerStore
from projections.answers import HistoryAnswer
from projections.queries import Query

PROTECTED = "[protected]"


class CustomerHistory(Query):
    """Every event of one customer in order, with who, when, which command and why."""

    name = "customer-history"
    answer = HistoryAnswer
    customer_id: UUID


class _Values:
    """How one history shows the personal values in its change sets."""

    def __init__(self, customer_id: str, protector: ProfileProtector | None, erased: bool
                 ) -> None:
        self.customer_id = customer_id
        self.protector = None if erased else protector
        self.hidden = ERASED if erased else PROTECTED

    def __call__(self, values: dict[str, Any]) -> dict[str, Any]:
        if self.protector is None:
            return {path: self.hidden if _sealed(value) else value
                    for path, value in values.items()}
        opened = self.protector.open_changes(self.customer_id, values)
        return mask_changes(opened, current_clearance())

    def text(self, path: str, value: Any) -> Any:
        """Free text sealed under the customer's key (a rejection's reason): opened while
        the customer exists; plaintext stored before such text was sealed, as it is."""
        if not is_envelope(value):
            return value
        if self.protector is None:
            return self.hidden
        return self.protector.open_text(self.customer_id, path, value)

    def reason(self, value: Any) -> Any:
        """A command's reason from the metadata, as ``text`` shows free text."""
        if not is_sealed_reason(value):
            return value
        if self.protector is None:
            return self.hidden
        return self.protector.open_reason(value)

    def registered(self, profile: dict[str, Any]) -> dict[str, Any]:
        """The profile a customer was registered with, as a change set from nothing (one
        path per field), opened, masked and erased exactly as later change sets are. It is
        opened whole first: its personal values share one envelope."""
        if self.protector is None:
            return self(as_change_set(profile))
        opened = as_change_set(self.protector.open_profile(self.customer_id, profile))
        return mask_changes(opened, current_clearance())


def _sealed(value: Any) -> bool:
    """A sealed value, or the marker a registration leaves where its value is in the bundle."""
    return is_envelope(value) or value == IN_BUNDLE


def as_change_set(profile: dict[str, Any]) -> dict[str, Any]:
    """``{"basic": {"phone": ...}}`` as ``{"basic.phone": ...}``: a group's fields by path,
    a sealed or plain top-level value whole (the granularity changes are proposed at)."""
    values: dict[str, Any] = {}
    for name, value in profile.items():
        if name == BUNDLE:
            continue
        if isinstance(value, dict) and value and not _sealed(value):
            values.update({f"{name}.{field}": item for field, item in value.items()})
        else:
            values[name] = value
    return values


def _facts(event: Any, shown: _Values) -> dict[str, Any]:
    if isinstance(event, Customer.Registered):
        values = shown.registered(event.profile)
        return {"source_channel": event.profile.get("source_channel"),
                "fields": sorted(values), "values": values}
    if isinstance(event, Customer.ChangeProposed):
        return {"proposal_id": event.proposal_id, "fields": sorted(event.changes),
                "values": shown(event.changes), "happened_on": event.happened_on,
                "base_version": event.base_version, "late": event.late}
    if isinstance(event, Customer.ChangeVerified):
        return {"proposal_id": event.proposal_id, "fields": sorted(event.applied),
                "values": shown(event.applied)}
    if isinstance(event, Customer.ChangeRejected):
        return {"proposal_id": event.proposal_id,
                "reason": shown.text(CHANGE_REJECTION_PATH, event.reason)}
    if isinstance(event, Customer.ChangeWithdrawn):
        return {"proposal_id": event.proposal_id}
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
    shown = _Values(str(query.customer_id), protector, erased)
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
                "reason": shown.reason(event.meta.get("reason")),
                "facts": _facts(event, shown),
            }
            for event in events
        ],
    }
