"""The rows an export holds, read from the customer view and masked as a read masks them.

The filter takes the criteria the customer queries take; a criterion on a field the
exporter may not read (the region, in the address) is refused, as a search on it is: the
selection would tell its value. Each row is masked by ``projections.masking.mask_answer``,
the very function every query answer passes through.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.domain.customer import quarter_of
from ledger.domain.export import VIEW_COLUMNS, ExportFilter, Selection, rows_digest
from ledger.domain.paths import value_at
from ledger.domain.sensitivity import Clearance, reading_with
from ledger.sql import in_list
from projections.customer_view import name_key
from projections.masking import mask_answer
from projections.queries import CUSTOMER_COLUMNS, Queries, customer_from_row, searchable_fields


class ExportRows:
    """Selects, opens and masks the customers of an export."""

    def __init__(self, queries: Queries) -> None:
        self.read = queries.read
        self.protector = queries.protector
        self.today = queries.today

    def select(self, criteria: ExportFilter, columns: list[str], clearance: Clearance
               ) -> Selection:
        if criteria.region is not None:
            with reading_with(clearance):
                searchable_fields("region", ["basic.address"])
        where, params = ["erased_at IS NULL"], dict[str, Any]()
        if criteria.name_prefix is not None:
            prefix = name_key(criteria.name_prefix)
            where.append("name_key >= :low AND name_key < :high")
            params |= {"low": prefix, "high": prefix + "\U0010ffff"}
        if criteria.source_channel is not None:
            where.append("source_channel = :channel")
            params["channel"] = criteria.source_channel.value
        with self.read.views.snapshot() as cursor:
            position = int((cursor.one("SELECT position FROM projection_checkpoints"
                                       " WHERE name = 'customer_view'") or (0,))[0])
            # ``where`` holds constant clauses only; values travel as parameters.
            found = cursor.all(f"SELECT {CUSTOMER_COLUMNS}, last_review_quarter"  # noqa: S608
                               f" FROM customer_view WHERE {' AND '.join(where)}"
                               " ORDER BY customer_id", params)
        rows = [row for row in found if self._kept(criteria, row)]
        if self.protector is not None:
            # One key-store read per few hundred customers, not one per customer.
            self.protector.prefetch_keys([str(row[0]) for row in rows])
        masked_fields = [column for column in columns if clearance.hides(column)]
        selected: list[dict[str, Any]] = []
        versions: list[tuple[str, int]] = []
        for row in rows:
            customer = customer_from_row(row[:10], self.protector)
            if criteria.region is not None and not _in_region(customer, criteria.region):
                continue
            shown = mask_answer(customer, clearance)
            shown["last_review_quarter"] = row[10]
            selected.append({column: _column(shown, column) for column in columns})
            versions.append((str(row[0]), int(row[1])))
        return Selection(position, selected, masked_fields, rows_digest(versions))

    def _kept(self, criteria: ExportFilter, row: tuple[Any, ...]) -> bool:
        registered = datetime.fromisoformat(row[6])
        if criteria.created_since is not None and registered < criteria.created_since:
            return False
        if criteria.created_until is not None and registered > criteria.created_until:
            return False
        if criteria.review_state is not None:
            reviewed = row[10] is not None and row[10] >= quarter_of(self.today())
            return reviewed == (criteria.review_state == "reviewed")
        return True

    def taken(self, candidates: list[dict[str, str]]) -> set[int]:
        if self.protector is None or not candidates:
            return set()
        pairs = {index: {pair for path, value in values.items()
                         for pair in self.protector.digests(path, value)}
                 for index, values in enumerate(candidates)}
        digests = sorted({digest for found in pairs.values() for _, digest in found})
        if not digests:
            return set()
        clause, params = in_list("digest", digests)
        with self.read.views.snapshot() as cursor:
            hits = set(cursor.all("SELECT kind, digest FROM customer_search"  # noqa: S608
                                  f" WHERE digest IN {clause}", params))
        return {index for index, found in pairs.items() if found & hits}


def _in_region(customer: dict[str, Any], region: str) -> bool:
    address = value_at(customer["profile"], "basic.address")
    found = address.get("region") if isinstance(address, dict) else None
    return isinstance(found, str) and name_key(found) == name_key(region)


def _column(customer: dict[str, Any], column: str) -> Any:
    if column in VIEW_COLUMNS:
        return customer.get(column)
    return value_at(customer["profile"], column)
