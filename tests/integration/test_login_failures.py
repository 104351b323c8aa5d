"""Every failed login answers the same, whatever failed, so no answer confirms a password
(LG-3, LG-4); the audit record keeps the precise reason. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger.credentials import AuthenticationError
from ledger.domain.account import AccountStatus
from service.bootstrap import Ledger
from tests.accounts import failing_logins
from tests.conftest import FixedClock

HOME = "127.0.0.1"


def failure_kinds(ledger: Ledger, clock: FixedClock) -> dict[str, Callable[[], object]]:
    def attempt(username: str, password: str, code: str | None) -> Callable[[], object]:
        return lambda: ledger.access.identity.login(username, password, code, HOME)

    return {reason: attempt(*login) for reason, login in failing_logins(ledger, clock).items()}


def last_login_failure(ledger: Ledger) -> Any:
    (notification,) = ledger.store.read_log(ledger.store.head_position() - 1, 1)
    return ledger.store.mapper.to_domain_event(notification)


def test_every_failed_login_answers_alike_and_the_audit_says_why(
        ledger: Ledger, clock: FixedClock) -> None:
    answers = {}
    for reason, attempt in failure_kinds(ledger, clock).items():
        with pytest.raises(AuthenticationError) as caught:
            attempt()
        answers[reason] = (type(caught.value), caught.value.code, caught.value.message,
                           caught.value.details)
        assert last_login_failure(ledger).reason == reason

    alike = (AuthenticationError, "unauthenticated", "wrong username or password", {})
    assert answers == dict.fromkeys(answers, alike)


def test_a_missing_wrong_or_used_code_counts_towards_the_lockout(
        ledger: Ledger, clock: FixedClock) -> None:
    attempts = failure_kinds(ledger, clock)
    for reason in ("wrong_password", "totp_missing", "wrong_totp", "totp_replayed"):
        with pytest.raises(AuthenticationError):
            attempts[reason]()
        assert last_login_failure(ledger).reason == reason
    assert ledger.access.credentials.failures("li.na")[0] == 4

    with pytest.raises(AuthenticationError):
        attempts["wrong_totp"]()  # the fifth

    account = ledger.access.identity.account("li.na")
    assert account is not None and account.status is AccountStatus.LOCKED
