"""Chaos: sixteen writers over HTTP while the database goes away under a real ``ledger
serve``, twice. PostgreSQL: every session of the service is terminated
(``pg_terminate_backend``). SQLite: another process holds the write lock longer than the
busy timeout. Afterwards nothing acknowledged is lost or stored twice, every request that
failed was retried to success or left nothing, the read models equal a rebuild, the chain
verifies, and the service ran throughout. Bounded: a few hundred commands, seconds each.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from commands.idempotency import command_record_id
from ledger.domain.errors import LedgerError
from ledger.settings import Settings, postgres_params_of, sqlite_path_of
from ledger.store import open_store
from service.client import LedgerClient
from service.client_retry import RetryPolicy
from tests.conftest import FAST_HASHING_POLICY
from tests.e2e.conftest import (
    CLI_TIMEOUT,
    ONE_TIME,
    PASSWORD,
    RunningServer,
    first_login,
    ledger_env,
    start_server,
)
from tests.e2e.forked import run_ledger
from tests.factories import make_profile

# Sixteen logins hash a password each: at the policy's real cost that alone takes seconds.
FAST_HASHING = {"LEDGER_POLICY_FILE": str(FAST_HASHING_POLICY)}
WRITERS = 16
COMMANDS_EACH = 6
# The client's patience: far longer than a fault lasts, far shorter than the test's bound.
RETRY = RetryPolicy(first_delay=0.05, longest_delay=0.5, deadline=20)


@dataclass
class Tally:
    """What the writers were told: each command id acknowledged or refused."""

    acknowledged: dict[str, str] = field(default_factory=dict)  # command id -> customer id
    errored: dict[str, str] = field(default_factory=dict)  # command id -> error code
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def answered(self) -> int:
        with self.lock:
            return len(self.acknowledged) + len(self.errored)


def _write(server: RunningServer, writer: int, tally: Tally) -> None:
    with LedgerClient.over_http(server.base_url, username="li.na", password=PASSWORD,
                                retry=RETRY) as client:
        for number in range(COMMANDS_EACH):
            command_id = f"chaos-{writer}-{number}"
            try:
                outcome = client.register_customer(
                    make_profile(seed=writer * 1000 + number), command_id=command_id)
            except LedgerError as error:
                with tally.lock:
                    tally.errored[command_id] = error.code
            else:
                with tally.lock:
                    tally.acknowledged[command_id] = outcome["aggregate_id"]


def _run_writers_with_faults(server: RunningServer, fault: Callable[[], None]) -> Tally:
    tally = Tally()
    writers = [threading.Thread(target=_write, args=(server, n, tally), daemon=True)
               for n in range(WRITERS)]
    for writer in writers:
        writer.start()
    total = WRITERS * COMMANDS_EACH
    for share in (0.25, 0.6):  # the faults strike mid-run, twice
        deadline = time.monotonic() + 30
        while tally.answered < total * share and time.monotonic() < deadline:
            time.sleep(0.01)
        fault()
    for writer in writers:
        writer.join(timeout=45)
    assert not any(writer.is_alive() for writer in writers), "a writer did not finish"
    return tally


def _cli(workdir: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ledger(["--json", *args], cwd=workdir,
                      env=ledger_env(database_url, **FAST_HASHING), timeout=CLI_TIMEOUT)


def _wait_until_projected(server: RunningServer) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        health = httpx.get(f"{server.base_url}/healthz", timeout=5).json()
        if health["status"] == "ok" and health["projection_lag"] == 0:
            return
        time.sleep(0.1)
    pytest.fail(f"the read models did not catch up: {health}")


def _check_survived(server: RunningServer, workdir: Path, database_url: str, tally: Tally,
                    pid: int) -> None:
    assert len(tally.acknowledged) + len(tally.errored) == WRITERS * COMMANDS_EACH
    assert len(tally.acknowledged) > 0
    # The service ran throughout: the same process, answering.
    assert server.process.poll() is None
    assert server.process.pid == pid
    assert "Traceback" not in server.output()
    store = open_store(Settings(database_url=database_url), create_tables=False)
    try:
        # Each acknowledged command is in the log exactly once: its record exists, and
        # each registered one customer of its own.
        for command_id in tally.acknowledged:
            assert store.position_of(command_record_id(command_id)) is not None
        assert len(set(tally.acknowledged.values())) == len(tally.acknowledged)
        # A request that failed even after the client's retries left nothing behind.
        for command_id in tally.errored:
            assert store.position_of(command_record_id(command_id)) is None, command_id
        registered = sum(1 for notification in _whole_log(store)
                         if notification.topic.endswith("Customer.Registered"))
        assert registered == len(tally.acknowledged)
    finally:
        store.close()
    _wait_until_projected(server)
    rebuilt = _cli(workdir, database_url, "projections", "verify")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert json.loads(rebuilt.stdout)["ok"] is True
    chain = _cli(workdir, database_url, "audit", "verify")
    assert chain.returncode in (0, 12), chain.stdout + chain.stderr  # 12: not yet sealed
    assert json.loads(chain.stdout)["first_bad_position"] is None, chain.stdout


def _whole_log(store: object) -> list:  # type: ignore[type-arg]
    found = []
    after = 0
    while page := store.read_log(after):  # type: ignore[attr-defined]
        found.extend(page)
        after = page[-1].id
    return found


def _started(workdir: Path, database_url: str, **env: str) -> RunningServer:
    for command in (["init"], ["account", "create", "li.na", "--employee-id", "E-li.na",
                               "--department", "sales", "--password", ONE_TIME,
                               "--role", "sales"]):
        done = _cli(workdir, database_url, *command)
        assert done.returncode == 0, done.stderr
    server = start_server(workdir, database_url, **FAST_HASHING, **env)
    first_login(server.base_url, "li.na")
    return server


@pytest.mark.postgres
def test_sixteen_writers_survive_terminated_sessions(
        tmp_path: Path, postgres_url: str, postgres_admin_url: str) -> None:
    server = _started(tmp_path, postgres_url)
    try:
        pid = server.process.pid
        name = postgres_params_of(postgres_url)["dbname"]
        terminated: list[int] = []

        def terminate_every_session() -> None:
            with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
                rows = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall()
            terminated.append(len(rows))

        tally = _run_writers_with_faults(server, terminate_every_session)

        assert len(terminated) == 2
        assert all(count > 0 for count in terminated)
        _check_survived(server, tmp_path, postgres_url, tally, pid)
    finally:
        server.stop()


def test_sixteen_writers_survive_a_write_lock_held_past_the_busy_timeout(
        tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    server = _started(tmp_path, database_url, LEDGER_SQLITE_BUSY_TIMEOUT="1",
                      LEDGER_DATABASE_RETRY_SECONDS="0.5")
    try:
        pid = server.process.pid

        def hold_the_write_lock() -> None:
            # This test's own process is the other process (a backup tool, a second CLI).
            other = sqlite3.connect(sqlite_path_of(database_url), isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                time.sleep(2.5)
                other.execute("ROLLBACK")
            finally:
                other.close()

        tally = _run_writers_with_faults(server, hold_the_write_lock)

        _check_survived(server, tmp_path, database_url, tally, pid)
    finally:
        server.stop()
