"""A command forked from the imported command line answers as the installed ``ledger``
does: the same output, errors, exit code and files, in its own directory and environment."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import CLI_TIMEOUT, RunningServer, free_port, ledger_env
from tests.e2e.forked import LEDGER, run_ledger, spawn_ledger

pytestmark = pytest.mark.e2e


def installed(args: list[str], cwd: Path, env: dict[str, str]
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LEDGER, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, check=False, stdin=subprocess.DEVNULL)


def forked(args: list[str], cwd: Path, env: dict[str, str]
           ) -> subprocess.CompletedProcess[str]:
    return run_ledger(args, cwd=cwd, env=env, timeout=CLI_TIMEOUT)


@pytest.mark.parametrize("args", [
    ["--help"],
    ["--json", "customer", "show", "not-a-customer-id"],
    ["--json", "policy", "show"],
], ids=["help", "refused", "policy"])
def test_a_forked_command_prints_and_exits_as_the_installed_one(tmp_path: Path,
                                                                args: list[str]) -> None:
    answers = []
    for run in (installed, forked):
        workdir = tmp_path / run.__name__
        workdir.mkdir()
        env = ledger_env(f"sqlite:///{workdir / 'ledger.sqlite3'}", LEDGER_ACTOR="li.na")
        done = run(args, workdir, env)
        # Log lines carry their time; the rest must be the same.
        answers.append((done.returncode, done.stdout,
                        re.sub(r"^\S+Z \[", "[", done.stderr, flags=re.MULTILINE)
                        .replace(str(workdir), "<workdir>")))

    assert answers[0] == answers[1]


def test_a_forked_command_works_in_its_own_directory_and_environment(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()

    made = run_ledger(["--json", "init"], cwd=first, timeout=CLI_TIMEOUT,
                      env=ledger_env("sqlite:///var/ledger.sqlite3"))
    refused = run_ledger(["--json", "init"], cwd=second, timeout=CLI_TIMEOUT,
                         env=ledger_env("sqlite:///var/ledger.sqlite3",
                                        LEDGER_ENVIRONMENT="production"))

    assert made.returncode == 0, made.stderr
    assert (first / "var" / "ledger.sqlite3").exists()
    assert refused.returncode != 0 and "LEDGER_" in refused.stderr
    assert list(second.iterdir()) == []


def test_a_forked_server_stops_cleanly_on_a_signal(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    server = spawn_ledger(["serve", "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path,
                          log=log, env=ledger_env(f"sqlite:///{tmp_path / 'ledger.sqlite3'}"))
    running = RunningServer(server, f"http://127.0.0.1:{port}", log)
    try:
        running.wait_until_healthy()
        assert server.poll() is None
    finally:
        server.terminate()

    assert server.wait(timeout=CLI_TIMEOUT) == 0
    assert "Customer ledger stopped" in running.output()
