"""End-to-end fixtures: the real ``ledger`` command line, as a user runs it, in processes of
its own (forked from one that has imported it already: ``tests/e2e/forked.py``).

Every subprocess runs in a temporary directory with its own database, is bounded by a
timeout, and is terminated (then killed if it must be) at teardown.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import FAST_HASHING_POLICY
from tests.e2e.forked import ForkedProcess, run_ledger, spawn_ledger

LEDGER = str(Path(sys.executable).with_name("ledger"))
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
CLI_TIMEOUT = 60.0


# The scenarios read English whatever the machine's LANG or LC_ALL (zh_CN.UTF-8 would make
# the command line answer in Chinese): a test about languages passes its own.
ENGLISH = {"LEDGER_LANG": "en"}


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process commands (Typer's CliRunner) read the environment too."""
    for name, value in ENGLISH.items():
        monkeypatch.setenv(name, value)


def ledger_env(database_url: str, **extra: str) -> dict[str, str]:
    """The caller's environment without any LEDGER_* setting of theirs, plus ours."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEDGER_")}
    return env | ENGLISH | {"LEDGER_DATABASE_URL": database_url} | extra


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The scenarios' accounts and servers hash passwords at argon2id's smallest cost: hashing
# is not what they examine, and at the shipped cost (which the README scenario's server
# runs) the four first logins of a server fixture alone took seconds of CPU.
QUICK_HASHING = {"LEDGER_POLICY_FILE": str(FAST_HASHING_POLICY)}
ONE_TIME = "Initial-Pass#2041"
PASSWORD = "Quiet-Harbour#5512"
# Who the HTTP scenarios log in as: department, roles.
STAFF = {
    "li.na": ("sales", ["sales"]),
    "zhao.lei": ("customer_service", ["customer_service"]),
    "wang.fang": ("information_management", ["info_specialist"]),
    "qian.hui": ("finance", ["finance"]),
}


def provision(workdir: Path, database_url: str, staff: dict[str, tuple[str, list[str]]]
              ) -> None:
    """``ledger init`` and ``ledger account create`` as an administrator would run them."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = ledger_env(database_url, **QUICK_HASHING)
    commands = [["init"]] + [
        ["account", "create", username, "--employee-id", f"E-{username}", "--department",
         department, "--password", ONE_TIME, *(arg for role in roles for arg in ("--role", role))]
        for username, (department, roles) in staff.items()]
    for command in commands:
        done = run_ledger(["--json", *command], cwd=workdir, env=env, timeout=CLI_TIMEOUT)
        assert done.returncode == 0, done.stderr


def first_login(base_url: str, username: str, *, verify: str | bool = True) -> None:
    """Log in with the one-time password and replace it, as the owner must (LG-1)."""
    with httpx.Client(base_url=base_url, timeout=30, verify=verify) as http:
        login = http.post("/auth/login", json={"username": username, "password": ONE_TIME})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        changed = http.post("/commands/change-password", headers=headers, json={
            "username": username, "current_password": ONE_TIME, "new_password": PASSWORD})
        assert changed.status_code == 200, changed.text
        http.post("/auth/logout", headers=headers)


@dataclass
class RunningServer:
    """A ``ledger serve`` process and where it listens."""

    process: subprocess.Popen[bytes] | ForkedProcess
    base_url: str
    log: Path
    verify: str | bool = True

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"ledger serve exited with {self.process.returncode}:\n"
                            f"{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2,
                             verify=self.verify).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"ledger serve was not healthy within {STARTUP_TIMEOUT}s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)


def start_server(workdir: Path, database_url: str, *args: str, verify: str | bool = True,
                 **env: str) -> RunningServer:
    """Start ``ledger serve`` on a free port and return once /healthz answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / f"server-{port}.log"
    process = spawn_ledger(["serve", "--host", "127.0.0.1", "--port", str(port), *args],
                           cwd=workdir, env=ledger_env(database_url, **env), log=log)
    scheme = "https" if "--tls-cert" in args else "http"
    server = RunningServer(process, f"{scheme}://127.0.0.1:{port}", log, verify)
    try:
        server.wait_until_healthy()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One real server on a fresh SQLite file, shared by a module's scenarios; the STAFF
    accounts exist and have replaced their one-time passwords with PASSWORD."""
    workdir = tmp_path_factory.mktemp("server")
    database_url = f"sqlite:///{workdir / 'ledger.sqlite3'}"
    provision(workdir, database_url, STAFF)
    running = start_server(workdir, database_url, LEDGER_READ_WAIT_TIMEOUT="2",
                           **QUICK_HASHING)
    for username in STAFF:
        first_login(running.base_url, username)
    yield running
    running.stop()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start servers on a given database for one test; all are stopped afterwards.

    A test names its database fixture before this one, so that the servers stop before
    their database is dropped (fixtures end in reverse order): a server whose database
    went first spent seconds retrying before it stopped."""
    started: list[RunningServer] = []

    def start(database_url: str, *args: str, verify: str | bool = True) -> RunningServer:
        workdir = tmp_path / f"server{len(started)}"
        provision(workdir, database_url, STAFF)
        running = start_server(workdir, database_url, *args, verify=verify, **QUICK_HASHING)
        started.append(running)
        for username in STAFF:
            first_login(running.base_url, username, verify=verify)
        return running

    yield start
    for running in started:
        running.stop()
