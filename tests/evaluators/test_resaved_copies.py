"""Re-saved copies (qpdf, pikepdf, pypdf rewrite the file around the issuer's signature) get
their own reason, naming the issued document the kept signature was made for; bytes changed in
place keep today's words; a print-to-PDF copy (no signature) keeps its own; none is ever a
success."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Issued
from verifier.engine import Verifier

pikepdf = pytest.importorskip("pikepdf")
pypdf = pytest.importorskip("pypdf")


def with_qpdf(pdf: bytes, tmp: Path) -> bytes:
    src, out = tmp / "in.pdf", tmp / "qpdf.pdf"
    src.write_bytes(pdf)
    subprocess.run(["qpdf", str(src), str(out)], check=True)
    return out.read_bytes()


def with_pikepdf(pdf: bytes, tmp: Path) -> bytes:
    buf = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        doc.save(buf)
    return buf.getvalue()


def with_pypdf(pdf: bytes, tmp: Path) -> bytes:
    buf = io.BytesIO()
    pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf))).write(buf)
    return buf.getvalue()


@pytest.mark.parametrize("resave", [with_qpdf, with_pikepdf, with_pypdf], ids=lambda f: f.__name__)
def test_resaved_copy_is_named(
    resave: Callable[[bytes, Path], bytes], engine: Verifier, issued: Issued, tmp_path: Path
) -> None:
    copy = resave(issued.pdf("genuine"), tmp_path)
    assert copy != issued.pdf("genuine")
    v = engine.verify(copy, _now())
    assert v.result == "failure"
    assert v.codes[0] == "resaved_copy", v.codes
    assert "signature_invalid" not in v.codes
    en = v.to_dict("en")["reasons"][0]["message"]
    zh = v.to_dict("zh-TW")["reasons"][0]["message"]
    # Named after the issued document its signature was made for (test_resaved_named.py); a
    # list without signature digests still names the school alone, in the words before.
    assert "re-saved copy of a Chinese diploma issued by National Demonstration University" in en
    assert "ask the holder for the original attachment" in en
    assert "另存後的副本" in zh and "原始附件" in zh
    chain = next(c for c in v.checks if c.name == "certificate_chain")
    assert chain.status == "passed"


def test_bytes_changed_in_place_keep_todays_words(engine: Verifier, issued: Issued) -> None:
    data = bytearray(issued.pdf("genuine"))
    data[len(data) // 3] ^= 0x01
    v = engine.verify(bytes(data), _now())
    assert v.result == "failure"
    assert "resaved_copy" not in v.codes
    assert v.codes[0] in ("signature_invalid", "malformed_pdf")
    if v.codes[0] == "signature_invalid":
        assert "changed after it was signed" in v.to_dict("en")["reasons"][0]["message"]


def test_a_rewrite_by_another_key_is_not_a_resaved_copy(
    engine: Verifier, issued: Issued, tmp_path: Path
) -> None:
    """A look-alike CA with the school's very names, re-saved: not the school's key, so the
    copy is not named after the school."""
    from tests.verifier import hostile
    from tests.verifier.test_files import _lookalike, _unsigned_render

    forged = hostile.signed_by_lookalike(_unsigned_render(issued), _lookalike(issued))
    v = engine.verify(with_qpdf(forged, tmp_path), _now())
    assert v.result == "failure"
    assert "resaved_copy" not in v.codes, v.codes
    assert "signature_invalid" in v.codes


def test_resaved_copy_also_says_not_issued(
    engine: Verifier, issued: Issued, tmp_path: Path
) -> None:
    """The status list is still consulted: these bytes were never issued."""
    v = engine.verify(with_qpdf(issued.pdf("transcript"), tmp_path), _now())
    assert v.codes == ("resaved_copy", "not_issued")
    assert next(c for c in v.checks if c.name == "status_list").status == "failed"
    assert next(c for c in v.checks if c.name == "verification_count").status == "skipped"


def test_print_to_pdf_copy_keeps_its_own_message(engine: Verifier, issued: Issued) -> None:
    """Printing drops the signature: the copy is re-drawn, and says "no signature"."""
    reader = pypdf.PdfReader(io.BytesIO(issued.pdf("genuine")))
    writer = pypdf.PdfWriter()
    writer.add_page(reader.pages[0])  # the page alone, as a print driver re-draws it
    buf = io.BytesIO()
    writer.write(buf)
    v = engine.verify(buf.getvalue(), _now())
    assert v.codes[0] == "no_signature"
    assert "resaved_copy" not in v.codes


def _now():  # type: ignore[no-untyped-def]
    from tests.conftest import NOW

    return NOW
