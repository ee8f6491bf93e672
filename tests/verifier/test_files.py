"""Every kind of file gets the right verdict and reason, from real issued documents."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from authority.production import Producer
from authority.service import Authority, IssueRequest
from certseal.doctypes import document_type
from certseal.pki import load_certificates
from certseal.timeutil import utcnow
from tests.conftest import NOW, PASSPHRASE, Issued
from tests.verifier import hostile
from verifier.engine import Verifier
from verifier.pdfcheck import check_signature


def _verify(engine: Verifier, data: bytes) -> tuple[str, tuple[str, ...], dict[str, str]]:
    v = engine.verify(data, utcnow())
    return v.result, v.codes, {c.name: c.status for c in v.checks}


def test_genuine_diploma_succeeds(engine: Verifier, issued: Issued) -> None:
    v = engine.verify(issued.pdf("genuine"), utcnow())
    assert (v.result, v.codes) == ("success", ())
    assert all(c.status == "passed" for c in v.checks), v.checks
    assert v.document is not None and v.document.state == "active"
    assert v.document.type == "diploma_zh"
    assert v.verifications is None  # diplomas have no limit


def test_successor_succeeds(engine: Verifier, issued: Issued) -> None:
    assert _verify(engine, issued.pdf("successor"))[:2] == ("success", ())


def test_superseded_warns(engine: Verifier, issued: Issued) -> None:
    result, codes, _ = _verify(engine, issued.pdf("superseded"))
    assert (result, codes) == ("warning", ("superseded",))


def test_revoked_fails(engine: Verifier, issued: Issued) -> None:
    v = engine.verify(issued.pdf("revoked"), utcnow())
    assert (v.result, v.codes) == ("failure", ("revoked",))
    message = v.to_dict("en")["reasons"][0]["message"]
    assert "degree was revoked" in message.lower()


def test_limit_three_gives_three_successes_then_a_warning(engine: Verifier, issued: Issued) -> None:
    pdf = issued.pdf("transcript")  # print-locked, limit 3
    results = [engine.verify(pdf, utcnow()) for _ in range(4)]
    assert [r.result for r in results] == ["success", "success", "success", "warning"]
    assert [r.verifications for r in results] == [(1, 3), (2, 3), (3, 3), (3, 3)]
    assert results[3].codes == ("verification_limit_reached",)


def test_print_locked_file_opens_and_validates_in_full(issued: Issued) -> None:
    """The issuer's print-locked files are checked normally, without a password."""
    facts = check_signature(issued.pdf("transcript"), _asn1_roots(issued), utcnow(), 10)
    assert facts.reasons == ()
    assert {c.name: c.detail for c in facts.checks}["pdf_structure"] == "parse_locked_ok"
    assert all(c.status == "passed" for c in facts.checks)


def _asn1_roots(issued: Issued) -> list[asn1_x509.Certificate]:
    pem = (issued.home / "keys" / "root.pem").read_bytes()
    return [
        asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in load_certificates(pem)
    ]


@pytest.mark.parametrize("role", ["genuine", "superseded", "revoked", "transcript"])
def test_issued_files_also_pass_the_full_signature_checks(issued: Issued, role: str) -> None:
    """What the fast path takes from the status list, the full path finds in the file."""
    facts = check_signature(issued.pdf(role), _asn1_roots(issued), utcnow(), 10)
    assert facts.reasons == () and facts.trust_anchor is not None


BAD: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("byte_flipped", hostile.byte_flipped_in_signed_range, "signature_invalid"),
    ("incremental_text", hostile.text_added_by_incremental_update, "modified_after_signing"),
    ("appended_after_eof", hostile.bytes_appended_after_eof, "modified_after_signing"),
    ("truncated", hostile.truncated, "malformed_pdf"),
    ("resaved", hostile.resaved_by_qpdf, "not_issued"),
    ("pages_copied", hostile.pages_copied_into_new_file, "not_issued"),
    ("zip", hostile.zip_of, "zip_archive"),
    ("encrypted", hostile.encrypted_with_password, "encrypted"),
    ("unknown_subfilter", hostile.unknown_subfilter_signature_added, "modified_after_signing"),
]


@pytest.mark.parametrize(("name", "make", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_fails_with_its_reason(
    engine: Verifier, issued: Issued, name: str, make: Callable[[bytes], bytes], code: str
) -> None:
    result, codes, _ = _verify(engine, make(issued.pdf("genuine")))
    assert result == "failure"
    assert code in codes, codes


def test_resaved_file_is_not_the_issued_bytes(engine: Verifier, issued: Issued) -> None:
    """Re-saving rewrites the bytes: whatever the signature says, they were never issued."""
    _, codes, checks = _verify(engine, hostile.resaved_by_qpdf(issued.pdf("genuine")))
    assert "not_issued" in codes
    assert checks["status_list"] == "failed"


def test_png_renamed_pdf(engine: Verifier) -> None:
    v = engine.verify(hostile.png_renamed_pdf(), utcnow())
    assert (v.result, v.codes) == ("failure", ("not_pdf",))
    assert "PNG" in v.to_dict("en")["reasons"][0]["message"]


def test_empty_file(engine: Verifier) -> None:
    assert _verify(engine, b"")[:2] == ("failure", ("empty_file",))


def test_too_large(engine: Verifier) -> None:
    v = engine.verify(hostile.huge(), utcnow())
    assert (v.result, v.codes, v.http_status) == ("failure", ("too_large",), 413)


def test_zip_says_extract_first(engine: Verifier, issued: Issued) -> None:
    v = engine.verify(hostile.zip_of(issued.pdf("genuine")), utcnow())
    assert "Extract it first" in v.to_dict("en")["reasons"][0]["message"]
    assert "解壓縮" in v.to_dict("zh-TW")["reasons"][0]["message"]


def _unsigned_render(issued: Issued) -> bytes:
    with Authority(issued.home) as auth:
        producer = Producer(auth.keys_dir, PASSPHRASE)
        doc = auth.registry.document(issued.diploma["genuine"])
        req = IssueRequest(doc.doc_type, doc.student_id)
        _, content = auth._content(req, document_type(doc.doc_type), doc.doc_id, NOW.date(), 1)
        return producer.renderer.render(content, print_locked=False)


def test_signature_removed(engine: Verifier, issued: Issued) -> None:
    """The same pages with no signature at all, as "print to PDF" makes them."""
    result, codes, checks = _verify(engine, _unsigned_render(issued))
    assert (result, checks["signature"]) == ("failure", "failed")
    assert "no_signature" in codes


def _lookalike(issued: Issued) -> hostile.Identity:
    root = x509.load_pem_x509_certificate((issued.home / "keys" / "root.pem").read_bytes())
    signer = x509.load_pem_x509_certificate((issued.home / "keys" / "signing.pem").read_bytes())
    return hostile.lookalike_identity(root, signer)


def test_lookalike_ca_with_same_names_is_untrusted(engine: Verifier, issued: Issued) -> None:
    forged = hostile.signed_by_lookalike(_unsigned_render(issued), _lookalike(issued))
    result, codes, checks = _verify(engine, forged)
    assert result == "failure"
    assert "untrusted_signer" in codes
    assert checks["certificate_chain"] == "failed"


def test_second_signature_after_certification(engine: Verifier, issued: Issued) -> None:
    doubled = hostile.second_signature_added(issued.pdf("genuine"), _lookalike(issued))
    result, codes, _ = _verify(engine, doubled)
    assert result == "failure"
    assert "modified_after_signing" in codes


@pytest.mark.parametrize("cut", [10, 100, 1000, 5000])
def test_garbage_after_header_never_crashes(engine: Verifier, issued: Issued, cut: int) -> None:
    data = issued.pdf("genuine")[:cut] + bytes(range(256)) * 4
    result, codes, _ = _verify(engine, data)
    assert result == "failure" and codes
