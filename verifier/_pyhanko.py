"""Every touch of pyhanko's private internals, in one place, for the one version it was read from.

pyhanko's reader (``PdfFileReader._get_object_from_stream``) re-parses an object stream's
header from its start for every object it loads from the stream: loading all n objects of one
stream costs n²/2 number parses, and a 13 KB upload with 1,500 objects in one stream cost the
verifier about 5 s of CPU. :class:`LinearReader` indexes each stream's header once, so loading
them costs n. Its semantics are the original's, strict errors included.

``tests/verifier/test_pyhanko_internals.py`` fails on any other pyhanko version: re-read the
original method before moving the pin in pyproject.toml.

pyhanko-certvalidator's AdES code reads the host's clock where it should use the validation
time: a proof of existence registered without a time is dated ``datetime.now()``
(``ltv/poe.py``) and the past validation of a signing certificate starts its time slide at
``datetime.now()`` (``ltv/ades_past.py``). Validating as of another time, as the verifier does
with its clock passed in, then mixes two clocks: any object merely looked up gets a proof of
existence at the host's "now", earlier than a timestamp dated later. :func:`pinned_clock` makes
both read the validation time instead (``tests/ltv/test_pyhanko_clock.py`` pins that version).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import pyhanko_certvalidator.ltv.ades_past as _ades_past
import pyhanko_certvalidator.ltv.poe as _poe
from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader

PYHANKO_VERSION = "0.38.0"
PYHANKO_CERTVALIDATOR_VERSION = "0.33.0"

# The tokenizer helpers pyhanko's own method calls (untyped in pyhanko).
_skip_whitespace: Any = misc.read_non_whitespace
_read_number: Any = generic.NumberObject.read_from_stream


@dataclass
class _StreamIndex:
    """One object stream's header, parsed once: where each object number first appears."""

    stream: generic.StreamObject
    data: bytes
    first: int
    positions: dict[int, tuple[int, int]] = field(default_factory=dict)  # num -> (index, offset)
    corrupted: bool = False  # the header stopped parsing before its /N entries


class LinearReader(PdfFileReader):  # type: ignore[misc]
    """pyhanko's reader, with each object stream's header read once instead of once per object."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before the parent's constructor, which may already load objects from streams.
        self._certseal_streams: dict[int, _StreamIndex] = {}
        super().__init__(*args, **kwargs)

    def _index(self, stmnum: int, stream: generic.StreamObject, n: int) -> _StreamIndex:
        known = self._certseal_streams.get(stmnum)
        if known is not None and known.stream is stream:
            return known
        data = stream.read_data(DecodePurpose.OBJECT_STREAM)
        index = _StreamIndex(stream, data, stream["/First"])
        header = BytesIO(data)
        for i in range(n):
            try:
                _skip_whitespace(header, seek_back=True)
                objnum = _read_number(header)
                _skip_whitespace(header, seek_back=True)
                offset = _read_number(header)
                _skip_whitespace(header, seek_back=True)
            except ValueError:
                index.corrupted = True
                break
            index.positions.setdefault(int(objnum), (i, int(offset)))
        self._certseal_streams[stmnum] = index
        return index

    def _get_object_from_stream(self, idnum: int, stmnum: int, idx: int) -> Any:
        stream = generic.Reference(stmnum, 0, self).get_object()
        if not isinstance(stream, generic.StreamObject) or stream.get("/Type") != "/ObjStm":
            raise misc.PdfReadError(f"object {stmnum} is not an object stream")
        n = stream["/N"]
        if not (0 <= idx < n):
            if self.strict:
                raise misc.PdfStrictReadError("Object stream does not contain index")
            return generic.NullObject()
        index = self._index(stmnum, stream, n)
        found = index.positions.get(idnum)
        if found is None:
            if not self.strict:
                return generic.NullObject()
            if index.corrupted:
                raise misc.PdfStrictReadError("Object stream header possibly corrupted")
            raise misc.PdfStrictReadError(
                "Object not found in stream, this is a fatal error in strict mode"
            )
        i, offset = found
        if self.strict and idx != i:
            raise misc.PdfStrictReadError("Object is in wrong index.")
        body = BytesIO(index.data)
        body.seek(index.first + offset)
        try:
            obj = generic.read_object(body, generic.Reference(idnum, 0, self))
        except (misc.PdfStreamError, misc.PdfReadError) as e:
            if self.strict:
                raise misc.PdfStrictReadError(f"Can't read object stream: {e}") from e
            obj = generic.NullObject()
        if isinstance(obj, (generic.StreamObject, generic.IndirectObject)) and self.strict:
            raise misc.PdfStrictReadError("Encountered forbidden object type in object stream")
        return obj


def xref_facts(reader: Any) -> tuple[int, int, dict[int, int]]:
    """What the cross-reference sections declare, before any object is loaded: (revisions,
    object entries over all revisions, entries pointing into each object stream)."""
    xrefs = reader.xrefs
    revisions = int(xrefs.total_revisions)
    entries = 0
    per_stream: dict[int, int] = {}
    for rev in range(revisions):
        entries += len(xrefs.explicit_refs_in_revision(rev))
        data = xrefs.get_xref_data(rev)
        sections = [data] if data.hybrid is None else [data, data.hybrid.xref_data]
        for section in sections:
            for loc in section.xrefs_in_objstm.values():
                per_stream[loc.obj_stream_id] = per_stream.get(loc.obj_stream_id, 0) + 1
    return revisions, entries, per_stream


def declared_sizes(reader: Any, streams: dict[int, int]) -> dict[int, int]:
    """Each object stream's size: the most of its entries and its own /N (only its dictionary
    is loaded, not its data)."""
    sizes = {}
    for stmnum, listed in streams.items():
        stream = reader.get_object(generic.Reference(stmnum, 0, reader))
        declared = stream.get("/N") if isinstance(stream, generic.DictionaryObject) else None
        sizes[stmnum] = max(listed, declared if isinstance(declared, int) else 0)
    return sizes


# -- pyhanko-certvalidator's clock ------------------------------------------------------------
_AT: ContextVar[dt.datetime | None] = ContextVar("certseal_validation_time", default=None)


class _ValidationClock(dt.datetime):
    """``datetime`` as the two AdES modules see it: ``now()`` is the validation time inside
    :func:`pinned_clock` (per thread and task: a context variable), the host's clock outside."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
        at = _AT.get()
        if at is None:
            return dt.datetime.now(tz)
        return at if tz is None else at.astimezone(tz)


# Both modules use the name only for ``datetime.now(...)`` and annotations (read at import).
_CLOCK_READERS = (_poe, _ades_past)
for _module in _CLOCK_READERS:
    setattr(_module, "datetime", _ValidationClock)  # noqa: B010


@contextmanager
def pinned_clock(at: dt.datetime) -> Iterator[None]:
    """pyhanko's AdES validation run inside this block dates "now" at ``at`` (timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError("the validation time must be timezone-aware")
    token = _AT.set(at)
    try:
        yield
    finally:
        _AT.reset(token)
