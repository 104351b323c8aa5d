"""Legal holds through the real bus (DL-5), on the in-memory write side: given a customer
under a hold, a deletion request can be filed, reviewed and approved, but its execution is
refused with ``workflow_violation`` naming the hold, and only that refusal's audit record
is written; a second person lifts the hold, and the execution goes ahead."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.actor import Actor
from commands.deletion import ApproveDeletion, ExecuteDeletion, ReviewDeletion
from commands.legal_holds import LiftLegalHold, PlaceLegalHold
from ledger.domain.customer import Customer
from ledger.domain.errors import (
    LegalHoldInForceError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
    WorkflowViolationError,
)
from tests.conftest import FixedClock
from tests.factories import make_profile
from tests.fakes import WriteSide
from tests.privacy_support import (
    CLERK,
    INFO_HEAD,
    SALES_HEAD,
    SYSADMIN,
    erase,
    register,
    request_deletion,
    run,
    where_found,
)
from tests.store_snapshot import (
    only_a_denial_recorded,
    only_a_hold_refusal_recorded,
    snapshot_store,
    store_unchanged,
)

SECOND_INFO_HEAD = Actor("he.ping", frozenset({"info_mgmt_head"}))
HOLD_REASON = "证据保全 上海市浦东新区人民法院民事诉讼 合同纠纷"
TODAY = date(2026, 11, 27)  # the shared FixedClock's business day in Asia/Shanghai


def place(ledger: WriteSide, customer_id: str, *, until: date | None = None,
          by: Actor = INFO_HEAD) -> str:
    outcome = run(ledger, PlaceLegalHold(customer_id=UUID(customer_id), reason=HOLD_REASON,
                                         reference="(2026)沪0115民初4711号", until=until), by)
    return str(outcome["result"]["hold_id"])


def approved_request(ledger: WriteSide, customer_id: str) -> str:
    """Given a deletion request filed, reviewed and approved."""
    request_id = request_deletion(ledger, customer_id)
    run(ledger, ReviewDeletion(request_id=UUID(request_id)), SALES_HEAD)
    run(ledger, ApproveDeletion(request_id=UUID(request_id)), INFO_HEAD)
    return request_id


def customer(ledger: WriteSide, customer_id: str) -> Customer:
    found = ledger.store.repository.get(UUID(customer_id))
    assert isinstance(found, Customer)
    return found


@pytest.fixture
def customer_id(ledger: WriteSide) -> str:
    return register(ledger, make_profile("zh_CN", seed=16))


def test_a_held_customers_deletion_is_filed_and_approved_but_its_execution_is_refused(
        ledger: WriteSide, customer_id: str) -> None:
    hold_id = place(ledger, customer_id)
    request_id = approved_request(ledger, customer_id)

    with only_a_hold_refusal_recorded(ledger.store) as before, pytest.raises(
            LegalHoldInForceError) as refused:
        run(ledger, ExecuteDeletion(request_id=UUID(request_id)), SYSADMIN)

    assert refused.value.code == "workflow_violation"
    assert refused.value.details == {"hold_id": hold_id, "until": None,
                                     "customer_id": customer_id}
    assert HOLD_REASON not in refused.value.message
    record = snapshot_store(ledger.store).added_since(before)[0].decode(ledger.store)
    assert (record.operation, record.target, record.customer_id, record.hold_id) == (
        "execute-deletion", request_id, customer_id, hold_id)
    assert record.meta["actor"] == SYSADMIN.id
    assert not customer(ledger, customer_id).erased
    assert ledger.keys.data_key(customer_id) is not None


def test_once_a_second_person_lifts_the_hold_the_deletion_is_executed(
        ledger: WriteSide, customer_id: str) -> None:
    hold_id = place(ledger, customer_id)
    request_id = approved_request(ledger, customer_id)

    run(ledger, LiftLegalHold(customer_id=UUID(customer_id), hold_id=UUID(hold_id)),
        SECOND_INFO_HEAD)
    run(ledger, ExecuteDeletion(request_id=UUID(request_id)), SYSADMIN)

    assert customer(ledger, customer_id).erased
    assert ledger.keys.data_key(customer_id) is None


def test_a_hold_whose_last_day_has_passed_no_longer_blocks_the_execution(
        ledger: WriteSide, customer_id: str, clock: FixedClock) -> None:
    place(ledger, customer_id, until=TODAY)
    request_id = approved_request(ledger, customer_id)
    with pytest.raises(LegalHoldInForceError):  # its last day is today: still in force
        run(ledger, ExecuteDeletion(request_id=UUID(request_id)), SYSADMIN)

    clock.now += timedelta(days=1)
    run(ledger, ExecuteDeletion(request_id=UUID(request_id)), SYSADMIN)

    assert customer(ledger, customer_id).erased


def test_the_person_who_placed_a_hold_cannot_lift_it(
        ledger: WriteSide, customer_id: str) -> None:
    hold_id = place(ledger, customer_id)

    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError) as refused:
        run(ledger, LiftLegalHold(customer_id=UUID(customer_id), hold_id=UUID(hold_id)),
            INFO_HEAD)

    assert refused.value.details == {"hold_id": hold_id}
    assert customer(ledger, customer_id).holds_in_force(TODAY)


@pytest.mark.parametrize(("command", "error"), [
    (lambda cid: LiftLegalHold(customer_id=UUID(cid), hold_id=uuid4()), NotFoundError),
    (lambda cid: LiftLegalHold(customer_id=uuid4(), hold_id=uuid4()), NotFoundError),
    (lambda cid: PlaceLegalHold(customer_id=UUID(cid), reason="litigation", reference="A-1",
                                until=TODAY - timedelta(days=1)), ValidationFailedError),
    (lambda cid: PlaceLegalHold(customer_id=uuid4(), reason="litigation", reference="A-1"),
     NotFoundError),
])
def test_a_hold_command_on_nothing_to_hold_or_lift_is_refused_and_writes_nothing(
        ledger: WriteSide, customer_id: str, command: Any, error: type[Exception]) -> None:
    with store_unchanged(ledger.store), pytest.raises(error):
        run(ledger, command(customer_id), SECOND_INFO_HEAD)


@pytest.mark.parametrize(("payload", "field"), [
    ({"reason": "", "reference": "A-1"}, "reason"),
    ({"reference": "A-1"}, "reason"),
    ({"reason": "litigation", "reference": ""}, "reference"),
    ({"reason": "litigation", "reference": "A-1", "until": "someday"}, "until"),
])
def test_a_hold_without_a_reason_a_reference_or_a_valid_day_is_refused_naming_the_field(
        ledger: WriteSide, customer_id: str, payload: dict[str, Any], field: str) -> None:
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError) as refused:
        ledger.bus.execute_named("place-legal-hold", {"customer_id": customer_id, **payload},
                                 INFO_HEAD)

    assert refused.value.fields == [field]


def test_an_erased_customer_cannot_be_put_under_hold(ledger: WriteSide, customer_id: str
                                                     ) -> None:
    erase(ledger, customer_id)

    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError):
        place(ledger, customer_id)


@pytest.mark.parametrize("actor", [CLERK, SALES_HEAD, SYSADMIN])
def test_only_a_role_the_policy_allows_places_a_hold(
        ledger: WriteSide, customer_id: str, actor: Actor) -> None:
    with only_a_denial_recorded(ledger.store), pytest.raises(PermissionDeniedError):
        place(ledger, customer_id, by=actor)


def test_the_holds_reason_is_sealed_in_its_event_and_kept_out_of_the_metadata(
        ledger: WriteSide, customer_id: str) -> None:
    before = snapshot_store(ledger.store)
    place(ledger, customer_id)

    added = snapshot_store(ledger.store).added_since(before)
    stored = {str(index): record.state for index, record in enumerate(added)}
    assert where_found(HOLD_REASON, stored) == []
    assert where_found("(2026)沪0115民初4711号", stored)  # the reference is not personal
    event = next(r.decode(ledger.store) for r in added if r.topic.endswith("LegalHoldPlaced"))
    assert event.meta["reason"] is None
    assert ledger.protector.open_text(customer_id, "legal_hold.reason", event.reason) == (
        HOLD_REASON)
