"""Export files in CSV, XLSX (``openpyxl``) and JSON Lines, with their visible mark; and the
same files read back, for ``ledger export identify``.

Spreadsheet cells are neutralised against formula injection as OWASP advises: a text
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with a
single quote, so a spreadsheet shows it as text and never evaluates it. JSON Lines keeps
every value exactly (it is read by programs, not spreadsheets).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openpyxl import Workbook, load_workbook  # type: ignore[import-untyped]

from ledger.domain.export import ExportFormat

MARK_LABEL = "# ledger export"
MARK_KEYS = ("id", "exporter", "at", "query", "tag")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.JSONL: "application/x-ndjson",
}


def neutralised(text: str) -> str:
    """``text`` as a spreadsheet cell that is never a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def restored(text: str) -> str:
    """The value a neutralised cell stood for."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) else text


def cell_text(value: Any) -> str:
    """A value as one cell: nested values as compact JSON, none as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@dataclass(frozen=True)
class VisibleMark:
    """The facts the file names about itself."""

    export_id: str
    exporter: str
    at: datetime
    query: str
    tag: str

    def cells(self) -> list[str]:
        return [MARK_LABEL, f"id={self.export_id}", f"exporter={self.exporter}",
                f"at={self.at.isoformat()}", f"query={self.query}", f"tag={self.tag}"]

    def as_dict(self) -> dict[str, str]:
        return {"id": self.export_id, "exporter": self.exporter, "at": self.at.isoformat(),
                "query": self.query, "tag": self.tag}


def render(fmt: ExportFormat, columns: list[str], rows: list[list[Any]],
           mark: VisibleMark) -> bytes:
    """The file: the mark, the column names, then one line (or sheet row) per row."""
    if fmt is ExportFormat.JSONL:
        lines = [json.dumps({"ledger_export": mark.as_dict()}, ensure_ascii=False)]
        lines += [json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False,
                             sort_keys=False) for row in rows]
        return ("\n".join(lines) + "\n").encode()
    table = [[neutralised(cell_text(value)) for value in row] for row in rows]
    if fmt is ExportFormat.CSV:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(mark.cells())
        writer.writerow(columns)
        writer.writerows(table)
        return text.getvalue().encode()
    return _workbook(columns, table, mark)


def _workbook(columns: list[str], table: list[list[str]], mark: VisibleMark) -> bytes:
    book = Workbook(write_only=True)
    book.properties.title = f"ledger export {mark.export_id}"
    book.properties.creator = mark.exporter
    book.properties.created = mark.at.replace(tzinfo=None)
    book.properties.subject = f"query {mark.query}"
    book.properties.keywords = " ".join(mark.cells()[1:])
    sheet = book.create_sheet("export")
    sheet.append(columns)
    for row in table:
        sheet.append(row)
    sheet.append(mark.cells())
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass
class ReadBack:
    """What a (possibly cut-down) export file holds: its mark if any, its column names if
    they survived, and its rows as text."""

    mark: dict[str, str] | None = None
    columns: list[str] | None = None
    rows: list[list[str]] = field(default_factory=list)


def _mark_of(cells: list[str]) -> dict[str, str] | None:
    if not cells or cells[0] != MARK_LABEL:
        return None
    found = dict(cell.partition("=")[::2] for cell in cells[1:] if "=" in cell)
    return {key: found.get(key, "") for key in MARK_KEYS}


def read_back(content: bytes, known_columns: frozenset[str]) -> ReadBack:
    """Parse ``content`` as whichever format it is in; a first row of known column names is
    taken as the header."""
    if content.startswith(b"PK") and zipfile.is_zipfile(io.BytesIO(content)):
        lines = _sheet_rows(content)
    else:
        text = content.decode("utf-8-sig")
        stripped = text.lstrip()
        if stripped.startswith("{"):
            return _jsonl(stripped)
        lines = [row for row in csv.reader(io.StringIO(text)) if row]
    found = ReadBack()
    for cells in lines:
        mark = _mark_of(cells)
        if mark is not None:
            found.mark = mark
        elif (found.columns is None and not found.rows
              and cells and all(cell in known_columns for cell in cells)):
            found.columns = cells
        else:
            found.rows.append([restored(cell) for cell in cells])
    return found


def _sheet_rows(content: bytes) -> list[list[str]]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    try:
        rows = [["" if value is None else str(value) for value in row]
                for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]
        keywords = book.properties.keywords or ""
    finally:
        book.close()
    if keywords and not any(_mark_of(row) for row in rows):
        rows.insert(0, [MARK_LABEL, *keywords.split(" ")])
    return [row for row in rows if any(row)]


def _jsonl(text: str) -> ReadBack:
    found = ReadBack()
    for line in text.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if not isinstance(record, dict):
            continue
        if isinstance(record.get("ledger_export"), dict):
            mark = record["ledger_export"]
            found.mark = {key: str(mark.get(key, "")) for key in MARK_KEYS}
            continue
        if found.columns is None:
            found.columns = list(record)
        found.rows.append([cell_text(value) for value in record.values()])
    return found
