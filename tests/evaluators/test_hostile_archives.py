"""ZIP files built to trick an extractor: each refused as a whole with its own reason, from
memory, with decompression bounded whatever the headers claim; nothing is written to disk."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import Issued
from tests.evaluators.conftest import make_zip, post_files
from tests.evaluators.test_batch_api import schema
from tests.verifier.conftest import LiveServer
from verifier.batch import MIB, BatchLimits, BatchRefused, Upload, expand

LIMITS = BatchLimits(max_files=10, max_total_bytes=8 * MIB)
PDF = b"%PDF-1.7\n" + b"x" * 1000


def refused(data: bytes, limits: BatchLimits = LIMITS) -> str:
    with pytest.raises(BatchRefused) as e:
        expand([Upload("in.zip", data)], limits, 4 * MIB)
    return e.value.answer.codes[0]


def test_a_plain_zip_opens() -> None:
    files = expand([Upload("in.zip", make_zip([("a.pdf", PDF), ("b/c.pdf", PDF)]))], LIMITS, MIB)
    assert [(f.name, f.data) for f in files] == [("in.zip/a.pdf", PDF), ("in.zip/b/c.pdf", PDF)]


def test_zip_inside_the_zip() -> None:
    inner = make_zip([("a.pdf", PDF)])
    assert refused(make_zip([("a.pdf", PDF), ("more.zip", inner)])) == "archive_nested"
    # Renamed, it is still an archive: the bytes decide, not the name.
    assert refused(make_zip([("more.pdf", inner)])) == "archive_nested"


@pytest.mark.parametrize(
    "name",
    [
        "../evil.pdf",
        "docs/../../evil.pdf",
        "/etc/evil.pdf",
        "C:/evil.pdf",
        "docs\\..\\evil.pdf",
        "a\x1b[2Jb.pdf",
    ],
)
def test_unsafe_names(name: str) -> None:
    assert refused(make_zip([("ok.pdf", PDF), (name, PDF)])) == "archive_unsafe_name"


def test_a_link_entry_is_unsafe() -> None:
    info = zipfile.ZipInfo("link.pdf", date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = 0o120777 << 16  # a symbolic link, as Info-ZIP stores one
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(info, "/etc/passwd")
    assert refused(buf.getvalue()) == "archive_unsafe_name"


@pytest.mark.parametrize("other", ["a.pdf", "A.PDF", "./a.pdf", "x/../a.pdf"])
def test_duplicate_names(other: str) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate it is asked to write
        data = make_zip([("a.pdf", PDF), (other, PDF)])
    code = refused(data)
    assert code in ("archive_duplicate_name", "archive_unsafe_name")
    if ".." not in other:
        assert code == "archive_duplicate_name"


def test_zip_bomb_by_ratio() -> None:
    """42 KB that inflates to 40 MB: refused on its declared ratio, before any byte is read."""
    assert refused(make_zip([("bomb.pdf", b"\0" * (40 * MIB))])) == "archive_ratio"


def lying_zip(name: str, payload: bytes, declared_size: int) -> bytes:
    """A deflated entry whose headers claim ``declared_size`` bytes: headers lie."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = comp.compress(payload) + comp.flush()
    crc = zlib.crc32(payload)
    fname = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), declared_size, len(fname), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), declared_size, len(fname),
        0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    body = local + fname + data
    cd = central + fname
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), len(body), 0)
    return body + cd + end


def test_zip_bomb_that_lies_about_its_size_is_stopped_while_inflating() -> None:
    """The headers claim 1 KB; the data inflates to 40 MB. Reading stops at the ratio."""
    assert refused(lying_zip("bomb.pdf", b"\0" * (40 * MIB), 1024)) in (
        "archive_ratio",
        "archive_damaged",
    )
    # Whatever the verdict, no more than the budget was ever held: the per-file cap.
    files = expand(
        [Upload("in.zip", lying_zip("big.pdf", PDF + b"\0" * (3 * MIB), 10 * MIB))],
        BatchLimits(max_files=10, max_total_bytes=64 * MIB, max_ratio=10_000),
        MIB,
    )
    assert files[0].truncated and len(files[0].data) == MIB + 1


def test_total_uncompressed_size_is_bounded() -> None:
    entries = [(f"{i}.pdf", os.urandom(MIB)) for i in range(9)]
    assert refused(make_zip(entries, zipfile.ZIP_STORED)) == "batch_too_large"


def test_too_many_entries() -> None:
    assert refused(make_zip([(f"{i}.pdf", PDF) for i in range(11)])) == "batch_too_many"


def test_damaged_encrypted_and_exotic_archives() -> None:
    good = make_zip([("a.pdf", PDF)])
    assert refused(good[: len(good) // 2]) == "archive_damaged"
    flipped = bytearray(good)
    flipped[40] ^= 0xFF  # inside the compressed data: the CRC no longer matches
    assert refused(bytes(flipped)) == "archive_damaged"
    encrypted = bytearray(good)
    encrypted[6] |= 1  # the local header's "encrypted" flag
    cd = good.rfind(b"PK\x01\x02")
    encrypted[cd + 8] |= 1  # and the central directory's
    assert refused(bytes(encrypted)) == "archive_damaged"
    assert refused(make_zip([("a.pdf", PDF)], zipfile.ZIP_BZIP2)) == "archive_damaged"


def test_nothing_is_written_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a hostile archive creates no file: every open for writing is refused."""
    import builtins

    real_open = builtins.open

    def no_write(file: object, mode: str = "r", *a: object, **k: object) -> object:
        assert not any(c in mode for c in "wax+"), f"opened {file!r} for writing"
        return real_open(file, mode, *a, **k)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", no_write)
    monkeypatch.chdir(tmp_path)
    for data in (make_zip([("../x.pdf", PDF)]), make_zip([("b.pdf", b"\0" * (40 * MIB))])):
        refused(data)
    expand([Upload("in.zip", make_zip([("a.pdf", PDF)]))], LIMITS, MIB)
    assert list(tmp_path.iterdir()) == []


def test_hostile_archive_over_http(live_receipts: LiveServer, issued: Issued) -> None:
    """Refused as a whole: the genuine file beside it is not checked, nor counted."""
    archive = make_zip([("ok.pdf", issued.pdf("transcript")), ("../../etc/x.pdf", PDF)])
    status, body = post_files(
        live_receipts.url + "/api/v1/verify/batch",
        [("t.pdf", issued.pdf("transcript")), ("docs.zip", archive)],
        {"lang": "zh-TW", "receipt": "1"},
    )
    assert status == 400
    jsonschema.validate(body, schema("BatchVerification"))
    assert [r["code"] for r in body["reasons"]] == ["archive_unsafe_name"]
    assert "../../etc/x.pdf" in body["reasons"][0]["message"]
    assert body["files"] == [] and "receipt" not in body
    _, again = post_files(
        live_receipts.url + "/api/v1/verify/batch", [("t.pdf", issued.pdf("transcript"))] * 3
    )
    assert [f["result"] for f in again["files"]] == ["success"] * 3


def test_batch_limits_over_http(live_receipts: LiveServer, issued: Issued) -> None:
    url = live_receipts.url + "/api/v1/verify/batch"
    status, body = post_files(url, [])
    assert (status, body["reasons"][0]["code"]) == (400, "batch_empty")
    status, body = post_files(url, [(f"{i}.pdf", PDF) for i in range(13)])
    assert (status, body["reasons"][0]["code"]) == (400, "batch_too_many")
    status, body = post_files(url, [("a.bin", os.urandom(3 * MIB)), ("b.bin", os.urandom(2 * MIB))])
    assert (status, body["reasons"][0]["code"]) == (413, "batch_too_large")
    jsonschema.validate(body, schema("BatchVerification"))
