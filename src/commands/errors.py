"""The error codes, and their one mapping to HTTP status codes and CLI exit codes."""

from __future__ import annotations

from typing import Any

from ledger.domain.errors import (
    ERROR_CLASSES,
    AddressUnusableError,
    AuthenticationError,
    ConflictError,
    DatabaseUnavailableError,
    IntegrityUnverifiedError,
    IntegrityViolationError,
    KeyMaterialError,
    LedgerError,
    NotFoundError,
    NotReflectedYetError,
    PathUnusableError,
    PermissionDeniedError,
    Problem,
    ServiceUnavailableError,
    ValidationFailedError,
    WorkflowViolationError,
)

HTTP_STATUS: dict[str, int] = {
    ValidationFailedError.code: 422,
    NotFoundError.code: 404,
    ConflictError.code: 409,
    WorkflowViolationError.code: 409,
    PermissionDeniedError.code: 403,
    NotReflectedYetError.code: 503,
    AuthenticationError.code: 401,
    KeyMaterialError.code: 500,
    IntegrityViolationError.code: 500,
    IntegrityUnverifiedError.code: 500,
    DatabaseUnavailableError.code: 503,
    PathUnusableError.code: 500,
    AddressUnusableError.code: 500,
    # Only a client raises it, for a service that did not answer; a gateway would say 503.
    ServiceUnavailableError.code: 503,
}

# 1 is an unexpected failure and 2 a command-line usage error (Click's own), so the
# ledger's codes start at 3 and a script can tell every case apart.
EXIT_CODES: dict[str, int] = {
    ValidationFailedError.code: 3,
    NotFoundError.code: 4,
    ConflictError.code: 5,
    WorkflowViolationError.code: 6,
    PermissionDeniedError.code: 7,
    NotReflectedYetError.code: 8,
    AuthenticationError.code: 9,
    KeyMaterialError.code: 10,
    IntegrityViolationError.code: 11,
    IntegrityUnverifiedError.code: 12,
    # sysexits.h's EX_UNAVAILABLE, which service supervisors already read as "try later".
    DatabaseUnavailableError.code: 69,
    # sysexits.h's EX_CANTCREAT: a file or directory the settings name cannot be made.
    PathUnusableError.code: 73,
    # sysexits.h's EX_OSERR: the operating system refused the listening socket.
    AddressUnusableError.code: 71,
    # sysexits.h's EX_TEMPFAIL: the service may answer when tried again.
    ServiceUnavailableError.code: 75,
}
UNEXPECTED_EXIT_CODE = 1

_BY_CODE: dict[str, type[LedgerError]] = {cls.code: cls for cls in ERROR_CLASSES}


def error_from_dict(body: dict[str, Any]) -> LedgerError:
    """Rebuild the typed error a remote ledger reported."""
    code = str(body.get("code", ""))
    message = str(body.get("message", "unknown error"))
    details = body.get("details") or {}
    if code == ValidationFailedError.code:
        problems = [Problem(p["field"], p["message"]) for p in details.get("problems", [])]
        return ValidationFailedError(problems, message)
    cls = _BY_CODE.get(code, LedgerError)
    return cls(message, details=details)


__all__ = [
    "EXIT_CODES",
    "HTTP_STATUS",
    "UNEXPECTED_EXIT_CODE",
    "AddressUnusableError",
    "AuthenticationError",
    "ConflictError",
    "DatabaseUnavailableError",
    "IntegrityUnverifiedError",
    "IntegrityViolationError",
    "LedgerError",
    "NotFoundError",
    "NotReflectedYetError",
    "PathUnusableError",
    "PermissionDeniedError",
    "ServiceUnavailableError",
    "ValidationFailedError",
    "WorkflowViolationError",
    "error_from_dict",
]
