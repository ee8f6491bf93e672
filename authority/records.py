"""Student records as exported by a student information system, validated on construction.

The CSV columns are documented in ``docs/records.md``. A bad row never stops the import: it is
reported with its line number and field, and nothing is issued for it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, TypeVar

from certseal.errors import InputError, RecordError

LEVELS = ("bachelor", "master", "doctoral")
_STUDENT_ID = re.compile(r"^[A-Za-z0-9]{4,20}$")
_TERM = re.compile(r"^\d{2,3}-[12]$")  # ROC academic year and semester, e.g. 113-2
_EMAIL = re.compile(r"^[^@\s,;<>]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
# Passport spelling: Latin letters (with accents), spaces, hyphens, apostrophes, commas, periods.
_NAME_EN = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿĀ-ž][A-Za-zÀ-ÖØ-öø-ÿĀ-ž .,'\-]*$")
_GRADE = re.compile(r"^(?:100|[1-9]?\d|A\+|A-?|B[+-]?|C[+-]?|D|E|F|X|P|抵免|通過|停修)$")


class _FieldError(ValueError):
    def __init__(self, field: str, en: str, zh: str) -> None:
        super().__init__(en)
        self.field = field
        self.en = en
        self.zh = zh


def _require(value: str, name: str) -> str:
    value = value.strip()
    if not value:
        raise _FieldError(name, "is empty", "不可空白")
    return value


def _check_email(value: str, name: str, required: bool) -> str:
    value = value.strip()
    if not value and not required:
        return ""
    _require(value, name)
    if len(value) > 254 or not _EMAIL.match(value):
        raise _FieldError(
            name, f"'{value}' is not an e-mail address", f"「{value}」不是電子郵件地址"
        )
    return value


def _check_date(value: str, name: str) -> str:
    value = _require(value, name)
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise _FieldError(
            name, f"'{value}' is not a date (YYYY-MM-DD)", f"「{value}」不是日期（YYYY-MM-DD）"
        ) from None
    return value


def _check_int(value: str, name: str, low: int, high: int) -> int:
    value = _require(value, name)
    if not value.isdigit() or not low <= int(value) <= high:
        raise _FieldError(
            name,
            f"'{value}' must be a whole number from {low} to {high}",
            f"「{value}」須為 {low} 到 {high} 的整數",
        )
    return int(value)


def _check_student_id(value: str) -> str:
    value = _require(value, "student_id")
    if not _STUDENT_ID.match(value):
        raise _FieldError(
            "student_id",
            f"'{value}' must be 4 to 20 letters or digits",
            f"「{value}」須為 4 到 20 個英數字",
        )
    return value


def check_name_en(value: str) -> str:
    """Passport spelling of an English name; used on import and when the registrar fixes it."""
    value = " ".join(_require(value, "name_en").split())
    if len(value) > 120 or not _NAME_EN.match(value):
        raise _FieldError(
            "name_en",
            f"'{value}' must be a passport spelling in Latin letters (at most 120)",
            f"「{value}」須為護照拼音的英文字母（最多 120 字）",
        )
    return value


@dataclass(frozen=True)
class Graduate:
    """One graduate: what a diploma or degree certificate shows about its holder."""

    student_id: str
    name_zh: str
    name_en: str
    birth_date: str
    level: str
    degree_zh: str
    degree_en: str
    college_zh: str
    college_en: str
    department_zh: str
    department_en: str
    program: str
    graduation_term: str
    graduation_date: str
    school_email: str
    permanent_email: str

    def __post_init__(self) -> None:
        _check_student_id(self.student_id)
        name_zh = _require(self.name_zh, "name_zh")
        if len(name_zh) > 30:
            raise _FieldError("name_zh", "is longer than 30 characters", "超過 30 字")
        check_name_en(self.name_en)
        _check_date(self.birth_date, "birth_date")
        if self.level not in LEVELS:
            raise _FieldError(
                "level",
                f"'{self.level}' must be one of {', '.join(LEVELS)}",
                f"「{self.level}」須為 {', '.join(LEVELS)} 之一",
            )
        for name in ("degree_zh", "degree_en", "college_zh", "college_en"):
            _require(getattr(self, name), name)
        for name in ("department_zh", "department_en"):
            _require(getattr(self, name), name)
        term = _require(self.graduation_term, "graduation_term")
        if not _TERM.match(term):
            raise _FieldError(
                "graduation_term",
                f"'{term}' must be an academic year and semester such as 113-2",
                f"「{term}」須為學年度與學期，例如 113-2",
            )
        _check_date(self.graduation_date, "graduation_date")
        _check_email(self.school_email, "school_email", required=True)
        _check_email(self.permanent_email, "permanent_email", required=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Graduate:
        return _from_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_name_en(self, name_en: str) -> Graduate:
        return Graduate.from_dict({**self.to_dict(), "name_en": check_name_en(name_en)})


@dataclass(frozen=True)
class Course:
    """One transcript row."""

    student_id: str
    term: str
    course_code: str
    course_zh: str
    course_en: str
    credits: int
    grade: str

    def __post_init__(self) -> None:
        _check_student_id(self.student_id)
        if not _TERM.match(self.term.strip()):
            raise _FieldError(
                "term", f"'{self.term}' must look like 113-1", f"「{self.term}」須如 113-1"
            )
        _require(self.course_code, "course_code")
        _require(self.course_zh, "course_zh")
        _require(self.course_en, "course_en")
        if not isinstance(self.credits, int) or not 0 <= self.credits <= 20:
            raise _FieldError("credits", "must be 0 to 20", "須為 0 到 20")
        if not _GRADE.match(self.grade.strip()):
            raise _FieldError(
                "grade", f"'{self.grade}' is not a grade", f"「{self.grade}」不是成績"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Course:
        return _from_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rank:
    """A bachelor's department rank and, where the department has classes, class rank."""

    student_id: str
    department_rank: int
    department_size: int
    class_rank: int | None = None
    class_size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _check_student_id(self.student_id)
        if not 1 <= self.department_rank <= self.department_size:
            raise _FieldError(
                "department_rank",
                "must be between 1 and the department's cohort size",
                "須介於 1 與系上畢業人數之間",
            )
        if (self.class_rank is None) != (self.class_size is None):
            raise _FieldError(
                "class_rank", "class rank and class size go together", "班排名與班級人數須一併填寫"
            )
        if (
            self.class_rank is not None
            and self.class_size is not None
            and not 1 <= self.class_rank <= self.class_size
        ):
            raise _FieldError(
                "class_rank",
                "must be between 1 and the class size",
                "須介於 1 與班級人數之間",
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rank:
        return _from_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        return d


T = TypeVar("T", Graduate, Course, Rank)


def _from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    names = [f.name for f in fields(cls) if f.name != "extra"]
    missing = [n for n in names if n not in data and _is_required(cls, n)]
    if missing:
        raise _FieldError(missing[0], "is missing", "缺少此欄位")
    return cls(**{n: data[n] for n in names if n in data})


def _is_required(cls: type[Any], name: str) -> bool:
    f = next(f for f in fields(cls) if f.name == name)
    return f.default is MISSING and f.default_factory is MISSING


@dataclass(frozen=True)
class ImportReport:
    """What an import accepted and, for each rejected row, why."""

    accepted: tuple[Any, ...]
    rejected: tuple[RecordError, ...]


def _int_or_none(value: str | None, name: str, low: int, high: int) -> int | None:
    if value is None or not value.strip():
        return None
    return _check_int(value, name, low, high)


_ROW_BUILDERS: dict[str, Callable[[dict[str, str]], Any]] = {
    "graduates": lambda row: Graduate(
        **{f.name: (row.get(f.name) or "").strip() for f in fields(Graduate)}
    ),
    "courses": lambda row: Course(
        student_id=(row.get("student_id") or "").strip(),
        term=(row.get("term") or "").strip(),
        course_code=(row.get("course_code") or "").strip(),
        course_zh=(row.get("course_zh") or "").strip(),
        course_en=(row.get("course_en") or "").strip(),
        credits=_check_int(row.get("credits") or "", "credits", 0, 20),
        grade=(row.get("grade") or "").strip(),
    ),
    "ranks": lambda row: Rank(
        student_id=(row.get("student_id") or "").strip(),
        department_rank=_check_int(row.get("department_rank") or "", "department_rank", 1, 100000),
        department_size=_check_int(row.get("department_size") or "", "department_size", 1, 100000),
        class_rank=_int_or_none(row.get("class_rank"), "class_rank", 1, 100000),
        class_size=_int_or_none(row.get("class_size"), "class_size", 1, 100000),
    ),
}

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "graduates": tuple(f.name for f in fields(Graduate)),
    "courses": ("student_id", "term", "course_code", "course_zh", "course_en", "credits", "grade"),
    "ranks": ("student_id", "department_rank", "department_size"),
}


def parse_csv(kind: str, data: bytes | str) -> ImportReport:
    """Parse one CSV export. Rows that fail validation are reported, never raised."""
    if kind not in _ROW_BUILDERS:
        raise InputError(f"unknown record kind '{kind}'", f"未知的資料種類「{kind}」")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise InputError(
                f"the CSV file is not UTF-8 (byte {e.start})",
                f"CSV 檔案不是 UTF-8 編碼（第 {e.start} 位元組）",
            ) from None
    else:
        text = data.removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in header]
    if missing:
        raise InputError(
            f"the CSV file has no column {', '.join(missing)} (line 1)",
            f"CSV 檔案缺少欄位：{', '.join(missing)}（第 1 行）",
        )
    accepted: list[Any] = []
    rejected: list[RecordError] = []
    for row in reader:
        line = reader.line_num
        if None in row:
            rejected.append(
                RecordError(line, "(row)", "has more values than columns", "欄位數過多")
            )
            continue
        try:
            accepted.append(_ROW_BUILDERS[kind]({k: v or "" for k, v in row.items()}))
        except _FieldError as e:
            rejected.append(RecordError(line, e.field, e.en, e.zh))
    return ImportReport(tuple(accepted), tuple(rejected))


def iter_by_student(items: Iterable[T]) -> dict[str, list[T]]:
    out: dict[str, list[T]] = {}
    for item in items:
        out.setdefault(item.student_id, []).append(item)
    return out
