"""Exports (EX-1..EX-4): export customers to a file, or file the export for approval when
it is large, and approve one filed by someone else.

``ExportCustomers`` reads its rows through ``ExportSource`` (the projections, wired by
``bootstrap()``), masked for the exporter's clearance exactly as a read is; it writes the
file with its trace marks and records one ``Export.Produced`` event, the audit record
(EX-3). The file itself never enters an event or a stored outcome: it waits in
``ExportFiles`` for the adapter that asked for it (``POST /exports``, the client).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID, uuid4

from pydantic import Field, field_validator

from commands.command import Command, Handler, Result
from commands.ports import UnitOfWork
from ledger.domain.errors import PermissionDeniedError
from ledger.domain.export import (
    EXPORTABLE_FIELDS,
    Export,
    ExportFilter,
    ExportFormat,
    ExportRequest,
    ReportName,
    ReportTable,
    Selection,
    query_hash,
    report_hash,
)
from ledger.domain.messages import message
from ledger.domain.sensitivity import Clearance, mask_value
from ledger.export_files import MEDIA_TYPES, VisibleMark, render
from ledger.export_marks import Canary, TraceKey, canary_candidates, canary_count


class ExportCustomers(Command):
    """Export the customers a filter selects, with the fields asked, for a stated purpose."""

    name = "export"
    filter: ExportFilter = Field(default_factory=ExportFilter)
    fields: list[str] = Field(min_length=1, max_length=len(EXPORTABLE_FIELDS), description=(
        "Columns, in order; customer_id is always the first."))
    format: ExportFormat = ExportFormat.CSV
    purpose: str = Field(min_length=1, max_length=500, description="Why the data leaves.")
    request_id: UUID | None = Field(default=None, description=(
        "Run this approved export request (its query, once)."))

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        unknown = sorted({name for name in value if name not in EXPORTABLE_FIELDS})
        if unknown:
            # Named by count, not by text: the caller typed them.
            raise ValueError(message("{count} unknown field(s); the exportable ones are "
                                     "{fields}", count=len(unknown),
                                     fields=", ".join(EXPORTABLE_FIELDS)))
        if len(set(value)) != len(value):
            raise ValueError("a field is listed twice")
        return value

    def columns(self) -> list[str]:
        return ["customer_id", *(name for name in self.fields if name != "customer_id")]


class ExportReport(Command):
    """Export a report (OP-3) to a file, traced by its visible mark and audited."""

    name = "export-report"
    report: ReportName
    params: dict[str, str] = Field(default_factory=dict, max_length=10, description=(
        "The report's parameters (review-coverage: quarter)."))
    format: ExportFormat = ExportFormat.CSV
    purpose: str = Field(min_length=1, max_length=500, description="Why the data leaves.")


class ApproveExport(Command):
    """Approve an export request filed by someone else (the bulk-export privilege)."""

    name = "approve-export"
    request_id: UUID


class ReportSource(Protocol):
    """Where report rows come from (``projections.reports.report_table``)."""

    def __call__(self, report: str, params: dict[str, str], clearance: Clearance
                 ) -> ReportTable: ...


class ExportSource(Protocol):
    """Where export rows come from (``projections.export_rows.ExportRows``)."""

    def select(self, criteria: ExportFilter, columns: list[str], clearance: Clearance
               ) -> Selection: ...

    def taken(self, candidates: list[dict[str, str]]) -> set[int]:
        """Which of ``candidates`` (values by path) a real customer shares a value with, by
        their blind-index digests: one read for them all."""


@dataclass(frozen=True)
class ExportFile:
    filename: str
    media_type: str
    content: bytes


class ExportFiles:
    """Files produced in this process, kept for the adapter that asked, taken once."""

    def __init__(self) -> None:
        self._files: dict[str, ExportFile] = {}
        self._lock = threading.Lock()

    def keep(self, command_id: str, file: ExportFile) -> None:
        with self._lock:
            self._files[command_id] = file

    def take(self, command_id: str) -> ExportFile | None:
        with self._lock:
            return self._files.pop(command_id, None)


class Exports:
    """The export commands' handlers, over the read side and the trace key."""

    def __init__(self, source: ExportSource, trace: TraceKey,
                 clearance_for: Callable[[str, frozenset[str]], Clearance],
                 files: ExportFiles | None = None, *, reports: ReportSource | None = None,
                 permits: Callable[[frozenset[str], str], bool] | None = None) -> None:
        self.source = source
        self.trace = trace
        self.clearance_for = clearance_for
        self.files = files or ExportFiles()
        self.reports = reports
        self.permits = permits or (lambda roles, operation: True)

    def handlers(self) -> dict[type[Command], Handler]:
        return {ExportCustomers: self.export, ExportReport: self.export_report}

    def export_report(self, command: ExportReport, uow: UnitOfWork) -> Result:
        operation = f"report-{command.report}"
        if self.reports is None or not self.permits(uow.roles, operation):
            # Exporting a report shows it: the exporter must be allowed to read it too.
            raise PermissionDeniedError(message("exporting this report needs {operation} as "
                                                "well", operation=operation),
                                        details={"operation": operation})
        table = self.reports(command.report, command.params,
                             self.clearance_for(uow.actor, uow.roles))
        query = report_hash(command.report, command.params)
        export_id, at = uuid4(), uow.clock()
        mark = VisibleMark(str(export_id), uow.actor, at, query,
                           self.trace.tag(str(export_id), uow.actor, at.isoformat(), query))
        content = render(command.format, table.columns, table.rows, mark)
        return self._produced(command, uow, export_id, content, {
            "criteria": {"report": command.report, **command.params}, "fields": table.columns,
            "masked_fields": table.hidden, "rows": len(table.rows), "canaries": 0,
            "query_hash": query, "reflects_position": table.position, "request_id": None})

    def _produced(self, command: ExportCustomers | ExportReport, uow: UnitOfWork,
                  export_id: UUID, content: bytes, facts: dict[str, Any]) -> Result:
        """Record the export (EX-3) and keep its file for the adapter that asked."""
        digest = hashlib.sha256(content).hexdigest()
        uow.add(Export.produced(export_id, exporter=uow.actor, purpose=command.purpose,
                                format=command.format.value, sha256=digest, **facts))
        file = ExportFile(f"export-{export_id}.{command.format.value}",
                          MEDIA_TYPES[command.format], content)
        uow.on_commit(lambda: self.files.keep(command.command_id, file))
        return {"status": "exported", "export_id": str(export_id), "sha256": digest,
                "format": command.format.value, "filename": file.filename} | {
            key: facts[key] for key in ("rows", "canaries", "query_hash", "masked_fields",
                                        "reflects_position", "request_id")}

    def export(self, command: ExportCustomers, uow: UnitOfWork) -> Result:
        columns = command.columns()
        query = query_hash(command.filter, columns)
        clearance = self.clearance_for(uow.actor, uow.roles)
        selection = self.source.select(command.filter, columns, clearance)
        position = selection.position
        request: ExportRequest | None = None
        if command.request_id is not None:
            request = uow.load(command.request_id, ExportRequest, "export request")
            request.check_runnable(uow.actor, query)
            request.check_rows_unchanged(selection.rows_digest)
            position = request.position
        elif len(selection.rows) > uow.policy.export.approval_threshold:
            return self._file_request(command, uow, columns, query, selection)
        export_id = uuid4()
        at = uow.clock()
        mark = VisibleMark(str(export_id), uow.actor, at, query,
                           self.trace.tag(str(export_id), uow.actor, at.isoformat(), query))
        table, canaries = self._table(str(export_id), columns, selection, clearance, mark)
        content = render(command.format, columns, table, mark)
        if request is not None:
            request.use(export_id)
        return self._produced(command, uow, export_id, content, {
            "criteria": command.filter.model_dump(mode="json", exclude_none=True),
            "fields": columns, "masked_fields": selection.masked_fields,
            "rows": len(selection.rows), "canaries": canaries, "query_hash": query,
            "reflects_position": position,
            "request_id": None if request is None else str(request.id)})

    def _file_request(self, command: ExportCustomers, uow: UnitOfWork, columns: list[str],
                      query: str, selection: Selection) -> Result:
        request = ExportRequest.file(
            requested_by=uow.actor, purpose=command.purpose,
            criteria=command.filter.model_dump(mode="json", exclude_none=True), fields=columns,
            format=command.format.value, customers=len(selection.rows), query_hash=query,
            position=selection.position, rows_digest=selection.rows_digest)
        uow.add(request)
        return {"status": "pending_approval", "request_id": str(request.id),
                "customers": len(selection.rows),
                "approval_threshold": uow.policy.export.approval_threshold,
                "query_hash": query, "binding": request.binding,
                "reflects_position": selection.position}

    def _table(self, export_id: str, columns: list[str], selection: Selection,
               clearance: Clearance, mark: VisibleMark) -> tuple[list[list[Any]], int]:
        """The rows in the export's keyed order, with its canaries in their keyed slots."""
        ordered = sorted(selection.rows, key=lambda row: self.trace.order_key(
            export_id, row["customer_id"]))
        wanted = canary_count(len(ordered))
        candidates = [self.trace.canary(export_id, index)
                      for index in canary_candidates(wanted)] if wanted else []
        shared = self.source.taken([canary.searchable() for canary in candidates])
        chosen = [(self.trace.canary_slot(export_id, index, len(ordered)), canary)
                  for index, canary in enumerate(candidates) if index not in shared][:wanted]
        table = [[row.get(column) for column in columns] for row in ordered]
        for slot, canary in sorted(chosen, key=lambda item: -item[0]):
            table.insert(slot, [self._canary_value(canary, column, clearance, mark)
                                for column in columns])
        return table, len(chosen)

    @staticmethod
    def _canary_value(canary: Canary, column: str, clearance: Clearance,
                      mark: VisibleMark) -> Any:
        value = canary.value(column, mark.at)
        # Masked like a real row's, so a canary looks like its neighbours.
        return mask_value(value) if value is not None and clearance.hides(column) else value


def approve_export(command: ApproveExport, uow: UnitOfWork) -> Result:
    # The authoriser let the command through: one of the actor's roles (bulk_export, by
    # default) holds the privilege; the request checks the approver is someone else.
    request = uow.load(command.request_id, ExportRequest, "export request")
    request.approve(uow.actor)
    return {"request_id": str(request.id), "stage": str(request.stage),
            "binding": request.binding}


HANDLERS: dict[type[Command], Handler] = {
    ApproveExport: approve_export,
}
