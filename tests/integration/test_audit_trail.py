"""Audited reads and the auditor's replay tool (AU-1, AU-5), on SQLite and PostgreSQL: one
access record per read naming the revealed fields, history by clearance, the state as of
any moment, and the trail filtered by actor, operation, customer and time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.bus import Actor
from commands.models import RecordReview
from ledger.credentials import AuthenticationError
from ledger.crypto import ERASED
from ledger.domain.access import AccessRecord
from ledger.domain.errors import NotFoundError, PermissionDeniedError
from ledger.store import NOTIFICATION_BATCH
from projections.audit import AuditTrailQuery, CustomerAsOf, customer_as_of
from projections.history import CustomerHistory
from projections.projection import topic_of
from projections.queries import GetCustomer
from service.bootstrap import Ledger
from tests.accounts import PASSWORD, open_account
from tests.conftest import FixedClock
from tests.integration.raw_tables import RawTables
from tests.privacy_support import AUDITOR, CHECKER, CLERK, ask, change, distinctive_profile, erase
from tests.privacy_support import register as register_customer

SALES = Actor("chen.jie", frozenset({"sales"}), client_address="10.1.2.3")
TECHNICAL = Actor("zhou.ming", frozenset({"technical"}), client_address="10.1.2.4")
NEW_PHONE = "+86 137 1111 2222"


def reads(ledger: Ledger) -> list[Any]:
    """Every ``CustomerDataRead`` access record in the store, in log order."""
    found: list[Any] = []
    position = 0
    topics = [topic_of(AccessRecord.CustomerDataRead)]
    while page := ledger.store.app_recorder.select_notifications(
            start=position, limit=NOTIFICATION_BATCH, topics=topics, inclusive_of_start=False):
        found += [ledger.store.mapper.to_domain_event(n) for n in page]
        position = page[-1].id
    return found


def test_a_read_that_reveals_a_phone_number_is_recorded_once_naming_that_field(
        ledger: Ledger) -> None:
    customer_id = register_customer(ledger, distinctive_profile("zh_CN"))
    before = len(reads(ledger))

    answer = ask(ledger, GetCustomer(customer_id=UUID(customer_id)), SALES)

    assert answer["customer"]["profile"]["basic"]["phone"].startswith("+86138")
    recorded = reads(ledger)[before:]
    assert len(recorded) == 1
    record = recorded[0]
    assert (record.operation, record.customer_ids, record.outcome) == (
        "get-customer", [customer_id], "ok")
    assert "basic.phone" in record.revealed_fields
    assert (record.meta["actor"], record.meta["client_address"]) == ("chen.jie", "10.1.2.3")
    assert "+86138" not in repr(record.__dict__)  # the value itself is never recorded


def test_a_masked_read_names_no_revealed_field(ledger: Ledger, clock: FixedClock) -> None:
    customer_id = register_customer(ledger, distinctive_profile("zh_CN"))
    before = len(reads(ledger))

    technical = ask(ledger, GetCustomer(customer_id=UUID(customer_id)), TECHNICAL)
    as_of = ask(ledger, CustomerAsOf(customer_id=UUID(customer_id), at=clock.now), AUDITOR)

    assert "basic.phone" in technical["customer"]["masked_fields"]
    assert "+86138" not in repr(as_of)
    technical_read, auditor_read = reads(ledger)[before:]
    assert "basic.phone" not in technical_read.revealed_fields
    assert set(technical_read.revealed_fields) <= set(
        ledger.policy.access.sensitive_fields["trade_secret"])
    assert (auditor_read.operation, auditor_read.revealed_fields) == ("customer-as-of", [])


def test_a_failed_read_is_recorded_with_its_outcome_and_a_denial_once(ledger: Ledger) -> None:
    unknown = uuid4()
    with pytest.raises(NotFoundError):
        ask(ledger, GetCustomer(customer_id=unknown), SALES)
    with pytest.raises(PermissionDeniedError):
        ask(ledger, CustomerHistory(customer_id=unknown), SALES)

    [record] = reads(ledger)
    assert (record.customer_ids, record.outcome) == ([str(unknown)], "not_found")
    ledger.runner.catch_up()
    denial = ledger.bus.ask(AuditTrailQuery(customer=str(unknown)), AUDITOR)["entries"]
    assert [(e["kind"], e["operation"], e["outcome"]) for e in denial] == [
        ("read", "get-customer", "not_found"),
        ("denial", "customer-history", "permission_denied")]


def test_logins_succeeded_and_failed_are_in_the_trail(ledger: Ledger) -> None:
    open_account(ledger, "li.na", "sales")
    identity = ledger.access.identity
    with pytest.raises(AuthenticationError):
        identity.login("li.na", "Wrong-Pass#0000", client_address="127.0.0.9")
    identity.login("li.na", PASSWORD, client_address="127.0.0.9")
    ledger.runner.catch_up()

    trail = ledger.bus.ask(AuditTrailQuery(customer="li.na"), AUDITOR)["entries"]

    logins = [(e["operation"], e["outcome"], e["client_address"]) for e in trail
              if e["kind"] == "login"]
    assert logins == [("login-failed", "failed", "127.0.0.9"), ("login", "ok", "127.0.0.9")]


def test_history_shows_personal_values_only_with_clearance_and_erased_after_erasure(
        ledger: Ledger) -> None:
    customer_id = register_customer(ledger, distinctive_profile("zh_CN"))
    change(ledger, customer_id, {"basic.phone": NEW_PHONE})
    query = CustomerHistory(customer_id=UUID(customer_id))

    def phones(actor: Actor) -> list[Any]:
        events = ask(ledger, query, actor)["events"]
        return [e["facts"]["values"]["basic.phone"] for e in events
                if "basic.phone" in e["facts"].get("values", {})]

    assert phones(CHECKER) == ["+8613711112222"] * 2
    assert phones(AUDITOR) == ["+86******2222"] * 2
    assert reads(ledger)[-1].revealed_fields == []  # the auditor saw nothing in clear
    erase(ledger, customer_id)
    assert phones(CHECKER) == [ERASED] * 2


def test_the_state_as_of_each_event_equals_the_state_after_applying_the_events_up_to_it(
        ledger: Ledger, clock: FixedClock) -> None:
    registered_at = clock.now
    customer_id = register_customer(ledger, distinctive_profile("en_US"))
    for step, changes in enumerate(({"basic.phone": NEW_PHONE},
                                    {"basic.email": "buyer@larkspur-mills.com"})):
        clock.now += timedelta(hours=1 + step)
        change(ledger, customer_id, changes, verify=step == 0)
    clock.now += timedelta(days=1)
    ledger.bus.execute(RecordReview(customer_id=UUID(customer_id)), CHECKER)
    events: list[Any] = list(ledger.store.events.get(UUID(customer_id)))

    folded: Any = None
    for index, event in enumerate(events):
        folded = event.mutate(folded)
        for moment in (event.timestamp, event.timestamp + timedelta(minutes=30)):
            state = customer_as_of(ledger.store, CustomerAsOf(
                customer_id=UUID(customer_id), at=moment), ledger.protector)["customer"]
            if any(e.timestamp <= moment for e in events[index + 1:]):
                continue  # a later event happened by then: checked at its own turn
            expected = folded.as_dict() | {"profile": ledger.protector.open_profile(
                customer_id, folded.profile)}
            assert state == expected, (type(event).__name__, moment)
    with pytest.raises(NotFoundError, match="not registered yet"):
        customer_as_of(ledger.store, CustomerAsOf(
            customer_id=UUID(customer_id), at=registered_at - timedelta(seconds=1)), None)


def test_the_trail_filters_by_actor_operation_customer_and_time(
        ledger: Ledger, clock: FixedClock) -> None:
    start = clock.now
    first = register_customer(ledger, distinctive_profile("zh_CN"))
    clock.now += timedelta(hours=2)
    second = register_customer(ledger, distinctive_profile("en_US"), by=CHECKER)
    ask(ledger, GetCustomer(customer_id=UUID(second)), SALES)
    ledger.runner.catch_up()

    def trail(**filters: Any) -> list[tuple[Any, ...]]:
        entries = ledger.bus.ask(AuditTrailQuery(**filters), AUDITOR)["entries"]
        return [(e["actor"], e["kind"], e["operation"]) for e in entries]

    assert trail(actor="chen.jie") == [("chen.jie", "read", "get-customer")]
    assert trail(operation="register-customer") == [
        (CLERK.id, "command", "register-customer"), (CHECKER.id, "command", "register-customer")]
    assert ("chen.jie", "read", "get-customer") not in trail(customer=first)
    assert (CLERK.id, "event", "Customer.Registered") in trail(customer=first)
    assert trail(customer=second, since=start + timedelta(hours=1)) == [
        (CHECKER.id, "event", "Customer.Registered"),
        (CHECKER.id, "command", "register-customer"), ("chen.jie", "read", "get-customer")]
    assert trail(until=start + timedelta(hours=1), operation="register-customer") == [
        (CLERK.id, "command", "register-customer")]


def test_an_edited_snapshot_does_not_change_the_state_an_auditor_is_shown(
        ledger: Ledger, database_url: str, clock: FixedClock) -> None:
    customer_id = register_customer(ledger, distinctive_profile("en_US"))
    clock.now += timedelta(hours=1)
    change(ledger, customer_id, {"basic.phone": NEW_PHONE})
    ledger.store.take_snapshot(UUID(customer_id))
    as_of = CustomerAsOf(customer_id=UUID(customer_id), at=clock.now)
    before = ask(ledger, as_of, AUDITOR)

    with RawTables(database_url) as raw:
        raw.replace_in_snapshot(customer_id, "Larkspur Textile Mills", "Forged Holdings")
    # The forgery took: anything that starts from the snapshot now sees the forged name.
    from_snapshot: Any = ledger.store.repository.get(UUID(customer_id), version=3)
    assert from_snapshot.profile["basic"]["name"] == "Forged Holdings Ltd"

    after = ask(ledger, as_of, AUDITOR)
    assert after == before
    assert after["customer"]["profile"]["basic"]["name"] == "Larkspur Textile Mills Ltd"
