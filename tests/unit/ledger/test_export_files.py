"""Export files: formula cells neutralised as OWASP advises and read back as they were; each
format read back with its mark, its column names, and its rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.export import EXPORTABLE_FIELDS, ExportFormat
from ledger.export_files import VisibleMark, neutralised, read_back, render, restored

MARK = VisibleMark("e1", "wang.fang", datetime(2026, 11, 27, 3, tzinfo=UTC), "q" * 64, "t" * 20)
COLUMNS = ["customer_id", "basic.name", "basic.phone", "contacts"]
ROWS = [["c1", "=1+2", "+8613800138000", [{"name": "Li"}]], ["c2", "@cmd", None, []]]


@pytest.mark.parametrize("text", ["=SUM(A1)", "+86 138", "-2", "@x", "\tx", "\rx"])
def test_a_cell_that_a_spreadsheet_would_evaluate_is_prefixed_with_a_quote(text: str) -> None:
    assert neutralised(text) == "'" + text


@settings(max_examples=200)
@given(st.text(max_size=20))
def test_neutralising_then_restoring_gives_the_value_back(text: str) -> None:
    assert restored(neutralised(text)) == text
    assert not neutralised(text).startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_each_format_reads_back_with_its_mark_columns_and_rows(fmt: ExportFormat) -> None:
    found = read_back(render(fmt, COLUMNS, ROWS, MARK), frozenset(EXPORTABLE_FIELDS))
    assert found.mark == MARK.as_dict() | {"at": MARK.at.isoformat()}
    assert found.columns == COLUMNS
    assert [row[:3] for row in found.rows] == [["c1", "=1+2", "+8613800138000"],
                                               ["c2", "@cmd", ""]]


def test_a_csv_holds_no_cell_a_spreadsheet_would_evaluate() -> None:
    text = render(ExportFormat.CSV, COLUMNS, ROWS, MARK).decode()
    cells = [cell for line in text.splitlines()[1:] for cell in line.split(",")]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]


def test_a_canarys_fax_is_never_its_phone_number() -> None:
    # Equal numbers would give one digest instead of two, and a canary one fewer mark.
    from ledger.export_marks import TraceKey
    trace = TraceKey(bytes(32))
    canaries = [trace.canary("export-1", index) for index in range(3000)]
    assert all(canary.fax != canary.phone for canary in canaries)
