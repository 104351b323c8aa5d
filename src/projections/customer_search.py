"""Blind-index rows for search and duplicate detection (DL-4): keyed digests, no plaintext.

Digests are computed here, from values opened with the customer's key in memory; the
events themselves carry only ciphertext, so once a key is destroyed and these rows are
deleted, nothing derived from the personal values remains in the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import structlog

from ledger.domain.customer import Customer
from ledger.domain.paths import paths_overlap, value_at
from ledger.protection import MissingDataKeyError, ProfileProtector
from ledger.sql import Cursor, SqlDatabase
from projections.projection import Projection, topic_of

log = structlog.get_logger("ledger.projections")


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

    def apply_batch(self, cursor: Cursor, events: Sequence[tuple[Any, int]]) -> None:
        # Folded in memory first: the stored rows to delete (all of an erased customer's,
        # or the sources a change replaces) and the rows left to insert, so a batch costs
        # two pipelined DELETEs and one bulk insert, whatever its size.
        last_erasure = {str(e.originator_id): i for i, (e, _) in enumerate(events)
                        if isinstance(e, Customer.Erased)}
        paths = sorted(self.protector.search_paths())
        # Which search path a registration's value at each path feeds, worked out once.
        pairs = [(path, source) for path in paths for source in paths
                 if paths_overlap(path, source)]
        # One key-store query per few hundred customers, not one each (a rebuild in a
        # fresh process finds no key cached).
        self.protector.prefetch_keys({
            str(e.originator_id) for i, (e, _) in enumerate(events)
            if not isinstance(e, Customer.Erased)
            and i > last_erasure.get(str(e.originator_id), -1)})
        erased: set[str] = set()
        replaced: set[tuple[str, str]] = set()
        pending: dict[str, dict[str, set[tuple[str, str]]]] = {}
        for index, (event, _) in enumerate(events):
            customer_id = str(event.originator_id)
            if isinstance(event, Customer.Erased):
                erased.add(customer_id)
                pending.pop(customer_id, None)
            elif index > last_erasure.get(customer_id, -1):
                # Rows of an event before the customer's erasure would be deleted anyway:
                # skip opening and digesting values only to drop them.
                rows = pending.setdefault(customer_id, {})
                for source in self._replaced(event, paths):
                    replaced.add((customer_id, source))
                    rows.pop(source, None)
                for source, kind, digest in self._rows(customer_id, event, paths, pairs):
                    rows.setdefault(source, set()).add((kind, digest))
        cursor.executemany("DELETE FROM customer_search WHERE customer_id = :cid",
                           [{"cid": customer_id} for customer_id in sorted(erased)])
        cursor.executemany("DELETE FROM customer_search WHERE customer_id = :cid"
                           " AND source = :source",
                           [{"cid": cid, "source": source} for cid, source in sorted(replaced)
                            if cid not in erased])
        cursor.insert_rows("customer_search", ("customer_id", "source", "kind", "digest"), [
            (customer_id, source, kind, digest)
            for customer_id, by_source in pending.items()
            for source, found in by_source.items() for kind, digest in sorted(found)
        ], skip_existing=True)

    def _replaced(self, event: Any, paths: list[str]) -> set[str]:
        """The sources whose stored rows ``event`` replaces (a new customer has none)."""
        if isinstance(event, Customer.Registered):
            return set()
        return {source for path in event.applied for source in paths
                if paths_overlap(path, source)}

    def _rows(self, customer_id: str, event: Any, paths: list[str],
              pairs: list[tuple[str, str]]) -> set[tuple[str, str, str]]:
        """(source, kind, digest) of the searchable values ``event`` sets."""
        try:
            if isinstance(event, Customer.Registered):
                profile = self.protector.open_profile(customer_id, event.profile)
                values = {path: value_at(profile, path) for path in paths}
            else:
                values = self.protector.open_changes(customer_id, event.applied)
        except MissingDataKeyError:
            # One customer's missing key must not stop every read model behind this one:
            # the customer is not findable (reading it fails on its own), and
            # ``ledger keys verify`` names it.
            log.warning("search_digests_skipped_key_missing", customer_id=customer_id)
            return set()
        if not isinstance(event, Customer.Registered):
            pairs = [(path, source) for path in values for source in paths
                     if paths_overlap(path, source)]
        return {(source, kind, digest)
                for path, source in pairs
                for kind, digest in self.protector.digests(
                    source, values[path] if path == source else value_at(
                        {path.split(".")[0]: values[path]}, source))}


def forget_customers(views: SqlDatabase, customer_ids: Iterable[str]) -> int:
    """Delete every search row of ``customer_ids``; return for how many customers.

    ``Erased`` removes a customer's rows as the projection applies it; this is for
    erasures the log does not hold (an event store restored from before them, with the
    key store that remembers them), so their digests stop finding anyone at once."""
    wanted = sorted(set(customer_ids))
    with views.snapshot() as cursor:
        indexed = [customer_id for customer_id in wanted if cursor.one(
            "SELECT 1 FROM customer_search WHERE customer_id = :cid LIMIT 1",
            {"cid": customer_id})]
    if indexed:
        with views.transaction() as cursor:
            cursor.executemany("DELETE FROM customer_search WHERE customer_id = :cid",
                               [{"cid": customer_id} for customer_id in indexed])
    return len(indexed)
