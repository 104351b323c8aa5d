"""Which export a leaked file, or a part of one, came from (EX-4).

Each recorded export is tried against the file by its three trace marks: the visible mark
(with a keyed tag, so an edited or copied mark does not verify), its canary rows (any row
holding a canary's id, or two of a canary's values), and the keyed order of the rows'
customer ids (20 or more rows in an export's order). A file that matches no export says so.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from typing import Any

from pydantic import BaseModel, Field

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.export import EXPORTABLE_FIELDS
from ledger.domain.messages import N_
from ledger.domain.sensitivity import mask_value
from ledger.export_files import ReadBack, read_back
from ledger.export_marks import TraceKey, canary_candidates
from projections.answers import Answer, Reflecting
from projections.export_log import EXPORT_LOG_COLUMNS, export_entry
from projections.queries import Queries, Query

MIN_ORDERED_ROWS = 20
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Base64 of a 64 MiB file.
_MAX_CONTENT = 90_000_000


class IdentifiedExport(Answer):
    export_id: str
    exporter: str
    exported_at: str
    purpose: str
    query_hash: str
    fields: list[str]
    row_count: int
    evidence: list[str] = Field(description="visible_mark, canary_rows, row_order")
    canary_rows: int = Field(description="Rows of the file that are this export's canaries.")
    ordered_rows: int = Field(description="Rows whose order was checked against the export's.")


class IdentifyAnswer(Reflecting):
    identified: bool = Field(description="True when exactly one export matches.")
    export: IdentifiedExport | None
    matches: list[IdentifiedExport] = Field(description="Every export the file matches.")
    rows_examined: int
    message: str


class IdentifyExport(Query):
    """Name the export a file, or a part of one, came from: by its trace marks."""

    name = "identify-export"
    answer = IdentifyAnswer
    content_base64: str = Field(min_length=1, max_length=_MAX_CONTENT, description=(
        "The file's bytes in base64 (CSV, XLSX or JSON Lines, whole or in part)."))

    def content(self) -> bytes:
        try:
            return base64.b64decode(self.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailedError([Problem("content_base64", "is not base64")]) from None


def _file(query: IdentifyExport) -> ReadBack:
    try:
        return read_back(query.content(), frozenset(EXPORTABLE_FIELDS))
    except (ValueError, UnicodeDecodeError, KeyError, OSError):
        raise ValidationFailedError([Problem("content_base64", "is not a CSV, XLSX or JSON "
                                             "Lines file")]) from None


class ExportIdentification:
    """Answers ``IdentifyExport`` from the export log, with the ledger's trace key."""

    def __init__(self, queries: Queries, trace: TraceKey) -> None:
        self.read = queries.read
        self.trace = trace

    def identify(self, query: IdentifyExport) -> dict[str, Any]:
        found = _file(query)
        with self.read.reading(query, "export_log") as (cursor, position):
            exports = [export_entry(row) for row in cursor.all(
                f"SELECT {', '.join(EXPORT_LOG_COLUMNS)} FROM export_log"  # noqa: S608
                " ORDER BY position")]
        matches = [match for export in exports
                   if (match := self._match(export, found)) is not None]
        identified = len(matches) == 1
        # Read in the reader's language: the HTTP and CLI adapters render it.
        message = (N_("the file names one export") if identified else
                   N_("the file matches no export") if not matches else
                   N_("the file matches several exports"))
        return {"identified": identified, "export": matches[0] if identified else None,
                "matches": matches, "rows_examined": len(found.rows), "message": message,
                "reflects_position": position}

    def _match(self, export: dict[str, Any], found: ReadBack) -> dict[str, Any] | None:
        evidence = []
        export_id = export["export_id"]
        mark = found.mark
        if mark is not None and mark["id"] == export_id and mark["tag"] == self.trace.tag(
                export_id, mark["exporter"], mark["at"], mark["query"]):
            evidence.append("visible_mark")
        canary_rows = self._canary_rows(export, found.rows)
        if canary_rows:
            evidence.append("canary_rows")
        ordered = self._ordered_rows(export_id, found.rows, canary_rows)
        if ordered >= MIN_ORDERED_ROWS:
            evidence.append("row_order")
        if not evidence:
            return None
        return {"export_id": export_id, "exporter": export["exporter"],
                "exported_at": export["exported_at"], "purpose": export["purpose"],
                "query_hash": export["query_hash"], "fields": export["fields"],
                "row_count": export["row_count"], "evidence": evidence,
                "canary_rows": len(canary_rows), "ordered_rows": ordered}

    def _canary_rows(self, export: dict[str, Any], rows: list[list[str]]) -> set[int]:
        if not export["canaries"]:
            return set()
        ids: set[str] = set()
        values: list[set[str]] = []
        for index in canary_candidates(export["canaries"]):
            canary = self.trace.canary(export["export_id"], index)
            ids.add(canary.customer_id)
            plain = set(canary.searchable().values())
            values.append(plain | {str(mask_value(value)) for value in plain
                                   if "@" in value or value.startswith("+")})
        found = set()
        for number, row in enumerate(rows):
            cells = set(row)
            if cells & ids or any(len(cells & known) >= 2 for known in values):
                found.add(number)
        return found

    def _ordered_rows(self, export_id: str, rows: list[list[str]], canaries: set[int]) -> int:
        """How many rows follow the export's keyed order, when all of them with a customer
        id do (0 when any is out of order)."""
        keys = [self.trace.order_key(export_id, cid) for number, row in enumerate(rows)
                if number not in canaries
                and (cid := next((cell for cell in row if _UUID.match(cell)), None))]
        in_order = all(earlier < later for earlier, later in itertools.pairwise(keys))
        return len(keys) if in_order else 0

    def handlers(self) -> dict[type[BaseModel], Any]:
        return {IdentifyExport: self.identify}
