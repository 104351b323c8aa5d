"""One error hierarchy for the whole ledger, each error with a stable machine code.

Messages never contain personal data: they name fields and rules, never values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Problem:
    """One reason an input was refused: which field, and what is wrong with it."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class LedgerError(Exception):
    """Base of every error the ledger reports to its callers."""

    code: ClassVar[str] = "ledger_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationFailedError(LedgerError):
    """The input breaks the entry standard or misses mandatory fields."""

    code = "validation_failed"

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.field, p.message))
        fields = ", ".join(dict.fromkeys(p.field for p in self.problems))
        super().__init__(
            message or f"invalid input in: {fields}",
            details={"problems": [p.as_dict() for p in self.problems]},
        )

    @property
    def fields(self) -> list[str]:
        return list(dict.fromkeys(p.field for p in self.problems))


class NotFoundError(LedgerError):
    """The named record does not exist."""

    code = "not_found"


class ConflictError(LedgerError):
    """The record changed since the caller read it, or a command id was reused."""

    code = "conflict"


class WorkflowViolationError(LedgerError):
    """The step is not allowed at this point of the workflow, or by this person."""

    code = "workflow_violation"


class PermissionDeniedError(LedgerError):
    """The actor may not perform this operation."""

    code = "permission_denied"
    # Set by whoever writes the refusal to the audit trail: a denial passes several layers
    # on its way out (the authoriser, the bus), and each must record it exactly once.
    audited: bool = False


class AuthenticationError(LedgerError):
    """No valid session: no token, an expired or revoked one, or a failed login."""

    code = "unauthenticated"


class KeyMaterialError(LedgerError):
    """A key is missing, malformed, or not the one the key store was made with."""

    code = "key_material"


class IntegrityViolationError(LedgerError):
    """Verification found the stored history altered, or a checkpoint that does not hold."""

    code = "integrity_violation"


class IntegrityUnverifiedError(LedgerError):
    """Verification found nothing altered, but older records that no trusted signed
    checkpoint covers: their integrity cannot be shown."""

    code = "integrity_unverified"


class DatabaseUnavailableError(LedgerError):
    """A configured database does not answer: unreachable, refusing, or not created."""

    code = "database_unavailable"


class PathUnusableError(LedgerError):
    """A configured file or directory cannot be created or opened: its parent is a file,
    it lies on a file system that holds none (``/proc``), or its owner may not write it."""

    code = "path_unusable"


class AddressUnusableError(LedgerError):
    """The server cannot listen where it was told: the port is taken, or the address is
    not this machine's, or binding it needs privileges the process lacks."""

    code = "address_unusable"


class ServiceUnavailableError(LedgerError):
    """The ledger service a client was pointed at does not answer (refused, unreachable,
    timed out, or not speaking HTTP)."""

    code = "service_unavailable"


class NotReflectedYetError(LedgerError):
    """A read asked for a position the projections have not reached within the wait."""

    code = "not_reflected_yet"


ERROR_CLASSES: tuple[type[LedgerError], ...] = (
    ValidationFailedError,
    NotFoundError,
    ConflictError,
    WorkflowViolationError,
    PermissionDeniedError,
    NotReflectedYetError,
    AuthenticationError,
    KeyMaterialError,
    IntegrityViolationError,
    IntegrityUnverifiedError,
    DatabaseUnavailableError,
    PathUnusableError,
    AddressUnusableError,
    ServiceUnavailableError,
)
