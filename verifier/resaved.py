"""Which issued document a re-saved copy's signature was made for (docs/evaluators.md).

A PDF program that rewrites an issued file keeps the school's signature but not the bytes it
signed. The PDF stage (verifier/pdfcheck.py) proves the signature is the school's and valid
over its signed attributes, and hands over what it found (:class:`ResavedCopy`): the signature
digest (certseal/sigdigest.py), the root it chained to, and what the copy's twin says. Here the
digest is looked up: the verifier's store indexes the school's published entries by digest (a
hint: the entry itself is then read from the signed status list, and its ``sig`` must be the
digest), and the answer names the entry's type, issue date and state, all from the signed list.

What it never does is vouch for the copy's contents: anyone can graft one document's signature
onto other content. The document number comes only from the copy's own twin, signed by the
school, and only when the twin agrees with the entry (type and issue date) and the entry is the
only document of its type the school listed that day, so a twin taken from another document
cannot lend its number.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from certseal.doctypes import DOCUMENT_TYPES
from certseal.errors import CertsealError, IndexBusyError
from certseal.statuslist import (
    REASON_CODES,
    Bucket,
    Entry,
    Shard,
    TrustedState,
    bucket_path,
    fetch_pinned,
    shard_path,
)
from verifier.result import Check, DocumentInfo, Reason, StatusListInfo, Verification
from verifier.status import StatusSource
from verifier.store import Store

if TYPE_CHECKING:  # the national verifier's types; nothing of it is needed to run this
    from verifier.federation import Federated

_HEX64 = re.compile(r"[0-9a-f]{64}")
# One thread per process and school reads the shards for the signature index (index()).
_INDEXING: dict[str, threading.Lock] = {}
_INDEXING_LOCK = threading.Lock()
# A document number as the school's format prints it (e.g. DEMO-DIP-2026-000001, or
# 「(115)示大字第000123號」): printable, on one line, short.
_NUMBER = re.compile(r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,78}[^\s\x00-\x1f\x7f])?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class ResavedCopy:
    """What the PDF stage established of a re-saved copy: the school's signature, valid over
    its signed attributes, kept around bytes it does not cover.

    ``sig``: the signature digest; ``root``: SHA-256 (hex) of the configured root (or, in the
    national verifier, the school's certificate) it chained to; ``twin_name`` and
    ``twin_valid_from``: the copy's twin's ``name`` and ``validFrom`` when its own signature
    holds with the PDF signer's key, else None; ``signer``: SHA-256 (hex) of the signing
    certificate, by which the key is judged as of the named document's issuance.
    """

    sig: str
    root: str
    twin_name: str | None = None
    twin_valid_from: str | None = None
    signer: str | None = None

    def __post_init__(self) -> None:
        for value in (self.sig, self.root, *([] if self.signer is None else [self.signer])):
            if not isinstance(value, str) or not _HEX64.fullmatch(value):
                raise ValueError("a re-saved copy's digests are 64 lower-case hex digits")
        for text in (self.twin_name, self.twin_valid_from):
            if text is not None and (not isinstance(text, str) or len(text) > 200):
                raise ValueError("a twin's name and date are short strings")

    def to_dict(self) -> dict[str, Any]:
        return {
            "sig": self.sig,
            "root": self.root,
            "twin_name": self.twin_name,
            "twin_valid_from": self.twin_valid_from,
            "signer": self.signer,
        }

    @classmethod
    def from_dict(cls, d: object) -> ResavedCopy:
        if not isinstance(d, dict):
            raise TypeError("a re-saved copy is an object")
        return cls(
            d["sig"], d["root"], d.get("twin_name"), d.get("twin_valid_from"), d.get("signer")
        )


@dataclass(frozen=True)
class Identified:
    """The entry a re-saved copy's signature was made for, and the number its twin gives
    when that is unambiguous (else None)."""

    entry: Entry
    number: str | None


def identify(
    copy: ResavedCopy, src: StatusSource, state: TrustedState, store: Store
) -> Identified | None:
    """The issued document whose signature the copy keeps; None when the school's list names
    none, or more than one, with that digest (then nothing is named beyond the school).

    Raises:
        CertsealError: a published file could not be fetched or is not the one pinned.
    """
    issuer = src.trust.name
    index(src, state, store)
    found = store.by_signature(issuer, copy.sig)
    if len(found) != 1:
        return None
    # The index only points; the signed list decides (a stale or altered index names nothing).
    entry = src.lookup(state, found[0])
    if entry is None or entry.sig != copy.sig:
        return None
    return Identified(entry, _twin_number(copy, entry, store, issuer))


def index(src: StatusSource, state: TrustedState, store: Store) -> None:
    """Index every entry of the current publication by its signature digest, reading only the
    shards no worker indexed before (shards are content-addressed: an indexed shard never
    changes). Done once per publication, by the first re-saved copy that needs it."""
    issuer = src.trust.name
    snapshot = state.timestamp.snapshot.sha256
    if snapshot in store.indexed(issuer):
        return
    with _INDEXING_LOCK:
        lock = _INDEXING.setdefault(issuer, threading.Lock())
    if not lock.acquire(blocking=False):
        # Another thread is reading this school's shards: this copy is named after the school
        # alone rather than holding a thread while it waits (a flood of copies after a
        # publication must not take the threads genuine documents need).
        raise IndexBusyError("the list's signature index is being built", "正在建立清單的簽章索引")
    try:
        _index(src, state, store, issuer, snapshot)
    finally:
        lock.release()


def _index(
    src: StatusSource, state: TrustedState, store: Store, issuer: str, snapshot: str
) -> None:
    done = store.indexed(issuer)
    if snapshot in done:
        return  # indexed by another thread or worker meanwhile
    for bref in state.snapshot.buckets.values():
        bucket = Bucket.from_bytes(fetch_pinned(src.fetch, bucket_path(bref), bref, "bucket"))
        for sref in bucket.shards.values():
            if sref.sha256 in done:
                continue
            shard = Shard.from_bytes(fetch_pinned(src.fetch, shard_path(sref), sref, "shard"))
            rows = [(e.sha256, e.sig, e.doc_type, e.issued_at) for e in shard.entries]
            store.record_indexed(issuer, sref.sha256, rows)
    store.record_indexed(issuer, snapshot, [])


def _twin_number(copy: ResavedCopy, entry: Entry, store: Store, issuer: str) -> str | None:
    """The number the copy's verified twin gives, if the twin can only be this entry's: its
    name is "<type's English name> <number>" for the entry's type, its ``validFrom`` falls on
    the entry's issue day (the authority dates both from the same clock), and no other
    document of that type was listed that day."""
    dtype = DOCUMENT_TYPES.get(entry.doc_type)
    name, valid_from = copy.twin_name, copy.twin_valid_from
    if dtype is None or name is None or valid_from is None:
        return None
    prefix = f"{dtype.name_en} "
    number = name[len(prefix) :] if name.startswith(prefix) else ""
    day = entry.issued_at[:10]
    if not _NUMBER.fullmatch(number) or not _DAY.match(valid_from) or valid_from[:10] != day:
        return None
    if store.issued_alike(issuer, entry.doc_type, day) != 1:
        return None  # another document of this type that day could have lent its twin
    return number


def copy_of(found: Identified | None, names: dict[str, str], school: str) -> dict[str, str]:
    """The words naming what a re-saved copy is a copy of, in both languages (the reason
    ``resaved_copy``'s ``copy_of`` parameters): the issued document from the signed list, or
    only the school whose key signed when no entry is found."""
    if found is None:
        return {
            "copy_of": f"a document signed by {school}",
            "copy_of_zh": f"{school} 簽署之文件",
        }
    entry = found.entry
    dtype = DOCUMENT_TYPES.get(entry.doc_type)
    type_zh = dtype.name_zh if dtype else entry.doc_type
    number_zh = ""
    if found.number is None:
        what = dtype.in_sentence(article=True) if dtype else f"a document ({entry.doc_type})"
    else:
        name = dtype.in_sentence() if dtype else entry.doc_type
        what = f"the {name} {found.number} (the number as the copy's own signed data gives it)"
        number_zh = f"（字號 {found.number}，依副本本身經簽署的資料）"
    return {
        "copy_of": f"{what} issued by {names['issuer']} on {entry.issued_at}",
        "copy_of_zh": f"{names['issuer_zh']}於{entry.issued_at}核發之{type_zh}{number_zh}",
    }


def source_of(
    copy: ResavedCopy,
    loaded: list[tuple[StatusSource, TrustedState]],
    root_owner: Mapping[bytes, StatusSource],
    fed: Federated | None,
) -> tuple[StatusSource, TrustedState] | None:
    """The loaded list of the school whose root (nationally: whose certificate) the copy's
    signature chained to; None when that school's list is not loaded."""
    if fed is None:
        src = root_owner.get(bytes.fromhex(copy.root))
    else:
        holders = fed.trust_list.holders(cert_sha256=copy.root)
        src = fed.sources.get(holders[0][0].school_id) if holders else None
    return next(((s, st) for s, st in loaded if s is src), None)


Judge = Callable[[Entry], tuple[tuple[Check, ...], tuple[Reason, ...]]]
"""The engine's judgement of the key as of an entry's issuance (verifier/federation.py): the
entry's ``transparency_log`` and ``trust_list`` checks and their reasons."""


def answer(
    checks: list[Check],
    reasons: list[Reason],
    sha: str,
    copy: ResavedCopy,
    listed: tuple[StatusSource, TrustedState],
    store: Store,
    info: StatusListInfo,
    judge: Judge | None = None,
) -> Verification:
    """The answer for a re-saved copy whose school's list is loaded: a failure that names the
    issued document its signature was made for when the list has it (and says revoked or
    superseded when it is), else the school alone, as before the list carried digests.

    ``judge`` (nationally, or a school with a key history): the named document's key judged
    as of its issuance, so a copy never reads better than its original would (a key not valid
    then, or compromised, a school not active then or suspended since)."""
    src, state = listed
    issuer = state.snapshot.issuer
    names = {"issuer": issuer.name_en, "issuer_zh": issuer.name_zh}
    try:
        found = identify(copy, src, state, store)
    except CertsealError:
        found = None  # an unreadable index or shard: name the school only
    reasons = [
        Reason(r.code, {**r.params, **copy_of(found, names, str(r.params.get("school")))})
        if r.code == "resaved_copy"
        else r
        for r in reasons
    ]
    version = {"version": state.version, **names}
    skipped = [Check(n, "skipped", "skipped_earlier") for n in ("transparency_log",)]
    if found is None:
        checks.append(Check("status_list", "failed", "status_missing", version))
        skipped.append(Check("document_state", "skipped", "skipped_earlier"))
        return _failure(checks + skipped, [*reasons, Reason("not_issued")], sha, info)
    entry = found.entry
    dtype = DOCUMENT_TYPES.get(entry.doc_type)
    kind = {
        "type": dtype.name_en if dtype else entry.doc_type,
        "type_zh": dtype.name_zh if dtype else entry.doc_type,
        "issued_at": entry.issued_at,
    }
    checks.append(Check("status_list", "failed", "status_resaved", {**version, **kind}))
    reasons.append(Reason("not_issued"))
    if judge is None:
        checks += skipped
    else:
        judged, why = judge(entry)
        checks += judged
        reasons += why
    if entry.state == "revoked":
        # A copy of a revoked document says so: the re-save must not hide it.
        en, zh = REASON_CODES.get(entry.reason_code or "other", REASON_CODES["other"])
        when = {"revoked_at": entry.revoked_at}
        checks.append(Check("document_state", "failed", "state_revoked", when))
        reasons.append(Reason("revoked", {**when, "reason": en, "reason_zh": zh}))
    elif entry.state == "superseded":
        when = {"superseded_at": entry.superseded_at}
        checks.append(Check("document_state", "failed", "state_superseded", when))
        reasons.append(Reason("superseded", when))
    else:
        checks.append(Check("document_state", "passed", "state_original_active"))
    return _failure(checks, reasons, sha, info)


def _failure(
    checks: list[Check], reasons: list[Reason], sha: str, info: StatusListInfo
) -> Verification:
    checks = [*checks, Check("verification_count", "skipped", "skipped_earlier")]
    return Verification(tuple(checks), tuple(reasons), DocumentInfo(sha), status_list=info)
