"""The auditor's replay queries (AU-5): a customer's state as of a moment, folded from its
events in the store, and the trail of commands and accesses from the audit index."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from ledger.domain.customer import Customer
from ledger.domain.errors import NotFoundError
from ledger.policy import Policy
from ledger.protection import ProfileProtector, is_sealed_reason
from ledger.store import LedgerStore
from projections.anomalies import AuditAnomalies, find_anomalies
from projections.answers import CustomerAsOfAnswer, TrailAnswer
from projections.audit_trail import trail_time
from projections.history import PROTECTED
from projections.queries import Moment, Queries, Query


class CustomerAsOf(Query):
    """One customer's state as it was at a moment, folded from its events up to then."""

    name = "customer-as-of"
    answer = CustomerAsOfAnswer
    customer_id: UUID
    at: Moment


class AuditTrailQuery(Query):
    """Commands, events and access records, filtered by actor, operation, target and time."""

    name = "audit-trail"
    answer = TrailAnswer
    actor: str | None = Field(default=None, max_length=100, description="Only this account.")
    operation: str | None = Field(default=None, max_length=100, description=(
        "Only this operation (get-customer, login-failed, propose-change, ...)."))
    customer: str | None = Field(default=None, max_length=100, description=(
        "Only entries about this customer (or account, or username)."))
    since: Moment | None = Field(default=None, description="From this ISO 8601 moment.")
    until: Moment | None = Field(default=None, description="Up to this ISO 8601 moment.")
    limit: int = Field(default=1000, ge=1, le=100_000, description="At most this many.")

    @model_validator(mode="after")
    def _ordered(self) -> AuditTrailQuery:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


AUDIT_QUERIES: dict[str, type[Query]] = {
    cls.name: cls for cls in (CustomerAsOf, AuditTrailQuery, AuditAnomalies)
}

_TRAIL_COLUMNS = ("position", "recorded_at", "actor", "client_address", "kind", "operation",
                  "command_id", "reason", "outcome", "targets", "facts")


def trail_entry(row: tuple[Any, ...], protector: ProfileProtector | None = None
                ) -> dict[str, Any]:
    entry = dict(zip(_TRAIL_COLUMNS, row, strict=True))
    entry["targets"] = json.loads(entry["targets"])
    entry["facts"] = json.loads(entry["facts"])
    entry["reason"] = shown_reason(entry["reason"], protector)
    return entry


def shown_reason(stored: str | None, protector: ProfileProtector | None) -> str | None:
    """A reason from the audit index as a reader sees it: a sealed one opened with its
    customer's key (``[erased]`` once erased, ``[protected]`` without the key store)."""
    if not stored or not stored.startswith("{"):
        return stored
    try:
        sealed = json.loads(stored)
    except ValueError:
        return stored
    if not is_sealed_reason(sealed):
        return stored
    if protector is None:
        return PROTECTED
    return str(protector.open_reason(sealed))


def customer_as_of(store: LedgerStore, query: CustomerAsOf,
                   protector: ProfileProtector | None) -> dict[str, Any]:
    """Fold the customer's events recorded at or before ``query.at``, from the first one."""
    events: list[Any] = list(store.events.get(query.customer_id))
    if not events or not isinstance(events[0], Customer.Registered):
        raise NotFoundError("no customer with this id",
                            details={"customer_id": str(query.customer_id)})
    upto = [event for event in events if event.timestamp <= query.at]
    if not upto:
        raise NotFoundError("the customer was not registered yet at that moment",
                            details={"customer_id": str(query.customer_id),
                                     "registered_at": events[0].timestamp.isoformat()})
    # Folded here rather than through the repository, which would start from a stored
    # snapshot: snapshots are outside the hash chain, so an edited one could change the
    # answer (AU-5). ``ledger projections verify`` checks the snapshots themselves.
    customer: Any = None
    for event in upto:
        customer = event.mutate(customer)
    state = customer.as_dict()
    if protector is not None:
        state["profile"] = protector.open_profile(state["customer_id"], state["profile"])
    last = upto[-1]
    return {"customer": state, "as_of": query.at.isoformat(),
            "last_event": {"version": last.originator_version, "event": type(last).__name__,
                           "recorded_at": last.timestamp.isoformat(),
                           "actor": last.meta.get("actor")}}


class AuditQueries:
    """Answers the auditor's trail and anomaly queries from the audit index."""

    def __init__(self, queries: Queries, store: LedgerStore, policy: Policy) -> None:
        self.queries = queries
        self.read = queries.read
        self.store = store
        self.policy = policy

    def customer_as_of(self, query: CustomerAsOf) -> dict[str, Any]:
        return customer_as_of(self.store, query, self.queries.protector)

    def audit_trail(self, query: AuditTrailQuery) -> dict[str, Any]:
        where, params = ["1 = 1"], dict[str, Any]({"limit": query.limit})
        if query.actor is not None:
            where.append("actor = :actor")
            params["actor"] = query.actor
        if query.operation is not None:
            where.append("operation = :operation")
            params["operation"] = query.operation
        if query.customer is not None:
            where.append("position IN (SELECT position FROM audit_trail_targets"
                         " WHERE target = :target)")
            params["target"] = query.customer
        if query.since is not None:
            where.append("recorded_at >= :since")
            params["since"] = trail_time(query.since)
        if query.until is not None:
            where.append("recorded_at <= :until")
            params["until"] = trail_time(query.until)
        with self.read.reading(query, "audit_trail") as (cursor, position):
            # ``where`` holds constant clauses only; values travel as parameters.
            rows = cursor.all(f"SELECT {', '.join(_TRAIL_COLUMNS)} FROM audit_trail"  # noqa: S608
                              f" WHERE {' AND '.join(where)} ORDER BY position LIMIT :limit",
                              params)
        protector = self.queries.protector
        return {"entries": [trail_entry(row, protector) for row in rows],
                "reflects_position": position}

    def audit_anomalies(self, query: AuditAnomalies) -> dict[str, Any]:
        with self.read.reading(query, "audit_trail") as (cursor, position):
            rows = cursor.all(
                f"SELECT {', '.join(_TRAIL_COLUMNS)} FROM audit_trail"  # noqa: S608
                " WHERE recorded_at >= :since AND recorded_at <= :until ORDER BY position",
                {"since": trail_time(query.since), "until": trail_time(query.until)})
            usernames = {str(account_id): username for username, account_id in cursor.all(
                "SELECT username, account_id FROM accounts")}
        entries = [trail_entry(row) for row in rows]
        found = find_anomalies(entries, self.policy, usernames)
        return {"since": query.since.isoformat(), "until": query.until.isoformat(),
                "anomalies": found, "reflects_position": position}

    def handlers(self) -> dict[type[BaseModel], Any]:
        return {
            CustomerAsOf: self.customer_as_of,
            AuditTrailQuery: self.audit_trail,
            AuditAnomalies: self.audit_anomalies,
        }


def parse_moment(text: str) -> datetime:
    """An ISO 8601 moment with its offset (``2026-11-27T10:00:00+08:00``)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("give the time with its offset, e.g. 2026-11-27T10:00:00+08:00")
    return moment
