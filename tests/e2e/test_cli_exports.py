"""``ledger export customers | approve | identify`` as users drive them: the real executable
on a SQLite file. A large export is filed, approved by someone else and run once; the
file it writes is private, and a leaked part of it names who exported it and why."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest

from tests.e2e.test_cli import Cli, register, staffed, words

pytestmark = pytest.mark.e2e

# li.na (sales) is given the bulk-export approval, identification and the trail by the
# policy file; above two customers an export needs an approval.
EXPORT_POLICY = ('[export]\napproval_threshold = 2\n[access.permissions]\n'
                 'sales = ["approve-export", "identify-export", "audit-trail"]\n')


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return staffed(Cli(tmp_path))


@pytest.fixture
def policy(cli: Cli) -> dict[str, str]:
    path = Path(cli.workdir) / "ledger-policy.toml"
    path.write_text(EXPORT_POLICY, encoding="utf-8")
    return {"LEDGER_POLICY_FILE": str(path)}


EXPORT = ("export", "customers", "-f", "basic.name", "-f", "basic.phone",
          "--purpose", "trade fair invitations")


def test_a_large_export_is_approved_run_once_and_its_leak_is_identified(
        cli: Cli, policy: dict[str, str]) -> None:
    for seed in range(3):
        register(cli, basic__name=f"Harbour Export {seed}")
    filed = cli.json(*EXPORT, actor="wang.fang", **policy)
    assert filed["status"] == "pending_approval"
    assert not list(cli.workdir.glob("export-*"))
    cli.json("export", "approve", filed["request_id"], actor="li.na", **policy)
    run = cli.json(*EXPORT, "--request", filed["request_id"], "--out", "leak.csv",
                   actor="wang.fang", **policy)
    leak = cli.workdir / "leak.csv"
    assert run["written_to"] == "leak.csv" and run["result"]["rows"] == 3
    assert stat.S_IMODE(leak.stat().st_mode) == 0o600
    again = cli(*EXPORT, "--request", filed["request_id"], "--out", "again.csv",
                actor="wang.fang", **policy)
    assert again.returncode == 6 and "used already" in again.stderr

    # Only the data rows leak: no mark, no column names.
    (cli.workdir / "part.csv").write_text(
        "\n".join(leak.read_text(encoding="utf-8").splitlines()[2:]), encoding="utf-8")
    shown = cli("export", "identify", "part.csv", actor="li.na", machine=False, **policy)
    assert shown.returncode == 0, shown.stderr
    assert run["export_id"] in shown.stdout
    assert "wang.fang" in shown.stdout and "trade fair invitations" in words(shown.stdout)

    trail = cli("audit", "trail", "--operation", "export", "--csv", machine=False,
                actor="li.na", **policy)
    entries = list(csv.DictReader(io.StringIO(trail.stdout)))
    assert [entry["outcome"] for entry in entries if entry["kind"] == "export"] == [
        "pending_approval", "approved", "used", "ok"]


def test_a_file_of_no_export_says_so(cli: Cli, policy: dict[str, str]) -> None:
    (cli.workdir / "other.csv").write_text("name,phone\nAcme,+8613800000000\n",
                                           encoding="utf-8")
    shown = cli.json("export", "identify", "other.csv", actor="li.na", **policy)
    assert shown["identified"] is False and shown["message"] == "the file matches no export"


def test_an_unknown_field_is_refused_before_anything_is_written(
        cli: Cli, policy: dict[str, str]) -> None:
    before = cli.stored_events()
    refused = cli("export", "customers", "-f", "basic.salary", "--purpose", "x",
                  actor="wang.fang", **policy)
    assert refused.returncode == 3 and "salary" not in refused.stderr
    assert cli.stored_events() == before
    assert not list(cli.workdir.glob("export-*"))


def test_reports_print_as_a_table_or_csv_and_an_export_never_overwrites_a_file(
        cli: Cli, policy: dict[str, str]) -> None:
    register(cli, basic__name="Harbour Report Ltd", source_channel="partner")
    shown = cli("report", "customers", actor="wang.fang", machine=False, **policy)
    assert shown.returncode == 0, shown.stderr
    assert "partner" in shown.stdout and "reflects event position" in words(shown.stdout)
    rows = list(csv.DictReader(io.StringIO(cli("report", "customers", "--csv", machine=False,
                                               actor="wang.fang", **policy).stdout)))
    assert {"dimension": "source_channel", "value": "partner", "customers": "1"} in rows
    unknown = cli("report", "salaries", actor="wang.fang", **policy)
    assert unknown.returncode == 3 and "salaries" not in unknown.stderr

    (cli.workdir / "taken.csv").write_text("mine\n", encoding="utf-8")
    before = cli.stored_events()
    refused = cli(*EXPORT, "--out", "taken.csv", actor="wang.fang", **policy)
    assert refused.returncode != 0 and (cli.workdir / "taken.csv").read_text() == "mine\n"
    assert cli.stored_events() == before  # refused before the export was recorded
    bad_field = cli(*EXPORT, "-f", "basic.salary", "--out", "never.csv", actor="wang.fang",
                    **policy)
    assert bad_field.returncode == 3 and not (cli.workdir / "never.csv").exists()
    exported = cli.json("export", "report", "customers", "--purpose", "board pack",
                        "--out", "board.csv", actor="wang.fang", **policy)
    assert exported["result"]["rows"] == len(rows)
    assert (cli.workdir / "board.csv").read_text().startswith("# ledger export,id=")
