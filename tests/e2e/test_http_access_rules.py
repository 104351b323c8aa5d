"""Access rules an adversary probes, over HTTP and the HTTP client, on SQLite and PostgreSQL:
a locked account answers every password alike (LG-3); a search needs clearance for the field
searched (AC-1, P5); and every 403, whichever rule refused, is in the audit trail (OP-1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.credentials import AuthenticationError
from ledger.domain.access import AccessRecord
from service.bootstrap import Ledger
from service.client import HttpTransport
from service.http import create_app
from tests.accounts import PASSWORD, open_account
from tests.privacy_support import distinctive_profile, register
from tests.store_snapshot import snapshot_store

pytestmark = pytest.mark.e2e

LOOPBACK = ("127.0.0.1", 50000)
PHONE = "+86 138-0013-8000"


@pytest.fixture
def app(make_ledger: Callable[..., Ledger], database_url: str) -> Iterator[tuple[FastAPI, Ledger]]:
    ledger = make_ledger(database_url)
    application = create_app(ledger)
    with TestClient(application, client=LOOPBACK):  # runs the start-up once
        yield application, ledger


def http(app: tuple[FastAPI, Ledger]) -> TestClient:
    return TestClient(app[0], client=LOOPBACK)


def login(app: tuple[FastAPI, Ledger], username: str, password: str) -> httpx.Response:
    return http(app).post("/auth/login", json={"username": username, "password": password})


def token(app: tuple[FastAPI, Ledger], username: str) -> dict[str, str]:
    answer = login(app, username, PASSWORD)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def records_added(ledger: Ledger, action: Callable[[], httpx.Response]
                  ) -> tuple[httpx.Response, list[Any]]:
    before = snapshot_store(ledger.store)
    response = action()
    added = snapshot_store(ledger.store).added_since(before)
    return response, [record.decode(ledger.store) for record in added]


def test_a_locked_account_answers_every_password_alike(app: tuple[FastAPI, Ledger]) -> None:
    _, ledger = app
    open_account(ledger, "li.na", "sales")
    for _ in range(ledger.policy.login.max_failed_attempts):
        assert login(app, "li.na", "Wrong-Pass#0000").status_code == 401

    right, wrong, unknown = (login(app, "li.na", PASSWORD),
                             login(app, "li.na", "Other-Guess#4242"),
                             login(app, "nobody", PASSWORD))

    assert right.status_code == wrong.status_code == unknown.status_code == 401
    assert right.json() == wrong.json() == unknown.json()
    assert right.json()["error"]["message"] == "wrong username or password"

    def client_login(password: str) -> tuple[str, str, dict[str, Any]]:
        with pytest.raises(AuthenticationError) as refused:
            HttpTransport("http://testserver", username="li.na", password=password,
                          client=http(app))
        return refused.value.code, refused.value.message, refused.value.details

    assert client_login(PASSWORD) == client_login("Other-Guess#4242")


def test_finance_may_not_search_by_phone_and_the_refusal_is_audited(
        app: tuple[FastAPI, Ledger]) -> None:
    _, ledger = app
    customer_id = register(ledger, distinctive_profile("zh_CN"))
    open_account(ledger, "li.na", "sales")
    open_account(ledger, "qian.hui", "finance", department="finance")
    ledger.runner.catch_up()
    sales, finance = token(app, "li.na"), token(app, "qian.hui")

    found = http(app).get("/search/customers", params={"phone": PHONE}, headers=sales)
    assert [c["customer_id"] for c in found.json()["customers"]] == [customer_id]

    refused, added = records_added(ledger, lambda: http(app).get(
        "/search/customers", params={"phone": PHONE}, headers=finance))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert PHONE not in refused.text
    assert [(type(r), r.operation, r.meta["actor"]) for r in added] == [
        (AccessRecord.PermissionDenied, "find-customers-by", "qian.hui")]


def test_a_deletion_request_for_another_department_is_a_403_in_the_audit_trail(
        app: tuple[FastAPI, Ledger]) -> None:
    _, ledger = app
    customer_id = register(ledger, distinctive_profile("zh_CN"))
    open_account(ledger, "li.na", "sales")
    headers = token(app, "li.na")

    refused, added = records_added(ledger, lambda: http(app).post(
        "/commands/request-deletion", headers=headers, json={
            "customer_id": customer_id, "ground": "relationship_ended",
            "details": "contract ended", "department": "finance"}))

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert [(type(r), r.operation, r.roles, r.meta["actor"]) for r in added] == [
        (AccessRecord.PermissionDenied, "request-deletion", ["sales"], "li.na")]
