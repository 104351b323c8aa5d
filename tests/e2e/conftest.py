"""End-to-end fixtures: the real ``ledger`` executable, as a user starts it, in subprocesses.

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

LEDGER = str(Path(sys.executable).with_name("ledger"))
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
CLI_TIMEOUT = 60.0


def ledger_env(database_url: str, **extra: str) -> dict[str, str]:
    """The caller's environment without any LEDGER_* setting of theirs, plus ours."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEDGER_")}
    return env | {"LEDGER_DATABASE_URL": database_url} | extra


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RunningServer:
    """A ``ledger serve`` process and where it listens."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"ledger serve exited with {self.process.returncode}:\n"
                            f"{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
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


def start_server(workdir: Path, database_url: str, **env: str) -> RunningServer:
    """Start ``ledger serve`` on a free port and return once /healthz answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / f"server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [LEDGER, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir, env=ledger_env(database_url, **env),
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
    server = RunningServer(process, f"http://127.0.0.1:{port}", log)
    try:
        server.wait_until_healthy()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One real server on a fresh SQLite file, shared by a module's scenarios."""
    workdir = tmp_path_factory.mktemp("server")
    running = start_server(workdir, f"sqlite:///{workdir / 'ledger.sqlite3'}",
                           LEDGER_READ_WAIT_TIMEOUT="2")
    yield running
    running.stop()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[str], RunningServer]]:
    """Start servers on a given database for one test; all are stopped afterwards."""
    started: list[RunningServer] = []

    def start(database_url: str) -> RunningServer:
        running = start_server(tmp_path / f"server{len(started)}", database_url)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
