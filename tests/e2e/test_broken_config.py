"""The real ``ledger`` executable given broken configuration or input: a misspelt policy,
an address nobody answers on, a file that is not UTF-8, a directory that cannot exist, a
bad key, a busy port. Each is refused in one clear line with a documented exit code, no
traceback, and nothing written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from commands.errors import EXIT_CODES
from tests.e2e.conftest import CLI_TIMEOUT, LEDGER, ledger_env

pytestmark = pytest.mark.e2e


def ledger(workdir: Path, *args: str, database_url: str | None = None, **env: str
           ) -> subprocess.CompletedProcess[str]:
    url = database_url or f"sqlite:///{workdir / 'ledger.sqlite3'}"
    return subprocess.run([LEDGER, *args], cwd=workdir, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, check=False, stdin=subprocess.DEVNULL,
                          env=ledger_env(url, **env))


def refused_in_one_line(done: subprocess.CompletedProcess[str], code: str) -> str:
    assert done.returncode == EXIT_CODES[code], done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["policy", "show"], ["init"]])
def test_a_misspelt_operation_in_the_policy_is_refused_naming_the_entry(
        tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "p.toml").write_text('[access.permissions]\nsales = ["get-custmer"]\n',
                                     encoding="utf-8")

    done = ledger(tmp_path, *command, LEDGER_POLICY_FILE="p.toml")

    assert done.returncode == EXIT_CODES["validation_failed"], done.stderr
    assert "access.permissions.sales" in done.stderr
    assert "get-custmer" in done.stderr
    assert "command or query name" in done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["p.toml"]
