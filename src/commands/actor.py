"""Who is asking, and the one hook that decides what they may do: the ``Actor`` every
command and query carries, the ``Authoriser`` the bus puts each operation to, what an
operation is aimed at, and the audit record of a refusal (OP-1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from commands.access_log import AccessLog
from ledger.domain.access import AccessRecord
from ledger.domain.errors import (
    LegalHoldInForceError,
    PermissionDeniedError,
    Problem,
    ValidationFailedError,
)


@dataclass(frozen=True)
class Actor:
    """Who is asking: an account id, the roles it holds, and where the request came from."""

    id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    client_address: str | None = None
    department: str | None = None
    # What the account's owner must do before this session acts with the account's roles
    # ("password_change", "totp_enrolment"); until then it has none, and refusals say why.
    pending: tuple[str, ...] = ()
    # The session the request came in (its reference, ``Session.reference``); None for a
    # trusted in-process caller. A password change keeps this session alone alive.
    session: str | None = None

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > 100 or not self.id.isprintable():
            raise ValidationFailedError([Problem("actor", "must be 1-100 printable characters")])


class Authoriser(Protocol):
    """The one authorisation hook: raise PermissionDeniedError to refuse. An authoriser may
    also offer ``clearance_for(actor)``, the fields a query must mask for that reader."""

    def authorise(self, actor: Actor, operation: str, target: str | None) -> None: ...


class AllowAll:
    """Every actor may do everything: for tests and benchmarks of the bus itself only
    (``bootstrap()`` installs the policy's authoriser)."""

    def authorise(self, actor: Actor, operation: str, target: str | None) -> None:
        return None


def record_denial(access_log: AccessLog, error: PermissionDeniedError, actor: Actor,
                  operation: str, target: str | None) -> None:
    """Write ``error`` to the audit trail as a ``PermissionDenied`` event, unless it is there
    already (OP-1): each refusal is recorded once, whichever check raised it."""
    if error.audited:
        return
    access_log.record(AccessRecord.PermissionDenied, actor=actor.id,
                      client_address=actor.client_address, operation=operation,
                      target=target, roles=sorted(actor.roles))
    error.audited = True


def record_hold_refusal(access_log: AccessLog, error: LegalHoldInForceError, actor: Actor,
                        operation: str, target: str | None) -> None:
    """Write a refusal under a legal hold to the audit trail, once (DL-5): which hold, by
    its id, never its reason or reference."""
    if error.audited:
        return
    access_log.record(AccessRecord.RefusedUnderLegalHold, actor=actor.id,
                      client_address=actor.client_address, operation=operation,
                      target=target, customer_id=str(error.details["customer_id"]),
                      hold_id=str(error.details["hold_id"]))
    error.audited = True


def target_of(message: object) -> str | None:
    """What an operation is aimed at, for the authoriser and the audit trail."""
    for attribute in ("audit_target", "customer_id", "request_id"):
        value = getattr(message, attribute, None)
        if value:
            return str(value)
    return None
