"""A new installation's first steps as its one administrator takes them (README, "Grants"):
the first login's restricted session says what is still to do, and the first high-privilege
grant, which no second administrator exists to approve over HTTP, is approved on the server
by the local administrator."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger import totp
from tests.e2e.conftest import CLI_TIMEOUT, ONE_TIME, PASSWORD, ledger_env, start_server
from tests.e2e.forked import run_ledger

pytestmark = pytest.mark.e2e


def ledger_cli(workdir: Path, database_url: str, *args: str) -> Any:
    done = run_ledger(["--json", *args], cwd=workdir, timeout=CLI_TIMEOUT,
                      env=ledger_env(database_url))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def refusal(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 403, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == "permission_denied"
    return error


def current_code(secret_text: str) -> str:
    secret = base64.b32decode(secret_text + "=" * (-len(secret_text) % 8))
    return totp.code_at(secret, time.time())


def test_a_new_installations_administrator_is_told_each_step_and_the_first_grant_path(
        tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    admin = ledger_cli(tmp_path, database_url, "init")["first_administrator"]
    ledger_cli(tmp_path, database_url, "account", "create", "zhao.lei", "--employee-id",
               "E-31", "--department", "audit", "--password", ONE_TIME)
    server = start_server(tmp_path, database_url)
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            token = http.post("/auth/login", json={
                "username": "admin", "password": admin["one_time_password"]}).json()["token"]
            http.headers["Authorization"] = f"Bearer {token}"

            # The one-time password and the administrator's second factor are both pending.
            first = refusal(http.get("/accounts"))
            assert first["details"]["pending"] == ["password_change", "totp_enrolment"]
            assert "one-time password is changed" in first["message"]
            assert "second factor is enrolled" in first["message"]
            assert "roles: none" not in first["message"]

            changed = http.post("/commands/change-password", json={
                "username": "admin", "current_password": admin["one_time_password"],
                "new_password": PASSWORD})
            assert changed.status_code == 200, changed.text
            second = refusal(http.get("/accounts"))
            assert second["details"]["pending"] == ["totp_enrolment"]
            assert "one-time password" not in second["message"]
            assert "/auth/totp/enrol" in second["message"]

            secret = http.post("/auth/totp/enrol").json()["secret"]
            confirmed = http.post("/auth/totp/confirm", json={"code": current_code(secret)})
            assert confirmed.status_code == 200, confirmed.text
            # As the refusal said: the same session now acts with the account's roles.
            assert http.get("/accounts").status_code == 200

            granted = http.post("/commands/grant-role",
                                json={"username": "zhao.lei", "role": "auditor"})
            assert granted.json()["result"]["active"] is False
            approval = http.post("/commands/approve-grant",
                                 json={"username": "zhao.lei", "role": "auditor"})
            assert approval.status_code == 409
            assert "`ledger account approve-grant USERNAME ROLE`" in (
                approval.json()["error"]["message"])

            approved = ledger_cli(tmp_path, database_url, "account", "approve-grant",
                                  "zhao.lei", "auditor")

            account = http.get("/accounts/zhao.lei",
                               params={"min_position": approved["position"]}).json()["account"]
            (grant,) = account["grants"]
            assert (grant["role"], grant["active"], grant["requested_by"]) == (
                "auditor", True, "admin")
            assert grant["approved_by"].startswith("local-admin:")

            # The other way round: requested on the server, approved over HTTP.
            ledger_cli(tmp_path, database_url, "account", "grant", "zhao.lei",
                       "info_mgmt_head")
            approval = http.post("/commands/approve-grant",
                                 json={"username": "zhao.lei", "role": "info_mgmt_head"})
            assert approval.status_code == 200, approval.text
            assert approval.json()["result"]["active"] is True
    finally:
        server.stop()
