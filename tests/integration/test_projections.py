"""Projections on both backends: exactly-once checkpoints, rebuilds and the read queries."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from commands.customers import RegisterCustomer
from ledger.integrity.report import IntegrityViolationError
from ledger.sql import Cursor
from projections.customer_view import CustomerView
from projections.pending_proposals import PendingProposals
from projections.projection import EventByEventProjection
from projections.runner import NotReflectedYetError, ProjectionRunner
from service.bootstrap import Ledger
from service.client import LedgerClient
from tests.conftest import ALICE, BOB
from tests.factories import make_profile

HAPPENED_ON = "2026-11-20"


class AppliedPositions(EventByEventProjection):
    """Records every position it applies, without a unique key, so a double apply shows."""

    name = "applied_positions"
    tables = ("applied_positions",)
    topics = CustomerView.topics | PendingProposals.topics

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute("CREATE TABLE IF NOT EXISTS applied_positions (position BIGINT NOT NULL)")

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        cursor.execute("INSERT INTO applied_positions (position) VALUES (:position)",
                       {"position": position})


def client(ledger: Ledger, actor: str = ALICE.id) -> LedgerClient:
    return LedgerClient.in_process(ledger, actor, roles=sorted(ALICE.roles))


def register(ledger: Ledger, name: str | None = None, seed: int = 1) -> dict[str, Any]:
    profile = make_profile(seed=seed, **({"basic__name": name} if name else {}))
    return client(ledger).register_customer(profile)


def some_history(ledger: Ledger, customers: int = 3) -> list[str]:
    """Registrations, proposals, a verification, a rejection and a review."""
    alice, bob = client(ledger, ALICE.id), client(ledger, BOB.id)
    ids = [register(ledger, seed=seed)["aggregate_id"] for seed in range(customers)]
    for index, customer_id in enumerate(ids):
        kept = alice.propose_change(customer_id, {"basic.name": f"新名字 {index}"}, HAPPENED_ON)
        dropped = alice.propose_change(customer_id, {"business.scale": "large"}, HAPPENED_ON)
        alice.propose_change(customer_id, {"needs.functional_needs": "faster"}, HAPPENED_ON)
        bob.verify_change(customer_id, kept["result"]["proposal_id"])
        bob.reject_change(customer_id, dropped["result"]["proposal_id"], "not confirmed")
        bob.record_review(customer_id)
    return ids


def dump(runner: ProjectionRunner) -> dict[str, Any]:
    with runner.views.snapshot() as cursor:
        return {name: p.dump(cursor) for name, p in runner.projections.items()}


def runner_with_tally(ledger: Ledger, batch_size: int) -> ProjectionRunner:
    runner = ProjectionRunner(ledger.store, ledger.views,
                              [CustomerView(), PendingProposals(), AppliedPositions()],
                              batch_size=batch_size)
    runner.create_tables()
    return runner


# Exactly once ------------------------------------------------------------------------


def test_a_failing_apply_moves_neither_rows_nor_checkpoint(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    some_history(ledger, customers=2)
    view = ledger.runner.projections["customer_view"]
    real_apply_batch = view.apply_batch

    def apply_then_fail(cursor: Cursor, events: Sequence[tuple[Any, int]]) -> None:
        real_apply_batch(cursor, events[:2])  # rows written, then the batch fails
        raise RuntimeError("projection bug")

    monkeypatch.setattr(view, "apply_batch", apply_then_fail)
    with pytest.raises(RuntimeError, match="projection bug"):
        ledger.runner.run_once()

    assert ledger.runner.positions()["customer_view"] == 0
    assert dump(ledger.runner)["customer_view"] == {"customer_view": []}

    monkeypatch.setattr(view, "apply_batch", real_apply_batch)
    ledger.runner.catch_up()
    assert ledger.runner.position() == ledger.store.head_position()
    assert len(dump(ledger.runner)["customer_view"]["customer_view"]) == 2


def test_two_runners_racing_over_one_log_apply_each_event_once(
    ledger: Ledger, make_ledger: Callable[..., Ledger], database_url: str
) -> None:
    some_history(ledger, customers=4)
    runners = [runner_with_tally(ledger, batch_size=2),
               runner_with_tally(make_ledger(database_url), batch_size=2)]
    start, failures = threading.Barrier(len(runners)), []

    def race(runner: ProjectionRunner) -> None:
        start.wait()
        try:
            runner.catch_up()
        except Exception as error:  # the assertion below reports it
            failures.append(error)

    threads = [threading.Thread(target=race, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    with ledger.views.snapshot() as cursor:
        applied = [row[0] for row in cursor.all("SELECT position FROM applied_positions")]
    relevant = [n.id for n in ledger.store.read_log(0) if n.topic in AppliedPositions.topics]
    assert sorted(applied) == relevant
    raced = dump(runners[0])
    runners[0].rebuild()
    assert dump(runners[0]) == raced


def test_rebuild_reproduces_the_incrementally_built_rows(ledger: Ledger) -> None:
    alice = client(ledger)
    for customer_id in some_history(ledger, customers=2):
        ledger.runner.run_once()
        alice.record_review(customer_id, outcome="needs_update")
    ledger.runner.catch_up()
    incremental = dump(ledger.runner)
    assert incremental["customer_view"]["customer_view"]
    assert incremental["pending_proposals"]["pending_proposals"]

    ledger.runner.rebuild()

    assert dump(ledger.runner) == incremental
    assert ledger.runner.position() == ledger.store.head_position()


# Queries -----------------------------------------------------------------------------


def test_queries_report_the_position_they_reflect(ledger: Ledger) -> None:
    alice = client(ledger)
    first = register(ledger, "Reflect Ltd")
    ledger.runner.catch_up()
    answer = alice.find_customers("reflect")
    # The read itself is recorded after it is answered (AU-1): one access record.
    assert answer["reflects_position"] == first["position"] == ledger.store.head_position() - 1

    register(ledger, "Reflect Two Ltd", seed=2)
    stale = alice.get_customer(first["aggregate_id"])
    assert stale["reflects_position"] == first["position"] < ledger.store.head_position()
    assert alice.pending_proposals()["reflects_position"] == first["position"]


def test_a_query_with_min_position_waits_for_the_background_runner(
    make_ledger: Callable[..., Ledger], database_url: str
) -> None:
    ledger = make_ledger(database_url, start_projections=True)
    alice = client(ledger)
    outcome = register(ledger, "Read Your Writes 公司")

    answer = alice.get_customer(outcome["aggregate_id"], min_position=outcome["position"])

    assert answer["customer"]["name"] == "Read Your Writes 公司"
    assert answer["reflects_position"] >= outcome["position"]
    proposal = alice.propose_change(outcome["aggregate_id"], {"basic.name": "Renamed"},
                                    HAPPENED_ON)
    pending = alice.pending_proposals(min_position=proposal["position"])
    assert [p["proposal_id"] for p in pending["proposals"]] == [
        proposal["result"]["proposal_id"]]


def test_a_min_position_beyond_the_head_times_out(
    make_ledger: Callable[..., Ledger], database_url: str
) -> None:
    ledger = make_ledger(database_url, read_wait_timeout=0.2)
    outcome = register(ledger)

    with pytest.raises(NotReflectedYetError) as raised:
        client(ledger).get_customer(outcome["aggregate_id"],
                                    min_position=outcome["position"] + 100)

    assert raised.value.details["requested"] == outcome["position"] + 100
    assert raised.value.details["reflected"] == outcome["position"]


def names_found(ledger: Ledger, prefix: str) -> list[str]:
    return [c["name"] for c in client(ledger).find_customers(prefix)["customers"]]


def test_find_by_name_prefix_ignores_case_in_any_script(ledger: Ledger) -> None:
    for seed, name in enumerate(["ACME Trading", "acme widgets", "Acmeville Inc", "Beta ACME",
                                 "华为技术有限公司", "华润万家", "中华书局", "Straße GmbH"]):
        register(ledger, name, seed)
    ledger.runner.catch_up()

    assert names_found(ledger, "aCmE") == ["ACME Trading", "acme widgets", "Acmeville Inc"]
    assert names_found(ledger, "华") == ["华为技术有限公司", "华润万家"]
    assert names_found(ledger, "华为") == ["华为技术有限公司"]
    assert names_found(ledger, "STRASSE") == ["Straße GmbH"]
    assert names_found(ledger, "Gamma") == []


def test_like_wildcards_in_a_prefix_match_only_themselves(ledger: Ledger) -> None:
    for seed, name in enumerate(["100% Cotton", "100 Cotton", "1000 Threads", "a_b Corp",
                                 "axb Corp", "ab Corp", "%Percent Ltd", "\\Slash Ltd"]):
        register(ledger, name, seed)
    ledger.runner.catch_up()

    assert names_found(ledger, "100%") == ["100% Cotton"]
    assert names_found(ledger, "a_") == ["a_b Corp"]
    assert names_found(ledger, "%") == ["%Percent Ltd"]
    assert names_found(ledger, "_") == []
    assert names_found(ledger, "\\") == ["\\Slash Ltd"]


def test_pending_proposals_appear_and_disappear_on_verify_and_reject(ledger: Ledger) -> None:
    alice, bob = client(ledger, ALICE.id), client(ledger, BOB.id)
    customer_id = register(ledger)["aggregate_id"]
    other_id = register(ledger, seed=2)["aggregate_id"]
    first = alice.propose_change(customer_id, {"basic.name": "第一"}, HAPPENED_ON)
    second = alice.propose_change(customer_id, {"basic.email": "NEW@Example.com"}, HAPPENED_ON)
    third = alice.propose_change(other_id, {"business.scale": "micro"}, HAPPENED_ON)
    first_id, second_id, third_id = (p["result"]["proposal_id"] for p in (first, second, third))

    def pending(customer: str | None = None) -> list[str]:
        ledger.runner.catch_up()
        return [p["proposal_id"] for p in alice.pending_proposals(customer)["proposals"]]

    assert sorted(pending()) == sorted([first_id, second_id, third_id])
    assert sorted(pending(customer_id)) == sorted([first_id, second_id])
    listed = alice.pending_proposals(other_id)["proposals"][0]
    assert listed["fields"] == ["business.scale"]
    assert listed["proposed_by"] == ALICE.id

    bob.verify_change(customer_id, first_id)
    assert sorted(pending()) == sorted([second_id, third_id])
    bob.reject_change(customer_id, second_id, "no evidence")
    assert pending(customer_id) == []
    assert pending() == [third_id]


def test_a_projection_whose_schema_changed_is_dropped_and_rebuilt(
        make_ledger: Any, database_url: str) -> None:
    first = make_ledger(database_url)
    first.bus.execute(RegisterCustomer(profile=make_profile(seed=11)), ALICE)
    first.runner.catch_up()
    with first.views.snapshot() as cursor:
        before = CustomerView().dump(cursor)
    with first.views.transaction() as cursor:
        cursor.execute("UPDATE projection_checkpoints SET schema_version = 0 "
                       "WHERE name = 'customer_view'")

    upgraded = make_ledger(database_url)

    assert upgraded.runner.positions()["customer_view"] == 0
    upgraded.runner.catch_up()
    with upgraded.views.snapshot() as cursor:
        assert CustomerView().dump(cursor) == before


def test_a_checkpoint_reset_under_its_rows_is_an_integrity_finding_until_rebuilt(
        ledger: Ledger) -> None:
    some_history(ledger, customers=1)
    ledger.runner.catch_up()
    with ledger.views.transaction() as cursor:  # as an edit by hand would
        cursor.execute("UPDATE projection_checkpoints SET position = 0 "
                       "WHERE name = 'customer_view'")

    with pytest.raises(IntegrityViolationError, match="read model customer_view") as found:
        ledger.runner.catch_up()

    assert (found.value.exit_code, found.value.details) == (11, {"projection": "customer_view"})
    ledger.runner.rebuild()
    ledger.runner.catch_up()
    assert ledger.runner.positions()["customer_view"] == ledger.store.head_position()
