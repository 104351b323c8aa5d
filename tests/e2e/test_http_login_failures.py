"""Over HTTP, on SQLite and PostgreSQL: every failed login is the same answer, status and
body, whatever failed; a TOTP account's client learns nothing more by leaving out the code."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from service.bootstrap import Ledger
from service.http import create_app
from tests.accounts import failing_logins
from tests.conftest import FixedClock

pytestmark = pytest.mark.e2e


def test_every_failed_login_over_http_is_the_same_401(
        make_ledger: Callable[..., Ledger], database_url: str, clock: FixedClock) -> None:
    ledger = make_ledger(database_url)
    logins = failing_logins(ledger, clock)
    answers = {}
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as http:
        for reason, (username, password, code) in logins.items():
            body: dict[str, object] = {"username": username, "password": password}
            if code is not None:
                body["totp"] = code
            answer = http.post("/auth/login", json=body)
            answers[reason] = (answer.status_code, answer.json())

    alike = (401, {"error": {"code": "unauthenticated", "message": "wrong username or password",
                             "details": {}}})
    assert answers == dict.fromkeys(logins, alike)
