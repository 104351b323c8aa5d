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
