"""Read queries over the projections. Every answer states the event position it reflects."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, tzinfo
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from ledger.domain.customer import day_after_quarter, quarter_of
from ledger.domain.errors import NotFoundError, PermissionDeniedError
from ledger.domain.messages import message
from ledger.domain.sensitivity import current_clearance
from ledger.protection import ProfileProtector
from projections.answers import (
    CustomerAnswer,
    CustomersAnswer,
    LateChangesAnswer,
    ProposalsAnswer,
    ReviewsDueAnswer,
)
from projections.customer_view import name_key
from projections.reading import ReadModels
from projections.runner import ProjectionRunner

_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _written_as_a_date(value: object) -> object:
    # Pydantic reads a number as Unix seconds or milliseconds, guessing by its size, so
    # "253402300799" would silently mean a day in 1978: a moment must be written out.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("give a moment in ISO 8601 with an offset, "
                         "e.g. 2026-11-27T09:00:00+08:00, not a number")
    return value


def _within_utc_range(value: datetime) -> datetime:
    # Moments are compared in UTC: 0001-01-01T00:00+01:00 has no UTC year to be compared in.
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the moment is out of range once converted to UTC") from None
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_written_as_a_date),
                   AfterValidator(_within_utc_range)]


class Query(BaseModel):
    """Base of every query; ``min_position`` asks to wait until that write is reflected."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: ClassVar[str]
    answer: ClassVar[type[BaseModel]]

    min_position: int | None = Field(default=None, ge=0, description=(
        "Wait until this event position is reflected (read-your-writes)."))

    @field_validator("*")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        # As the HTTP guard refuses them in a query string: asked in process (the command
        # line) a prefix with an ESC or a NUL is refused too, never "0 found".
        if isinstance(value, str) and not value.isprintable() and any(
                unicodedata.category(character) == "Cc" for character in value):
            raise ValueError("must not contain control characters")
        return value


class GetCustomer(Query):
    """The current view of one customer."""

    name = "get-customer"
    answer = CustomerAnswer
    customer_id: UUID


class FindCustomers(Query):
    """Customers whose name starts with a prefix, ignoring case, in any script."""

    name = "find-customers"
    answer = CustomersAnswer
    name_prefix: str = Field(min_length=1, max_length=200)
    limit: int = Field(default=50, ge=1, le=500, description="At most this many.")


class ListPendingProposals(Query):
    """Change proposals waiting for verification, oldest first, optionally for one customer."""

    name = "list-pending-proposals"
    answer = ProposalsAnswer
    customer_id: UUID | None = None
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many.")


class ListReviewsDue(Query):
    """Customers not yet reviewed in a quarter (default: the current one) (UP-1)."""

    name = "list-reviews-due"
    answer = ReviewsDueAnswer
    quarter: str | None = Field(default=None, pattern=r"^(19|[2-9]\d)\d\d-Q[1-4]$",  # 1900 on
                                description="e.g. 2026-Q4 (default: this one).")
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many.")


class ListLateKeyChanges(Query):
    """Key-field changes recorded after their working-day deadline (UP-2), newest first."""

    name = "list-late-key-changes"
    answer = LateChangesAnswer
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many.")


QUERIES: dict[str, type[Query]] = {
    cls.name: cls for cls in (GetCustomer, FindCustomers, ListPendingProposals, ListReviewsDue,
                              ListLateKeyChanges)
}

CUSTOMER_COLUMNS = ("customer_id, version, name, source_channel, profile, last_review, "
                    "registered_at, updated_at, position, erased_at, legal_holds")


def customer_from_row(row: tuple[Any, ...], protector: ProfileProtector | None
                      ) -> dict[str, Any]:
    """A customer view row as a reader sees it: personal values opened with its key."""
    profile = json.loads(row[4])
    if protector is not None and row[9] is None:
        profile = protector.open_profile(row[0], profile)
    return {
        "customer_id": row[0], "version": row[1], "name": row[2], "source_channel": row[3],
        "profile": profile, "last_review": json.loads(row[5]) if row[5] else None,
        "registered_at": row[6], "updated_at": row[7], "position": row[8],
        "erased": row[9] is not None, "erased_at": row[9],
        "legal_holds": json.loads(row[10]),
    }


def searchable_fields(criterion: str, paths: Iterable[str]) -> list[str]:
    """The fields among ``paths`` the current reader may search in (AC-1, P5): a match in a
    field they may not read would tell them its value. None at all is a refusal."""
    wanted = sorted(paths)
    readable = current_clearance().readable(wanted)
    if not readable:
        raise PermissionDeniedError(
            message("searching by {criterion} needs clearance to read {fields}",
                    criterion=criterion, fields=" or ".join(wanted)),
            details={"criterion": criterion, "fields": wanted})
    return readable



def first_of(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    """The first ``limit`` rows of a read that asked for one more, and whether there were more:
    a list cut at its limit says so, rather than look complete."""
    return rows[:limit], len(rows) > limit

class Queries:
    """Answers each query from the read models, after waiting for ``min_position`` if asked."""

    def __init__(self, runner: ProjectionRunner, wait_timeout: float,
                 today: Callable[[], date] = date.today,
                 protector: ProfileProtector | None = None,
                 business_date: Callable[[datetime], date] | None = None,
                 zone: tzinfo = UTC) -> None:
        self.read = ReadModels(runner, wait_timeout)
        self.views = runner.views
        self.today = today
        self.zone = zone
        # The policy's day of a moment (its time zone), as the write side decided with.
        self.business_date = business_date or (lambda moment: moment.date())
        self.protector = protector

    def quarter_ends(self, quarter: str) -> str:
        """The moment ``quarter`` ends in the policy's time zone, as the view stores times
        (ISO 8601 in UTC), so registration times compare with it as text."""
        first = datetime.combine(day_after_quarter(quarter), time(0), tzinfo=self.zone)
        return first.astimezone(UTC).isoformat()

    def get_customer(self, query: GetCustomer) -> dict[str, Any]:
        with self.read.reading(query, "customer_view") as (cursor, position):
            row = cursor.one(f"SELECT {CUSTOMER_COLUMNS} FROM customer_view "  # noqa: S608
                             "WHERE customer_id = :id", {"id": str(query.customer_id)})
        if row is None:
            raise NotFoundError("no customer with this id",
                                details={"customer_id": str(query.customer_id),
                                         "reflects_position": position})
        return {"customer": customer_from_row(row, self.protector), "reflects_position": position}

    def find_customers(self, query: FindCustomers) -> dict[str, Any]:
        searchable_fields("name", ["basic.name"])
        prefix = name_key(query.name_prefix)
        # A range scan on the byte-ordered key: every string starting with the prefix
        # sorts between the prefix and the prefix followed by the highest code point.
        bounds = {"low": prefix, "high": prefix + "\U0010ffff", "limit": query.limit + 1}
        with self.read.reading(query, "customer_view") as (cursor, position):
            rows = cursor.all(
                f"SELECT {CUSTOMER_COLUMNS} FROM customer_view "  # noqa: S608
                "WHERE name_key >= :low AND name_key < :high "
                "ORDER BY name_key, customer_id LIMIT :limit", bounds)
        rows, more = first_of(rows, query.limit)
        return {"customers": [customer_from_row(row, self.protector) for row in rows],
                "more": more, "reflects_position": position}

    def list_pending_proposals(self, query: ListPendingProposals) -> dict[str, Any]:
        where, params = "", dict[str, Any]({"limit": query.limit + 1})
        if query.customer_id is not None:
            where, params = "WHERE customer_id = :cid", params | {"cid": str(query.customer_id)}
        with self.read.reading(query, "pending_proposals") as (cursor, position):
            # ``where`` is one of two constant strings; values travel as parameters.
            sql = ("SELECT proposal_id, customer_id, fields, changes, happened_on, base_version,"  # noqa: S608
                   " proposed_by, proposed_at, record_by, late FROM pending_proposals " + where +
                   " ORDER BY proposed_at, proposal_id LIMIT :limit")
            rows, more = first_of(cursor.all(sql, params), query.limit)
        proposals = [
            {"proposal_id": r[0], "customer_id": r[1], "fields": json.loads(r[2]),
             "changes": self._opened_changes(r[1], json.loads(r[3])),
             "happened_on": r[4], "base_version": r[5],
             "proposed_by": r[6], "proposed_at": r[7], "record_by": r[8], "late": bool(r[9])}
            for r in rows
        ]
        return {"proposals": proposals, "more": more, "reflects_position": position}

    def _opened_changes(self, customer_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        # The verifier must see what was proposed; the row keeps it sealed.
        if self.protector is None:
            return changes
        return self.protector.open_changes(customer_id, changes)

    def list_reviews_due(self, query: ListReviewsDue) -> dict[str, Any]:
        quarter = query.quarter or quarter_of(self.today())
        with self.read.reading(query, "customer_view") as (cursor, position):
            # Due: registered by the quarter's end and not reviewed in it (whatever later
            # quarters hold: a past quarter is judged by its own reviews).
            rows = cursor.all(
                "SELECT customer_id, name, last_review_quarter, registered_at FROM customer_view"
                " WHERE erased_at IS NULL AND registered_at < :ends"
                " AND reviewed_quarters NOT LIKE :reviewed"
                " ORDER BY COALESCE(last_review_quarter, ''), registered_at, customer_id"
                " LIMIT :limit",
                {"ends": self.quarter_ends(quarter), "reviewed": f'%"{quarter}"%',
                 "limit": query.limit + 1})
        rows, more = first_of(rows, query.limit)
        due = [{"customer_id": r[0], "name": r[1], "last_reviewed_quarter": r[2],
                "registered_at": r[3]} for r in rows]
        return {"quarter": quarter, "customers": due, "more": more,
                "reflects_position": position}

    def list_late_key_changes(self, query: ListLateKeyChanges) -> dict[str, Any]:
        with self.read.reading(query, "key_changes") as (cursor, position):
            rows = cursor.all(
                "SELECT proposal_id, customer_id, key_fields, happened_on, recorded_at,"
                " record_by, status, proposed_by FROM key_changes WHERE late = 1"
                " ORDER BY recorded_at DESC, proposal_id LIMIT :limit", {"limit": query.limit + 1})
        rows, more = first_of(rows, query.limit)
        late = [{"proposal_id": r[0], "customer_id": r[1], "key_fields": json.loads(r[2]),
                 "happened_on": r[3], "recorded_at": r[4], "record_by": r[5], "status": r[6],
                 "proposed_by": r[7]} for r in rows]
        return {"late_changes": late, "more": more, "reflects_position": position}

    def handlers(self) -> dict[type[BaseModel], Any]:
        return {
            GetCustomer: self.get_customer,
            FindCustomers: self.find_customers,
            ListPendingProposals: self.list_pending_proposals,
            ListReviewsDue: self.list_reviews_due,
            ListLateKeyChanges: self.list_late_key_changes,
        }
