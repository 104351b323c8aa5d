"""Control characters stop at the service's door, and one that got past it cannot wedge a
read model: a NUL typed into a login once stopped three PostgreSQL read models for good
(PostgreSQL text holds no NUL), and an oversized body is refused before it is read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ledger.credentials import AuthenticationError
from service.bootstrap import Ledger
from service.http import create_app
from service.http_guard import MAX_BODY_BYTES
from tests.accounts import PASSWORD, open_account
from tests.store_snapshot import store_unchanged


@pytest.fixture
def http(ledger: Ledger) -> Iterator[TestClient]:
    open_account(ledger, "li.na", "sales")
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as client:
        token = client.post("/auth/login", json={"username": "li.na", "password": PASSWORD}
                            ).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def test_a_nul_that_reached_the_audit_trail_does_not_stop_the_read_models(
        ledger: Ledger) -> None:
    # An in-process caller is not behind the HTTP guard: its failed login is audited with
    # exactly what it typed.
    with pytest.raises(AuthenticationError):
        ledger.access.identity.login("li.na\x00", "Wrong-Guess#0000", None, "127.0.0.1")

    ledger.runner.catch_up()

    head = ledger.store.head_position()
    assert ledger.runner.failure is None
    assert set(ledger.runner.positions().values()) == {head}


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/auth/login", '{"username": "li.na\\u0000", "password": "x"}'),
    ("POST", "/commands/propose-change", '{"customer_id": "x", "changes": {}, '
                                         '"happened_on": "2026-11-20", "reason": "a\\u001bb"}'),
    ("GET", "/accounts/li.na%00", None),
    ("GET", "/customers?name_prefix=%00", None),
    ("GET", "/customers?name_prefix=a%1Bb", None),
], ids=["login body", "command body", "path", "query NUL", "query ESC"])
def test_a_control_character_anywhere_in_a_request_is_refused_and_writes_nothing(
        ledger: Ledger, http: TestClient, method: str, path: str, body: str | None) -> None:
    with store_unchanged(ledger.store):
        answer = http.request(method, path, content=body,
                              headers={"Content-Type": "application/json"} if body else {})

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_failed"
    assert "control character" in answer.text


def test_a_tab_or_a_line_break_in_a_text_is_no_control_character_to_refuse(
        http: TestClient) -> None:
    answer = http.post("/auth/login", content='{"username": "li.na", "password": "a\\u000ab"}',
                       headers={"Content-Type": "application/json"})

    assert answer.status_code == 401  # read, and refused only as a wrong password


def test_a_body_larger_than_the_service_reads_is_refused_before_it_is_read(
        ledger: Ledger, http: TestClient) -> None:
    huge = '{"username": "' + "x" * MAX_BODY_BYTES + '", "password": "x"}'

    with store_unchanged(ledger.store):
        answer = http.post("/auth/login", content=huge,
                           headers={"Content-Type": "application/json"})

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
