"""The bus's authoriser (AC-1, OP-1): the policy's permission table, with audited denials.

Every command and query the bus runs is put to ``authorise``. An operation is allowed when
one of the actor's roles lists it, or when it is self-service and aimed at the actor's own
account. A denial appends a ``PermissionDenied`` access event before the caller is told,
so the refusal is in the audit trail (the refused command itself writes nothing); the bus
records the denials other checks raise in the same way, and never one of these twice.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import date

from commands.access_log import AccessLog
from commands.actor import Actor, record_denial
from ledger.credentials import CredentialStore
from ledger.domain.errors import PermissionDeniedError
from ledger.domain.messages import N_, message
from ledger.domain.sensitivity import Clearance
from ledger.policy_access import AccessPolicy

# What a session whose roles are withheld must do first (``Actor.pending``).
PENDING_STEPS = {
    "password_change": N_("the one-time password is changed (POST /commands/change-password)"),
    "totp_enrolment": N_("a second factor is enrolled (POST /auth/totp/enrol, then "
                         "POST /auth/totp/confirm), as the account's roles require"),
}


class RoleUsage:
    """Remembers when each grant was last used (AC-3), writing at most once a day per grant."""

    def __init__(self, credentials: CredentialStore, today: Callable[[], date]) -> None:
        self.credentials = credentials
        self.today = today
        self._written: dict[tuple[str, str], date] = {}
        self._lock = threading.Lock()

    def used(self, username: str, roles: list[str]) -> None:
        day = self.today()
        with self._lock:
            fresh = [role for role in roles if self._written.get((username, role)) != day]
            for role in fresh:
                self._written[(username, role)] = day
        if fresh:
            self.credentials.record_role_use(username, fresh, day)


class PolicyAuthoriser:
    """Allows what the actor's roles allow; records and refuses everything else."""

    def __init__(self, access: AccessPolicy, access_log: AccessLog | None = None,
                 usage: RoleUsage | None = None) -> None:
        self.allowed = {role: frozenset(ops) for role, ops in access.permissions.items()}
        self.self_service = frozenset(access.self_service)
        self.clearance_levels = {role: frozenset(levels)
                                 for role, levels in access.clearance.items()}
        self.sensitive_fields = {level: frozenset(paths)
                                 for level, paths in access.sensitive_fields.items()}
        self.access_log = access_log
        self.usage = usage
        self._clearances: dict[frozenset[str], Clearance] = {}

    def permits(self, roles: frozenset[str], operation: str) -> list[str]:
        """The roles among ``roles`` that allow ``operation``."""
        return sorted(role for role in roles if operation in self.allowed.get(role, ()))

    def authorise(self, actor: Actor, operation: str, target: str | None) -> None:
        permitting = self.permits(actor.roles, operation)
        if permitting:
            if self.usage is not None:
                self.usage.used(actor.id, permitting)
            return
        if operation in self.self_service and target == actor.id:
            return
        if actor.pending:
            # "(roles: none)" alone would read as a missing grant, not a step still to take.
            steps = [message(PENDING_STEPS.get(step, step)) for step in actor.pending]
            denial = PermissionDeniedError(
                message("{operation} is not allowed yet: this session acts with no roles "
                        "until {steps}; the same session then acts with the account's roles",
                        operation=operation, steps=functools.reduce(
                            lambda first, then: message("{first} and {then}", first=first,
                                                        then=then), steps)),
                details={"operation": operation, "target": target,
                         "pending": list(actor.pending)})
        else:
            denial = PermissionDeniedError(
                message("{operation} is not allowed for this account (roles: {roles})",
                        operation=operation,
                        roles=", ".join(sorted(actor.roles)) or message("none")),
                details={"operation": operation, "target": target})
        if self.access_log is not None:
            record_denial(self.access_log, denial, actor, operation, target)
        raise denial

    def clearance_for(self, actor: Actor) -> Clearance:
        """The sensitive fields ``actor`` may not read unmasked (ST-4, P5)."""
        clearance = self._clearances.get(actor.roles)
        if clearance is None:
            levels = frozenset().union(*(self.clearance_levels.get(role, frozenset())
                                         for role in actor.roles))
            hidden = frozenset().union(*(paths for level, paths in self.sensitive_fields.items()
                                         if level not in levels))
            clearance = self._clearances[actor.roles] = Clearance(hidden)
        return clearance
