"""Resetting a lost second factor (LG-4): an administrator removes another account's TOTP
authenticator, so its owner can log in again and enrol a new one. A high-privilege account's
reset waits for a second administrator's approval (AC-2), as its grants do.

The reset is an event on the account (``SecondFactorReset``): it ends the account's
sessions (they are voided by account version) and makes its next login enrol a second
factor, whatever its roles. The secret itself lives in the credential store, outside the
log, so these handlers are built with it and forget the secret once the reset is durable.
"""

from __future__ import annotations

from typing import Protocol

from commands.accounts import AccountCommand, load_account
from commands.command import Command, Handler, Result
from commands.ports import UnitOfWork
from ledger.domain.errors import WorkflowViolationError


class ResetSecondFactor(AccountCommand):
    """Remove another account's second factor (a lost authenticator); a high-privilege
    account's reset waits for a second administrator's approval."""

    name = "reset-second-factor"


class ApproveSecondFactorReset(AccountCommand):
    """As a second administrator, approve a reset of a high-privilege account's second
    factor."""

    name = "approve-second-factor-reset"


class SecondFactorSecrets(Protocol):
    """The credential store as a reset uses it (``ledger.credentials.CredentialStore``)."""

    def totp_secret(self, username: str) -> tuple[bytes, bool] | None: ...

    def remove_totp_secret(self, username: str) -> bool: ...

    def close_sessions_of(self, username: str) -> int: ...


class SecondFactorResets:
    """The two commands' handlers, over the store that keeps the secrets."""

    def __init__(self, credentials: SecondFactorSecrets) -> None:
        self.credentials = credentials

    def handlers(self) -> dict[type[Command], Handler]:
        return {ResetSecondFactor: self.reset, ApproveSecondFactorReset: self.approve}

    def reset(self, command: ResetSecondFactor, uow: UnitOfWork) -> Result:
        account = load_account(uow, command.username)
        high_privilege = sorted(account.active_roles
                                & set(uow.policy.access.high_privilege_roles))
        done = account.reset_second_factor(by=uow.actor, needs_approval=bool(high_privilege))
        if self.credentials.totp_secret(command.username) is None:
            raise WorkflowViolationError("the account has no second factor to reset",
                                         details={"username": command.username})
        if done:
            self._forget_after_commit(command.username, uow)
        return {"username": command.username, "reset": done,
                "awaiting_approval": not done, "high_privilege_roles": high_privilege}

    def approve(self, command: ApproveSecondFactorReset, uow: UnitOfWork) -> Result:
        account = load_account(uow, command.username)
        account.approve_second_factor_reset(by=uow.actor)
        self._forget_after_commit(command.username, uow)
        return {"username": command.username, "reset": True, "awaiting_approval": False}

    def _forget_after_commit(self, username: str, uow: UnitOfWork) -> None:
        # The event already voids the sessions (by account version); their rows go too.
        def forget() -> None:
            self.credentials.remove_totp_secret(username)
            self.credentials.close_sessions_of(username)

        uow.on_commit(forget)
