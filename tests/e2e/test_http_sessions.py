"""Over HTTP, on SQLite and PostgreSQL: a reported compromise, a lock, a password reset or
change ends the account's earlier sessions for good, answered as a documented 401."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from service.bootstrap import Ledger
from service.http import create_app
from tests.accounts import PASSWORD, open_account
from tests.conftest import FixedClock
from tests.e2e.conftest import CLI_TIMEOUT, RunningServer, ledger_env
from tests.e2e.conftest import PASSWORD as SERVER_PASSWORD
from tests.e2e.forked import run_ledger
from tests.http_support import EveryRoleSession

pytestmark = pytest.mark.e2e

ONE_TIME_AGAIN = "Second-Start#7301"
OWNERS_NEW = "Fresh-Meadow#9034"


@pytest.fixture
def http(make_ledger: Callable[..., Ledger], database_url: str
         ) -> Iterator[tuple[TestClient, Ledger]]:
    ledger = make_ledger(database_url)
    open_account(ledger, "wang.fang", "info_specialist", department="information_management")
    ledger.runner.catch_up()
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as client:
        yield client, ledger


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: TestClient, password: str = PASSWORD) -> str:
    answer = client.post("/auth/login", json={"username": "wang.fang", "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def command(client: TestClient, name: str, token: str, **fields: str) -> Response:
    answer = client.post(f"/commands/{name}", headers=bearer(token),
                         json={"username": "wang.fang", **fields})
    assert answer.status_code == 200, answer.text
    return answer


def assert_session_ended(answer: Response) -> None:
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert (error["code"], error["details"]) == ("unauthenticated", {})
    assert "log in again" in error["message"]


def test_the_attackers_token_is_401_after_compromise_reset_unlock_and_a_new_password(
        http: tuple[TestClient, Ledger], clock: FixedClock) -> None:
    """The tester's report, step by step."""
    client, ledger = http
    attacker, owner = log_in(client), log_in(client)
    assert client.get("/proposals", headers=bearer(attacker)).status_code == 200
    administrator = EveryRoleSession(client, ledger, clock, "root.admin")

    command(client, "report-compromise", owner)
    command(client, "reset-password", administrator.token, one_time_password=ONE_TIME_AGAIN)
    command(client, "unlock-account", administrator.token)
    fresh = log_in(client, ONE_TIME_AGAIN)
    command(client, "change-password", fresh, current_password=ONE_TIME_AGAIN,
            new_password=OWNERS_NEW)

    assert_session_ended(client.get("/proposals", headers=bearer(attacker)))
    assert client.get("/proposals", headers=bearer(fresh)).status_code == 200


def test_a_token_from_before_a_lock_is_401_after_the_unlock(
        http: tuple[TestClient, Ledger], clock: FixedClock) -> None:
    client, ledger = http
    token = log_in(client)
    administrator = EveryRoleSession(client, ledger, clock, "root.admin")
    command(client, "lock-account", administrator.token)
    command(client, "unlock-account", administrator.token)

    assert_session_ended(client.get("/proposals", headers=bearer(token)))


def test_changing_ones_password_keeps_this_session_and_ends_the_others(
        http: tuple[TestClient, Ledger]) -> None:
    client, _ = http
    laptop, phone = log_in(client), log_in(client)
    command(client, "change-password", laptop, current_password=PASSWORD,
            new_password=OWNERS_NEW)

    assert client.get("/proposals", headers=bearer(laptop)).status_code == 200
    assert_session_ended(client.get("/proposals", headers=bearer(phone)))


def test_on_a_real_server_the_attackers_token_stays_401_after_the_administrator_restores(
        database_url: str, serve: Callable[..., RunningServer]) -> None:
    """The tester's report against ``ledger serve``, the administrator's steps taken with
    the ``ledger`` command on the server: another process, so only the events carry it."""
    server = serve(database_url)

    def log_in_over_http(password: str) -> str:
        answer = httpx.post(f"{server.base_url}/auth/login", timeout=30,
                            json={"username": "wang.fang", "password": password})
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["token"]
        return token

    def post(name: str, token: str, **fields: str) -> None:
        answer = httpx.post(f"{server.base_url}/commands/{name}", headers=bearer(token),
                            json={"username": "wang.fang", **fields}, timeout=30)
        assert answer.status_code == 200, answer.text

    def administrator(*arguments: str) -> None:
        done = run_ledger(["--json", "account", *arguments, "wang.fang"],
                          cwd=server.log.parent, env=ledger_env(database_url),
                          timeout=CLI_TIMEOUT)
        assert done.returncode == 0, done.stderr

    attacker, owner = log_in_over_http(SERVER_PASSWORD), log_in_over_http(SERVER_PASSWORD)
    post("report-compromise", owner)
    administrator("reset-password", "--password", ONE_TIME_AGAIN)
    administrator("unlock")
    fresh = log_in_over_http(ONE_TIME_AGAIN)
    post("change-password", fresh, current_password=ONE_TIME_AGAIN, new_password=OWNERS_NEW)

    assert_session_ended(httpx.get(f"{server.base_url}/proposals", headers=bearer(attacker),
                                   timeout=30))
    assert httpx.get(f"{server.base_url}/proposals", headers=bearer(fresh),
                     timeout=30).status_code == 200
