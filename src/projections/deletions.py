"""Deletion requests as a queue (DL-2) and as the record an erasure certificate is made of."""

from __future__ import annotations

from typing import Any

from ledger.domain.deletion import DeletionRequest
from ledger.sql import Cursor
from projections.projection import EventByEventProjection, topic_of

_STEP_OF = {
    DeletionRequest.Reviewed: ("reviewed", "reviewed_by"),
    DeletionRequest.Approved: ("approved", "approved_by"),
    DeletionRequest.Executed: ("executed", "executed_by"),
}


class Deletions(EventByEventProjection):
    name = "deletions"
    tables = ("deletion_requests",)
    topics = frozenset(topic_of(cls) for cls in (
        DeletionRequest.Requested, DeletionRequest.Reviewed, DeletionRequest.Approved,
        DeletionRequest.Executed, DeletionRequest.Rejected,
    ))

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        steps = ", ".join(f"{step}_by TEXT, {step}_at TEXT, {step}_position BIGINT"
                          for step in ("requested", "reviewed", "approved", "executed",
                                       "rejected"))
        cursor.execute(f"""
            CREATE TABLE IF NOT EXISTS deletion_requests (
                request_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                ground TEXT NOT NULL,
                department TEXT NOT NULL,
                stage TEXT NOT NULL,
                {steps},
                rejected_step TEXT,
                rejected_reason TEXT,
                key_id TEXT
            )""")
        cursor.execute("CREATE INDEX IF NOT EXISTS deletion_requests_stage "
                       "ON deletion_requests (stage, requested_at)")

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        common = {"id": str(event.originator_id), "at": event.timestamp.isoformat(),
                  "position": position}
        if isinstance(event, DeletionRequest.Requested):
            cursor.execute(
                "INSERT INTO deletion_requests (request_id, customer_id, ground, department,"
                " stage, requested_by, requested_at, requested_position) VALUES (:id, :cid,"
                " :ground, :department, 'requested', :by, :at, :position)",
                common | {"cid": event.customer_id, "ground": event.ground,
                          "department": event.department, "by": event.requested_by})
        elif isinstance(event, DeletionRequest.Rejected):
            cursor.execute(
                "UPDATE deletion_requests SET stage = 'rejected', rejected_by = :by,"
                " rejected_at = :at, rejected_position = :position, rejected_step = :step,"
                " rejected_reason = :reason WHERE request_id = :id",
                common | {"by": event.rejected_by, "step": event.step, "reason": event.reason})
        else:
            step, actor_field = _STEP_OF[type(event)]
            key = {"key_id": event.key_id} if isinstance(event, DeletionRequest.Executed) else {}
            key_sql = ", key_id = :key_id" if key else ""
            cursor.execute(
                f"UPDATE deletion_requests SET stage = '{step}', {step}_by = :by,"  # noqa: S608
                f" {step}_at = :at, {step}_position = :position{key_sql} WHERE request_id = :id",
                common | key | {"by": getattr(event, actor_field)})
