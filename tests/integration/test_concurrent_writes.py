"""Sixteen clerks at once, on SQLite and PostgreSQL: group commit loses and duplicates nothing.

Every thread registers its own customers and records reviews on one customer they all
share. Commands in flight together are written in shared transactions (the group
commit); a command that loses a race on the shared customer is refused as a conflict
and retried, as a client would. Afterwards every acknowledged command's event is in the
log exactly once, each aggregate's versions run 1..n without a gap or a repeat, the log's
positions are unique and ordered, and the read models agree.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any
from uuid import UUID

from commands.bus import Actor
from commands.idempotency import command_record_id
from ledger.domain.customer import Customer
from ledger.domain.errors import ConflictError
from projections.queries import GetCustomer
from service.bootstrap import Ledger
from service.client import LedgerClient
from tests.conftest import ALICE, BOB
from tests.factories import make_profile

THREADS = 16
CUSTOMERS_PER_THREAD = 6
REVIEWS_PER_THREAD = 4


def clerk(number: int) -> Actor:
    return Actor(f"clerk-{number:02d}", ALICE.roles, department=ALICE.department)


def hammer(ledger: Ledger, shared: str) -> tuple[dict[str, list[dict[str, Any]]],
                                                  list[BaseException]]:
    acknowledged: dict[str, list[dict[str, Any]]] = {"register": [], "review": []}
    failures: list[BaseException] = []
    lock = threading.Lock()
    profiles = [[make_profile("zh_CN" if (t + i) % 2 else "en_US", seed=t * 100 + i)
                 for i in range(CUSTOMERS_PER_THREAD)] for t in range(THREADS)]
    start = threading.Barrier(THREADS)

    def work(number: int) -> None:
        actor = clerk(number)
        client = LedgerClient.in_process(ledger, actor=actor.id, roles=sorted(actor.roles),
                                         department=actor.department)
        start.wait()
        try:
            for i, profile in enumerate(profiles[number]):
                outcome = client.register_customer(profile)
                with lock:
                    acknowledged["register"].append(outcome)
                if i < REVIEWS_PER_THREAD:
                    outcome = review_with_retries(client, shared)
                    with lock:
                        acknowledged["review"].append(outcome)
        except BaseException as error:
            with lock:
                failures.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return acknowledged, failures


def review_with_retries(client: LedgerClient, customer_id: str) -> dict[str, Any]:
    for _ in range(200):
        try:
            return client.record_review(customer_id)
        except ConflictError:
            continue  # another clerk's review took this version first: read again, retry
    raise AssertionError("a review never got through")


def test_sixteen_clients_lose_no_acknowledged_event_and_duplicate_no_version(
        ledger: Ledger) -> None:
    first = LedgerClient.in_process(ledger, actor=BOB.id, roles=sorted(BOB.roles),
                                    department=BOB.department)
    shared = first.register_customer(make_profile("zh_CN", seed=1))["aggregate_id"]

    acknowledged, failures = hammer(ledger, shared)

    assert failures == []
    registered = [UUID(o["aggregate_id"]) for o in acknowledged["register"]]
    assert len(set(registered)) == THREADS * CUSTOMERS_PER_THREAD
    for customer_id in registered:
        assert [event.originator_version for event in ledger.store.events.get(customer_id)
                ] == [1]
    reviews = list(ledger.store.events.get(UUID(shared)))
    # Registered, then one Reviewed per acknowledged review: versions 1..n, no gap or repeat.
    assert [event.originator_version for event in reviews] == list(range(1, len(reviews) + 1))
    assert Counter(type(event) for event in reviews) == {
        Customer.Registered: 1, Customer.Reviewed: THREADS * REVIEWS_PER_THREAD}
    assert sorted(o["version"] for o in acknowledged["review"]) == list(
        range(2, THREADS * REVIEWS_PER_THREAD + 2))

    log = ledger.store.read_log(0, 10_000)
    positions = [notification.id for notification in log]
    assert positions == sorted(set(positions))
    # Each command was told the position of its own last event (its command record):
    # the shared transaction handed every command exactly its own notification ids.
    by_position = {notification.id: notification for notification in log}
    for outcome in acknowledged["register"] + acknowledged["review"]:
        told = by_position[outcome["position"]]
        assert told.originator_id == command_record_id(outcome["command_id"])
    # Commands in flight together shared transactions.
    stats = ledger.store.group_commit.stats()
    assert stats.batches < stats.items

    ledger.runner.catch_up()
    view = ledger.answer
    for customer_id in registered[:: CUSTOMERS_PER_THREAD]:
        shown = view(GetCustomer(customer_id=customer_id))["customer"]
        assert shown["customer_id"] == str(customer_id)
    assert view(GetCustomer(customer_id=UUID(shared)))["customer"]["version"] == len(reviews)
