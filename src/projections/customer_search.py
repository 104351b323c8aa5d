"""Blind-index rows for search and duplicate detection (DL-4): keyed digests, no plaintext.

Digests are computed here, from values opened with the customer's key in memory; the
events themselves carry only ciphertext, so once a key is destroyed and these rows are
deleted, nothing derived from the personal values remains in the database.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.customer import Customer
from ledger.domain.profile import paths_overlap
from ledger.protection import ProfileProtector
from ledger.sql import Cursor, in_list
from projections.projection import Projection, topic_of


class CustomerSearch(Projection):
    name = "customer_search"
    tables = ("customer_search",)
    topics = frozenset(topic_of(cls) for cls in (
        Customer.Registered, Customer.ChangeVerified, Customer.Erased,
    ))

    def __init__(self, protector: ProfileProtector) -> None:
        self.protector = protector

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS customer_search (
                customer_id TEXT NOT NULL,
                source TEXT NOT NULL,
                kind TEXT NOT NULL,
                digest TEXT NOT NULL,
                PRIMARY KEY (customer_id, source, kind, digest)
            )""")
        cursor.execute("CREATE INDEX IF NOT EXISTS customer_search_digest "
                       "ON customer_search (kind, digest)")

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        customer_id = str(event.originator_id)
        if isinstance(event, Customer.Erased):
            cursor.execute("DELETE FROM customer_search WHERE customer_id = :cid",
                           {"cid": customer_id})
            return
        if isinstance(event, Customer.Registered):
            profile = self.protector.open_profile(customer_id, event.profile)
            values = {path: _at(profile, path) for path in self.protector.search_paths()}
            replaced: set[str] = set()  # a new customer has no rows to replace
        else:
            values = self.protector.open_changes(customer_id, event.applied)
            replaced = {source for path in values for source in self.protector.search_paths()
                        if paths_overlap(path, source)}
        rows = {(source, kind, digest)
                for path, value in values.items()
                for source in self.protector.search_paths() if paths_overlap(path, source)
                for kind, digest in self.protector.digests(
                    source, value if path == source else _at({path.split(".")[0]: value},
                                                             source))}
        # One statement each for the deletions and the insertions: catch-up on PostgreSQL
        # pays a round trip per statement, not per row.
        if replaced:
            clause, params = in_list("source", sorted(replaced))
            cursor.execute("DELETE FROM customer_search WHERE customer_id = :cid "  # noqa: S608
                           f"AND source IN {clause}", params | {"cid": customer_id})
        if rows:
            ordered = sorted(rows)
            placeholders = ", ".join(f"(:cid, :s{i}, :k{i}, :d{i})" for i in range(len(ordered)))
            params = {"cid": customer_id}
            for i, (source, kind, digest) in enumerate(ordered):
                params |= {f"s{i}": source, f"k{i}": kind, f"d{i}": digest}
            cursor.execute("INSERT INTO customer_search (customer_id, source, kind, digest) "  # noqa: S608
                           f"VALUES {placeholders} ON CONFLICT DO NOTHING", params)


def _at(profile: dict[str, Any], path: str) -> Any:
    value: Any = profile
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
