"""The PostgreSQL databases the tests are given: empty for each test, and none left when
the run ends (tests/conftest.py, ``ReusedDatabases``)."""

from __future__ import annotations

import os
import subprocess

import psycopg
import pytest

from tests.conftest import ReusedDatabases, _with_database

pytestmark = pytest.mark.postgres


def tables(url: str) -> list[str]:
    with psycopg.connect(url) as db:
        return [row[0] for row in db.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")]


def existing(admin_url: str, names: list[str]) -> list[str]:
    with psycopg.connect(admin_url) as admin:
        return [row[0] for row in admin.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (names,))]


def test_a_database_given_back_is_empty_when_the_next_test_takes_it(
        postgres_admin_url: str) -> None:
    databases = ReusedDatabases(postgres_admin_url)
    try:
        name = databases.take()
        url = _with_database(postgres_admin_url, name)
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE TABLE public.left_behind (x int)")
            db.execute("CREATE SCHEMA elsewhere")
            db.execute("CREATE TABLE elsewhere.also (x int)")
        databases.give_back(name)

        again = databases.take()

        assert again == name
        assert tables(url) == []
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE TABLE made_in_public (x int)")  # public is there to use
    finally:
        databases.drop_all()
    assert existing(postgres_admin_url, [name]) == []


def test_a_database_a_client_still_holds_is_dropped_not_reused(
        postgres_admin_url: str) -> None:
    databases = ReusedDatabases(postgres_admin_url)
    try:
        name = databases.take()
        holder = psycopg.connect(_with_database(postgres_admin_url, name))
        databases.give_back(name)

        other = databases.take()

        assert other != name
        assert existing(postgres_admin_url, [name]) == []  # dropped, its client cut off
        holder.close()
    finally:
        databases.drop_all()
    assert existing(postgres_admin_url, [name, other]) == []


def test_databases_a_killed_run_left_behind_are_dropped_and_a_running_ones_are_kept(
        postgres_admin_url: str) -> None:
    ended = subprocess.Popen(["true"])  # a process id that no longer runs
    ended.wait()
    abandoned = f"ledger_test_{ended.pid}_000000_abandoned"
    running = f"ledger_test_{os.getpid()}_000000_running"
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        for name in (abandoned, running):
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')  # type: ignore[arg-type]
    try:
        dropped = ReusedDatabases(postgres_admin_url).drop_abandoned()

        assert abandoned in dropped and running not in dropped
        assert existing(postgres_admin_url, [abandoned, running]) == [running]
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            for name in (abandoned, running):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
