"""Key-field changes and their recording deadline (UP-2): which were recorded late."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
        Customer.ChangeWithdrawn,
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

    def apply_batch(self, cursor: Cursor, events: Sequence[tuple[Any, int]]) -> None:
        # New rows take their final status in memory; stored rows get their last one.
        added: dict[str, list[Any]] = {}
        settled: dict[str, dict[str, Any]] = {}
        for event, position in events:
            if isinstance(event, Customer.ChangeProposed):
                if event.key_fields and event.record_by is not None:
                    # A settlement logged before its proposal changed no stored row.
                    settled.pop(event.proposal_id, None)
                    added[event.proposal_id] = _row_of(event, position)
                continue
            status = _STATUS_AFTER[type(event)]
            row = added.get(event.proposal_id)
            if row is not None:
                row[_STATUS], row[-1] = status, position
            else:
                settled[event.proposal_id] = {"status": status, "position": position,
                                              "pid": event.proposal_id}
        cursor.insert_rows("key_changes", _COLUMNS, [tuple(row) for row in added.values()])
        cursor.executemany("UPDATE key_changes SET status = :status, position = :position "
                           "WHERE proposal_id = :pid", list(settled.values()))


_COLUMNS = ("proposal_id", "customer_id", "key_fields", "happened_on", "recorded_at",
            "record_by", "late", "status", "proposed_by", "position")
_STATUS = _COLUMNS.index("status")
_STATUS_AFTER = {Customer.ChangeVerified: "verified", Customer.ChangeRejected: "rejected",
                 Customer.ChangeWithdrawn: "withdrawn"}


def _row_of(event: Any, position: int) -> list[Any]:
    return [event.proposal_id, str(event.originator_id), json.dumps(event.key_fields),
            event.happened_on, event.timestamp.isoformat(), event.record_by, int(event.late),
            "pending", event.proposed_by, position]
