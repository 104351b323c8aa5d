"""``ledger backup`` as an operator runs it: the real executable on a SQLite file, backups in
another directory, a restore read back with ``projections digest``, a damaged file caught
by ``verify`` in one line naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.backup.errors import BackupInvalidError, BackupOverdueError
from ledger.domain.errors import ConflictError
from service.preflight import PathUnusableError
from tests.e2e.test_cli import Cli, register, staffed

pytestmark = pytest.mark.e2e


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return staffed(Cli(tmp_path))


@pytest.fixture
def backups(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("offsite") / "events"


def test_back_up_verify_restore_and_drill_from_the_command_line(
        cli: Cli, backups: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    place = {"LEDGER_BACKUP_DIR": str(backups)}
    register(cli)
    full = cli.json("backup", "full", **place)
    register(cli, basic__name="Second Trading Co")
    incremental = cli.json("backup", "incremental", **place)
    keys = cli.json("backup", "keys", **place)
    assert (incremental["parent_id"], incremental["first_position"]) == (
        full["backup_id"], full["last_position"] + 1)

    verdicts = cli.json("backup", "verify", **place)
    assert {v["backup_id"]: v["status"] for v in verdicts} == {
        full["backup_id"]: "valid", incremental["backup_id"]: "valid",
        keys["backup_id"]: "valid"}

    restored = tmp_path_factory.mktemp("restored") / "ledger.sqlite3"
    done = cli.json("backup", "restore", incremental["backup_id"], "--to",
                    f"sqlite:///{restored}", **place)
    assert done["chain_verified"] and done["records"] == incremental["last_position"]
    again = cli("backup", "restore", incremental["backup_id"], "--to", f"sqlite:///{restored}",
                machine=False, **place)
    assert again.returncode == ConflictError.exit_code
    assert len(again.stderr.strip().splitlines()) == 1 and "not empty" in again.stderr

    live = cli.json("projections", "digest")
    copy = cli.json("--database-url", f"sqlite:///{restored}", "projections", "digest")
    assert copy["digests"] == live["digests"]

    drill = cli.json("backup", "drill", **place)
    assert drill["outcome"] == "passed"
    status = cli("backup", "status", **place)
    report = json.loads(status.stdout)
    assert not report["overdue"] and status.returncode == 0, status.stderr


def test_a_damaged_file_fails_verify_in_one_line_naming_it(cli: Cli, backups: Path) -> None:
    place = {"LEDGER_BACKUP_DIR": str(backups)}
    register(cli)
    full = cli.json("backup", "full", **place)
    events = backups / full["backup_id"] / "events.lbk"
    data = bytearray(events.read_bytes())
    data[len(data) // 2] ^= 0xFF
    events.write_bytes(bytes(data))

    done = cli("backup", "verify", machine=False, **place)

    assert done.returncode == BackupInvalidError.exit_code
    [line] = done.stderr.strip().splitlines()
    assert "events.lbk" in line and full["backup_id"] in line


def test_status_without_backups_is_overdue_and_says_so(cli: Cli, backups: Path) -> None:
    done = cli("backup", "status", machine=False, LEDGER_BACKUP_DIR=str(backups))

    assert done.returncode == BackupOverdueError.exit_code
    assert "backups overdue: full, incremental, keys, drill" in done.stderr


def test_a_restore_target_that_is_no_database_is_one_line_and_left_as_it_was(
        cli: Cli, backups: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    place = {"LEDGER_BACKUP_DIR": str(backups)}
    register(cli)
    full = cli.json("backup", "full", **place)
    target = tmp_path_factory.mktemp("target") / "ledger.sqlite3"
    target.write_text("not a database\n", encoding="utf-8")

    done = cli("backup", "restore", full["backup_id"], "--to", f"sqlite:///{target}",
               machine=False, **place)

    assert done.returncode == PathUnusableError.exit_code, done.stderr
    assert done.stderr.strip() == ("error [path_unusable]: a SQLite database the command "
                                   "opened is damaged, or is another kind of file")
    assert target.read_text(encoding="utf-8") == "not a database\n"
    assert [path.name for path in target.parent.iterdir()] == [target.name]
