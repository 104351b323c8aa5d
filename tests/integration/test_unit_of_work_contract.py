"""The write side's unit of work behaves alike on every event store it is given: the
library's in-memory store that tests/unit runs on, a SQLite file and PostgreSQL. So a
handler test on the in-memory store says what the same handler does on a real database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date
from uuid import uuid4

import pytest

from commands.idempotency import CommandRecord
from commands.ports import SaveConflictError
from commands.unit_of_work import StoreUnitOfWork
from ledger.crypto import BlindIndex
from ledger.domain.customer import Customer, ReviewOutcome
from ledger.domain.profile import validate_profile
from ledger.policy import Policy, load_policy
from ledger.protection import ProfileProtector
from ledger.settings import Settings
from ledger.store import LedgerStore, open_memory_store, open_store
from tests.conftest import FAST_HASHING_POLICY, FixedClock
from tests.factories import make_profile
from tests.fakes import InMemoryKeys

TODAY = date(2026, 11, 27)
POLICY: Policy = load_policy(FAST_HASHING_POLICY)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[LedgerStore]:
    if request.param == "memory":
        opened = open_memory_store()
    else:
        url: str = request.getfixturevalue(f"{request.param}_url")
        opened = open_store(Settings(database_url=url))
    yield opened
    opened.close()


def unit_of_work(store: LedgerStore, actor: str = "alice") -> StoreUnitOfWork:
    personal_data = ProfileProtector(InMemoryKeys(), BlindIndex(secrets.token_bytes(32)),
                                     POLICY.personal_fields)
    return StoreUnitOfWork(store, POLICY, FixedClock(), actor, personal_data)


def new_customer(seed: int = 1) -> Customer:
    return Customer.register(validate_profile(make_profile(seed=seed), POLICY.mandatory_fields))


def review(customer: Customer, outcome: ReviewOutcome = ReviewOutcome.CONFIRMED) -> None:
    customer.record_review(reviewed_on=TODAY, outcome=outcome, reviewed_by="alice", today=TODAY)


def record(command_id: str) -> CommandRecord:
    return CommandRecord.processed(command_id, "record-review", "digest", {"status": "accepted"})


def test_nothing_is_found_under_an_unknown_id(store: LedgerStore) -> None:
    uow = unit_of_work(store)
    unknown = uuid4()
    assert (uow.get(unknown), uow.exists(unknown), uow.recorded("never-ran")) == (
        None, False, None)


def test_a_commit_saves_the_changes_and_the_record_at_one_position(store: LedgerStore) -> None:
    uow = unit_of_work(store)
    customer = new_customer()
    uow.add(customer)

    position = uow.commit(record("cmd-1"))

    later = unit_of_work(store)
    loaded = later.get(customer.id)
    assert isinstance(loaded, Customer) and loaded.profile == customer.profile
    assert later.exists(customer.id)
    processed = later.recorded("cmd-1")
    assert isinstance(processed, CommandRecord.Processed)
    assert position == store.head_position() == later.position_of(processed)


def test_a_second_record_of_one_command_id_conflicts_and_saves_nothing(
        store: LedgerStore) -> None:
    first, second = unit_of_work(store), unit_of_work(store)
    first.add(new_customer(seed=1))
    first.commit(record("cmd-1"))
    head = store.head_position()
    newcomer = new_customer(seed=2)
    second.add(newcomer)

    with pytest.raises(SaveConflictError):
        second.commit(record("cmd-1"))

    assert store.head_position() == head
    assert not unit_of_work(store).exists(newcomer.id)


def test_a_stale_copy_of_an_aggregate_conflicts(store: LedgerStore) -> None:
    setup = unit_of_work(store)
    customer = new_customer()
    setup.add(customer)
    setup.commit(record("cmd-0"))
    first, second = unit_of_work(store), unit_of_work(store, "bob")
    review(first.customer(customer.id))
    review(second.customer(customer.id), ReviewOutcome.NEEDS_UPDATE)

    first.commit(record("cmd-1"))
    with pytest.raises(SaveConflictError):
        second.commit(record("cmd-2"))

    stored = unit_of_work(store).customer(customer.id)
    assert stored.version == 2 and stored.last_review is not None
    assert stored.last_review["outcome"] == "confirmed"
