"""What a handler may touch while deciding: the store's aggregates, the policy and the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.customer import Customer
from ledger.domain.errors import ConflictError, NotFoundError
from ledger.domain.events import LedgerAggregate
from ledger.policy import Policy
from ledger.store import LedgerStore

Clock = Callable[[], datetime]


class UnitOfWork:
    """Collects the aggregates a command changed, so the bus saves them in one transaction."""

    def __init__(self, store: LedgerStore, policy: Policy, clock: Clock, actor: str) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.actor = actor
        self.changed: list[LedgerAggregate] = []
        self.after_commit: list[Callable[[], None]] = []

    def today(self) -> date:
        """The business date now, in the policy's time zone."""
        return self.clock().astimezone(self.policy.zone).date()

    def customer(self, customer_id: UUID, expected_version: int | None = None) -> Customer:
        """Load a customer to change it; a stale ``expected_version`` is a conflict (OP-2)."""
        try:
            customer: object = self.store.repository.get(customer_id)
        except AggregateNotFoundError:
            raise NotFoundError("no customer with this id",
                                details={"customer_id": str(customer_id)}) from None
        if not isinstance(customer, Customer):
            raise NotFoundError("no customer with this id",
                                details={"customer_id": str(customer_id)})
        if expected_version is not None and customer.version != expected_version:
            raise ConflictError(
                "the customer has changed since you read it",
                details={"expected_version": expected_version, "current_version": customer.version},
            )
        self.add(customer)
        return customer

    def customer_exists(self, customer_id: UUID) -> bool:
        return bool(self.store.app_recorder.select_events(customer_id, limit=1))

    def on_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the events are durable (never if the save fails)."""
        self.after_commit.append(action)

    def add(self, aggregate: LedgerAggregate) -> None:
        if aggregate not in self.changed:
            self.changed.append(aggregate)
