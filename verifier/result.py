"""The verifier's answer: every check it ran, every reason, and one verdict computed in one place.

``Verification.to_dict`` is the public API contract (docs/verifier-api.md, openapi.yaml); its
field names and reason codes are stable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from certseal.statuslist import REASON_CODES
from certseal.timeutil import DEFAULT_TIME_ZONE, people_time
from verifier.messages import Lang, check_detail, next_steps, reason_message
from verifier.twin import Twin

CheckStatus = Literal["passed", "failed", "skipped"]
Verdict = Literal["success", "warning", "failure"]

FAILURE_CODES = (
    "empty_file",
    "too_large",
    "not_pdf",
    "zip_archive",
    "malformed_pdf",
    "encrypted",
    "no_signature",
    "signature_invalid",
    "modified_after_signing",
    "untrusted_signer",
    "not_issued",
    "revoked",
    "status_unavailable",
    "busy",
    "bad_request",
    "form_unreadable",
    # An address or a method the verifier does not serve (the app's and the front's 404, 405).
    "not_found",
    "method_not_allowed",
    # A copy of an issued document, re-saved by a PDF program: named, never a success.
    "resaved_copy",
    # Its one signature no longer readable in a re-saved or changed file (pypdf's re-saves of
    # print-locked documents): said in plain words rather than "damaged PDF".
    "signature_damaged",
    # A batch refused as a whole (verifier/batch.py): nothing in it was checked.
    "batch_empty",
    "batch_too_many",
    "batch_too_large",
    "archive_nested",
    "archive_unsafe_name",
    "archive_duplicate_name",
    "archive_ratio",
    "archive_damaged",
    "receipt_unavailable",
    # A file sent from a page of a site the operator does not list (verifier/cors.py).
    "origin_not_allowed",
    # The national verifier (docs/verifier.md, "National"): the school and key at issuance.
    "school_not_in_trust_list",
    "school_not_active",
    "key_not_valid_at_issuance",
    "key_compromised",
    "status_list_of_another_school",
    "listed_by_another_school",
    # Past the signing certificate's validity (verifier/longterm.py): AdES could not prove it.
    "long_term_unproven",
    "signed_after_revocation",
)
WARNING_CODES = (
    "superseded",
    "verification_limit_reached",
    "status_stale",
    "school_suspended",
)
# Checks that fail with a warning, not a failure: the document is authentic, and the reason
# they give is a warning (superseded, verification limit, stale list). Their answer carries
# ``severity: warning`` next to ``status: failed``, and pages show them as a warning.
WARNING_CHECKS = ("state_superseded", "count_reached", "status_stale")

_REASON_CODES = frozenset(FAILURE_CODES + WARNING_CODES)
_FAILURES = frozenset(FAILURE_CODES)

# Checks and reasons rendered as JSON once per wording: most of an answer is the same for every
# upload of a document (and for many documents), and rendering it costs more than finding it.
_RENDERED: dict[tuple[Any, ...], str] = {}
_RENDERED_MAX = 50_000


def dumps(value: Any) -> str:
    """The answer's JSON form: compact, keys sorted (what ``to_json`` reproduces)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _rendered(
    head: tuple[str, ...], params: dict[str, Any], render: Callable[[], dict[str, Any]]
) -> str:
    # Keyed by value only where the value decides the text: a string or an integer (True
    # equals 1 as a key but not in JSON; anything else is rendered each time).
    if any(type(v) is not str and type(v) is not int for v in params.values()):
        return dumps(render())
    key = (*head, *params.items())
    text = _RENDERED.get(key)
    if text is None:
        if len(_RENDERED) >= _RENDERED_MAX:
            _RENDERED.clear()  # bounded: a flood of distinct wordings costs a re-render only
        text = _RENDERED[key] = dumps(render())
    return text


def _kept_json(
    part: object,
    head: tuple[str, ...],
    params: dict[str, Any],
    render: Callable[[], dict[str, Any]],
    lang: str,
    zone: str,
) -> str:
    """A check's or reason's JSON in ``lang`` and ``zone``, kept on the (frozen) object: the
    engine answers with the same ones again (those a listing proves, a list's own, the
    constant ones), so most of an answer is a look-up."""
    memo: dict[tuple[str, str], str] | None = part.__dict__.get("_json")
    if memo is None:
        memo = {}
        object.__setattr__(part, "_json", memo)
    text = memo.get((lang, zone))
    if text is None:
        text = memo[lang, zone] = _rendered(head, params, render)
    return text


@dataclass(frozen=True)
class Check:
    """One check the verifier ran; ``detail`` is a message key with its parameters."""

    name: str
    status: CheckStatus
    detail: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def severity(self) -> Verdict | None:
        """How bad a failed check is: ``warning`` for :data:`WARNING_CHECKS`, else failure."""
        if self.status != "failed":
            return None
        return "warning" if self.detail in WARNING_CHECKS else "failure"

    def to_dict(self, lang: Lang, zone: str = DEFAULT_TIME_ZONE) -> dict[str, Any]:
        d = {
            "name": self.name,
            "status": self.status,
            "detail": check_detail(self.detail, lang, self.params, zone),
        }
        if self.severity == "warning":
            d["severity"] = "warning"  # added field: ``status`` keeps its three values
        return d

    def to_json(self, lang: Lang, zone: str = DEFAULT_TIME_ZONE) -> str:
        head = ("check", self.name, self.status, self.detail, lang, zone)
        return _kept_json(self, head, self.params, lambda: self.to_dict(lang, zone), lang, zone)


@dataclass(frozen=True)
class Reason:
    code: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.code not in _REASON_CODES:
            raise ValueError(f"unknown reason code {self.code}")

    @property
    def severity(self) -> Verdict:
        return "failure" if self.code in _FAILURES else "warning"

    def to_dict(self, lang: Lang, zone: str = DEFAULT_TIME_ZONE) -> dict[str, Any]:
        return {"code": self.code, "message": reason_message(self.code, lang, self.params, zone)}

    def to_json(self, lang: Lang, zone: str = DEFAULT_TIME_ZONE) -> str:
        head = ("reason", self.code, lang, zone)
        return _kept_json(self, head, self.params, lambda: self.to_dict(lang, zone), lang, zone)


@dataclass(frozen=True)
class DocumentInfo:
    """What the status list says of the document: type, issuer, dates, state. Nothing personal."""

    sha256: str
    type: str | None = None
    type_name: dict[str, str] | None = None
    issuer: str | None = None
    issuer_name: dict[str, str] | None = None
    issued_at: str | None = None
    state: str | None = None
    successor: str | None = None
    superseded_at: str | None = None
    revoked_at: str | None = None
    revocation_reason: str | None = None
    # National verifier: the school's state in the trust list now, and the school that keeps
    # its records once it merged or closed.
    school_state: str | None = None
    records_kept_by: str | None = None
    records_kept_by_name: dict[str, str] | None = None

    def to_json(self, lang: Lang) -> str:
        """``dumps(self.to_dict(lang))``, kept on the object: the engine answers with the same
        one again for a document its list lists (verifier/engine.py)."""
        memo: dict[str, str] | None = self.__dict__.get("_json")
        if memo is None:
            memo = {}
            object.__setattr__(self, "_json", memo)
        text = memo.get(lang)
        if text is None:
            text = memo[lang] = dumps(self.to_dict(lang))
        return text

    def to_dict(self, lang: Lang) -> dict[str, Any]:
        d: dict[str, Any] = {
            "sha256": self.sha256,
            "type": self.type,
            "type_name": (self.type_name or {}).get(lang),
            "issuer": (self.issuer_name or {}).get(lang) or self.issuer,
            "issuer_code": self.issuer,
            "issued_at": self.issued_at,
            "state": self.state,
        }
        for key in (
            "successor",
            "superseded_at",
            "revoked_at",
            "revocation_reason",
            "school_state",
        ):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        if self.records_kept_by is not None:
            d["records_kept_by"] = {
                "code": self.records_kept_by,
                "name": (self.records_kept_by_name or {}).get(lang) or self.records_kept_by,
            }
        return d


@dataclass(frozen=True)
class StatusListInfo:
    issuer: str
    version: int
    issued_at: str
    expires: str
    stale: bool
    checkpoint: dict[str, Any] | None = None  # the transparency-log checkpoint it is bound to

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "issuer": self.issuer,
            "version": self.version,
            "issued_at": self.issued_at,
            "expires": self.expires,
            "stale": self.stale,
        }
        if self.checkpoint is not None:
            d["checkpoint"] = self.checkpoint
        return d

    @cached_property
    def json_text(self) -> str:
        return dumps(self.to_dict())


@dataclass(frozen=True)
class Verification:
    checks: tuple[Check, ...]
    reasons: tuple[Reason, ...]
    document: DocumentInfo | None = None
    verifications: tuple[int, int] | None = None  # (used, limit)
    status_list: StatusListInfo | None = None
    http_status: int = 200
    # The document's machine-readable twin, shown beside the verdict; never decides it.
    twin: Twin | None = None

    @cached_property
    def result(self) -> Verdict:
        """The worst reason decides: any failure fails, else any warning warns (worked out
        once: the answer and its log line both ask)."""
        severities = {r.severity for r in self.reasons}
        if "failure" in severities:
            return "failure"
        if "warning" in severities:
            return "warning"
        return "success"

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def to_dict(self, lang: Lang, zone: str = DEFAULT_TIME_ZONE) -> dict[str, Any]:
        """The answer in ``lang``; times in its sentences are written for people in ``zone``
        (its fields keep RFC 3339 UTC)."""
        return {
            "result": self.result,
            "reasons": [r.to_dict(lang, zone) for r in self.reasons],
            "checks": [c.to_dict(lang, zone) for c in self.checks],
            "document": None if self.document is None else self.document.to_dict(lang),
            "verifications": None
            if self.verifications is None
            else {"used": self.verifications[0], "limit": self.verifications[1]},
            "status_list": None if self.status_list is None else self.status_list.to_dict(),
            "lang": lang,
            # Added, optional: only when the document carries a readable twin.
            **({} if self.twin is None else {"twin": self.twin.to_dict()}),
        }

    def to_json(self, lang: Lang, zone: str = DEFAULT_TIME_ZONE) -> str:
        """``dumps(self.to_dict(lang, zone))``, byte for byte, from fragments rendered once."""
        used = self.verifications
        counts = "null" if used is None else f'{{"limit":{used[1]},"used":{used[0]}}}'
        checks = ",".join([c.to_json(lang, zone) for c in self.checks])
        reasons = ",".join([r.to_json(lang, zone) for r in self.reasons])
        document = "null" if self.document is None else self.document.to_json(lang)
        listed = "null" if self.status_list is None else self.status_list.json_text
        twin = "" if self.twin is None else f'"twin":{self.twin.json_text},'
        # Keys in sorted order, as ``dumps`` writes them; a Lang and a Verdict are plain ASCII.
        return (
            f'{{"checks":[{checks}],"document":{document},"lang":"{lang}",'
            f'"reasons":[{reasons}],"result":"{self.result}","status_list":{listed},'
            f'{twin}"verifications":{counts}}}'
        )


@dataclass(frozen=True)
class PageView:
    """What the no-JavaScript result page (verify/result.html) shows of a verification: the
    answer, the advice keys, and times written for people in the reader's language."""

    r: dict[str, Any]
    verdict: Verdict
    next_steps: tuple[str, ...]
    lang: Lang
    zone: str

    def when(self, iso: str | None) -> str:
        return people_time(iso, self.lang, self.zone) if iso else ""


def page_view(result: Verification, lang: Lang, zone: str = DEFAULT_TIME_ZONE) -> PageView:
    """The page's view of ``result`` (the same advice rules as the site's script)."""
    r = result.to_dict(lang, zone)
    doc = r["document"]
    if doc and doc.get("revocation_reason"):
        en, zh = REASON_CODES.get(doc["revocation_reason"], REASON_CODES["other"])
        doc["revocation_reason_text"] = zh if lang == "zh-TW" else en
    steps = tuple(next_steps(result.result, result.codes))
    return PageView(r, result.result, steps, lang, zone)
