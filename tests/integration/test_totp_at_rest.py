"""TOTP secrets at rest (LG-4, issue 10 item 13), on SQLite and PostgreSQL: the event-store
database holds them only sealed under a credential key that the key store keeps wrapped
under the KEK, so a copy of that database mints no second-factor code; enrolment and
logins go on working after a restart and after a KEK rotation."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger import totp
from ledger.crypto import KeyMaterialError
from service.bootstrap import Ledger
from tests.accounts import PASSWORD, confirm_totp_enrolment, open_account, start_totp_enrolment
from tests.conftest import FixedClock
from tests.privacy_support import database_bytes

HOME = "127.0.0.1"


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


INDEX_KEY = new_key()


@pytest.fixture
def open_ledger(make_ledger: Callable[..., Ledger], tmp_path: Path) -> Callable[..., Ledger]:
    def open_(url: str, kek: str) -> Ledger:
        return make_ledger(url, kek=kek, index_key=INDEX_KEY, data_dir=tmp_path / "var")

    return open_


def enrol(ledger: Ledger, clock: FixedClock, username: str) -> bytes:
    """Enrol an authenticator as its owner would; the secret as the app received it."""
    actor = ledger.access.identity.actor_for(username, HOME)
    shown = start_totp_enrolment(ledger, actor)["secret"]
    secret = base64.b32decode(shown + "=" * (-len(shown) % 8))
    confirm_totp_enrolment(ledger, actor, totp.code_at(secret, clock.now.timestamp()))
    return secret


def log_in_with_code(ledger: Ledger, clock: FixedClock, username: str, secret: bytes
                     ) -> dict[str, Any]:
    clock.now += timedelta(seconds=totp.STEP_SECONDS)  # a fresh, unused code
    return ledger.access.identity.login(username, PASSWORD,
                                        totp.code_at(secret, clock.now.timestamp()), HOME)


def forms_of_secret(secret: bytes) -> set[bytes]:
    """The ways a TOTP secret can sit in stored bytes: raw, base32 (as apps take it), hex."""
    return {secret, totp.secret_text(secret).encode(), secret.hex().encode(),
            secret.hex().upper().encode()}


def places_holding(secret: bytes, ledger: Ledger) -> list[str]:
    """Every file or table of the event store and of the key store holding the secret."""
    places = database_bytes(ledger.settings.database_url) | database_bytes(
        ledger.settings.effective_keystore_url)
    return sorted(place for place, data in places.items()
                  if any(form in data for form in forms_of_secret(secret)))


def stored_secret(ledger: Ledger, username: str) -> bytes:
    with ledger.views.snapshot() as cursor:
        row = cursor.one("SELECT secret FROM totp_secrets WHERE username = :u", {"u": username})
    assert row is not None
    return bytes(row[0])


def test_an_enrolled_secret_is_nowhere_in_the_databases_in_any_form(
        open_ledger: Callable[..., Ledger], database_url: str, clock: FixedClock) -> None:
    ledger = open_ledger(database_url, new_key())
    open_account(ledger, "li.na", "sales")
    secret = enrol(ledger, clock, "li.na")
    assert log_in_with_code(ledger, clock, "li.na", secret)["token"]
    ledger.runner.catch_up()

    assert places_holding(secret, ledger) == []
    ledger.close()
    assert places_holding(secret, ledger) == []  # nor once the write-ahead log is folded in


def test_codes_still_verify_after_a_restart_and_after_a_kek_rotation(
        open_ledger: Callable[..., Ledger], database_url: str, clock: FixedClock) -> None:
    old, new = new_key(), new_key()
    ledger = open_ledger(database_url, old)
    open_account(ledger, "li.na", "sales")
    secret = enrol(ledger, clock, "li.na")
    sealed = stored_secret(ledger, "li.na")
    ledger.close()

    restarted = open_ledger(database_url, old)
    assert log_in_with_code(restarted, clock, "li.na", secret)["token"]
    restarted.keys.rotate_kek(base64.b64decode(new))
    restarted.close()

    rotated = open_ledger(database_url, new)
    assert log_in_with_code(rotated, clock, "li.na", secret)["token"]
    # The rotation re-wrapped the credential key; the sealed secret itself never changed.
    assert stored_secret(rotated, "li.na") == sealed
    rotated.close()
    with pytest.raises(KeyMaterialError, match="not the one this key store was made with"):
        open_ledger(database_url, old)


def test_a_sealed_secret_copied_to_another_account_does_not_open(
        open_ledger: Callable[..., Ledger], database_url: str, clock: FixedClock) -> None:
    ledger = open_ledger(database_url, new_key())
    open_account(ledger, "li.na", "sales")
    open_account(ledger, "zhao.lei", "sales")
    enrol(ledger, clock, "li.na")
    enrol(ledger, clock, "zhao.lei")
    copied = stored_secret(ledger, "li.na")
    with ledger.views.transaction() as cursor:
        cursor.execute("UPDATE totp_secrets SET secret = :s WHERE username = 'zhao.lei'",
                       {"s": copied})

    with pytest.raises(KeyMaterialError, match="does not open for its account"):
        ledger.access.credentials.totp_secret("zhao.lei")


def test_a_secret_stored_bare_by_an_earlier_release_is_sealed_at_start(
        open_ledger: Callable[..., Ledger], database_url: str, clock: FixedClock) -> None:
    kek = new_key()
    ledger = open_ledger(database_url, kek)
    open_account(ledger, "li.na", "sales")
    secret = enrol(ledger, clock, "li.na")
    with ledger.views.transaction() as cursor:  # as releases before sealing stored it
        cursor.execute("UPDATE totp_secrets SET secret = :s WHERE username = 'li.na'",
                       {"s": secret})
    ledger.close()

    restarted = open_ledger(database_url, kek)

    assert stored_secret(restarted, "li.na") != secret
    assert log_in_with_code(restarted, clock, "li.na", secret)["token"]
    restarted.close()
    assert places_holding(secret, restarted) == []
