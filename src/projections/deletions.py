"""Deletion requests as a queue (DL-2) and as the record an erasure certificate is made of;
the legal holds that block their execution (DL-5), for the queue, the certificate and the
review of holds."""

from __future__ import annotations

import json
from typing import Any

from ledger.domain.customer import Customer
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
    tables = ("deletion_requests", "legal_holds")
    schema_version = 2
    topics = frozenset(topic_of(cls) for cls in (
        DeletionRequest.Requested, DeletionRequest.Reviewed, DeletionRequest.Approved,
        DeletionRequest.Executed, DeletionRequest.Rejected,
        Customer.LegalHoldPlaced, Customer.LegalHoldLifted,
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
        # The reason stays sealed as the event holds it: it is opened per read.
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS legal_holds (
                hold_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                reference TEXT NOT NULL,
                reason TEXT NOT NULL,
                until TEXT,
                placed_by TEXT NOT NULL,
                placed_at TEXT NOT NULL,
                placed_position BIGINT NOT NULL,
                lifted_by TEXT,
                lifted_at TEXT,
                lifted_position BIGINT
            )""")
        cursor.execute("CREATE INDEX IF NOT EXISTS legal_holds_customer "
                       "ON legal_holds (customer_id)")

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        common = {"id": str(event.originator_id), "at": event.timestamp.isoformat(),
                  "position": position}
        if isinstance(event, Customer.LegalHoldPlaced):
            cursor.execute(
                "INSERT INTO legal_holds (hold_id, customer_id, reference, reason, until,"
                " placed_by, placed_at, placed_position) VALUES (:hold, :id, :reference,"
                " :reason, :until, :by, :at, :position)",
                common | {"hold": event.hold_id, "reference": event.reference,
                          "reason": json.dumps(event.reason), "until": event.until,
                          "by": event.placed_by})
        elif isinstance(event, Customer.LegalHoldLifted):
            cursor.execute(
                "UPDATE legal_holds SET lifted_by = :by, lifted_at = :at,"
                " lifted_position = :position WHERE hold_id = :hold",
                common | {"hold": event.hold_id, "by": event.lifted_by})
        elif isinstance(event, DeletionRequest.Requested):
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
                common | {"by": event.rejected_by, "step": event.step,
                          # Sealed as the event holds it, opened per read.
                          "reason": json.dumps(event.reason) if isinstance(event.reason, dict)
                          else event.reason})
        else:
            step, actor_field = _STEP_OF[type(event)]
            key = {"key_id": event.key_id} if isinstance(event, DeletionRequest.Executed) else {}
            key_sql = ", key_id = :key_id" if key else ""
            cursor.execute(
                f"UPDATE deletion_requests SET stage = '{step}', {step}_by = :by,"  # noqa: S608
                f" {step}_at = :at, {step}_position = :position{key_sql} WHERE request_id = :id",
                common | key | {"by": getattr(event, actor_field)})
