"""The queue of change proposals waiting for a specialist's verification."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
        Customer.Erased, Customer.ChangeWithdrawn,
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

    def apply_batch(self, cursor: Cursor, events: Sequence[tuple[Any, int]]) -> None:
        # A proposal settled within the batch never reaches the table; stored ones that
        # are settled, and erased customers' ones, are deleted before the new rows go in.
        added: dict[str, tuple[Any, ...]] = {}
        settled: set[str] = set()
        erased: set[str] = set()
        for event, position in events:
            customer_id = str(event.originator_id)
            if isinstance(event, Customer.ChangeProposed):
                added[event.proposal_id] = _row_of(event, position)
            elif isinstance(event, Customer.Erased):
                erased.add(customer_id)
                added = {pid: row for pid, row in added.items() if row[1] != customer_id}
            elif added.pop(event.proposal_id, None) is None:
                settled.add(event.proposal_id)
        cursor.executemany("DELETE FROM pending_proposals WHERE customer_id = :cid",
                           [{"cid": customer_id} for customer_id in sorted(erased)])
        cursor.executemany("DELETE FROM pending_proposals WHERE proposal_id = :pid",
                           [{"pid": proposal_id} for proposal_id in sorted(settled)])
        cursor.insert_rows("pending_proposals", _COLUMNS, list(added.values()))


_COLUMNS = ("proposal_id", "customer_id", "fields", "changes", "happened_on", "base_version",
            "proposed_by", "proposed_at", "record_by", "late", "position")


def _row_of(event: Any, position: int) -> tuple[Any, ...]:
    return (event.proposal_id, str(event.originator_id), json.dumps(sorted(event.changes)),
            json.dumps(event.changes, ensure_ascii=False, sort_keys=True), event.happened_on,
            event.base_version, event.proposed_by, event.timestamp.isoformat(),
            event.record_by, int(event.late), position)
