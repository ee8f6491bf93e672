"""Timestamps as the project writes them: RFC 3339, UTC, whole seconds, ``Z`` suffix."""

from __future__ import annotations

import datetime as dt
import re

from certseal.errors import DeserializationError


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
