"""Database faults that pass: a lost connection, a server restarting, a lock held too long.

Such a fault says nothing about the request: tried again a moment later, it may well
succeed. ``is_transient`` tells it apart from every other database error (a broken unique
key, a missing table); ``retrying`` tries an operation that is safe to repeat again until a
deadline; what still fails is an ``UnavailableError`` (HTTP 503 with ``Retry-After``, its
own exit code), never the driver's exception, whose text may quote the statement.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import Callable
from typing import ClassVar, TypeVar

import psycopg
from eventsourcing.persistence import InterfaceError as LibraryInterfaceError
from eventsourcing.persistence import OperationalError as LibraryOperationalError

from ledger.domain.errors import LedgerError
from ledger.domain.messages import message

T = TypeVar("T")

# What SQLite says when another connection holds the lock past the busy timeout.
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
# The server-side budget of a retry: well inside an HTTP client's patience.
DEFAULT_RETRY_SECONDS = 2.0
_FIRST_DELAY = 0.05
_LONGEST_DELAY = 0.5


class UnavailableError(LedgerError):
    """The database did not answer in time (connection lost, server restarting, a lock
    held past the busy timeout); nothing was written by the failed request, or, for a
    command, retrying it with the same command id is safe."""

    code = "unavailable"
    http_status = 503
    # Distinct from 69 (a database missing at start-up) and 75 (the service not answering).
    exit_code = 13
    # Seconds a caller should wait before trying again (the HTTP Retry-After header).
    retry_after: ClassVar[int] = 1


def is_transient(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from, is a passing database fault."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_transient_itself(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_transient_itself(error: BaseException) -> bool:
    if isinstance(error, UnavailableError):
        return True
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        # Class 57 (operator intervention: a terminated session, a shutdown), 08
        # (connection), 53 (out of resources), 55P03 (lock timeout), a pool timeout, a
        # closed connection: none says anything about the request itself.
        return True
    if isinstance(error, sqlite3.OperationalError):
        return any(words in str(error) for words in _SQLITE_BUSY)
    if isinstance(error, LibraryOperationalError | LibraryInterfaceError):
        # The library wraps the driver's error; its cause decides (a missing table is
        # an OperationalError on SQLite too, and does not pass).
        return error.__cause__ is not None and is_transient(error.__cause__)
    return False


def is_constraint_violation(error: BaseException) -> bool:
    """Whether ``error`` is the database refusing a row for a unique key or another
    constraint (either driver's ``IntegrityError``): never a passing fault."""
    return isinstance(error, sqlite3.IntegrityError | psycopg.IntegrityError)


def unavailable(error: BaseException) -> UnavailableError:
    """The ledger's error for a transient fault, in fixed words: the driver's text may
    quote a statement or its values."""
    locked = any(isinstance(e, sqlite3.OperationalError) for e in _chain(error))
    reason = (message("another process holds the database's write lock past the busy "
                      "timeout") if locked
              else message("the connection to the database was lost or timed out"))
    if isinstance(error, UnavailableError):
        return error
    return UnavailableError(message("the database is unavailable: {reason}; try again shortly",
                                    reason=reason),
                            details={"retry_after": UnavailableError.retry_after})


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def retrying(operation: Callable[[], T], *, seconds: float = DEFAULT_RETRY_SECONDS,
             sleep: Callable[[float], None] = time.sleep,
             on_fault: Callable[[], None] | None = None) -> T:
    """Run ``operation`` (which must be safe to repeat), again after a transient fault,
    with a growing pause, until ``seconds`` have passed; then raise ``UnavailableError``.
    Other errors pass at once. ``on_fault`` runs after each fault (say, to have the
    connection pools drop every connection the server cut, not only the one that failed)."""
    deadline = time.monotonic() + seconds
    delay = _FIRST_DELAY
    while True:
        try:
            return operation()
        except Exception as error:
            if not is_transient(error):
                raise
            if time.monotonic() + delay > deadline:
                raise unavailable(error) from None
            if on_fault is not None:
                with contextlib.suppress(Exception):  # the retry finds out if it helped
                    on_fault()
        # Jittered, so writers cut off together do not all come back at the same moment.
        sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 - not for security
        delay = min(delay * 2, _LONGEST_DELAY)
