"""What documents say about dates, terms and grades, and which record text they print.

Pure functions over strings and dates, without fonts or pages: the ROC calendar (中華民國 115 年,
and in Chinese numerals on diplomas), English dates, academic terms (``114-1`` is Fall 2025), and
which grades earn credit. A date or term these rules cannot express is refused with
:class:`~certseal.errors.CalendarError`, never printed wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from authority.config import TranscriptRules
from authority.content import DocumentContent
from authority.records import Course
from certseal.errors import CalendarError

__all__ = [
    "GRADE_EN",
    "PROGRAM_BY_LEVEL",
    "Totals",
    "earns_credit",
    "en_date",
    "iso_date",
    "printed_fields",
    "roc_date",
    "term_en",
    "term_heading",
    "totals",
]

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ZH_DIGITS = "零一二三四五六七八九"
PROGRAM_BY_LEVEL = {"bachelor": "學士班", "master": "碩士班", "doctoral": "博士班"}

# The largest ROC year the wording writes: 999 (2910), the last with at most three numerals.
_LAST_ROC_YEAR = 999


def _zh_number(n: int) -> str:
    """1 to 999 in Chinese numerals, as dates are written: 八十九, 一百一十五, 一百零五.

    Callers pass days, months and ROC years that :func:`roc_date` has checked already.
    """
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += _ZH_DIGITS[hundreds] + "百"
        if tens == 0 and ones:
            return out + "零" + _ZH_DIGITS[ones]
    if tens:
        out += ("" if tens == 1 and not hundreds else _ZH_DIGITS[tens]) + "十"
    if ones:
        out += _ZH_DIGITS[ones]
    return out


def roc_date(date: dt.date, *, chinese_numerals: bool = False) -> str:
    """A date in the ROC calendar, ``中華民國 115 年 6 月 20 日``; in Chinese numerals on diplomas.

    Raises:
        CalendarError: the date is before the Republic (1912), which the calendar cannot
            express, or after 2910, whose year the wording cannot write.
    """
    year = date.year - 1911
    if year < 1:
        raise CalendarError(
            f"{date.isoformat()} is before 1912 and has no ROC year",
            f"{date.isoformat()} 早於民國元年",
        )
    if year > _LAST_ROC_YEAR:
        raise CalendarError(
            f"{date.isoformat()} is after 2910; its ROC year cannot be written",
            f"{date.isoformat()} 晚於民國 {_LAST_ROC_YEAR} 年，無法書寫",
        )
    if chinese_numerals:
        return f"中華民國{_zh_number(year)}年{_zh_number(date.month)}月{_zh_number(date.day)}日"
    return f"中華民國 {year} 年 {date.month} 月 {date.day} 日"


def en_date(date: dt.date) -> str:
    """``June 20, 2026``: how the English documents write a date."""
    return f"{_MONTHS[date.month - 1]} {date.day}, {date.year}"


def iso_date(iso: str) -> dt.date:
    """A record's ``YYYY-MM-DD`` date.

    Raises:
        CalendarError: the text is not such a date (records are checked on import already).
    """
    try:
        return dt.date.fromisoformat(iso)
    except ValueError as e:
        raise CalendarError(
            f"'{iso}' is not a date (YYYY-MM-DD)", f"「{iso}」不是日期（YYYY-MM-DD）"
        ) from e


def _term(term: str) -> tuple[str, str]:
    """``114-1`` -> ("114", "1"): the ROC academic year and the semester, as written."""
    year, _, semester = term.partition("-")
    if not year.strip().isdigit() or semester.strip() not in ("1", "2"):
        raise CalendarError(
            f"'{term}' is not an academic year and semester such as 113-2",
            f"「{term}」不是學年度與學期，例如 113-2",
        )
    return year, semester.strip()


def term_en(term: str) -> str:
    """``114-1`` (ROC academic year 114, first semester) is Fall 2025; ``114-2`` Spring 2026.

    Raises:
        CalendarError: the term is not written like ``113-2``.
    """
    year, semester = _term(term)
    start = int(year) + 1911
    return f"Fall {start}" if semester == "1" else f"Spring {start + 1}"


def term_heading(term: str) -> str:
    """``114 學年度第 1 學期　Fall 2025``: the heading of a term's courses on a transcript.

    Raises:
        CalendarError: the term is not written like ``113-2``.
    """
    year, semester = _term(term)
    return f"{year} 學年度第 {semester} 學期　{term_en(term)}"


GRADE_EN = {"抵免": "Waived", "通過": "Pass", "停修": "Withdrawn"}
_DEFAULT_RULES = TranscriptRules()


def earns_credit(grade: str, level: str, rules: TranscriptRules = _DEFAULT_RULES) -> bool:
    """Whether a grade earns its credits under the school's rules (by default 60 or C- for
    bachelor's, 70 or B- for graduate study; 抵免, 通過 and P earn, 停修 does not)."""
    grade = grade.strip()
    graduate_study = level != "bachelor"
    if grade.isdigit():
        return int(grade) >= (rules.pass_graduate if graduate_study else rules.pass_bachelor)
    if grade in ("抵免", "通過", "P"):
        return True
    return rules.letter_passes(grade, graduate_study)


def _score(grade: str, rules: TranscriptRules) -> int | None:
    """The score a grade counts for in an average; None: it does not count (pass/fail,
    waived, withdrawn, or a letter the school gives no score)."""
    grade = grade.strip()
    if grade.isdigit():
        return int(grade)
    return rules.letter_scores.get(grade)


@dataclass(frozen=True)
class Totals:
    """Credits earned and the average of a term, or of the whole transcript."""

    earned: int
    average: Decimal | None  # None: no course counts in an average
    averaged_credits: int  # the credits (or, for a simple average, courses) averaged over

    def average_text(self, rules: TranscriptRules) -> str:
        """The average as printed, to the school's decimals; a dash when there is none."""
        if self.average is None:
            return "—"
        step = Decimal(1).scaleb(-rules.decimals)
        return str(self.average.quantize(step, rounding=ROUND_HALF_UP))


def totals(courses: Iterable[Course], level: str, rules: TranscriptRules) -> Totals:
    """Credits earned and the average under the school's rules (``TranscriptRules``)."""
    earned = 0
    weighted, weight = 0, 0
    for course in courses:
        passed = earns_credit(course.grade, level, rules)
        if passed:
            earned += course.credits
        score = _score(course.grade, rules)
        if (
            score is None
            or course.credits == 0
            or (not passed and not rules.average_includes_failed)
        ):
            continue
        w = course.credits if rules.average == "credit_weighted" else 1
        weighted += score * w
        weight += w
    average = Decimal(weighted) / Decimal(weight) if weight else None
    return Totals(earned, average, weight)


# --- what gets printed -----------------------------------------------------------------------

_PERSON = ("name_zh", "name_en", "student_id")
_STUDY_ZH = ("college_zh", "department_zh", "degree_zh")
_STUDY_EN = ("college_en", "department_en", "degree_en")
_PRINTED_GRADUATE_FIELDS: dict[str, tuple[str, ...]] = {
    "diploma_zh": ("name_zh", *_STUDY_ZH, "program"),
    "diploma_en": ("name_en", *_STUDY_EN),
    "transcript": (*_PERSON, *_STUDY_ZH, *_STUDY_EN),
    "rank_certificate": (*_PERSON, *_STUDY_ZH, *_STUDY_EN),
    "degree_certificate_en": ("name_en", "student_id", *_STUDY_EN),
    "degree_certificate_zh_en": (*_PERSON, *_STUDY_ZH, *_STUDY_EN, "program"),
}
_PRINTED_SCHOOL_FIELDS = (
    "name_zh",
    "name_en",
    "president_zh",
    "president_en",
    "president_title_zh",
    "president_title_en",
    "registrar_zh",
    "registrar_en",
    "verify_url",
)
_COURSE_FIELDS = ("term", "course_code", "course_zh", "course_en", "grade")


def printed_fields(content: DocumentContent) -> Iterator[tuple[str, str]]:
    """(field, text) for every piece of record or setting text the document prints."""
    graduate = content.graduate
    for name in _PRINTED_GRADUATE_FIELDS[content.doc_type.code]:
        yield name, str(getattr(graduate, name))
    for name in _PRINTED_SCHOOL_FIELDS:
        yield f"school.{name}", str(getattr(content.school, name))
    yield "document_number", content.document_number
    yield "certificate_number", content.certificate_number
    if content.doc_type.code == "transcript":
        for i, course in enumerate(content.courses):
            for name in _COURSE_FIELDS:
                yield f"courses[{i}].{name}", str(getattr(course, name))
