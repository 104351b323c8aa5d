"""Which database faults pass with time, and how the service tries them again."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError as LibraryIntegrityError
from eventsourcing.persistence import OperationalError as LibraryOperationalError
from psycopg_pool import PoolTimeout

from ledger.transient import UnavailableError, is_transient, retrying, unavailable


def _wrapped(cause: Exception) -> LibraryOperationalError:
    try:
        try:
            raise cause
        except Exception as error:
            raise LibraryOperationalError(str(error)) from error
    except LibraryOperationalError as wrapped:
        return wrapped


@pytest.mark.parametrize("error", [
    psycopg.OperationalError("terminating connection due to administrator command"),
    psycopg.InterfaceError("the connection is closed"),
    PoolTimeout("couldn't get a connection after 5.00 sec"),
    sqlite3.OperationalError("database is locked"),
    _wrapped(psycopg.OperationalError("server closed the connection unexpectedly")),
    _wrapped(sqlite3.OperationalError("database is locked")),
], ids=lambda error: type(error).__name__)
def test_a_lost_connection_or_a_lock_held_too_long_passes_with_time(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize("error", [
    sqlite3.OperationalError("no such table: stored_events"),
    _wrapped(sqlite3.OperationalError("no such table: stored_events")),
    psycopg.errors.UniqueViolation("duplicate key value"),
    LibraryIntegrityError("duplicate key value"),
    ValueError("database is locked"),
], ids=lambda error: f"{type(error).__name__}:{error}")
def test_a_fault_of_the_request_or_the_schema_does_not(error: Exception) -> None:
    assert not is_transient(error)


def test_the_ledger_error_says_which_fault_in_fixed_words() -> None:
    locked = unavailable(sqlite3.OperationalError("database is locked: INSERT 'Li Na'"))
    lost = unavailable(psycopg.OperationalError("SSL SYSCALL error near 'Li Na'"))

    assert locked.code == lost.code == "unavailable"
    assert locked.http_status == 503
    assert "write lock" in locked.message
    assert "connection" in lost.message
    assert "Li Na" not in locked.message + lost.message


def test_a_fault_that_passes_is_retried_until_the_operation_succeeds() -> None:
    attempts = iter([psycopg.OperationalError("lost"), psycopg.OperationalError("lost"), 7])
    pauses: list[float] = []

    def operation() -> int:
        outcome = next(attempts)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retrying(operation, seconds=10, sleep=pauses.append) == 7
    assert len(pauses) == 2
    assert pauses[1] > pauses[0] / 2  # the pause grows (jitter halves it at most)


def test_a_fault_that_outlasts_the_budget_is_unavailable() -> None:
    def operation() -> int:
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(UnavailableError):
        retrying(operation, seconds=0, sleep=lambda _: None)


def test_any_other_error_passes_at_once() -> None:
    calls = []

    def operation() -> int:
        calls.append(1)
        raise KeyError("x")

    with pytest.raises(KeyError):
        retrying(operation, seconds=10, sleep=lambda _: None)
    assert len(calls) == 1
