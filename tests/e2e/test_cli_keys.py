"""Key management and search on ciphertext from the command line (DP-2, DL-4)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ledger.crypto import KeyMaterialError
from ledger.domain.errors import PermissionDeniedError
from tests.e2e.test_cli import Cli, register, staffed
from tests.factories import make_profile

pytestmark = pytest.mark.e2e


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return staffed(Cli(tmp_path))


def test_a_customer_is_found_by_a_phone_typed_another_way(cli: Cli) -> None:
    customer_id = register(cli, basic__phone="+8613800138000")

    found = cli.json("customer", "find-by", "--phone", "+86 138-0013-8000")

    assert [c["customer_id"] for c in found["customers"]] == [customer_id]


def test_finance_may_not_find_by_phone_on_the_command_line(cli: Cli) -> None:
    """Finance may not read phones, so a search by one must not say whose it is (AC-1)."""
    register(cli, basic__phone="+8613800138000")
    cli.json("account", "create", "qian.hui", "--employee-id", "E-qian.hui", "--department",
             "finance", "--role", "finance")
    events_before = cli.stored_events()

    refused = cli("customer", "find-by", "--phone", "+86 138-0013-8000", actor="qian.hui")

    assert refused.returncode == PermissionDeniedError.exit_code, refused.stderr
    assert "+86" not in refused.stdout + refused.stderr
    assert cli.stored_events() == events_before + 1  # the denial's audit record


def test_the_kek_is_rotated_without_touching_events_and_the_old_one_is_no_longer_needed(
        cli: Cli) -> None:
    customer_id = register(cli, basic__phone="+8613900139000")
    events_before = cli.stored_events()
    old_kek = cli.workdir / "old-kek.key"
    shutil.copy(cli.workdir / "var" / "kek.key", old_kek)
    assert cli.json("keys", "status")["active_keys"] == 1

    rotated = cli.json("keys", "rotate-kek")

    assert rotated["rewrapped_keys"] == 1
    assert cli.stored_events() == events_before
    shown = cli.json("customer", "show", customer_id)["customer"]["profile"]["basic"]
    assert shown["phone"] == "+8613900139000"
    refused = cli("keys", "status", LEDGER_KEK_FILE=str(old_kek))
    assert refused.returncode == KeyMaterialError.exit_code
    assert "KEK" in refused.stderr


def test_a_wrong_kek_is_refused_before_anything_is_written(cli: Cli) -> None:
    register(cli)
    events_before = cli.stored_events()
    wrong = cli.workdir / "wrong.key"
    wrong.write_text("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n")
    wrong.chmod(0o600)  # private: refused as the wrong KEK, not for its mode

    refused = cli("customer", "register", cli.write("p.json", make_profile(seed=9)),
                  LEDGER_KEK_FILE=str(wrong))

    assert refused.returncode == KeyMaterialError.exit_code
    assert cli.stored_events() == events_before
