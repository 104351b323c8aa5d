"""Access rules an adversary probes, over HTTP and the HTTP client, on SQLite and PostgreSQL:
every 403, whichever rule refused, is in the audit trail (OP-1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.domain.access import AccessRecord
from ledger.service.bootstrap import Ledger
from ledger.service.http import create_app
from tests.accounts import PASSWORD, open_account
from tests.privacy_support import distinctive_profile, register
from tests.unit.commands.store_snapshot import snapshot_store

pytestmark = pytest.mark.e2e

LOOPBACK = ("127.0.0.1", 50000)


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
