"""Training reports (TR-2, TR-3): employees overdue for assessment, pass rates per course and
per department, and the grants whose assessment expires soon (the access review's warnings,
and the plain function ``upcoming_expiries`` for alerts), from the ``accounts`` read model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, Field

from ledger.policy_training import TrainingPolicy, add_months
from ledger.sql import Cursor
from projections.answers import Answer, Reflecting
from projections.queries import Query
from projections.reading import ReadModels
from projections.runner import ProjectionRunner


class OverdueEmployee(Answer):
    username: str
    department: str
    reason: str = Field(description="new_employee (never passed, past the window after the "
                                    "account opened) or period (last pass too long ago)")
    due_on: str = Field(description="The day the assessment was due by.")
    last_passed_on: str | None


class OverdueAnswer(Reflecting):
    as_of: str
    employees: list[OverdueEmployee]


class PassRate(Answer):
    assessments: int
    passed: int
    pass_rate: float = Field(description="passed / assessments, 0 to 1.")


class CoursePassRate(PassRate):
    course: str


class DepartmentPassRate(PassRate):
    department: str


class PassRatesAnswer(Reflecting):
    pass_mark: int
    courses: list[CoursePassRate]
    departments: list[DepartmentPassRate]


class ExpiringGrant(Answer):
    username: str
    role: str
    expires_on: str = Field(description="The last day the grant is covered.")
    cause: str = Field(description="assessment (its last valid day) or new_employee (an "
                                   "unassessed grant, at the end of the holder's window)")
    exemption: str | None = Field(description="The exemption an unassessed grant was made "
                                              "under, if any.")


class OverdueAssessments(Query):
    """Employees overdue for assessment: new ones past their window, others past the period."""

    name = "overdue-assessments"
    answer = OverdueAnswer
    as_of: date | None = None


class TrainingPassRates(Query):
    """Assessments and pass rates per course and per department."""

    name = "training-pass-rates"
    answer = PassRatesAnswer
    since: date | None = Field(default=None, description="Only assessments on or after this.")


TRAINING_QUERIES: dict[str, type[Query]] = {
    cls.name: cls for cls in (OverdueAssessments, TrainingPassRates)
}


def _passes(cursor: Cursor) -> dict[str, list[tuple[str, str, str]]]:
    """Each employee's passes: (course, assessed_on, valid_until)."""
    passes: dict[str, list[tuple[str, str, str]]] = {}
    for user, course, on, until in cursor.all(
            "SELECT username, course, assessed_on, valid_until FROM account_assessments"
            " WHERE passed = 1 ORDER BY username, assessed_on"):
        passes.setdefault(user, []).append((course, on, until))
    return passes


def upcoming_expiries(cursor: Cursor, training: TrainingPolicy, today: date
                      ) -> list[dict[str, Any]]:
    """Active, unsuspended grants whose cover ends within the policy's ``warning_days``:
    what a warning (in the access review, and through alerts) is sent for."""
    horizon = (today + timedelta(days=training.warning_days)).isoformat()
    passes = _passes(cursor)
    expiring = []
    for user, role, exemption, created in cursor.all(
            "SELECT g.username, g.role, g.exemption, a.created_at FROM account_grants g"
            " JOIN accounts a ON a.username = g.username WHERE g.active = 1"
            " AND g.suspended = 0 AND a.status <> 'disabled' ORDER BY g.username, g.role"):
        courses = training.qualifying_courses(role)
        cover = [until for course, _, until in passes.get(user, [])
                 if course in courses and until >= today.isoformat()]
        if cover:
            end, cause = max(cover), "assessment"
        else:
            start = date.fromisoformat(created[:10])
            end = (add_months(start, training.new_employee_months)).isoformat()
            cause = "new_employee"
            if end < today.isoformat():
                continue  # lapsed already: the follower suspends it, no warning is due
        if end <= horizon:
            expiring.append({"username": user, "role": role, "expires_on": end,
                             "cause": cause, "exemption": exemption})
    return expiring


class TrainingQueries:
    """Answers the training reports from the ``accounts`` read model."""

    def __init__(self, runner: ProjectionRunner, wait_timeout: float,
                 training: TrainingPolicy, today: Callable[[], date]) -> None:
        self.read = ReadModels(runner, wait_timeout)
        self.training = training
        self.today = today

    def overdue(self, query: OverdueAssessments) -> dict[str, Any]:
        as_of = query.as_of or self.today()
        with self.read.reading(query, "accounts") as (cursor, position):
            passes = _passes(cursor)
            accounts = cursor.all("SELECT username, department, created_at FROM accounts"
                                  " WHERE status <> 'disabled' ORDER BY username")
        employees = []
        for user, department, created in accounts:
            last = max((on for _, on, _ in passes.get(user, [])), default=None)
            if last is None:
                due = add_months(date.fromisoformat(created[:10]),
                                 self.training.new_employee_months)
                reason = "new_employee"
            else:
                due = add_months(date.fromisoformat(last), self.training.period_months)
                reason = "period"
            if as_of > due:
                employees.append({"username": user, "department": department,
                                  "reason": reason, "due_on": due.isoformat(),
                                  "last_passed_on": last})
        return {"as_of": as_of.isoformat(), "employees": employees,
                "reflects_position": position}

    def pass_rates(self, query: TrainingPassRates) -> dict[str, Any]:
        since = query.since.isoformat() if query.since else ""
        with self.read.reading(query, "accounts") as (cursor, position):
            rows = cursor.all(
                "SELECT s.course, a.department, s.passed FROM account_assessments s"
                " JOIN accounts a ON a.username = s.username WHERE s.assessed_on >= :since",
                {"since": since})
        return {"pass_mark": self.training.pass_mark,
                "courses": _rates(rows, 0, "course"),
                "departments": _rates(rows, 1, "department"),
                "reflects_position": position}

    def upcoming_expiries(self, as_of: date | None = None) -> list[dict[str, Any]]:
        """The grants a warning is due for now (``upcoming_expiries``), read in one snapshot:
        the function to wire to alerts."""
        with self.read.views.snapshot() as cursor:
            return upcoming_expiries(cursor, self.training, as_of or self.today())

    def handlers(self) -> dict[type[BaseModel], Any]:
        return {OverdueAssessments: self.overdue, TrainingPassRates: self.pass_rates}


def _rates(rows: list[tuple[Any, ...]], column: int, key: str) -> list[dict[str, Any]]:
    counts: dict[str, list[int]] = {}
    for row in rows:
        tally = counts.setdefault(row[column], [0, 0])
        tally[0] += 1
        tally[1] += int(row[2])
    return [{key: name, "assessments": total, "passed": passed,
             "pass_rate": round(passed / total, 4)}
            for name, (total, passed) in sorted(counts.items())]
