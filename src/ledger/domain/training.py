"""Training and assessment on an employee's account (TR-1..TR-3), and the grant suspensions
that follow from them, as events of the ``Account``.

An assessment's verdict (passed at the pass mark in force) and its last valid day are fixed
when it is recorded, so a later change of the policy never rewrites what was decided. A
grant remembers the assessment it relied on; when no passed, unexpired assessment covers an
active grant any more, the grant is suspended (it stops authorising) until a new pass lifts
the suspension.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.domain.events import LedgerAggregate


class TrainingRecorded(LedgerAggregate.Event):
    """A training session the employee attended (TR-1)."""

    training_id: str
    course: str
    course_version: str
    trained_on: str
    trainer: str
    method: str
    recorded_by: str

    def apply(self, account: Any) -> None:
        account.trainings.append({
            "training_id": self.training_id, "course": self.course,
            "course_version": self.course_version, "trained_on": self.trained_on,
            "trainer": self.trainer, "method": self.method, "recorded_by": self.recorded_by})


class AssessmentRecorded(LedgerAggregate.Event):
    """An assessment's score out of 100, its verdict and last valid day (TR-1, TR-2)."""

    assessment_id: str
    course: str
    score: int
    passed: bool
    assessor: str
    assessed_on: str
    valid_until: str
    recorded_by: str

    def apply(self, account: Any) -> None:
        account.assessments.append({
            "assessment_id": self.assessment_id, "course": self.course, "score": self.score,
            "passed": self.passed, "assessor": self.assessor, "assessed_on": self.assessed_on,
            "valid_until": self.valid_until, "version": self.originator_version})


class GrantSuspended(LedgerAggregate.Event):
    """No passed, unexpired assessment covers the grant any more: it stops authorising."""

    grant_id: str
    role: str
    lapsed_on: str

    def apply(self, account: Any) -> None:
        account.grants[self.role] |= {"suspended": True,
                                      "suspended_since": self.timestamp.isoformat()}


class GrantSuspensionLifted(LedgerAggregate.Event):
    """A new pass covers the suspended grant: it authorises again."""

    grant_id: str
    role: str
    assessment: dict[str, Any]

    def apply(self, account: Any) -> None:
        account.grants[self.role] |= {"suspended": False, "suspended_since": None,
                                      "assessment": self.assessment}


@dataclass(frozen=True)
class TrainingRules:
    """What the grant check needs of the policy: the courses that qualify for each role, and
    the new employee's window (an unassessed grant waits for its end)."""

    qualifying: dict[str, list[str]]
    new_employee_until: date


def reference(assessment: dict[str, Any]) -> dict[str, Any]:
    """How a grant names the assessment event it relied on."""
    return {key: assessment[key] for key in ("assessment_id", "course", "version",
                                             "valid_until")}


class AccountTraining:
    """The training side of ``Account``: its records, and the check of grants against them."""

    trainings: list[dict[str, Any]]
    assessments: list[dict[str, Any]]
    grants: dict[str, dict[str, Any]]

    trigger_event: Callable[..., None]  # the aggregate's own

    def record_training(self, *, training_id: str, course: str, course_version: str,
                        trained_on: date, trainer: str, method: str, by: str) -> None:
        self.trigger_event(TrainingRecorded, training_id=training_id, course=course,
                           course_version=course_version, trained_on=trained_on.isoformat(),
                           trainer=trainer, method=method, recorded_by=by)

    def record_assessment(self, *, assessment_id: str, course: str, score: int, passed: bool,
                          assessor: str, assessed_on: date, valid_until: date, by: str) -> None:
        self.trigger_event(AssessmentRecorded, assessment_id=assessment_id, course=course,
                           score=score, passed=passed, assessor=assessor,
                           assessed_on=assessed_on.isoformat(),
                           valid_until=valid_until.isoformat(), recorded_by=by)

    def covering_assessment(self, courses: list[str], today: date) -> dict[str, Any] | None:
        """The passed, unexpired assessment in one of ``courses`` that lasts longest."""
        valid = [a for a in self.assessments if a["course"] in courses and a["passed"]
                 and a["assessed_on"] <= today.isoformat() <= a["valid_until"]]
        return max(valid, key=lambda a: (a["valid_until"], a["version"]), default=None)

    def missing_training(self, courses: list[str], today: date) -> list[dict[str, Any]]:
        """Why each of ``courses`` does not qualify now: never assessed, not passed (the best
        score is below the pass mark), or the last pass expired on a given day."""
        missing = []
        for course in courses:
            taken = [a for a in self.assessments if a["course"] == course]
            passes = [a for a in taken if a["passed"]]
            if passes:
                missing.append({"course": course, "status": "expired",
                                "expired_on": max(a["valid_until"] for a in passes)})
            else:
                missing.append({"course": course,
                                "status": "not_passed" if taken else "not_assessed"})
        return missing

    def grant_lapses(self, rules: TrainingRules, today: date
                     ) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """The active grants to suspend now, and the suspended ones a pass covers again
        (role: the covering assessment). A grant made without an assessment (the initial
        administrator's exemption, or before grants were checked) lapses when the holder's
        new-employee window has ended."""
        suspend, lift = [], {}
        for role, grant in sorted(self.grants.items()):
            if not grant["active"]:
                continue
            covering = self.covering_assessment(rules.qualifying.get(role, []), today)
            if grant.get("suspended"):
                if covering is not None:
                    lift[role] = reference(covering)
            elif covering is None and (grant.get("assessment") is not None
                                       or today > rules.new_employee_until):
                suspend.append(role)
        return suspend, lift

    def apply_training_rules(self, rules: TrainingRules, today: date) -> list[str]:
        """Suspend the grants that lapsed, lift the suspensions a pass covers; return the
        roles changed."""
        suspend, lift = self.grant_lapses(rules, today)
        for role in suspend:
            self.trigger_event(GrantSuspended, grant_id=self.grants[role]["grant_id"],
                               role=role, lapsed_on=today.isoformat())
        for role, assessment in lift.items():
            self.trigger_event(GrantSuspensionLifted, grant_id=self.grants[role]["grant_id"],
                               role=role, assessment=assessment)
        return suspend + list(lift)
