"""The event store contract: every scenario runs on a SQLite file and on PostgreSQL (ST-1)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.domain.customer import Customer, ReviewOutcome
from ledger.domain.profile import validate_profile
from ledger.store import LedgerStore
from service.bootstrap import Ledger
from service.client import LedgerClient
from tests.factories import make_profile

TODAY = date(2026, 11, 27)


def new_customer(ledger: Ledger, seed: int = 1) -> Customer:
    profile = validate_profile(make_profile(seed=seed), ledger.policy.mandatory_fields)
    return Customer.register(profile)


def review(customer: Customer, outcome: ReviewOutcome = ReviewOutcome.CONFIRMED) -> None:
    customer.record_review(reviewed_on=TODAY, outcome=outcome, reviewed_by="alice", today=TODAY)


def whole_log(store: LedgerStore) -> list[Any]:
    return list(store.read_log(0, 10_000))


def replayed_from_events(store: LedgerStore, customer_id: UUID) -> Customer:
    """The customer folded from its stored events alone, ignoring any snapshot."""
    customer: Any = None
    for event in store.events.get(customer_id):
        customer = event.mutate(customer)
    assert isinstance(customer, Customer)
    return customer


def state_of(customer: Customer) -> dict[str, Any]:
    return {key: value for key, value in vars(customer).items() if key != "_pending_events"}


# Positions ---------------------------------------------------------------------------


def test_an_empty_store_is_at_position_zero(ledger: Ledger) -> None:
    assert ledger.store.head_position() == 0
    assert list(ledger.store.read_log(0)) == []


def test_head_position_is_the_last_recorded_position(ledger: Ledger) -> None:
    customer = new_customer(ledger)
    review(customer)
    recordings = ledger.store.save(customer)

    assert ledger.store.head_position() == recordings[-1].notification.id
    assert whole_log(ledger.store)[-1].id == ledger.store.head_position()


def test_position_of_names_each_stored_event_and_nothing_else(ledger: Ledger) -> None:
    customer = new_customer(ledger)
    review(customer)
    recordings = ledger.store.save(customer)
    assert [ledger.store.position_of(customer.id, version) for version in (1, 2)] == [
        r.notification.id for r in recordings]
    assert ledger.store.position_of(customer.id, 3) is None
    assert ledger.store.position_of(uuid4()) is None


def test_a_replayed_command_reports_its_own_position_not_the_head(ledger: Ledger) -> None:
    client = LedgerClient.in_process(ledger, actor="li.na", roles=["sales"])
    first = client.register_customer(make_profile(seed=1), command_id="register-once")
    client.register_customer(make_profile(seed=2))
    again = client.register_customer(make_profile(seed=1), command_id="register-once")
    assert again["replayed"] is True
    assert again["position"] == first["position"] < ledger.store.head_position()


def test_global_positions_strictly_increase_across_saves(ledger: Ledger) -> None:
    saved: list[int] = []
    for seed in range(5):
        customer = new_customer(ledger, seed)
        review(customer)
        saved += [r.notification.id for r in ledger.store.save(customer)]

    logged = [n.id for n in whole_log(ledger.store)]
    assert logged == saved
    assert all(earlier < later for earlier, later in itertools.pairwise(logged))


def test_concurrent_writers_get_unique_positions_in_one_order(ledger: Ledger) -> None:
    recorded: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def write(worker: int) -> None:
        start.wait()
        for seed in range(5):
            customer = new_customer(ledger, worker * 10 + seed)
            review(customer)
            ids = [r.notification.id for r in ledger.store.save(customer)]
            with lock:
                recorded.extend(ids)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    logged = [n.id for n in whole_log(ledger.store)]
    assert len(recorded) == len(set(recorded)) == 40
    assert logged == sorted(recorded)


def test_read_log_pages_through_the_whole_log(ledger: Ledger) -> None:
    for seed in range(4):
        customer = new_customer(ledger, seed)
        review(customer)
        ledger.store.save(customer)
    everything = whole_log(ledger.store)

    pages, after = [], 0
    while page := list(ledger.store.read_log(after, limit=3)):
        assert len(page) <= 3
        assert page[0].id > after
        pages.append(page)
        after = page[-1].id

    assert [n.id for page in pages for n in page] == [n.id for n in everything]
    assert [len(page) for page in pages] == [3, 3, 2]
    assert list(ledger.store.read_log(ledger.store.head_position())) == []


# Atomicity and concurrency -----------------------------------------------------------


def test_a_second_stale_copy_of_a_customer_cannot_be_saved(ledger: Ledger) -> None:
    customer = new_customer(ledger)
    ledger.store.save(customer)
    first = ledger.store.repository.get(customer.id)
    second = ledger.store.repository.get(customer.id)
    review(first)
    review(second, ReviewOutcome.NEEDS_UPDATE)

    ledger.store.save(first)
    with pytest.raises(IntegrityError):
        ledger.store.save(second)

    stored = ledger.store.repository.get(customer.id)
    assert stored.version == 2
    assert stored.last_review["outcome"] == "confirmed"


def test_events_saved_together_are_stored_all_or_nothing(ledger: Ledger) -> None:
    existing = new_customer(ledger, seed=1)
    ledger.store.save(existing)
    stale = ledger.store.repository.get(existing.id)
    fresh = ledger.store.repository.get(existing.id)
    review(fresh)
    ledger.store.save(fresh)
    log_before = whole_log(ledger.store)

    newcomer = new_customer(ledger, seed=2)
    review(newcomer)
    review(stale)
    with pytest.raises(IntegrityError):
        ledger.store.save(newcomer, stale)

    assert whole_log(ledger.store) == log_before
    assert ledger.store.app_recorder.select_events(newcomer.id) == []


# Replay, metadata, snapshots ---------------------------------------------------------


def test_a_customer_replayed_from_the_store_equals_the_live_aggregate(
    ledger: Ledger, make_ledger: Callable[..., Ledger], database_url: str
) -> None:
    live = new_customer(ledger)
    proposal = live.propose_change({"basic.name": "上海新名字有限公司"}, happened_on=TODAY,
                                   proposed_by="alice", today=TODAY)
    live.propose_change({"business.scale": "large"}, happened_on=TODAY, proposed_by="alice",
                        today=TODAY)
    ledger.store.save(live)
    live.verify_change(proposal, verified_by="bob")
    review(live)
    ledger.store.save(live)

    other_process = make_ledger(database_url)
    replayed = other_process.store.repository.get(live.id)

    assert state_of(replayed) == state_of(live)
    assert replayed.as_dict() == live.as_dict()


def test_a_stored_event_holds_who_when_which_command_and_why(ledger: Ledger) -> None:
    client = LedgerClient.in_process(ledger, "alice", roles=["info_specialist"],
                                    client_address="10.1.2.3")
    outcome = client.register_customer(make_profile(seed=3), command_id="cmd-42",
                                       reason="met at the Canton fair")

    stored = ledger.store.app_recorder.select_events(UUID(outcome["aggregate_id"]))
    assert [s.topic for s in stored] == ["ledger.domain.customer:Customer.Registered"]
    event = ledger.store.mapper.to_domain_event(stored[0])
    assert event.meta | {"reason": None} == {
        "actor": "alice", "command_id": "cmd-42", "correlation_id": "cmd-42", "reason": None,
        "client_address": "10.1.2.3"}
    # The why of a command about a customer is sealed under its key (issue 16, B).
    assert ledger.protector.open_reason(event.meta["reason"]) == "met at the Canton fair"
    assert b"Canton fair" not in bytes(stored[0].state)


def test_snapshots_are_taken_at_the_interval_and_loading_from_one_equals_replay(
    ledger: Ledger, make_ledger: Callable[..., Ledger], database_url: str
) -> None:
    interval = LedgerStore.snapshotting_intervals[Customer]
    customer = new_customer(ledger)
    ledger.store.save(customer)
    while customer.version < interval - 1:
        review(customer)
        ledger.store.save(customer)
    assert ledger.store.snapshots is not None
    assert list(ledger.store.snapshots.get(customer.id)) == []

    proposal = customer.propose_change({"basic.name": "快照之后公司"}, happened_on=TODAY,
                                       proposed_by="alice", today=TODAY)
    ledger.store.save(customer)
    assert [s.originator_version for s in ledger.store.snapshots.get(customer.id)] == [interval]

    customer.verify_change(proposal, verified_by="bob")
    review(customer, ReviewOutcome.NEEDS_UPDATE)
    ledger.store.save(customer)

    store = make_ledger(database_url).store
    from_snapshot = store.repository.get(customer.id)
    from_events = replayed_from_events(store, customer.id)
    assert state_of(from_snapshot) == state_of(from_events) == state_of(customer)
    assert from_snapshot.profile["basic"]["name"] == "快照之后公司"
    at_snapshot = store.repository.get(customer.id, version=interval)
    assert list(at_snapshot.pending) == [proposal]


def test_an_unknown_customer_has_no_stored_events(ledger: Ledger) -> None:
    ledger.store.save(new_customer(ledger))
    assert ledger.store.app_recorder.select_events(uuid4()) == []
