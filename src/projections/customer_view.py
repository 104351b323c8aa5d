"""The current customer view: one row per customer, searchable by name prefix."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from ledger.domain.customer import Customer
from ledger.domain.profile import apply_changes
from ledger.protection import ProfileProtector
from ledger.sql import Cursor
from projections.projection import Projection, topic_of


def name_key(name: str) -> str:
    """The form names are searched in: NFKC, case-folded, single-spaced, in any script."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


class CustomerView(Projection):
    """Profiles as the events hold them: personal values stay sealed here and are opened
    per read, so the view holds no plaintext that erasure would have to chase."""

    name = "customer_view"
    tables = ("customer_view",)
    schema_version = 3
    topics = frozenset(topic_of(cls) for cls in (
        Customer.Registered, Customer.ChangeVerified, Customer.Reviewed,
        Customer.ChangeProposed, Customer.ChangeRejected, Customer.Erased,
    ))

    def __init__(self, protector: ProfileProtector | None = None) -> None:
        self.protector = protector

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        # Byte-order collation, so a prefix range scan means the same on both backends.
        collate = 'COLLATE "C"' if dialect == "postgres" else "COLLATE BINARY"
        cursor.execute(f"""
            CREATE TABLE IF NOT EXISTS customer_view (
                customer_id TEXT PRIMARY KEY,
                version INTEGER NOT NULL,
                name TEXT,
                name_key TEXT {collate},
                source_channel TEXT,
                profile TEXT NOT NULL,
                last_review TEXT,
                last_review_quarter TEXT,
                registered_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                erased_at TEXT,
                position BIGINT NOT NULL
            )""")
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS customer_view_name_key ON customer_view (name_key)"
        )

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        common = {"id": str(event.originator_id), "version": event.originator_version,
                  "at": event.timestamp.isoformat(), "position": position}
        if isinstance(event, Customer.Registered):
            self._upsert_profile(cursor, common, event.profile, registered=True)
        elif isinstance(event, Customer.ChangeVerified):
            row = cursor.one("SELECT profile FROM customer_view WHERE customer_id = :id", common)
            profile = apply_changes(json.loads(row[0]) if row else {}, event.applied)
            self._upsert_profile(cursor, common, profile, registered=False)
        elif isinstance(event, Customer.Erased):
            # A tombstone: the row says that and when, and nothing else of the customer.
            cursor.execute(
                "UPDATE customer_view SET name = NULL, name_key = NULL, source_channel = NULL,"
                " profile = '{}', last_review = NULL, version = :version, updated_at = :at,"
                " erased_at = :at, position = :position WHERE customer_id = :id", common)
            if self.protector is not None:
                # Re-applied on every replay: a key store restored from an older backup
                # loses the key again as soon as the log is followed.
                self.protector.keys.destroy(common["id"])
        elif isinstance(event, Customer.Reviewed):
            review = {"quarter": event.quarter, "reviewed_on": event.reviewed_on,
                      "outcome": event.outcome, "reviewed_by": event.reviewed_by}
            cursor.execute(
                "UPDATE customer_view SET last_review = :review, last_review_quarter = :quarter,"
                " version = :version, updated_at = :at, position = :position"
                " WHERE customer_id = :id",
                common | {"review": json.dumps(review, ensure_ascii=False),
                          "quarter": event.quarter},
            )
        else:
            cursor.execute(
                "UPDATE customer_view SET version = :version, updated_at = :at, "
                "position = :position WHERE customer_id = :id", common,
            )

    def _upsert_profile(self, cursor: Cursor, common: dict[str, Any], profile: dict[str, Any],
                        *, registered: bool) -> None:
        name = (profile.get("basic") or {}).get("name")
        if not isinstance(name, str):
            name = None  # sealed: the policy made the customer's name personal
        values = common | {
            "name": name,
            "name_key": name_key(name) if name else None,
            "channel": profile.get("source_channel"),
            "profile": json.dumps(profile, ensure_ascii=False, sort_keys=True),
        }
        if registered:
            cursor.execute(
                "INSERT INTO customer_view (customer_id, version, name, name_key, source_channel,"
                " profile, last_review, last_review_quarter, registered_at, updated_at, erased_at,"
                " position) VALUES (:id, :version, :name, :name_key, :channel, :profile, NULL,"
                " NULL, :at, :at, NULL, :position)",
                values,
            )
        else:
            cursor.execute(
                "UPDATE customer_view SET version = :version, name = :name, name_key = :name_key,"
                " source_channel = :channel, profile = :profile, updated_at = :at,"
                " position = :position WHERE customer_id = :id",
                values,
            )
