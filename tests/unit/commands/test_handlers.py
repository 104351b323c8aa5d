"""Each command through the real bus, on the library's in-memory event store: given stored
events, when a command, then the stored state, or an error and not one byte written (P2,
UP-3, OP-2)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.actor import Actor
from commands.command import Command
from commands.customers import (
    ProposeChange,
    RecordReview,
    RegisterCustomer,
    RejectChange,
    VerifyChange,
)
from commands.idempotency import command_record_id
from ledger.domain.customer import Customer, ReviewOutcome
from ledger.domain.errors import (
    ConflictError,
    NotFoundError,
    ValidationFailedError,
    WorkflowViolationError,
)
from ledger.domain.free_text import CHANGE_REJECTION_PATH
from ledger.domain.profile import validate_profile
from tests.conftest import ALICE, BOB
from tests.factories import make_profile
from tests.fakes import WriteSide
from tests.store_snapshot import snapshot_store, store_unchanged

TODAY = date(2026, 11, 27)  # the fixed clock's date in the policy's time zone
NEW_EMAIL = {"basic.email": "new.contact@example.com"}


# Given -----------------------------------------------------------------------------------

def run(ledger: WriteSide, command: Command, actor: Actor = ALICE) -> dict[str, Any]:
    return ledger.bus.execute(command, actor)


def a_customer(ledger: WriteSide, locale: str = "zh_CN", **overrides: Any) -> UUID:
    outcome = run(ledger, RegisterCustomer(profile=make_profile(locale, **overrides)))
    return UUID(outcome["aggregate_id"])


def a_proposal(ledger: WriteSide, customer_id: UUID, changes: dict[str, Any] | None = None,
               by: Actor = ALICE) -> str:
    outcome = run(ledger, ProposeChange(customer_id=customer_id, changes=changes or NEW_EMAIL,
                                        happened_on=TODAY), by)
    return str(outcome["result"]["proposal_id"])


def opened(ledger: WriteSide, customer: Customer) -> dict[str, Any]:
    """The stored profile as a reader with the customer's key sees it."""
    return ledger.protector.open_profile(str(customer.id), customer.profile)


def stored(ledger: WriteSide, customer_id: UUID) -> Customer:
    customer: object = ledger.store.repository.get(customer_id)
    assert isinstance(customer, Customer)
    return customer


def refused(ledger: WriteSide, command: Command, error: type[Exception], actor: Actor = ALICE
            ) -> Any:
    """When the command runs, then it fails with ``error`` and the store is unchanged."""
    with store_unchanged(ledger.store), pytest.raises(error) as caught:
        run(ledger, command, actor)
    return caught.value


def test_the_store_snapshot_sees_every_write(ledger: WriteSide) -> None:
    before = snapshot_store(ledger.store)
    customer_id = a_customer(ledger)
    added = snapshot_store(ledger.store).added_since(before)
    assert added[0].originator_id == customer_id
    assert [record.topic.rsplit(":", 1)[1] for record in added] == [
        "Customer.Registered", "CommandRecord.Processed"]


# Register -------------------------------------------------------------------------------

@pytest.mark.parametrize("locale", ["zh_CN", "en_US"])
def test_register_customer_stores_the_normalised_profile(ledger: WriteSide, locale: str) -> None:
    profile = make_profile(locale, seed=3, basic__phone="+86 138 0000 1234")
    outcome = run(ledger, RegisterCustomer(profile=profile))
    customer = stored(ledger, UUID(outcome["aggregate_id"]))
    assert (outcome["status"], outcome["version"], outcome["replayed"]) == ("accepted", 1, False)
    assert outcome["result"] == {"customer_id": str(customer.id)}
    assert opened(ledger, customer) == validate_profile(profile, ledger.policy.mandatory_fields)
    assert opened(ledger, customer)["basic"]["phone"] == "+8613800001234"
    assert "+8613800001234" not in str(customer.profile), "personal values are sealed"


def test_register_customer_under_a_chosen_id(ledger: WriteSide) -> None:
    chosen = uuid4()
    outcome = run(ledger, RegisterCustomer(profile=make_profile(), customer_id=chosen))
    assert outcome["aggregate_id"] == str(chosen)
    assert stored(ledger, chosen).version == 1


def test_register_customer_refuses_an_incomplete_profile_naming_every_field(
        ledger: WriteSide) -> None:
    profile = make_profile(basic__name=" ", basic__phone="13812345678", basic__email=None)
    error = refused(ledger, RegisterCustomer(profile=profile), ValidationFailedError)
    assert error.fields == ["basic.name", "basic.phone"]


def test_register_customer_refuses_an_id_already_taken(ledger: WriteSide) -> None:
    taken = a_customer(ledger)
    command = RegisterCustomer(profile=make_profile("en_US"), customer_id=taken)
    refused(ledger, command, ConflictError)


# Propose --------------------------------------------------------------------------------

def test_propose_change_records_a_pending_proposal(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    outcome = run(ledger, ProposeChange(customer_id=customer_id, expected_version=1,
                                        changes={"basic.phone": "+86 139 0000 1111"},
                                        happened_on=TODAY - timedelta(days=2)))
    customer = stored(ledger, customer_id)
    proposal = customer.pending[outcome["result"]["proposal_id"]]
    assert outcome["version"] == 2
    assert ledger.protector.open_changes(str(customer_id), proposal["changes"]) == {
        "basic.phone": "+8613900001111"}
    assert (proposal["proposed_by"], proposal["happened_on"]) == (ALICE.id, "2026-11-25")
    assert customer.profile["basic"]["phone"] != "+8613900001111"


def test_propose_change_to_an_unknown_customer_is_not_found(ledger: WriteSide) -> None:
    command = ProposeChange(customer_id=uuid4(), changes=NEW_EMAIL, happened_on=TODAY)
    refused(ledger, command, NotFoundError)


def test_a_command_record_is_not_a_customer(ledger: WriteSide) -> None:
    outcome = run(ledger, RegisterCustomer(profile=make_profile()))
    record_id = command_record_id(outcome["command_id"])
    command = ProposeChange(customer_id=record_id, changes=NEW_EMAIL, happened_on=TODAY)
    refused(ledger, command, NotFoundError)


@pytest.mark.parametrize(("changes", "named"), [
    ({"basic.nickname": "小王", "basic.email": "a@example.com"}, ["changes"]),
    ({"basic.name": "   "}, ["basic.name"]),
    ({"basic.phone": None, "basic.email": None}, ["basic.phone | basic.email"]),
    ({"basic.phone": "13900001111"}, ["basic.phone"]),
])
def test_propose_change_refuses_invalid_changes(ledger: WriteSide, changes: dict[str, Any],
                                                named: list[str]) -> None:
    command = ProposeChange(customer_id=a_customer(ledger), changes=changes, happened_on=TODAY)
    assert refused(ledger, command, ValidationFailedError).fields == named


def test_propose_change_on_a_stale_version_is_a_conflict(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    a_proposal(ledger, customer_id)
    command = ProposeChange(customer_id=customer_id, changes=NEW_EMAIL, happened_on=TODAY,
                            expected_version=1)
    error = refused(ledger, command, ConflictError)
    assert error.details == {"expected_version": 1, "current_version": 2}


@pytest.mark.parametrize("happened_on", [TODAY + timedelta(days=1), date(9999, 12, 31),
                                         date(1, 1, 1)],
                         ids=["tomorrow", "the last day of 9999", "the year 1"])
def test_propose_change_that_happened_in_the_future_or_before_1900_is_refused(
        ledger: WriteSide, happened_on: date) -> None:
    customer_id = a_customer(ledger)
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError) as error:
        ledger.bus.execute_named("propose-change", {
            "customer_id": str(customer_id), "changes": NEW_EMAIL,
            "happened_on": happened_on.isoformat()}, ALICE)
    assert [p.field for p in error.value.problems] == ["happened_on"]


# Verify ---------------------------------------------------------------------------------

def test_verify_change_applies_the_whole_proposal(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    changes = {"basic.email": "a@example.com", "business.scale": "large", "credit.rating": "A"}
    proposal_id = a_proposal(ledger, customer_id, changes, by=ALICE)
    outcome = run(ledger, VerifyChange(customer_id=customer_id, proposal_id=proposal_id,
                                       expected_version=2), BOB)
    customer = stored(ledger, customer_id)
    # ``credit`` is personal and sealed whole, so a change inside it applies to all of it.
    assert outcome["result"]["applied_fields"] == ["basic.email", "business.scale", "credit"]
    assert opened(ledger, customer)["basic"]["email"] == "a@example.com"
    assert opened(ledger, customer)["business"]["scale"] == "large"
    assert opened(ledger, customer)["credit"]["rating"] == "A"
    assert customer.pending == {}
    last = list(ledger.store.events.get(customer_id))[-1]
    assert isinstance(last, Customer.ChangeVerified)
    assert last.verified_by == BOB.id


def test_verify_change_by_its_proposer_is_a_workflow_violation(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    proposal_id = a_proposal(ledger, customer_id, by=ALICE)
    command = VerifyChange(customer_id=customer_id, proposal_id=proposal_id)
    refused(ledger, command, WorkflowViolationError, ALICE)


def test_verify_change_of_an_unknown_proposal_is_not_found(ledger: WriteSide) -> None:
    command = VerifyChange(customer_id=a_customer(ledger), proposal_id=str(uuid4()))
    refused(ledger, command, NotFoundError, BOB)


def test_verify_change_of_an_unknown_customer_is_not_found(ledger: WriteSide) -> None:
    refused(ledger, VerifyChange(customer_id=uuid4(), proposal_id="p"), NotFoundError, BOB)


@pytest.mark.parametrize("decision", ["verify", "reject"])
def test_verify_change_of_a_decided_proposal_is_not_found(ledger: WriteSide, decision: str
                                                          ) -> None:
    customer_id = a_customer(ledger)
    proposal_id = a_proposal(ledger, customer_id)
    first: Command = (VerifyChange(customer_id=customer_id, proposal_id=proposal_id)
                      if decision == "verify" else
                      RejectChange(customer_id=customer_id, proposal_id=proposal_id, reason="no"))
    run(ledger, first, BOB)
    refused(ledger, VerifyChange(customer_id=customer_id, proposal_id=proposal_id),
            NotFoundError, BOB)


def test_verify_change_on_a_stale_version_is_a_conflict(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    proposal_id = a_proposal(ledger, customer_id)
    a_proposal(ledger, customer_id, {"basic.fax": "+861062345678"})
    command = VerifyChange(customer_id=customer_id, proposal_id=proposal_id, expected_version=2)
    refused(ledger, command, ConflictError, BOB)


def test_verify_change_of_a_field_changed_since_the_proposal_is_a_conflict(
        ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    older = a_proposal(ledger, customer_id, {"basic.email": "old@example.com"})
    newer = a_proposal(ledger, customer_id, {"basic.email": "new@example.com"})
    run(ledger, VerifyChange(customer_id=customer_id, proposal_id=newer), BOB)
    error = refused(ledger, VerifyChange(customer_id=customer_id, proposal_id=older),
                    ConflictError, BOB)
    assert error.details["fields"] == ["basic.email"]


def test_verify_change_that_would_now_leave_a_mandatory_field_empty_is_refused(
        ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    drop_phone = a_proposal(ledger, customer_id, {"basic.phone": None})
    drop_email = a_proposal(ledger, customer_id, {"basic.email": None})
    run(ledger, VerifyChange(customer_id=customer_id, proposal_id=drop_phone), BOB)
    error = refused(ledger, VerifyChange(customer_id=customer_id, proposal_id=drop_email),
                    ValidationFailedError, BOB)
    assert error.fields == ["basic.phone | basic.email"]


# Reject ---------------------------------------------------------------------------------

def test_reject_change_records_the_reason_and_keeps_the_profile(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    before = stored(ledger, customer_id).profile
    proposal_id = a_proposal(ledger, customer_id)
    run(ledger, RejectChange(customer_id=customer_id, proposal_id=proposal_id,
                             reason="客户未书面确认", expected_version=2), BOB)
    customer = stored(ledger, customer_id)
    last = list(ledger.store.events.get(customer_id))[-1]
    assert isinstance(last, Customer.ChangeRejected)
    # The reason is free text about the customer: sealed under its key (issue 16, B).
    assert (ledger.protector.open_text(str(customer_id), CHANGE_REJECTION_PATH, last.reason),
            last.rejected_by) == ("客户未书面确认", BOB.id)
    assert customer.profile == before
    assert customer.pending == {}


def test_reject_change_of_an_unknown_proposal_is_not_found(ledger: WriteSide) -> None:
    command = RejectChange(customer_id=a_customer(ledger), proposal_id="nope", reason="x")
    refused(ledger, command, NotFoundError, BOB)


def test_reject_change_of_an_unknown_customer_is_not_found(ledger: WriteSide) -> None:
    refused(ledger, RejectChange(customer_id=uuid4(), proposal_id="p", reason="x"),
            NotFoundError, BOB)


def test_reject_change_of_a_verified_proposal_is_not_found(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    proposal_id = a_proposal(ledger, customer_id)
    run(ledger, VerifyChange(customer_id=customer_id, proposal_id=proposal_id), BOB)
    command = RejectChange(customer_id=customer_id, proposal_id=proposal_id, reason="late")
    refused(ledger, command, NotFoundError, BOB)


def test_reject_change_on_a_stale_version_is_a_conflict(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    proposal_id = a_proposal(ledger, customer_id)
    command = RejectChange(customer_id=customer_id, proposal_id=proposal_id, reason="x",
                           expected_version=1)
    refused(ledger, command, ConflictError, BOB)


# Review ---------------------------------------------------------------------------------

def test_record_review_defaults_to_today_and_its_quarter(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    outcome = run(ledger, RecordReview(customer_id=customer_id, expected_version=1), BOB)
    assert outcome["result"]["quarter"] == "2026-Q4"
    assert stored(ledger, customer_id).last_review == {
        "quarter": "2026-Q4", "reviewed_on": "2026-11-27", "outcome": "confirmed",
        "reviewed_by": BOB.id}


def test_record_review_for_a_past_day_records_that_quarter(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    run(ledger, RecordReview(customer_id=customer_id, reviewed_on=date(2026, 9, 30),
                             outcome=ReviewOutcome.NEEDS_UPDATE), BOB)
    review = stored(ledger, customer_id).last_review
    assert review is not None
    assert (review["quarter"], review["outcome"]) == ("2026-Q3", "needs_update")


def test_record_review_for_tomorrow_is_refused(ledger: WriteSide) -> None:
    command = RecordReview(customer_id=a_customer(ledger), reviewed_on=TODAY + timedelta(days=1))
    assert refused(ledger, command, ValidationFailedError, BOB).fields == ["reviewed_on"]


def test_record_review_of_an_unknown_customer_is_not_found(ledger: WriteSide) -> None:
    refused(ledger, RecordReview(customer_id=uuid4()), NotFoundError, BOB)


def test_record_review_on_a_stale_version_is_a_conflict(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    run(ledger, RecordReview(customer_id=customer_id), BOB)
    refused(ledger, RecordReview(customer_id=customer_id, expected_version=1), ConflictError,
            BOB)


def test_reject_change_with_a_reason_of_only_spaces_is_refused(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    proposal_id = a_proposal(ledger, customer_id)

    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError) as refused:
        ledger.bus.execute_named("reject-change", {"customer_id": str(customer_id),
                                                   "proposal_id": proposal_id,
                                                   "reason": "   "}, BOB)
    assert refused.value.fields == ["reason"]
