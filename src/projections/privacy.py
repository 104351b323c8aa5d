"""Queries for personal-data work: search on ciphertext (blind indexes), likely duplicates
(DL-4), the deletion queue (DL-2), erasure certificates (DL-3) and the review of legal
holds (DL-5)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator, model_validator

from ledger.crypto import is_envelope, normalise_for_index
from ledger.domain.customer import LEGAL_HOLD_REASON_PATH
from ledger.domain.errors import NotFoundError, WorkflowViolationError
from ledger.domain.free_text import DELETION_REJECTION_PATH
from ledger.domain.messages import message
from ledger.domain.sensitivity import current_clearance
from ledger.protection import SEARCH_SOURCES
from ledger.sql import in_list
from projections.answers import (
    CertificateAnswer,
    DeletionsAnswer,
    DuplicatesAnswer,
    FoundByAnswer,
    LegalHoldsAnswer,
)
from projections.history import PROTECTED
from projections.queries import (
    CUSTOMER_COLUMNS,
    Queries,
    Query,
    customer_from_row,
    searchable_fields,
)

_SEARCHABLE = ("phone", "email", "person", "name")


# A phone number as the search compares it: digits, perhaps after the country's "+".
_DIALLED = re.compile(r"\+?\d{3,20}")


class FindCustomersBy(Query):
    """Customers with exactly this phone, email or person's name (matched on digests)."""

    name = "find-customers-by"
    answer = FoundByAnswer
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=320)
    person: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=500, description="At most this many.")

    @model_validator(mode="after")
    def _exactly_one(self) -> FindCustomersBy:
        if sum(v is not None for v in (self.phone, self.email, self.person)) != 1:
            raise ValueError("give exactly one of phone, email or person")
        return self

    @field_validator("phone")
    @classmethod
    def _a_phone_number(cls, value: str | None) -> str | None:
        # Stored numbers are E.164: text that is no number could never match one, and an
        # empty answer would read as "no such customer".
        if value is not None and not _DIALLED.fullmatch(normalise_for_index(value)):
            raise ValueError("is not a phone number: digits, after a + for the country code")
        return value


class ListDuplicates(Query):
    """Groups of customers that share a phone, an email, or both name and address."""

    name = "list-duplicates"
    answer = DuplicatesAnswer
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many.")


class ListDeletions(Query):
    """Deletion requests, open ones by default, oldest first."""

    name = "list-deletions"
    answer = DeletionsAnswer
    stage: Literal["open", "requested", "reviewed", "approved", "executed", "rejected", "all",
                   "held"] = Field(default="open", description="held: the open requests "
                                   "whose customer is under a legal hold in force.")
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many.")


class ErasureCertificate(Query):
    """The certificate of an executed deletion: who decided what, when, at which positions,
    and which key was destroyed."""

    name = "erasure-certificate"
    answer = CertificateAnswer
    request_id: UUID


class LegalHoldReview(Query):
    """Legal holds for their periodic review (DL-5): who placed each, why, until when, who
    lifted it, and the open deletion requests it blocks."""

    name = "legal-hold-review"
    answer = LegalHoldsAnswer
    status: Literal["in_force", "all"] = Field(
        default="in_force", description="in_force: the holds not lifted and not lapsed.")
    customer_id: UUID | None = None
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many.")


PRIVACY_QUERIES: dict[str, type[Query]] = {
    cls.name: cls for cls in (FindCustomersBy, ListDuplicates, ListDeletions, ErasureCertificate,
                              LegalHoldReview)
}
_HOLD_COLUMNS = ("hold_id, customer_id, reference, reason, until, placed_by, placed_at, "
                 "placed_position, lifted_by, lifted_at, lifted_position")

_STEPS = ("requested", "reviewed", "approved", "executed", "rejected")
_DELETION_COLUMNS = ("request_id, customer_id, ground, department, stage, rejected_step, "
                     "rejected_reason, key_id, " + ", ".join(
                         f"{s}_by, {s}_at, {s}_position" for s in _STEPS))


def _deletion(row: tuple[Any, ...]) -> dict[str, Any]:
    record: dict[str, Any] = dict(zip(
        ("request_id", "customer_id", "ground", "department", "stage", "rejected_step",
         "rejected_reason", "key_id"), row[:8], strict=True))
    for index, step in enumerate(_STEPS):
        by, at, position = row[8 + 3 * index: 11 + 3 * index]
        record[step] = {"by": by, "at": at, "position": position} if by else None
    return record


class PrivacyQueries:
    """Answers the personal-data queries from the read models."""

    def __init__(self, queries: Queries,
                 shredded_backups: Callable[[str], list[str]] | None = None) -> None:
        self.read = queries.read
        self.views = queries.views
        self.protector = queries.protector
        # The key-store backups shredded for a customer's erasure (service.backup), if
        # backups are configured.
        self.shredded_backups = shredded_backups
        self.today = queries.today
        self.business_date = queries.business_date

    @staticmethod
    def _in_force(cursor: Any, customer_ids: list[str], today: date) -> dict[str, list[str]]:
        """The ids of the holds in force on each of ``customer_ids``: not lifted, and not
        past their ``until`` day."""
        if not customer_ids:
            return {}
        clause, params = in_list("cid", sorted(set(customer_ids)))
        rows = cursor.all(
            f"SELECT customer_id, hold_id FROM legal_holds WHERE customer_id IN {clause}"  # noqa: S608
            " AND lifted_by IS NULL AND (until IS NULL OR until >= :today)"
            " ORDER BY placed_position", params | {"today": today.isoformat()})
        held: dict[str, list[str]] = {}
        for customer_id, hold_id in rows:
            held.setdefault(customer_id, []).append(hold_id)
        return held

    def find_customers_by(self, query: FindCustomersBy) -> dict[str, Any]:
        kind, value = next((k, v) for k, v in (("phone", query.phone), ("email", query.email),
                                                ("person", query.person)) if v is not None)
        # Only in the fields the reader may read: an exact match elsewhere would confirm a
        # value they are not cleared to see (finance and a phone number, say).
        fields = searchable_fields(kind, SEARCH_SOURCES[kind])
        if self.protector is None:
            raise WorkflowViolationError("search on personal fields needs the blind-index key")
        digest = self.protector.query_digest(kind, value)
        sources, params = in_list("source", fields)
        with self.read.reading(query, "customer_search") as (cursor, position):
            rows = cursor.all(
                f"SELECT {CUSTOMER_COLUMNS} FROM customer_view WHERE customer_id IN ("  # noqa: S608
                " SELECT customer_id FROM customer_search WHERE kind = :kind"
                f" AND digest = :digest AND source IN {sources})"
                " ORDER BY customer_id LIMIT :limit",
                params | {"kind": kind, "digest": digest, "limit": query.limit})
        return {"customers": [customer_from_row(r, self.protector) for r in rows],
                "searched_fields": fields, "reflects_position": position}

    def list_duplicates(self, query: ListDuplicates) -> dict[str, Any]:
        # Grouped only on fields the reader may read: a group "same phone" tells who shares
        # one, as good as a search by it.
        clearance = current_clearance()
        fields = clearance.readable(SEARCH_SOURCES["phone"] | SEARCH_SOURCES["email"])
        by_name_and_address = not any(clearance.hides(path) for path in (
            SEARCH_SOURCES["name"] | SEARCH_SOURCES["address"]))
        shared: list[tuple[Any, ...]] = []
        pairs: list[tuple[Any, ...]] = []
        with self.read.reading(query, "customer_search") as (cursor, position):
            if fields:
                sources, params = in_list("source", fields)
                shared = cursor.all(
                    "SELECT kind, digest, customer_id FROM customer_search"  # noqa: S608
                    f" WHERE source IN {sources} AND (kind, digest) IN ("
                    " SELECT kind, digest FROM customer_search WHERE kind IN ('phone', 'email')"
                    f" AND source IN {sources}"
                    " GROUP BY kind, digest HAVING COUNT(DISTINCT customer_id) > 1)"
                    " ORDER BY kind, digest, customer_id", params)
            if by_name_and_address:
                pairs = cursor.all(
                    "SELECT DISTINCT a.customer_id, b.customer_id FROM customer_search a"
                    " JOIN customer_search b ON a.kind = 'name' AND b.kind = 'name'"
                    " AND a.digest = b.digest AND a.customer_id < b.customer_id"
                    " JOIN customer_search aa ON aa.customer_id = a.customer_id"
                    " AND aa.kind = 'address'"
                    " JOIN customer_search ba ON ba.customer_id = b.customer_id"
                    " AND ba.kind = 'address' AND ba.digest = aa.digest"
                    " ORDER BY a.customer_id, b.customer_id")
        groups: dict[tuple[str, str], list[str]] = {}
        for kind, digest, customer_id in shared:
            groups.setdefault((f"same {kind}", digest), []).append(customer_id)
        found: list[dict[str, Any]] = []
        for (reason, _), ids in groups.items():
            group = {"reason": reason, "customer_ids": sorted(set(ids))}
            if group not in found:  # a phone shared as main number and as a contact's
                found.append(group)
        found += [{"reason": "same name and address", "customer_ids": [a, b]} for a, b in pairs]
        return {"groups": found[: query.limit], "reflects_position": position}

    def list_deletions(self, query: ListDeletions) -> dict[str, Any]:
        open_stages = ("requested", "reviewed", "approved")
        stages = {"open": open_stages, "held": open_stages, "all": _STEPS}.get(
            query.stage, (query.stage,))
        clause, params = in_list("stage", stages)
        held_only = ""
        if query.stage == "held":
            held_only = (" AND customer_id IN (SELECT customer_id FROM legal_holds"
                         " WHERE lifted_by IS NULL AND (until IS NULL OR until >= :today))")
        today = self.today()
        with self.read.reading(query, "deletions") as (cursor, position):
            rows = cursor.all(
                f"SELECT {_DELETION_COLUMNS} FROM deletion_requests WHERE stage IN {clause}"  # noqa: S608
                f"{held_only} ORDER BY requested_at, request_id LIMIT :limit",
                params | {"limit": query.limit, "today": today.isoformat()})
            deletions = [_deletion(r) for r in rows]
            held = self._in_force(cursor, [d["customer_id"] for d in deletions
                                           if d["stage"] in open_stages], today)
        for deletion in deletions:
            deletion["held_by"] = held.get(deletion["customer_id"], []) if (
                deletion["stage"] in open_stages) else []
            deletion["rejected_reason"] = self._opened_rejection(deletion)
        return {"deletions": deletions, "reflects_position": position}

    def _opened_rejection(self, deletion: dict[str, Any]) -> Any:
        """A rejection's reason, sealed under the customer's key since free text was."""
        stored = deletion["rejected_reason"]
        if not stored or not stored.startswith("{"):
            return stored
        try:
            sealed = json.loads(stored)
        except ValueError:  # a plaintext reason from before, that happens to start so
            return stored
        if not is_envelope(sealed):
            return stored
        if self.protector is None:
            return PROTECTED
        return self.protector.open_text(deletion["customer_id"], DELETION_REJECTION_PATH,
                                        sealed)

    def legal_hold_review(self, query: LegalHoldReview) -> dict[str, Any]:
        today = self.today()
        where, params = "", dict[str, Any]({"limit": query.limit + 1, "today": today.isoformat()})
        if query.status == "in_force":
            where = " AND lifted_by IS NULL AND (until IS NULL OR until >= :today)"
        if query.customer_id is not None:
            where, params = where + " AND customer_id = :cid", params | {
                "cid": str(query.customer_id)}
        with self.read.reading(query, "deletions") as (cursor, position):
            rows = cursor.all(f"SELECT {_HOLD_COLUMNS} FROM legal_holds WHERE 1 = 1"  # noqa: S608
                              f"{where} ORDER BY placed_position LIMIT :limit", params)
            rows, more = rows[:query.limit], len(rows) > query.limit
            blocked = cursor.all(
                "SELECT customer_id, request_id FROM deletion_requests WHERE stage IN"
                " ('requested', 'reviewed', 'approved') ORDER BY requested_at, request_id")
        blocking: dict[str, list[str]] = {}
        for customer_id, request_id in blocked:
            blocking.setdefault(customer_id, []).append(request_id)
        return {"holds": [self._hold(row, today, blocking) for row in rows], "more": more,
                "reflects_position": position}

    def _hold(self, row: tuple[Any, ...], today: date, blocking: dict[str, list[str]]
              ) -> dict[str, Any]:
        (hold_id, customer_id, reference, reason, until, placed_by, placed_at,
         placed_position, lifted_by, lifted_at, lifted_position) = row
        lapsed = until is not None and until < today.isoformat()
        in_force = lifted_by is None and not lapsed
        sealed = json.loads(reason)
        opened = PROTECTED if self.protector is None else self.protector.open_text(
            customer_id, LEGAL_HOLD_REASON_PATH, sealed)
        return {
            "hold_id": hold_id, "customer_id": customer_id, "reference": reference,
            "reason": opened, "until": until,
            "placed": {"by": placed_by, "at": placed_at, "position": placed_position},
            "lifted": {"by": lifted_by, "at": lifted_at, "position": lifted_position}
            if lifted_by else None,
            "in_force": in_force, "lapsed": lapsed and lifted_by is None,
            "blocks": blocking.get(customer_id, []) if in_force else [],
        }

    def erasure_certificate(self, query: ErasureCertificate) -> dict[str, Any]:
        with self.read.reading(query, "deletions") as (cursor, position):
            row = cursor.one(f"SELECT {_DELETION_COLUMNS} FROM deletion_requests "  # noqa: S608
                             "WHERE request_id = :id", {"id": str(query.request_id)})
            erased = cursor.one(
                "SELECT position, erased_at FROM customer_view WHERE customer_id ="
                " (SELECT customer_id FROM deletion_requests WHERE request_id = :id)"
                " AND erased_at IS NOT NULL", {"id": str(query.request_id)})
            holds = cursor.all(
                "SELECT hold_id, until, placed_position, lifted_position FROM legal_holds"
                " WHERE customer_id = (SELECT customer_id FROM deletion_requests"
                " WHERE request_id = :id) ORDER BY placed_position",
                {"id": str(query.request_id)})
        if row is None:
            raise NotFoundError("no deletion request with this id",
                                details={"request_id": str(query.request_id)})
        request = _deletion(row)
        if request["stage"] != "executed":
            # The customer is named so the refused read is audited against it.
            raise WorkflowViolationError("a certificate exists only for an executed deletion",
                                         details={"stage": request["stage"],
                                                  "customer_id": request["customer_id"]})
        destroyed = (self.protector.keys.is_erased(request["customer_id"])
                     if self.protector is not None else None)
        return {
            "certificate": "erasure",
            "customer_id": request["customer_id"],
            "request_id": request["request_id"],
            "ground": request["ground"],
            "department": request["department"],
            "steps": {step: request[step] for step in _STEPS[:4]},
            "approvers": [request[step]["by"] for step in ("reviewed", "approved")],
            "customer_erased": {"position": erased[0], "at": erased[1]} if erased else None,
            "key_id_destroyed": request["key_id"],
            "key_destroyed": destroyed,
            "legal_hold": _hold_statement(request, holds, self.business_date(
                datetime.fromisoformat(request["executed"]["at"])).isoformat()),
            "issued_at": datetime.now(UTC).isoformat(),
            "reflects_position": position,
            "key_store_backups_shredded": (self.shredded_backups(request["customer_id"])
                                           if self.shredded_backups is not None else []),
        }

    def handlers(self) -> dict[type[BaseModel], Any]:
        return {
            FindCustomersBy: self.find_customers_by,
            ListDuplicates: self.list_duplicates,
            ListDeletions: self.list_deletions,
            ErasureCertificate: self.erasure_certificate,
            LegalHoldReview: self.legal_hold_review,
        }


def _hold_statement(request: dict[str, Any], holds: list[tuple[Any, ...]], executed_on: str
                    ) -> dict[str, Any]:
    """What the certificate states of legal holds (DL-5): none was in force when the
    deletion was executed (the execution is refused while one is), and the holds the
    customer had before, each lifted or lapsed by then."""
    executed = request["executed"]
    earlier = [{"hold_id": hold_id, "until": until, "placed_position": placed,
                "lifted_position": lifted}
               for hold_id, until, placed, lifted in holds if placed < executed["position"]]
    in_force = [hold for hold in earlier
                if (hold["lifted_position"] is None
                    or hold["lifted_position"] > executed["position"])
                and (hold["until"] is None or hold["until"] >= executed_on)]
    return {"in_force_at_execution": bool(in_force),
            # Read in the reader's language: the HTTP and CLI adapters render it.
            "statement": message("no legal hold was in force on the customer when the "
                                 "deletion was executed") if not in_force
            else message("a legal hold was in force"),
            "earlier_holds": earlier}
