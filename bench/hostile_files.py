"""Hostile PDFs built to make a verifier spend CPU: one function per attack, each saying why.

Every file is small enough to upload (far under the 20 MB limit) and is built byte by byte
here, with correct cross-reference offsets, so that a strict PDF reader accepts its structure
and does the expensive work the attack aims at. ``worst_hostile_pdf()`` is the one that cost
the verifier most before the limits (docs/verifier.md); ``bench.availability`` imports it.

Run as a module to print the CPU time the verifier's signature check spends on each file,
measured in a fresh process per file (the in-process check, without any isolation):

    .venv/bin/python -m bench.hostile_files [--genuine diploma.pdf]
"""

from __future__ import annotations

import argparse
import re
import zlib
from collections.abc import Callable, Iterable

HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def _ref(num: int) -> bytes:
    return b"%d 0 R" % num


def _classic(objects: Iterable[tuple[int, bytes]], root: int = 1, header: bytes = HEADER) -> bytes:
    """A complete file: the objects, a classic xref table, a trailer."""
    out = bytearray(header)
    offsets: dict[int, int] = {}
    for num, body in objects:
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    size = max(offsets) + 1
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for num in range(1, size):
        out += b"%010d 00000 n \n" % offsets[num] if num in offsets else b"0000000000 00000 f \n"
    out += b"trailer\n<< /Size %d /Root %s >>\nstartxref\n%d\n%%%%EOF\n" % (size, _ref(root), start)
    return bytes(out)


def _objstm(members: list[tuple[int, bytes]], escaped: bool = False) -> tuple[bytes, bytes]:
    """The dictionary and the Flate-compressed data of one object stream."""
    header = bytearray()
    body = bytearray()
    for num, obj in members:
        header += b"%d %d " % (num, len(body))
        body += obj + b" "
    raw = bytes(header) + bytes(body)
    data = zlib.compress(raw, 9)
    names = b"/Type /Obj#53tm /#4E" if escaped else b"/Type /ObjStm /N"
    head = b"<< %s %d /First %d /Filter /FlateDecode /Length %d >>" % (
        names,
        len(members),
        len(header),
        len(data),
    )
    return head, data


def _xref_stream(
    entries: dict[int, tuple[int, int, int]], size: int, trailer: bytes, own: int, offset: int
) -> bytes:
    """An xref stream object (``own``) listing ``entries`` (num -> type, field 2, field 3)."""
    entries = {**entries, own: (1, offset, 0)}
    nums = sorted(entries)
    index = bytearray()
    rows = bytearray()
    run_start = prev = None
    for num in nums:
        if run_start is None or prev is None or num != prev + 1:
            if run_start is not None and prev is not None:
                index += b"%d %d " % (run_start, prev - run_start + 1)
            run_start = num
        prev = num
        kind, f2, f3 = entries[num]
        rows += bytes([kind]) + f2.to_bytes(4, "big") + f3.to_bytes(2, "big")
    assert run_start is not None and prev is not None
    index += b"%d %d" % (run_start, prev - run_start + 1)
    data = zlib.compress(bytes(rows), 9)
    return (
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%s] %s /Filter /FlateDecode "
        b"/Length %d >>\nstream\n"
        % (own, size, bytes(index), trailer, len(data))
        + data
        + b"\nendstream\nendobj\n"
    )


def _with_objstm(
    plain: list[tuple[int, bytes]],
    packed: list[tuple[int, bytes]],
    per_stream: int,
    trailer: bytes,
    base: bytes = HEADER,
    first_stream_num: int | None = None,
    escaped: bool = False,
) -> bytes:
    """``base`` + plain objects + ``packed`` ones in object streams + one xref stream."""
    out = bytearray(base)
    entries: dict[int, tuple[int, int, int]] = {}
    for num, body in plain:
        entries[num] = (1, len(out), 0)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    highest = max([n for n, _ in plain] + [n for n, _ in packed])
    stream_num = first_stream_num or highest + 1
    for i in range(0, len(packed), per_stream):
        chunk = packed[i : i + per_stream]
        head, data = _objstm(chunk, escaped)
        entries[stream_num] = (1, len(out), 0)
        out += b"%d 0 obj\n" % stream_num + head + b"\nstream\n" + data + b"\nendstream\nendobj\n"
        for idx, (num, _) in enumerate(chunk):
            entries[num] = (2, stream_num, idx)
        stream_num += 1
    own = stream_num
    start = len(out)
    out += _xref_stream(entries, own + 1, trailer, own, start)
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


def _catalog_with_fields(field_refs: bytes) -> list[tuple[int, bytes]]:
    return [
        (1, b"<< /Type /Catalog /Pages 2 0 R /AcroForm 4 0 R >>"),
        (2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        (3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"),
        (4, b"<< /Fields [" + field_refs + b"] >>"),
    ]


def _field(num: int) -> bytes:
    return b"<< /FT /Tx /T (f%d) /V (value %d) /Rect [0 0 1 1] >>" % (num, num)


def objstm_quadratic(n: int = 1500) -> bytes:
    """About 1,500 form fields packed in one object stream: pyhanko re-reads the stream's header
    from the start for every object it loads, so loading them all costs n² number parses."""
    first = 10
    refs = b" ".join(_ref(first + i) for i in range(n))
    packed = [(first + i, _field(first + i)) for i in range(n)]
    return _with_objstm(_catalog_with_fields(refs), packed, n, b"/Root 1 0 R")


def many_objstms(streams: int = 400, per_stream: int = 200) -> bytes:
    """The same attack split over many mid-sized object streams, each under a naive per-stream
    cap: the cost is still streams × per_stream²."""
    n = streams * per_stream
    first = 10
    refs = b" ".join(_ref(first + i) for i in range(n))
    packed = [(first + i, b"<< /T (f) >>") for i in range(n)]
    return _with_objstm(_catalog_with_fields(refs), packed, per_stream, b"/Root 1 0 R")


def many_objects(n: int = 200_000) -> bytes:
    """Hundreds of thousands of small plain objects, all reachable as form fields: each one is
    cheap, their number is not (an issued document has a few dozen)."""
    first = 10
    refs = b" ".join(_ref(first + i) for i in range(n))
    objs = _catalog_with_fields(refs) + [(first + i, b"<</T(f)>>") for i in range(n)]
    return _classic(objs)


def long_array(n: int = 2_000_000) -> bytes:
    """One array of two million numbers in the form dictionary: a single object whose parse
    alone costs seconds."""
    return _classic(_catalog_with_fields(b"0 " * n))


def deep_nesting(depth: int = 10_000) -> bytes:
    """Arrays nested 10,000 deep in the catalog: a recursive parser overflows its stack, an
    iterative one spends time; an issued document nests a handful of levels."""
    objs = _catalog_with_fields(b"")
    objs[0] = (
        1,
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm 4 0 R /X "
        + b"[" * depth
        + b"]" * depth
        + b" >>",
    )
    return _classic(objs)


def deep_field_tree(depth: int = 20_000) -> bytes:
    """A form field tree 20,000 levels deep (/Kids chains): walkers that recurse per level
    overflow, walkers that do not still visit every level."""
    first = 10
    objs = _catalog_with_fields(_ref(first))
    for i in range(depth):
        kids = b"/Kids [%s]" % _ref(first + i + 1) if i + 1 < depth else b"/FT /Sig"
        objs.append((first + i, b"<< /T (k) %s >>" % kids))
    return _classic(objs)


def length_lie() -> bytes:
    """Streams whose /Length claims two gigabytes: a reader that trusts it reads or allocates
    far past the file, one that searches for ``endstream`` scans it every time."""
    objs = _catalog_with_fields(b" ".join(_ref(10 + i) for i in range(2000)))
    for i in range(2000):
        objs.append(
            (10 + i, b"<< /Length 2000000000 /FT /Tx >>\nstream\n" + b"x" * 200 + b"\nendstream")
        )
    return _classic(objs)


def decompression_bomb(mb: int = 16) -> bytes:
    """An object stream of 16 MB of zeros compressed ~1000:1 (16 KB): decoding it costs time and
    memory out of all proportion to the upload."""
    zeros = zlib.compress(b"0 0 " + b" " * (mb * 1024 * 1024), 9)
    objs = _catalog_with_fields(_ref(10))
    body = bytearray(HEADER)
    entries: dict[int, tuple[int, int, int]] = {}
    for num, obj in objs:
        entries[num] = (1, len(body), 0)
        body += b"%d 0 obj\n" % num + obj + b"\nendobj\n"
    entries[11] = (1, len(body), 0)
    body += (
        b"11 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n"
        % len(zeros)
        + zeros
        + b"\nendstream\nendobj\n"
    )
    entries[10] = (2, 11, 0)
    start = len(body)
    body += _xref_stream(entries, 13, b"/Root 1 0 R", 12, start)
    body += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(body)


def many_revisions(n: int = 3000, base: bytes | None = None) -> bytes:
    """Thousands of incremental updates, each a small xref section: a reader walks every one,
    and a signature check analyses every revision after the signed one."""
    data = bytearray(base if base is not None else _classic(_catalog_with_fields(b"")))
    size, root, prev = _trailer_facts(bytes(data))
    num = size
    for i in range(n):
        off = len(data)
        data += b"\n%d 0 obj\n<< /Junk %d >>\nendobj\n" % (num, i)
        start = len(data)
        data += b"xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \n" % (num, off + 1)
        data += b"trailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
            num + 1,
            root,
            prev,
            start,
        )
        prev = start
        num += 1
    return bytes(data)


def prev_chain(n: int = 1000) -> bytes:
    """One ``startxref`` but a /Prev chain of 1,000 xref streams: revisions that a count of
    ``%%EOF`` markers does not see."""
    data = bytearray(_classic(_catalog_with_fields(b"")))
    size, root, prev = _trailer_facts(bytes(data))
    num = size
    for _ in range(n):
        start = len(data)
        data += _xref_stream({}, num + 1, b"/Root %s /Prev %d" % (root, prev), num, start)
        prev = start
        num += 1
    data += b"startxref\n%d\n%%%%EOF\n" % prev
    return bytes(data)


def fields_under_limits(n: int = 4_900, per_stream: int = 980) -> bytes:
    """Just under the object limits (4,900 fields in object streams of 980): what a reader must
    still load at an acceptable cost."""
    first = 10
    refs = b" ".join(_ref(first + i) for i in range(n))
    packed = [(first + i, _field(first + i)) for i in range(n)]
    return _with_objstm(_catalog_with_fields(refs), packed, per_stream, b"/Root 1 0 R")


def tokens_under_limits(objects: int = 4, size: int = 250_000) -> bytes:
    """Four form fields each carrying an array of 125,000 numbers: every object small enough
    and few enough to pass the structural limits, yet parsing them costs seconds of CPU.
    Only a limit on CPU time stops this one."""
    first = 10
    refs = b" ".join(_ref(first + i) for i in range(objects))
    body = b"<< /FT /Tx /T (f) /X [" + b"0 " * ((size - 40) // 2) + b"] >>"
    objs = _catalog_with_fields(refs) + [(first + i, body) for i in range(objects)]
    return _classic(objs)


def escaped_objstm(n: int = 1500) -> bytes:
    """The quadratic object stream with /ObjStm and /N spelled in #xx escapes: a PDF reader
    reads the same names, a scan of the bytes for the plain spellings sees nothing."""
    first = 10
    refs = b" ".join(_ref(first + i) for i in range(n))
    packed = [(first + i, _field(first + i)) for i in range(n)]
    return _with_objstm(_catalog_with_fields(refs), packed, n, b"/Root 1 0 R", escaped=True)


def escaped_revisions(n: int = 300) -> bytes:
    """Hundreds of incremental updates whose markers are hidden from a byte scan: /Prev spelled
    /P#72ev, and one ``startxref`` for the whole chain."""
    data = bytearray(_classic(_catalog_with_fields(b"")))
    size, root, prev = _trailer_facts(bytes(data))
    num = size
    for _ in range(n):
        start = len(data)
        data += _xref_stream({}, num + 1, b"/Root %s /P#72ev %d" % (root, prev), num, start)
        prev = start
        num += 1
    data += b"startxref\n%d\n%%%%EOF\n" % prev
    return bytes(data)


def _trailer_facts(pdf: bytes) -> tuple[int, bytes, int]:
    """(/Size, /Root reference, last startxref) of a file with a classic trailer."""
    sizes = re.findall(rb"/Size\s+(\d+)", pdf)
    roots = re.findall(rb"/Root\s+(\d+\s+\d+\s+R)", pdf)
    starts = re.findall(rb"startxref\s+(\d+)", pdf)
    return int(sizes[-1]), roots[-1], int(starts[-1])


def junk_appended_to(genuine: bytes, n: int = 1500) -> bytes:
    """A real issued diploma with an incremental update that adds ~1,500 form fields in one
    object stream: the signature is found and checked, then the difference analysis loads
    every added object (the quadratic read, on the path that looks most legitimate)."""
    size, root, prev = _trailer_facts(genuine)
    acro = re.search(rb"/AcroForm\s+(\d+)\s+0\s+R", genuine)
    fields = re.findall(rb"/Fields\s*\[([^\]]*)\]", genuine)
    assert acro is not None and fields, "not a signed certseal document"
    acro_num = int(acro.group(1))
    first = size
    refs = b" ".join(_ref(first + i) for i in range(n))
    plain = [(acro_num, b"<< /Fields [" + fields[-1] + b" " + refs + b"] /SigFlags 3 >>")]
    packed = [(first + i, _field(first + i)) for i in range(n)]
    return _with_objstm(
        plain,
        packed,
        n,
        b"/Root %s /Prev %d" % (root, prev),
        base=genuine + b"\n",
        first_stream_num=first + n,
    )


def revisions_appended_to(genuine: bytes, n: int = 300) -> bytes:
    """A real issued diploma with 300 small incremental updates after its signature: each one
    is a revision the difference analysis compares with the signed one."""
    return many_revisions(n, base=genuine)


HOSTILE: dict[str, Callable[[], bytes]] = {
    "objstm_quadratic": objstm_quadratic,
    "many_objstms": many_objstms,
    "many_objects": many_objects,
    "long_array": long_array,
    "deep_nesting": deep_nesting,
    "deep_field_tree": deep_field_tree,
    "length_lie": length_lie,
    "decompression_bomb": decompression_bomb,
    "many_revisions": many_revisions,
    "prev_chain": prev_chain,
    "escaped_objstm": escaped_objstm,
    "escaped_revisions": escaped_revisions,
    "fields_under_limits": fields_under_limits,
    "tokens_under_limits": tokens_under_limits,
}
"""Every standalone hostile file, by name."""

ON_GENUINE: dict[str, Callable[[bytes], bytes]] = {
    "junk_appended_to": junk_appended_to,
    "revisions_appended_to": revisions_appended_to,
}
"""Hostile files made from a real issued document, by name."""


def worst_hostile_pdf() -> bytes:
    """The worst standalone file for the protected verifier: it passes every structural limit
    and runs into the limit on CPU time (the unprotected verifier spent about 7 s on it)."""
    return tokens_under_limits()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--genuine", help="an issued PDF, for the files made from one")
    args = parser.parse_args()
    for name, make in HOSTILE.items():
        print(name, len(make()))
    if args.genuine:
        with open(args.genuine, "rb") as f:
            genuine = f.read()
        for name, make_on in ON_GENUINE.items():
            print(name, len(make_on(genuine)))


if __name__ == "__main__":
    main()
