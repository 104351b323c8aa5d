"""The customer aggregate on its own, no store: given its events, when it decides, then
new events or an error (UP-1, UP-3, UP-4, OP-2)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.domain import Snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.customer import Customer, ReviewOutcome, quarter_of
from ledger.domain.errors import (
    ConflictError,
    NotFoundError,
    ValidationFailedError,
    WorkflowViolationError,
)
from ledger.domain.metadata import EventMetadata, recording_as
from ledger.domain.profile import validate_profile
from ledger.policy import load_policy
from tests.factories import make_profile

MANDATORY = load_policy().mandatory_fields
TODAY = date(2026, 11, 27)
ALICE, BOB, CAROL = "alice", "bob", "carol"


def valid_profile(locale: str = "zh_CN", **overrides: Any) -> dict[str, Any]:
    return validate_profile(make_profile(locale, seed=11, **overrides), MANDATORY)


def registered(locale: str = "zh_CN") -> Customer:
    """Given a registered customer whose registration has already been saved."""
    customer = Customer.register(valid_profile(locale))
    customer.collect_events()
    return customer


def propose(customer: Customer, changes: dict[str, Any], by: str = ALICE,
            happened_on: date = TODAY) -> str:
    return customer.propose_change(changes, happened_on=happened_on, proposed_by=by,
                                   today=TODAY)


def new_events(customer: Customer) -> list[Any]:
    return list(customer.collect_events())


def replay(events: list[Any]) -> Customer:
    customer: Any = None
    for event in events:
        customer = event.mutate(customer)
    assert isinstance(customer, Customer)
    return customer


def state_of(customer: Customer) -> dict[str, Any]:
    return {key: value for key, value in vars(customer).items() if key != "_pending_events"}


# Register -------------------------------------------------------------------------------

@pytest.mark.parametrize("locale", ["zh_CN", "en_US"])
def test_registering_records_the_validated_profile(locale: str) -> None:
    profile = valid_profile(locale)
    customer = Customer.register(profile)
    [event] = new_events(customer)
    assert isinstance(event, Customer.Registered)
    assert event.profile == profile
    assert customer.profile == profile
    assert customer.version == 1
    assert customer.pending == {}


def test_registering_under_a_chosen_id_keeps_that_id() -> None:
    chosen = uuid4()
    assert Customer.register(valid_profile(), customer_id=chosen).id == chosen


# Propose --------------------------------------------------------------------------------

def test_a_proposal_waits_and_changes_nothing_yet() -> None:
    customer = registered()
    before = dict(customer.profile)
    proposal_id = propose(customer, {"basic.email": "new@example.com"},
                          happened_on=TODAY - timedelta(days=3))
    [event] = new_events(customer)
    assert isinstance(event, Customer.ChangeProposed)
    assert (event.proposal_id, event.proposed_by, event.base_version) == (proposal_id, ALICE, 1)
    assert event.happened_on == "2026-11-24"
    assert customer.pending[proposal_id]["changes"] == {"basic.email": "new@example.com"}
    assert customer.profile == before


def test_a_change_cannot_have_happened_in_the_future() -> None:
    customer = registered()
    with pytest.raises(ValidationFailedError) as refused:
        propose(customer, {"basic.email": "new@example.com"},
                happened_on=TODAY + timedelta(days=1))
    assert refused.value.fields == ["happened_on"]  # a bad value, not a workflow step
    assert new_events(customer) == []
    assert customer.pending == {}


def test_a_change_that_happened_today_is_accepted() -> None:
    customer = registered()
    propose(customer, {"basic.email": "new@example.com"}, happened_on=TODAY)
    assert len(new_events(customer)) == 1


# Verify ---------------------------------------------------------------------------------

def test_verifying_applies_every_change_of_a_proposal_at_once() -> None:
    customer = registered()
    changes = {"basic.phone": "+8613900001111", "basic.email": "sales@example.com",
               "business.business_type": "批发", "credit.rating": "BBB"}
    proposal_id = propose(customer, changes)
    new_events(customer)
    customer.verify_change(proposal_id, verified_by=BOB)
    [event] = new_events(customer)
    assert isinstance(event, Customer.ChangeVerified)
    assert (event.applied, event.verified_by) == (changes, BOB)
    assert customer.profile["basic"]["phone"] == "+8613900001111"
    assert customer.profile["basic"]["email"] == "sales@example.com"
    assert customer.profile["business"]["business_type"] == "批发"
    assert customer.profile["credit"]["rating"] == "BBB"
    assert customer.pending == {}


def test_verifying_keeps_the_fields_the_proposal_did_not_touch() -> None:
    customer = registered()
    before = customer.profile
    customer.verify_change(propose(customer, {"basic.fax": "+861062345678"}), verified_by=BOB)
    assert customer.profile["basic"] == before["basic"] | {"fax": "+861062345678"}
    assert customer.profile["contacts"] == before["contacts"]


def test_the_proposer_cannot_verify_their_own_proposal() -> None:
    customer = registered()
    proposal_id = propose(customer, {"basic.email": "new@example.com"}, by=ALICE)
    new_events(customer)
    with pytest.raises(WorkflowViolationError):
        customer.verify_change(proposal_id, verified_by=ALICE)
    assert new_events(customer) == []
    assert proposal_id in customer.pending


def test_verifying_an_unknown_proposal_is_not_found() -> None:
    customer = registered()
    with pytest.raises(NotFoundError):
        customer.verify_change("no-such-proposal", verified_by=BOB)
    assert new_events(customer) == []


@pytest.mark.parametrize("first", ["verify", "reject"])
@pytest.mark.parametrize("second", ["verify", "reject"])
def test_a_proposal_already_decided_cannot_be_decided_again(first: str, second: str) -> None:
    customer = registered()
    proposal_id = propose(customer, {"basic.email": "new@example.com"})

    def decide(how: str) -> None:
        if how == "verify":
            customer.verify_change(proposal_id, verified_by=BOB)
        else:
            customer.reject_change(proposal_id, rejected_by=BOB, reason="duplicate")

    decide(first)
    new_events(customer)
    with pytest.raises(NotFoundError):
        decide(second)
    assert new_events(customer) == []


# Reject ---------------------------------------------------------------------------------

def test_rejecting_records_who_and_why_and_changes_nothing() -> None:
    customer = registered()
    before = customer.profile
    proposal_id = propose(customer, {"basic.email": "new@example.com"})
    new_events(customer)
    customer.reject_change(proposal_id, rejected_by=BOB, reason="客户未确认")
    [event] = new_events(customer)
    assert isinstance(event, Customer.ChangeRejected)
    assert (event.proposal_id, event.rejected_by, event.reason) == (proposal_id, BOB,
                                                                      "客户未确认")
    assert customer.profile == before
    assert customer.pending == {}


def test_rejecting_an_unknown_proposal_is_not_found() -> None:
    customer = registered()
    with pytest.raises(NotFoundError):
        customer.reject_change("no-such-proposal", rejected_by=BOB, reason="x")
    assert new_events(customer) == []


# Conflicts (OP-2) -----------------------------------------------------------------------

def test_a_proposal_on_a_field_changed_since_it_was_made_conflicts() -> None:
    customer = registered()
    older = propose(customer, {"basic.email": "a@example.com", "basic.fax": "+861062345678"})
    newer = propose(customer, {"basic.email": "b@example.com"}, by=CAROL)
    customer.verify_change(newer, verified_by=BOB)
    new_events(customer)
    with pytest.raises(ConflictError) as caught:
        customer.verify_change(older, verified_by=BOB)
    assert caught.value.details["fields"] == ["basic.email"]
    assert "basic.email" in caught.value.message
    assert "basic.fax" not in caught.value.message
    assert new_events(customer) == []
    assert older in customer.pending


def test_a_proposal_on_part_of_a_value_replaced_since_conflicts() -> None:
    customer = registered()
    older = propose(customer, {"credit.rating": "A"})
    customer.verify_change(propose(customer, {"credit": None}, by=CAROL), verified_by=BOB)
    with pytest.raises(ConflictError) as caught:
        customer.verify_change(older, verified_by=BOB)
    assert caught.value.details["fields"] == ["credit.rating"]


def test_proposals_on_different_fields_both_verify() -> None:
    customer = registered()
    phone = propose(customer, {"basic.phone": "+8613900001111"})
    email = propose(customer, {"basic.email": "b@example.com"}, by=CAROL)
    customer.verify_change(email, verified_by=BOB)
    customer.verify_change(phone, verified_by=BOB)
    assert customer.profile["basic"]["phone"] == "+8613900001111"
    assert customer.profile["basic"]["email"] == "b@example.com"


def test_a_proposal_made_after_the_field_changed_does_not_conflict() -> None:
    customer = registered()
    customer.verify_change(propose(customer, {"basic.email": "a@example.com"}), verified_by=BOB)
    later = propose(customer, {"basic.email": "b@example.com"})
    customer.verify_change(later, verified_by=BOB)
    assert customer.profile["basic"]["email"] == "b@example.com"


# Review (UP-1) --------------------------------------------------------------------------

def test_a_review_records_its_quarter_outcome_and_reviewer() -> None:
    customer = registered()
    customer.record_review(reviewed_on=TODAY, outcome=ReviewOutcome.NEEDS_UPDATE,
                           reviewed_by=BOB, today=TODAY)
    [event] = new_events(customer)
    assert isinstance(event, Customer.Reviewed)
    assert customer.last_review == {"quarter": "2026-Q4", "reviewed_on": "2026-11-27",
                                    "outcome": "needs_update", "reviewed_by": BOB}


def test_a_review_cannot_be_recorded_for_a_future_date() -> None:
    customer = registered()
    with pytest.raises(ValidationFailedError) as refused:
        customer.record_review(reviewed_on=TODAY + timedelta(days=1),
                               outcome=ReviewOutcome.CONFIRMED, reviewed_by=BOB, today=TODAY)
    assert refused.value.fields == ["reviewed_on"]
    assert new_events(customer) == []
    assert customer.last_review is None


@pytest.mark.parametrize(("day", "quarter"), [
    (date(2026, 1, 1), "2026-Q1"), (date(2026, 3, 31), "2026-Q1"),
    (date(2026, 4, 1), "2026-Q2"), (date(2026, 9, 30), "2026-Q3"),
    (date(2026, 10, 1), "2026-Q4"), (date(2026, 12, 31), "2026-Q4"),
])
def test_quarters_follow_the_calendar(day: date, quarter: str) -> None:
    assert quarter_of(day) == quarter


# Metadata and replay ---------------------------------------------------------------------

def test_every_event_carries_the_metadata_being_recorded() -> None:
    metadata = EventMetadata(actor=ALICE, command_id="cmd-1", correlation_id="corr-1",
                             reason="客户来电更新", client_address="10.0.0.7")
    with recording_as(metadata):
        customer = Customer.register(valid_profile())
        proposal_id = propose(customer, {"basic.email": "new@example.com"})
        customer.reject_change(proposal_id, rejected_by=BOB, reason="typo")
        customer.record_review(reviewed_on=TODAY, outcome=ReviewOutcome.CONFIRMED,
                               reviewed_by=BOB, today=TODAY)
    events = new_events(customer)
    assert len(events) == 4
    assert all(event.meta == metadata.as_dict() for event in events)


def test_an_event_outside_any_recording_is_attributed_to_the_system() -> None:
    [event] = new_events(Customer.register(valid_profile()))
    assert event.meta["actor"] == "system"


def test_replaying_the_events_rebuilds_the_same_customer() -> None:
    customer = Customer.register(valid_profile())
    history = new_events(customer)
    kept = propose(customer, {"basic.email": "a@example.com"})
    customer.verify_change(propose(customer, {"contacts": []}, by=CAROL), verified_by=BOB)
    customer.reject_change(propose(customer, {"basic.fax": None}), rejected_by=BOB, reason="x")
    customer.record_review(reviewed_on=TODAY, outcome=ReviewOutcome.CONFIRMED,
                           reviewed_by=BOB, today=TODAY)
    history += new_events(customer)
    rebuilt = replay(history)
    assert state_of(rebuilt) == state_of(customer)
    assert rebuilt.as_dict()["pending_proposals"] == [kept]


STEPS = st.lists(st.sampled_from(["propose", "verify", "reject", "review"]), max_size=12)


@settings(max_examples=40, deadline=None)
@given(steps=STEPS)
def test_replay_reproduces_state_after_any_sequence_of_decisions(steps: list[str]) -> None:
    customer = Customer.register(valid_profile())
    for number, step in enumerate(steps):
        waiting = sorted(customer.pending)
        if step == "propose":
            propose(customer, {"basic.email": f"v{number}@example.com"}, by=CAROL)
        elif step == "verify" and waiting:
            try:
                customer.verify_change(waiting[0], verified_by=BOB)
            except ConflictError:
                customer.reject_change(waiting[0], rejected_by=BOB, reason="stale")
        elif step == "reject" and waiting:
            customer.reject_change(waiting[0], rejected_by=BOB, reason="no")
        elif step == "review":
            customer.record_review(reviewed_on=TODAY, outcome=ReviewOutcome.CONFIRMED,
                                   reviewed_by=BOB, today=TODAY)
    assert state_of(replay(new_events(customer))) == state_of(customer)


def test_event_metadata_carries_every_audit_fact_it_holds() -> None:
    metadata = EventMetadata(actor="wang.fang", command_id="c-1", correlation_id="r-1",
                             reason="customer called", client_address="10.0.0.7")
    assert metadata.as_dict() == dataclasses.asdict(metadata)


# Legal holds (DL-5) ---------------------------------------------------------------------

def test_a_snapshot_taken_before_legal_holds_existed_restores_with_none() -> None:
    customer = registered()
    taken = Snapshot.take(customer)
    # As a release before legal holds stored it: no holds, no class version.
    old_state = {k: v for k, v in taken.state.items() if k not in ("holds", "class_version")}
    old = dataclasses.replace(taken, state=old_state)

    restored: Any = old.mutate(None)

    assert restored.holds == {}
    restored.check_no_hold_in_force(TODAY)  # nothing holds it


def test_a_hold_is_in_force_until_its_last_day_and_lifted_only_by_another_person() -> None:
    customer = registered()
    with recording_as(EventMetadata(actor=ALICE)):
        hold_id = customer.place_legal_hold(reference="A-1", sealed_reason={"x": 1},
                                            until=TODAY, placed_by=ALICE, today=TODAY)

    assert [h["hold_id"] for h in customer.holds_in_force(TODAY)] == [hold_id]
    assert customer.holds_in_force(TODAY + timedelta(days=1)) == []
    with pytest.raises(WorkflowViolationError):
        customer.lift_legal_hold(hold_id, lifted_by=ALICE)
    customer.lift_legal_hold(hold_id, lifted_by=BOB)
    assert customer.holds == {}
