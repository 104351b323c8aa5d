"""``ledger account reset-second-factor`` as an administrator runs it on the server: the
local administrator removes an employee's lost authenticator, and the next login enrols a
new one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.domain.errors import WorkflowViolationError
from ledger.settings import Settings
from service.bootstrap import bootstrap
from tests.accounts import PASSWORD, enrolled, open_account
from tests.conftest import FAST_HASHING_POLICY, FixedClock
from tests.e2e.test_cli_legal_holds import Cli

pytestmark = pytest.mark.e2e


def test_the_local_administrator_resets_a_lost_second_factor(tmp_path: Path,
                                                             clock: FixedClock) -> None:
    cli = Cli(tmp_path)
    cli.json("init")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                        data_dir=tmp_path / "var", policy_file=FAST_HASHING_POLICY)
    with bootstrap(settings, clock=clock, start_projections=False) as ledger:
        open_account(ledger, "li.na", "sales")
        enrolled(ledger, clock, "li.na")
        open_account(ledger, "no.factor", "sales")

    done = cli.json("account", "reset-second-factor", "li.na", "--reason", "phone lost")
    refused = cli("account", "reset-second-factor", "no.factor")

    assert (done["command"], done["result"]["reset"]) == ("reset-second-factor", True)
    assert refused.exit_code == WorkflowViolationError.exit_code
    assert "no second factor to reset" in refused.output
    with bootstrap(settings, clock=clock, start_projections=False) as ledger:
        assert ledger.access.credentials.totp_secret("li.na") is None
        login = ledger.access.identity.login("li.na", PASSWORD, None, "127.0.0.1")
    assert login["totp_enrolment_required"] is True
