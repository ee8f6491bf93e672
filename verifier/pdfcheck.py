"""Checks on the uploaded bytes themselves: size, type, PDF structure and the signature.

The threat is a file that looks like a genuine document but is not: edited, extended, re-signed
by a look-alike CA, or built to make the verifier say yes. pyhanko's ``bottom_line`` alone is
not enough (it accepts bytes appended after ``%%EOF`` and skipped difference analysis, and
``embedded_signatures`` silently drops signatures with an unknown ``/SubFilter``), so each
property is required here explicitly, and any exception is a failure.

The other threat is a file built to make the verifier spin. An issued document is small and
plain (about 30 objects, two revisions, no object streams, a few levels of nesting), so the
structure is bounded from that with a wide margin (:class:`StructureLimits`) twice: by a scan
of the raw bytes before pyhanko sees them, and from the cross-reference sections pyhanko read
before any object is loaded (each object stream's declared size once the file is open: in an
encrypted file its stream cannot be loaded before). The parse itself runs under a CPU-time
limit; the web service runs it in a separate process (verifier/isolation.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import io
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt import AuthStatus
from pyhanko.pdf_utils.decode_limits import (
    DEFAULT_PURPOSE_LIMITS,
    DecodeLimits,
    DecodePurpose,
    DocumentDecodeBudget,
    StreamDecodeLimits,
)
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import CertificateValidator, ValidationContext

from certseal.sigdigest import message_digest, signature_digest
from verifier._pyhanko import LinearReader, declared_sizes, xref_facts
from verifier.ltv import DOC_TIMESTAMP, ExtendedCopy, extended_copy
from verifier.resaved import ResavedCopy, copy_of
from verifier.result import Check, Reason
from verifier.twin import read_twin

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


MIB = 1024 * 1024


class _Timeout(BaseException):
    """CPU time ran out. A BaseException, so that no library's ``except Exception`` hides it."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound the CPU time (not the wall time) the block may use.

    A signal (SIGPROF) interrupts the Python code, so this works in a process's main thread
    only: gunicorn's sync workers, and the parse processes of verifier/isolation.py, where the
    web service runs every parse; in any other thread the block is not bounded here. The timer
    fires again every 50 ms in case a library swallowed the first one."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGPROF, _expired)
    signal.setitimer(signal.ITIMER_PROF, seconds, 0.05)
    try:
        yield
    finally:
        while True:  # a signal may arrive while disarming: disarm again until it holds
            try:
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.signal(signal.SIGPROF, previous)
                break
            except _Timeout:
                continue


@dataclass(frozen=True)
class StructureLimits:
    """The most an upload may contain, from what an issued document holds, with a wide margin.

    An issued diploma or transcript has about 30 objects, 2 revisions (the content and the
    signature), no object stream, nesting 6 levels deep and no plain object over 20 KB. A
    re-saved copy stays well within these too, so it still gets its own answer
    (``resaved_copy``): qpdf, pikepdf and pypdf rewrite every type the authority issues into
    one revision of 31 to 36 objects, at most one object stream of 20 (measured, 2026)."""

    max_objects: int = 5_000  # objects declared, over all revisions
    max_revisions: int = 16  # cross-reference sections (incremental updates + 1)
    max_object_streams: int = 100
    max_objects_per_stream: int = 1_000
    max_depth: int = 32  # arrays and dictionaries nested in one another
    max_delimiters: int = 200_000  # arrays and dictionaries opened, in the raw bytes
    max_object_bytes: int = 256 * 1024  # one object, outside stream data
    max_plain_bytes: int = MIB  # every object outside stream data
    max_stream_bytes: int = 32 * MIB  # one stream, decoded
    max_decoded_bytes: int = 64 * MIB  # every stream of the document, decoded

    def __post_init__(self) -> None:
        if min(self.max_objects, self.max_revisions, self.max_depth, self.max_object_bytes) < 1:
            raise ValueError("structure limits must be positive")

    def decode_limits(self) -> DecodeLimits:
        """pyhanko's limits on decompression, tightened to these numbers."""
        per_stream = StreamDecodeLimits(max_output_size=self.max_stream_bytes)
        objstm = DEFAULT_PURPOSE_LIMITS[DecodePurpose.OBJECT_STREAM]
        return DecodeLimits(
            per_stream=per_stream,
            per_purpose={
                **DEFAULT_PURPOSE_LIMITS,
                DecodePurpose.OBJECT_STREAM: StreamDecodeLimits(
                    max_ratio=objstm.max_ratio,
                    ratio_floor=objstm.ratio_floor,
                    max_output_size=min(self.max_stream_bytes, self.max_plain_bytes),
                ),
            },
            document_budget=DocumentDecodeBudget(
                base_allowance=self.max_decoded_bytes, max_ratio=1
            ),
        )


# The pre-scan looks for plain spellings with literal-led patterns (fast searches: about 15 ms a
# pass over 20 MB). A name written with #xx escapes gets past it, but not past the
# cross-reference checks or the CPU-time limit behind it.
_WS = rb"[\x00\t\n\f\r ]"
_SIZE = re.compile(rb"/Size" + _WS + rb"*([0-9]{1,12})")
_N = re.compile(rb"/N" + _WS + rb"*([0-9]{1,12})(?!" + _WS + rb"*[0-9]+" + _WS + rb"+R)")
_NAME = rb"(?:/[^\x00\t\n\f\r /\[\]<>(){}%]*" + _WS + rb"*)?"
_LEVEL = rb"(?:\[|<<)" + _WS + rb"*" + _NAME


def _deep(depth: int) -> tuple[re.Pattern[bytes], ...]:
    """Arrays and dictionaries opened ``depth + 1`` times in a row (keys between allowed)."""
    rest = _WS + rb"*" + _NAME + rb"(?:" + _LEVEL + rb"){%d}" % depth
    return re.compile(rb"\[" + rest), re.compile(rb"<<" + rest)


Problem = tuple[str, str]  # what is wrong, in English and in Chinese


def _over(what: str, what_zh: str, n: int, limit: int) -> Problem:
    return (
        f"{what.format(n=n)} where the limit is {limit:,}",
        f"{what_zh.format(n=n)}，超過上限 {limit:,}",
    )


def structure_problem(data: bytes, limits: StructureLimits) -> Problem | None:
    """A scan of the raw bytes, before any parsing: a few linear passes, in C."""
    # Every "obj" that is not part of "endobj" is an object's header.
    objects = data.count(b"obj") - data.count(b"endobj")
    if objects > limits.max_objects:
        return _over("{n:,} objects", "共 {n:,} 個物件", objects, limits.max_objects)
    declared = max((int(m) for m in _SIZE.findall(data)), default=0)
    if declared > limits.max_objects + 1:
        return _over(
            "cross-reference entries for {n:,} objects",
            "交互參照表列出 {n:,} 個物件",
            declared,
            limits.max_objects,
        )
    revisions = max(data.count(b"startxref"), data.count(b"/Prev") + 1)
    if revisions > limits.max_revisions:
        return _over(
            "{n:,} revisions (incremental updates)",
            "共 {n:,} 個版本（增量更新）",
            revisions,
            limits.max_revisions,
        )
    streams = [m.start() for m in re.finditer(rb"/ObjStm", data)]
    if len(streams) > limits.max_object_streams:
        return _over(
            "{n:,} object streams", "共 {n:,} 個物件串流", len(streams), limits.max_object_streams
        )
    for at in streams:
        # /N sits in the same small dictionary as /Type /ObjStm, before or after it.
        n = max((int(v) for v in _N.findall(data, max(0, at - 256), at + 256)), default=0)
        if n > limits.max_objects_per_stream:
            return _over(
                "{n:,} objects in one object stream",
                "單一物件串流中有 {n:,} 個物件",
                n,
                limits.max_objects_per_stream,
            )
    opened = data.count(b"[") + data.count(b"<<")
    if opened > limits.max_delimiters:
        return _over(
            "{n:,} arrays and dictionaries",
            "共 {n:,} 個陣列與字典",
            opened,
            limits.max_delimiters,
        )
    if any(p.search(data) for p in _deep(limits.max_depth)):
        return (
            f"arrays or dictionaries nested more than {limits.max_depth} levels deep",
            f"陣列或字典巢狀超過 {limits.max_depth} 層",
        )
    return _plain_bytes_problem(data, limits)


def _plain_bytes_problem(data: bytes, limits: StructureLimits) -> Problem | None:
    """The bytes of objects outside stream data: what the parser reads token by token."""
    starts = [
        m.start() for m in re.finditer(rb"obj", data) if data[m.start() - 3 : m.start()] != b"end"
    ]
    total = 0
    for begin, end in zip(starts, [*starts[1:], len(data)], strict=False):
        stops = [i for i in (data.find(b"stream", begin, end), data.find(b"endobj", begin, end))]
        size = min((i for i in stops if i >= 0), default=end) - begin
        if size > limits.max_object_bytes:
            return _over(
                "one object of {n:,} bytes",
                "單一物件達 {n:,} 位元組",
                size,
                limits.max_object_bytes,
            )
        total += size
    if total > limits.max_plain_bytes:
        return _over(
            "{n:,} bytes of objects outside streams",
            "串流以外的物件共 {n:,} 位元組",
            total,
            limits.max_plain_bytes,
        )
    return None


def _xref_problem(reader: PdfFileReader, limits: StructureLimits) -> Problem | None:
    """The same bounds from the cross-reference sections pyhanko read, before any object is
    loaded: these hold however the names and numbers were spelled."""
    revisions, entries, per_stream = xref_facts(reader)
    if revisions > limits.max_revisions:
        return _over(
            "{n:,} revisions (incremental updates)",
            "共 {n:,} 個版本（增量更新）",
            revisions,
            limits.max_revisions,
        )
    if entries > limits.max_objects:
        return _over("{n:,} objects", "共 {n:,} 個物件", entries, limits.max_objects)
    if len(per_stream) > limits.max_object_streams:
        return _over(
            "{n:,} object streams",
            "共 {n:,} 個物件串流",
            len(per_stream),
            limits.max_object_streams,
        )
    return None


def _object_stream_problem(reader: PdfFileReader, limits: StructureLimits) -> Problem | None:
    """Each object stream's declared size, from its dictionary: the first objects loaded, once
    the file is open. In an encrypted file (a print-locked document, or a re-save keeping its
    lock, qpdf's default) pyhanko decrypts a stream as it loads it, which needs the key."""
    for n in declared_sizes(reader, xref_facts(reader)[2]).values():
        if n > limits.max_objects_per_stream:
            return _over(
                "{n:,} objects in one object stream",
                "單一物件串流中有 {n:,} 個物件",
                n,
                limits.max_objects_per_stream,
            )
    return None


@dataclass(frozen=True)
class Sniff:
    checks: tuple[Check, ...]
    reasons: tuple[Reason, ...]
    http_status: int = 200


def sniff(data: bytes, max_bytes: int) -> Sniff:
    """Size and type, before any parsing."""
    if not data:
        return Sniff(
            (Check("size", "failed", "size_empty"),),
            (Reason("empty_file"),),
        )
    if len(data) > max_bytes:
        limit_mb = max_bytes // (1024 * 1024)
        return Sniff(
            (Check("size", "failed", "size_too_large", {"limit_mb": limit_mb}),),
            (Reason("too_large", {"limit_mb": limit_mb}),),
            413,
        )
    pdf = _sized_pdf(len(data), max_bytes)
    size = pdf.checks[0]
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
    return pdf


_TYPE_PDF = Check("file_type", "passed", "type_pdf")
# Answers for a PDF by its size and limit: every upload of a document (and every document of
# one size) sniffs the same, and one object, rendered once, costs less than making it again.
_SIZED: dict[tuple[int, int], Sniff] = {}
_SIZED_MAX = 4096


def _sized_pdf(size: int, max_bytes: int) -> Sniff:
    """What :func:`sniff` says of a PDF of ``size`` bytes under ``max_bytes``."""
    sniffed = _SIZED.get((size, max_bytes))
    if sniffed is None:
        limit_mb = max_bytes // (1024 * 1024)
        check = Check("size", "passed", "size_ok", {"size": size, "limit_mb": limit_mb})
        if len(_SIZED) >= _SIZED_MAX:
            _SIZED.clear()  # bounded: a flood of sizes costs making the answer again only
        sniffed = _SIZED[size, max_bytes] = Sniff((check, _TYPE_PDF), ())
    return sniffed


@dataclass(frozen=True)
class SignatureFacts:
    """What the PDF stage established, for the status stage to build on."""

    checks: tuple[Check, ...]
    reasons: tuple[Reason, ...]
    trust_anchor: asn1_x509.Certificate | None = None  # set when the signature is trusted
    signer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    http_status: int = 200  # 503 or 429 when the file was not read because the service is busy


def _skipped(*names: str) -> tuple[Check, ...]:
    return tuple(Check(n, "skipped", "skipped_earlier") for n in names)


SIGNATURE_CHECKS = ("signature", "certificate_chain", "coverage", "modifications")


def _signature_values(reader: PdfFileReader) -> list[Any]:
    """The values (/V) of signed /Sig fields, found by walking the form ourselves, whatever
    their /SubFilter and whether or not pyhanko can read them."""
    try:
        form = reader.root.get("/AcroForm")
        if form is None:
            return []
        fields = form.get_object().get("/Fields")
    except (KeyError, TypeError):
        return []
    if fields is None:
        return []
    values = []
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
        value = node.get("/V") if ft == "/Sig" else None
        if value is not None:
            values.append(value.get_object())
    return values


# What the listing proves for each signature check, worded per check (verifier/messages.py).
_PROVEN_BY_LIST = {
    "signature": "proven_by_list",
    "certificate_chain": "proven_by_list_chain",
    "coverage": "proven_by_list_coverage",
    "modifications": "proven_by_list_modifications",
}


def proven_by_status_list(issuer: dict[str, str]) -> SignatureFacts:
    """The signature checks for bytes the issuer's signed status list lists as issued: each one
    passed, and each says it was proven by the list rather than re-run."""
    return SignatureFacts(
        (
            Check("pdf_structure", "passed", "parse_ok"),
            *(Check(n, "passed", _PROVEN_BY_LIST[n], issuer) for n in SIGNATURE_CHECKS),
        ),
        (),
        signer=issuer["issuer"],
    )


def proven_extended_copy(issuer: dict[str, str], extended: ExtendedCopy) -> SignatureFacts:
    """The checks for an issued document, listed by the status list, with long-term validation
    data added since (verifier/ltv.py): the list proves the issued revision, pyhanko's
    difference analysis that nothing else was added."""
    facts = proven_by_status_list(issuer)
    params = {**issuer, "timestamps": extended.timestamps, "sha256": extended.file_sha256}
    return SignatureFacts(
        (
            *(c for c in facts.checks if c.name not in ("coverage", "modifications")),
            Check("coverage", "passed", "coverage_issued_revision", params),
            Check("modifications", "passed", "mods_ltv_added", params),
        ),
        (),
        signer=facts.signer,
    )


def unreadable(detail: str, detail_zh: str | None = None) -> SignatureFacts:
    """The answer for a file that could not be read, or not within the limits."""
    params = {"detail": detail, "detail_zh": detail if detail_zh is None else detail_zh}
    return SignatureFacts(
        (Check("pdf_structure", "failed", "parse_failed", params), *_skipped(*SIGNATURE_CHECKS)),
        (Reason("malformed_pdf", params),),
    )


def out_of_time(cpu_seconds: float) -> SignatureFacts:
    return unreadable(
        f"reading it took more than {cpu_seconds:g} s of processing time",
        f"讀取超過 {cpu_seconds:g} 秒的處理時間",
    )


def check_signature(
    data: bytes,
    roots: list[asn1_x509.Certificate],
    now: dt.datetime,
    time_limit: float,
    limits: StructureLimits | None = None,
) -> SignatureFacts:
    """Scan, parse and validate in this process; every check with its status, and the reasons
    for failure. ``time_limit`` is in seconds of CPU time (see :func:`deadline`)."""
    limits = StructureLimits() if limits is None else limits
    problem = structure_problem(data, limits)
    if problem is not None:
        return unreadable(*problem)
    return read_and_validate(data, roots, now, time_limit, limits)


def read_and_validate(
    data: bytes,
    roots: list[asn1_x509.Certificate],
    now: dt.datetime,
    cpu_seconds: float,
    limits: StructureLimits,
) -> SignatureFacts:
    """The parse and the validation of a file that passed :func:`structure_problem`, under a
    CPU-time limit: what the parse processes of verifier/isolation.py run."""
    try:
        with deadline(cpu_seconds):
            return _check_signature(data, roots, now, limits)
    except _Timeout:
        return out_of_time(cpu_seconds)


def _check_signature(
    data: bytes, roots: list[asn1_x509.Certificate], now: dt.datetime, limits: StructureLimits
) -> SignatureFacts:
    checks: list[Check] = []
    # -- structure ----------------------------------------------------------------------
    try:
        reader = LinearReader(io.BytesIO(data), strict=True, decode_limits=limits.decode_limits())
        problem = _xref_problem(reader, limits)
        if problem is not None:
            return unreadable(*problem)
        locked = False
        if reader.encrypted:
            result = reader.decrypt("")
            if getattr(result, "status", None) not in (AuthStatus.USER, AuthStatus.OWNER):
                return SignatureFacts(
                    (
                        Check("pdf_structure", "failed", "parse_encrypted"),
                        *_skipped(*SIGNATURE_CHECKS),
                    ),
                    (Reason("encrypted"),),
                )
            locked = True
        problem = _object_stream_problem(reader, limits)
        if problem is not None:
            return unreadable(*problem)
        values = _signature_values(reader)
        counted = len(values)
        try:
            sigs = list(reader.embedded_signatures)
        except Exception:
            damaged = _damaged_signature(data, values, locked)
            if damaged is None:
                raise
            return damaged
    except Exception as e:  # any parse failure of a hostile file is "damaged"
        return unreadable(_short(e))
    checks.append(_parsed(locked))
    # -- exactly one certification signature --------------------------------------------
    count = max(counted, len(sigs))
    if count == 0:
        return SignatureFacts(
            (*checks, Check("signature", "failed", "sig_none"), *_skipped(*SIGNATURE_CHECKS[1:])),
            (Reason("no_signature"),),
        )
    # Document timestamps after the certification signature are long-term validation data
    # (verifier/ltv.py): the difference analysis below decides whether that is all they are.
    timestamps_only = len(sigs) == counted and all(_is_doc_timestamp(s) for s in sigs[1:])
    if (count > 1 and not timestamps_only) or len(sigs) != counted:
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
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        extended = extended_copy(data, sigs, status)
        if extended is not None:
            return _extended_facts(checks, extended, signer)
    if count > 1:  # document timestamps over something else than long-term validation data
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
    if status.valid and not status.intact:
        resaved = _resaved_copy(data, sig, vc, signer)
        if resaved is not None:
            return SignatureFacts(
                (*checks, *resaved.checks), resaved.reasons, signer=signer, extra=resaved.extra
            )
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


def _is_doc_timestamp(sig: Any) -> bool:
    try:
        return bool(sig.sig_object.get("/Type") == DOC_TIMESTAMP)
    except Exception:
        return False


def _extended_facts(checks: list[Check], extended: ExtendedCopy, signer: str) -> SignatureFacts:
    """An issued file with long-term validation data appended: a failure until the status list
    lists one of its earlier revisions (verifier/engine.py then answers as for that entry)."""
    detail = "long-term validation data was added after signing"
    detail_zh = "簽章後加入了長期驗證資料"
    return SignatureFacts(
        (
            *checks,
            Check("signature", "passed", "sig_one", {"signer": signer}),
            Check("certificate_chain", "skipped", "skipped_earlier"),
            Check(
                "coverage", "failed", "coverage_partial", {"detail": detail, "detail_zh": detail_zh}
            ),
            Check("modifications", "passed", "mods_ltv_added", {"timestamps": extended.timestamps}),
        ),
        (Reason("modified_after_signing", {"detail": detail, "detail_zh": detail_zh}),),
        signer=signer,
        extra={"extended": extended},
    )


def _resaved_copy(
    data: bytes, sig: Any, vc: ValidationContext, signer: str
) -> SignatureFacts | None:
    """A file rewritten by a PDF program (qpdf, pikepdf, pypdf, "Save as") around the issuer's
    signature, which it kept: the CMS is the issuer's and valid, but over bytes no longer here.

    Told apart from bytes changed in place (a tamper, ``signature_invalid``): a rewrite moves
    the signature's value, so the file no longer has the layout its /ByteRange describes. The
    signer's certificate must chain to a configured root, and the copy is named after the school
    that root belongs to; nothing else in a copy can be trusted, and it is never a success
    (``resaved_copy``, docs/evaluators.md).

    Its ``extra["resaved"]`` (:class:`~verifier.resaved.ResavedCopy`) carries what the engine
    needs to name the issued document: the signature digest of the signed attributes just
    proven the school's, the root, and what the copy's twin says if its own signature holds."""
    if _laid_out_as_signed(data, sig.sig_object):
        return None
    try:
        validator = CertificateValidator(
            sig.signer_cert, intermediate_certs=sig.other_embedded_certs, validation_context=vc
        )
        path = asyncio.run(validator.async_validate_usage(set()))  # type: ignore[no-untyped-call]
    except Exception:
        return None  # not a configured issuer's key: the usual answers apply
    anchor = path.first
    school = _organization(anchor)
    extra: dict[str, Any] = {}
    value = message_digest(sig.signer_info)
    if value is not None:
        # The twin is part of the content a graft can swap: the engine uses it for the number
        # only when it agrees with the entry the signature names (verifier/resaved.py).
        twin = read_twin(data)
        credential = twin.credential if twin is not None and twin.verified else {}
        name, valid_from = credential.get("name"), credential.get("validFrom")
        extra["resaved"] = ResavedCopy(
            signature_digest(value),
            anchor.sha256.hex(),
            name if isinstance(name, str) and len(name) <= 200 else None,
            valid_from if isinstance(valid_from, str) and len(valid_from) <= 200 else None,
            hashlib.sha256(sig.signer_cert.dump()).hexdigest(),
        )
    return SignatureFacts(
        (
            Check("signature", "failed", "sig_resaved", {"signer": signer}),
            Check(
                "certificate_chain",
                "passed",
                "chain_trusted",
                {"issuer": anchor.subject.human_friendly},
            ),
            *_skipped("coverage", "modifications"),
        ),
        (Reason("resaved_copy", {"school": school, **copy_of(None, {}, school)}),),
        extra=extra,
    )


def _laid_out_as_signed(data: bytes, sig_object: Any) -> bool:
    """The file has exactly the layout its /ByteRange describes, with this signature's value in
    the hole: whatever changed, changed in place."""
    try:
        start, end, after, tail = (int(x) for x in sig_object["/ByteRange"])
        contents = _signature_value(sig_object).rstrip(b"\0")
        if start != 0 or len(data) != after + tail or not 0 < end < after:
            return False
        hole = data[end:after]
        if hole[:1] != b"<" or hole[-1:] != b">":
            return False
        return bytes.fromhex(hole[1:-1].decode("ascii")).rstrip(b"\0") == contents
    except Exception:
        return False


def _signature_value(sig_object: Any) -> bytes:
    """The signature dictionary's /Contents as written: a signature value is never encrypted,
    so in a print-locked (encrypted) file it must not go through decryption, which turns it
    into noise (and made a print-locked document changed in place look re-saved)."""
    value = sig_object.raw_get("/Contents", decrypt=generic.EncryptedObjAccess.RAW)
    if not isinstance(value, (generic.ByteStringObject, generic.TextStringObject)):
        raise TypeError("/Contents is not a string")
    return bytes(value.original_bytes)


def _is_cms(value: bytes) -> bool:
    """The bytes are a CMS signed-data structure with a signer (what pyhanko reads first)."""
    try:
        info = cms.ContentInfo.load(value.rstrip(b"\0"))
        if info["content_type"].native != "signed_data":
            return False
        return len(info["content"]["signer_infos"]) > 0
    except Exception:
        return False


def _parsed(locked: bool) -> Check:
    return Check("pdf_structure", "passed", "parse_locked_ok" if locked else "parse_ok")


def _damaged_signature(data: bytes, values: list[Any], locked: bool) -> SignatureFacts | None:
    """One signature whose value is no longer a signature, in a file not laid out as signed:
    rewritten by a PDF program that damaged the value, or changed otherwise. pypdf (7.1) does
    this to every print-locked document it re-saves: it decrypts the signature's /Contents as
    if it were ordinary text (a signature value is never encrypted; qpdf and pikepdf keep it),
    so nothing of the school's signature is left to check. The file reads, so it is not
    "damaged" for the person: the signature is (``signature_damaged``). None when the value
    is a CMS (pyhanko failed on something else) or the file is laid out as signed (a value
    changed in place: "malformed" as before)."""
    if len(values) != 1:
        return None
    sig_object = values[0]
    try:
        if _is_cms(_signature_value(sig_object)) or _laid_out_as_signed(data, sig_object):
            return None
    except Exception:
        return None
    return SignatureFacts(
        (
            _parsed(locked),
            Check("signature", "failed", "sig_damaged"),
            *_skipped(*SIGNATURE_CHECKS[1:]),
        ),
        (Reason("signature_damaged"),),
    )


def _organization(cert: asn1_x509.Certificate) -> str:
    """The school a root certificate belongs to: its organization (or its full English name)."""
    native = cert.subject.native
    return str(native.get("organization_name") or native.get("common_name") or "the issuer")


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
