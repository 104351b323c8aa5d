"""The current customer view: one row per customer, searchable by name prefix."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from typing import Any

from ledger.domain.customer import Customer
from ledger.domain.paths import apply_changes
from ledger.sql import Cursor, in_list
from projections.projection import Projection, topic_of


def name_key(name: str) -> str:
    """The form names are searched in: NFKC, case-folded, single-spaced, in any script."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


class CustomerView(Projection):
    """Profiles as the events hold them: personal values stay sealed here and are opened
    per read, so the view holds no plaintext that erasure would have to chase. A pure read
    model: the erased customer's key is the erasure follower's (``ledger.erasures``)."""

    name = "customer_view"
    tables = ("customer_view",)
    # 5: every quarter a customer was reviewed in, not only the last (UP-1 for past quarters).
    schema_version = 5
    topics = frozenset(topic_of(cls) for cls in (
        Customer.Registered, Customer.ChangeVerified, Customer.Reviewed,
        Customer.ChangeProposed, Customer.ChangeRejected, Customer.Erased,
        Customer.ChangeWithdrawn,
        Customer.LegalHoldPlaced, Customer.LegalHoldLifted,
    ))

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
                reviewed_quarters TEXT NOT NULL,
                registered_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                erased_at TEXT,
                position BIGINT NOT NULL,
                legal_holds TEXT NOT NULL
            )""")
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS customer_view_name_key ON customer_view (name_key)"
        )

    def apply_batch(self, cursor: Cursor, events: Sequence[tuple[Any, int]]) -> None:
        # Each touched row is read at most once, changed in memory event by event, and
        # written once: new rows in one bulk insert, changed ones in one pipelined UPDATE.
        registered = {str(e.originator_id) for e, _ in events
                      if isinstance(e, Customer.Registered)}
        rows = _load(cursor, {str(e.originator_id) for e, _ in events} - registered)
        fresh: list[dict[str, Any]] = []
        for event, position in events:
            customer_id = str(event.originator_id)
            if isinstance(event, Customer.Registered):
                rows[customer_id] = row = _row_of(event, position)
                fresh.append(row)
            else:
                self._change(rows.get(customer_id), event, position)
        cursor.insert_rows("customer_view", COLUMNS,
                           [tuple(row[column] for column in COLUMNS) for row in fresh])
        cursor.executemany(_UPDATE, [row for customer_id, row in rows.items()
                                     if row is not None and customer_id not in registered])

    def _change(self, row: dict[str, Any] | None, event: Any, position: int) -> None:
        """One later event on a row (None: the customer has no row, and keeps none)."""
        if row is None:
            return
        row |= {"version": event.originator_version, "updated_at": event.timestamp.isoformat(),
                "position": position}
        if isinstance(event, Customer.ChangeVerified):
            row |= _profile_columns(apply_changes(json.loads(row["profile"]), event.applied))
        elif isinstance(event, Customer.Erased):
            # A tombstone: the row says that and when, and nothing else of the customer.
            row |= {"name": None, "name_key": None, "source_channel": None, "profile": "{}",
                    "last_review": None, "erased_at": row["updated_at"],
                    "legal_holds": "[]"}
        elif isinstance(event, Customer.Reviewed):
            review = {"quarter": event.quarter, "reviewed_on": event.reviewed_on,
                      "outcome": event.outcome, "reviewed_by": event.reviewed_by}
            quarters = sorted({*json.loads(row["reviewed_quarters"]), event.quarter})
            row |= {"last_review": json.dumps(review, ensure_ascii=False),
                    "last_review_quarter": event.quarter,
                    "reviewed_quarters": json.dumps(quarters)}
        elif isinstance(event, Customer.LegalHoldPlaced | Customer.LegalHoldLifted):
            row["legal_holds"] = json.dumps(_holds_after(json.loads(row["legal_holds"]), event))


def _holds_after(holds: list[dict[str, Any]], event: Any) -> list[dict[str, Any]]:
    """The holds not lifted, as the view shows them: who placed each, when, until when, and
    its reference (its reason stays sealed in the event, for the review of holds)."""
    if isinstance(event, Customer.LegalHoldLifted):
        return [hold for hold in holds if hold["hold_id"] != event.hold_id]
    return [*holds, {"hold_id": event.hold_id, "reference": event.reference,
                     "until": event.until, "placed_by": event.placed_by,
                     "placed_at": event.timestamp.isoformat()}]


COLUMNS = ("customer_id", "version", "name", "name_key", "source_channel", "profile",
           "last_review", "last_review_quarter", "reviewed_quarters", "registered_at",
           "updated_at", "erased_at", "position", "legal_holds")
_UPDATE = ("UPDATE customer_view SET " + ", ".join(f"{c} = :{c}" for c in COLUMNS[1:])  # noqa: S608
           + " WHERE customer_id = :customer_id")
# Few enough parameters per statement for either backend's limit.
_LOAD_CHUNK = 500


def _load(cursor: Cursor, customer_ids: set[str]) -> dict[str, dict[str, Any] | None]:
    """The stored rows of ``customer_ids`` (None for a customer without a row)."""
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(customer_ids)
    ordered = sorted(customer_ids)
    for start in range(0, len(ordered), _LOAD_CHUNK):
        clause, params = in_list("cid", ordered[start:start + _LOAD_CHUNK])
        for values in cursor.all(f"SELECT {', '.join(COLUMNS)} FROM customer_view "  # noqa: S608
                                 f"WHERE customer_id IN {clause}", params):
            found[str(values[0])] = dict(zip(COLUMNS, values, strict=True))
    return found


def _row_of(event: Any, position: int) -> dict[str, Any]:
    at = event.timestamp.isoformat()
    return {"customer_id": str(event.originator_id), "version": event.originator_version,
            "last_review": None, "last_review_quarter": None, "reviewed_quarters": "[]",
            "registered_at": at,
            "updated_at": at, "erased_at": None, "position": position, "legal_holds": "[]",
            } | _profile_columns(event.profile)


def _profile_columns(profile: dict[str, Any]) -> dict[str, Any]:
    name = (profile.get("basic") or {}).get("name")
    if not isinstance(name, str):
        name = None  # sealed: the policy made the customer's name personal
    return {"name": name, "name_key": name_key(name) if name else None,
            "source_channel": profile.get("source_channel"),
            "profile": json.dumps(profile, ensure_ascii=False, sort_keys=True)}
