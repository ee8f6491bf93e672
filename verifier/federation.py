"""The national verifier's view of the federation's trust list (docs/verifier.md, "National").

The verifier pins only the federation's first root (``metadata/1.root.json``). From it,
:class:`FederationTrust` fetches and verifies the trust list with python-tuf's client rules
(:class:`certseal.trustlist.TrustListClient`), remembers the newest timestamp version any
worker trusted in the shared store (so no worker or instance accepts an older list after
another one saw a newer), and turns each listed school into a :class:`SchoolSource`: the
school's status list, at the address the trust list gives, trusted only when signed by a
status-list key the trust list holds for that school.

Mapping an upload to its school and key is the engine's (verifier/engine.py); the pieces it
needs without I/O of their own are here: the signer certificate of a listed file
(:func:`signer_cert_sha256`) and the proof that an issuance was logged before a key's
compromise (:func:`logged_before`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certseal import tlog
from certseal.errors import (
    CertsealError,
    ConfigurationError,
    FetchError,
    RollbackError,
    SignatureVerificationError,
)
from certseal.eventlog import LogRef, PublishedLog, checkpoint_time
from certseal.fetch import Fetch, published_fetcher
from certseal.keyhistory import KeyHistory, judge
from certseal.sigdigest import signature_values
from certseal.statuslist import Entry, Issuer, KeyLookup, Seen, TrustedState
from certseal.timeutil import format_time, parse_time
from certseal.trustlist import (
    KEY_OUTCOMES,
    MAX_BYTES,
    TARGETS_DIR,
    KeyCheck,
    KeyRecord,
    SchoolEntry,
    TrustList,
    TrustListClient,
    key_path,
)
from verifier.result import Check, Reason
from verifier.status import IssuerTrust, SourceStatus, StatusSource, refresh_unless_busy
from verifier.store import Store

TRUSTLIST = "trustlist"
"""The shared store's name for the trust list's trusted state (its timestamp version)."""
BEHIND_RETRY_SECONDS = 1.0


class StatusListOfAnotherSchoolError(CertsealError):
    """A school's status list is signed by another school's key, or names another school."""

    code = "status_list_of_another_school"


class SchoolNotListedError(CertsealError):
    """A school's certificates could not be read from the trust list."""

    code = "school_not_listed"


def folder_fetcher(url: str, timeout: float = 10.0) -> Fetch:
    """Read the files under an address such as ``https://verify.x.edu.tw/status/``."""
    base, _, folder = url.rstrip("/").rpartition("/")
    return published_fetcher(base, folder, timeout)


def _valid_now(record: KeyRecord, now: dt.datetime) -> bool:
    if record.revoked_at is not None and record.revoked_at <= now:
        return False
    return record.valid_from <= now < record.valid_to


class SchoolSource(StatusSource):
    """One school's status list, trusted through the trust list.

    The list must be signed by a status-list key the trust list holds for this school and
    valid now (a list is re-signed every day, so "now" is when its signature counts), and must
    name the school. A list signed by another school's key is refused with its own error, so
    the answer can say so rather than "unavailable".
    """

    def __init__(
        self,
        school: SchoolEntry,
        trust_list: TrustList,
        certificates: dict[str, x509.Certificate],
        counter: Store,
        *,
        refresh_seconds: float = 60.0,
        fetch: Fetch | None = None,
        log_fetch: Fetch | None = None,
    ) -> None:
        profile = school.profile
        by_role = {
            role: tuple(
                certificates[k.cert_sha256]
                for k in school.keys
                if k.role == role and k.cert_sha256 in certificates
            )
            for role in ("signing", "statuslist")
        }
        trust = IssuerTrust(
            profile.school_id, by_role["signing"], by_role["statuslist"], profile.status_list_url
        )
        super().__init__(
            trust,
            counter,
            refresh_seconds=refresh_seconds,
            fetch=fetch or folder_fetcher(profile.status_list_url),
            log_fetch=log_fetch or folder_fetcher(profile.log_url),
        )
        self.school = school
        self.trust_list = trust_list
        self._others: list[str] = []  # other schools whose keys signed the last list read

    @property
    def school_id(self) -> str:
        return self.school.school_id

    @property
    def other_signer(self) -> str | None:
        """The other school whose key signed the last list read, if one did."""
        return self._others[0] if self._others else None

    def log_keys(self) -> list[ec.EllipticCurvePublicKey]:
        """Every status-list key the trust list holds for the school (its checkpoints may be
        signed by an earlier one)."""
        return [k.public_key() for k in self.school.keys if k.role == "statuslist"]

    def _key_lookup(self, now: dt.datetime) -> KeyLookup:
        own = {
            k.spki_sha256: k.public_key()
            for k in self.school.keys
            if k.role == "statuslist" and _valid_now(k, now)
        }
        self._others = []

        def key(kid: str) -> ec.EllipticCurvePublicKey | None:
            found = own.get(kid)
            if found is None:
                self._others += [
                    s.school_id
                    for s, k in self.trust_list.holders(spki_sha256=kid)
                    if s.school_id != self.school_id and k.role == "statuslist"
                ]
            return found

        return key

    def _explain(self, error: CertsealError) -> CertsealError:
        if isinstance(error, SignatureVerificationError) and self._others:
            other = self._others[0]
            return StatusListOfAnotherSchoolError(
                f"the status list at {self.trust.source} is signed with the status-list key of "
                f"{other}, not of {self.school_id}",
                f"{self.trust.source} 的狀態清單以 {other} 的狀態清單金鑰簽署，"
                f"而非 {self.school_id} 的金鑰",
            )
        return error

    def _accept(self, state: TrustedState) -> None:
        code = state.snapshot.issuer.code
        if code != self.school_id:
            raise StatusListOfAnotherSchoolError(
                f"the status list at {self.trust.source} names school {code}, not {self.school_id}",
                f"{self.trust.source} 的狀態清單標示為 {code}，而非 {self.school_id}",
            )


@dataclass(frozen=True)
class Federated:
    """What the verifier relies on at one moment: the trust list and its schools' lists."""

    trust_list: TrustList
    sources: dict[str, SchoolSource]
    errors: dict[str, CertsealError]  # schools with a certificate that could not be read


class FederationTrust:
    """The trust list as the verifier holds it: refreshed lazily, never older than any
    worker saw (the shared store), never past its expiry; one :class:`SchoolSource` per school,
    kept across refreshes while the school's entry is unchanged. Thread-safe."""

    def __init__(
        self,
        url: str,
        root: bytes,
        counter: Store,
        *,
        refresh_seconds: float = 60.0,
        fetch: Fetch | None = None,
        source_factory: Callable[..., SchoolSource] = SchoolSource,
    ) -> None:
        self.url = url
        self.counter = counter
        self.refresh_seconds = refresh_seconds
        self.fetch = fetch or folder_fetcher(url)
        try:
            self.client = TrustListClient(self.fetch, root)
        except Exception as e:  # python-tuf's own errors, or a file that is not JSON
            raise ConfigurationError(
                f"the federation's root pin is not a valid trust-list root: {e}",
                "聯盟根信任檔不是有效的信任清單根中繼資料",
            ) from e
        self.held: Federated | None = None
        self.last_checked: dt.datetime | None = None
        self.last_error: CertsealError | None = None
        self._source_factory = source_factory
        self._certificates: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def current(self, now: dt.datetime, stored: Seen | None = None) -> Federated | None:
        """The trust list to answer with; None when none is trusted, when the one held has
        expired (TUF's freeze rule), or when another worker trusts a newer one that this one
        cannot load. ``stored``: the shared state, read for this answer already."""
        shared = (self.counter.seen(TRUSTLIST) if stored is None else stored).version
        if self._due(now, shared):
            refresh_unless_busy(
                self._lock,
                self._answerable(now, shared) is not None,
                lambda: self._due(now, shared),
                lambda: self._refresh(now, shared),
            )
        return self._answerable(now, shared)

    def _answerable(self, now: dt.datetime, shared: int) -> Federated | None:
        """The trust list held, if answers may rely on it: unexpired, and not older than the
        version another worker already trusts."""
        held = self.held
        if held is None or held.trust_list.expires <= now:
            return None
        return None if held.trust_list.timestamp_version < shared else held

    def _due(self, now: dt.datetime, shared: int) -> bool:
        if self.last_checked is None:
            return True
        age = (now - self.last_checked).total_seconds()
        if age >= self.refresh_seconds:
            return True
        behind = self.held is not None and self.held.trust_list.timestamp_version < shared
        return age >= BEHIND_RETRY_SECONDS and behind

    def _refresh(self, now: dt.datetime, shared: int) -> None:
        try:
            tl = self.client.refresh(now)
            if tl.timestamp_version < shared:
                raise RollbackError(
                    f"the trust list's timestamp is version {tl.timestamp_version}, older than "
                    f"version {shared} another worker of this verifier already trusted",
                    f"信任清單時間戳記為第 {tl.timestamp_version} 版，舊於本服務已採信的第 "
                    f"{shared} 版",
                )
            self.held = self._federated(tl)
            self.counter.record_seen(TRUSTLIST, tl.timestamp_version)
            self.last_error = None
        except CertsealError as e:
            self.last_error = e
        except Exception as e:  # a hostile host must not take the service down
            self.last_error = FetchError(f"unexpected error: {type(e).__name__}: {e}")
        self.last_checked = now

    def _federated(self, tl: TrustList) -> Federated:
        old = {} if self.held is None else self.held.sources
        sources: dict[str, SchoolSource] = {}
        errors: dict[str, CertsealError] = {}
        for sid, school in sorted(tl.schools.items()):
            kept = old.get(sid)
            if kept is not None and kept.school == school:
                kept.trust_list = tl
                sources[sid] = kept
                continue
            certs = {}
            for k in school.keys:
                # Only an unlisted file's chain needs a certificate; hashes and keys are in the
                # records. A missing one is shown in the status, and the school still answers.
                try:
                    certs[k.cert_sha256] = self._certificate(sid, k)
                except CertsealError as e:
                    errors[sid] = e
            sources[sid] = self._source_factory(
                school, tl, certs, self.counter, refresh_seconds=self.refresh_seconds
            )
        return Federated(tl, sources, errors)

    def _certificate(self, school_id: str, record: KeyRecord) -> x509.Certificate:
        """A key's certificate from the trust list's targets, checked against its record."""
        cert = self._certificates.get(record.cert_sha256)
        if cert is not None:
            return cert
        path = f"{TARGETS_DIR}/{key_path(school_id, record.cert_sha256)}"
        data = self.fetch(path, MAX_BYTES["certificate"] + 1)
        if len(data) != record.cert_length or hashlib.sha256(data).hexdigest() != (
            record.cert_sha256
        ):
            raise SchoolNotListedError(
                f"the trust list's certificate {path} is not the one {school_id}'s key history "
                "describes",
                f"信任清單的憑證 {path} 與 {school_id} 的金鑰紀錄不符",
            )
        try:
            cert = x509.load_der_x509_certificate(data)
        except ValueError as e:
            raise SchoolNotListedError(
                f"the trust list's certificate {path} cannot be read",
                f"無法讀取信任清單的憑證 {path}",
            ) from e
        self._certificates[record.cert_sha256] = cert
        return cert

    def unavailable_check(self) -> Check:
        """The status-list check when no trust list can be relied on."""
        error = self.last_error
        detail = error.message("en") if error is not None else "expired"
        return Check("status_list", "failed", "trust_list_unavailable", {"detail": detail})

    def describe(self, now: dt.datetime) -> SourceStatus:
        held = self.held
        tl = None if held is None else held.trust_list
        return SourceStatus(
            issuer=TRUSTLIST,
            issuer_code=None,
            issuer_name="trust list",
            source=self.url,
            loaded=tl is not None,
            version=None if tl is None else tl.timestamp_version,
            issued_at=None,
            expires=None if tl is None else format_time(tl.expires),
            stale=tl is not None and tl.expires <= now,
            last_checked=format_time(self.last_checked) if self.last_checked else None,
            last_error=self.last_error.message("en") if self.last_error else None,
        )


# --- a listed file's signer ----------------------------------------------------------------


def signer_cert_sha256(data: bytes) -> str | None:
    """The SHA-256 of the certificate that signed a file issued by a school, or None.

    Read from the signature's CMS in the raw bytes, without a PDF parse: only for files whose
    hash a school's signed status list already lists (so bytes a school produced), to learn
    which key signed them. The first signature value is the certification signature: later
    ones are document timestamps appended to the issued file (B-LTA, extended copies). A file
    with no signature value gives None.
    """
    found = list(itertools.islice(signature_values(data), 1))
    if not found or found[0] is None:
        return None
    try:
        info = cms.ContentInfo.load(found[0])
        signed = info["content"]
        signer = signed["signer_infos"][0]["sid"]
        if signer.name != "issuer_and_serial_number":
            return None
        wanted = signer.chosen
        serial, issuer = wanted["serial_number"].native, wanted["issuer"]
        for choice in signed["certificates"]:
            cert = choice.chosen
            # The serial number first: comparing names runs LDAP string preparation over
            # each, most of a national answer's time when it ran for every certificate.
            if cert.serial_number != serial:
                continue
            if cert.issuer.dump() == issuer.dump() or cert.issuer == issuer:
                return hashlib.sha256(cert.dump()).hexdigest()
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return None


# --- an issuance logged before a compromise ------------------------------------------------


def logged_before(
    log: PublishedLog,
    keys: Iterable[ec.EllipticCurvePublicKey],
    ref: LogRef,
    index: int,
    deadline: dt.datetime,
) -> str | None:
    """The time of the first checkpoint holding leaf ``index``, if it is before ``deadline``.

    That checkpoint is signed by the school's status-list key, dated by its ``time`` line, and
    proven a prefix of the checkpoint ``ref`` (whose inclusion proof the caller checked): so
    the leaf was in the log at that time. Returns None when no such checkpoint is before the
    deadline.

    Raises:
        CertsealError: a checkpoint or a proof does not verify, or a file is missing.
    """
    sizes = log.sizes()
    first = next((s for s in sizes if s > index), None)
    if first is None or first > ref.size:
        return None
    cp = log.open(ref.origin, list(keys), first)
    at = checkpoint_time(cp)
    if at is None or parse_time(at) >= deadline:
        return None
    if first != ref.size:
        proof = log.tree(ref.size).consistency_proof(first)
        tlog.verify_consistency(proof, cp.root_hash, ref.root)
    return at


# --- judging an upload against the trust list (the engine's national steps) ---------------

LoggedBefore = Callable[[dt.datetime], "str | None"]
"""When the school's log first held a document, if before the given time (else None)."""

STATE_ZH = {"active": "正常", "suspended": "停權", "merged": "合併", "closed": "停辦"}


def _school_names(school: SchoolEntry, prefix: str = "school") -> dict[str, str]:
    return {prefix: school.profile.name_en, f"{prefix}_zh": school.profile.name_zh}


@dataclass(frozen=True)
class Refusal:
    """The answer for a file listed by no school, when no school's list can answer it."""

    check: Check
    reason: Reason
    http: int = 200


def unlisted_signer(reason: Reason) -> Reason:
    """Nationally, a signature chaining to no school's certificate of the trust list is by a
    school that is not (or no longer) a member: say so rather than "untrusted signer"."""
    if reason.code == "untrusted_signer":
        return Reason("school_not_in_trust_list", reason.params)
    return reason


def unlisted(
    fed: Federated,
    anchor: str | None,
    loaded: list[tuple[StatusSource, TrustedState]],
) -> tuple[StatusSource, TrustedState] | Refusal:
    """The list to report a file listed by no school against: its signer's school's.

    ``anchor`` is the SHA-256 (hex) of the certificate the signature chained to (a school's
    signing certificate; a re-saved copy's kept signature too); None when the signature is not
    a school's, or not valid.
    """
    holders = [] if anchor is None else fed.trust_list.holders(cert_sha256=anchor)
    if not holders:
        return Refusal(
            Check("status_list", "failed", "status_missing_federation"), Reason("not_issued")
        )
    school = holders[0][0]
    names = _school_names(school)
    for src, state in loaded:
        if isinstance(src, SchoolSource) and src.school_id == school.school_id:
            return src, state
    own = fed.sources.get(school.school_id)
    error = fed.errors.get(school.school_id) if own is None else own.last_error
    if isinstance(error, StatusListOfAnotherSchoolError):
        other = own.other_signer if own is not None and own.other_signer else "?"
        return Refusal(
            Check("status_list", "failed", "status_other_school", {**names, "other": other}),
            Reason("status_list_of_another_school", {**names, "other": other}),
        )
    return Refusal(
        Check("status_list", "failed", "status_unavailable"), Reason("status_unavailable"), 503
    )


def choose_listing(
    fed: Federated | None,
    hits: list[tuple[StatusSource, Entry]],
    signer: str | None,
) -> tuple[StatusSource, Entry]:
    """Of the lists holding a file, the one of the school whose key signed it, if any."""
    for src, entry in hits:
        if signed_own(fed, src, signer):
            return src, entry
    return hits[0]


def own_first(fed: Federated, sources: list[StatusSource], signer: str) -> list[StatusSource]:
    """``sources`` with the lists of the schools whose key ``signer`` is first."""
    ids = {s.school_id for s, _ in fed.trust_list.holders(cert_sha256=signer)}
    own = [s for s in sources if isinstance(s, SchoolSource) and s.school_id in ids]
    return own + [s for s in sources if s not in own] if own else sources


def signed_own(fed: Federated | None, src: StatusSource, signer: str | None) -> bool:
    """Whether ``src`` is the list of a school whose key ``signer`` is: its listing answers,
    whatever another school's list holds (so no other list needs asking)."""
    if fed is None or signer is None or not isinstance(src, SchoolSource):
        return False
    return any(s.school_id == src.school_id for s, _ in fed.trust_list.holders(cert_sha256=signer))


@dataclass(frozen=True)
class SchoolJudgement:
    """The ``trust_list`` check of a listed file, its reasons, and what the document shows."""

    check: Check
    reasons: tuple[Reason, ...]
    document: dict[str, Any]


_KEY_REASONS = {
    "unknown_key": "school_not_in_trust_list",
    "key_of_another_school": "listed_by_another_school",
    "key_claimed_twice": "untrusted_signer",
    "wrong_key_role": "untrusted_signer",
    "key_not_valid_at_issuance": "key_not_valid_at_issuance",
    "key_revoked_before_issuance": "key_not_valid_at_issuance",
    "key_compromised_before_issuance": "key_compromised",
    "school_not_active_at_issuance": "school_not_active",
}


def judge_listed(
    fed: Federated,
    src: SchoolSource,
    entry: Entry,
    signer: str | None,
    log_check: Check,
    logged: LoggedBefore,
) -> SchoolJudgement:
    """Judge a listed file's signing key as of its issuance, and the school's state.

    The issuance time is the one the school's signed status list gives (``entry.issued_at``),
    never the PDF's own signing time; for a key compromised after it, the school's log must
    show the document before the compromise (docs/verifier.md, "When was it issued").
    """
    tl = fed.trust_list
    school = src.school
    issued_at = parse_time(entry.issued_at, "entry issued_at")
    names = {**_school_names(school), "issued_at": entry.issued_at}
    if signer is None:
        problem = {"detail": "no single signature to attribute", "detail_zh": "無單一簽章可歸屬"}
        return SchoolJudgement(
            Check("trust_list", "failed", "school_key_problem", problem),
            (Reason("signature_invalid"),),
            {},
        )
    judged = tl.check_key(issued_at, "signing", cert_sha256=signer, school_id=school.school_id)
    key = judged.key
    outcome, logged_at = _proven_before(judged, log_check, logged)
    if outcome in _KEY_REASONS:
        return _refused(judged, outcome, names, key)
    document: dict[str, Any] = {"school_state": school.profile.current.state}
    current = school.profile.current
    since = format_time(current.at)
    reasons: tuple[Reason, ...] = ()
    if current.state in ("merged", "closed") and current.successor is not None:
        heir = tl.school(current.successor)
        heir_names = _school_names(heir, "successor") if heir else {"successor": current.successor}
        document["records_kept_by"] = current.successor
        if heir is not None:
            document["records_kept_by_name"] = {
                "en": heir.profile.name_en,
                "zh-TW": heir.profile.name_zh,
            }
        check = Check(
            "trust_list",
            "passed",
            "school_records_kept",
            {
                **names,
                **heir_names,
                "state": current.state,
                "state_zh": STATE_ZH[current.state],
                "since": since,
            },
        )
    elif logged_at is not None:
        assert key is not None and key.revoked_at is not None
        check = Check(
            "trust_list",
            "passed",
            "school_key_logged",
            {**names, "revoked_at": format_time(key.revoked_at), "logged_at": logged_at},
        )
    else:
        check = Check("trust_list", "passed", "school_key_valid", names)
    if current.state == "suspended":
        reasons = (Reason("school_suspended", {**names, "since": since}),)
    return SchoolJudgement(check, reasons, document)


def _proven_before(
    judged: KeyCheck, log_check: Check, logged: LoggedBefore
) -> tuple[str, str | None]:
    """The outcome once the log is asked: a key compromised after the issuance counts only
    when the log held the document before the compromise (then also that time)."""
    key = judged.key
    if judged.outcome != "valid_if_logged":
        return judged.outcome, None
    assert key is not None and key.revoked_at is not None
    logged_at = None
    if log_check.status == "passed":
        try:
            logged_at = logged(key.revoked_at)
        except CertsealError:
            logged_at = None
    if logged_at is None:
        return "key_compromised_before_issuance", None
    return judged.outcome, logged_at


def judge_own_key(
    history: KeyHistory,
    issuer: Issuer,
    entry: Entry,
    signer: str | None,
    log_check: Check,
    logged: LoggedBefore,
) -> SchoolJudgement:
    """A single school's verifier: judge a listed file's signing key by the school's own
    published key history (docs/key-lifecycle.md), with the national rule and answers.

    ``signer`` is the certificate that signed the file; None (a file with more than one
    signature value, such as an extended copy) attributes it to the key whose window holds
    the issuance, which is the one the authority signed with then."""
    issued_at = parse_time(entry.issued_at, "entry issued_at")
    names = {"school": issuer.name_en, "school_zh": issuer.name_zh, "issued_at": entry.issued_at}
    if signer is None:
        in_window = history.signing_key_at(issued_at)
        signer = None if in_window is None else in_window.cert_sha256
    judged = judge(history, signer, issued_at)
    outcome, logged_at = _proven_before(judged, log_check, logged)
    key = judged.key
    if outcome in _KEY_REASONS:
        return _refused(judged, outcome, names, key)
    if logged_at is not None:
        assert key is not None and key.revoked_at is not None
        params = {**names, "revoked_at": format_time(key.revoked_at), "logged_at": logged_at}
        return SchoolJudgement(Check("trust_list", "passed", "school_key_logged", params), (), {})
    return SchoolJudgement(Check("trust_list", "passed", "school_key_valid", names), (), {})


def _refused(
    judged: KeyCheck, outcome: str, names: dict[str, str], key: KeyRecord | None
) -> SchoolJudgement:
    en, zh = KEY_OUTCOMES[outcome]
    params: dict[str, Any] = {**names, "detail": en, "detail_zh": zh}
    if key is not None:
        params.update(valid_from=format_time(key.valid_from), valid_to=format_time(key.valid_to))
        if key.revoked_at is not None:
            at = format_time(key.revoked_at)
            params.update(
                revoked_at=at, revoked=f", revoked on {at}", revoked_zh=f"，已於 {at} 撤銷"
            )
    if outcome == "key_of_another_school" and judged.school is not None:
        params.update(_school_names(judged.school, "signer_school"))
    if outcome == "school_not_active_at_issuance" and judged.school is not None:
        step = judged.school.profile.state_at(judged.issued_at)
        state = "not yet admitted" if step is None else step.state
        params.update(state=state, state_zh=STATE_ZH.get(state, "尚未加入"))
    if outcome == "unknown_key":
        params["signer"] = "?"
    return SchoolJudgement(
        Check("trust_list", "failed", "school_key_problem", params),
        (Reason(_KEY_REASONS[outcome], params),),
        {},
    )
