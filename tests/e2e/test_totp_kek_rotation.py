"""A KEK rotation with the real ``ledger keys rotate-kek`` keeps enrolled second factors
working (LG-4, issue 10 item 13): the credential key sealing them is re-wrapped with the
data keys, and the new KEK file is as private as the old one."""

from __future__ import annotations

import base64
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from ledger import totp
from ledger.settings import Settings
from service.bootstrap import Ledger, bootstrap
from tests.accounts import PASSWORD, confirm_totp_enrolment, open_account, start_totp_enrolment
from tests.conftest import FAST_HASHING_POLICY, FixedClock
from tests.e2e.conftest import CLI_TIMEOUT, ledger_env
from tests.e2e.forked import run_ledger

pytestmark = pytest.mark.e2e

HOME = "127.0.0.1"


def ledger_in(workdir: Path, clock: FixedClock) -> Ledger:
    return bootstrap(Settings(database_url=f"sqlite:///{workdir / 'var' / 'ledger.sqlite3'}",
                              data_dir=workdir / "var", policy_file=FAST_HASHING_POLICY),
                     clock=clock, start_projections=False)


def test_second_factor_codes_verify_after_ledger_keys_rotate_kek(tmp_path: Path,
                                                                 clock: FixedClock) -> None:
    with ledger_in(tmp_path, clock) as ledger:
        actor = open_account(ledger, "li.na", "sales")
        shown = start_totp_enrolment(ledger, actor)["secret"]
        secret = base64.b32decode(shown + "=" * (-len(shown) % 8))
        confirm_totp_enrolment(ledger, actor, totp.code_at(secret, clock.now.timestamp()))
        old_kek_id = ledger.keys.kek_id

    rotated = run_ledger(["--json", "keys", "rotate-kek"], cwd=tmp_path, timeout=CLI_TIMEOUT,
                         env=ledger_env("sqlite:///var/ledger.sqlite3"))
    assert rotated.returncode == 0, rotated.stderr

    clock.now += timedelta(seconds=totp.STEP_SECONDS)
    with ledger_in(tmp_path, clock) as ledger:
        assert ledger.keys.kek_id != old_kek_id
        session = ledger.access.identity.login("li.na", PASSWORD,
                                               totp.code_at(secret, clock.now.timestamp()),
                                               HOME)
        assert session["token"]
    assert stat.S_IMODE((tmp_path / "var" / "kek.key").stat().st_mode) == 0o600
