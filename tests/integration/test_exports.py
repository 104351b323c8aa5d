"""Exports (EX-1..EX-3), on SQLite and PostgreSQL: a filter, fields masked exactly as a read
masks them, the file's visible mark and position, the audit record, and bad input that
writes nothing."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]

from ledger.domain.errors import PermissionDeniedError, ValidationFailedError
from projections.audit import AuditTrailQuery
from service.bootstrap import Ledger
from service.client import LedgerClient
from tests.factories import make_profile
from tests.integration.export_support import (
    FINANCE,
    contact_values,
    exporter,
    register_customers,
)
from tests.store_snapshot import only_a_denial_recorded, store_unchanged

CONTACT_FIELDS = ["basic.name", "basic.phone", "basic.fax", "basic.email", "contacts",
                  "credit", "source_channel"]


def readable_bytes(content: bytes, fmt: str) -> bytes:
    """Every byte a reader of the file gets: an XLSX's members decompressed."""
    if fmt != "xlsx":
        return content
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_an_exporter_without_contact_clearance_gets_no_contact_value_in_the_file(
        ledger: Ledger, fmt: str) -> None:
    customers = register_customers(ledger, 12)
    answer = exporter(ledger, FINANCE).export_customers(
        CONTACT_FIELDS, purpose="credit review", format=fmt)
    content = readable_bytes(answer["content"], fmt)
    values = [value for customer in customers for value in contact_values(customer)]
    assert len(values) >= 24
    assert [value for value in values if value.encode() in content] == []
    # Masked as a read masks them, and only those: finance reads credit unmasked.
    assert answer["result"]["masked_fields"] == ["basic.phone", "basic.fax", "basic.email",
                                                 "contacts"]
    limit = customers[0]["profile"]["credit"]["credit_limit"]["amount"]
    assert limit.encode() in content


def test_a_cleared_exporter_gets_the_values_and_the_file_names_its_position(
        ledger: Ledger) -> None:
    customers = register_customers(ledger, 5)
    answer = exporter(ledger).export_customers(["basic.name", "basic.email"],
                                               purpose="mailing")
    lines = answer["content"].decode().splitlines()
    assert lines[0].startswith("# ledger export,id=" + answer["export_id"])
    assert lines[1] == "customer_id,basic.name,basic.email"
    assert all(c["profile"]["basic"]["email"].encode() in answer["content"] for c in customers)
    assert answer["result"]["reflects_position"] == ledger.runner.positions()["customer_view"]
    assert answer["result"]["rows"] == 5


def test_the_filter_selects_as_the_customer_queries_do(ledger: Ledger) -> None:
    customers = register_customers(ledger, 6)
    client = exporter(ledger)
    partner = client.register_customer(make_profile(seed=91, source_channel="partner",
                                                    basic__name="Zephyr Partner Ltd"))
    ledger.runner.catch_up()
    by_name = client.export_customers(["basic.name"], purpose="check",
                                      filter={"name_prefix": "zephyr"}, format="jsonl")
    rows = [json.loads(line) for line in by_name["content"].decode().splitlines()[1:]]
    known = {c["customer_id"] for c in customers} | {partner["aggregate_id"]}
    assert [row for row in rows if row["customer_id"] in known] == [
        {"customer_id": partner["aggregate_id"], "basic.name": "Zephyr Partner Ltd"}]
    assert by_name["result"]["rows"] == 1
    by_channel = client.export_customers(["source_channel"], purpose="check",
                                         filter={"source_channel": "partner"})
    real = [row for row in _csv_rows(by_channel["content"]) if row[0] in known]
    expected = 1 + sum(1 for c in customers if c["profile"]["source_channel"] == "partner")
    assert len(real) == by_channel["result"]["rows"] == expected
    assert {row[1] for row in real} == {"partner"}


def _csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))[2:]


def test_every_export_is_audited_with_its_rows_hash_and_purpose(ledger: Ledger) -> None:
    register_customers(ledger, 4)
    answer = exporter(ledger, FINANCE).export_customers(
        ["basic.name", "basic.phone"], purpose="quarterly credit review", format="xlsx")
    ledger.runner.catch_up()
    trail = ledger.answer(AuditTrailQuery(operation="export"))["entries"]
    [entry] = [e for e in trail if e["kind"] == "export"]
    assert entry["actor"] == FINANCE.id
    assert entry["facts"] | {"criteria": {}} == entry["facts"]
    assert entry["facts"]["export_id"] == answer["export_id"]
    assert entry["facts"]["sha256"] == hashlib.sha256(answer["content"]).hexdigest()
    assert entry["facts"]["rows"] == 4
    assert entry["facts"]["purpose"] == "quarterly credit review"
    assert entry["facts"]["masked_fields"] == ["basic.phone"]
    assert entry["facts"]["fields"] == ["customer_id", "basic.name", "basic.phone"]


def test_an_xlsx_export_names_itself_in_its_properties_and_footer(ledger: Ledger) -> None:
    register_customers(ledger, 3)
    answer = exporter(ledger).export_customers(["basic.name"], purpose="x", format="xlsx")
    book = load_workbook(io.BytesIO(answer["content"]))
    assert book.properties.title == f"ledger export {answer['export_id']}"
    assert book.properties.creator == "wang.fang"
    footer = [cell.value for cell in list(book["export"].iter_rows())[-1]]
    assert footer[:2] == ["# ledger export", f"id={answer['export_id']}"]


def test_a_refused_export_is_audited_and_writes_nothing_else(ledger: Ledger) -> None:
    register_customers(ledger, 2)
    sales = LedgerClient.in_process(ledger, "zhou.qiang", roles=["sysadmin"])
    with only_a_denial_recorded(ledger.store), pytest.raises(PermissionDeniedError):
        sales.export_customers(["basic.name"], purpose="curiosity")


def test_a_region_filter_needs_clearance_to_read_the_address(ledger: Ledger) -> None:
    register_customers(ledger, 2)
    technical = LedgerClient.in_process(ledger, "tech", roles=["finance"])
    with only_a_denial_recorded(ledger.store), pytest.raises(PermissionDeniedError):
        technical.export_customers(["basic.name"], purpose="x", filter={"region": "Zhejiang"})


BAD_EXPORTS: list[tuple[str, dict[str, Any]]] = [
    ("unknown field", {"fields": ["basic.salary"]}),
    ("no field", {"fields": []}),
    ("unknown filter", {"filter": {"city": "Ningbo"}}),
    ("empty purpose", {"purpose": "   "}),
    ("format not offered", {"format": "pdf"}),
    ("created range backwards", {"filter": {"created_since": "2026-11-02T00:00:00+00:00",
                                            "created_until": "2026-11-01T00:00:00+00:00"}}),
]


@pytest.mark.parametrize(("case", "change"), BAD_EXPORTS, ids=[c for c, _ in BAD_EXPORTS])
def test_bad_export_input_is_refused_and_writes_nothing(
        ledger: Ledger, case: str, change: dict[str, Any]) -> None:
    register_customers(ledger, 2)
    payload = {"fields": ["basic.name"], "purpose": "x", "format": "csv", "filter": {}} | change
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError) as refused:
        exporter(ledger).transport.export(payload)
    # The refusal never repeats what was typed.
    assert "salary" not in json.dumps(refused.value.as_dict())
    assert "Ningbo" not in json.dumps(refused.value.as_dict())


def test_an_export_retried_with_its_command_id_writes_no_second_record(
        ledger: Ledger) -> None:
    register_customers(ledger, 2)
    client = exporter(ledger)
    first = client.export_customers(["basic.name"], purpose="x", command_id="exp-1")
    with store_unchanged(ledger.store):
        again = client.export_customers(["basic.name"], purpose="x", command_id="exp-1")
    assert again["replayed"] and again["export_id"] == first["export_id"]
    assert again["content"] is None


def test_injected_formulas_are_neutralised_in_csv_and_xlsx(
        ledger: Ledger, make_ledger: Callable[..., Ledger]) -> None:
    client = exporter(ledger)
    client.register_customer(make_profile(seed=5, basic__name="=HYPERLINK(\"http://x\")",
                                          basic__business_scope="@SUM(A1:A2)"))
    ledger.runner.catch_up()
    fields = ["basic.name", "basic.business_scope", "basic.phone"]
    as_csv = client.export_customers(fields, purpose="x")["content"].decode()
    assert "'=HYPERLINK" in as_csv and "'@SUM(A1:A2)" in as_csv and "'+86138" in as_csv
    assert ",=HYPERLINK" not in as_csv and '"=HYPERLINK' not in as_csv
    book = load_workbook(io.BytesIO(client.export_customers(
        fields, purpose="x", format="xlsx")["content"]))
    cells = [cell for row in book["export"].iter_rows() for cell in row]
    assert not [cell for cell in cells if cell.data_type == "f"]
    assert "'=HYPERLINK(\"http://x\")" in [cell.value for cell in cells]
