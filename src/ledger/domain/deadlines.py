"""Working-day deadlines (UP-2), counted on a public-holiday calendar.

China's calendar moves working days onto weekends around long holidays (调休); the
``holidays`` package knows those, so a deadline is never counted by weekdays alone.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _calendar(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=[year - 1, year, year + 1])


def working_day_deadline(happened_on: date, working_days: int, country: str) -> date:
    """The last day on which a change that happened on ``happened_on`` is recorded in time."""
    calendar = _calendar(country, happened_on.year)
    deadline: date = calendar.get_nth_working_day(happened_on, working_days)
    return deadline


def is_working_day(day: date, country: str) -> bool:
    return bool(_calendar(country, day.year).is_working_day(day))
