"""Every error a caller of the ledger can meet, gathered from the modules that raise them.

Each class carries its code, HTTP status and CLI exit code (``ledger.domain.errors``); this
module imports every module that defines one, so the registry is complete here, and
rebuilds the typed error a remote ledger reported. ``LedgerClient`` raises these on both
transports.
"""

from __future__ import annotations

import re
from typing import Any

from ledger.backup.errors import BackupInvalidError, BackupOverdueError, DrillFailedError
from ledger.connect import DatabaseUnavailableError
from ledger.credentials import AuthenticationError
from ledger.crypto import KeyMaterialError
from ledger.domain.errors import (
    UNEXPECTED_EXIT_CODE,
    ConflictError,
    LedgerError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    ValidationFailedError,
    WorkflowViolationError,
    error_class,
    error_classes,
)
from ledger.integrity.report import IntegrityUnverifiedError, IntegrityViolationError
from ledger.transient import UnavailableError
from projections.runner import NotReflectedYetError
from service.alerts import AlertNotDeliveredError
from service.http_guard import InternalError, PayloadTooLargeError
from service.listener import AddressUnusableError
from service.preflight import PathUnusableError


class ServiceUnavailableError(LedgerError):
    """The ledger service a client was pointed at did not answer: refused, unreachable,
    timed out, or not speaking HTTP. Raised by ``LedgerClient`` (``service.client``, which
    rebuilds remote errors with this module, so the class lives here)."""

    code = "service_unavailable"
    # Only a client raises it; a gateway in front of a silent service would answer 503.
    http_status = 503
    # sysexits.h's EX_TEMPFAIL: the service may answer when tried again.
    exit_code = 75


# Complete: every module that declares an error code is imported above (a test holds this).
ERROR_CLASSES = error_classes()


def error_from_dict(body: dict[str, Any]) -> LedgerError:
    """Rebuild the typed error a remote ledger reported."""
    code = str(body.get("code", ""))
    # What another server said is shown on a terminal: no control character of its own
    # (an escape sequence could repaint the screen) survives the trip.
    message = _CONTROL.sub("", str(body.get("message", "unknown error")))
    details = body.get("details")
    return error_class(code).rebuilt(message, details if isinstance(details, dict) else {})


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


__all__ = [
    "ERROR_CLASSES",
    "UNEXPECTED_EXIT_CODE",
    "AddressUnusableError",
    "AlertNotDeliveredError",
    "AuthenticationError",
    "BackupInvalidError",
    "BackupOverdueError",
    "ConflictError",
    "DatabaseUnavailableError",
    "DrillFailedError",
    "IntegrityUnverifiedError",
    "IntegrityViolationError",
    "InternalError",
    "KeyMaterialError",
    "LedgerError",
    "NotFoundError",
    "NotReflectedYetError",
    "PathUnusableError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Problem",
    "ServiceUnavailableError",
    "UnavailableError",
    "ValidationFailedError",
    "WorkflowViolationError",
    "error_from_dict",
]
