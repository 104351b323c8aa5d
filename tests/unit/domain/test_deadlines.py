"""Working-day deadlines on China's calendar (UP-2) and working-hour repair deadlines
(FT-3): holidays and moved working days count."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ledger.domain.deadlines import is_working_day, working_day_deadline, working_hours_deadline


def test_a_plain_week_counts_five_weekdays() -> None:
    # Friday 20 November 2026 -> Mon 23 .. Fri 27.
    assert working_day_deadline(date(2026, 11, 20), 5, "CN") == date(2026, 11, 27)


def test_national_day_holidays_do_not_count_and_a_moved_saturday_does() -> None:
    # 1-8 October 2025 are holidays; Saturday 11 October 2025 is a working day (调休).
    assert not is_working_day(date(2025, 10, 3), "CN")
    assert is_working_day(date(2025, 10, 11), "CN")
    assert working_day_deadline(date(2025, 9, 30), 5, "CN") == date(2025, 10, 14)


@pytest.mark.parametrize("country", ["CN", "US", "DE"])
def test_the_deadline_is_always_a_working_day_after_the_change(country: str) -> None:
    happened = date(2026, 12, 24)
    deadline = working_day_deadline(happened, 5, country)
    assert deadline > happened
    assert is_working_day(deadline, country)


# Working hours (FT-3): 08:00-19:00 Shanghai time on working days.
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _repair_due(reported: datetime, hours: float) -> datetime:
    return working_hours_deadline(reported, hours, SHANGHAI, "CN", time(8), time(19))


def test_a_fault_reported_in_the_morning_is_due_the_same_afternoon() -> None:
    # Friday 27 November 2026, 11:00 in Shanghai (03:00 UTC).
    reported = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    assert _repair_due(reported, 4) == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


def test_hours_left_at_closing_time_carry_over_the_weekend() -> None:
    # Friday 17:00 in Shanghai: two hours that evening, two on Monday morning.
    reported = datetime(2026, 11, 27, 17, 0, tzinfo=SHANGHAI)
    assert _repair_due(reported, 4) == datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


def test_a_fault_reported_at_night_starts_counting_when_the_working_day_does() -> None:
    reported = datetime(2026, 11, 26, 23, 30, tzinfo=SHANGHAI)  # Thursday night
    assert _repair_due(reported, 4) == datetime(2026, 11, 27, 12, 0, tzinfo=SHANGHAI)


def test_holidays_do_not_count_and_a_moved_working_saturday_does() -> None:
    # Tuesday 30 September 2025, 18:00: one hour left that day; 1-8 October are holidays,
    # Thursday 9 October is the next working day.
    reported = datetime(2025, 9, 30, 18, 0, tzinfo=SHANGHAI)
    assert _repair_due(reported, 4) == datetime(2025, 10, 9, 11, 0, tzinfo=SHANGHAI)
    # Friday 10 October 2025, 17:00: Saturday 11 October is a working day (调休).
    friday = datetime(2025, 10, 10, 17, 0, tzinfo=SHANGHAI)
    assert _repair_due(friday, 4) == datetime(2025, 10, 11, 10, 0, tzinfo=SHANGHAI)


def test_a_long_repair_spans_whole_working_days() -> None:
    reported = datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI)  # Monday at opening
    assert _repair_due(reported, 22) == datetime(2026, 11, 24, 19, 0, tzinfo=SHANGHAI)
