"""An event whose stored bytes no longer decode (edited by hand in the database), on SQLite
and PostgreSQL: every reader reports it as an integrity finding naming its position, the
projections stop just before it (never past it), a failed rebuild leaves every read model
as it was, and ``/healthz`` says the service is degraded."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from uuid import UUID

import pytest

from ledger.domain.errors import LedgerError
from ledger.integrity.decoding import UndecodableEventError
from ledger.key_audit import verify_keys
from projections.history import CustomerHistory
from projections.verification import verify_read_models
from service.bootstrap import Ledger
from service.client import LedgerClient
from service.client_transport import HttpTransport
from service.http import create_app
from tests.accounts import PASSWORD, open_account
from tests.integration.tampering import RawEvents
from tests.integration.test_audit_trail import reads
from tests.privacy_support import CHECKER, distinctive_profile
from tests.privacy_support import register as register_customer


@pytest.fixture
def raw(database_url: str) -> Iterator[RawEvents]:
    events = RawEvents(database_url)
    yield events
    events.close()


def cut_registration(ledger: Ledger, raw: RawEvents, customer_id: str) -> int:
    """Cut the customer's Registered event short in the events table; its position."""
    position = raw.position_of(customer_id)
    raw.cut_state(position)
    return position


def views_of(ledger: Ledger) -> dict[str, object]:
    with ledger.views.snapshot() as cursor:
        return {name: projection.dump(cursor)
                for name, projection in ledger.runner.projections.items()}


def test_history_names_the_position_that_does_not_decode_and_the_read_is_audited(
        ledger: Ledger, raw: RawEvents) -> None:
    customer_id = register_customer(ledger, distinctive_profile("zh_CN"))
    position = cut_registration(ledger, raw, customer_id)

    with pytest.raises(UndecodableEventError) as found:  # history reads the log itself
        ledger.bus.ask(CustomerHistory(customer_id=UUID(customer_id)), CHECKER)

    error = found.value
    assert (error.code, error.exit_code) == ("integrity_violation", 11)
    assert error.details["position"] == position
    assert f"position {position}" in error.message
    assert "翡翠" not in error.message and "8000" not in error.message
    record = reads(ledger)[-1]
    assert (record.operation, record.customer_ids, record.outcome) == (
        "customer-history", [customer_id], "integrity_violation")


@pytest.mark.parametrize("topic", [
    "this:s",  # a module outside the ledger's packages (importing it prints a poem)
    "builtins:int", "ledger.domain.customer:Customer", "ledger.domain.profile:no_such",
    "no colon at all"])
def test_a_topic_edited_to_name_no_event_is_undecodable_and_imports_nothing(
        ledger: Ledger, raw: RawEvents, topic: str) -> None:
    customer_id = register_customer(ledger, distinctive_profile("zh_CN"))
    position = raw.position_of(customer_id)
    raw.set_column(position, "topic", topic)

    with pytest.raises(UndecodableEventError) as found:
        ledger.bus.ask(CustomerHistory(customer_id=UUID(customer_id)), CHECKER)

    assert found.value.details["position"] == position
    if topic == "this:s":
        assert "this" not in sys.modules


def test_the_projections_stop_just_before_an_undecodable_event_and_stay_there(
        ledger: Ledger, raw: RawEvents) -> None:
    first = register_customer(ledger, distinctive_profile("zh_CN"))
    second = register_customer(ledger, distinctive_profile("en_US"))
    open_account(ledger, "li.na", "sales")  # an event the customer view does not follow
    position = cut_registration(ledger, raw, second)

    for _attempt in range(2):  # a retry meets the same event: it is never skipped
        with pytest.raises(UndecodableEventError) as found:
            ledger.runner.catch_up()
        assert (found.value.position, found.value.details["projection"]) == (
            position, "customer_view")
        positions = ledger.runner.positions()
        assert positions["customer_view"] == position - 1
        assert positions["accounts"] == ledger.store.head_position()

    with ledger.views.snapshot() as cursor:
        shown = {row[0] for row in cursor.all("SELECT customer_id FROM customer_view")}
    assert shown == {first}


@pytest.mark.parametrize("originator_id", [b"\x00\xff", "not a uuid"])
@pytest.mark.sqlite_only  # PostgreSQL's uuid column refuses it
def test_an_id_edited_to_another_type_stops_the_projections_just_before_it(
        ledger: Ledger, raw: RawEvents, originator_id: object) -> None:
    first = register_customer(ledger, distinctive_profile("zh_CN"))
    second = register_customer(ledger, distinctive_profile("en_US"))
    position = raw.position_of(second)
    raw.set_column(position, "originator_id", originator_id)

    with pytest.raises(UndecodableEventError) as found:
        ledger.runner.catch_up()

    assert found.value.position == position
    assert ledger.runner.positions()["customer_view"] == position - 1
    with ledger.views.snapshot() as cursor:
        shown = {row[0] for row in cursor.all("SELECT customer_id FROM customer_view")}
    assert shown == {first}


def test_a_rebuild_that_meets_an_undecodable_event_leaves_every_read_model_as_it_was(
        ledger: Ledger, raw: RawEvents) -> None:
    customer_id = register_customer(ledger, distinctive_profile("zh_CN"))
    open_account(ledger, "li.na", "sales")
    ledger.runner.catch_up()
    before, positions = views_of(ledger), ledger.runner.positions()
    position = cut_registration(ledger, raw, customer_id)

    with pytest.raises(UndecodableEventError) as found:
        ledger.runner.rebuild()

    assert found.value.position == position
    assert views_of(ledger) == before
    assert ledger.runner.positions() == positions
    with ledger.views.snapshot() as cursor:
        assert cursor.all("SELECT username FROM accounts") == [("li.na",)]


def test_both_verifications_report_the_undecodable_position(
        ledger: Ledger, raw: RawEvents) -> None:
    customer_id = register_customer(ledger, distinctive_profile("zh_CN"))
    ledger.runner.catch_up()
    position = cut_registration(ledger, raw, customer_id)
    projections = list(ledger.runner.projections.values())

    with pytest.raises(UndecodableEventError) as models:
        verify_read_models(ledger.store, ledger.views, projections)
    with pytest.raises(UndecodableEventError) as keys:
        verify_keys(ledger.store, ledger.keys)

    assert models.value.position == keys.value.position == position


@pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")
def test_over_http_history_answers_the_error_shape_and_healthz_is_degraded(
        ledger: Ledger, raw: RawEvents) -> None:
    from fastapi.testclient import TestClient

    open_account(ledger, "wu.hao", "auditor", department="audit")
    customer_id = register_customer(ledger, distinctive_profile("zh_CN"))
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as http:
        auditor = LedgerClient(HttpTransport("http://testserver", username="wu.hao",
                                             password=PASSWORD, client=http))
        healthy = http.get("/healthz")
        position = cut_registration(ledger, raw, customer_id)
        with pytest.raises(LedgerError) as history:
            auditor.customer_history(customer_id)
        ledger.runner.start(poll_interval=0.01)
        deadline = time.monotonic() + 30  # the background runner meets the event
        while ledger.runner.failure is None and time.monotonic() < deadline:
            time.sleep(0.01)
        degraded = http.get("/healthz")
    ledger.runner.stop()

    assert (history.value.code, history.value.details["position"]) == (
        "integrity_violation", position)
    assert (healthy.status_code, healthy.json()["status"], healthy.json()["failing"]) == (
        200, "ok", {})
    assert degraded.status_code == 503
    body = degraded.json()
    assert body["status"] == "degraded"
    failure = body["failing"]["projections"]
    assert failure["code"] == "integrity_violation"
    assert (failure["details"]["position"], failure["details"]["projection"]) == (
        position, "customer_view")
    assert body["projection_errors"] >= 1 and body["projection_lag"] >= 1
    assert "sealer" not in body["failing"]
