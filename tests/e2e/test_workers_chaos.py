"""Chaos with several processes on one PostgreSQL: two server processes (``serve --workers
2 --no-background``) and two ``ledger worker`` processes; sixteen clerks register over
HTTP while one server process and the worker driving the most read models are killed
(SIGKILL) mid-run and a worker is started again. Afterwards every acknowledged command is
in the log exactly once, every read model equals a rebuild (by digest), the chain
verifies, and the time the jobs took to be taken over is reported.

One test, bounded: about a hundred commands; generous start-up bounds, no timed assert.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.domain.errors import LedgerError
from ledger.settings import Settings
from projections.digest import read_model_digests
from service.bootstrap import bootstrap
from tests.conftest import FAST_HASHING_POLICY
from tests.e2e.conftest import CLI_TIMEOUT, LEDGER, STAFF, first_login, ledger_env, provision
from tests.e2e.processes import (
    SEVERAL_STARTUP_TIMEOUT,
    Acknowledged,
    answering_processes,
    assert_each_acknowledged_once,
    kill_hard,
    known_jobs,
    register_from_threads,
    start_serving,
    start_worker,
    wait_for_lock_table,
)
from tests.factories import make_profile

FAST_HASHING = {"LEDGER_POLICY_FILE": str(FAST_HASHING_POLICY)}
CLERKS = 16
EACH = 6


def unique_profile() -> dict[str, Any]:
    return make_profile(basic__name=f"Chaos {uuid.uuid4().hex[:10]} 贸易有限公司")


def projections_held(table: dict[str, int], pid: int) -> int:
    return sum(1 for job, holder in table.items() if holder == pid
               and job.startswith("projection:"))


def caught_up(base_url: str) -> dict[str, Any]:
    """Wait until the workers have applied and sealed everything (bounded)."""
    deadline = time.monotonic() + SEVERAL_STARTUP_TIMEOUT
    while True:
        health: dict[str, Any] = httpx.get(f"{base_url}/healthz", timeout=30).json()
        if health["projection_lag"] == 0 and health["sealing_lag"] == 0:
            return health
        if time.monotonic() > deadline:
            raise AssertionError(f"the workers did not catch up: {health}")
        time.sleep(0.1)


@pytest.mark.postgres
def test_killed_server_and_worker_lose_nothing_and_the_jobs_are_taken_over(
        postgres_url: str, tmp_path: Path, record_property: Callable[[str, object], None]
        ) -> None:
    provision(tmp_path, postgres_url, {"li.na": STAFF["li.na"]})
    jobs = known_jobs(postgres_url)
    server = start_serving(tmp_path, postgres_url, "--workers", "2", "--no-background",
                           **FAST_HASHING)
    workers = {name: start_worker(tmp_path, postgres_url, name=name, **FAST_HASHING)
               for name in ("worker-1", "worker-2")}
    try:
        first_login(server.base_url, "li.na")
        serving = answering_processes(server.base_url)
        assert len(serving) == 2
        # The jobs are spread: every one held, each worker holding its half.
        wait_for_lock_table(postgres_url, jobs, lambda table: len(table) == len(jobs) and all(
            list(table.values()).count(process.pid) == len(jobs) // 2
            for process in workers.values()))

        acknowledged = Acknowledged()
        clerks = threading.Thread(target=register_from_threads, kwargs=dict(
            base_url=server.base_url, threads=CLERKS, per_thread=EACH,
            profile=unique_profile, acknowledged=acknowledged,
            # A killed server process's connections drop; the client's own retries
            # usually carry the command to the other, else it is not acknowledged.
            tolerate=lambda error: isinstance(error, LedgerError | httpx.TransportError)))
        clerks.start()
        deadline = time.monotonic() + SEVERAL_STARTUP_TIMEOUT
        while len(acknowledged.outcomes) < CLERKS * EACH // 3 and time.monotonic() < deadline:
            time.sleep(0.01)

        # Mid-run: one server process, and the worker driving the most read models.
        struck_server = sorted(serving)[0]
        kill_hard(int(struck_server.rsplit(":", 1)[1]))
        table = wait_for_lock_table(postgres_url, jobs, lambda table: True)
        busiest = max(workers, key=lambda name: projections_held(table, workers[name].pid))
        killed = workers.pop(busiest)
        kill_hard(killed.pid)
        struck = time.monotonic()
        survivor = next(iter(workers.values())).pid
        wait_for_lock_table(postgres_url, jobs, lambda table: len(table) == len(jobs)
                            and set(table.values()) == {survivor})
        takeover = time.monotonic() - struck
        killed.wait(timeout=30)
        workers[f"{busiest}-again"] = start_worker(tmp_path, postgres_url,
                                                   name=f"{busiest}-again", **FAST_HASHING)
        clerks.join(timeout=300)
        assert not clerks.is_alive()

        # uvicorn's supervisor replaced the killed server process.
        again = answering_processes(server.base_url)
        assert len(again) == 2 and struck_server not in again
        assert acknowledged.failures == []
        assert len(acknowledged.outcomes) >= CLERKS * EACH // 2
        assert_each_acknowledged_once(postgres_url, acknowledged)
        caught_up(server.base_url)
        pids = {process.pid for process in workers.values()}
        rebalanced = wait_for_lock_table(postgres_url, jobs, lambda table: len(table) == len(
            jobs) and set(table.values()) == pids)
        # /healthz, from either server process, names the same holders.
        health = caught_up(server.base_url)
        assert {job: int(process.rsplit(":", 1)[1])
                for job, process in health["driven_by"].items()} == rebalanced
        record_property("takeover_seconds", round(takeover, 3))  # in the JUnit XML too
        print(f"\ntakeover after SIGKILL of the busiest worker: {takeover:.2f} s "
              f"({projections_held(table, killed.pid)} read models); "
              f"{len(acknowledged.outcomes)} commands acknowledged")
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.terminate()
        for process in workers.values():
            process.wait(timeout=60)
        server.stop()
    # SIGTERM stops a worker cleanly: its jobs stopped, its locks released, exit 0.
    for name, process in workers.items():
        output = (tmp_path / f"{name}.log").read_text(encoding="utf-8", errors="replace")
        assert process.returncode == 0, output
        assert "Ledger worker stopped" in output and "Traceback" not in output, output

    # Each read model equals a rebuild from the log, by digest.
    settings = Settings(database_url=postgres_url, data_dir=tmp_path / "var",
                        policy_file=FAST_HASHING_POLICY)
    with bootstrap(settings, start_projections=False) as ledger:
        live = read_model_digests(ledger.views, ledger.runner.projections)
        ledger.runner.rebuild()
        assert read_model_digests(ledger.views, ledger.runner.projections) == live
    chain = subprocess.run([LEDGER, "--json", "audit", "verify"], cwd=tmp_path,
                           env=ledger_env(postgres_url, **FAST_HASHING), text=True,
                           capture_output=True, timeout=CLI_TIMEOUT, check=False,
                           stdin=subprocess.DEVNULL)
    assert chain.returncode in (0, 12), chain.stdout + chain.stderr  # 12: not yet signed
    assert json.loads(chain.stdout)["first_bad_position"] is None, chain.stdout
