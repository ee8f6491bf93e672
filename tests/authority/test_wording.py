"""What documents say about dates, terms and grades; dates and terms they cannot write are refused
with CalendarError (a RenderError), never a crash."""

from __future__ import annotations

import dataclasses
import datetime as dt
from importlib import resources

import pytest

from authority.config import DEMO_SCHOOL
from authority.content import DocumentContent
from authority.records import Graduate, parse_csv
from authority.render import Renderer
from authority.render.wording import (
    earns_credit,
    en_date,
    iso_date,
    roc_date,
    term_en,
    term_heading,
)
from certseal.doctypes import DOCUMENT_TYPES
from certseal.errors import CalendarError, RenderError


def test_the_last_roc_year_the_wording_spells() -> None:
    assert roc_date(dt.date(2910, 12, 31)) == "中華民國 999 年 12 月 31 日"
    last = roc_date(dt.date(2910, 12, 31), chinese_numerals=True)
    assert last == "中華民國九百九十九年十二月三十一日"
    assert roc_date(dt.date(1912, 1, 1), chinese_numerals=True) == "中華民國一年一月一日"
    assert roc_date(dt.date(2016, 1, 1), chinese_numerals=True) == "中華民國一百零五年一月一日"


@pytest.mark.parametrize(
    ("date", "words"),
    [(dt.date(1911, 12, 31), "before 1912"), (dt.date(2911, 1, 1), "after 2910")],
)
def test_a_date_outside_the_roc_years_is_refused(date: dt.date, words: str) -> None:
    for numerals in (False, True):
        with pytest.raises(CalendarError, match=words) as raised:
            roc_date(date, chinese_numerals=numerals)
        assert date.isoformat() in raised.value.zh
    assert issubclass(CalendarError, RenderError)


def test_english_dates() -> None:
    assert en_date(dt.date(2026, 6, 20)) == "June 20, 2026"
    assert en_date(iso_date("2003-03-05")) == "March 5, 2003"


@pytest.mark.parametrize("text", ["2026-13-01", "2026/06/20", ""])
def test_a_record_date_that_is_not_a_date_is_refused(text: str) -> None:
    with pytest.raises(CalendarError, match="is not a date"):
        iso_date(text)


def test_terms() -> None:
    assert term_en("114-1") == "Fall 2025"
    assert term_en("114-2") == "Spring 2026"
    assert term_heading("99-2") == "99 學年度第 2 學期　Spring 2011"


@pytest.mark.parametrize("term", ["114", "114-3", "一一四-1", "-1", "114-1-2"])
def test_a_term_that_is_not_a_term_is_refused(term: str) -> None:
    with pytest.raises(CalendarError, match="academic year and semester"):
        term_en(term)
    with pytest.raises(CalendarError):
        term_heading(term)


@pytest.mark.parametrize(
    ("grade", "level", "earned"),
    [
        ("60", "bachelor", True),
        ("59", "bachelor", False),
        ("69", "master", False),
        ("70", "doctoral", True),
        ("C-", "bachelor", True),
        ("C-", "master", False),
        ("B-", "master", True),
        ("抵免", "master", True),
        ("停修", "bachelor", False),
        (" A+ ", "bachelor", True),
    ],
)
def test_which_grades_earn_credit(grade: str, level: str, earned: bool) -> None:
    assert earns_credit(grade, level) is earned


def _graduate() -> Graduate:
    data = resources.files("authority").joinpath("sample_data", "graduates.csv").read_bytes()
    graduate = parse_csv("graduates", data).accepted[0]
    assert isinstance(graduate, Graduate)
    return graduate


@pytest.mark.parametrize("birth_date", ["1905-04-01", "2911-01-01"])
def test_a_birth_date_the_diploma_cannot_write_is_a_render_error(birth_date: str) -> None:
    """A valid ISO date outside the ROC years: refused by name, not a crash (it was ValueError)."""
    graduate = dataclasses.replace(_graduate(), birth_date=birth_date)
    content = DocumentContent(
        DOCUMENT_TYPES["diploma_zh"],
        "DEMO-DZ-2026-000001",
        dt.date(2026, 7, 1),
        DEMO_SCHOOL,
        graduate,
    )
    with pytest.raises(CalendarError, match=birth_date):
        Renderer().render(content, print_locked=False)
