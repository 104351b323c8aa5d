"""Shared by the personal-data tests (issue 3): the people of a deletion, customers with
distinctive personal values, the deletion workflow, and a scan of every byte a database
holds, so a test can prove where a value is stored and where it is not."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from commands.actor import Actor
from commands.command import Command
from commands.customers import ProposeChange, RegisterCustomer, VerifyChange
from commands.deletion import ApproveDeletion, ExecuteDeletion, RequestDeletion, ReviewDeletion
from ledger.domain.deletion import Ground
from ledger.domain.paths import paths_overlap
from ledger.domain.profile import validate_profile
from ledger.policy import load_policy
from ledger.settings import postgres_params_of, sqlite_path_of
from projections.privacy import FindCustomersBy, ListDuplicates
from service.bootstrap import Ledger
from tests.factories import make_profile

DEFAULT_POLICY = load_policy()
HAPPENED_ON = "2026-11-20"  # a working day before the shared FixedClock's today
DELETION_DETAILS = "framework contract with 欧阳翠花 ended 2026-10-31, no open invoices"
"""The details every scenario's deletion request gives: free text about the customer."""

# The people of the scenarios, each with the roles the default policy gives that job.
CLERK = Actor("wang.fang", frozenset({"info_specialist"}), department="sales")
CHECKER = Actor("li.na", frozenset({"info_specialist"}), department="sales")
SALES_HEAD = Actor("zhao.lei", frozenset({"department_head"}), department="sales")
FINANCE_HEAD = Actor("qian.min", frozenset({"department_head"}), department="finance")
INFO_HEAD = Actor("sun.li", frozenset({"info_mgmt_head"}))
SYSADMIN = Actor("zhou.qiang", frozenset({"sysadmin"}))
AUDITOR = Actor("wu.hao", frozenset({"auditor"}))


# Customers with values no other field could contain by chance ------------------------

DISTINCTIVE = {
    "zh_CN": {
        "basic__name": "翡翠织造有限公司",
        "basic__legal_representative": "欧阳翠花",
        "basic__phone": "+86 138-0013-8000",
        "basic__fax": "+86 10 6552 9988",
        "basic__email": "Cuihua.Ouyang@Jade-Weaving.cn",
        "basic__address": {"country": "CN", "city": "湖州市", "street": "翡翠路八十八号"},
        "contacts": [{"name": "司马青莲", "title": "采购经理", "phone": "+86 139-0013-9000",
                      "email": "QingLian.Sima@jade-weaving.cn"}],
        "credit": {"rating": "BBB",
                   "credit_limit": {"amount": "7319846.25", "currency": "CNY"},
                   "payment_records": [{"on": "2026-03-01", "on_time": True,
                                        "amount": {"amount": "48211.75", "currency": "CNY"}}]},
        "other": {"special_requirements": "仓库须设无障碍坡道七号门交货"},
    },
    "en_US": {
        "basic__name": "Larkspur Textile Mills Ltd",
        "basic__legal_representative": "Zebediah Quillfeather",
        "basic__phone": "+86 (137) 0099 4411",
        "basic__email": "Z.Quillfeather@Larkspur-Mills.com",
        "basic__address": {"country": "GB", "city": "Thistlewood",
                           "street": "47 Brackwater Lane"},
        "contacts": [{"name": "Ottoline Marchbanks", "phone": "+86 136 5544 0022",
                      "email": "ottoline.m@larkspur-mills.com"}],
        "other": {"special_requirements": "Deliver only via the north gate ramp"},
    },
}


def distinctive_profile(locale: str) -> dict[str, Any]:
    """A complete profile whose personal values are unmistakable, in Chinese or English."""
    return make_profile(locale, seed=7, **DISTINCTIVE[locale])


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def personal_values(profile: dict[str, Any]) -> set[str]:
    """The values a profile holds at the default policy's personal paths, as the ledger
    stores them (normalised), less the few too short to tell from other bytes (country
    and currency codes, ratings)."""
    stored = validate_profile(profile, DEFAULT_POLICY.mandatory_fields)
    return {value for path in DEFAULT_POLICY.personal_fields
            for value in strings_in(value_at(stored, path)) if len(value.encode()) >= 8}


def personal_change_values(changes: dict[str, Any]) -> set[str]:
    """The personal values a change set would store (normalised like a registration)."""
    return {value for path, change in changes.items() if is_personal(path)
            for value in strings_in(_normalised(path, change)) if len(value.encode()) >= 8}


def is_personal(path: str) -> bool:
    return any(paths_overlap(path, personal) for personal in DEFAULT_POLICY.personal_fields)


def _normalised(path: str, value: Any) -> Any:
    group, _, field = path.partition(".")
    profile = make_profile("en_US", seed=1)
    if field:
        profile[group] = {**profile[group], field: value}
    else:
        profile[group] = value
    return value_at(validate_profile(profile, DEFAULT_POLICY.mandatory_fields), path)


def value_at(profile: dict[str, Any], path: str) -> Any:
    value: Any = profile
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


# Commands, as the people above give them -------------------------------------------

def run(ledger: Ledger, command: Command, actor: Actor) -> dict[str, Any]:
    return ledger.bus.execute(command, actor)


def register(ledger: Ledger, profile: dict[str, Any], by: Actor = CLERK) -> str:
    return str(run(ledger, RegisterCustomer(profile=profile), by)["aggregate_id"])


def change(ledger: Ledger, customer_id: str, changes: dict[str, Any], *,
           verify: bool = True) -> str:
    """The clerk proposes ``changes``; the checker verifies them unless told not to."""
    proposal = run(ledger, ProposeChange(customer_id=UUID(customer_id), changes=changes,
                                         happened_on=HAPPENED_ON), CLERK)
    proposal_id = str(proposal["result"]["proposal_id"])
    if verify:
        run(ledger, VerifyChange(customer_id=UUID(customer_id), proposal_id=proposal_id),
            CHECKER)
    return proposal_id


def request_deletion(ledger: Ledger, customer_id: str, *, by: Actor = CLERK,
                     department: str = "sales",
                     ground: Ground = Ground.RELATIONSHIP_ENDED) -> str:
    outcome = run(ledger, RequestDeletion(
        customer_id=UUID(customer_id), ground=ground, department=department,
        details=DELETION_DETAILS), by)
    return str(outcome["result"]["request_id"])


def erase(ledger: Ledger, customer_id: str) -> dict[str, Any]:
    """Take the customer through the whole workflow; return the execution's outcome."""
    request_id = request_deletion(ledger, customer_id)
    run(ledger, ReviewDeletion(request_id=UUID(request_id)), SALES_HEAD)
    run(ledger, ApproveDeletion(request_id=UUID(request_id)), INFO_HEAD)
    return run(ledger, ExecuteDeletion(request_id=UUID(request_id)), SYSADMIN)


# Reading as the people above do -------------------------------------------------------

def ask(ledger: Ledger, query: Any, actor: Actor = CLERK) -> dict[str, Any]:
    """The answer once the read models have caught up with every write so far."""
    ledger.runner.catch_up()
    answer: dict[str, Any] = ledger.bus.ask(query, actor)
    return answer


def found_by(ledger: Ledger, **by: str) -> set[str]:
    """The customers found by a phone, an email or a person's name."""
    answer = ask(ledger, FindCustomersBy(limit=500, **by))
    return {customer["customer_id"] for customer in answer["customers"]}


def duplicate_groups(ledger: Ledger) -> list[tuple[str, set[str]]]:
    return [(group["reason"], set(group["customer_ids"]))
            for group in ask(ledger, ListDuplicates(limit=1000), INFO_HEAD)["groups"]]


# What a database holds, byte for byte ----------------------------------------------

def database_bytes(url: str) -> dict[str, bytes]:
    """Everything the database at ``url`` holds, by where it was read: on SQLite the raw
    database file and its write-ahead log; on PostgreSQL every column of every table of
    the public schema, bytea as its bytes."""
    if url.startswith("sqlite"):
        path = sqlite_path_of(url)
        assert path.exists(), f"no database file at {path}"
        return {found.name: found.read_bytes()
                for found in sorted(path.parent.glob(path.name + "*"))}
    return _postgres_tables(url)


def _postgres_tables(url: str) -> dict[str, bytes]:
    tables: dict[str, bytes] = {}
    with psycopg.connect(url) as connection:
        names = [row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")]
        for name in names:
            rows = connection.execute(
                sql.SQL("SELECT * FROM {}").format(sql.Identifier(name))).fetchall()
            tables[name] = b"\x00".join(_as_bytes(value) for row in rows for value in row)
    return tables


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).encode()
    return str(value).encode()


def forms_of(value: str) -> set[bytes]:
    """The ways a string can sit in stored bytes: UTF-8, or JSON-escaped to ASCII."""
    return {value.encode(), json.dumps(value)[1:-1].encode()}


def where_found(value: str, places: dict[str, bytes]) -> list[str]:
    return sorted(place for place, data in places.items()
                  if any(form in data for form in forms_of(value)))


def leaks(values: set[str], places: dict[str, bytes]) -> dict[str, list[str]]:
    """Each value found, with where: empty when none of them is stored in plaintext."""
    return {value: found for value in sorted(values) if (found := where_found(value, places))}


# Copies of a database, as a backup would take them -----------------------------------

def copy_sqlite(url: str, into: Path) -> str:
    """Copy the database file and its write-ahead log (no writer is running)."""
    source = sqlite_path_of(url)
    into.mkdir(parents=True, exist_ok=True)
    for found in source.parent.glob(source.name + "*"):
        if not found.name.endswith("-shm"):
            shutil.copy2(found, into / found.name)
    return f"sqlite:///{into / source.name}"


def copy_postgres(admin_url: str, source_url: str) -> str:
    """``CREATE DATABASE copy TEMPLATE source``, once the closed ledger's connections are
    gone; the caller drops the copy."""
    source = postgres_params_of(source_url)["dbname"]
    name = f"{source}_copy_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        deadline = time.monotonic() + 15
        while True:
            try:
                admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(source)))
                break
            except psycopg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    head, _, _ = source_url.rpartition("/")
    return f"{head}/{name}"


class Backups:
    """Copies of closed databases, as an operator's backup would take them; the PostgreSQL
    copies are dropped by ``drop_all``."""

    def __init__(self, directory: Path, admin_url: Callable[[], str]) -> None:
        self.directory = directory
        self.admin_url = admin_url
        self.made: list[tuple[str, str]] = []
        self.taken = 0

    def copy(self, url: str) -> str:
        self.taken += 1
        if url.startswith("sqlite"):
            return copy_sqlite(url, self.directory / f"backup{self.taken}")
        admin = self.admin_url()
        self.made.append((admin, copy_postgres(admin, url)))
        return self.made[-1][1]

    def new_postgres(self) -> str:
        """An empty PostgreSQL database beside the test's own (for a separate key store)."""
        admin = self.admin_url()
        name = f"ledger_test_keys_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(
                sql.Identifier(name)))
        head, _, _ = admin.rpartition("/")
        self.made.append((admin, f"{head}/{name}"))
        return self.made[-1][1]

    def drop_all(self) -> None:
        for admin, url in self.made:
            drop_postgres(admin, url)


def drop_postgres(admin_url: str, url: str) -> None:
    name = postgres_params_of(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
