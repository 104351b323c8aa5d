"""The base of every error the ledger reports, its registry, and the domain's own errors.

Each error class declares, once, its stable machine ``code``, the HTTP status it answers
with and the CLI exit code it ends with; the HTTP app, the command line and the client read
them from the class. Errors that are not domain rules (authentication, key material,
integrity, read timing, an unreachable database, an unexpected failure) live in the module
that raises them; declaring a code registers a class wherever it is defined, and
``service.errors`` gathers them all.

Messages never contain personal data: they name fields and rules, never values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ledger.domain.messages import N_, Message, Translate, english, rendered

# 1 is an unexpected failure and 2 a command-line usage error (Click's own), so the
# ledger's codes start at 3 and a script can tell every case apart.
UNEXPECTED_EXIT_CODE = 1
_DECLARED_ONCE = ("code", "http_status", "exit_code")
_BY_CODE: dict[str, type[LedgerError]] = {}


@dataclass(frozen=True)
class Problem:
    """One reason an input was refused: which field, and what is wrong with it."""

    field: str
    # An English template (a ``Message`` when it has parameters): ``ledger.domain.messages``.
    message: str

    def as_dict(self, translate: Translate = english) -> dict[str, str]:
        return {"field": self.field, "message": rendered(self.message, translate)}


class LedgerError(Exception):
    """Base of every error the ledger reports to its callers.

    A subclass that declares ``code`` declares ``http_status`` and ``exit_code`` with it
    and is registered under its code; one that declares none of them (a finer case of its
    parent) answers as its parent does.
    """

    code: ClassVar[str] = "ledger_error"
    http_status: ClassVar[int] = 400
    exit_code: ClassVar[int] = UNEXPECTED_EXIT_CODE

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = [name for name in _DECLARED_ONCE if name in vars(cls)]
        if not declared:
            return
        if len(declared) != len(_DECLARED_ONCE):
            raise TypeError(f"{cls.__qualname__} declares {', '.join(declared)} without the "
                            f"rest of {', '.join(_DECLARED_ONCE)}")
        for other in _BY_CODE.values():
            clash = other.code == cls.code or other.exit_code == cls.exit_code
            if clash and _name_of(other) != _name_of(cls):
                raise TypeError(f"{cls.__qualname__} reuses the code or exit code of "
                                f"{other.__qualname__}: each must tell one case apart")
        _BY_CODE[cls.code] = cls

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def as_dict(self, translate: Translate = english) -> dict[str, Any]:
        """The error as callers read it; ``translate`` renders its message (and its
        problems') in the reader's language. The code and the details' values never change
        with the language."""
        return {"code": self.code, "message": rendered(self.message, translate),
                "details": self.details}

    @classmethod
    def rebuilt(cls, message: str, details: dict[str, Any]) -> LedgerError:
        """The error again from what ``as_dict`` sent over the wire."""
        return cls(message, details=details)


def _name_of(cls: type[LedgerError]) -> str:
    # The same class defined again (a module imported twice) replaces itself.
    return f"{cls.__module__}.{cls.__qualname__}"


def error_class(code: str) -> type[LedgerError]:
    """The class registered under ``code``, or the base for a code no loaded module declares."""
    return _BY_CODE.get(code, LedgerError)


def error_classes() -> tuple[type[LedgerError], ...]:
    """Every error class registered so far, in the order their modules defined them."""
    return tuple(_BY_CODE.values())


class ValidationFailedError(LedgerError):
    """The input breaks the entry standard or misses mandatory fields."""

    code = "validation_failed"
    http_status = 422
    exit_code = 3

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.field, p.message))
        fields = ", ".join(dict.fromkeys(p.field for p in self.problems))
        super().__init__(
            message or Message("invalid input in: {fields}", {"fields": fields}),
            details={"problems": [p.as_dict() for p in self.problems]},
        )

    def as_dict(self, translate: Translate = english) -> dict[str, Any]:
        answer = super().as_dict(translate)
        return answer | {"details": answer["details"] | {
            "problems": [p.as_dict(translate) for p in self.problems]}}

    @property
    def fields(self) -> list[str]:
        return list(dict.fromkeys(p.field for p in self.problems))

    @classmethod
    def rebuilt(cls, message: str, details: dict[str, Any]) -> LedgerError:
        problems = [Problem(p["field"], p["message"]) for p in details.get("problems", [])]
        return cls(problems, message)


class NotFoundError(LedgerError):
    """The named record does not exist."""

    code = "not_found"
    http_status = 404
    exit_code = 4


class ConflictError(LedgerError):
    """The record changed since the caller read it, or a command id was reused."""

    code = "conflict"
    http_status = 409
    exit_code = 5


class WorkflowViolationError(LedgerError):
    """The step is not allowed at this point of the workflow, or by this person."""

    code = "workflow_violation"
    http_status = 409
    exit_code = 6


class PermissionDeniedError(LedgerError):
    """The actor may not perform this operation."""

    code = "permission_denied"
    http_status = 403
    exit_code = 7
    # Set by whoever writes the refusal to the audit trail: a denial passes several layers
    # on its way out (the authoriser, the bus), and each must record it exactly once.
    audited: bool = False


class LegalHoldInForceError(WorkflowViolationError):
    """A legal hold on the customer blocks the step (DL-5): it answers as a workflow
    violation and names the hold by its id, never by its reason or reference."""

    # Set once the refusal is in the audit trail (the bus records it, DL-5).
    audited: bool = False

    def __init__(self, hold_id: str, until: str | None, customer_id: str) -> None:
        super().__init__(N_("a legal hold is in force on this customer: the deletion cannot "
                            "be executed until the hold is lifted or lapses"),
                         details={"hold_id": hold_id, "until": until,
                                  "customer_id": customer_id})
