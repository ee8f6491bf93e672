"""The one canonical JSON serializer: what is signed is exactly these bytes.

Keys sorted, no insignificant white space, UTF-8, integers only (no floats), as in RFC 8785
for the subset of JSON this project emits. A third party reproduces it with any JSON library:
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()``.
"""

from __future__ import annotations

import json
from typing import Any

from certseal.errors import DeserializationError, FormatError


def _reject_floats(obj: Any) -> None:
    if isinstance(obj, float):
        raise FormatError("floats are not allowed in canonical JSON")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise FormatError("object keys must be strings")
            _reject_floats(v)
    elif isinstance(obj, list):
        for v in obj:
            _reject_floats(v)


def canonical_bytes(obj: Any) -> bytes:
    _reject_floats(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_json_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse published JSON; every failure becomes one DeserializationError."""
    try:
        obj = json.loads(
            data.decode("utf-8"),
            parse_float=_no_float,
            parse_constant=_no_float,
            parse_int=_safe_int,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise DeserializationError(f"{what} is not valid JSON: {e}") from e
    if not isinstance(obj, dict):
        raise DeserializationError(f"{what} must be a JSON object")
    return obj


def _no_float(text: str) -> Any:
    raise FormatError(f"non-integer number {text!r}")


# I-JSON (RFC 7493), which RFC 8785 assumes: an integer a browser's JSON.parse cannot hold
# exactly would make it re-create other bytes than were signed.
MAX_SAFE_INTEGER = 2**53 - 1


def _safe_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise FormatError(f"integer {text[:20]!r} is beyond ±(2**53 - 1)")
    return value
