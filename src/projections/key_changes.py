"""Key-field changes and their recording deadline (UP-2): which were recorded late."""

from __future__ import annotations

import json
from typing import Any

from ledger.domain.customer import Customer
from ledger.sql import Cursor
from projections.projection import Projection, topic_of


class KeyChanges(Projection):
    """Every proposal touching a key field, with when it happened, was recorded, and was due."""

    name = "key_changes"
    tables = ("key_changes",)
    topics = frozenset(topic_of(cls) for cls in (
        Customer.ChangeProposed, Customer.ChangeVerified, Customer.ChangeRejected,
    ))

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS key_changes (
                proposal_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                key_fields TEXT NOT NULL,
                happened_on TEXT NOT NULL,
                recorded_at TEXT NOT NULL,
                record_by TEXT NOT NULL,
                late INTEGER NOT NULL,
                status TEXT NOT NULL,
                proposed_by TEXT NOT NULL,
                position BIGINT NOT NULL
            )""")
        cursor.execute("CREATE INDEX IF NOT EXISTS key_changes_late "
                       "ON key_changes (late, recorded_at)")

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        if isinstance(event, Customer.ChangeProposed):
            if not event.key_fields or event.record_by is None:
                return
            cursor.execute(
                "INSERT INTO key_changes (proposal_id, customer_id, key_fields, happened_on,"
                " recorded_at, record_by, late, status, proposed_by, position) VALUES (:pid,"
                " :cid, :fields, :happened_on, :at, :record_by, :late, 'pending', :by, :position)",
                {"pid": event.proposal_id, "cid": str(event.originator_id),
                 "fields": json.dumps(event.key_fields), "happened_on": event.happened_on,
                 "at": event.timestamp.isoformat(), "record_by": event.record_by,
                 "late": int(event.late), "by": event.proposed_by, "position": position},
            )
        else:
            status = "verified" if isinstance(event, Customer.ChangeVerified) else "rejected"
            cursor.execute("UPDATE key_changes SET status = :status, position = :position "
                           "WHERE proposal_id = :pid",
                           {"status": status, "position": position, "pid": event.proposal_id})
