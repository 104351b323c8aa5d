"""Moments, days, numbers and money as a person reads them in each language (issue 17,
point 5): Babel's CLDR formats, a moment in the time zone given (the policy's)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from ledger.i18n import CHINESE, ENGLISH, format_day, format_moment, format_money, format_number

MOMENT = datetime.fromisoformat("2026-11-27T15:50:00+00:00")  # 23:50 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_moment_is_shown_in_the_zone_given_which_it_names() -> None:
    assert format_moment(MOMENT, ENGLISH, SHANGHAI) == "November 27, 2026, 11:50:00\u202fPM +0800"
    assert format_moment(MOMENT, CHINESE, SHANGHAI) == "2026年11月27日 +0800 23:50:00"
    # the same moment, another zone: another day
    assert format_moment(MOMENT, CHINESE, ZoneInfo("UTC")) == "2026年11月27日 UTC 15:50:00"
    assert format_moment(datetime.fromisoformat("2026-11-27T16:10:00+00:00"), CHINESE,
                         SHANGHAI).startswith("2026年11月28日")


def test_a_day_a_number_and_money_are_written_as_each_language_writes_them() -> None:
    assert format_day(date(2026, 3, 9), ENGLISH) == "March 9, 2026"
    assert format_day(date(2026, 3, 9), CHINESE) == "2026年3月9日"
    assert format_number(1234567, ENGLISH) == format_number(1234567, CHINESE) == "1,234,567"
    assert format_money(Decimal("1234.5"), "CNY", ENGLISH) == "CN¥1,234.50"
    assert format_money(Decimal("1234.5"), "CNY", CHINESE) == "¥1,234.50"
    assert format_money(Decimal("-8"), "USD", CHINESE) == "-US$8.00"
    assert format_money(Decimal("1200"), "JPY", ENGLISH) == "¥1,200"  # no decimals for yen
