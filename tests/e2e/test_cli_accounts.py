"""Administration on the command line (LG-1, AC-2..AC-4, IR-1, LG-5): the real executable, as
the local administrator."""

from __future__ import annotations

import json
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from ledger.credentials import AuthenticationError
from ledger.domain.errors import ValidationFailedError, WorkflowViolationError
from tests.e2e.test_cli import Cli

pytestmark = pytest.mark.e2e


def test_init_creates_the_first_administrator_once_with_a_private_one_time_password(
        tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    shown = cli("init", machine=False)
    assert shown.returncode == 0, shown.stderr
    secret = tmp_path / "var" / "initial-admin-password.txt"
    username, password = secret.read_text(encoding="utf-8").split()

    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert username == "admin" and password in shown.stdout
    assert "change it" in " ".join(shown.stdout.split())
    assert cli.json("init")["first_administrator"] is None  # never a second time
    listed = cli.json("account", "list")["accounts"]
    assert [(a["username"], a["roles"], a["must_change_password"]) for a in listed] == [
        ("admin", ["sysadmin"], True)]


def test_administration_is_audited_as_the_local_administrator(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.json("init")
    created = cli.json("account", "create", "li.na", "--employee-id", "E1", "--department",
                       "sales", "--role", "sales", LOGNAME="ops.chen")

    assert created["result"]["one_time_password"]
    assert created["result"]["grants"][0]["active"] is True
    with closing(sqlite3.connect(cli.database)) as db:
        rows = db.execute("SELECT state FROM stored_events ORDER BY rowid DESC LIMIT 2")
        metas = [json.loads(row[0])["meta"] for row in rows]
    assert {(m["actor"], m["client_address"]) for m in metas} == {("local-admin:ops.chen",
                                                                   "cli")}


def test_an_account_with_a_role_it_cannot_have_is_not_created_at_all(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.json("init")
    events = cli.stored_events()

    refused = cli("account", "create", "li.na", "--employee-id", "E1", "--department",
                  "sales", "--role", "sales", "--role", "salse")

    assert refused.returncode == ValidationFailedError.exit_code, refused.stderr
    assert "unknown role" in refused.stderr
    assert cli.stored_events() == events
    assert [a["username"] for a in cli.json("account", "list")["accounts"]] == ["admin"]


def test_a_high_privilege_grant_needs_a_second_administrator(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.json("init")
    cli.json("account", "create", "zhao.lei", "--employee-id", "E2", "--department", "audit",
             "--password", "Initial-Pass#2041", LOGNAME="ops.chen")
    granted = cli.json("account", "grant", "zhao.lei", "auditor", LOGNAME="ops.chen")
    assert granted["result"]["active"] is False

    same = cli("account", "approve-grant", "zhao.lei", "auditor", LOGNAME="ops.chen")
    other = cli.json("account", "approve-grant", "zhao.lei", "auditor", LOGNAME="ops.li")

    assert same.returncode == WorkflowViolationError.exit_code, same.stderr
    assert other["result"]["active"] is True
    review = cli.json("access", "review")
    grants = {(a["username"], g["role"]): g for a in review["accounts"] for g in a["grants"]}
    assert grants[("zhao.lei", "auditor")]["approved_by"] == "local-admin:ops.li"


def test_an_incident_locks_a_role_and_a_job_change_revokes_all(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.json("init")
    for name, employee in (("li.na", "E1"), ("zhao.lei", "E2")):
        cli.json("account", "create", name, "--employee-id", employee, "--department",
                 "sales", "--role", "sales", "--role", "finance")

    locked = cli.json("account", "lock-role", "sales", "--reason", "phishing")
    revoked = cli.json("account", "revoke-all", "zhao.lei")

    assert locked["result"]["locked"] == ["li.na", "zhao.lei"]
    assert revoked["result"]["revoked"] == ["finance", "sales"]
    accounts = {a["username"]: a for a in cli.json("account", "list")["accounts"]}
    assert accounts["li.na"]["status"] == "locked" and accounts["zhao.lei"]["roles"] == []
    assert cli.json("account", "unlock", "li.na")["result"]["status"] == "active"


def test_an_actor_without_an_account_is_refused_saying_so(tmp_path: Path) -> None:
    """Not "not allowed for this account", which sent one looking for a missing role: the
    command line's user holds the database, so naming the mistake tells them nothing new."""
    cli = Cli(tmp_path)
    cli.json("init")
    events = cli.stored_events()
    refused = cli("customer", "find", "a", actor="nobody", machine=False)
    assert refused.returncode == AuthenticationError.exit_code, refused.stderr
    said = " ".join(refused.stderr.split())
    assert "the actor (LEDGER_ACTOR) is no account of this ledger" in said
    assert "not allowed" not in said and "Traceback" not in said
    assert cli.stored_events() == events  # refused before the bus: nothing recorded


def test_serve_refuses_plain_http_beyond_loopback(tmp_path: Path) -> None:
    refused = Cli(tmp_path)("serve", "--host", "0.0.0.0", "--port", "1", machine=False)  # noqa: S104
    assert refused.returncode == ValidationFailedError.exit_code
    assert "--tls-cert" in refused.stderr
    half = Cli(tmp_path)("serve", "--tls-cert", "cert.pem", "--port", "1", machine=False)
    assert half.returncode == ValidationFailedError.exit_code
