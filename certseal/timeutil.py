"""Timestamps as the project writes them: RFC 3339, UTC, whole seconds, ``Z`` suffix."""

from __future__ import annotations

import datetime as dt

from certseal.errors import DeserializationError


def format_time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC time")
    return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object, what: str = "time") -> dt.datetime:
    if not isinstance(text, str) or not text.endswith("Z"):
        raise DeserializationError(f"{what} must be an RFC 3339 UTC time ending in Z")
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError as e:
        raise DeserializationError(f"{what} is not a valid time: {text!r}") from e


def utcnow() -> dt.datetime:
    """The one place that reads the clock; everything below takes time as an argument."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
