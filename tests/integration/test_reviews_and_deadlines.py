"""Quarterly reviews due (UP-1) and late key-field changes (UP-2), on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from commands.actor import Actor
from commands.customers import ProposeChange, RecordReview, RegisterCustomer, VerifyChange
from projections.queries import ListLateKeyChanges, ListPendingProposals, ListReviewsDue
from service.bootstrap import Ledger
from tests.conftest import ALICE, BOB, FixedClock
from tests.factories import make_profile


def registered(ledger: Ledger, seed: int) -> UUID:
    outcome = ledger.bus.execute(RegisterCustomer(profile=make_profile(seed=seed)), ALICE)
    return UUID(outcome["aggregate_id"])


def propose(ledger: Ledger, customer_id: UUID, changes: dict[str, Any], happened_on: date,
            by: Actor = ALICE) -> dict[str, Any]:
    return ledger.bus.execute(
        ProposeChange(customer_id=customer_id, changes=changes, happened_on=happened_on), by)


def late_changes(ledger: Ledger) -> list[dict[str, Any]]:
    ledger.runner.catch_up()
    result: list[dict[str, Any]] = ledger.answer(
        ListLateKeyChanges())["late_changes"]
    return result


def test_a_key_change_recorded_within_five_working_days_is_on_time(ledger: Ledger) -> None:
    customer_id = registered(ledger, 1)
    # The clock reads Friday 27 November 2026; the change happened the Friday before.
    propose(ledger, customer_id, {"basic.phone": "+8613911112222"}, date(2026, 11, 20))

    assert late_changes(ledger) == []
    pending = ledger.answer(ListPendingProposals())["proposals"]
    assert pending[0]["record_by"] == "2026-11-27"
    assert pending[0]["late"] is False


def test_a_key_change_recorded_after_its_deadline_is_listed_as_late(ledger: Ledger) -> None:
    customer_id = registered(ledger, 2)
    outcome = propose(ledger, customer_id, {"basic.legal_representative": "王芳"},
                      date(2026, 11, 19))
    proposal_id = outcome["result"]["proposal_id"]
    ledger.bus.execute(VerifyChange(customer_id=customer_id, proposal_id=proposal_id), BOB)

    [late] = late_changes(ledger)

    assert late["proposal_id"] == proposal_id
    assert late["key_fields"] == ["basic.legal_representative"]
    assert (late["happened_on"], late["record_by"]) == ("2026-11-19", "2026-11-26")
    assert late["status"] == "verified"


def test_a_change_to_no_key_field_has_no_deadline(ledger: Ledger) -> None:
    customer_id = registered(ledger, 3)
    propose(ledger, customer_id, {"business.scale": "large"}, date(2025, 1, 2))

    assert late_changes(ledger) == []
    pending = ledger.answer(ListPendingProposals())["proposals"]
    assert (pending[0]["record_by"], pending[0]["late"]) == (None, False)


def test_the_deadline_skips_chinas_national_day(ledger: Ledger, clock: FixedClock) -> None:
    customer_id = registered(ledger, 4)
    clock.now = datetime(2025, 10, 14, 8, 0, tzinfo=UTC)  # the last working day that counts
    propose(ledger, customer_id, {"basic.email": "on.time@example.com"}, date(2025, 9, 30))
    clock.now = datetime(2025, 10, 15, 8, 0, tzinfo=UTC)
    outcome = propose(ledger, customer_id, {"contacts": []}, date(2025, 9, 30))

    assert [c["proposal_id"] for c in late_changes(ledger)] == [outcome["result"]["proposal_id"]]


def test_customers_not_reviewed_this_quarter_are_due(ledger: Ledger, clock: FixedClock
                                                     ) -> None:
    today = clock.now
    clock.now = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)  # registered in 2026-Q3
    reviewed, unreviewed, reviewed_last_quarter = (registered(ledger, seed) for seed in (5, 6, 7))
    clock.now = today  # 2026-Q4
    ledger.bus.execute(RecordReview(customer_id=reviewed), BOB)
    ledger.bus.execute(RecordReview(customer_id=reviewed_last_quarter,
                                    reviewed_on=date(2026, 9, 30)), BOB)
    ledger.runner.catch_up()

    due = ledger.answer(ListReviewsDue())

    assert due["quarter"] == "2026-Q4"
    assert {c["customer_id"] for c in due["customers"]} == {
        str(unreviewed), str(reviewed_last_quarter)}
    # In Q3 only the one reviewed then was reviewed: a review in Q4 does not count for Q3.
    last_quarter = ledger.answer(ListReviewsDue(quarter="2026-Q3"))
    assert {c["customer_id"] for c in last_quarter["customers"]} == {
        str(reviewed), str(unreviewed)}
