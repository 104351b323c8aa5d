"""Working-day deadlines (UP-2) and working-hour deadlines (FT-3), counted on a
public-holiday calendar.

China's calendar moves working days onto weekends around long holidays (调休); the
``holidays`` package knows those, so a deadline is never counted by weekdays alone.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

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


def working_hours_deadline(start: datetime, hours: float, zone: ZoneInfo, country: str,
                           day_starts: time, day_ends: time) -> datetime:
    """The moment ``hours`` working hours after ``start``: only the hours between
    ``day_starts`` and ``day_ends`` (local time in ``zone``) of working days count, so a
    fault reported on a Friday evening is due on the next working day (FT-3)."""
    left = timedelta(hours=hours)
    moment = start.astimezone(zone)
    while True:
        day = moment.date()
        opens = datetime.combine(day, day_starts, zone)
        closes = datetime.combine(day, day_ends, zone)
        if is_working_day(day, country) and moment < closes:
            moment = max(moment, opens)
            if moment + left <= closes:
                return (moment + left).astimezone(start.tzinfo)
            left -= closes - moment
        moment = datetime.combine(day + timedelta(days=1), day_starts, zone)
