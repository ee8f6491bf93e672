"""Working days: weekends, public holidays and make-up workdays, from a calendar file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from authority.service import add_working_days
from certseal.workdays import (
    WEEKENDS_ONLY,
    Calendar,
    HolidayCalendarError,
    load_calendar,
    parse_calendar,
)
from delivery.config import builtin_calendar

D = dt.date


def test_weekends_only_counts_monday_to_friday() -> None:
    # Friday + 1 working day is Monday; Thursday + 5 is next Thursday.
    assert WEEKENDS_ONLY.add_working_days(D(2026, 6, 19), 1) == D(2026, 6, 22)
    assert add_working_days(D(2026, 6, 18), 5) == D(2026, 6, 25)
    assert WEEKENDS_ONLY.add_working_days(D(2026, 6, 18), 0) == D(2026, 6, 18)


def test_holidays_are_skipped_and_make_up_workdays_counted() -> None:
    cal = parse_calendar(
        'name = "test"\n'
        "[[holiday]]\ndate = 2026-06-22\nname = 'bridge'\n"
        "[[workday]]\ndate = 2026-06-20\nname = 'make-up Saturday'\n"
    )
    assert cal.is_working_day(D(2026, 6, 20))  # a Saturday, worked
    assert not cal.is_working_day(D(2026, 6, 22))  # a Monday, off
    # Friday 19th + 1 is the make-up Saturday; + 2 skips Sunday and the Monday holiday.
    assert cal.add_working_days(D(2026, 6, 19), 1) == D(2026, 6, 20)
    assert cal.add_working_days(D(2026, 6, 19), 2) == D(2026, 6, 23)
    assert Calendar.from_dict(cal.to_dict()) == cal


def test_taiwan_2026_lunar_new_year_and_peace_memorial_day() -> None:
    """NKUST's 5 working days from Friday 13 February 2026: the Lunar New Year holidays
    (16-20 February) and the Peace Memorial Day bridge (27 February) do not count."""
    cal = builtin_calendar()
    assert add_working_days(D(2026, 2, 13), 5, cal) == D(2026, 3, 2)
    assert add_working_days(D(2026, 2, 13), 5) == D(2026, 2, 20)  # weekends only: wrong
    assert all(day.weekday() < 5 for day in cal.holidays)
    assert {d.year for d in cal.holidays} == {2026, 2027}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[[holiday]]\nname = 'no date'\n", "needs a date"),
        ("[[holiday]]\ndate = 2026-02-30\n", "not valid TOML"),
        ("[[holiday]]\ndate = 2026-01-01\n[[holiday]]\ndate = 2026-01-01\n", "listed twice"),
        ("[[workday]]\ndate = 2026-06-22\n", "not on a weekend"),
        ("[[holiday]]\ndate = 2026-06-20\n[[workday]]\ndate = 2026-06-20\n", "both"),
        ("holidays = []\n", "unknown key 'holidays'"),
        ("holiday = 3\n", "must be a list"),
    ],
)
def test_a_bad_calendar_is_refused_with_the_reason(text: str, match: str) -> None:
    with pytest.raises(HolidayCalendarError, match=match):
        parse_calendar(text, "bad.toml")


def test_loading_a_missing_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(HolidayCalendarError, match="cannot read the holiday calendar"):
        load_calendar(tmp_path / "none.toml")


def test_a_calendar_that_never_works_stops() -> None:
    with pytest.raises(ValueError, match="working days must be"):
        WEEKENDS_ONLY.add_working_days(D(2026, 1, 1), -1)
