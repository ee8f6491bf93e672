"""The published status list: its model, canonical form, signatures and client-side lookup.

This one module is what the authority writes with and what the verifier, the browser check and
the auditor read with; ``docs/status-list.md`` describes the same format for third parties.

Layout under the published ``status/`` folder (TUF-like, see the docs for why)::

    timestamp.json            signed, tiny, polled often: points to the current snapshot
    snapshot/<version>.json   signed: the version, expiry, counts and the hash of every bucket
    buckets/<sha256>.json     unsigned, content-addressed: hashes of the shards in one bucket
    shards/<sha256>.json      unsigned, content-addressed: the entries whose hash share a prefix

A document's entry is found from the first hex digits of its SHA-256: bucket = first
``bucket_prefix_len`` digits, shard = first ``shard_prefix_len`` digits. Every file below the
signed snapshot is pinned by its hash, so pieces of different versions cannot be mixed, an old
snapshot cannot be replayed against a client that saw a newer version, and a frozen one expires.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from certseal.canonical import MAX_SAFE_INTEGER, canonical_bytes, load_json_object
from certseal.errors import (
    BelowPinError,
    DeserializationError,
    ExpiredError,
    HashMismatchError,
    RollbackError,
    SignatureVerificationError,
    VersionMismatchError,
)
from certseal.pki import key_id, sign_raw, verify_raw
from certseal.timeutil import format_time, parse_time

SPEC_VERSION = "1.0"
STATES = ("active", "superseded", "revoked")
REASON_CODES: dict[str, tuple[str, str]] = {
    "degree_revoked": ("The degree was revoked", "學位已撤銷"),
    "issued_in_error": ("The document was issued in error", "文件誤發"),
    "obtained_by_fraud": ("The document was obtained by fraud", "文件係以不正方法取得"),
    "record_corrected": ("The record was corrected; ask for the corrected document", "紀錄已更正"),
    "other": ("Voided by the issuer", "發證單位作廢"),
    # A reissue that voids the old version (NTNU: once reissued, the previous one is invalid).
    "replaced": (
        "A newer version was issued and this one is no longer valid; ask the holder for it",
        "已補發新版本，本版本已失效；請向持有人索取新版本",
    ),
}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_PREFIX = re.compile(r"^[0-9a-f]{1,8}$")
_DOC_TYPE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")

# The most a client reads of each file, to bound what a hostile host can make it do.
MAX_BYTES = {"timestamp": 64 * 1024, "snapshot": 8 << 20, "bucket": 2 << 20, "shard": 8 << 20}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_hex64(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise DeserializationError(f"{what} must be 64 lower-case hex digits")
    return value


def _check_int(value: object, what: str, low: int = 0) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not low <= value <= MAX_SAFE_INTEGER
    ):
        raise DeserializationError(f"{what} must be an integer ≥ {low}")
    return value


def _check_type(data: Mapping[str, Any], expected: str) -> None:
    if data.get("_type") != expected:
        raise DeserializationError(f"expected a {expected} document, got {data.get('_type')!r}")


# -- entries --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One issued document as the public sees it: no names, no student ids, no e-mail."""

    sha256: str
    doc_type: str
    issued_at: str
    limit: int | None
    state: str
    successor: str | None = None
    superseded_at: str | None = None
    reason_code: str | None = None
    revoked_at: str | None = None
    # Leaf indexes of the document's events in the transparency log (docs/transparency.md):
    # its issuance, then its supersession and its revocation if any. None in lists without a log.
    log_indexes: tuple[int, ...] | None = None
    # SHA-256 (hex) of the value of the document's CMS messageDigest attribute: what ties a
    # re-saved copy, which keeps the signature but not the signed bytes, to its entry
    # (docs/status-list.md, "The signature digest"). None for documents listed without it.
    sig: str | None = None

    def __post_init__(self) -> None:
        _check_hex64(self.sha256, "entry sha256")
        if self.sig is not None:
            _check_hex64(self.sig, "entry sig")
        if not isinstance(self.doc_type, str) or not _DOC_TYPE.match(self.doc_type):
            raise DeserializationError("entry type is not a document type code")
        parse_time(self.issued_at, "entry issued_at")
        if self.limit is not None:
            _check_int(self.limit, "entry limit", 1)
        if self.state not in STATES:
            raise DeserializationError(f"entry state {self.state!r} is not one of {STATES}")
        if self.successor is not None:
            _check_hex64(self.successor, "entry successor")
        if (self.successor is None) != (self.superseded_at is None):
            raise DeserializationError("successor and superseded_at go together")
        if self.state == "superseded" and self.successor is None:
            raise DeserializationError("a superseded entry must name its successor")
        if self.state == "active" and (self.successor or self.reason_code or self.revoked_at):
            raise DeserializationError("an active entry has no successor and no revocation")
        if self.superseded_at is not None:
            parse_time(self.superseded_at, "entry superseded_at")
        if (self.state == "revoked") != (self.reason_code is not None):
            raise DeserializationError("a revoked entry, and only it, carries a reason")
        if self.state == "revoked":
            if self.reason_code not in REASON_CODES:
                raise DeserializationError(f"unknown reason code {self.reason_code!r}")
            parse_time(self.revoked_at, "entry revoked_at")
        elif self.revoked_at is not None:
            raise DeserializationError("only a revoked entry has revoked_at")
        if self.log_indexes is not None:
            self._check_log_indexes()

    def _check_log_indexes(self) -> None:
        indexes = self.log_indexes
        if not isinstance(indexes, tuple) or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indexes
        ):
            raise DeserializationError("entry log must be a list of leaf indexes")
        events = 1 + (self.successor is not None) + (self.state == "revoked")
        if len(indexes) != events:
            raise DeserializationError(
                f"a {self.state} entry has {events} log leaves, not {len(indexes)}"
            )
        if any(b <= a for a, b in itertools.pairwise(indexes)):
            raise DeserializationError("entry log indexes must be ascending")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Entry:
        if not isinstance(d, Mapping):
            raise DeserializationError("an entry must be an object")
        return cls(
            sha256=d.get("sha256"),  # type: ignore[arg-type]
            doc_type=d.get("type"),  # type: ignore[arg-type]
            issued_at=d.get("issued_at"),  # type: ignore[arg-type]
            limit=d.get("limit"),
            state=d.get("state"),  # type: ignore[arg-type]
            successor=d.get("successor"),
            superseded_at=d.get("superseded_at"),
            reason_code=d.get("reason"),
            revoked_at=d.get("revoked_at"),
            log_indexes=_log_indexes(d.get("log")),
            sig=d.get("sig"),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "sha256": self.sha256,
            "type": self.doc_type,
            "issued_at": self.issued_at,
            "limit": self.limit,
            "state": self.state,
        }
        for key, value in (
            ("successor", self.successor),
            ("superseded_at", self.superseded_at),
            ("reason", self.reason_code),
            ("revoked_at", self.revoked_at),
        ):
            if value is not None:
                d[key] = value
        if self.log_indexes is not None:
            d["log"] = list(self.log_indexes)
        if self.sig is not None:
            d["sig"] = self.sig
        return d


def _log_indexes(value: object) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise DeserializationError("entry log must be a list of leaf indexes")
    return tuple(value)


# -- files ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileRef:
    """A pinned reference to a published file: its hash is its identity."""

    sha256: str
    length: int = field(compare=False)  # 0: not pinned (read up to MAX_BYTES)
    count: int = field(default=0, compare=False)  # documents below it (the snapshot's pin)

    @classmethod
    def from_dict(cls, d: object, what: str) -> FileRef:
        if not isinstance(d, Mapping):
            raise DeserializationError(f"{what} must be an object")
        return cls(
            _check_hex64(d.get("sha256"), f"{what} sha256"),
            _check_int(d.get("length"), f"{what} length", 1),
            _check_int(d.get("count", 0), f"{what} count"),
        )

    @classmethod
    def pin(cls, value: object, what: str) -> FileRef:
        """A bucket or shard pinned by its hash alone (hex): a third less to download than
        with its length, and the reader's size bound (MAX_BYTES) still applies."""
        return cls(_check_hex64(value, f"{what} sha256"), 0, 0)

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "length": self.length, "count": self.count}


@dataclass(frozen=True)
class Shard:
    prefix: str
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        previous = ""
        for e in self.entries:
            if not e.sha256.startswith(self.prefix):
                raise DeserializationError(
                    f"entry {e.sha256} does not belong in shard {self.prefix}"
                )
            if e.sha256 <= previous:
                raise DeserializationError("shard entries must be sorted and unique")
            previous = e.sha256

    def to_bytes(self) -> bytes:
        return shard_bytes(
            self.prefix,
            [
                (
                    e.sha256,
                    e.doc_type,
                    e.issued_at,
                    e.limit,
                    e.state,
                    e.successor,
                    e.superseded_at,
                    e.reason_code,
                    e.revoked_at,
                    e.log_indexes,
                )
                for e in self.entries
            ],
            {e.sha256: e.sig for e in self.entries if e.sig is not None},
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Shard:
        d = load_json_object(data, "shard")
        _check_type(d, "certseal/shard")
        entries = d.get("entries")
        if not isinstance(entries, list):
            raise DeserializationError("shard entries must be a list")
        return cls(_check_prefix(d.get("prefix")), tuple(Entry.from_dict(e) for e in entries))

    def find(self, sha256: str) -> Entry | None:
        lo, hi = 0, len(self.entries)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.entries[mid].sha256 < sha256:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self.entries) and self.entries[lo].sha256 == sha256:
            return self.entries[lo]
        return None


EntryRow = tuple[
    str, str, str, int | None, str, str | None, str | None, str | None, str | None,
    Sequence[int] | None,
]  # fmt: skip
"""An entry's fields in :class:`Entry`'s order: sha256, type, issued_at, limit, state, successor,
superseded_at, reason, revoked_at, log indexes."""

_ESCAPED = bytes(range(0x20)) + b"\\"


def shard_bytes(
    prefix: str, rows: Iterable[EntryRow], sigs: Mapping[str, str] | None = None
) -> bytes:
    """The canonical bytes of a shard: the one serializer of shard files.

    :meth:`Shard.to_bytes` is this over its entries; a reader of millions of entries (the
    auditor, rebuilding the list from the log) passes their fields without building the models.
    ``sigs`` gives the signature digest (``Entry.sig``) of the entries that have one, by their
    ``sha256``: the log does not record it, so the auditor passes the listed shard's own.
    The bytes are ``canonical_bytes`` of the shard's JSON, written from a template because every
    value is a hash, a code, a time or an integer; a value that JSON would escape (a quote, a
    backslash, a control character) sends the whole shard through ``canonical_bytes`` itself.
    """
    rows = list(rows)
    sigs = sigs or {}
    parts = []
    quotes = 10  # the structural quotes: those of the shard's keys and values, then each entry's
    for sha, doc_type, issued_at, limit, state, successor, sup_at, reason, rev_at, log in rows:
        lim = "null" if limit is None else int(limit)
        sig = sigs.get(sha)
        if sig is not None:
            # Canonical key order puts "sig" between "sha256" and "state".
            sha = f'{sha}","sig":"{sig}'
            quotes += 4
        if successor is None and reason is None and rev_at is None and sup_at is None:
            if log is None:
                parts.append(
                    f'{{"issued_at":"{issued_at}","limit":{lim},"sha256":"{sha}",'
                    f'"state":"{state}","type":"{doc_type}"}}'
                )
                quotes += 18
            else:
                parts.append(
                    f'{{"issued_at":"{issued_at}","limit":{lim},"log":[{",".join(map(str, log))}],'
                    f'"sha256":"{sha}","state":"{state}","type":"{doc_type}"}}'
                )
                quotes += 20
            continue
        text = f'{{"issued_at":"{issued_at}","limit":{lim}'
        quotes += 18
        if log is not None:
            text += f',"log":[{",".join(map(str, log))}]'
            quotes += 2
        if reason is not None:
            text += f',"reason":"{reason}"'
            quotes += 4
        if rev_at is not None:
            text += f',"revoked_at":"{rev_at}"'
            quotes += 4
        text += f',"sha256":"{sha}","state":"{state}"'
        if successor is not None:
            text += f',"successor":"{successor}"'
            quotes += 4
        if sup_at is not None:
            text += f',"superseded_at":"{sup_at}"'
            quotes += 4
        parts.append(f'{text},"type":"{doc_type}"}}')
    body = f'{{"_type":"certseal/shard","entries":[{",".join(parts)}],"prefix":"{prefix}"}}'
    data = body.encode()
    if body.count('"') != quotes or len(data.translate(None, _ESCAPED)) != len(data):
        return canonical_bytes(
            {
                "_type": "certseal/shard",
                "prefix": prefix,
                "entries": [_row_dict(r, sigs) for r in rows],
            }
        )
    return data


def _row_dict(row: EntryRow, sigs: Mapping[str, str]) -> dict[str, Any]:
    """:meth:`Entry.to_dict` of an entry's fields."""
    sha, doc_type, issued_at, limit, state, successor, sup_at, reason, rev_at, log = row
    d: dict[str, Any] = {
        "sha256": sha,
        "type": doc_type,
        "issued_at": issued_at,
        "limit": limit,
        "state": state,
    }
    for key, value in (
        ("successor", successor),
        ("superseded_at", sup_at),
        ("reason", reason),
        ("revoked_at", rev_at),
    ):
        if value is not None:
            d[key] = value
    if log is not None:
        d["log"] = list(log)
    if sha in sigs:
        d["sig"] = sigs[sha]
    return d


def _check_prefix(value: object) -> str:
    if not isinstance(value, str) or not _PREFIX.match(value):
        raise DeserializationError("a prefix must be 1 to 8 lower-case hex digits")
    return value


@dataclass(frozen=True)
class Bucket:
    prefix: str
    shards: Mapping[str, FileRef]

    def __post_init__(self) -> None:
        for p in self.shards:
            if not p.startswith(self.prefix):
                raise DeserializationError(f"shard {p} does not belong in bucket {self.prefix}")

    def to_bytes(self) -> bytes:
        return canonical_bytes(
            {
                "_type": "certseal/bucket",
                "prefix": self.prefix,
                "shards": {p: r.sha256 for p, r in sorted(self.shards.items())},
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Bucket:
        d = load_json_object(data, "bucket")
        _check_type(d, "certseal/bucket")
        shards = d.get("shards")
        if not isinstance(shards, dict):
            raise DeserializationError("bucket shards must be an object")
        return cls(
            _check_prefix(d.get("prefix")),
            {_check_prefix(p): FileRef.pin(r, f"shard {p}") for p, r in shards.items()},
        )


# -- signed metadata ------------------------------------------------------------------------
def sign_envelope(signed: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> bytes:
    """Wrap a signed body in the published envelope (as TUF does): the signature covers the
    canonical bytes of ``signed``."""
    sig = sign_raw(key, canonical_bytes(signed))
    envelope = {"signed": signed, "signatures": [{"keyid": key_id(key.public_key()), "sig": sig}]}
    return canonical_bytes(envelope)


def open_envelope(
    data: bytes, what: str, key_lookup: Callable[[str], ec.EllipticCurvePublicKey | None]
) -> dict[str, Any]:
    """Check the envelope's signature by a trusted key; return the signed body."""
    d = load_json_object(data, what)
    signed = d.get("signed")
    sigs = d.get("signatures")
    if not isinstance(signed, dict) or not isinstance(sigs, list) or not sigs:
        raise DeserializationError(f"{what} must have 'signed' and 'signatures'")
    try:
        payload = canonical_bytes(signed)
    except UnicodeEncodeError as e:  # a lone surrogate escape: no UTF-8 bytes were signed
        raise DeserializationError(f"{what} holds text that is not valid Unicode") from e
    for s in sigs:
        if not isinstance(s, dict) or not isinstance(s.get("keyid"), str):
            raise DeserializationError(f"{what} has a malformed signature entry")
        key = key_lookup(s["keyid"])
        if key is None:
            continue
        sig = s.get("sig")
        if not isinstance(sig, str):
            raise DeserializationError(f"{what} signature must be a string")
        verify_raw(key, payload, sig)
        return signed
    raise SignatureVerificationError(
        f"the {what} is not signed by a trusted status-list key",
        "狀態清單並非由受信任的狀態清單金鑰簽署",
    )


@dataclass(frozen=True)
class Issuer:
    code: str
    name_zh: str
    name_en: str

    @classmethod
    def from_dict(cls, d: object) -> Issuer:
        if not isinstance(d, Mapping) or not all(
            isinstance(d.get(k), str) for k in ("code", "name_zh", "name_en")
        ):
            raise DeserializationError("issuer must have code, name_zh and name_en")
        return cls(d["code"], d["name_zh"], d["name_en"])

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "name_zh": self.name_zh, "name_en": self.name_en}


@dataclass(frozen=True)
class Snapshot:
    issuer: Issuer
    version: int
    issued_at: dt.datetime
    expires: dt.datetime
    bucket_prefix_len: int
    shard_prefix_len: int
    counts: Mapping[str, int]
    buckets: Mapping[str, FileRef]
    extra: Mapping[str, Any] = field(default_factory=dict)  # unknown fields are kept

    def __post_init__(self) -> None:
        _check_int(self.version, "snapshot version", 1)
        if self.expires <= self.issued_at:
            raise DeserializationError("snapshot expires before it is issued")
        if not 1 <= self.bucket_prefix_len <= self.shard_prefix_len <= 8:
            raise DeserializationError("prefix lengths must satisfy 1 ≤ bucket ≤ shard ≤ 8")
        for p in self.buckets:
            if len(p) != self.bucket_prefix_len:
                raise DeserializationError(f"bucket {p} has the wrong prefix length")

    def to_signed(self) -> dict[str, Any]:
        return {
            **self.extra,
            "_type": "certseal/snapshot",
            "spec_version": SPEC_VERSION,
            "issuer": self.issuer.to_dict(),
            "version": self.version,
            "issued_at": format_time(self.issued_at),
            "expires": format_time(self.expires),
            "bucket_prefix_len": self.bucket_prefix_len,
            "shard_prefix_len": self.shard_prefix_len,
            "counts": dict(self.counts),
            "buckets": {p: r.sha256 for p, r in sorted(self.buckets.items())},
        }

    @classmethod
    def from_signed(cls, d: Mapping[str, Any]) -> Snapshot:
        _check_type(d, "certseal/snapshot")
        _check_spec(d)
        buckets = d.get("buckets")
        counts = d.get("counts")
        if not isinstance(buckets, dict) or not isinstance(counts, dict):
            raise DeserializationError("snapshot buckets and counts must be objects")
        known = {
            "_type",
            "spec_version",
            "issuer",
            "version",
            "issued_at",
            "expires",
            "bucket_prefix_len",
            "shard_prefix_len",
            "counts",
            "buckets",
        }
        return cls(
            issuer=Issuer.from_dict(d.get("issuer")),
            version=_check_int(d.get("version"), "snapshot version", 1),
            issued_at=parse_time(d.get("issued_at"), "snapshot issued_at"),
            expires=parse_time(d.get("expires"), "snapshot expires"),
            bucket_prefix_len=_check_int(d.get("bucket_prefix_len"), "bucket_prefix_len", 1),
            shard_prefix_len=_check_int(d.get("shard_prefix_len"), "shard_prefix_len", 1),
            counts={str(k): _check_int(v, f"count {k}") for k, v in counts.items()},
            buckets={_check_prefix(p): FileRef.pin(r, f"bucket {p}") for p, r in buckets.items()},
            extra={k: v for k, v in d.items() if k not in known},
        )

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _check_spec(d: Mapping[str, Any]) -> None:
    spec = d.get("spec_version")
    if not isinstance(spec, str) or spec.split(".")[0] != SPEC_VERSION.split(".")[0]:
        raise DeserializationError(f"unsupported status-list spec_version {spec!r}")


@dataclass(frozen=True)
class Timestamp:
    version: int
    issued_at: dt.datetime
    expires: dt.datetime
    snapshot_path: str
    snapshot: FileRef

    def __post_init__(self) -> None:
        _check_int(self.version, "timestamp version", 1)
        if self.expires <= self.issued_at:
            raise DeserializationError("timestamp expires before it is issued")
        if self.snapshot_path != snapshot_path(self.version):
            raise DeserializationError("timestamp points to a snapshot of another version")

    def to_signed(self) -> dict[str, Any]:
        return {
            "_type": "certseal/timestamp",
            "spec_version": SPEC_VERSION,
            "version": self.version,
            "issued_at": format_time(self.issued_at),
            "expires": format_time(self.expires),
            "snapshot": {"path": self.snapshot_path, **self.snapshot.to_dict()},
        }

    @classmethod
    def from_signed(cls, d: Mapping[str, Any]) -> Timestamp:
        _check_type(d, "certseal/timestamp")
        _check_spec(d)
        snap = d.get("snapshot")
        if not isinstance(snap, dict) or not isinstance(snap.get("path"), str):
            raise DeserializationError("timestamp snapshot must name its path")
        return cls(
            version=_check_int(d.get("version"), "timestamp version", 1),
            issued_at=parse_time(d.get("issued_at"), "timestamp issued_at"),
            expires=parse_time(d.get("expires"), "timestamp expires"),
            snapshot_path=snap["path"],
            snapshot=FileRef.from_dict(snap, "timestamp snapshot"),
        )

    def is_expired(self, reference_time: dt.datetime) -> bool:
        return reference_time >= self.expires


def snapshot_path(version: int) -> str:
    return f"snapshot/{version}.json"


def bucket_path(ref: FileRef) -> str:
    return f"buckets/{ref.sha256}.json"


def shard_path(ref: FileRef) -> str:
    return f"shards/{ref.sha256}.json"


# -- building (the authority's side) --------------------------------------------------------
@dataclass(frozen=True)
class BuiltList:
    """Every file of one publication, keyed by its path under ``status/``."""

    timestamp: Timestamp
    snapshot: Snapshot
    files: Mapping[str, bytes]


def build_shards(entries: Iterable[Entry], shard_prefix_len: int) -> dict[str, Shard]:
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.sha256[:shard_prefix_len], []).append(e)
    return {
        p: Shard(p, tuple(sorted(g, key=lambda e: e.sha256))) for p, g in sorted(groups.items())
    }


def build_publication(
    shards: Mapping[str, Shard],
    *,
    issuer: Issuer,
    version: int,
    issued_at: dt.datetime,
    expires: dt.datetime,
    key: ec.EllipticCurvePrivateKey,
    bucket_prefix_len: int = 2,
    shard_prefix_len: int = 4,
    extra: Mapping[str, Any] | None = None,
    timestamp_expires: dt.datetime | None = None,
) -> BuiltList:
    """Serialize and sign a whole publication (see ``update_publication`` for the next one).

    ``expires`` is the snapshot's; ``timestamp_expires`` (at most that, by default equal) is
    the short-lived timestamp's, renewed by ``renew_timestamp`` between publications."""
    files: dict[str, bytes] = {}
    counts = dict.fromkeys(STATES, 0)
    bucket_shards: dict[str, dict[str, FileRef]] = {}
    for prefix, shard in shards.items():
        body = shard.to_bytes()
        ref = FileRef(sha256_hex(body), len(body), len(shard.entries))
        files[shard_path(ref)] = body
        for state, n in _state_counts(shard).items():
            counts[state] += n
        bucket_shards.setdefault(prefix[:bucket_prefix_len], {})[prefix] = ref
    buckets: dict[str, FileRef] = {}
    for bp, refs in sorted(bucket_shards.items()):
        body = Bucket(bp, refs).to_bytes()
        ref = FileRef(sha256_hex(body), len(body))
        files[bucket_path(ref)] = body
        buckets[bp] = ref
    return _sign_publication(
        files,
        buckets,
        counts,
        issuer=issuer,
        version=version,
        issued_at=issued_at,
        expires=expires,
        key=key,
        bucket_prefix_len=bucket_prefix_len,
        shard_prefix_len=shard_prefix_len,
        extra=extra,
        timestamp_expires=timestamp_expires,
    )


def _sign_publication(
    files: dict[str, bytes],
    buckets: Mapping[str, FileRef],
    counts: Mapping[str, int],
    *,
    issuer: Issuer,
    version: int,
    issued_at: dt.datetime,
    expires: dt.datetime,
    key: ec.EllipticCurvePrivateKey,
    bucket_prefix_len: int,
    shard_prefix_len: int,
    extra: Mapping[str, Any] | None,
    timestamp_expires: dt.datetime | None,
) -> BuiltList:
    snapshot = Snapshot(
        issuer=issuer,
        version=version,
        issued_at=issued_at,
        expires=expires,
        bucket_prefix_len=bucket_prefix_len,
        shard_prefix_len=shard_prefix_len,
        counts=dict(counts),
        buckets=dict(buckets),
        extra=dict(extra or {}),
    )
    snap_bytes = sign_envelope(snapshot.to_signed(), key)
    files[snapshot_path(version)] = snap_bytes
    timestamp = Timestamp(
        version=version,
        issued_at=issued_at,
        expires=expires if timestamp_expires is None else min(expires, timestamp_expires),
        snapshot_path=snapshot_path(version),
        snapshot=FileRef(sha256_hex(snap_bytes), len(snap_bytes), snapshot.total),
    )
    files["timestamp.json"] = sign_envelope(timestamp.to_signed(), key)
    return BuiltList(timestamp, snapshot, files)


def update_publication(
    previous: Snapshot,
    fetch: Fetch,
    changed: Iterable[Entry],
    *,
    version: int,
    issued_at: dt.datetime,
    expires: dt.datetime,
    key: ec.EllipticCurvePrivateKey,
    extra: Mapping[str, Any] | None = None,
    timestamp_expires: dt.datetime | None = None,
) -> BuiltList:
    """The next publication after ``previous``, rebuilding only the shards and buckets that the
    changed (new or updated) entries touch; everything else keeps its pinned file.

    ``fetch`` reads the previous publication's files (they are pinned, so they are checked)."""
    if version <= previous.version:
        raise ValueError("a new publication needs a higher version")
    blen, slen = previous.bucket_prefix_len, previous.shard_prefix_len
    by_shard: dict[str, dict[str, Entry]] = {}
    for e in changed:
        by_shard.setdefault(e.sha256[:slen], {})[e.sha256] = e
    counts = dict.fromkeys(STATES, 0) | dict(previous.counts)
    files: dict[str, bytes] = {}
    old_buckets: dict[str, Bucket] = {}
    new_refs: dict[str, dict[str, FileRef]] = {}
    for prefix, updates in sorted(by_shard.items()):
        bp = prefix[:blen]
        if bp not in old_buckets and bp in previous.buckets:
            ref = previous.buckets[bp]
            old_buckets[bp] = Bucket.from_bytes(
                fetch_pinned(fetch, bucket_path(ref), ref, "bucket")
            )
        old_ref = old_buckets[bp].shards.get(prefix) if bp in old_buckets else None
        entries: dict[str, Entry] = {}
        if old_ref is not None:
            old = Shard.from_bytes(fetch_pinned(fetch, shard_path(old_ref), old_ref, "shard"))
            entries = {e.sha256: e for e in old.entries}
        for sha, e in updates.items():
            if sha in entries:
                counts[entries[sha].state] -= 1
            counts[e.state] += 1
            entries[sha] = e
        shard = Shard(prefix, tuple(entries[k] for k in sorted(entries)))
        body = shard.to_bytes()
        ref = FileRef(sha256_hex(body), len(body), len(shard.entries))
        files[shard_path(ref)] = body
        new_refs.setdefault(bp, {})[prefix] = ref
    buckets = dict(previous.buckets)
    for bp, refs in new_refs.items():
        merged = {**(old_buckets[bp].shards if bp in old_buckets else {}), **refs}
        body = Bucket(bp, merged).to_bytes()
        buckets[bp] = FileRef(sha256_hex(body), len(body))
        files[bucket_path(buckets[bp])] = body
    return _sign_publication(
        files,
        buckets,
        counts,
        issuer=previous.issuer,
        version=version,
        issued_at=issued_at,
        expires=expires,
        key=key,
        bucket_prefix_len=blen,
        shard_prefix_len=slen,
        extra=extra,
        timestamp_expires=timestamp_expires,
    )


def renew_timestamp(
    current: Timestamp,
    snapshot: Snapshot,
    *,
    issued_at: dt.datetime,
    expires: dt.datetime,
    key: ec.EllipticCurvePrivateKey,
) -> tuple[Timestamp, bytes]:
    """Re-sign the timestamp of an unchanged publication with a later issue time: the routine
    signature that keeps the short-lived timestamp fresh without rebuilding anything.

    Same version, same pinned snapshot; only ``issued_at`` (strictly later, which is what
    orders timestamps of one version: see ``TrustedSet.update_timestamp``) and ``expires``
    (never past the snapshot's) change.
    """
    if snapshot.version != current.version:
        raise VersionMismatchError(
            f"the snapshot is version {snapshot.version}, the timestamp {current.version}",
            f"快照為第 {snapshot.version} 版，時間戳記為第 {current.version} 版",
        )
    if issued_at <= current.issued_at:
        raise RollbackError(
            f"a renewed timestamp must be issued after {format_time(current.issued_at)}",
            f"新的時間戳記須晚於 {format_time(current.issued_at)}",
        )
    if issued_at >= snapshot.expires:
        raise ExpiredError(
            f"the snapshot expired at {format_time(snapshot.expires)}: publish in full",
            f"快照已於 {format_time(snapshot.expires)} 過期：請完整發布",
        )
    renewed = Timestamp(
        version=current.version,
        issued_at=issued_at,
        expires=min(expires, snapshot.expires),
        snapshot_path=current.snapshot_path,
        snapshot=current.snapshot,
    )
    return renewed, sign_envelope(renewed.to_signed(), key)


def _state_counts(shard: Shard) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in shard.entries:
        out[e.state] = out.get(e.state, 0) + 1
    return out


# -- reading (the verifier's, the browser's and the auditor's side) ------------------------
Fetch = Callable[[str, int], bytes]
"""Fetch a file by its path under ``status/``, reading at most the given number of bytes."""


def read_limit(ref: FileRef, what: str) -> int:
    """How much to read of a pinned file: one byte more than it may hold, so a longer file is
    seen to be longer."""
    return ref.length + 1 if ref.length else MAX_BYTES[what] + 1


def check_pinned(data: bytes, ref: FileRef, path: str, what: str) -> bytes:
    """The bytes of a file whose hash (and length, if pinned) a signed parent names."""
    if (ref.length and len(data) != ref.length) or sha256_hex(data) != ref.sha256:
        raise HashMismatchError(
            f"the {what} {path} does not match the hash its signed parent pins",
            f"狀態清單的 {what} 檔案與簽署的雜湊值不符",
        )
    return data


def fetch_pinned(fetch: Fetch, path: str, ref: FileRef, what: str) -> bytes:
    return check_pinned(fetch(path, read_limit(ref, what)), ref, path, what)


@dataclass(frozen=True)
class TrustedState:
    """A verified timestamp and snapshot: the client's view of one publication."""

    timestamp: Timestamp
    snapshot: Snapshot

    @property
    def version(self) -> int:
        return self.snapshot.version

    @property
    def expires(self) -> dt.datetime:
        """The earlier expiry: the short-lived timestamp's, or the snapshot's."""
        return min(self.timestamp.expires, self.snapshot.expires)

    def is_expired(self, reference_time: dt.datetime) -> bool:
        return reference_time >= self.expires


@dataclass(frozen=True)
class Seen:
    """The newest publication a client trusted before: its version and its timestamp's issue
    time (kept by the verifier in a store every worker shares, by a browser in localStorage).
    Nothing older is accepted again."""

    version: int = 0
    issued_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        _check_int(self.version, "seen version")
        if self.issued_at is not None and self.issued_at.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC time")

    def __ge__(self, other: Seen) -> bool:
        return self._key() >= other._key()

    def _key(self) -> tuple[int, dt.datetime]:
        return self.version, self.issued_at or dt.datetime.min.replace(tzinfo=dt.UTC)

    @classmethod
    def of(cls, state: TrustedState) -> Seen:
        return cls(state.version, state.timestamp.issued_at)


@dataclass(frozen=True)
class Pin:
    """An operator's floor for one issuer, which holds even on first use: no version below
    ``min_version``, no snapshot issued before ``not_before``."""

    min_version: int = 0
    not_before: dt.datetime | None = None

    def __post_init__(self) -> None:
        _check_int(self.min_version, "pinned min_version")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Pin:
        not_before = d.get("not_before")
        return cls(
            _check_int(d.get("min_version", 0), "min_version"),
            None if not_before is None else parse_time(not_before, "not_before"),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.min_version:
            d["min_version"] = self.min_version
        if self.not_before is not None:
            d["not_before"] = format_time(self.not_before)
        return d


KeyLookup = Callable[[str], ec.EllipticCurvePublicKey | None]
"""The trusted status-list key with this key id, or None."""


class TrustedSet:
    """Every trust rule of a status-list client in one object without I/O, as python-tuf's
    ``TrustedMetadataSet``: each ``update_*`` checks new bytes against what is already trusted
    and raises a specific error; fetching is the caller's (``load_trusted``).

    Inputs are what the client already trusts: the status-list keys, the newest publication
    seen (``seen``), an operator's ``pin``, and optionally the ``previous`` state, whose
    snapshot is kept without a new download when the timestamp still pins it.
    """

    def __init__(
        self,
        key_lookup: KeyLookup,
        *,
        reference_time: dt.datetime,
        seen: Seen = Seen(),
        pin: Pin = Pin(),
        allow_expired: bool = False,
        previous: TrustedState | None = None,
    ) -> None:
        self.key_lookup = key_lookup
        self.reference_time = reference_time
        self.seen = seen if previous is None or seen >= Seen.of(previous) else Seen.of(previous)
        self.pin = pin
        self.allow_expired = allow_expired
        self.previous = previous
        self.timestamp: Timestamp | None = None
        self.snapshot: Snapshot | None = None

    def update_timestamp(self, data: bytes) -> Timestamp:
        """Verify a new ``timestamp.json``.

        Raises:
            SignatureVerificationError: not signed by a trusted key.
            DeserializationError: too large or not in the format.
            RollbackError: older than the publication already seen (a lower version, or the
                same version with an earlier issue time).
            BelowPinError: below the operator's pinned minimum version.
            ExpiredError: expired (unless ``allow_expired``).
        """
        if self.timestamp is not None:
            raise RuntimeError("the timestamp is already updated: use a new TrustedSet")
        _check_size(data, "timestamp")
        ts = Timestamp.from_signed(open_envelope(data, "timestamp", self.key_lookup))
        seen = self.seen
        if ts.version < seen.version:
            raise RollbackError(
                f"the published status list is version {ts.version}, older than version "
                f"{seen.version} already seen: refused as a rollback",
                f"公布的狀態清單為第 {ts.version} 版，舊於已見過的第 {seen.version} 版：拒絕回滾",
            )
        if ts.version == seen.version and seen.issued_at and ts.issued_at < seen.issued_at:
            raise RollbackError(
                f"the status list's timestamp was signed at {format_time(ts.issued_at)}, "
                f"before the one already seen ({format_time(seen.issued_at)}): refused as a "
                "rollback",
                f"狀態清單時間戳記簽於 {format_time(ts.issued_at)}，"
                f"早於已見過的 {format_time(seen.issued_at)}：拒絕回滾",
            )
        if ts.version < self.pin.min_version:
            raise BelowPinError(
                f"the published status list is version {ts.version}, below the minimum version "
                f"{self.pin.min_version} this verifier's operator pinned",
                f"公布的狀態清單為第 {ts.version} 版，低於管理者設定的最低版本第 "
                f"{self.pin.min_version} 版",
            )
        self._check_expiry(ts.expires, "status list's timestamp")
        self.timestamp = ts
        prev = self.previous
        if prev is not None and prev.timestamp.snapshot == ts.snapshot:
            # The same snapshot bytes, verified before: only the timestamp was renewed.
            self.snapshot = prev.snapshot
        return ts

    def update_snapshot(self, data: bytes) -> Snapshot:
        """Verify the snapshot the trusted timestamp pins.

        Raises:
            HashMismatchError: other bytes than the timestamp pins.
            SignatureVerificationError: not signed by a trusted key.
            VersionMismatchError: its version is not the timestamp's.
            BelowPinError: issued before the operator's pinned ``not_before``.
            ExpiredError: expired (unless ``allow_expired``).
        """
        ts = self.timestamp
        if ts is None:
            raise RuntimeError("update the timestamp before the snapshot")
        check_pinned(data, ts.snapshot, ts.snapshot_path, "snapshot")
        snap = Snapshot.from_signed(open_envelope(data, "snapshot", self.key_lookup))
        if snap.version != ts.version:
            raise VersionMismatchError(
                f"the snapshot is version {snap.version} but the timestamp names version "
                f"{ts.version}",
                f"快照為第 {snap.version} 版，但時間戳記指向第 {ts.version} 版",
            )
        not_before = self.pin.not_before
        if not_before is not None and snap.issued_at < not_before:
            raise BelowPinError(
                f"the published status list was issued at {format_time(snap.issued_at)}, "
                f"before {format_time(not_before)}, which this verifier's operator pinned",
                f"公布的狀態清單簽發於 {format_time(snap.issued_at)}，"
                f"早於管理者設定的 {format_time(not_before)}",
            )
        self._check_expiry(snap.expires, "status list's snapshot")
        self.snapshot = snap
        return snap

    def _check_expiry(self, expires: dt.datetime, what: str) -> None:
        if not self.allow_expired and self.reference_time >= expires:
            raise ExpiredError(
                f"the {what} expired at {format_time(expires)}",
                f"狀態清單已於 {format_time(expires)} 過期",
            )

    @property
    def state(self) -> TrustedState:
        if self.timestamp is None or self.snapshot is None:
            raise RuntimeError("the timestamp and the snapshot are not both trusted yet")
        return TrustedState(self.timestamp, self.snapshot)


def _check_size(data: bytes, what: str) -> None:
    if len(data) > MAX_BYTES[what]:
        raise DeserializationError(
            f"the {what} is larger than {MAX_BYTES[what]} bytes",
            f"狀態清單的 {what} 檔案超過 {MAX_BYTES[what]} 位元組",
        )


def load_trusted(
    fetch: Fetch,
    key_lookup: KeyLookup,
    *,
    reference_time: dt.datetime,
    last_seen_version: int = 0,
    seen: Seen | None = None,
    pin: Pin | None = None,
    allow_expired: bool = False,
    previous: TrustedState | None = None,
) -> TrustedState:
    """Fetch and verify the current timestamp and snapshot: a thin loop over ``TrustedSet``.

    Raises RollbackError for a publication older than ``seen`` (or ``last_seen_version``),
    BelowPinError below the ``pin``, and ExpiredError for an expired publication (unless
    ``allow_expired``: the verifier then reports "stale").
    """
    floor = seen or Seen()
    if last_seen_version > floor.version:
        floor = Seen(last_seen_version)
    trust = TrustedSet(
        key_lookup,
        reference_time=reference_time,
        seen=floor,
        pin=pin or Pin(),
        allow_expired=allow_expired,
        previous=previous,
    )
    ts = trust.update_timestamp(fetch("timestamp.json", MAX_BYTES["timestamp"] + 1))
    if trust.snapshot is None:
        trust.update_snapshot(fetch(ts.snapshot_path, read_limit(ts.snapshot, "snapshot")))
    return trust.state


def lookup(
    state: TrustedState,
    sha256: str,
    fetch: Fetch,
    *,
    bucket_cache: dict[str, Bucket] | None = None,
    shard_cache: dict[str, Shard] | None = None,
) -> Entry | None:
    """Find one document's entry, fetching only its bucket and shard (caches are keyed by
    content hash, so they stay valid across publications)."""
    sha256 = _check_hex64(sha256, "document hash")
    snap = state.snapshot
    bp, sp = sha256[: snap.bucket_prefix_len], sha256[: snap.shard_prefix_len]
    bref = snap.buckets.get(bp)
    if bref is None:
        return None
    bucket = None if bucket_cache is None else bucket_cache.get(bref.sha256)
    if bucket is None:
        bucket = Bucket.from_bytes(fetch_pinned(fetch, bucket_path(bref), bref, "bucket"))
        if bucket_cache is not None:
            bucket_cache[bref.sha256] = bucket
    _check_holds(bucket.prefix, bp, "bucket")
    sref = bucket.shards.get(sp)
    if sref is None:
        return None
    shard = None if shard_cache is None else shard_cache.get(sref.sha256)
    if shard is None:
        shard = Shard.from_bytes(fetch_pinned(fetch, shard_path(sref), sref, "shard"))
        if shard_cache is not None:
            shard_cache[sref.sha256] = shard
    _check_holds(shard.prefix, sp, "shard")
    return shard.find(sha256)


def _check_holds(prefix: str, expected: str, what: str) -> None:
    # Pinned by hash, so only the signer could misplace one; a reader still says so plainly
    # rather than answering "never issued".
    if prefix != expected:
        raise DeserializationError(f"the {what} pinned for {expected} is the one for {prefix}")
