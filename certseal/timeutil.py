"""Timestamps as the project writes them: RFC 3339, UTC, whole seconds, ``Z`` suffix."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from certseal.errors import ConfigurationError, DeserializationError


def format_time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC time")
    return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")


def parse_time(text: object, what: str = "time") -> dt.datetime:
    # The pattern fixes the form; fromisoformat (fast, in C) checks the calendar. A status list
    # holds millions of these.
    if not isinstance(text, str) or not _TIME.match(text):
        raise DeserializationError(f"{what} must be an RFC 3339 UTC time like 2026-06-20T00:00:00Z")
    try:
        return dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=dt.UTC)
    except ValueError as e:
        raise DeserializationError(f"{what} is not a valid time: {text!r}") from e


def utcnow() -> dt.datetime:
    """The one place that reads the clock; everything below takes time as an argument."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


# -- times for people -------------------------------------------------------------------------
# Sentences and pages write a time as a person reads it: in their language and the school's
# time zone, e.g. "2026年11月30日 下午4:46（臺北時間）" or "30 November 2026, 4:46 pm Taipei
# time". JSON fields keep the RFC 3339 form above. The browser follows the same rule
# (site/static/common.js, peopleTime); tests/vectors/people_times.json holds the cases both run.

DEFAULT_TIME_ZONE = "Asia/Taipei"
# How each language names a zone; any other zone is named by its UTC offset at that moment.
ZONE_NAMES: dict[str, tuple[str, str]] = {
    "Asia/Taipei": ("Taipei time", "臺北時間"),
    "UTC": ("UTC", "UTC"),
}
_MONTHS = [
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
]


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone of that name (Debian's tzdata), or a ConfigurationError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigurationError(
            f"unknown time zone {name!r}: give an IANA name such as {DEFAULT_TIME_ZONE}",
            f"未知的時區 {name!r}：請使用 IANA 時區名稱，例如 {DEFAULT_TIME_ZONE}",
        ) from None


def _offset_name(offset: dt.timedelta | None) -> str:
    minutes = int((offset or dt.timedelta()).total_seconds()) // 60
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def people_time(moment: dt.datetime | str, lang: str, zone: str = DEFAULT_TIME_ZONE) -> str:
    """A time as a person reads it, in ``lang`` (``zh-TW`` or English) and ``zone``.

    Args:
        moment: an aware time, or an RFC 3339 UTC string as the project writes them.
        lang: ``zh-TW`` for Traditional Chinese; anything else is English.
        zone: an IANA zone name; the school's (Asia/Taipei by default).

    Raises:
        DeserializationError: ``moment`` is a string that is not such a time.
        ConfigurationError: an unknown zone.
    """
    when = parse_time(moment) if isinstance(moment, str) else moment
    if when.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC time")
    local = when.astimezone(time_zone(zone))
    en, zh = ZONE_NAMES.get(zone) or (_offset_name(local.utcoffset()),) * 2
    hour = local.hour % 12 or 12
    if lang == "zh-TW":
        noon = "上午" if local.hour < 12 else "下午"
        return f"{local.year}年{local.month}月{local.day}日 {noon}{hour}:{local.minute:02d}（{zh}）"
    noon = "am" if local.hour < 12 else "pm"
    month = _MONTHS[local.month - 1]
    return f"{local.day} {month} {local.year}, {hour}:{local.minute:02d} {noon} {en}"


def people_times(text: str, lang: str, zone: str = DEFAULT_TIME_ZONE) -> str:
    """``text`` with every RFC 3339 UTC time in it written for people (:func:`people_time`)."""
    if "Z" not in text:
        return text
    return _TIME_IN_TEXT.sub(lambda m: people_time(m.group(0), lang, zone), text)


_TIME_IN_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
