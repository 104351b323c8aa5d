"""Real ``ledger serve`` and ``ledger worker`` processes on one PostgreSQL, for the
scenarios of several processes: started from one provisioned directory (the keys are
shared, as they must be on every machine), bounded in time, killed at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from commands.idempotency import command_record_id
from ledger.job_locks import HOLDERS_SQL, LOCK_PARAMS, holders_from
from ledger.sql import sql_placeholders
from service.client import LedgerClient
from service.processes import background_jobs
from tests.e2e.conftest import LEDGER, PASSWORD, RunningServer, free_port, ledger_env

# Spawning N interpreters that each import the stack and bootstrap takes a while on a
# loaded machine (two cores shared by many): generous, still bounded.
SEVERAL_STARTUP_TIMEOUT = 90.0


def start_ledger_process(workdir: Path, database_url: str, *args: str, log_name: str,
                         **env: str) -> subprocess.Popen[bytes]:
    with (workdir / log_name).open("ab") as sink:
        return subprocess.Popen([LEDGER, *args], cwd=workdir,
                                env=ledger_env(database_url, **env),
                                stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=subprocess.STDOUT)


def start_serving(workdir: Path, database_url: str, *args: str, port: int | None = None,
                  **env: str) -> RunningServer:
    """``ledger serve`` with ``args``; returns once /healthz answers."""
    port = port or free_port()
    process = start_ledger_process(workdir, database_url, "serve", "--host", "127.0.0.1",
                                   "--port", str(port), *args, log_name=f"serve-{port}.log",
                                   **env)
    server = RunningServer(process, f"http://127.0.0.1:{port}", workdir / f"serve-{port}.log")
    deadline = time.monotonic() + SEVERAL_STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ledger serve exited with {process.returncode}:\n"
                                 f"{server.output()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=5).status_code in (200, 503):
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise AssertionError(f"ledger serve did not answer within {SEVERAL_STARTUP_TIMEOUT}s")


def child_pids(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found.extend(int(child) for child in children)
    return found


def answering_processes(base_url: str, wanted: int = 2,
                        within: float = SEVERAL_STARTUP_TIMEOUT) -> set[str]:
    """Which server processes answer /healthz, each try on a fresh connection, until
    ``wanted`` have (the later ones may still be starting) or ``within`` seconds pass."""
    seen: set[str] = set()
    deadline = time.monotonic() + within
    while len(seen) < wanted and time.monotonic() < deadline:
        seen.add(httpx.get(f"{base_url}/healthz", timeout=30).json()["process"])
        time.sleep(0.05)
    return seen


def kill_hard(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


@dataclass
class Acknowledged:
    """What the clients were told: each command id with its outcome."""

    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, command_id: str, outcome: dict[str, Any]) -> None:
        with self.lock:
            self.outcomes[command_id] = outcome


def register_from_threads(base_url: str, threads: int, per_thread: int,
                          profile: Callable[[], dict[str, Any]], *, username: str = "li.na",
                          tolerate: Callable[[BaseException], bool] = lambda _: False,
                          stop: threading.Event | None = None,
                          acknowledged: Acknowledged | None = None) -> Acknowledged:
    """``threads`` clerks over HTTP each registering ``per_thread`` customers with their
    own command ids, each command sent twice (a client's retry, possibly to another
    process): the second answer must be the first's. Failures the caller expects (a
    killed process's dropped connection) are ``tolerate``d and the command is not
    counted as acknowledged. ``acknowledged``, if given, is filled as the answers come."""
    acknowledged = acknowledged if acknowledged is not None else Acknowledged()
    start = threading.Barrier(threads)

    def clerk(number: int) -> None:
        try:
            with LedgerClient.over_http(base_url, username=username, password=PASSWORD,
                                        timeout=60) as client:
                start.wait()
                for i in range(per_thread):
                    if stop is not None and stop.is_set():
                        return
                    command_id = f"clerk-{number}-{i}"
                    chosen = profile()
                    try:
                        first = client.register_customer(chosen, command_id=command_id)
                    except BaseException as error:
                        if tolerate(error):
                            continue
                        raise
                    acknowledged.add(command_id, first)
                    try:
                        again = client.register_customer(chosen, command_id=command_id)
                    except BaseException as error:
                        if tolerate(error):
                            continue
                        raise
                    if again["position"] != first["position"]:
                        raise AssertionError(f"{command_id} was told two positions")
        except BaseException as error:
            with acknowledged.lock:
                acknowledged.failures.append(error)

    workers = [threading.Thread(target=clerk, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(180)
    return acknowledged


def stored_command_records(database_url: str) -> dict[str, list[int]]:
    """Each command record's positions in the log, by its originator id (as text)."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT originator_id::text, notification_id FROM ledger_events "
            "ORDER BY notification_id").fetchall()
    found: dict[str, list[int]] = {}
    for originator_id, position in rows:
        found.setdefault(originator_id, []).append(position)
    return found


def assert_each_acknowledged_once(database_url: str, acknowledged: Acknowledged) -> None:
    """Every acknowledged command's record is in the log exactly once, at the position
    its client was told."""
    records = stored_command_records(database_url)
    for command_id, outcome in acknowledged.outcomes.items():
        positions = records.get(str(command_record_id(command_id)), [])
        assert positions == [outcome["position"]], (command_id, positions, outcome)


def start_worker(workdir: Path, database_url: str, *args: str, name: str,
                 **env: str) -> subprocess.Popen[bytes]:
    """``ledger worker`` with ``args``, its output in ``<name>.log``."""
    return start_ledger_process(workdir, database_url, "worker", *args,
                                log_name=f"{name}.log", **env)


def known_jobs(database_url: str) -> list[str]:
    """Every background job of the ledger at ``database_url`` (its read models from the
    checkpoint table, which ``ledger init`` fills)."""
    with psycopg.connect(database_url) as connection:
        names = [row[0] for row in connection.execute(
            "SELECT name FROM projection_checkpoints").fetchall()]
    return background_jobs(names)


def lock_table(database_url: str, jobs: list[str]) -> dict[str, int]:
    """Each held job and the process id of its holder (as the holder named itself)."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(sql_placeholders(HOLDERS_SQL).encode(),
                                  LOCK_PARAMS).fetchall()
    return {job: int(holder.process.rsplit(":", 1)[1])
            for job, holder in holders_from(rows, jobs).items()}


def wait_for_lock_table(database_url: str, jobs: list[str],
                        done: Callable[[dict[str, int]], bool],
                        within: float = SEVERAL_STARTUP_TIMEOUT) -> dict[str, int]:
    """Poll the lock table until ``done`` says it is as wanted (bounded)."""
    deadline = time.monotonic() + within
    while True:
        table = lock_table(database_url, jobs)
        if done(table):
            return table
        if time.monotonic() > deadline:
            raise AssertionError(f"the lock table did not settle: {table}")
        time.sleep(0.05)
