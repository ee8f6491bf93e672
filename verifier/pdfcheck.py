"""Checks on the uploaded bytes themselves: size, type, PDF structure and the signature.

The threat is a file that looks like a genuine document but is not: edited, extended, re-signed
by a look-alike CA, or built to make the verifier say yes. pyhanko's ``bottom_line`` alone is
not enough (it accepts bytes appended after ``%%EOF`` and skipped difference analysis, and
``embedded_signatures`` silently drops signatures with an unknown ``/SubFilter``), so each
property is required here explicitly, and any exception is a failure.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeLimits
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from verifier.result import Check, Reason

PDF_SUBFILTER = "/ETSI.CAdES.detached"
HEADER_WINDOW = 1024  # the PDF header may follow a little junk, as readers tolerate

_ARCHIVES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"PK\x03\x04", "ZIP"),
    (0, b"PK\x05\x06", "ZIP"),
    (0, b"PK\x07\x08", "ZIP"),
    (0, b"Rar!\x1a\x07", "RAR"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z"),
    (0, b"\x1f\x8b", "gzip"),
    (0, b"BZh", "bzip2"),
    (0, b"\xfd7zXZ\x00", "xz"),
    (257, b"ustar", "tar"),
)
_OTHER: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG", "PNG image", "PNG 圖片"),
    (b"\xff\xd8\xff", "JPEG image", "JPEG 圖片"),
    (b"GIF8", "GIF image", "GIF 圖片"),
    (b"\xd0\xcf\x11\xe0", "Office document", "Office 文件"),
    (b"{\\rtf", "RTF document", "RTF 文件"),
    (b"<", "web page or XML", "網頁或 XML"),
)


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound the time one file may take. Works in the main thread (gunicorn's sync workers);
    elsewhere the server's own worker timeout is the bound."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _alarm(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Sniff:
    checks: tuple[Check, ...]
    reasons: tuple[Reason, ...]
    http_status: int = 200


def sniff(data: bytes, max_bytes: int) -> Sniff:
    """Size and type, before any parsing."""
    limit_mb = max_bytes // (1024 * 1024)
    if not data:
        return Sniff(
            (Check("size", "failed", "size_empty"),),
            (Reason("empty_file"),),
        )
    if len(data) > max_bytes:
        return Sniff(
            (Check("size", "failed", "size_too_large", {"limit_mb": limit_mb}),),
            (Reason("too_large", {"limit_mb": limit_mb}),),
            413,
        )
    size = Check("size", "passed", "size_ok", {"size": len(data), "limit_mb": limit_mb})
    for offset, magic, kind in _ARCHIVES:
        if data[offset : offset + len(magic)] == magic:
            return Sniff(
                (size, Check("file_type", "failed", "type_archive", {"kind": kind})),
                (Reason("zip_archive", {"kind": kind}),),
            )
    if b"%PDF-" not in data[:HEADER_WINDOW]:
        kind = kind_zh = ""
        for magic, en, zh in _OTHER:
            if data.lstrip()[: len(magic)] == magic:
                kind, kind_zh = f" (it is a {en})", f"（這是{zh}）"
                break
        params = {"kind": kind, "kind_zh": kind_zh}
        return Sniff(
            (size, Check("file_type", "failed", "type_other", params)),
            (Reason("not_pdf", params),),
        )
    return Sniff((size, Check("file_type", "passed", "type_pdf")), ())


@dataclass(frozen=True)
class SignatureFacts:
    """What the PDF stage established, for the status stage to build on."""

    checks: tuple[Check, ...]
    reasons: tuple[Reason, ...]
    trust_anchor: asn1_x509.Certificate | None = None  # set when the signature is trusted
    signer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _skipped(*names: str) -> tuple[Check, ...]:
    return tuple(Check(n, "skipped", "skipped_earlier") for n in names)


SIGNATURE_CHECKS = ("signature", "certificate_chain", "coverage", "modifications")


def _count_signature_fields(reader: PdfFileReader) -> int:
    """Count signed /Sig fields by walking the form ourselves, whatever their /SubFilter."""
    try:
        form = reader.root.get("/AcroForm")
        if form is None:
            return 0
        fields = form.get_object().get("/Fields")
    except (KeyError, TypeError):
        return 0
    if fields is None:
        return 0
    count = 0
    seen: set[int] = set()
    stack: list[tuple[Any, str | None]] = [(f, None) for f in fields.get_object()]
    while stack:
        ref, inherited_ft = stack.pop()
        key = id(ref.get_object()) if not isinstance(ref, generic.IndirectObject) else ref.idnum
        if key in seen:
            continue  # a loop in the field tree: count each field once
        seen.add(key)
        node = ref.get_object()
        if not isinstance(node, generic.DictionaryObject):
            continue
        ft = node.get("/FT", inherited_ft)
        kids = node.get("/Kids")
        if kids is not None:
            stack.extend((k, ft) for k in kids.get_object())
        if ft == "/Sig" and node.get("/V") is not None:
            count += 1
    return count


def proven_by_status_list(issuer: dict[str, str]) -> SignatureFacts:
    """The signature checks for bytes the issuer's signed status list lists as issued."""
    return SignatureFacts(
        (
            Check("pdf_structure", "passed", "parse_ok"),
            *(Check(n, "passed", "proven_by_list", issuer) for n in SIGNATURE_CHECKS),
        ),
        (),
        signer=issuer["issuer"],
    )


def check_signature(
    data: bytes, roots: list[asn1_x509.Certificate], now: dt.datetime, time_limit: float
) -> SignatureFacts:
    """Parse and validate; returns every check with its status, and the reasons for failure."""
    try:
        with deadline(time_limit):
            return _check_signature(data, roots, now)
    except _Timeout:
        detail = f"took longer than {time_limit:g} s"
        return SignatureFacts(
            (
                Check("pdf_structure", "failed", "parse_failed", {"detail": detail}),
                *_skipped(*SIGNATURE_CHECKS),
            ),
            (Reason("malformed_pdf", {"detail": detail}),),
        )


def _check_signature(
    data: bytes, roots: list[asn1_x509.Certificate], now: dt.datetime
) -> SignatureFacts:
    checks: list[Check] = []
    # -- structure ----------------------------------------------------------------------
    try:
        reader = PdfFileReader(
            io.BytesIO(data), strict=True, decode_limits=DecodeLimits.for_untrusted_input()
        )
        locked = False
        if reader.encrypted:
            result = reader.decrypt("")
            if getattr(result, "status", None) is None or "FAILED" in str(result.status):
                return SignatureFacts(
                    (
                        Check("pdf_structure", "failed", "parse_encrypted"),
                        *_skipped(*SIGNATURE_CHECKS),
                    ),
                    (Reason("encrypted"),),
                )
            locked = True
        sigs = list(reader.embedded_signatures)
        counted = _count_signature_fields(reader)
    except _Timeout:
        raise
    except Exception as e:  # any parse failure of a hostile file is "damaged"
        detail = _short(e)
        return SignatureFacts(
            (
                Check("pdf_structure", "failed", "parse_failed", {"detail": detail}),
                *_skipped(*SIGNATURE_CHECKS),
            ),
            (Reason("malformed_pdf", {"detail": detail}),),
        )
    checks.append(Check("pdf_structure", "passed", "parse_locked_ok" if locked else "parse_ok"))
    # -- exactly one certification signature --------------------------------------------
    count = max(counted, len(sigs))
    if count == 0:
        return SignatureFacts(
            (*checks, Check("signature", "failed", "sig_none"), *_skipped(*SIGNATURE_CHECKS[1:])),
            (Reason("no_signature"),),
        )
    if count > 1 or len(sigs) != counted:
        detail = f"{count} signatures"
        return SignatureFacts(
            (
                *checks,
                Check("signature", "failed", "sig_many", {"count": count}),
                *_skipped(*SIGNATURE_CHECKS[1:]),
            ),
            (
                Reason(
                    "modified_after_signing", {"detail": detail, "detail_zh": f"共 {count} 個簽章"}
                ),
            ),
        )
    sig = sigs[0]
    try:
        subfilter = sig.sig_object.get("/SubFilter")
        is_certification = sig.docmdp_level == MDPPerm.NO_CHANGES and _perms_point_to(reader, sig)
    except Exception as e:
        is_certification, subfilter = False, None
        checks.append(Check("signature", "failed", "sig_error", {"detail": _short(e)}))
    if subfilter != PDF_SUBFILTER or not is_certification:
        return SignatureFacts(
            (
                *checks,
                Check("signature", "failed", "sig_not_certification"),
                *_skipped(*SIGNATURE_CHECKS[1:]),
            ),
            (Reason("signature_invalid"),),
        )
    # -- cryptographic validation, with the difference analysis always on ----------------
    vc = ValidationContext(trust_roots=roots, allow_fetching=False, moment=now)
    try:
        status = validate_pdf_signature(sig, vc, skip_diff=False)
    except _Timeout:
        raise
    except Exception as e:
        detail = _short(e)
        return SignatureFacts(
            (
                *checks,
                Check("signature", "failed", "sig_error", {"detail": detail}),
                *_skipped(*SIGNATURE_CHECKS[1:]),
            ),
            (Reason("signature_invalid"),),
        )
    reasons: list[Reason] = []
    signer = _signer_name(status)
    if status.intact and status.valid:
        checks.append(Check("signature", "passed", "sig_one", {"signer": signer}))
    else:
        checks.append(Check("signature", "failed", "sig_broken"))
        reasons.append(Reason("signature_invalid"))
    anchor = None
    if not (status.intact and status.valid):
        # A broken signature says nothing about who made it: trust is not evaluated.
        checks.append(Check("certificate_chain", "skipped", "skipped_earlier"))
    elif status.trusted and status.validation_path is not None:
        anchor = status.validation_path[0]
        checks.append(
            Check(
                "certificate_chain",
                "passed",
                "chain_trusted",
                {"issuer": anchor.subject.human_friendly},
            )
        )
    else:
        checks.append(Check("certificate_chain", "failed", "chain_untrusted"))
        reasons.append(Reason("untrusted_signer", {"signer": signer}))
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        checks.append(Check("coverage", "passed", "coverage_entire"))
    else:
        detail, detail_zh = _coverage_detail(status.coverage)
        checks.append(
            Check(
                "coverage", "failed", "coverage_partial", {"detail": detail, "detail_zh": detail_zh}
            )
        )
        reasons.append(Reason("modified_after_signing", {"detail": detail, "detail_zh": detail_zh}))
    diff_ran = status.diff_result is not None
    if diff_ran and status.docmdp_ok and status.modification_level == ModificationLevel.NONE:
        checks.append(Check("modifications", "passed", "mods_none"))
    else:
        if not diff_ran:
            detail, detail_zh = "the changes could not be analysed", "無法分析修改內容"
        else:
            level = getattr(status.modification_level, "name", "unknown").lower()
            detail, detail_zh = f"an incremental update ({level})", f"增量更新（{level}）"
        checks.append(
            Check(
                "modifications", "failed", "mods_found", {"detail": detail, "detail_zh": detail_zh}
            )
        )
        if not any(r.code == "modified_after_signing" for r in reasons):
            reasons.append(
                Reason("modified_after_signing", {"detail": detail, "detail_zh": detail_zh})
            )
    return SignatureFacts(
        tuple(checks), tuple(reasons), trust_anchor=anchor if not reasons else None, signer=signer
    )


def _perms_point_to(reader: PdfFileReader, sig: Any) -> bool:
    """A certification signature is the one the catalog's /Perms /DocMDP names."""
    perms = reader.root.get("/Perms")
    if perms is None:
        return False
    docmdp = perms.get_object().get("/DocMDP")
    if docmdp is None:
        return False
    return bool(docmdp.get_object() is sig.sig_object or docmdp.get_object() == sig.sig_object)


def _coverage_detail(level: SignatureCoverageLevel | None) -> tuple[str, str]:
    if level == SignatureCoverageLevel.ENTIRE_REVISION:
        return (
            "bytes were appended after the signed part of the file",
            "在已簽署部分之後附加了位元組",
        )
    return ("parts of the file are not covered by the signature", "檔案有部分未受簽章涵蓋")


def _signer_name(status: Any) -> str:
    try:
        return str(status.signing_cert.subject.human_friendly)
    except Exception:
        return "unknown signer"


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:160]
