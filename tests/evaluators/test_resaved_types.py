"""Re-saved copies of every document type the authority issues, by qpdf (as is and with object
streams), pikepdf and pypdf: each either names the issued document or, when the program
destroyed the signature (pypdf, on every print-locked type), says so in plain words. Print-locked
types are encrypted: the signature's value is read as written (it is never encrypted), so a
print-locked document changed in place is a changed document, not a re-saved copy."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from authority.production import Producer
from authority.service import Authority, IssueRequest
from certseal.doctypes import DOCUMENT_TYPES
from tests.conftest import ACTOR, COLLECTED, NOW, PASSPHRASE, Issued, make_authority
from tests.evaluators.conftest import post_files
from tests.evaluators.test_batch_api import schema
from tests.evaluators.test_resaved_copies import with_pikepdf, with_pypdf, with_qpdf
from tests.evaluators.test_resaved_named import SCHOOL, messages
from tests.verifier.conftest import LiveServer, engine_over
from verifier.pdfcheck import StructureLimits, structure_problem
from verifier.resaved import ResavedCopy

Resave = Callable[[bytes, Path], bytes]


def with_qpdf_object_streams(pdf: bytes, tmp: Path) -> bytes:
    """qpdf packing objects into object streams, as "Save as" with compression does; a
    print-locked document stays encrypted, object streams included."""
    src, out = tmp / "in.pdf", tmp / "objstm.pdf"
    src.write_bytes(pdf)
    subprocess.run(["qpdf", "--object-streams=generate", str(src), str(out)], check=True)
    return out.read_bytes()


RESAVES: list[Resave] = [with_qpdf, with_qpdf_object_streams, with_pikepdf, with_pypdf]


@dataclass(frozen=True)
class EveryType:
    issued: Issued  # roles are the type codes
    number: dict[str, str]  # type code -> document number


@pytest.fixture(scope="module")
def every_type(tmp_path_factory: pytest.TempPathFactory) -> EveryType:
    """One document of each type, issued the same day by one authority and published."""
    base = tmp_path_factory.mktemp("every-type")
    home = base / "home"
    make_authority(home)
    numbers, paths = {}, {}
    with Authority(home) as auth:
        produce = Producer(auth.keys_dir, PASSPHRASE)
        graduate = auth.registry.student_ids()[0]
        requests = []
        for doc_type in ("diploma_zh", "diploma_en"):
            auth.record_collection(graduate, COLLECTED, doc_type=doc_type, now=NOW, actor=ACTOR)
            requests.append(IssueRequest(doc_type, graduate))
        requests += [
            IssueRequest("transcript", auth.registry.student_ids("courses")[0], "ORDER-T"),
            IssueRequest("rank_certificate", auth.registry.student_ids("rank")[0], "ORDER-R"),
            IssueRequest("degree_certificate_en", graduate, "ORDER-E"),
            IssueRequest("degree_certificate_zh_en", graduate, "ORDER-P"),
        ]
        report = auth.issue(requests, now=NOW, actor=ACTOR, produce=produce)
        assert not report.failed, report.failed
        for doc in report.issued:
            numbers[doc.doc_type] = doc.doc_id
            paths[doc.doc_type] = home / doc.path
        auth.publish(base / "site", PASSPHRASE, now=NOW + dt.timedelta(hours=1), actor=ACTOR)
    assert sorted(numbers) == sorted(DOCUMENT_TYPES)
    return EveryType(Issued(home, base / "site", numbers, paths), numbers)


CASES = [
    (code, resave)
    for code in DOCUMENT_TYPES
    for resave in RESAVES
    if not (DOCUMENT_TYPES[code].print_locked and resave is with_pypdf)
]


@pytest.mark.parametrize(
    ("doc_type", "resave"), CASES, ids=lambda v: v.__name__ if callable(v) else v
)
def test_a_copy_of_each_type_is_named(
    doc_type: str, resave: Resave, every_type: EveryType, tmp_path: Path
) -> None:
    original = every_type.issued.pdf(doc_type)
    copy = resave(original, tmp_path)
    assert copy != original
    # Within the structure limits an issued document is bounded by, with a wide margin.
    assert structure_problem(copy, StructureLimits()) is None
    v = engine_over(every_type.issued, tmp_path).verify(copy, NOW)
    assert v.result == "failure"
    assert v.codes == ("resaved_copy", "not_issued"), v.codes
    dtype = DOCUMENT_TYPES[doc_type]
    en, zh = messages(v)
    if dtype.print_locked:
        # Rendered without the twin (only documents not print-locked carry it): no number.
        assert f"re-saved copy of {dtype.in_sentence(article=True)} issued by {SCHOOL}" in en
    else:
        number = every_type.number[doc_type]
        assert f"re-saved copy of the {dtype.in_sentence()} {number} (the number" in en, en
    assert f"核發之{dtype.name_zh}" in zh and "經另存後的副本" in zh


@pytest.mark.parametrize("doc_type", [c for c, t in DOCUMENT_TYPES.items() if t.print_locked])
def test_pypdf_destroys_a_print_locked_signature_and_the_answer_says_so(
    doc_type: str, every_type: EveryType, tmp_path: Path
) -> None:
    """pypdf decrypts the signature's value as if it were text: no CMS is left. Neither our
    structure limits nor pyhanko's reader refuse the file (it reads, ``parse_locked_ok`` is
    not claimed: the copy is no longer encrypted); the answer is not "damaged PDF"."""
    original = every_type.issued.pdf(doc_type)
    copy = with_pypdf(original, tmp_path)
    assert b"/Encrypt" in original and b"/Encrypt" not in copy
    assert structure_problem(copy, StructureLimits()) is None
    v = engine_over(every_type.issued, tmp_path).verify(copy, NOW)
    assert v.result == "failure"
    assert v.codes == ("signature_damaged", "not_issued"), v.codes
    en, zh = messages(v)
    assert "digital signature can no longer be read" in en
    assert "re-saved by a PDF program that damaged the signature" in en
    assert "ask the holder for the original attachment" in en
    assert "簽章已無法讀取" in zh and "原始附件" in zh
    by_name = {c.name: (c.status, c.detail) for c in v.checks}
    assert by_name["pdf_structure"] == ("passed", "parse_ok")
    assert by_name["signature"] == ("failed", "sig_damaged")
    assert by_name["certificate_chain"][0] == "skipped"


@pytest.mark.parametrize("doc_type", list(DOCUMENT_TYPES))
def test_a_document_changed_in_place_is_not_a_copy(
    doc_type: str, every_type: EveryType, tmp_path: Path
) -> None:
    """One byte changed: the signature no longer matches, whatever the type. (A print-locked
    document's signature value, read through decryption, once made this a "re-saved copy"
    named after the issued document.)"""
    data = bytearray(every_type.issued.pdf(doc_type))
    data[len(data) // 3] ^= 0x01
    v = engine_over(every_type.issued, tmp_path).verify(bytes(data), NOW)
    assert v.result == "failure"
    assert v.codes[0] == "signature_invalid", v.codes
    assert "resaved_copy" not in v.codes and "signature_damaged" not in v.codes


def test_a_signature_value_changed_in_place_is_not_called_damaged_by_a_resave(
    every_type: EveryType, tmp_path: Path
) -> None:
    """The CMS overwritten in its slot, the layout kept: not a re-save, so the new words do
    not apply; the file stays unreadable as before."""
    data = every_type.issued.pdf("transcript")
    start = data.index(b"/Contents <") + len(b"/Contents <")
    changed = data[:start] + b"00" * 64 + data[start + 128 :]
    v = engine_over(every_type.issued, tmp_path).verify(changed, NOW)
    assert v.result == "failure"
    assert "signature_damaged" not in v.codes and "resaved_copy" not in v.codes, v.codes


def test_through_the_batch_api(live: LiveServer, issued: Issued, tmp_path: Path) -> None:
    """An evaluator's folder holding the session's transcript re-saved by qpdf and by pypdf,
    sent over HTTP: each answer keeps the API contract."""
    transcript = issued.pdf("transcript")
    files = [
        ("qpdf.pdf", with_qpdf(transcript, tmp_path)),
        ("pypdf.pdf", with_pypdf(transcript, tmp_path)),
    ]
    status, body = post_files(live.url + "/api/v1/verify/batch", files, {"lang": "en"})
    assert status == 200
    jsonschema.validate(body, schema("BatchVerification"))
    got = [[r["code"] for r in f["reasons"]] for f in body["files"]]
    assert got == [["resaved_copy", "not_issued"], ["signature_damaged", "not_issued"]]
    assert body["summary"] == {"success": 0, "warning": 0, "failure": 2}


def test_the_copy_facts_round_trip_with_the_signer() -> None:
    copy = ResavedCopy("a" * 64, "b" * 64, "Chinese diploma X", "2026-01-01T00:00:00Z", "c" * 64)
    assert ResavedCopy.from_dict(copy.to_dict()) == copy
    assert ResavedCopy.from_dict({"sig": "a" * 64, "root": "b" * 64}).signer is None
    with pytest.raises(ValueError, match="64 lower-case hex digits"):
        ResavedCopy("a" * 64, "b" * 64, signer="C" * 64)
