"""The command bus: idempotent retries, stale writes, the authorisation hook, raw payloads,
and audit metadata on every event."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.actor import Actor
from commands.bus import MessageBus
from commands.command import Command, Handler
from commands.customers import (
    HANDLERS,
    ProposeChange,
    RecordReview,
    RegisterCustomer,
    RejectChange,
    VerifyChange,
)
from commands.ports import UnitOfWork
from ledger.domain.customer import Customer
from ledger.domain.errors import (
    ConflictError,
    PermissionDeniedError,
    ValidationFailedError,
)
from projections.history import CustomerHistory, customer_history
from service.bootstrap import build_bus
from tests.conftest import ALICE, BOB
from tests.factories import make_profile
from tests.fakes import RecordingAuthoriser, WriteSide
from tests.privacy_support import where_found
from tests.store_snapshot import (
    only_a_denial_recorded,
    snapshot_store,
    store_unchanged,
)

TODAY = date(2026, 11, 27)
NEW_EMAIL = {"basic.email": "new.contact@example.com"}


def a_customer(ledger: WriteSide) -> UUID:
    return UUID(ledger.bus.execute(RegisterCustomer(profile=make_profile()), ALICE)
                ["aggregate_id"])


def propose(customer_id: UUID, **fields: Any) -> ProposeChange:
    fields.setdefault("changes", NEW_EMAIL)
    fields.setdefault("happened_on", TODAY)
    return ProposeChange(customer_id=customer_id, **fields)


def added_topics(ledger: WriteSide, since: Any) -> list[str]:
    return [r.topic.rsplit(":", 1)[1] for r in snapshot_store(ledger.store).added_since(since)]


def labels_removed(outcome: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in outcome.items() if key not in ("replayed", "position")}


# Idempotency ----------------------------------------------------------------------------

def test_a_retried_command_returns_the_first_outcome_and_writes_nothing(ledger: WriteSide
                                                                        ) -> None:
    command = RegisterCustomer(profile=make_profile())
    first = ledger.bus.execute(command, ALICE)
    with store_unchanged(ledger.store):
        again = ledger.bus.execute(command, ALICE)
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert labels_removed(again) == labels_removed(first)
    assert again["position"] == first["position"]


def test_a_retry_returns_the_first_outcome_even_after_the_record_moved_on(ledger: WriteSide
                                                                          ) -> None:
    customer_id = a_customer(ledger)
    proposing = propose(customer_id)
    first = ledger.bus.execute(proposing, ALICE)
    ledger.bus.execute(VerifyChange(customer_id=customer_id,
                                    proposal_id=first["result"]["proposal_id"]), BOB)
    with store_unchanged(ledger.store):
        again = ledger.bus.execute(proposing, ALICE)
    assert again["result"] == first["result"]
    assert again["version"] == 2
    customer: object = ledger.store.repository.get(customer_id)
    assert isinstance(customer, Customer)
    assert customer.pending == {}


def test_a_retried_decision_replays_although_the_proposal_is_no_longer_pending(
        ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    proposal_id = ledger.bus.execute(propose(customer_id), ALICE)["result"]["proposal_id"]
    verifying = VerifyChange(customer_id=customer_id, proposal_id=proposal_id)
    first = ledger.bus.execute(verifying, BOB)
    with store_unchanged(ledger.store):
        again = ledger.bus.execute(verifying, BOB)
    assert labels_removed(again) == labels_removed(first)


@pytest.mark.parametrize("reuse", ["other payload", "other actor", "other command"])
def test_a_command_id_reused_for_something_else_is_a_conflict(ledger: WriteSide, reuse: str
                                                              ) -> None:
    customer_id = a_customer(ledger)
    first = propose(customer_id, command_id="cmd-7")
    ledger.bus.execute(first, ALICE)
    second, actor = {
        "other payload": (propose(customer_id, command_id="cmd-7",
                                  changes={"basic.email": "other@example.com"}), ALICE),
        "other actor": (first, BOB),
        "other command": (RecordReview(customer_id=customer_id, command_id="cmd-7"), ALICE),
    }[reuse]
    with store_unchanged(ledger.store), pytest.raises(ConflictError) as caught:
        ledger.bus.execute(second, actor)
    assert caught.value.details == {"command_id": "cmd-7"}


def test_the_id_of_a_refused_command_is_still_free(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    with pytest.raises(ConflictError):
        ledger.bus.execute(propose(customer_id, command_id="cmd-8", expected_version=5), ALICE)
    outcome = ledger.bus.execute(propose(customer_id, command_id="cmd-8", expected_version=1),
                                 ALICE)
    assert (outcome["status"], outcome["replayed"]) == ("accepted", False)


# Races: both callers decide before either saves ------------------------------------------

def held_at_barrier(handler: Handler, barrier: threading.Barrier) -> Handler:
    def decide_then_wait(command: Any, uow: UnitOfWork) -> dict[str, Any]:
        result = handler(command, uow)
        barrier.wait()
        return result
    return decide_then_wait


def racing_bus(ledger: WriteSide, command_type: type[Command]) -> MessageBus:
    """The real bus, except that two callers of ``command_type`` save only once both decided."""
    barrier = threading.Barrier(2, timeout=60)
    handlers = HANDLERS | {command_type: held_at_barrier(HANDLERS[command_type], barrier)}
    return MessageBus(ledger.store, ledger.policy, handlers, clock=ledger.bus.clock,
                      personal_data=ledger.protector)


def in_parallel(*calls: Callable[[], dict[str, Any]]) -> list[Any]:
    """Each call's outcome, or the error it raised."""
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.exception() or future.result() for future in futures]


def test_concurrent_duplicates_get_one_outcome_and_one_set_of_events(ledger: WriteSide) -> None:
    bus = racing_bus(ledger, RegisterCustomer)
    command = RegisterCustomer(profile=make_profile())
    before = snapshot_store(ledger.store)
    first, second = in_parallel(lambda: bus.execute(command, ALICE),
                                lambda: bus.execute(command, ALICE))
    assert isinstance(first, dict) and isinstance(second, dict), (first, second)
    assert labels_removed(first) == labels_removed(second)
    assert sorted([first["replayed"], second["replayed"]]) == [False, True]
    assert added_topics(ledger, before) == ["Customer.Registered", "CommandRecord.Processed"]


def test_concurrent_writers_to_one_customer_one_wins_one_conflicts(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    bus = racing_bus(ledger, ProposeChange)
    before = snapshot_store(ledger.store)
    results = in_parallel(lambda: bus.execute(propose(customer_id), ALICE),
                          lambda: bus.execute(propose(customer_id), BOB))
    assert sorted(type(result).__name__ for result in results) == ["ConflictError", "dict"]
    assert added_topics(ledger, before) == ["Customer.ChangeProposed",
                                            "CommandRecord.Processed"]


def test_naming_the_current_version_succeeds_and_a_stale_one_conflicts(ledger: WriteSide
                                                                       ) -> None:
    customer_id = a_customer(ledger)
    ledger.bus.execute(propose(customer_id, expected_version=1), ALICE)
    with store_unchanged(ledger.store), pytest.raises(ConflictError) as caught:
        ledger.bus.execute(propose(customer_id, expected_version=1), BOB)
    assert caught.value.details == {"expected_version": 1, "current_version": 2}


# Authorisation --------------------------------------------------------------------------



@pytest.fixture
def authoriser() -> RecordingAuthoriser:
    return RecordingAuthoriser()


@pytest.fixture
def guarded(ledger: WriteSide, authoriser: RecordingAuthoriser) -> WriteSide:
    """The write side whose bus asks ``authoriser`` about everything; it answers the one
    query read from the event store itself (the others read projections: tests/integration)."""
    def history(query: CustomerHistory) -> Any:
        return customer_history(ledger.store, query, ledger.protector)

    ledger.bus = build_bus(ledger.store, ledger.policy, ledger.protector, authoriser,
                           clock=ledger.bus.clock, query_handlers={CustomerHistory: history})
    return ledger


def test_every_command_is_put_to_the_authoriser(guarded: WriteSide,
                                                authoriser: RecordingAuthoriser) -> None:
    customer_id = a_customer(guarded)
    target = str(customer_id)
    verified = guarded.bus.execute(propose(customer_id), ALICE)["result"]["proposal_id"]
    guarded.bus.execute(VerifyChange(customer_id=customer_id, proposal_id=verified), BOB)
    rejected = guarded.bus.execute(propose(customer_id), ALICE)["result"]["proposal_id"]
    guarded.bus.execute(RejectChange(customer_id=customer_id, proposal_id=rejected,
                                     reason="x"), BOB)
    guarded.bus.execute(RecordReview(customer_id=customer_id), BOB)
    chosen = uuid4()
    guarded.bus.execute(RegisterCustomer(profile=make_profile(), customer_id=chosen), BOB)
    assert authoriser.calls == [
        ("alice", "register-customer", None), ("alice", "propose-change", target),
        ("bob", "verify-change", target), ("alice", "propose-change", target),
        ("bob", "reject-change", target), ("bob", "record-review", target),
        ("bob", "register-customer", str(chosen))]


def test_a_denied_command_writes_nothing_but_its_denial(
        guarded: WriteSide, authoriser: RecordingAuthoriser) -> None:
    """An authoriser that does not audit its refusals still leaves one in the trail: the
    bus records every permission denial that passes through it."""
    customer_id = a_customer(guarded)
    authoriser.denied.add("propose-change")
    with only_a_denial_recorded(guarded.store), pytest.raises(PermissionDeniedError):
        guarded.bus.execute(propose(customer_id), ALICE)


def test_a_denied_actor_gets_no_replay_of_an_earlier_outcome(
        guarded: WriteSide, authoriser: RecordingAuthoriser) -> None:
    command = RegisterCustomer(profile=make_profile())
    guarded.bus.execute(command, ALICE)
    authoriser.denied.add("register-customer")
    with only_a_denial_recorded(guarded.store), pytest.raises(PermissionDeniedError):
        guarded.bus.execute(command, ALICE)


def test_a_denied_query_is_not_answered(guarded: WriteSide,
                                        authoriser: RecordingAuthoriser) -> None:
    customer_id = a_customer(guarded)
    authoriser.denied.add("customer-history")
    with pytest.raises(PermissionDeniedError):
        guarded.bus.ask(CustomerHistory(customer_id=customer_id), BOB)


# Raw payloads (HTTP and CLI) -------------------------------------------------------------

def test_a_raw_payload_is_validated_and_executed(ledger: WriteSide) -> None:
    outcome = ledger.bus.execute_named(
        "register-customer", {"profile": make_profile("en_US"), "command_id": "cmd-raw"}, ALICE)
    assert (outcome["command"], outcome["command_id"]) == ("register-customer", "cmd-raw")


def test_an_unknown_command_name_is_refused(ledger: WriteSide) -> None:
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError) as caught:
        ledger.bus.execute_named("delete-everything", {}, ALICE)
    assert caught.value.fields == ["command"]
    # Named by its field only: errors never repeat what the caller typed.
    assert "delete-everything" not in caught.value.message + str(caught.value.as_dict())


@pytest.mark.parametrize(("name", "payload", "named"), [
    ("propose-change", {"customer_id": "not-a-uuid", "changes": {}, "happened_on": "soon",
                        "colour": "red"}, ["command", "customer_id", "happened_on"]),
    ("propose-change", {}, ["changes", "customer_id", "happened_on"]),
    ("verify-change", {"customer_id": str(uuid4()), "proposal_id": "",
                       "expected_version": 0}, ["expected_version", "proposal_id"]),
    ("reject-change", {"customer_id": str(uuid4()), "proposal_id": "p"}, ["reason"]),
    ("record-review", {"customer_id": str(uuid4()), "outcome": "fine"}, ["outcome"]),
    ("register-customer", {"profile": "Zhang San", "command_id": ""},
     ["command_id", "profile"]),
])
def test_a_malformed_payload_is_refused_naming_every_bad_field(
        ledger: WriteSide, name: str, payload: dict[str, Any], named: list[str]) -> None:
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError) as caught:
        ledger.bus.execute_named(name, payload, ALICE)
    assert caught.value.fields == named
    assert "Zhang San" not in str(caught.value.as_dict())


@pytest.mark.parametrize("bad_id", ["", "x" * 101, "alice\nadmin"])
def test_an_actor_needs_a_short_printable_id(bad_id: str) -> None:
    with pytest.raises(ValidationFailedError):
        Actor(bad_id)


# Audit metadata --------------------------------------------------------------------------

def test_every_stored_event_records_actor_command_reason_and_address(ledger: WriteSide) -> None:
    actor = Actor("alice", ALICE.roles, client_address="203.0.113.9")
    before = snapshot_store(ledger.store)
    ledger.bus.execute(RegisterCustomer(profile=make_profile(), command_id="cmd-42",
                                        reason="新客户建档"), actor)
    added = snapshot_store(ledger.store).added_since(before)
    metas = [record.decode(ledger.store).meta for record in added]
    assert len(metas) == 2
    assert all(meta | {"reason": None} == {
        "actor": "alice", "command_id": "cmd-42", "correlation_id": "cmd-42", "reason": None,
        "client_address": "203.0.113.9"} for meta in metas)
    # The reason of a command about a customer is sealed under its key (issue 16, B).
    assert all(ledger.protector.open_reason(meta["reason"]) == "新客户建档" for meta in metas)
    assert where_found("新客户建档", {str(r.position): r.state for r in added}) == []


def test_a_given_correlation_id_is_recorded_instead_of_the_command_id(ledger: WriteSide
                                                                      ) -> None:
    customer_id = a_customer(ledger)
    ledger.bus.execute(propose(customer_id, command_id="cmd-43", correlation_id="ticket-9"),
                       BOB)
    last: Any = list(ledger.store.events.get(customer_id))[-1]
    assert (last.meta["actor"], last.meta["command_id"], last.meta["correlation_id"]) == (
        "bob", "cmd-43", "ticket-9")
