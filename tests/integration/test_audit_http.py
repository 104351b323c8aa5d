"""The replay tool over HTTP (AU-5): the client's audit methods against the real routes,
logged in as an auditor, on SQLite and PostgreSQL. The auditor reads; it cannot write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ledger.domain.errors import PermissionDeniedError
from service.bootstrap import Ledger
from service.client import HttpTransport, LedgerClient
from service.http import create_app
from tests.accounts import PASSWORD, open_account
from tests.conftest import FixedClock
from tests.privacy_support import change, distinctive_profile, register

pytestmark = pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")


@contextmanager
def logged_in_auditor(ledger: Ledger) -> Iterator[LedgerClient]:
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as http:
        transport = HttpTransport("http://testserver", username="wu.hao", password=PASSWORD,
                                  client=http)
        yield LedgerClient(transport)


def test_an_auditor_replays_a_customer_and_reads_the_trail_over_http(
        ledger: Ledger, clock: FixedClock) -> None:
    open_account(ledger, "wu.hao", "auditor", department="audit")
    customer_id = register(ledger, distinctive_profile("zh_CN"))
    registered_at = clock.now
    clock.now += timedelta(hours=1)
    change(ledger, customer_id, {"basic.phone": "+86 137 1111 2222"})
    ledger.runner.catch_up()
    with logged_in_auditor(ledger) as auditor:
        replay_and_read_the_trail(ledger, auditor, customer_id, registered_at, clock.now)


def replay_and_read_the_trail(ledger: Ledger, auditor: LedgerClient, customer_id: str,
                              registered_at: datetime, clock_now: datetime) -> None:

    then = auditor.customer_as_of(customer_id, registered_at.isoformat())["customer"]
    history = auditor.customer_history(customer_id)["events"]
    ledger.runner.catch_up()
    trail = auditor.audit_trail(customer=customer_id, actor="wu.hao")["entries"]
    found = auditor.audit_anomalies(registered_at - timedelta(days=1), clock_now)

    assert then["version"] == 1 and then["profile"]["basic"]["phone"] == "+86******8000"
    assert [e["event"] for e in history] == ["Registered", "ChangeProposed", "ChangeVerified"]
    assert [(e["operation"], e["facts"]["revealed_fields"]) for e in trail] == [
        ("customer-as-of", []), ("customer-history", [])]
    assert "anomalies" in found
    with pytest.raises(PermissionDeniedError):
        auditor.register_customer(distinctive_profile("en_US"))
