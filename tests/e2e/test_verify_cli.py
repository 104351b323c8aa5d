"""``ledger projections verify`` and ``ledger keys verify`` as an auditor runs them (AU-6):
the real executable on a SQLite file, clean and after a rogue administrator's direct SQL."""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from ledger.crypto import KeyMaterialError
from ledger.integrity.report import IntegrityViolationError
from tests.e2e.test_cli import Cli, register, staffed, words

pytestmark = pytest.mark.e2e
FOUND = IntegrityViolationError.exit_code


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return staffed(Cli(tmp_path))


def tamper(database: Path, statement: str, *params: object) -> None:
    with closing(sqlite3.connect(database)) as db, db:
        db.execute(statement, params)


def test_a_ledger_that_only_followed_its_log_passes_both_checks(cli: Cli) -> None:
    register(cli)

    models = cli("projections", "verify")
    keys = cli("keys", "verify", "--json", machine=False)
    shown = cli("projections", "verify", machine=False)

    assert models.returncode == 0, models.stderr
    report = json.loads(models.stdout)
    assert report["ok"] is True
    assert {m["read_model"] for m in report["read_models"]} >= {"customer_view", "accounts"}
    assert keys.returncode == 0, keys.stderr
    assert json.loads(keys.stdout)["live_customers"] == 1
    assert shown.returncode == 0 and "Read models and snapshots: OK" in words(shown.stdout)


def test_an_edited_customer_view_row_is_named_and_exits_with_the_integrity_code(
        cli: Cli) -> None:
    customer_id = register(cli)
    cli.json("customer", "show", customer_id)  # the read models are caught up
    tamper(cli.database, "UPDATE customer_view SET source_channel = 'forged' "
                         "WHERE customer_id = ?", customer_id)

    machine = cli("projections", "verify")
    human = cli("projections", "verify", machine=False)

    assert machine.returncode == FOUND
    view = {m["read_model"]: m for m in json.loads(machine.stdout)["read_models"]}[
        "customer_view"]
    assert view["differences"] == [{"table": "customer_view", "problem": "row differs",
                                    "columns": ["source_channel"],
                                    "key": {"customer_id": customer_id}}]
    assert json.loads(machine.stderr)["error"]["code"] == "integrity_violation"
    assert human.returncode == FOUND
    assert customer_id in human.stdout and "customer_view" in human.stderr


def test_a_deleted_and_an_extra_key_are_named_by_customer_id(cli: Cli) -> None:
    customer_id = register(cli)
    stray = str(uuid.uuid4())
    keys = cli.workdir / "ledger.keys.sqlite3"
    tamper(keys, "INSERT INTO data_keys (customer_id, key_id, wrapped, kek_id, created_at) "
                 "SELECT ?, 'forged', wrapped, kek_id, created_at FROM data_keys "
                 "WHERE customer_id = ?", stray, customer_id)
    tamper(keys, "DELETE FROM data_keys WHERE customer_id = ?", customer_id)

    machine = cli("keys", "verify")
    human = cli("keys", "verify", machine=False)
    read = cli("customer", "show", customer_id)

    assert machine.returncode == FOUND
    findings = json.loads(machine.stdout)["findings"]
    assert sorted((f["kind"], f["customer_id"]) for f in findings) == sorted([
        ("missing_key", customer_id), ("key_without_customer", stray)])
    assert human.returncode == FOUND and customer_id in human.stdout and stray in human.stdout
    assert read.returncode == KeyMaterialError.exit_code
    assert "[erased]" not in read.stdout


def test_an_erasure_only_the_key_store_records_is_explained_in_plain_text(cli: Cli) -> None:
    customer_id = register(cli)
    keys = cli.workdir / "ledger.keys.sqlite3"
    tamper(keys, "INSERT INTO erased_keys (customer_id, key_id, erased_at) "
                 "SELECT customer_id, key_id, created_at FROM data_keys WHERE customer_id = ?",
           customer_id)
    tamper(keys, "DELETE FROM data_keys WHERE customer_id = ?", customer_id)

    human = cli("keys", "verify", machine=False)

    assert human.returncode == FOUND
    shown = words(human.stdout)
    assert "erased_in_key_store_only" in shown
    assert "would read as [erased]" in shown and "\\[erased]" not in human.stdout


# An event edited by hand so that it no longer decodes: cut short, rewritten as text, or
# still JSON with a field renamed.
UNDECODABLE = {
    "cut short": "UPDATE stored_events SET state = CAST(substr(CAST(state AS TEXT), 1, 100)"
                 " AS BLOB) WHERE rowid = ?",
    "rewritten as text": "UPDATE stored_events SET state = replace(state, 'x', 'x')"
                         " WHERE rowid = ?",
    # Still JSON, but no longer the event: one of its fields renamed.
    "a field renamed": "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT),"
                       " '\"profile\"', '\"pr0file\"') AS BLOB) WHERE rowid = ?",
}


@pytest.mark.parametrize("edit", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_an_undecodable_event_is_an_integrity_finding_naming_its_position(
        cli: Cli, edit: str) -> None:
    customer_id = register(cli)
    shown_before = cli.json("customer", "show", customer_id, actor="wang.fang")  # current
    with closing(sqlite3.connect(cli.database)) as db:
        [(position,)] = db.execute(
            "SELECT rowid FROM stored_events WHERE originator_id = ? AND originator_version = 1",
            (uuid.UUID(customer_id).hex,)).fetchall()
    tamper(cli.database, edit, position)

    runs = {name: cli(*args, actor="wang.fang") for name, args in {
        "projections verify": ("projections", "verify"),
        "keys verify": ("keys", "verify"),
        "history": ("history", customer_id),
        "projections rebuild": ("projections", "rebuild"),
    }.items()}
    shown_after = cli.json("customer", "show", customer_id, actor="wang.fang")

    for name, done in runs.items():
        assert done.returncode == FOUND, (name, done.stderr)
        assert "Traceback" not in done.stderr, name
        error = json.loads(done.stderr)["error"]
        assert (error["code"], error["details"]["position"]) == (
            "integrity_violation", position), name
        assert f"position {position}" in error["message"], name
    # the failed rebuild left the read models as they were
    assert shown_after["customer"] == shown_before["customer"]
