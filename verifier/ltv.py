"""Long-term validation on the verifier's side: copies extended after issuance, and validation
at a point in time.

An issued document is listed by the SHA-256 of its exact bytes. Renewing its archival timestamp
(``certseal authority extend-timestamps``) appends an incremental update (validation data in the
DSS, a new document timestamp) and so changes that hash, though nothing a reader sees changed:
ISO 32000-2 permits exactly these additions under DocMDP "no changes". :func:`extended_copy`
recognises such a file: an issued file, byte for byte, followed only by updates that pyhanko's
difference analysis classes as ``LTA_UPDATES``. The issued entry is then found by the hash of
that prefix (docs/verifier.md, "Documents extended after issuance"); anything else appended keeps
``modified_after_signing``.

:func:`long_term_check` is pyhanko's AdES long-term validation (ETSI EN 319 102-1, 5.6.3) at a
time passed in: the signature proven to exist (by timestamps) while its certificate was valid
and not revoked, which the classic check at "now" cannot say once the certificate has expired or
was revoked after signing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation.ades import ades_lta_validation, ades_with_time_validation
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from verifier._pyhanko import pinned_clock

DOC_TIMESTAMP = "/DocTimeStamp"
_EOF = re.compile(rb"%%EOF(\r\n|\r|\n)?")
_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_CANDIDATES = 32  # revision ends, two spellings each, within the 16 revisions allowed


@dataclass(frozen=True)
class ExtendedCopy:
    """A file that is an earlier file plus long-term validation updates only.

    ``candidates`` are the SHA-256 (hex) of each prefix that ends a revision, from the one the
    certification signature covers to the one before the last: the issued file is one of them.
    """

    candidates: tuple[str, ...]
    timestamps: int  # document timestamps in the file
    file_sha256: str

    def __post_init__(self) -> None:
        hashes = (*self.candidates, self.file_sha256)
        if not all(isinstance(h, str) and _HEX64.fullmatch(h) for h in hashes):
            raise ValueError("an extended copy's hashes are SHA-256 in hex")
        if not 0 < len(self.candidates) <= MAX_CANDIDATES:
            raise ValueError(f"an extended copy has 1 to {MAX_CANDIDATES} earlier revision ends")
        if isinstance(self.timestamps, bool) or not isinstance(self.timestamps, int):
            raise ValueError("timestamps")

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": list(self.candidates),
            "timestamps": self.timestamps,
            "file_sha256": self.file_sha256,
        }

    @classmethod
    def from_dict(cls, d: Any) -> ExtendedCopy:
        """From the parse process's answer (verifier/isolation.py): checked, never trusted."""
        if not isinstance(d, dict) or not isinstance(d.get("candidates"), list):
            raise ValueError("bad extended copy")
        return cls(tuple(d["candidates"]), d.get("timestamps"), d.get("file_sha256"))  # type: ignore[arg-type]


def revision_prefix_hashes(data: bytes, signed_end: int) -> tuple[str, ...]:
    """SHA-256 of ``data[:end]`` for every revision end from ``signed_end`` up to, not
    including, the whole file; a revision ends after ``%%EOF`` and its end-of-line."""
    ends = {signed_end}
    for m in _EOF.finditer(data, max(0, signed_end - 8)):
        ends.add(m.end())
        ends.add(m.start() + 5)  # a writer may have put the end-of-line with the next revision
    cuts = sorted(e for e in ends if signed_end <= e < len(data))
    out = []
    h = hashlib.sha256()
    at = 0
    for cut in cuts:
        h.update(data[at:cut])
        at = cut
        out.append(h.copy().hexdigest())
    return tuple(out)


def extended_copy(data: bytes, sigs: list[Any], status: Any) -> ExtendedCopy | None:
    """The file as an extended copy, given its embedded signatures (the certification signature
    first) and pyhanko's status of that signature with the difference analysis run; None when
    anything but long-term validation data came after the certified revision."""
    if len(sigs) < 2:
        return None
    try:
        if any(s.sig_object.get("/Type") != DOC_TIMESTAMP for s in sigs[1:]):
            return None
        start, end, after, tail = (int(x) for x in sigs[0].sig_object["/ByteRange"])
    except Exception:
        return None
    if start != 0 or not 0 < end < after or after + tail >= len(data):
        return None
    if not _only_whole_revisions(data, sigs[0], after + tail):
        return None
    if not (status.intact and status.valid and status.diff_result is not None):
        return None
    if status.coverage != SignatureCoverageLevel.ENTIRE_REVISION or not status.docmdp_ok:
        return None
    level = status.modification_level
    if level is None or level > ModificationLevel.LTA_UPDATES:
        return None
    candidates = revision_prefix_hashes(data, after + tail)
    if not 0 < len(candidates) <= MAX_CANDIDATES:
        return None
    return ExtendedCopy(
        candidates,
        len(sigs) - 1,
        hashlib.sha256(data).hexdigest(),
    )


def _only_whole_revisions(data: bytes, sig: Any, signed_end: int) -> bool:
    """Every byte after the certified revision belongs to a revision pyhanko read (and so to
    the difference analysis): one ``%%EOF`` per later revision, and the file ends at the last.
    Bytes appended after it, even a comment, are refused."""
    try:
        later = int(sig.reader.xrefs.total_revisions) - 1 - int(sig.signed_revision)
    except Exception:
        return False
    ends = list(_EOF.finditer(data, signed_end))
    return later > 0 and len(ends) == later and ends[-1].end() == len(data)


# -- validation at a point in time ----------------------------------------------------------
@dataclass(frozen=True)
class LongTermResult:
    """pyhanko's AdES long-term verdict at ``at``, with what the document lacks, in words."""

    passed: bool
    indication: str  # AdES (sub)indication: OK, NO_POE, CERTIFICATE_CHAIN_GENERAL_FAILURE, ...
    at: dt.datetime
    signature_time: dt.datetime | None  # the best proven time the signature existed
    missing: tuple[tuple[str, str], ...]  # what the document lacks, in English and Chinese
    detail: str = ""
    revoked_at: dt.datetime | None = None  # the signing certificate's revocation, when known

    @property
    def message(self) -> tuple[str, str]:
        """One plain sentence in each language."""
        if self.passed:
            return (
                "the signature is proven to have been made while its certificate was valid",
                "簽章經證明係於憑證有效期間所作",
            )
        if self.missing:
            en = "; ".join(m[0] for m in self.missing)
            zh = "；".join(m[1] for m in self.missing)
            return (
                f"the signature cannot be checked this long after signing: the document lacks {en}",
                f"簽署多年後無法檢查此簽章：文件缺少{zh}",
            )
        return (
            f"the signature could not be checked at this date ({self.indication})",
            f"無法於此日期檢查簽章（{self.indication}）",
        )


_MISSING_TS = ("a timestamp on the signature (PAdES B-T)", "簽章時戳（PAdES B-T）")
_MISSING_DSS = (
    "the validation data (certificates and revocation data) kept in the document (PAdES B-LT)",
    "文件內保存的驗證資料（憑證與撤銷資料，PAdES B-LT）",
)
_MISSING_DOCTS = (
    "a document timestamp over that data, renewed before its certificate expires (PAdES B-LTA)",
    "涵蓋該資料並於憑證到期前更新的文件時戳（PAdES B-LTA）",
)


def what_is_missing(reader: PdfFileReader) -> tuple[tuple[str, str], ...]:
    """The long-term validation layers a document does not carry."""
    sigs = list(reader.embedded_signatures)
    out = []
    signer_info = sigs[0].signer_info if sigs else None
    unsigned = signer_info["unsigned_attrs"] if signer_info is not None else None
    if not unsigned or not any(a["type"].native == "signature_time_stamp_token" for a in unsigned):
        out.append(_MISSING_TS)
    if reader.root.get("/DSS") is None:
        out.append(_MISSING_DSS)
    if not any(s.sig_object.get("/Type") == DOC_TIMESTAMP for s in sigs):
        out.append(_MISSING_DOCTS)
    return tuple(out)


def _policy(roots: list[asn1_x509.Certificate]) -> CertValidationPolicySpec:
    return CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(roots),  # type: ignore[no-untyped-call]
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
    )


def _spec(
    roots: list[asn1_x509.Certificate],
    fetcher_backend: FetcherBackend | None,
    local: LocalKnowledge | None = None,
    timestamp_roots: Sequence[asn1_x509.Certificate] = (),
) -> SignatureValidationSpec:
    # The TSAs' roots count for timestamps only (pyhanko's ts_cert_validation_policy): with one
    # trust set for both, a document signed under a TSA's CA would pass as the school's.
    ts_policy = _policy([*roots, *timestamp_roots]) if timestamp_roots else None
    rule = (
        RevinfoOnlineFetchingRule.LOCAL_ONLY
        if fetcher_backend is None
        else RevinfoOnlineFetchingRule.ALWAYS_FETCH
    )
    return SignatureValidationSpec(
        cert_validation_policy=_policy(roots),
        ts_cert_validation_policy=ts_policy,
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=rule, fetcher_backend=fetcher_backend
        ),
        local_knowledge=local or LocalKnowledge(),
    )


def _timing(at: dt.datetime) -> ValidationTimingInfo:
    return ValidationTimingInfo(
        validation_time=at, best_signature_time=at, point_in_time_validation=True
    )


def long_term_check(
    data: bytes,
    roots: list[asn1_x509.Certificate],
    at: dt.datetime,
    *,
    timestamp_roots: Sequence[asn1_x509.Certificate] = (),
    fetcher_backend: FetcherBackend | None = None,
) -> LongTermResult:
    """AdES long-term validation of the certification signature as of ``at``.

    ``roots`` are the school's own: the signer's chain must end at one of them.
    ``timestamp_roots`` are the time-stamping authorities' roots the operator trusts, for the
    timestamps' chains only (with ``roots``). Revocation data for the newest document
    timestamp is fetched when ``fetcher_backend`` is given (as it must be, unless that
    timestamp is recent): the rest comes from the document's own DSS. pyhanko's clock reads
    ``at`` throughout (:func:`verifier._pyhanko.pinned_clock`).

    pyhanko 0.38 passes a signature whose certificate has expired once a timestamp dates it
    within the certificate's validity, without asking whether the certificate was revoked
    before that date (its validation "with time" stops at the expiry, and its past validation
    cannot change a pass). So the signature is also validated as of the time the timestamps
    prove, when its certificate was still within validity: pyhanko's ``REVOKED_NO_POE`` there
    means revocation data says the certificate was revoked before that time.
    """
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    sigs = list(reader.embedded_regular_signatures)
    if not sigs:
        return LongTermResult(False, "NO_SIGNATURE", at, None, (), "no signature")
    with pinned_clock(at):
        spec = PdfSignatureValidationSpec(_spec(roots, fetcher_backend, None, timestamp_roots))
        result = asyncio.run(ades_lta_validation(sigs[0], spec, timing_info=_timing(at)))
        indication = getattr(result.ades_subindic, "name", str(result.ades_subindic))
        signed = getattr(result, "best_signature_time", None)
        revoked = None
        if signed is not None and indication not in ("REVOKED", "REVOKED_NO_POE"):
            revoked = _revoked_by_signing_time(
                sigs[0], reader, roots, signed, fetcher_backend, timestamp_roots
            )
    if revoked is not None:
        return LongTermResult(
            False, "REVOKED_NO_POE", at, signed, (), revoked.failure_msg or "", revoked.at
        )
    passed = indication == "OK"
    details = getattr(result.api_status, "revocation_details", None)
    return LongTermResult(
        passed,
        indication,
        at,
        signed,
        () if passed else what_is_missing(reader),
        result.failure_msg or "",
        getattr(details, "revocation_date", None),
    )


@dataclass(frozen=True)
class _Revoked:
    at: dt.datetime
    failure_msg: str | None


def _revoked_by_signing_time(
    sig: Any,
    reader: PdfFileReader,
    roots: list[asn1_x509.Certificate],
    signed: dt.datetime,
    fetcher_backend: FetcherBackend | None,
    timestamp_roots: Sequence[asn1_x509.Certificate] = (),
) -> _Revoked | None:
    """When the signature is validated as of ``signed`` (its best proven time), with the
    document's validation data and any fetched, the revocation date that came before it."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        local = LocalKnowledge(
            known_ocsps=[c for o in dss.ocsps for c in OCSPContainer.load_multi(_ocsp_response(o))],
            known_crls=[CRLContainer(_crl(c)) for c in dss.crls],
            known_certs=list(dss.load_certs()),
        )
    except NoDSSFoundError:
        local = LocalKnowledge()
    check = asyncio.run(
        ades_with_time_validation(
            sig.signed_data,
            _spec(roots, fetcher_backend, local, timestamp_roots),
            timing_info=_timing(signed),
            raw_digest=sig.compute_digest(),
            status_cls=PdfSignatureStatus,
        )
    )
    details = getattr(check.api_status, "revocation_details", None)
    if check.ades_subindic != AdESIndeterminate.REVOKED_NO_POE or details is None:
        return None
    return _Revoked(details.revocation_date, check.failure_msg)


def _ocsp_response(ref: Any) -> asn1_ocsp.OCSPResponse:
    return asn1_ocsp.OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))


def _crl(ref: Any) -> asn1_crl.CertificateList:
    return asn1_crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL))
