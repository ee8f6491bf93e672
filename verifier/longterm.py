"""The service's long-term check: when the classic answer for a listed document is not enough.

A listed document needs no signature check: its exact bytes are in the issuer's signed status
list (docs/verifier.md). That answer silently assumes the signing certificate is still valid.
Once the verifier's clock is past the certificate's validity, the listing alone no longer says
the signature was made while the certificate counted: that takes pyhanko's AdES past-signature
validation (:func:`verifier.ltv.long_term_check`), which only a B-LTA document (or one extended
since) can pass decades on; a B-T or B-B one is told plainly what it lacks.

Deciding costs no parse: the published key history (pinned by the snapshot) says which
certificate the key had when the status list says the document was issued, and that
certificate's end of validity is read once per certificate. Only when it has passed does the
file get parsed, and the AdES answer is kept per file and day.

The timestamps' chains end at the school's roots or at the roots of the time-stamping
authorities the operator trusts (the ``timestamp_roots`` setting); the signer's chain must end
at the school's own: a TSA's root never makes a document signature trusted.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import extract_certificate_info
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from certseal.keyhistory import KeyHistory
from certseal.timeutil import format_time, parse_time
from verifier.ltv import DOC_TIMESTAMP, LongTermResult, long_term_check
from verifier.result import Check, Reason

REVOKED_INDICATIONS = ("REVOKED", "REVOKED_NO_POE")
CACHE_SIZE = 1024
_SIGNED_MAX = 10_000  # issuance times whose signing certificate is kept (a few hundred bytes)


@dataclass(frozen=True)
class Due:
    """Why the classic answer is not enough: the signing certificate ended at ``since``."""

    cert_sha256: str
    since: dt.datetime


@dataclass(frozen=True)
class LongTermJudgement:
    """The ``certificate_chain`` check as AdES answered it, and the reasons it adds."""

    check: Check
    reasons: tuple[Reason, ...]
    result: LongTermResult


class LongTerm:
    """The long-term check of one verifier: which documents need it, and its answers.

    ``fetch_timeout`` bounds each fetch of current revocation data for the newest timestamp's
    certificate (the one thing a document cannot carry for decades); None fetches nothing.
    ``timestamp_roots`` are the roots of the time-stamping authorities the operator trusts,
    for every school, and for timestamps only.
    """

    def __init__(
        self,
        fetch_timeout: float | None = 10.0,
        timestamp_roots: Sequence[asn1_x509.Certificate] = (),
    ) -> None:
        self.fetch_timeout = fetch_timeout
        self.timestamp_roots = tuple(timestamp_roots)
        self._not_after: dict[str, dt.datetime] = {}
        # Per key history and issuance time: the signing certificate then and its end of
        # validity (None: no signing key then). Both are fixed once the history is, and every
        # listed document's answer asks; the history is held, so its id names only it.
        self._signed: dict[tuple[int, str], tuple[KeyHistory, tuple[str, dt.datetime] | None]] = {}
        self._answers: OrderedDict[
            tuple[str, dt.date], tuple[LongTermResult, tuple[str, str] | None]
        ] = OrderedDict()

    def due(self, history: KeyHistory | None, issued_at: str, now: dt.datetime) -> Due | None:
        """None while the certificate that signed a document issued at ``issued_at`` is
        within its validity at ``now`` (the classic answer holds), without reading the file."""
        if history is None:
            return None
        held = self._signed.get((id(history), issued_at))
        if held is None or held[0] is not history:
            held = (history, self._signing_cert(history, issued_at))
            if len(self._signed) >= _SIGNED_MAX:
                self._signed.clear()  # bounded: a flood of issuance times costs a look-up only
            self._signed[id(history), issued_at] = held
        signed = held[1]
        if signed is None:
            return None
        return Due(*signed) if now > signed[1] else None

    def _signing_cert(self, history: KeyHistory, issued_at: str) -> tuple[str, dt.datetime] | None:
        """The certificate that signed at ``issued_at`` and its end of validity, if any."""
        record = history.signing_key_at(parse_time(issued_at, "issued_at"))
        if record is None:
            return None
        end = self._not_after.get(record.cert_sha256)
        if end is None:
            end = history.certificate(record.cert_sha256).not_valid_after_utc
            self._not_after[record.cert_sha256] = end
        return record.cert_sha256, end

    def judge(
        self,
        data: bytes,
        sha256: str,
        roots: list[asn1_x509.Certificate],
        due: Due,
        now: dt.datetime,
    ) -> LongTermJudgement:
        """AdES long-term validation of a listed (or extended) document at ``now``."""
        key = (sha256, now.date())
        answer = self._answers.get(key)
        if answer is None:
            backend = (
                None
                if self.fetch_timeout is None
                else RequestsFetcherBackend(per_request_timeout=self.fetch_timeout)
            )
            try:
                result = long_term_check(
                    data,
                    roots,
                    now,
                    timestamp_roots=self.timestamp_roots,
                    fetcher_backend=backend,
                )
            except Exception as e:  # a file pyhanko cannot take through AdES: said, not raised
                result = LongTermResult(False, "NOT_CHECKED", now, None, (), type(e).__name__)
            unchained = None
            if result.indication == "NO_CERTIFICATE_CHAIN_FOUND" and not result.missing:
                unchained = no_chain(data, roots, self.timestamp_roots)
            answer = self._answers[key] = (result, unchained)
            while len(self._answers) > CACHE_SIZE:
                self._answers.popitem(last=False)
        return judgement(answer[0], due, answer[1])


# What pyhanko's NO_POE means, for a document that carries every layer (B-LTA): some object
# the validation needs is not covered by a timestamp from before the time it had to go back to,
# typically a certificate first timestamped after its revocation.
NO_POE = (
    "its timestamps do not prove that the signature and the certificates it relies on already "
    "existed at a time when the certificate is known to have been valid and not revoked "
    "(AdES: no proof of existence)",
    "文件時戳無法證明簽章及其所依賴的憑證，在憑證確知有效且未撤銷的時間即已存在"
    "（AdES：無存在證明）",
)


def judgement(
    result: LongTermResult, due: Due, unchained: tuple[str, str] | None = None
) -> LongTermJudgement:
    """The check and reasons for an AdES answer, worded for people (verifier/messages.py);
    ``unchained`` says which chain AdES found no trusted root for (:func:`no_chain`)."""
    expired = format_time(due.since)
    signed = format_time(result.signature_time) if result.signature_time else ""
    if result.passed:
        params = {"expired": expired, "signed": signed}
        return LongTermJudgement(Check("certificate_chain", "passed", "chain_long_term", params),
                                 (), result)  # fmt: skip
    if result.indication in REVOKED_INDICATIONS and result.revoked_at and signed:
        params = {"expired": expired, "revoked": format_time(result.revoked_at), "signed": signed}
        return LongTermJudgement(
            Check("certificate_chain", "failed", "chain_revoked_before", params),
            (Reason("signed_after_revocation", params),),
            result,
        )
    en, zh = NO_POE if result.indication == "NO_POE" and not result.missing else result.message
    if unchained is not None:
        en, zh = unchained
    params = {"expired": expired, "detail": en, "detail_zh": zh}
    return LongTermJudgement(
        Check("certificate_chain", "failed", "chain_not_long_term", params),
        (Reason("long_term_unproven", params),),
        result,
    )


SIGNER_NOT_SCHOOLS = (
    "its signing certificate does not chain to the school's own root certificate",
    "其簽章憑證無法鏈結至學校自己的根憑證",
)


def _untrusted_tsa(name: str) -> tuple[str, str]:
    return (
        f"the time-stamping authority that dated it ({name}) is not one this verifier trusts "
        "(its operator lists them in the timestamp_roots setting)",
        f"為其蓋時戳的時戳機構（{name}）不在本驗證服務信任之列"
        "（由服務營運者於 timestamp_roots 設定列出）",
    )


def no_chain(
    data: bytes,
    roots: Sequence[asn1_x509.Certificate],
    timestamp_roots: Sequence[asn1_x509.Certificate],
) -> tuple[str, str] | None:
    """Which chain pyhanko found no trusted root for, in words: the signer's (to the school's
    roots) or a timestamp's (to those or the TSAs' roots); None when neither is clear.

    Certificates are followed by name through those the file carries: a diagnosis for the
    answer's wording only, never a trust decision (pyhanko made that one).
    """
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sigs = list(reader.embedded_signatures)
        signature = next(s for s in sigs if s.sig_object.get("/Type") != DOC_TIMESTAMP)
        tokens = [s.signed_data for s in sigs if s.sig_object.get("/Type") == DOC_TIMESTAMP]
        for attr in signature.signer_info["unsigned_attrs"] or ():
            if attr["type"].native == "signature_time_stamp_token":
                tokens += [v["content"] for v in attr["values"]]
        pool = [c for sd in (signature.signed_data, *tokens) for c in _certs(sd)]
        with suppress(NoDSSFoundError):  # no DSS: the chains the signatures carry only
            pool += list(DocumentSecurityStore.read_dss(reader).load_certs())
        if not _reaches(signature.signer_cert, pool, roots):
            return SIGNER_NOT_SCHOOLS
        for token in tokens:
            tsa = extract_certificate_info(token).signer_cert
            if not _reaches(tsa, pool, [*roots, *timestamp_roots]):
                name = tsa.subject.native.get("common_name") or tsa.subject.human_friendly
                return _untrusted_tsa(str(name))
    except Exception:  # only the wording is at stake: the generic sentence stays
        return None
    return None


def _certs(signed_data: Any) -> Iterator[asn1_x509.Certificate]:
    for choice in signed_data["certificates"] or ():
        if choice.name == "certificate":
            yield choice.chosen


def _reaches(
    cert: asn1_x509.Certificate,
    pool: Sequence[asn1_x509.Certificate],
    anchors: Sequence[asn1_x509.Certificate],
) -> bool:
    """Whether ``cert``'s chain, followed by issuer name through ``pool``, ends at an anchor."""
    hashes = {a.sha256 for a in anchors}
    subjects = {a.subject.dump() for a in anchors}
    for _ in range(8):
        if cert.sha256 in hashes or cert.issuer.dump() in subjects:
            return True
        parent = next((c for c in pool if c.subject == cert.issuer and c != cert), None)
        if parent is None:
            return False
        cert = parent
    return False
