"""An error class declares its code, HTTP status and exit code together, once, and no two
classes tell the same case by the same code or exit code."""

from __future__ import annotations

import pytest

from ledger.domain.errors import (
    ConflictError,
    LedgerError,
    NotFoundError,
    ValidationFailedError,
    error_class,
    error_classes,
)


def test_a_code_declared_without_its_http_status_and_exit_code_is_refused() -> None:
    with pytest.raises(TypeError, match="without the rest of code, http_status, exit_code"):
        class HalfDeclaredError(LedgerError):
            code = "half_declared"
            http_status = 418

    assert error_class("half_declared") is LedgerError


def test_a_code_or_exit_code_another_error_has_is_refused() -> None:
    with pytest.raises(TypeError, match="reuses the code or exit code of NotFoundError"):
        class SameCodeError(LedgerError):
            code = NotFoundError.code
            http_status = 410
            exit_code = 99

    with pytest.raises(TypeError, match="reuses the code or exit code of ConflictError"):
        class SameExitCodeError(LedgerError):
            code = "same_exit_code"
            http_status = 409
            exit_code = ConflictError.exit_code

    assert error_class(NotFoundError.code) is NotFoundError
    assert error_class("same_exit_code") is LedgerError


def test_a_finer_case_answers_as_its_parent_and_registers_nothing() -> None:
    before = error_classes()

    class NoSuchProposalError(NotFoundError):
        """A finer case of not found."""

    error = NoSuchProposalError("no such proposal")
    assert (error.code, error.http_status, error.exit_code) == ("not_found", 404, 4)
    assert error_classes() == before


def test_the_domain_errors_are_registered_under_their_codes() -> None:
    assert error_class("validation_failed") is ValidationFailedError
    assert error_class("conflict") is ConflictError
    assert error_class("no_such_code") is LedgerError
