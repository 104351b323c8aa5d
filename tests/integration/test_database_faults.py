"""The database goes away under a running ledger: its sessions are terminated (PostgreSQL)
or another process holds the write lock past the busy timeout (SQLite). What is safe to
repeat is repeated; what still fails is the ledger's ``unavailable``, on every path."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from ledger.settings import postgres_params_of, sqlite_path_of
from ledger.transient import UnavailableError
from service.bootstrap import Ledger
from service.client import LedgerClient
from service.client_retry import NO_RETRY, RetryPolicy
from service.http import create_app
from tests.accounts import PASSWORD, open_account
from tests.conftest import ALICE
from tests.factories import make_profile
from tests.store_snapshot import store_unchanged

pytestmark = pytest.mark.postgres


def terminate_sessions(postgres_admin_url: str, database_url: str) -> int:
    """What an operator's restart or a failover does to the ledger's connections."""
    name = postgres_params_of(database_url)["dbname"]
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall()
    return len(rows)


@contextmanager
def write_lock_held(database_url: str) -> Iterator[sqlite3.Connection]:
    """Another process's transaction (a backup tool, a second CLI) holding the write lock."""
    other = sqlite3.connect(sqlite_path_of(database_url), isolation_level=None,
                            check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def _client(ledger: Ledger, retry: RetryPolicy = NO_RETRY) -> LedgerClient:
    return LedgerClient.in_process(ledger, ALICE.id, roles=sorted(ALICE.roles),
                                   department=ALICE.department, retry=retry)


def test_terminated_sessions_are_retried_for_writes_and_reads(
        make_ledger: Callable[..., Ledger], postgres_url: str, postgres_admin_url: str) -> None:
    ledger = make_ledger(postgres_url)
    client = _client(ledger)
    first = client.register_customer(make_profile(seed=1))
    ledger.runner.catch_up()
    assert terminate_sessions(postgres_admin_url, postgres_url) > 0

    # Without any retry of the client's own: the service's append and reads retry.
    second = client.register_customer(make_profile(seed=2))
    assert terminate_sessions(postgres_admin_url, postgres_url) > 0
    answer = client.get_customer(first["aggregate_id"], min_position=second["position"])

    assert answer["customer"]["customer_id"] == first["aggregate_id"]
    assert second["position"] > first["position"]


def test_a_lock_held_past_the_busy_timeout_is_unavailable_and_writes_nothing(
        make_ledger: Callable[..., Ledger], sqlite_url: str) -> None:
    ledger = make_ledger(sqlite_url, sqlite_busy_timeout=1, database_retry_seconds=0)
    client = _client(ledger)

    with write_lock_held(sqlite_url), store_unchanged(ledger.store), \
            pytest.raises(UnavailableError) as raised:
        client.register_customer(make_profile(seed=3))

    assert raised.value.code == "unavailable"
    assert "write lock" in raised.value.message


def test_the_client_retries_until_the_lock_is_released(
        make_ledger: Callable[..., Ledger], sqlite_url: str) -> None:
    ledger = make_ledger(sqlite_url, sqlite_busy_timeout=1, database_retry_seconds=0)
    client = _client(ledger, RetryPolicy(first_delay=0.1, longest_delay=0.5, deadline=20))
    with write_lock_held(sqlite_url) as other:
        threading.Timer(1.5, lambda: other.execute("ROLLBACK")).start()
        outcome = client.register_customer(make_profile(seed=4), command_id="held-lock-1")

    assert outcome["status"] == "accepted"
    assert client.register_customer(make_profile(seed=4), command_id="held-lock-1")["replayed"]


def test_over_http_a_held_lock_answers_503_with_retry_after(
        make_ledger: Callable[..., Ledger], sqlite_url: str) -> None:
    ledger = make_ledger(sqlite_url, sqlite_busy_timeout=1, database_retry_seconds=0)
    open_account(ledger, "li.na", "sales")
    ledger.runner.catch_up()
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as http:
        login = http.post("/auth/login", json={"username": "li.na", "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        with write_lock_held(sqlite_url):
            refused_login = http.post("/auth/login",
                                      json={"username": "li.na", "password": PASSWORD})
            refused = http.post("/commands/register-customer", headers=headers,
                                json={"profile": make_profile(seed=5)})

    for answer in (refused_login, refused):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"]["code"] == "unavailable"


def test_healthz_says_degraded_within_a_second_while_the_database_does_not_answer(
        make_ledger: Callable[..., Ledger], sqlite_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = make_ledger(sqlite_url)
    with TestClient(create_app(ledger)) as http:
        assert http.get("/healthz").status_code == 200
        stalled = threading.Event()
        monkeypatch.setattr(ledger.store, "head_position", lambda: stalled.wait(5) or 0)
        started = time.monotonic()
        answer = http.get("/healthz")
        took = time.monotonic() - started
        stalled.set()

    assert answer.status_code == 503
    assert took < 2.0
    assert answer.json()["status"] == "degraded"
    assert answer.json()["failing"]["database"]["code"] == "unavailable"


def test_followers_report_the_fault_by_code_and_resume(
        make_ledger: Callable[..., Ledger], sqlite_url: str, tmp_path: Path) -> None:
    ledger = make_ledger(sqlite_url, sqlite_busy_timeout=1, database_retry_seconds=0)
    client = _client(ledger)
    outcome = client.register_customer(make_profile(seed=6))
    with write_lock_held(sqlite_url):
        # Started only now, so the registration is still to project: the runner needs the
        # write lock for its checkpoint (started before, it could project the event before
        # the lock was taken, and then had nothing to fail on).
        ledger.runner.start(0.05)
        deadline = time.monotonic() + 10
        client_done = outcome["position"]
        while ledger.runner.failure is None and time.monotonic() < deadline:
            time.sleep(0.05)
    assert ledger.runner.failure is not None
    assert ledger.runner.failure["code"] == "unavailable"

    ledger.runner.wait_for(client_done, timeout=10)
    deadline = time.monotonic() + 10
    while ledger.runner.failure is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ledger.runner.failure is None
