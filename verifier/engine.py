"""The verification pipeline: checks in order, each reported, the verdict from the reasons."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric import ec

from certseal.doctypes import DOCUMENT_TYPES
from certseal.errors import CertsealError
from certseal.eventlog import LogClient, LogRef, PublishedLog
from certseal.statuslist import REASON_CODES, Entry, Issuer, Seen, Snapshot, TrustedState
from certseal.timeutil import format_time
from verifier import federation as national
from verifier import loglines
from verifier.federation import Federated, FederationTrust
from verifier.isolation import IsolatedParser, Isolation
from verifier.longterm import LongTerm
from verifier.ltv import ExtendedCopy
from verifier.pdfcheck import (
    SIGNATURE_CHECKS,
    SignatureFacts,
    StructureLimits,
    proven_by_status_list,
    proven_extended_copy,
    sniff,
)
from verifier.resaved import Judge, ResavedCopy
from verifier.resaved import answer as resaved_answer
from verifier.resaved import source_of as resaved_source
from verifier.result import Check, DocumentInfo, Reason, StatusListInfo, Verification
from verifier.status import IssuerTrust, StatusSource
from verifier.store import Store
from verifier.twin import scan_twin

log = logging.getLogger("certseal.verifier")

STATUS_CHECKS = ("status_list", "transparency_log", "document_state", "verification_count")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_PROVEN_MAX = 100_000  # log checks kept per snapshot (a few hundred bytes each)
# Documents' fields and signers kept for answering again (a kilobyte or so each, per worker).
_RECENT_DOCUMENTS = 10_000


@dataclass(frozen=True)
class Limits:
    """What one upload may cost (docs/verifier.md, "Limits")."""

    max_bytes: int = DEFAULT_MAX_BYTES
    time_limit: float = 10.0  # wall-clock seconds of one parse; its process is killed past it
    cpu_limit: float = 1.0  # CPU seconds of one parse
    parse_slots: int = 0  # parses at once in the whole service; 0: one per two cores
    slot_wait: float = 0.5  # seconds an unlisted file waits for a parse slot, then ``busy``
    slots_dir: Path | None = None  # shared by the service's processes; None: per process group
    structure: StructureLimits = field(default_factory=StructureLimits)

    def isolation(self) -> Isolation:
        return Isolation(
            cpu_seconds=self.cpu_limit,
            wall_seconds=self.time_limit,
            slots=self.parse_slots,
            slot_wait=self.slot_wait,
            slots_dir=self.slots_dir,
        )


class Verifier:
    """Answers one question for a file: genuine and current, and what was checked."""

    def __init__(
        self,
        sources: list[StatusSource],
        counter: Store,
        limits: Limits,
        federation: FederationTrust | None = None,
        timestamp_roots: Sequence[asn1_x509.Certificate] = (),
    ) -> None:
        self.sources = sources
        self.counter = counter
        self.limits = limits
        # National: the schools and their lists come from the trust list, not from ``sources``.
        self.federation = federation
        self._roots: list[asn1_x509.Certificate] = [
            r for s in sources for r in s.trust.asn1_roots()
        ]
        self._root_owner = {r.sha256: s for s in sources for r in s.trust.asn1_roots()}
        self._logs: dict[StatusSource, LogClient] = {}
        self._log_keys: dict[StatusSource, list[ec.EllipticCurvePublicKey]] = {}
        self._school_roots: dict[StatusSource, list[asn1_x509.Certificate]] = {}
        self._parser = IsolatedParser(limits.isolation(), limits.structure)
        self._by_list: dict[Issuer, SignatureFacts] = {}
        self._signers: dict[str, str] = {}  # listed bytes' SHA-256 -> signer's ("": none)
        # The TSAs' roots the operator trusts, for every school's timestamps only.
        self.long_term = LongTerm(timestamp_roots=timestamp_roots)
        self._parser.warm()
        # Per status list, the snapshot answered from, its log checkpoint and the log checks that
        # passed in it: both are fixed once the snapshot is, so a document verified again costs
        # no proof and no parse of the snapshot's log reference.
        self._proven: weakref.WeakKeyDictionary[StatusSource, _Proven] = weakref.WeakKeyDictionary()

    def verify(self, data: bytes, now: dt.datetime) -> Verification:
        result = self._verify(data, now)
        if log.isEnabledFor(logging.INFO):
            # Logs carry the verdict and the hash, never the file or anything personal.
            digest = result.document.sha256 if result.document else "-"
            codes = ",".join(result.codes)
            message = f"verify result={result.result} reasons={codes} sha256={digest}"
            if not loglines.write_direct(log, logging.INFO, message):
                log.info("%s", message)
        return result

    def _verify(self, data: bytes, now: dt.datetime) -> Verification:
        sniffed = sniff(data, self.limits.max_bytes)
        if sniffed.reasons:
            skipped = [
                Check(n, "skipped", "skipped_earlier")
                for n in ("file_type", "pdf_structure", *SIGNATURE_CHECKS, *STATUS_CHECKS)
            ]
            names = {c.name for c in sniffed.checks}
            return Verification(
                sniffed.checks + tuple(c for c in skipped if c.name not in names),
                sniffed.reasons,
                http_status=sniffed.http_status,
            )
        sha = upload_sha256(data)
        stored, used_before = self.counter.answer_read(self._list_names(), sha)
        fed = None
        if self.federation is not None:
            fed = self.federation.current(now, stored.get(national.TRUSTLIST))
        sources = self.sources if self.federation is None else _schools(fed)
        loaded, found, lookup_error, signer = self._lookup(sha, now, sources, data, fed, stored)
        if fed is None and self.federation is not None:
            # No trust list to rely on: no school is known, so nothing is worth parsing.
            unread = ("pdf_structure", *SIGNATURE_CHECKS)
            return Verification(
                (
                    *sniffed.checks,
                    *(Check(n, "skipped", "skipped_earlier") for n in unread),
                    self.federation.unavailable_check(),
                    *(Check(n, "skipped", "skipped_earlier") for n in STATUS_CHECKS[1:]),
                ),
                (Reason("status_unavailable"),),
                DocumentInfo(sha),
                http_status=503,
            )
        if found is not None:
            # These exact bytes are in the issuer's signed status list: the authority issued and
            # checked them, so their signature needs no re-validation (docs/verifier.md).
            listed_by = next(st for s, st in loaded if s is found[0]).snapshot.issuer
            sig = self._proven_by_list(listed_by)
        else:
            # Not listed: the full parse, bounded and in a separate process (isolation.py).
            sig = self._parser.check(data, self._anchors(sources), now)
            extended = sig.extra.get("extended")
            if isinstance(extended, ExtendedCopy):
                # An issued file plus long-term validation data only: answered as the entry
                # that lists its earlier revision (docs/verifier.md).
                hit = self._lookup_extended(extended, now, sources, data, fed)
                if hit is not None:
                    loaded, found, lookup_error, signer, sha = hit
                    listed_by = next(st for s, st in loaded if s is found[0]).snapshot.issuer
                    sig = proven_extended_copy(_names(listed_by), extended)
        checks = list(sniffed.checks + sig.checks)
        reasons = list(sig.reasons)
        if fed is not None:
            reasons = [national.unlisted_signer(r) for r in reasons]
        parsed = not any(r.code in ("malformed_pdf", "encrypted", "busy") for r in reasons)
        if not parsed:
            checks += [Check(n, "skipped", "skipped_earlier") for n in STATUS_CHECKS]
            return Verification(
                tuple(checks), tuple(reasons), DocumentInfo(sha), http_status=sig.http_status
            )
        # -- status list ---------------------------------------------------------------
        resaved = sig.extra.get("resaved")
        if found is None and isinstance(resaved, ResavedCopy):
            # A re-saved copy of the school's signature: named after the issued document its
            # signature was made for, when the school's list has it (verifier/resaved.py).
            held = resaved_source(resaved, loaded, self._root_owner, fed)
            if held is not None:
                info = self._info(*held, now)
                judge = self._copy_judge(fed, *held, resaved.signer)
                return resaved_answer(
                    checks, reasons, sha, resaved, held, self.counter, info, judge
                )
        if fed is not None and found is None:
            # Listed by no school: answered from the list of the school whose key signed it.
            anchor = sig.trust_anchor.sha256.hex() if sig.trust_anchor is not None else None
            if isinstance(resaved, ResavedCopy):
                # A copy whose school's list is not loaded: why, as for the original.
                anchor = resaved.root
            unlisted = national.unlisted(fed, anchor, loaded)
            if isinstance(unlisted, national.Refusal):
                checks.append(unlisted.check)
                checks += [Check(n, "skipped", "skipped_earlier") for n in STATUS_CHECKS[1:]]
                reasons.append(unlisted.reason)
                return Verification(
                    tuple(checks), tuple(reasons), DocumentInfo(sha), http_status=unlisted.http
                )
            loaded = [unlisted]
        if not loaded or (found is None and lookup_error is not None):
            checks.append(Check("status_list", "failed", "status_unavailable"))
            checks += [Check(n, "skipped", "skipped_earlier") for n in STATUS_CHECKS[1:]]
            reasons.append(Reason("status_unavailable"))
            return Verification(tuple(checks), tuple(reasons), DocumentInfo(sha), http_status=503)
        if found is None:
            src, state = loaded[0]
            checks.append(
                Check(
                    "status_list",
                    "failed",
                    "status_missing",
                    {"version": state.version, **_names(state.snapshot.issuer)},
                )
            )
            checks += [Check(n, "skipped", "skipped_earlier") for n in STATUS_CHECKS[1:]]
            reasons.append(Reason("not_issued"))
            return Verification(
                tuple(checks),
                tuple(reasons),
                DocumentInfo(sha),
                status_list=self._info(src, state, now),
            )
        src, entry = found
        state = next(st for s, st in loaded if s is src)
        info = self._info(src, state, now)
        snap_issuer = state.snapshot.issuer
        if (
            sig.trust_anchor is not None
            and self._root_owner.get(sig.trust_anchor.sha256) is not src
        ):
            # Signed by one trusted issuer, listed by another: not what either issued.
            checks.append(
                Check(
                    "status_list",
                    "failed",
                    "status_missing",
                    {"version": state.version, **_names(snap_issuer)},
                )
            )
            reasons.append(Reason("not_issued"))
        else:
            checks.append(self._held(src, state).found)
        log_check = _LOG_SKIPPED
        listed = checks[-1].status == "passed"
        if listed:
            log_check = self._proven_log_check(src, state, entry, sha)
        checks.append(log_check)
        if log_check.status == "failed":
            reasons.append(Reason("status_unavailable"))
        school = None
        if fed is not None and isinstance(src, national.SchoolSource):
            school = national.judge_listed(
                fed, src, entry, signer, log_check, self._logged_before(src, state, entry)
            )
            checks.append(school.check)
            reasons += school.reasons
        elif listed and src.key_history is not None and src.key_history.says_more:
            # One school's own rotated or compromised keys (docs/key-lifecycle.md).
            own = national.judge_own_key(
                src.key_history, snap_issuer, entry, signer or self._signer_of(sha, data),
                log_check, self._logged_before(src, state, entry),
            )  # fmt: skip
            checks.append(own.check)
            reasons += own.reasons
        if listed:
            # Past the signing certificate's validity the listing alone no longer proves the
            # signature counted: AdES past-signature validation (verifier/longterm.py). Within
            # it, this costs a look-up in the key history, no parse.
            due = self.long_term.due(src.key_history, entry.issued_at, now)
            if due is not None:
                file_sha = hashlib.sha256(data).hexdigest()
                late = self.long_term.judge(data, file_sha, src.trust.asn1_roots(), due, now)
                checks = [late.check if c.name == "certificate_chain" else c for c in checks]
                reasons += late.reasons
        doc = self._document(src, state, entry, sha, school)
        if entry.state == "revoked":
            en, zh = REASON_CODES.get(entry.reason_code or "other", REASON_CODES["other"])
            checks.append(
                Check("document_state", "failed", "state_revoked", {"revoked_at": entry.revoked_at})
            )
            reasons.append(
                Reason("revoked", {"revoked_at": entry.revoked_at, "reason": en, "reason_zh": zh})
            )
        elif entry.state == "superseded":
            checks.append(
                Check(
                    "document_state",
                    "failed",
                    "state_superseded",
                    {"superseded_at": entry.superseded_at},
                )
            )
            reasons.append(Reason("superseded", {"superseded_at": entry.superseded_at}))
        else:
            checks.append(_STATE_ACTIVE)
        if info.stale:
            checks.append(Check("status_list", "failed", "status_stale", {"expires": info.expires}))
            reasons.append(
                Reason("status_stale", {"expires": info.expires, "issued_at": info.issued_at})
            )
        # -- count -----------------------------------------------------------------------
        verifications = None
        if entry.limit is None:
            checks.append(_COUNT_UNLIMITED)
        elif reasons:
            verifications = (used_before, entry.limit)
            checks.append(_COUNT_NOT_COUNTED)
        else:
            counted, used = self.counter.try_use(sha, entry.limit, used_before)
            verifications = (used, entry.limit)
            if counted:
                checks.append(
                    Check(
                        "verification_count",
                        "passed",
                        "count_used",
                        {"used": used, "limit": entry.limit},
                    )
                )
            else:
                check, reason = _count_reached(entry.limit)
                checks.append(check)
                reasons.append(reason)
        # Beside a verdict that is not a failure, what the document's machine-readable twin says:
        # found by a bounded scan of the listed bytes, never by a parse (verifier/twin.py).
        failed = any(r.severity == "failure" for r in reasons)
        twin = None if failed else scan_twin(data, sha)
        return Verification(tuple(checks), tuple(reasons), doc, verifications, info, twin=twin)

    def _document(
        self,
        src: StatusSource,
        state: TrustedState,
        entry: Entry,
        sha: str,
        school: national.SchoolJudgement | None,
    ) -> DocumentInfo:
        """What the list says of a listed document: fixed with its snapshot, so made once per
        document and snapshot (and rendered once per language: DocumentInfo.to_json)."""
        held = self._held(src, state)
        doc = held.documents.get(sha) if school is None else None
        if doc is not None:
            return doc
        snap_issuer = state.snapshot.issuer
        dtype = DOCUMENT_TYPES.get(entry.doc_type)
        doc = DocumentInfo(
            sha256=sha,
            type=entry.doc_type,
            type_name={"en": dtype.name_en, "zh-TW": dtype.name_zh} if dtype else None,
            issuer=snap_issuer.code,
            issuer_name={"en": snap_issuer.name_en, "zh-TW": snap_issuer.name_zh},
            issued_at=entry.issued_at,
            state=entry.state,
            successor=entry.successor,
            superseded_at=entry.superseded_at,
            revoked_at=entry.revoked_at,
            revocation_reason=entry.reason_code,
            **({} if school is None else school.document),
        )
        if school is None and len(held.documents) < _RECENT_DOCUMENTS:
            held.documents[sha] = doc
        return doc

    def _proven_log_check(
        self, src: StatusSource, state: TrustedState, entry: Entry, sha: str
    ) -> Check:
        """:meth:`_log_check`, once per document and snapshot; a failure is checked again."""
        held = self._held(src, state)
        check = held.checks.get(sha)
        if check is None:
            check = self._log_check(src, state, entry)
            if check.status == "passed" and len(held.checks) < _PROVEN_MAX:
                held.checks[sha] = check
        return check

    def _copy_judge(
        self, fed: Federated | None, src: StatusSource, state: TrustedState, signer: str | None
    ) -> Judge | None:
        """For a re-saved copy: judge the key its kept signature was made with as the original
        would be, as of the named document's issuance (nationally, the school's standing too),
        with that document's log check; None when nothing more than the list is judged."""
        is_school = fed is not None and isinstance(src, national.SchoolSource)
        history = src.key_history
        if not is_school and (history is None or not history.says_more):
            return None

        def judge(entry: Entry) -> tuple[tuple[Check, ...], tuple[Reason, ...]]:
            log_check = self._proven_log_check(src, state, entry, entry.sha256)
            logged = self._logged_before(src, state, entry)
            if fed is not None and isinstance(src, national.SchoolSource):
                found = national.judge_listed(fed, src, entry, signer, log_check, logged)
            else:
                assert history is not None
                issuer = state.snapshot.issuer
                found = national.judge_own_key(history, issuer, entry, signer, log_check, logged)
            return (log_check, found.check), found.reasons

        return judge

    def _list_names(self) -> list[str]:
        """The lists whose shared trusted state an answer consults, read with the document's
        count in one read of the store (nationally: the trust list and each school's, 60 and
        more)."""
        if self.federation is not None:
            held = self.federation.held
            schools = [] if held is None else [s.trust.name for s in held.sources.values()]
            return [national.TRUSTLIST, *schools]
        return [s.trust.name for s in self.sources]

    def _proven_by_list(self, issuer: Issuer) -> SignatureFacts:
        """The signature checks a listing proves, made once per issuer (they name only it)."""
        facts = self._by_list.get(issuer)
        if facts is None:
            if len(self._by_list) >= 4096:
                self._by_list.clear()
            facts = self._by_list[issuer] = proven_by_status_list(_names(issuer))
        return facts

    def _info(self, src: StatusSource, state: TrustedState, now: dt.datetime) -> StatusListInfo:
        """The list an answer came from, made once per timestamp (and staleness) of a list."""
        held = self._held(src, state)
        stamp = state.timestamp
        key = (stamp.version, stamp.issued_at, stamp.expires, stamp.is_expired(now))
        info = held.infos.get(key)
        if info is None:
            if len(held.infos) >= 8:
                held.infos.clear()  # a new timestamp every few hours: keep only the recent ones
            info = held.infos[key] = _info(src, state, now, held.checkpoint)
        return info

    def _held(self, src: StatusSource, state: TrustedState) -> _Proven:
        held = self._proven.get(src)
        if held is None or held.snapshot is not state.snapshot:
            held = self._proven[src] = _Proven(state.snapshot, _checkpoint_of(state))
        return held

    def _log_check(self, src: StatusSource, state: TrustedState, entry: Entry) -> Check:
        """The entry's events are in the log checkpoint the signed snapshot names."""
        try:
            ref = LogRef.from_snapshot(state.snapshot)
            if ref is None:
                return Check("transparency_log", "skipped", "log_not_published")
            client, keys = self._log_of(src)
            events = client.check_entry(ref, entry, keys)
        except CertsealError as e:
            return Check("transparency_log", "failed", "log_failed", {"detail": e.en})
        except ValueError as e:  # a hostile host's tiles must not take the service down
            return Check("transparency_log", "failed", "log_failed", {"detail": str(e)})
        root = base64.b64encode(ref.root).decode()
        return Check(
            "transparency_log",
            "passed",
            "log_included",
            {"events": len(events), "size": ref.size, "root": root},
        )

    def _lookup(
        self,
        sha: str,
        now: dt.datetime,
        sources: list[StatusSource],
        data: bytes,
        fed: Federated | None,
        stored: dict[str, Seen] | None = None,
    ) -> tuple[
        list[tuple[StatusSource, TrustedState]],
        tuple[StatusSource, Entry] | None,
        CertsealError | None,
        str | None,
    ]:
        """Find the hash in the loaded status lists: (lists loaded, where found, lookup error,
        the signer's certificate hash when national).

        Nationally the signer's own school's listing wins: another school listing a document
        must not hide the listing of the school that signed it. The lists are asked until that
        school's lists it, its own first when the document was listed before (its signer is
        known then, without reading the upload).
        """
        loaded = []
        lookup_error: CertsealError | None = None
        hits: list[tuple[StatusSource, Entry]] = []
        known = self._signers.get(sha) if fed is not None else None
        if known and fed is not None:
            sources = national.own_first(fed, sources, known)
        for src in sources:
            state = src.current(now, (stored or {}).get(src.trust.name))
            if state is None:
                continue
            loaded.append((src, state))
            try:
                entry = src.lookup(state, sha)
            except CertsealError as e:
                lookup_error = e
                continue
            if entry is not None:
                hits.append((src, entry))
                if fed is None:
                    return loaded, hits[0], lookup_error, None
                signer = self._signer_of(sha, data)  # listed: bytes a school produced
                if national.signed_own(fed, src, signer):
                    return loaded, (src, entry), lookup_error, signer  # no other list can win
        if not hits:
            return loaded, None, lookup_error, None
        signer = self._signer_of(sha, data)
        return loaded, national.choose_listing(fed, hits, signer), lookup_error, signer

    def _signer_of(self, sha: str, data: bytes) -> str | None:
        """The certificate that signed the listed bytes ``sha`` names (``data``: those bytes,
        or an extended copy of them, whose first signature is theirs), read from the CMS once
        per document: it is the same at every upload of it."""
        known = self._signers.get(sha)  # "" when the bytes name no signer
        if known is None:
            if len(self._signers) >= _RECENT_DOCUMENTS:
                self._signers.clear()
            known = self._signers[sha] = national.signer_cert_sha256(data) or ""
        return known or None

    def _lookup_extended(
        self,
        extended: ExtendedCopy,
        now: dt.datetime,
        sources: list[StatusSource],
        data: bytes,
        fed: Federated | None,
    ) -> (
        tuple[
            list[tuple[StatusSource, TrustedState]],
            tuple[StatusSource, Entry],
            CertsealError | None,
            str | None,
            str,
        ]
        | None
    ):
        """The listed entry of an extended copy's earlier revision, the latest first."""
        for candidate in reversed(extended.candidates):
            loaded, found, error, signer = self._lookup(candidate, now, sources, data, fed)
            if found is not None:
                return loaded, found, error, signer, candidate
        return None

    def _anchors(self, sources: list[StatusSource]) -> list[asn1_x509.Certificate]:
        """The certificates a signature must chain to: configured roots, or nationally every
        school's document-signing certificates from the trust list."""
        if self.federation is None:
            return self._roots
        out = []
        for src in sources:
            roots = self._school_roots.get(src)
            if roots is None:
                roots = self._school_roots[src] = src.trust.asn1_roots()
            out += roots
        return out

    def _log_of(self, src: StatusSource) -> tuple[LogClient, list[ec.EllipticCurvePublicKey]]:
        client = self._logs.get(src)
        if client is None:
            client = self._logs[src] = LogClient(PublishedLog(src.log_fetch))
            self._log_keys[src] = src.log_keys()
        return client, self._log_keys[src]

    def _logged_before(
        self, src: StatusSource, state: TrustedState, entry: Entry
    ) -> national.LoggedBefore:
        """For a key compromised after issuance: when the school's log first held the entry."""

        def check(deadline: dt.datetime) -> str | None:
            ref = LogRef.from_snapshot(state.snapshot)
            if ref is None or not entry.log_indexes:
                return None
            client, keys = self._log_of(src)
            return national.logged_before(client.log, keys, ref, entry.log_indexes[0], deadline)

        return check

    def status(self, now: dt.datetime) -> list[dict[str, object]]:
        out = []
        sources = self.sources
        if self.federation is not None:
            sources = _schools(self.federation.current(now))
            out.append(self.federation.describe(now).__dict__)
        for src in sources:
            src.current(now)
            d = src.describe(now)
            out.append(d.__dict__)
        return out


# CPython's hashlib lets other threads run while it hashes 2 KiB or more at once.
_GIL_FREE_HASH = 2048
_HASH_HOLDING_GIL = 1 << 20


def upload_sha256(data: bytes) -> str:
    """The upload's SHA-256, every answer's first step.

    Up to 1 MiB (a diploma is some 75 KB), fed to hashlib in pieces small enough that it keeps
    the interpreter lock: letting another request's thread run for the 40 µs of hashing costs
    more in thread hand-offs than it gains when every core is busy (measured with
    bench/verification.py --wrk: docs/deployment.md). A larger file is hashed at once."""
    if len(data) > _HASH_HOLDING_GIL:
        return hashlib.sha256(data).hexdigest()
    h, view = hashlib.sha256(), memoryview(data)
    step = _GIL_FREE_HASH - 1
    for at in range(0, len(data), step):
        h.update(view[at : at + step])
    return h.hexdigest()


def _schools(fed: Federated | None) -> list[StatusSource]:
    return [] if fed is None else list(fed.sources.values())


def _names(issuer: Issuer) -> dict[str, str]:
    """An issuer's name as check details show it, in both languages."""
    return {"issuer": issuer.name_en, "issuer_zh": issuer.name_zh}


@dataclass
class _Proven:
    snapshot: Snapshot
    checkpoint: dict[str, object] | None
    checks: dict[str, Check] = field(default_factory=dict)
    infos: dict[tuple[object, ...], StatusListInfo] = field(default_factory=dict)
    documents: dict[str, DocumentInfo] = field(default_factory=dict)

    @cached_property
    def found(self) -> Check:
        """The check of a document this list lists: the same for all of them."""
        names = _names(self.snapshot.issuer)
        return Check(
            "status_list", "passed", "status_found", {"version": self.snapshot.version, **names}
        )


# Checks that say the same in every answer they are in: one object each, rendered once.
_STATE_ACTIVE = Check("document_state", "passed", "state_active")
_COUNT_UNLIMITED = Check("verification_count", "passed", "count_unlimited")
_COUNT_NOT_COUNTED = Check("verification_count", "skipped", "count_not_counted")
_LOG_SKIPPED = Check("transparency_log", "skipped", "skipped_earlier")
# A document at its limit is answered so at each upload again: one check and reason per limit.
_REACHED: dict[int, tuple[Check, Reason]] = {}


def _count_reached(limit: int) -> tuple[Check, Reason]:
    """The check and reason of a document whose ``limit`` verifications are used up."""
    held = _REACHED.get(limit)
    if held is None:
        if len(_REACHED) >= 1024:
            _REACHED.clear()  # bounded: limits are a school's few choices
        held = _REACHED[limit] = (
            Check("verification_count", "failed", "count_reached", {"limit": limit}),
            Reason("verification_limit_reached", {"limit": limit}),
        )
    return held


def _checkpoint_of(state: TrustedState) -> dict[str, object] | None:
    try:
        ref = LogRef.from_snapshot(state.snapshot)
    except CertsealError:
        ref = None  # the transparency-log check reports it
    return None if ref is None else _checkpoint_info(ref)


def _info(
    src: StatusSource,
    state: TrustedState,
    now: dt.datetime,
    checkpoint: dict[str, object] | None,
) -> StatusListInfo:
    return StatusListInfo(
        issuer=state.snapshot.issuer.code,
        version=state.version,
        issued_at=format_time(state.timestamp.issued_at),
        expires=format_time(state.timestamp.expires),
        stale=state.timestamp.is_expired(now),
        checkpoint=checkpoint,
    )


def _checkpoint_info(ref: LogRef) -> dict[str, object]:
    return {"origin": ref.origin, "size": ref.size, "root": base64.b64encode(ref.root).decode()}


def build_verifier(
    issuers: list[IssuerTrust],
    counter: Store,
    limits: Limits,
    refresh_seconds: float = 60.0,
    federation: tuple[str, bytes] | None = None,
    timestamp_roots: Sequence[asn1_x509.Certificate] = (),
) -> Verifier:
    """The verifier of configured issuers, or, given ``federation`` (the trust list's
    address and its pinned first root), of every school in the federation's trust list.
    ``timestamp_roots``: the time-stamping authorities the long-term check trusts."""
    trust = None
    if federation is not None:
        trust = FederationTrust(
            federation[0], federation[1], counter, refresh_seconds=refresh_seconds
        )
    return Verifier(
        [StatusSource(t, counter, refresh_seconds=refresh_seconds) for t in issuers],
        counter,
        limits,
        trust,
        timestamp_roots,
    )
