"""Bad files derived from genuine documents, one function per defect, each saying why it is bad.

They are made by the tests from real issued documents, the way an attacker or an accident
would make them; nothing here reuses the verifier's own code.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from authority.keys import Identity, issue_certificate
from authority.signing import DocumentSealer


def _byte_range(pdf: bytes) -> list[int]:
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert m is not None
    return [int(x) for x in m.groups()]


def byte_flipped_in_signed_range(pdf: bytes) -> bytes:
    """One byte of page content changed: the bytes no longer match the signed digest."""
    start, length, _, _ = _byte_range(pdf)
    # Flip a byte inside a content stream so the file still parses.
    m = re.search(rb"stream\r?\n", pdf[start : start + length])
    assert m is not None
    pos = start + m.end() + 5
    return pdf[:pos] + bytes([pdf[pos] ^ 0x01]) + pdf[pos + 1 :]


def text_added_by_incremental_update(pdf: bytes) -> bytes:
    """Words drawn on the page in an incremental update after signing (a forged grade)."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    font = w.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Font"),
                generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
                generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
            }
        )
    )
    stream = generic.StreamObject(stream_data=b"BT /FakeF 28 Tf 72 420 Td (Summa cum laude) Tj ET")
    resources = generic.DictionaryObject(
        {
            generic.NameObject("/Font"): generic.DictionaryObject(
                {generic.NameObject("/FakeF"): font}
            )
        }
    )
    w.add_stream_to_page(0, w.add_object(stream), resources=resources)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def bytes_appended_after_eof(pdf: bytes) -> bytes:
    """Junk after %%EOF: pyhanko still says the signed revision is intact."""
    return pdf + b"\n% appended after signing\n1 0 obj\n(hello)\nendobj\n"


def truncated(pdf: bytes) -> bytes:
    """The download was cut short."""
    return pdf[: len(pdf) * 2 // 3]


def resaved_by_qpdf(pdf: bytes) -> bytes:
    """Re-saved by another PDF program (as "save as" or a PDF tool would)."""
    return _qpdf(pdf, ["--object-streams=generate", "{in}", "{out}"])


def pages_copied_into_new_file(pdf: bytes) -> bytes:
    """The pages copied into a new file by a PDF tool: new bytes, a broken signature."""
    return _qpdf(pdf, ["--empty", "--pages", "{in}", "--", "{out}"])


def encrypted_with_password(pdf: bytes) -> bytes:
    """Protected with a user password the verifier does not have."""
    return _qpdf(pdf, ["--encrypt", "secret-user", "secret-owner", "256", "--", "{in}", "{out}"])


def _qpdf(pdf: bytes, args: list[str]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf"
        src.write_bytes(pdf)
        cmd = [
            "qpdf",
            *(str(src) if a == "{in}" else str(dst) if a == "{out}" else a for a in args),
        ]
        res = subprocess.run(cmd, capture_output=True, check=False)
        assert res.returncode in (0, 3), res.stderr  # 3: qpdf warnings
        return dst.read_bytes()


def zip_of(pdf: bytes) -> bytes:
    """The e-mail attachment as a ZIP that was never extracted."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("diploma.pdf", pdf)
    return buf.getvalue()


def png_renamed_pdf() -> bytes:
    """A photo of the diploma, renamed .pdf."""
    return (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
        b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
        b"\x00\x00IEND\xaeB`\x82"
    )


def huge(size: int = 25 * 1024 * 1024) -> bytes:
    """25 MB: far larger than any issued document."""
    return b"%PDF-1.7\n" + b"0" * (size - 9)


def lookalike_identity(
    genuine_root: x509.Certificate, genuine_signer: x509.Certificate
) -> Identity:
    """A CA with exactly the school's names, but another key: what a forger would set up."""
    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = issue_certificate(
        subject=genuine_root.subject,
        public_key=root_key.public_key(),
        issuer=None,
        issuer_key=root_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=3650),
        usage=genuine_root.extensions.get_extension_for_class(x509.KeyUsage).value,
        ca=True,
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue_certificate(
        subject=genuine_signer.subject,
        public_key=key.public_key(),
        issuer=root,
        issuer_key=root_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=3000),
        usage=genuine_signer.extensions.get_extension_for_class(x509.KeyUsage).value,
        ca=False,
    )
    return Identity(key=key, cert=leaf, chain=(root,))


def signed_by_lookalike(unsigned_pdf: bytes, identity: Identity) -> bytes:
    """The same document, certified by the look-alike CA."""
    return DocumentSealer(identity).seal(unsigned_pdf)


def second_signature_added(pdf: bytes, identity: Identity) -> bytes:
    """An approval signature appended after the certification signature."""
    from authority.signing import _CachedKeySigner

    class _IgnoresDocMDP(signers.PdfSigner):  # type: ignore[misc]
        # pyhanko refuses to sign a "no changes" document; a forger's tool would not.
        def _enforce_certification_constraints(self, reader: object) -> None:
            return None

    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name="Approval", subfilter=fields.SigSeedSubFilter.PADES
    )
    out = _IgnoresDocMDP(meta, _CachedKeySigner(identity)).sign_pdf(w, bytes_reserved=8192)
    return bytes(out.getvalue())


def unknown_subfilter_signature_added(pdf: bytes) -> bytes:
    """A signature field whose /SubFilter pyhanko does not know: it would be silently dropped."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    sig = w.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Sig"),
                generic.NameObject("/Filter"): generic.NameObject("/Adobe.PPKLite"),
                generic.NameObject("/SubFilter"): generic.NameObject("/x.forged.detached"),
                generic.NameObject("/Contents"): generic.ByteStringObject(b"\x00" * 64),
                generic.NameObject("/ByteRange"): generic.ArrayObject(
                    [generic.NumberObject(0)] * 4
                ),
            }
        )
    )
    field = w.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/FT"): generic.NameObject("/Sig"),
                generic.NameObject("/T"): generic.TextStringObject("Forged"),
                generic.NameObject("/V"): sig,
                generic.NameObject("/Rect"): generic.ArrayObject([generic.NumberObject(0)] * 4),
                generic.NameObject("/Subtype"): generic.NameObject("/Widget"),
            }
        )
    )
    form = w.root["/AcroForm"]
    form["/Fields"].append(field)
    w.update_container(form)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()
