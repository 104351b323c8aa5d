"""Policy values for training and assessment (TR-1..TR-3): the courses, the pass mark, the
new employee's window, the period of reassessment, whether grants need a pass, and how long
before an assessment expires a warning goes out. Part of ``Policy``."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ledger.policy_access import ROLES

_COURSE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day if it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class Course(BaseModel):
    """One course: what it is, its current version, the roles a pass in it qualifies for,
    and how many months a pass stays valid (default: the policy's period)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=20)
    roles: list[str] = Field(min_length=1)
    validity_months: int | None = Field(default=None, ge=1, le=12)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        unknown = [role for role in value if role not in ROLES]
        if unknown:
            raise ValueError("unknown role(s): " + ", ".join(unknown))
        return value


class TrainingPolicy(BaseModel):
    """TR-1..TR-3: courses, pass mark, the new employee's window, the reassessment period,
    the grant check and the warning's lead time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    required_for_grants: bool = True
    pass_mark: int = Field(default=80, ge=1, le=100)
    new_employee_months: int = Field(default=3, ge=1, le=24)
    period_months: Literal[6, 12] = 12
    warning_days: int = Field(default=30, ge=1, le=180)
    courses: dict[str, Course] = Field(default_factory=dict)

    @field_validator("courses")
    @classmethod
    def _course_ids(cls, value: dict[str, Course]) -> dict[str, Course]:
        bad = [course_id for course_id in value if not _COURSE_ID.match(course_id)]
        if bad:
            raise ValueError("a course id is 1-63 lower-case letters, digits, '-' or '_': "
                             + ", ".join(repr(course_id) for course_id in bad))
        return value

    @model_validator(mode="after")
    def _every_grant_possible(self) -> TrainingPolicy:
        longer = [course_id for course_id, course in self.courses.items()
                  if (course.validity_months or 0) > self.period_months]
        if longer:
            raise ValueError("validity_months may not exceed period_months "
                             f"({self.period_months}): " + ", ".join(longer))
        if self.required_for_grants:
            # Fail closed but loudly: a role no course qualifies for could never be granted.
            uncovered = [role for role in ROLES if not self.qualifying_courses(role)]
            if uncovered:
                raise ValueError("required_for_grants is on, but no course in "
                                 "[training.courses] qualifies for: " + ", ".join(uncovered))
        return self

    def qualifying_courses(self, role: str) -> list[str]:
        """The ids of the courses whose pass qualifies for ``role``."""
        return sorted(course_id for course_id, course in self.courses.items()
                      if role in course.roles)

    def valid_until(self, course_id: str, assessed_on: date) -> date:
        """The last day a pass in ``course_id`` on ``assessed_on`` qualifies."""
        course = self.courses[course_id]
        months = course.validity_months or self.period_months
        return add_months(assessed_on, months) - timedelta(days=1)

    def passed(self, score: int) -> bool:
        return score >= self.pass_mark
