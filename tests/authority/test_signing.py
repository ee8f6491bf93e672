"""Every signed PDF validates with pyhanko and with independent tools (pdfsig, qpdf)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from tests.conftest import Issued, nss_db

ROLES = ["genuine", "superseded", "successor", "revoked", "transcript"]


def _root(issued: Issued) -> asn1_x509.Certificate:
    pem = (issued.home / "keys" / "root.pem").read_bytes()
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    return asn1_x509.Certificate.load(der)


@pytest.mark.parametrize("role", ROLES)
def test_pyhanko_validates_certification_signature(issued: Issued, role: str) -> None:
    reader = PdfFileReader(io.BytesIO(issued.pdf(role)), strict=True)
    if reader.encrypted:
        reader.decrypt("")
    sigs = reader.embedded_signatures
    assert len(sigs) == 1
    sig = sigs[0]
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.docmdp_level == MDPPerm.NO_CHANGES
    vc = ValidationContext(trust_roots=[_root(issued)], allow_fetching=False)
    status = validate_pdf_signature(sig, vc)
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.docmdp_ok
    assert status.md_algorithm == "sha256"
    assert status.bottom_line


@pytest.mark.parametrize("role", ROLES)
def test_pdfsig_says_valid_trusted_and_total(issued: Issued, role: str, tmp_path: Path) -> None:
    db = nss_db(tmp_path, issued.home / "keys" / "root.pem")
    out = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{db}", str(issued.paths[role])],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "Signature is Valid" in out
    assert "Certificate is Trusted" in out
    assert "Total document signed" in out
    assert "ETSI.CAdES.detached" in out


def test_pdfsig_distrusts_without_the_root(issued: Issued, tmp_path: Path) -> None:
    db = tmp_path / "empty"
    db.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    out = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{db}", str(issued.paths["genuine"])],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "Certificate is Trusted" not in out


@pytest.mark.parametrize("role", ROLES)
def test_qpdf_finds_no_errors(issued: Issued, role: str) -> None:
    res = subprocess.run(
        ["qpdf", "--check", str(issued.paths[role])], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No syntax or stream encoding errors" in res.stdout


def test_transcript_is_print_locked_but_opens_without_password(issued: Issued) -> None:
    enc = subprocess.run(
        ["qpdf", "--show-encryption", str(issued.paths["transcript"])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "print low resolution: not allowed" in enc
    assert "print high resolution: not allowed" in enc
    text = subprocess.run(
        ["pdftotext", str(issued.paths["transcript"]), "-"], capture_output=True, text=True
    )
    assert text.returncode == 0


def test_diploma_is_not_encrypted(issued: Issued) -> None:
    enc = subprocess.run(
        ["qpdf", "--show-encryption", str(issued.paths["genuine"])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "File is not encrypted" in enc
