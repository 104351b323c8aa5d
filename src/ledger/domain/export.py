"""Exports (EX-1..EX-4): what may be asked of one, an export run, and a request for one
that needs an approval first because it is large (EX-2).

``ExportFilter`` and the column list are the query an export answers; its hash names it in
the file's visible mark and binds an approval to it. An ``Export`` is one file produced:
its one event records what the audit trail needs (EX-3) and what ``identify`` recovers
from a leaked file (EX-4). An ``ExportRequest`` is a query filed for approval; a different
person with the bulk-export privilege approves it, and its requester runs it once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ledger.domain.errors import ConflictError, PermissionDeniedError, WorkflowViolationError
from ledger.domain.events import LedgerAggregate
from ledger.domain.profile import CHANGEABLE_PATHS, SourceChannel

# Columns of the customer view beside the profile's paths; the id is always the first one.
VIEW_COLUMNS = ("customer_id", "version", "registered_at", "last_review_quarter")
EXPORTABLE_FIELDS: tuple[str, ...] = VIEW_COLUMNS + tuple(sorted(CHANGEABLE_PATHS))
"""Every column an export may hold: the view's own, and each path a change may set."""


REPORT_NAMES = ("customers", "review-coverage", "key-change-lateness", "deletions",
                "pending-proposals")
"""The reports (OP-3) an export may hold, by the name ``ledger report NAME`` takes."""
ReportName = Literal["customers", "review-coverage", "key-change-lateness", "deletions",
                     "pending-proposals"]


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSONL = "jsonl"


class ExportFilter(BaseModel):
    """Which customers an export holds: the criteria the customer queries take; none given
    is every customer not erased."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name_prefix: str | None = Field(default=None, min_length=1, max_length=200,
                                    description="Names starting with this, any case.")
    source_channel: SourceChannel | None = None
    region: str | None = Field(default=None, min_length=1, max_length=100, description=(
        "The address's region (needs clearance to read basic.address)."))
    review_state: Literal["reviewed", "due"] | None = Field(default=None, description=(
        "Reviewed in the current quarter, or not yet."))
    created_since: AwareDatetime | None = Field(default=None, description=(
        "Registered at or after this ISO 8601 moment."))
    created_until: AwareDatetime | None = Field(default=None, description=(
        "Registered at or before this ISO 8601 moment."))

    @model_validator(mode="after")
    def _ordered(self) -> ExportFilter:
        if (self.created_since is not None and self.created_until is not None
                and self.created_since > self.created_until):
            raise ValueError("created_since must not be after created_until")
        return self


def query_hash(criteria: ExportFilter, fields: list[str]) -> str:
    """SHA-256 of the exact query: the filter as given and the columns in order."""
    canonical = json.dumps({"filter": criteria.model_dump(mode="json", exclude_none=True),
                            "fields": fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def report_hash(report: str, params: dict[str, Any]) -> str:
    """SHA-256 of a report's name and parameters: the query hash of a report export."""
    canonical = json.dumps({"report": report, "params": params}, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ReportTable:
    """A report as rows of plain values, at the position it reflects."""

    columns: list[str]
    rows: list[list[Any]]
    position: int
    hidden: list[str]


def approval_binding(query: str, position: int, rows_digest: str) -> str:
    """SHA-256 binding an approval to the query, the position it was filed at, and the rows
    (ids and versions) it selected there: what runs is what was approved."""
    return hashlib.sha256(f"{query}|{position}|{rows_digest}".encode()).hexdigest()


@dataclass(frozen=True)
class Selection:
    """The rows an export's query selects, masked for the exporter, at one position."""

    position: int
    rows: list[dict[str, Any]]
    masked_fields: list[str]
    rows_digest: str


def rows_digest(rows: list[tuple[str, int]]) -> str:
    """SHA-256 of the selected customers' ids and versions, in id order."""
    return hashlib.sha256("".join(f"{cid}:{version}\n" for cid, version in sorted(rows)
                                  ).encode()).hexdigest()


class Export(LedgerAggregate):
    """One export file produced; the exporter, time and command are in the metadata."""

    class Produced(LedgerAggregate.Created):
        exporter: str
        purpose: str
        criteria: dict[str, Any]
        fields: list[str]
        masked_fields: list[str]
        format: str
        rows: int
        canaries: int
        sha256: str
        query_hash: str
        reflects_position: int
        request_id: str | None

    @classmethod
    def produced(cls, export_id: UUID, **facts: Any) -> Export:
        export: Export = cls._create(cls.Produced, id=export_id, **facts)
        return export


class RequestStage(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    USED = "used"


class ExportRequest(LedgerAggregate):
    """A large export waiting for approval (EX-2), then run once by its requester."""

    class Filed(LedgerAggregate.Created):
        requested_by: str
        purpose: str
        criteria: dict[str, Any]
        fields: list[str]
        format: str
        customers: int
        query_hash: str
        position: int
        rows_digest: str
        binding: str

        def apply(self, request: ExportRequest) -> None:
            request.requested_by = self.requested_by
            request.query_hash = self.query_hash
            request.position = self.position
            request.rows_digest = self.rows_digest
            request.binding = self.binding

    class Approved(LedgerAggregate.Event):
        approved_by: str
        binding: str

        def apply(self, request: ExportRequest) -> None:
            request.stage = RequestStage.APPROVED
            request.approved_by = self.approved_by

    class Used(LedgerAggregate.Event):
        export_id: str

        def apply(self, request: ExportRequest) -> None:
            request.stage = RequestStage.USED

    def __init__(self) -> None:
        self.requested_by = ""
        self.query_hash = ""
        self.position = 0
        self.rows_digest = ""
        self.binding = ""
        self.stage = RequestStage.PENDING
        self.approved_by: str | None = None

    @classmethod
    def file(cls, **facts: Any) -> ExportRequest:
        facts["binding"] = approval_binding(facts["query_hash"], facts["position"],
                                            facts["rows_digest"])
        request: ExportRequest = cls._create(cls.Filed, id=uuid4(), **facts)
        return request

    def approve(self, actor: str) -> None:
        if actor == self.requested_by:
            raise PermissionDeniedError("an export request is approved by someone other than "
                                        "its requester", details={"request_id": str(self.id)})
        if self.stage is not RequestStage.PENDING:
            raise WorkflowViolationError("this export request is not waiting for approval",
                                         details={"stage": str(self.stage)})
        self.trigger_event(self.Approved, approved_by=actor, binding=self.binding)

    def check_runnable(self, actor: str, query: str) -> None:
        """The requester may run the approved query, once."""
        if actor != self.requested_by:
            raise PermissionDeniedError("an approved export is run by its requester",
                                        details={"request_id": str(self.id)})
        if self.stage is RequestStage.USED:
            raise WorkflowViolationError("this approval was used already: a new run needs a "
                                         "new approval", details={"request_id": str(self.id)})
        if self.stage is not RequestStage.APPROVED:
            raise WorkflowViolationError("this export request is not approved yet",
                                         details={"request_id": str(self.id)})
        if query != self.query_hash:
            raise WorkflowViolationError(
                "the approval is for another query (filter and fields must be the approved "
                "ones)", details={"request_id": str(self.id)})

    def check_rows_unchanged(self, rows_digest: str) -> None:
        if approval_binding(self.query_hash, self.position, rows_digest) != self.binding:
            raise ConflictError("the customers this query selects changed since the approval; "
                                "file a new request", details={"request_id": str(self.id),
                                                               "approved_position":
                                                               self.position})

    def use(self, export_id: UUID) -> None:
        self.trigger_event(self.Used, export_id=str(export_id))
