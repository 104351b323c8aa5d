"""Test helpers for the HTTP API in process: an account holding every role of the policy,
logged in as its owner would, second factor included."""

from __future__ import annotations

import base64
from datetime import timedelta

from fastapi.testclient import TestClient

from ledger import totp
from service.bootstrap import Ledger
from tests.accounts import PASSWORD, open_account
from tests.conftest import FixedClock


def every_role(ledger: Ledger) -> list[str]:
    return sorted(ledger.policy.access.permissions)


class EveryRoleSession:
    """An account with every role whose authenticator was enrolled over HTTP (sysadmin
    needs one); ``token`` is a full session's. Each login moves the clock a TOTP step, since
    a code is accepted once."""

    def __init__(self, http: TestClient, ledger: Ledger, clock: FixedClock,
                 username: str = "all.roles") -> None:
        self.http, self.clock, self.username = http, clock, username
        open_account(ledger, username, *every_role(ledger), department="information_management")
        ledger.runner.catch_up()
        first = http.post("/auth/login", json={"username": username, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {first.json()['token']}"}
        text = http.post("/auth/totp/enrol", headers=headers).json()["secret"]
        self.secret = base64.b32decode(text + "=" * (-len(text) % 8))
        confirmed = http.post("/auth/totp/confirm", headers=headers,
                              json={"code": totp.code_at(self.secret, clock.now.timestamp())})
        assert confirmed.status_code == 200, confirmed.text
        self.token = ""
        self.renew()
        assert sorted(self.roles) == every_role(ledger)

    def renew(self) -> None:
        """Log in again (after a logout, say)."""
        self.clock.now += timedelta(seconds=totp.STEP_SECONDS)
        login = self.http.post("/auth/login", json={
            "username": self.username, "password": PASSWORD,
            "totp": totp.code_at(self.secret, self.clock.now.timestamp())})
        assert login.status_code == 200, login.text
        self.token = login.json()["token"]
        self.roles: list[str] = login.json()["roles"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def log_in_with_every_role(http: TestClient, ledger: Ledger, clock: FixedClock) -> str:
    """A bearer token of a full session of an account holding every role."""
    return EveryRoleSession(http, ledger, clock).token
