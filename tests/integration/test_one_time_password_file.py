"""The first administrator's one-time password file (LG-1, issue 10 item 14), on SQLite and
PostgreSQL: private while it is needed, and gone once the password it holds is changed,
whichever process or entry point changed it."""

from __future__ import annotations

import base64
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from commands.accounts import ChangePassword
from commands.actor import Actor
from service.bootstrap import Ledger
from service.first_admin import ensure_first_administrator
from service.one_time_password import ONE_TIME_PASSWORD_FILE
from tests.accounts import ADMIN, PASSWORD, create

# Both machines hold the same keys; only their data directories differ.
KEYS = {purpose: base64.b64encode(secrets.token_bytes(32)).decode()
        for purpose in ("kek", "index_key")}


def first_administrator(ledger: Ledger) -> tuple[str, str]:
    created = ensure_first_administrator(ledger, ADMIN)
    assert created is not None
    return created["username"], created["one_time_password"]


def change_password(ledger: Ledger, username: str, current: str) -> None:
    ledger.bus.execute(ChangePassword(username=username, current_password=current,
                                      new_password=PASSWORD), Actor(username))


def test_the_file_is_private_and_stays_until_the_password_is_changed(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    ledger = make_ledger(database_url, data_dir=data_dir)
    username, one_time = first_administrator(ledger)
    secret = data_dir / ONE_TIME_PASSWORD_FILE
    assert secret.read_text(encoding="utf-8").split() == [username, one_time]
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700

    create(ledger, "li.na")  # another account's change leaves the file alone
    assert secret.exists()

    change_password(ledger, username, one_time)
    assert not secret.exists()


def test_a_password_changed_by_another_process_removes_the_file_at_the_next_start(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> None:
    """As when the service runs on another machine: the file's own machine notices when
    any ``ledger`` command or the service starts there."""
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    initialised = make_ledger(database_url, data_dir=here, **KEYS)
    username, one_time = first_administrator(initialised)
    initialised.close()
    other = make_ledger(database_url, data_dir=elsewhere, **KEYS)
    change_password(other, username, one_time)
    assert (here / ONE_TIME_PASSWORD_FILE).exists()

    make_ledger(database_url, data_dir=here, **KEYS)

    assert not (here / ONE_TIME_PASSWORD_FILE).exists()
