"""Another process (a backup tool, a second CLI) holds SQLite's write lock: read-only
commands still answer, since they take no write lock; a write waits the busy timeout and
then exits with ``unavailable``'s code, not a traceback."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ledger.transient import UnavailableError
from tests.e2e.test_cli import Cli, register, staffed

pytestmark = pytest.mark.e2e

QUICK = {"LEDGER_SQLITE_BUSY_TIMEOUT": "1", "LEDGER_DATABASE_RETRY_SECONDS": "0",
         "LEDGER_CLIENT_RETRY_DEADLINE": "0"}


@contextmanager
def write_locks_held(cli: Cli) -> Iterator[None]:
    """The event store's and the key store's write locks, held by this test's process."""
    held = []
    for path in (cli.database, cli.database.with_name("ledger.keys.sqlite3")):
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.append(other)
    try:
        yield
    finally:
        for other in held:
            other.execute("ROLLBACK")
            other.close()


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    # Shared by the module: no scenario here changes the store.
    runner = staffed(Cli(tmp_path_factory.mktemp("locks")))
    register(runner)
    # Bring every follower current, as a running service would keep it.
    runner.json("projections", "status")
    return runner


@pytest.mark.parametrize("command", [["projections", "status"], ["keys", "status"],
                                     ["policy", "show"]], ids=" ".join)
def test_a_read_only_command_answers_while_another_process_holds_the_write_lock(
        cli: Cli, command: list[str]) -> None:
    with write_locks_held(cli):
        done = cli(*command, **QUICK)
    assert done.returncode == 0, done.stderr


def test_a_write_under_a_held_lock_exits_unavailable_without_a_traceback(cli: Cli) -> None:
    profile = cli.write("another.json", json.loads(
        (cli.workdir / "profile.json").read_text(encoding="utf-8")))
    before = cli.stored_events()
    with write_locks_held(cli):
        done = cli("customer", "register", profile, **QUICK)

    assert done.returncode == UnavailableError.exit_code, done.stderr
    assert json.loads(done.stderr)["error"]["code"] == "unavailable"
    assert "Traceback" not in done.stderr
    assert cli.stored_events() == before
