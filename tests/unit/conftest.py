"""The unit suite needs no database: handler tests drive the real bus on the library's
in-memory event store with in-memory keys, and any attempt to open a SQLite or PostgreSQL
connection while a unit test runs (its fixtures included) fails that test."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import psycopg
import pytest

from ledger.policy import load_policy
from tests.conftest import FAST_HASHING_POLICY, FixedClock
from tests.fakes import WriteSide, write_side


class DatabaseOpenedError(AssertionError):
    """A unit test opened a database connection; it belongs in tests/integration."""


def _refuse(what: str) -> Callable[..., NoReturn]:
    def refuse(*_: Any, **__: Any) -> NoReturn:
        raise DatabaseOpenedError(f"a unit test opened a {what} connection: it needs no "
                                  "database (tests/integration runs on both backends)")
    return refuse


@contextmanager
def no_database() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sqlite3, "connect", _refuse("sqlite3"))
        patch.setattr(psycopg, "connect", _refuse("psycopg"))
        patch.setattr(psycopg.Connection, "connect", classmethod(_refuse("psycopg")))
        yield


# Around each phase of every test under tests/unit (these hooks see only those tests).
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with no_database():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with no_database():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    with no_database():
        return (yield)


@pytest.fixture
def ledger(clock: FixedClock) -> Iterator[WriteSide]:
    """The real bus with every handler and the policy's authoriser, on the library's
    in-memory event store and in-memory data keys."""
    side = write_side(load_policy(FAST_HASHING_POLICY), clock)
    yield side
    side.close()
