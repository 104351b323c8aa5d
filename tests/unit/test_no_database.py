"""The unit suite's guard: a unit test that opens a database connection fails."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from tests.unit.conftest import DatabaseOpenedError


@pytest.mark.parametrize("connect", [
    lambda: sqlite3.connect(":memory:"),
    lambda: psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres"),
    lambda: psycopg.Connection.connect("postgresql://postgres@127.0.0.1:5432/postgres"),
], ids=["sqlite3", "psycopg", "psycopg-pool"])
def test_opening_a_database_in_a_unit_test_fails(connect: object) -> None:
    with pytest.raises(DatabaseOpenedError, match="needs no database"):
        connect()  # type: ignore[operator]
