"""The write side's ports: what a handler may ask of the event store and of the crypto layer.

A handler loads through a ``UnitOfWork``, decides on the aggregates, and leaves the saving to
the bus; it seals and opens personal values through ``PersonalData``. The concrete ones
(``commands.unit_of_work.StoreUnitOfWork`` on the event store, ``ledger.protection``'s
``ProfileProtector`` on the key store) are wired by ``bootstrap()``; handler tests give the
same bus the library's in-memory store and in-memory keys.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from ledger.domain.customer import Customer
from ledger.domain.errors import ConflictError, NotFoundError
from ledger.domain.events import LedgerAggregate
from ledger.domain.messages import N_, message
from ledger.policy import Policy

Clock = Callable[[], datetime]
JsonDict = dict[str, Any]
T = TypeVar("T", bound=LedgerAggregate)
# What ``UnitOfWork.load`` says of a record it does not find, by what it looked for.
_NOT_FOUND = {"customer": N_("no customer with this id"),
              "deletion request": N_("no deletion request with this id"),
              "export request": N_("no export request with this id"),
              "fault": N_("no fault with this id"), "incident": N_("no incident with this id")}


class PersonalData(Protocol):
    """Seals a customer's personal values before they enter an event, opens them again,
    and hashes with the ledger's secret key (so a stored digest confirms no guess)."""

    def new_customer_id(self) -> UUID: ...

    def seal_profile(self, customer_id: str, profile: JsonDict) -> JsonDict: ...

    def seal_changes(self, customer_id: str, changes: JsonDict, current: JsonDict
                     ) -> JsonDict: ...

    def open_profile(self, customer_id: str, profile: JsonDict) -> JsonDict: ...

    def open_changes(self, customer_id: str, changes: JsonDict) -> JsonDict: ...

    def keyed_hash(self, data: bytes) -> str: ...

    def seal_text(self, customer_id: str, path: str, text: str) -> JsonDict: ...

    def open_text(self, customer_id: str, path: str, value: Any) -> Any: ...

    def seal_reason(self, customer_id: str, text: str) -> JsonDict: ...

    def key_id(self, customer_id: str) -> str | None: ...

    def destroy_key(self, customer_id: str) -> str | None:
        """Destroy an erased customer's key (idempotent); return the id of the key destroyed
        now. The erasure follower (``ledger.erasures``) applies erasures through it too."""

    def give_back_customer_id(self, customer_id: UUID) -> None:
        """Return an id from ``new_customer_id`` that no saved event names."""


class SaveConflictError(Exception):
    """Another transaction saved an event at a version this save also claimed: the same
    command id won a race, or an aggregate moved on under the handler."""


class UnitOfWork(ABC):
    """The aggregates one command loads and changes, saved together by the bus; with the
    policy, the clock and who is acting, which is all a handler decides with."""

    def __init__(self, policy: Policy, clock: Clock, actor: str, personal_data: PersonalData,
                 *, roles: frozenset[str] = frozenset(), department: str | None = None,
                 session: str | None = None) -> None:
        self.policy = policy
        self.clock = clock
        self.actor = actor
        self.session = session
        self.personal_data = personal_data
        self.roles = roles
        self.department = department
        self.changed: list[LedgerAggregate] = []
        self.after_commit: list[Callable[[], object]] = []
        # Ids this command took for new customers: given back if it saves nothing.
        self.new_customer_ids: list[UUID] = []

    def new_customer_id(self) -> UUID:
        """An id for a new customer, its data key already stored."""
        customer_id = self.personal_data.new_customer_id()
        self.new_customer_ids.append(customer_id)
        return customer_id

    @abstractmethod
    def get(self, aggregate_id: UUID) -> object | None:
        """The aggregate stored under ``aggregate_id`` as it is now, or None."""

    @abstractmethod
    def exists(self, aggregate_id: UUID) -> bool:
        """Whether anything is stored under ``aggregate_id`` (nothing is rebuilt)."""

    def add(self, aggregate: LedgerAggregate) -> None:
        """Save ``aggregate``'s new events with this command's."""
        if aggregate not in self.changed:
            self.changed.append(aggregate)

    def load(self, aggregate_id: UUID, kind: type[T], what: str) -> T:
        """Load an aggregate of a known kind to change it, or say it is not found."""
        found = self.get(aggregate_id)
        if not isinstance(found, kind):
            raise NotFoundError(_NOT_FOUND.get(what) or message("no {what} with this id",
                                                                what=what),
                                details={"id": str(aggregate_id)})
        self.add(found)
        return found

    def customer(self, customer_id: UUID, expected_version: int | None = None) -> Customer:
        """Load a customer to change it; a stale ``expected_version`` is a conflict (OP-2)."""
        customer = self.get(customer_id)
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

    def today(self) -> date:
        """The business date now, in the policy's time zone."""
        return self.policy.business_date(self.clock())

    def on_commit(self, action: Callable[[], object]) -> None:
        """Run ``action`` once the events are durable (never if the save fails)."""
        self.after_commit.append(action)
