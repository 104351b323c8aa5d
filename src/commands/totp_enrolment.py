"""Enrolling a second factor (LG-4): start, then confirm with a first code, for your own
account. Two commands through the bus like any other: authorised (self-service), audited
by their events, and idempotent by command id.

The secret never enters an event or a command's stored outcome. It is sealed in the
credential store once the start is recorded, and shown by ``provisioning`` (the answer of
``POST /auth/totp/enrol``), only while it awaits confirmation. A retried start (the same
command id) replays its outcome and leaves the stored secret as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Protocol

from pydantic import Field, SecretStr

from commands.accounts import AccountCommand
from commands.command import Command, Handler, Result
from commands.ports import UnitOfWork
from ledger import totp
from ledger.domain.access import AccessRecord
from ledger.domain.errors import (
    ConflictError,
    PermissionDeniedError,
    Problem,
    ValidationFailedError,
)
from ledger.policy_access import LoginPolicy


class StartTotpEnrolment(AccountCommand):
    """Start enrolling a TOTP authenticator for your own account (LG-4)."""

    name = "start-totp-enrolment"


class ConfirmTotpEnrolment(AccountCommand):
    """Confirm the enrolment with a current code; later logins then need a code."""

    name = "confirm-totp-enrolment"
    code: Annotated[SecretStr, Field(min_length=6, max_length=10)]


class TotpSecrets(Protocol):
    """Where second-factor secrets are kept, sealed (``ledger.credentials.CredentialStore``)."""

    def totp_secret(self, username: str) -> tuple[bytes, bool] | None: ...

    def store_totp_secret(self, username: str, secret: bytes, now: datetime) -> None: ...

    def use_totp_step(self, username: str, step: int, now: datetime) -> bool: ...

    def confirm_totp(self, username: str) -> None: ...


class TotpEnrolment:
    """The two commands' handlers, over the store that keeps the secrets."""

    def __init__(self, credentials: TotpSecrets, login: LoginPolicy) -> None:
        self.credentials = credentials
        self.login = login

    def handlers(self) -> dict[type[Command], Handler]:
        return {StartTotpEnrolment: self.start, ConfirmTotpEnrolment: self.confirm}

    def start(self, command: StartTotpEnrolment, uow: UnitOfWork) -> Result:
        username = _own_account(command, uow)
        enrolled = self.credentials.totp_secret(username)
        if enrolled is not None and enrolled[1]:
            raise ConflictError("a TOTP authenticator is enrolled already")
        secret, now = totp.new_secret(), uow.clock()
        uow.add(AccessRecord.record(AccessRecord.TotpEnrolmentStarted, username=username))
        # Kept only once the start is recorded: a retry, whose save is refused, must not
        # replace the secret its first attempt gave out.
        uow.on_commit(lambda: self.credentials.store_totp_secret(username, secret, now))
        return {"username": username, "totp_enrolled": False}

    def confirm(self, command: ConfirmTotpEnrolment, uow: UnitOfWork) -> Result:
        username = _own_account(command, uow)
        enrolled = self.credentials.totp_secret(username)
        if enrolled is None or enrolled[1]:
            raise ConflictError("no TOTP enrolment is waiting for confirmation")
        now = uow.clock()
        step = totp.matching_step(enrolled[0], command.code.get_secret_value(),
                                  now.timestamp())
        # Claiming the code's step is the check itself (on any instance, once): it cannot
        # wait for the commit.
        if step is None or not self.credentials.use_totp_step(username, step, now):
            raise ValidationFailedError([Problem("code", "is not a current, unused code")])
        uow.add(AccessRecord.record(AccessRecord.TotpEnrolled, username=username))
        uow.on_commit(lambda: self.credentials.confirm_totp(username))
        return {"username": username, "totp_enrolled": True}

    def provisioning(self, username: str) -> dict[str, Any]:
        """The secret awaiting confirmation, as text and as an ``otpauth://`` URI for the
        authenticator app; a confirmed secret is never shown again."""
        enrolled = self.credentials.totp_secret(username)
        if enrolled is None or enrolled[1]:
            raise ConflictError("no TOTP enrolment is waiting for confirmation")
        return {"secret": totp.secret_text(enrolled[0]),
                "otpauth_uri": totp.provisioning_uri(enrolled[0], username,
                                                     self.login.totp_issuer)}


def _own_account(command: AccountCommand, uow: UnitOfWork) -> str:
    if command.username != uow.actor:
        # Self-service only: a second factor is enrolled by the one who will use it.
        raise PermissionDeniedError("a second factor is enrolled for your own account only",
                                    details={"username": command.username})
    return command.username
