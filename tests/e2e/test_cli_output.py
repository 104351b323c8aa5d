"""What the command line prints is the data, character for character: values holding square
brackets are not read as Rich markup, and piped output is never cut at 80 columns."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.i18n import ENGLISH, format_moment
from ledger.policy import load_policy
from ledger.settings import Settings
from service import first_admin
from service.bootstrap import bootstrap
from service.cli import accounts, app
from tests.e2e.test_cli import Cli, propose, register, staffed, words
from tests.factories import make_profile

pytestmark = pytest.mark.e2e

BRACKETED_NAME = "ACME [international] Trading"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return staffed(Cli(tmp_path))


def table_rows(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("│")]


def test_the_history_table_names_each_events_command_id(cli: Cli) -> None:
    profile = cli.write("profile.json", make_profile(seed=7))
    customer_id = cli.json("customer", "register", profile, "--command-id",
                           "crm-import-row-17")["aggregate_id"]

    history = cli("history", customer_id, actor="wang.fang", machine=False)

    assert history.returncode == 0, history.stderr
    assert "command id" in history.stdout
    [registered] = [row for row in table_rows(history.stdout) if "Registered" in row]
    assert "crm-import-row-17" in registered


def test_a_company_name_with_brackets_is_printed_as_registered(cli: Cli) -> None:
    customer_id = register(cli, basic__name=BRACKETED_NAME)

    found = cli("customer", "find", "acme", machine=False)
    shown = cli("customer", "show", customer_id, machine=False)

    assert found.returncode == 0, found.stderr
    assert BRACKETED_NAME in found.stdout
    assert shown.returncode == 0, shown.stderr
    assert BRACKETED_NAME in shown.stdout


def test_piped_tables_keep_every_id_and_time_whole_however_wide(cli: Cli) -> None:
    customer_id = register(cli, basic__name="Shanghai Mingyuan International Trading and "
                                            "Logistics Company Limited")
    updated_at = cli.json("customer", "find", "shanghai")["customers"][0]["updated_at"]
    # as a person reads it, in the policy's time zone (--json keeps ISO 8601)
    shown_at = format_moment(datetime.fromisoformat(updated_at), ENGLISH, load_policy().zone)

    found = cli("customer", "find", "shanghai", machine=False)

    assert found.returncode == 0, found.stderr
    [row] = table_rows(found.stdout)
    assert customer_id in row and shown_at in row
    assert "Logistics Company Limited" in row  # one line: nothing folded at 80 columns
    assert len(row) > 80
    assert "…" not in found.stdout


def test_the_history_of_an_erased_customer_shows_erased_for_its_personal_values(
        tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.json("init")
    staff = {"li.na": ("sales", "sales"), "zhou.min": ("sales", "department_head"),
             "sun.li": ("info", "info_mgmt_head"), "ops.wu": ("it", "sysadmin")}
    for username, (department, role) in staff.items():
        cli.json("account", "create", username, "--employee-id", f"E-{username}",
                 "--department", department, "--role", role, "--password", "Initial-Pass#2041")
    for username in ("sun.li", "ops.wu"):  # high-privilege grants need a second person
        cli.json("account", "approve-grant", username, staff[username][1], LOGNAME="ops.li")
    customer_id = register(cli)
    propose(cli, customer_id, "basic.phone=+8613911112222")
    request_id = cli.json("deletion", "request", customer_id, "--ground", "relationship_ended",
                          "--details", "contract ended", "--department", "sales"
                          )["aggregate_id"]
    for actor, step in (("zhou.min", "review"), ("sun.li", "approve"), ("ops.wu", "execute")):
        cli.json("deletion", step, request_id, actor=actor)

    history = cli("history", customer_id, actor="sun.li", machine=False)

    assert history.returncode == 0, history.stderr
    [proposed] = [row for row in table_rows(history.stdout) if "ChangeProposed" in row]
    assert '{"basic.phone": "[erased]"}' in proposed
    assert "+8613911112222" not in history.stdout
    shown = cli("customer", "show", customer_id, actor="sun.li", machine=False)
    assert shown.returncode == 0, shown.stderr
    assert "its personal data was destroyed ([erased])" in words(shown.stdout)


@pytest.mark.parametrize("generated", ["Kq7[bold]x[/]9#Zt-mW2", "Vr4#[/]Lp8[/]Qz2:Hx",
                                       "Tn5[/]Wd9[red]Bq#3\\"])
def test_a_generated_one_time_password_with_markup_is_shown_in_full_and_opens_the_account(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, generated: str) -> None:
    database_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    Cli(tmp_path).json("init")
    monkeypatch.chdir(tmp_path)
    # The one thing not left to chance: which password the generator draws.
    monkeypatch.setattr(accounts, "generate_password", lambda _policy: generated)

    created = CliRunner().invoke(app, ["account", "create", "li.na", "--employee-id", "E1",
                                       "--department", "sales"],
                                 env={"LEDGER_DATABASE_URL": database_url})

    assert created.exit_code == 0, created.output
    [row] = [line for line in created.stdout.splitlines() if "one_time_password" in line]
    assert row.split() == ["one_time_password", generated]
    with bootstrap(Settings(database_url=database_url), start_projections=False) as ledger:
        session = ledger.access.identity.login("li.na", generated, client_address="127.0.0.1")
    assert session["password_change_required"]


def test_init_shows_the_first_administrators_password_and_the_paths_exactly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generated = "Pw9[/]x[bold]Zq#4-mW2"
    data_dir = tmp_path / "var [live]"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(first_admin, "generate_password", lambda _policy: generated)

    initialised = CliRunner().invoke(app, ["init"], env={
        "LEDGER_DATABASE_URL": f"sqlite:///{data_dir / 'ledger.sqlite3'}",
        "LEDGER_DATA_DIR": str(data_dir)})

    assert initialised.exit_code == 0, initialised.output
    output = " ".join(initialised.stdout.split())
    assert f"one-time password {generated} (shown once" in output
    assert str(data_dir / "ledger.sqlite3") in output


def test_a_list_cut_at_its_limit_says_so(cli: Cli) -> None:
    for seed in (1, 2):
        cli.json("customer", "register",
                 cli.write(f"p{seed}.json", make_profile(seed=seed, basic__name=f"Acme {seed}")))

    cut = cli("customer", "find", "acme", "--limit", "1", machine=False)
    whole = cli("customer", "find", "acme", "--limit", "2", machine=False)

    assert cut.returncode == 0, cut.stderr
    assert "1 found (the first ones only: more exist; raise --limit)" in " ".join(
        cut.stdout.split())
    assert "2 found;" in whole.stdout and "more exist" not in whole.stdout


def test_the_pending_proposals_take_a_limit_and_say_when_more_wait(cli: Cli) -> None:
    customer_id = register(cli)
    for fax in ("+862112345678", "+862112345679"):
        propose(cli, customer_id, f"basic.fax={fax}")

    cut = cli("change", "pending", "--limit", "1", machine=False)
    machine = cli.json("change", "pending", "--limit", "1")
    refused = cli("change", "pending", "--limit", "0")

    assert cut.returncode == 0, cut.stderr
    assert "1 pending (the first ones only: more exist; raise --limit)" in " ".join(
        cut.stdout.split())
    assert len(machine["proposals"]) == 1 and machine["more"] is True
    assert refused.returncode == 3 and "limit" in refused.stderr
