"""The queue of change proposals waiting for a specialist's verification."""

from __future__ import annotations

import json
from typing import Any

from ledger.domain.customer import Customer
from ledger.sql import Cursor
from projections.projection import Projection, topic_of


class PendingProposals(Projection):
    name = "pending_proposals"
    tables = ("pending_proposals",)
    schema_version = 2
    topics = frozenset(topic_of(cls) for cls in (
        Customer.ChangeProposed, Customer.ChangeVerified, Customer.ChangeRejected,
        Customer.Erased,
    ))

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS pending_proposals (
                proposal_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                fields TEXT NOT NULL,
                changes TEXT NOT NULL,
                happened_on TEXT NOT NULL,
                base_version INTEGER NOT NULL,
                proposed_by TEXT NOT NULL,
                proposed_at TEXT NOT NULL,
                record_by TEXT,
                late INTEGER NOT NULL,
                position BIGINT NOT NULL
            )""")
        cursor.execute("CREATE INDEX IF NOT EXISTS pending_proposals_customer "
                       "ON pending_proposals (customer_id, proposed_at)")

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        if isinstance(event, Customer.ChangeProposed):
            cursor.execute(
                "INSERT INTO pending_proposals (proposal_id, customer_id, fields, changes,"
                " happened_on, base_version, proposed_by, proposed_at, record_by, late, position)"
                " VALUES (:pid, :cid, :fields, :changes, :happened_on, :base, :by, :at,"
                " :record_by, :late, :position)",
                {"pid": event.proposal_id, "cid": str(event.originator_id),
                 "fields": json.dumps(sorted(event.changes)),
                 "changes": json.dumps(event.changes, ensure_ascii=False, sort_keys=True),
                 "happened_on": event.happened_on, "base": event.base_version,
                 "by": event.proposed_by, "at": event.timestamp.isoformat(),
                 "record_by": event.record_by, "late": int(event.late), "position": position},
            )
        elif isinstance(event, Customer.Erased):
            cursor.execute("DELETE FROM pending_proposals WHERE customer_id = :cid",
                           {"cid": str(event.originator_id)})
        else:
            cursor.execute("DELETE FROM pending_proposals WHERE proposal_id = :pid",
                           {"pid": event.proposal_id})
