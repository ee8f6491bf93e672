"""Working days: weekends and public holidays skipped, make-up workdays (補班) counted.

Deadlines in the schools' rules are counted in working days (NKUST: a digital diploma within 5
working days of collecting the paper one; NTNU/NCU: 1 to 3 working days after an order). Taiwan
moves days around: a Saturday can be a make-up workday and a weekday a bridge holiday, so a
calendar is data the registrar maintains, not a rule in code. The format (TOML)::

    name = "Taiwan 2026-2027"
    [[holiday]]
    date = 2026-01-01
    name = "元旦 New Year's Day"
    [[workday]]               # a make-up workday on a weekend
    date = 2026-02-07
    name = "補行上班"

Nothing here reads a file except :func:`load_calendar`; nothing reads the clock.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certseal.errors import ConfigurationError

MAX_WORKING_DAYS = 3660  # ten years: a bound, so a calendar that is all holidays cannot loop


class HolidayCalendarError(ConfigurationError):
    """A holiday calendar file is not in the documented format."""

    code = "holiday_calendar"


@dataclass(frozen=True)
class Calendar:
    """Days off and make-up workdays. With no entries, only weekends are skipped."""

    name: str = "weekends only"
    holidays: Mapping[dt.date, str] = field(default_factory=dict)
    workdays: Mapping[dt.date, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise HolidayCalendarError(
                f"calendar '{self.name}': {both[0]} is listed both as a holiday and a workday",
                f"行事曆「{self.name}」：{both[0]} 同時列為放假日與補班日",
            )
        for day in self.workdays:
            if day.weekday() < 5:
                raise HolidayCalendarError(
                    f"calendar '{self.name}': make-up workday {day} is not on a weekend",
                    f"行事曆「{self.name}」：補班日 {day} 不在週末",
                )

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, day: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``day`` (``day`` itself does not count)."""
        if not 0 <= n <= MAX_WORKING_DAYS:
            raise ValueError(f"working days must be 0 to {MAX_WORKING_DAYS}, not {n}")
        steps = 0
        while n > 0:
            day += dt.timedelta(days=1)
            steps += 1
            if self.is_working_day(day):
                n -= 1
            elif steps > 7 * MAX_WORKING_DAYS:
                raise HolidayCalendarError(
                    f"calendar '{self.name}' has no working day after {day}",
                    f"行事曆「{self.name}」在 {day} 之後沒有工作日",
                )
        return day

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calendar:
        name = data.get("name", "calendar")
        if not isinstance(name, str) or not name.strip():
            raise HolidayCalendarError("a calendar needs a name", "行事曆需要名稱")
        unknown = sorted(set(data) - {"name", "holiday", "workday"})
        if unknown:
            raise HolidayCalendarError(
                f"calendar '{name}': unknown key '{unknown[0]}' (known: name, holiday, workday)",
                f"行事曆「{name}」：無法識別的欄位「{unknown[0]}」",
            )
        return cls(
            name,
            _days(name, data.get("holiday", []), "holiday"),
            _days(name, data.get("workday", []), "workday"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "holiday": [{"date": d, "name": n} for d, n in sorted(self.holidays.items())],
            "workday": [{"date": d, "name": n} for d, n in sorted(self.workdays.items())],
        }


WEEKENDS_ONLY = Calendar()


def _days(calendar: str, items: object, kind: str) -> dict[dt.date, str]:
    if not isinstance(items, list):
        raise HolidayCalendarError(
            f"calendar '{calendar}': '{kind}' must be a list of [[{kind}]] tables",
            f"行事曆「{calendar}」：{kind} 須為 [[{kind}]] 表格清單",
        )
    out: dict[dt.date, str] = {}
    for n, item in enumerate(items, 1):
        day = item.get("date") if isinstance(item, dict) else None
        if isinstance(day, str):
            try:
                day = dt.date.fromisoformat(day)
            except ValueError:
                day = None
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise HolidayCalendarError(
                f"calendar '{calendar}': {kind} #{n} needs a date like 2026-01-01",
                f"行事曆「{calendar}」：第 {n} 筆 {kind} 需要日期，例如 2026-01-01",
            )
        if day in out:
            raise HolidayCalendarError(
                f"calendar '{calendar}': {day} is listed twice as a {kind}",
                f"行事曆「{calendar}」：{day} 重複列出",
            )
        out[day] = str(item.get("name", ""))
    return out


def parse_calendar(text: str, source: str = "calendar") -> Calendar:
    """Parse a calendar in the TOML format above."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise HolidayCalendarError(
            f"{source} is not valid TOML: {e}", f"{source} 不是有效的 TOML：{e}"
        ) from None
    data.setdefault("name", source)
    return Calendar.from_dict(data)


def load_calendar(path: Path) -> Calendar:
    """Read a calendar file: the only I/O in this module."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise HolidayCalendarError(
            f"cannot read the holiday calendar {path}: {e}", f"無法讀取行事曆 {path}：{e}"
        ) from None
    return parse_calendar(text, path.name)
