"""Stopping a real ``ledger serve`` with a real signal, as a service manager (SIGTERM) or a
person at the terminal (SIGINT) does: the server finishes its clean-up and exits 0."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from ledger.keystore import RESERVE_BATCH
from service.client import LedgerClient
from tests.e2e.conftest import (
    CLI_TIMEOUT,
    PASSWORD,
    STOP_TIMEOUT,
    first_login,
    ledger_env,
    provision,
    start_server,
)
from tests.e2e.forked import run_ledger
from tests.factories import make_profile

pytestmark = pytest.mark.e2e


def key_status(workdir: Path, database_url: str) -> dict[str, int]:
    done = run_ledger(["--json", "keys", "status"], cwd=workdir, timeout=CLI_TIMEOUT,
                      env=ledger_env(database_url))
    assert done.returncode == 0, done.stderr
    status: dict[str, int] = json.loads(done.stdout)
    return status


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_server_cleanly_and_releases_its_spare_keys(
        tmp_path: Path, database_url: str, stop: signal.Signals) -> None:
    workdir = tmp_path / "server"
    provision(workdir, database_url, {"li.na": ("sales", ["sales"])})
    server = start_server(workdir, database_url)
    try:
        first_login(server.base_url, "li.na")
        with LedgerClient.over_http(server.base_url, username="li.na", password=PASSWORD,
                                    timeout=30) as sales:
            sales.register_customer(make_profile(seed=20))
        # The registration made a batch of keys ahead; all but one are spare.
        assert RESERVE_BATCH > 1

        server.process.send_signal(stop)
        returncode = server.process.wait(timeout=STOP_TIMEOUT)
    finally:
        server.stop()

    assert returncode == 0, server.output()
    assert "Traceback" not in server.output()
    assert "Customer ledger stopped" in server.output()
    status = key_status(workdir, database_url)
    assert status["active_keys"] == 1, "the one customer's key, and no spare left active"
    assert status["reserved_keys"] == 0
