"""What a handler may touch while deciding: the store's aggregates, the policy and the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.customer import Customer
from ledger.domain.errors import ConflictError, NotFoundError
from ledger.domain.events import LedgerAggregate
from ledger.policy import Policy
from ledger.protection import ProfileProtector
from ledger.store import LedgerStore

Clock = Callable[[], datetime]
T = TypeVar("T", bound=LedgerAggregate)


class UnitOfWork:
    """Collects the aggregates a command changed, so the bus saves them in one transaction."""

    def __init__(self, store: LedgerStore, policy: Policy, clock: Clock, actor: str, *,
                 protector: ProfileProtector | None = None,
                 roles: frozenset[str] = frozenset(), department: str | None = None) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.actor = actor
        self.roles = roles
        self.department = department
        self._protector = protector
        self.changed: list[LedgerAggregate] = []
        self.after_commit: list[Callable[[], object]] = []

    @property
    def protector(self) -> ProfileProtector:
        """Seals and opens personal fields; every ledger built by bootstrap() has one."""
        if self._protector is None:
            raise RuntimeError("this unit of work was built without key material")
        return self._protector

    def load(self, aggregate_id: UUID, kind: type[T], what: str) -> T:
        """Load any aggregate of a known kind to change it, or say it is not found."""
        try:
            found: object = self.store.repository.get(aggregate_id)
        except AggregateNotFoundError:
            found = None
        if not isinstance(found, kind):
            raise NotFoundError(f"no {what} with this id", details={"id": str(aggregate_id)})
        self.add(found)
        return found

    def today(self) -> date:
        """The business date now, in the policy's time zone."""
        return self.policy.business_date(self.clock())

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

    def on_commit(self, action: Callable[[], object]) -> None:
        """Run ``action`` once the events are durable (never if the save fails)."""
        self.after_commit.append(action)

    def add(self, aggregate: LedgerAggregate) -> None:
        if aggregate not in self.changed:
            self.changed.append(aggregate)
