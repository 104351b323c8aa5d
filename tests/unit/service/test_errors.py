"""The errors a caller can meet: each class carries its code, HTTP status and exit code, the
registry gathered in ``service.errors`` misses none, and every one survives the wire."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.domain.errors import LedgerError, Problem
from service.errors import (
    ERROR_CLASSES,
    UNEXPECTED_EXIT_CODE,
    InternalError,
    ValidationFailedError,
    error_from_dict,
)

SRC = Path(__file__).resolve().parents[3] / "src"
CLICK_USAGE_EXIT_CODE = 2

# Imports every module of src/, then reports what service.errors gathered and what the
# registry holds once nothing is left unimported.
EVERY_MODULE = """
import importlib, json, pkgutil, sys
import service.errors
from ledger.domain.errors import error_classes
gathered = sorted(cls.code for cls in service.errors.ERROR_CLASSES)
for package in ("ledger", "commands", "projections", "service"):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
print(json.dumps({"gathered": gathered,
                  "defined": sorted(cls.code for cls in error_classes())}))
"""


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda cls: cls.code)
def test_every_error_answers_with_an_http_error_status_and_its_own_exit_code(
        error_class: type[LedgerError]) -> None:
    assert 400 <= error_class.http_status < 600
    assert error_class.exit_code not in (0, CLICK_USAGE_EXIT_CODE)
    # Only "anything unexpected" shares the exit code of an uncaught exception.
    assert (error_class.exit_code == UNEXPECTED_EXIT_CODE) == (error_class is InternalError)


def test_error_codes_and_exit_codes_are_each_distinct() -> None:
    codes = [cls.code for cls in ERROR_CLASSES]
    exit_codes = [cls.exit_code for cls in ERROR_CLASSES]
    assert len(set(codes)) == len(codes)
    assert len(set(exit_codes)) == len(exit_codes)


def test_every_error_class_in_src_is_gathered_by_service_errors() -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", EVERY_MODULE], capture_output=True,
                          text=True, env=env, check=True)
    found = json.loads(done.stdout)

    assert found["gathered"] == found["defined"]
    assert len(found["gathered"]) == len(ERROR_CLASSES)


@pytest.mark.parametrize("error", [
    ValidationFailedError([Problem("basic.phone", "is required")]),
    *[cls("went wrong", details={"k": 1}) for cls in ERROR_CLASSES
      if cls is not ValidationFailedError],
], ids=lambda error: error.code)
def test_an_error_survives_the_trip_over_the_wire(error: LedgerError) -> None:
    rebuilt = error_from_dict(error.as_dict())
    assert type(rebuilt) is type(error)
    assert rebuilt.as_dict() == error.as_dict()


def test_a_code_no_module_declares_comes_back_as_the_base_error_with_its_message() -> None:
    rebuilt = error_from_dict({"code": "method_not_allowed", "message": "not this method"})
    assert type(rebuilt) is LedgerError
    assert (rebuilt.message, rebuilt.exit_code) == ("not this method", UNEXPECTED_EXIT_CODE)
