"""Test helpers for the HTTP API in process: an account holding every role of the policy,
logged in as its owner would, second factor included."""

from __future__ import annotations

import base64
from datetime import timedelta

from fastapi.testclient import TestClient

from ledger import totp
from ledger.service.bootstrap import Ledger
from tests.accounts import PASSWORD, open_account
from tests.conftest import FixedClock


def every_role(ledger: Ledger) -> list[str]:
    return sorted(ledger.policy.access.permissions)


def log_in_with_every_role(http: TestClient, ledger: Ledger, clock: FixedClock,
                           username: str = "all.roles") -> str:
    """Open an account with every role, enrol its authenticator over HTTP (sysadmin needs
    one), and answer a bearer token of a full session; the clock moves a step per code."""
    open_account(ledger, username, *every_role(ledger), department="information_management")
    ledger.runner.catch_up()
    first = http.post("/auth/login", json={"username": username, "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {first['token']}"}
    text = http.post("/auth/totp/enrol", headers=headers).json()["secret"]
    secret = base64.b32decode(text + "=" * (-len(text) % 8))
    confirmed = http.post("/auth/totp/confirm", headers=headers,
                          json={"code": totp.code_at(secret, clock.now.timestamp())})
    assert confirmed.status_code == 200, confirmed.text
    clock.now += timedelta(seconds=totp.STEP_SECONDS)
    login = http.post("/auth/login", json={
        "username": username, "password": PASSWORD,
        "totp": totp.code_at(secret, clock.now.timestamp())})
    assert login.status_code == 200, login.text
    assert sorted(login.json()["roles"]) == every_role(ledger)
    token: str = login.json()["token"]
    return token
