"""verifier/_pyhanko.py overrides one private method of pyhanko's reader: it must be the version
the override was read from, and read exactly what pyhanko reads."""

from __future__ import annotations

import io
import re
import zlib
from importlib.metadata import version

import pytest
from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.reader import PdfFileReader

from bench import hostile_files
from tests.conftest import Issued
from tests.verifier import hostile
from verifier._pyhanko import PYHANKO_VERSION, LinearReader


def test_pinned_pyhanko_version() -> None:
    """On any other version, re-read ``PdfFileReader._get_object_from_stream`` against
    ``LinearReader._get_object_from_stream`` before moving the pin."""
    assert version("pyhanko") == PYHANKO_VERSION


def _all_objects(reader: PdfFileReader) -> dict[tuple[int, int], str]:
    out = {}
    for rev in range(reader.total_revisions):
        for ref in reader.xrefs.explicit_refs_in_revision(rev):
            if reader.xrefs.get_historical_ref(ref, rev) is None:
                continue  # a freed entry
            obj = reader.get_object(ref, revision=rev)
            # repr, without the addresses of null objects
            out[(rev, ref.idnum)] = re.sub(r" at 0x[0-9a-f]+", "", repr(obj))
    return out


@pytest.mark.parametrize("make", ["resaved", "fields"])
def test_reads_what_pyhanko_reads(issued: Issued, make: str) -> None:
    """Every object of every revision, from object streams (a qpdf re-save of a real diploma,
    and 600 fields in streams of 300), is the same through both readers."""
    data = (
        hostile.resaved_by_qpdf(issued.pdf("genuine"))
        if make == "resaved"
        else hostile_files.fields_under_limits(600, 300)
    )
    theirs = _all_objects(PdfFileReader(io.BytesIO(data), strict=True))
    ours = _all_objects(LinearReader(io.BytesIO(data), strict=True))
    assert len(ours) > 20
    assert ours == theirs


def _raw_objstm(header: bytes, data: bytes, xref_index: int) -> bytes:
    """Catalog 1 and pages 2 in the file; object 3 in object stream 4, at ``xref_index``."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = {}
    for num, body in (
        (1, b"<< /Type /Catalog /Pages 2 0 R /X 3 0 R >>"),
        (2, b"<< /Type /Pages /Kids [] /Count 0 >>"),
    ):
        offsets[num] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (num, body)
    offsets[4] = len(out)
    out += (
        b"4 0 obj\n<< /Type /ObjStm /N 2 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(header), len(data))
        + data
        + b"\nendstream\nendobj\n"
    )
    start = len(out)
    rows = b"".join(
        bytes([kind]) + f2.to_bytes(4, "big") + f3.to_bytes(2, "big")
        for kind, f2, f3 in (
            (0, 0, 65535),
            (1, offsets[1], 0),
            (1, offsets[2], 0),
            (2, 4, xref_index),
            (1, offsets[4], 0),
            (1, start, 0),
        )
    )
    out += (
        b"5 0 obj\n<< /Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % len(rows)
        + rows
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % start
    )
    return bytes(out)


@pytest.mark.parametrize(
    ("header", "xref_index"),
    [
        (b"3 0 9 5 ", 1),  # listed at index 1, found at index 0
        (b"9 0 x 5 ", 0),  # header corrupted before object 3
        (b"9 0 8 5 ", 0),  # object 3 not in the stream at all
    ],
    ids=["wrong_index", "corrupted_header", "missing"],
)
def test_strict_errors_are_pyhanko_s(header: bytes, xref_index: int) -> None:
    pdf = _raw_objstm(header, zlib.compress(header + b"(a) (b) "), xref_index)
    errors = []
    for reader_class in (PdfFileReader, LinearReader):
        reader = reader_class(io.BytesIO(pdf), strict=True)
        with pytest.raises(misc.PdfStrictReadError) as e:
            reader.get_object(generic.Reference(3, 0, reader))
        errors.append(str(e.value))
    assert errors[0] == errors[1]
