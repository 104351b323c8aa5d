"""Resetting a lost second factor (LG-4), on SQLite and PostgreSQL: given an employee who
logs in with a TOTP code, when an administrator resets the second factor, then the
employee's sessions end, the secret is gone, and the next login (with the password alone)
must enrol a new authenticator before it acts with any role. A high-privilege account's
reset waits for a second administrator. Every refusal writes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from commands.actor import Actor
from commands.second_factor_reset import ApproveSecondFactorReset, ResetSecondFactor
from ledger import totp
from ledger.credentials import AuthenticationError
from ledger.domain.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    WorkflowViolationError,
)
from projections.audit import AuditTrailQuery
from service.bootstrap import Ledger
from service.client import LedgerClient
from tests.accounts import ADMIN, PASSWORD, SECOND_ADMIN, enrolled, open_account
from tests.conftest import FixedClock
from tests.privacy_support import AUDITOR, ask
from tests.store_snapshot import only_a_denial_recorded, store_unchanged

HERE = "127.0.0.1"


def logged_in(ledger: Ledger, clock: FixedClock, username: str, *roles: str) -> str:
    """Given ``username`` holding ``roles``, with a confirmed authenticator, logged in with
    a code: the session's token."""
    open_account(ledger, username, *roles)
    secret = enrolled(ledger, clock, username)
    code = totp.code_at(secret, clock.now.timestamp())
    token: str = ledger.access.identity.login(username, PASSWORD, code, HERE)["token"]
    clock.now += timedelta(seconds=totp.STEP_SECONDS)
    return token


def reset(ledger: Ledger, username: str, by: Actor = ADMIN) -> dict[str, Any]:
    result: dict[str, Any] = ledger.bus.execute(ResetSecondFactor(username=username), by)[
        "result"]
    return result


def test_a_reset_ends_the_sessions_and_the_next_login_must_enrol_again(
        ledger: Ledger, clock: FixedClock) -> None:
    token = logged_in(ledger, clock, "li.na", "sales")

    assert reset(ledger, "li.na") == {"username": "li.na", "reset": True,
                                      "awaiting_approval": False, "high_privilege_roles": []}

    with pytest.raises(AuthenticationError):
        ledger.access.identity.authenticate(token, HERE)
    assert ledger.access.credentials.totp_secret("li.na") is None
    login = ledger.access.identity.login("li.na", PASSWORD, None, HERE)
    assert login["totp_enrolment_required"] is True  # though no role of hers requires one
    actor = ledger.access.identity.authenticate(login["token"], HERE)
    assert (actor.roles, actor.pending) == (frozenset(), ("totp_enrolment",))


def test_a_high_privilege_accounts_reset_waits_for_a_second_administrator(
        ledger: Ledger, clock: FixedClock) -> None:
    token = logged_in(ledger, clock, "sun.li", "info_mgmt_head")

    assert reset(ledger, "sun.li") == {"username": "sun.li", "reset": False,
                                       "awaiting_approval": True,
                                       "high_privilege_roles": ["info_mgmt_head"]}
    assert ledger.access.identity.authenticate(token, HERE).id == "sun.li"  # not yet
    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError):
        ledger.bus.execute(ApproveSecondFactorReset(username="sun.li"), ADMIN)
    with store_unchanged(ledger.store), pytest.raises(ConflictError):
        reset(ledger, "sun.li", SECOND_ADMIN)

    ledger.bus.execute(ApproveSecondFactorReset(username="sun.li"), SECOND_ADMIN)

    with pytest.raises(AuthenticationError):
        ledger.access.identity.authenticate(token, HERE)
    assert ledger.access.credentials.totp_secret("sun.li") is None


def test_an_administrator_never_resets_their_own_second_factor(
        ledger: Ledger, clock: FixedClock) -> None:
    logged_in(ledger, clock, "ops.wu", "sysadmin")
    admin = ledger.access.identity.actor_for("ops.wu")

    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError) as refused:
        reset(ledger, "ops.wu", admin)

    assert "own second factor" in refused.value.message
    assert ledger.access.credentials.totp_secret("ops.wu") is not None


@pytest.mark.parametrize(("command", "error"), [
    (ResetSecondFactor(username="no.factor"), WorkflowViolationError),
    (ResetSecondFactor(username="nobody.here"), NotFoundError),
    (ApproveSecondFactorReset(username="li.na"), WorkflowViolationError),
])
def test_a_reset_of_nothing_is_refused_and_writes_nothing(
        ledger: Ledger, clock: FixedClock, command: Any, error: type[Exception]) -> None:
    logged_in(ledger, clock, "li.na", "sales")
    open_account(ledger, "no.factor", "sales")

    with store_unchanged(ledger.store), pytest.raises(error):
        ledger.bus.execute(command, ADMIN)


def test_only_an_administrator_resets_a_second_factor(ledger: Ledger, clock: FixedClock
                                                      ) -> None:
    logged_in(ledger, clock, "li.na", "sales")
    colleague = open_account(ledger, "wang.fang", "info_mgmt_head")

    with only_a_denial_recorded(ledger.store), pytest.raises(PermissionDeniedError):
        reset(ledger, "li.na", colleague)

    assert ledger.access.credentials.totp_secret("li.na") is not None


def test_the_reset_and_its_approval_are_in_the_audit_trail(ledger: Ledger, clock: FixedClock
                                                           ) -> None:
    logged_in(ledger, clock, "sun.li", "info_mgmt_head")
    reset(ledger, "sun.li")
    ledger.bus.execute(ApproveSecondFactorReset(username="sun.li"), SECOND_ADMIN)

    entries = [(e["operation"], e["actor"]) for e in ask(ledger, AuditTrailQuery(), AUDITOR)[
        "entries"] if e["kind"] == "event" and "SecondFactor" in str(e["operation"])]

    assert entries == [("Account.SecondFactorResetRequested", ADMIN.id),
                       ("Account.SecondFactorReset", SECOND_ADMIN.id)]


def test_the_client_resets_and_approves_as_the_bus_does(ledger: Ledger, clock: FixedClock
                                                        ) -> None:
    logged_in(ledger, clock, "sun.li", "info_mgmt_head")
    first = LedgerClient.in_process(ledger, actor=ADMIN.id, roles=["sysadmin"])
    second = LedgerClient.in_process(ledger, actor=SECOND_ADMIN.id, roles=["sysadmin"])

    assert first.reset_second_factor("sun.li", reason="phone lost")["result"][
        "awaiting_approval"] is True
    assert second.approve_second_factor_reset("sun.li")["result"]["reset"] is True
    assert ledger.access.credentials.totp_secret("sun.li") is None
