"""Working-day deadlines on China's calendar (UP-2): holidays and moved working days count."""

from datetime import date

import pytest

from ledger.domain.deadlines import is_working_day, working_day_deadline


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
