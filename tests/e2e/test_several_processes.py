"""Several server processes on one port, on one PostgreSQL (``ledger serve --workers N``):
uvicorn's process model, each process with its own ledger, sharing only the databases.
Commands sent to any of them are recorded exactly once, at the position told; SQLite,
the single-process embedded store, refuses more than one."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from service.cli import app
from tests.e2e.conftest import CLI_TIMEOUT, LEDGER, STAFF, first_login, ledger_env, provision
from tests.e2e.processes import (
    answering_processes,
    assert_each_acknowledged_once,
    child_pids,
    register_from_threads,
    start_serving,
)
from tests.factories import make_profile


def unique_profile() -> dict[str, Any]:
    return make_profile(basic__name=f"Workers {uuid.uuid4().hex[:10]} 贸易有限公司")


def accepted_registrations(base_url: str, token: Path) -> float:
    answer = httpx.get(f"{base_url}/metrics", timeout=10, headers={
        "Authorization": f"Bearer {token.read_text().strip()}"})
    assert answer.status_code == 200, answer.text
    return sum(sample.value for family in text_string_to_metric_families(answer.text)
               for sample in family.samples
               if sample.name == "ledger_commands_total"
               and sample.labels == {"command": "register-customer", "outcome": "accepted"})


def ledger_cli(workdir: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LEDGER, *args], cwd=workdir, env=ledger_env(database_url),
                          text=True, capture_output=True, timeout=CLI_TIMEOUT, check=False,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("how", [("--workers", "2"), ("LEDGER_WORKERS", "2")])
def test_several_server_processes_are_refused_on_sqlite_and_nothing_is_written(
        tmp_path: Path, how: tuple[str, str]) -> None:
    database_url = f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite3'}"
    option, value = how
    args = ["serve", "--port", "1"] + ([option, value] if option.startswith("--") else [])
    env = ledger_env(database_url, **({} if option.startswith("--") else {option: value}))

    done = subprocess.run([LEDGER, *args], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=CLI_TIMEOUT, check=False,
                          stdin=subprocess.DEVNULL)

    assert done.returncode == 3  # invalid settings
    assert "2 server processes need PostgreSQL" in done.stderr
    assert "LEDGER_DATABASE_URL" in done.stderr and "single-process" in done.stderr
    assert list(tmp_path.iterdir()) == []  # no database, no key file, no directory


@pytest.mark.postgres
def test_two_server_processes_on_one_port_record_each_command_exactly_once(
        tmp_path: Path, postgres_url: str) -> None:
    provision(tmp_path, postgres_url, {"li.na": STAFF["li.na"]})
    token = tmp_path / "metrics-token"
    token.write_text("scrape-token-for-the-test\n")
    server = start_serving(tmp_path, postgres_url, "--workers", "2",
                           LEDGER_METRICS_TOKEN_FILE=str(token))
    try:
        first_login(server.base_url, "li.na")
        assert len(child_pids(server.process.pid)) >= 2
        # Connections are spread over both processes by the shared listening socket.
        assert len(answering_processes(server.base_url)) == 2

        acknowledged = register_from_threads(server.base_url, threads=8, per_thread=5,
                                             profile=unique_profile)

        assert acknowledged.failures == []
        assert len(acknowledged.outcomes) == 8 * 5
        assert_each_acknowledged_once(postgres_url, acknowledged)
        # Whichever process a scrape reaches, /metrics adds up both processes' counters:
        # every command was sent twice, and a replay is answered `accepted` too.
        for _ in range(6):
            assert accepted_registrations(server.base_url, token) == 2 * 8 * 5
    finally:
        server.stop()
    assert server.process.returncode == 0, server.output()
    assert "Customer ledger stopped" in server.output()
    # Each read model equals a rebuild from the log, and the hash chain verifies.
    read_models = ledger_cli(tmp_path, postgres_url, "projections", "verify")
    assert read_models.returncode == 0, read_models.stdout + read_models.stderr
    chain = ledger_cli(tmp_path, postgres_url, "audit", "verify")
    assert chain.returncode == 0, chain.stdout + chain.stderr


@pytest.mark.parametrize("args", [["worker"], ["serve", "--no-background", "--port", "1"]])
def test_background_elsewhere_is_refused_on_sqlite_and_nothing_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    database_url = f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite3'}"

    done = CliRunner().invoke(app, ["--database-url", database_url, *args],
                              env=ledger_env(database_url))

    assert done.exit_code == 3, done.output  # invalid settings
    assert "needs PostgreSQL" in done.output and "single-process" in done.output
    assert list(tmp_path.iterdir()) == []  # no database, no key file, no directory


def test_the_sqlite_refusal_names_the_settings_in_the_readers_language(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    database_url = f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite3'}"

    done = CliRunner().invoke(app, ["--lang", "zh-CN", "--database-url", database_url,
                                    "worker"], env=ledger_env(database_url))

    assert done.exit_code == 3, done.output
    assert "ledger worker 需要 PostgreSQL" in done.output
    assert "LEDGER_DATABASE_URL, LEDGER_KEYSTORE_URL 配置的是 SQLite" in done.output
    assert list(tmp_path.iterdir()) == []
