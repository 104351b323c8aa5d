"""Reports (OP-3): statistics from the read models, each stating the event position it
reflects, and read in one snapshot of that read model.

customers by source channel, region and business type; the quarter's review coverage per
source channel (the ledger records no department for a customer: the channel is the unit
that owns it); key-change lateness (share late, median working days to record); deletion
requests by stage and age; pending change proposals by age. Every report is rows of plain
values, so the command line prints it as a table or CSV, and an export writes it to a file.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, Field, ValidationError

from ledger.domain.customer import quarter_of
from ledger.domain.deadlines import is_working_day
from ledger.domain.errors import ValidationFailedError
from ledger.domain.export import REPORT_NAMES, ReportTable
from ledger.domain.paths import value_at
from ledger.domain.problems import problems_from
from ledger.domain.sensitivity import Clearance, current_clearance, reading_with
from ledger.policy import Policy
from projections.answers import Answer, Reflecting
from projections.queries import Queries, Query

AGE_BANDS = ((7, "0-7 days"), (30, "8-30 days"), (None, "over 30 days"))


def age_band(days: int) -> str:
    """The band a number of days falls in: 0-7, 8-30, or over 30."""
    return next(label for limit, label in AGE_BANDS if limit is None or days <= limit)


def working_days_after(start: date, end: date, calendar: str) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` is not
    later): how long a change took to be recorded."""
    return sum(1 for offset in range(1, (end - start).days + 1)
               if is_working_day(start + timedelta(days=offset), calendar))


class BreakdownRow(Answer):
    dimension: str = Field(description="source_channel, region or business_type")
    value: str | None = Field(description="The channel, region or type (None: not given).")
    customers: int


class CoverageRow(Answer):
    source_channel: str | None = Field(description="The channel; None for the total row.")
    customers: int
    reviewed: int
    due: int
    coverage: float = Field(description="reviewed / customers (1.0 when there are none).")


class LatenessRow(Answer):
    key_changes: int
    late: int
    share_late: float
    median_working_days: float | None = Field(description=(
        "Median working days from the change to its recording (None: no key change)."))


class DeletionRow(Answer):
    stage: str
    age: str = Field(description="Since the request: 0-7 days, 8-30 days, over 30 days.")
    requests: int


class PendingRow(Answer):
    age: str = Field(description="Since the proposal: 0-7 days, 8-30 days, over 30 days.")
    proposals: int
    late: int = Field(description="Of which touch key fields after their deadline.")


class BreakdownAnswer(Reflecting):
    report: str
    rows: list[BreakdownRow]
    hidden_dimensions: list[str] = Field(description=(
        "Dimensions left out: grouping by a field you may not read would tell its values."))


class CoverageAnswer(Reflecting):
    report: str
    quarter: str
    rows: list[CoverageRow]


class LatenessAnswer(Reflecting):
    report: str
    rows: list[LatenessRow]


class DeletionsReportAnswer(Reflecting):
    report: str
    today: str
    rows: list[DeletionRow]


class PendingReportAnswer(Reflecting):
    report: str
    today: str
    rows: list[PendingRow]


class Report(Query):
    """Base of the reports: ``report`` is the name ``ledger report NAME`` takes."""

    report: ClassVar[str]
    row: ClassVar[type[Answer]]


class CustomersReport(Report):
    """Customers by source channel, region and business type (OP-3)."""

    name = "report-customers"
    report = "customers"
    answer = BreakdownAnswer
    row = BreakdownRow


class ReviewCoverageReport(Report):
    """The quarter's review coverage (UP-1): reviewed and due, per source channel."""

    name = "report-review-coverage"
    report = "review-coverage"
    answer = CoverageAnswer
    row = CoverageRow
    quarter: str | None = Field(default=None, pattern=r"^(19|[2-9]\d)\d\d-Q[1-4]$",
                                description="e.g. 2026-Q4 (default: this one).")


class KeyChangeLatenessReport(Report):
    """Key-field changes (UP-2): how many, the share recorded late, the median working days."""

    name = "report-key-change-lateness"
    report = "key-change-lateness"
    answer = LatenessAnswer
    row = LatenessRow


class DeletionsReport(Report):
    """Deletion requests by stage and age (DL-2)."""

    name = "report-deletions"
    report = "deletions"
    answer = DeletionsReportAnswer
    row = DeletionRow


class PendingProposalsReport(Report):
    """Change proposals waiting for verification, by age."""

    name = "report-pending-proposals"
    report = "pending-proposals"
    answer = PendingReportAnswer
    row = PendingRow


REPORTS: dict[str, type[Report]] = {cls.report: cls for cls in (
    CustomersReport, ReviewCoverageReport, KeyChangeLatenessReport, DeletionsReport,
    PendingProposalsReport)}
"""Each report by the name ``ledger report NAME`` and an export take."""
if tuple(REPORTS) != REPORT_NAMES:  # the export command's list must name the same reports
    raise RuntimeError("ledger.domain.export.REPORT_NAMES differs from the reports defined")


def _counted(dimension: str, values: Iterable[str | None]) -> list[dict[str, Any]]:
    counts = Counter(values)
    return [{"dimension": dimension, "value": value, "customers": counts[value]}
            for value in sorted(counts, key=lambda v: (v is None, v or ""))]


def _moment_day(text: str, policy: Policy) -> date:
    return policy.business_date(datetime.fromisoformat(text))


class Reports:
    """Answers the reports from the read models."""

    def __init__(self, queries: Queries, policy: Policy,
                 today: Callable[[], date] | None = None) -> None:
        self.read = queries.read
        self.quarters = queries
        self.protector = queries.protector
        self.policy = policy
        self.today = today or queries.today

    def customers(self, query: CustomersReport) -> dict[str, Any]:
        # Grouping by region opens each address: only for a reader who may read it.
        by_region = not current_clearance().hides("basic.address")
        with self.read.reading(query, "customer_view") as (cursor, position):
            rows = cursor.all("SELECT customer_id, source_channel, profile FROM customer_view"
                              " WHERE erased_at IS NULL ORDER BY customer_id")
        channels, regions, types = [], [], []
        for customer_id, channel, profile_text in rows:
            profile = json.loads(profile_text)
            channels.append(channel)
            types.append(value_at(profile, "business.business_type"))
            if by_region:
                if self.protector is not None:
                    profile = self.protector.open_profile(customer_id, profile)
                address = value_at(profile, "basic.address")
                regions.append(address.get("region") if isinstance(address, dict) else None)
        found = _counted("source_channel", channels) + _counted("business_type", types)
        if by_region:
            found += _counted("region", regions)
        return {"report": query.report, "rows": found,
                "hidden_dimensions": [] if by_region else ["region"],
                "reflects_position": position}

    def review_coverage(self, query: ReviewCoverageReport) -> dict[str, Any]:
        quarter = query.quarter or quarter_of(self.today())
        with self.read.reading(query, "customer_view") as (cursor, position):
            # The customers the quarter had (registered by its end), each reviewed in it or
            # not: a review in a later quarter does not count for this one.
            rows = cursor.all("SELECT source_channel, reviewed_quarters FROM customer_view"
                              " WHERE erased_at IS NULL AND registered_at < :ends",
                              {"ends": self.quarters.quarter_ends(quarter)})
        groups: dict[str | None, list[bool]] = {}
        for channel, reviewed in rows:
            groups.setdefault(channel, []).append(quarter in json.loads(reviewed))
        every = [done for marks in groups.values() for done in marks]
        found = [_coverage(channel, groups[channel])
                 for channel in sorted(groups, key=lambda c: (c is None, c or ""))]
        return {"report": query.report, "quarter": quarter,
                "rows": [*found, _coverage(None, every)], "reflects_position": position}

    def key_change_lateness(self, query: KeyChangeLatenessReport) -> dict[str, Any]:
        with self.read.reading(query, "key_changes") as (cursor, position):
            rows = cursor.all("SELECT happened_on, recorded_at, late FROM key_changes")
        calendar = self.policy.holiday_calendar
        taken = [working_days_after(date.fromisoformat(happened),
                                    _moment_day(recorded, self.policy), calendar)
                 for happened, recorded, _ in rows]
        late = sum(1 for *_, flag in rows if flag)
        return {"report": query.report, "rows": [{
            "key_changes": len(rows), "late": late,
            "share_late": late / len(rows) if rows else 0.0,
            "median_working_days": float(statistics.median(taken)) if taken else None}],
            "reflects_position": position}

    def deletions(self, query: DeletionsReport) -> dict[str, Any]:
        today = self.today()
        with self.read.reading(query, "deletions") as (cursor, position):
            rows = cursor.all("SELECT stage, requested_at FROM deletion_requests")
        counts = Counter((stage, age_band((today - _moment_day(at, self.policy)).days))
                         for stage, at in rows)
        return {"report": query.report, "today": today.isoformat(), "rows": [
            {"stage": stage, "age": age, "requests": counts[(stage, age)]}
            for stage, age in sorted(counts, key=_band_order)],
            "reflects_position": position}

    def pending_proposals(self, query: PendingProposalsReport) -> dict[str, Any]:
        today = self.today()
        with self.read.reading(query, "pending_proposals") as (cursor, position):
            rows = cursor.all("SELECT proposed_at, late FROM pending_proposals")
        counts: Counter[str] = Counter()
        late: Counter[str] = Counter()
        for at, flag in rows:
            band = age_band((today - _moment_day(at, self.policy)).days)
            counts[band] += 1
            late[band] += bool(flag)
        return {"report": query.report, "today": today.isoformat(), "rows": [
            {"age": label, "proposals": counts[label], "late": late[label]}
            for _, label in AGE_BANDS if counts[label]], "reflects_position": position}

    def handlers(self) -> dict[type[BaseModel], Any]:
        return {CustomersReport: self.customers, ReviewCoverageReport: self.review_coverage,
                KeyChangeLatenessReport: self.key_change_lateness,
                DeletionsReport: self.deletions, PendingProposalsReport: self.pending_proposals}


def report_table(answer_of: Callable[[Query], dict[str, Any]], name: str,
                 params: dict[str, str], clearance: Clearance) -> ReportTable:
    """The report ``name`` as rows of plain values, answered for ``clearance`` (what an
    export of it holds)."""
    kind = REPORTS[name]
    try:
        query = kind.model_validate(params)
    except ValidationError as error:
        raise ValidationFailedError(problems_from(
            error.errors(include_input=False, include_url=False), default="params",
            prefix="params.")) from None
    with reading_with(clearance):
        answer = answer_of(query)
    columns = list(kind.row.model_fields)
    return ReportTable(columns, [[row.get(column) for column in columns]
                                 for row in answer["rows"]],
                       answer["reflects_position"], answer.get("hidden_dimensions", []))


def _coverage(channel: str | None, marks: list[bool]) -> dict[str, Any]:
    reviewed = sum(marks)
    return {"source_channel": channel, "customers": len(marks), "reviewed": reviewed,
            "due": len(marks) - reviewed,
            "coverage": reviewed / len(marks) if marks else 1.0}


def _band_order(key: tuple[str, str]) -> tuple[str, int]:
    stage, age = key
    return stage, [label for _, label in AGE_BANDS].index(age)
